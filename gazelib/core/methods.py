"""The ``Method`` contract (docs/ARCHITECTURE.md) and the method registry.

A method is a small unit: which training tensors it needs (``targets``), its network (``build``),
its loss and how to read a foreground prediction from the network output. The one trainer
(``gazelib.core.train``) serves them all:

    method = get_method(cfg.method)
    model = method.build(cfg)
    out = model(batch["image"])
    loss, logs = method.loss(out, batch, cfg)   # logs: {term: detached 0-d tensor}
    logits = method.predict(out)            # (B, 1, H, W) foreground logits

Loss terms are returned as DETACHED TENSORS, never floats: ``.item()`` would force a host-device
sync on every iteration; the trainer reads them (``train.log_floats``) only when it logs.

The core knows no method by name: each paper folder registers its methods (``register``) when
``gazelib.papers`` is imported. This module imports no torch, so the configuration (which reads a
method's ``recipe``) stays light for the command line.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from gazelib.core.registry import Registry
from gazelib.data.base import DATASETS

if TYPE_CHECKING:
    import torch
    from torch import nn

_REGISTRY: Registry = Registry("method")


class Method:
    """Base class; subclasses set ``name`` and ``targets`` and implement the three methods."""

    name: str = ""
    targets: tuple[str, ...] = ()
    #: What the method brings to each step of a preset (``config.PRESETS``), applied after the core's
    #: settings of that step: ``{step: {key: value}}`` or ``{step: function(dataset) -> {key: value}}``.
    recipe: dict[str, dict[str, Any] | Callable[[str], dict[str, Any]]] = {}
    #: The input size must be a multiple of this (besides the backbone's own stages).
    input_multiple: int = 1

    def build(self, cfg) -> nn.Module:
        raise NotImplementedError

    def loss(self, out, batch: dict[str, torch.Tensor], cfg) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(total loss, {term name: detached 0-d tensor})`` -- no ``.item()`` (no sync per step)."""
        raise NotImplementedError

    def predict(self, out) -> torch.Tensor:
        raise NotImplementedError

    def networks(self, cfg) -> int:
        """How many backbone networks one training step runs (the work of a run, ``engines.work``)."""
        return 1

    def settings(self, step: str, dataset: str) -> dict[str, Any]:
        """The method's settings for one preset step on ``dataset`` (``recipe``)."""
        settings = self.recipe.get(step, {})
        return dict(settings(dataset) if callable(settings) else settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, targets={self.targets})"


def register(method: Method) -> Method:
    """Add ``method`` to the registry under ``method.name`` (names are unique)."""
    return _REGISTRY.add(method.name, method)


def get_method(name: str) -> Method:
    """The registered method ``name``; a KeyError lists the known ones."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(known_methods()) or 'none'}"
                       + ("" if _REGISTRY else " (papers register their methods when gazelib.papers is imported)"))
    return _REGISTRY[name]


def known_methods() -> list[str]:
    return sorted(_REGISTRY)


def in_channels(cfg) -> int:
    """Image channels of ``cfg.dataset`` (3 for Kvasir RGB, 1 for NCI-ISBI T2)."""
    if cfg.dataset not in DATASETS:
        raise ValueError(f"unknown dataset {cfg.dataset!r}; known: {sorted(DATASETS)}")
    return DATASETS[cfg.dataset].channels


def require(batch: dict[str, torch.Tensor], name: str, channels: int | None = None) -> torch.Tensor:
    """``batch[name]`` as a 4-D tensor, with a clear error if it is missing or malformed."""
    if name not in batch:
        raise KeyError(f"batch has no target {name!r} (has: {sorted(batch)})")
    t = batch[name]
    if t.dim() != 4 or (channels is not None and t.shape[1] != channels):
        want = f"(B, {channels}, H, W)" if channels is not None else "(B, C, H, W)"
        raise ValueError(f"batch[{name!r}] must be {want}, got {tuple(t.shape)}")
    return t
