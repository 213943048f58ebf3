"""The ``Method`` contract (docs/ARCHITECTURE.md) and the method registry.

A method is a small unit: which training tensors it needs (``targets``), its network (``build``),
its loss and how to read a foreground prediction from the network output. The one trainer
(``gazelib.train``) serves them all:

    method = get_method(cfg.method)
    model = method.build(cfg)
    out = model(batch["image"])
    loss, logs = method.loss(out, batch, cfg)   # logs: {term: detached 0-d tensor}
    logits = method.predict(out)            # (B, 1, H, W) foreground logits

Loss terms are returned as DETACHED TENSORS, never floats: ``.item()`` would force a host-device
sync on every iteration; the trainer reads them (``train.log_floats``) only when it logs.
"""
from __future__ import annotations

import torch
from torch import nn

IN_CHANNELS = {"kvasir": 3, "nci_isbi": 1}   # Kvasir RGB, NCI-ISBI T2 (Dataset.in_channels)

_REGISTRY: dict[str, "Method"] = {}


class Method:
    """Base class; subclasses set ``name`` and ``targets`` and implement the three methods."""

    name: str = ""
    targets: tuple[str, ...] = ()

    def build(self, cfg) -> nn.Module:
        raise NotImplementedError

    def loss(self, out, batch: dict[str, torch.Tensor], cfg) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(total loss, {term name: detached 0-d tensor})`` -- no ``.item()`` (no sync per step)."""
        raise NotImplementedError

    def predict(self, out) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, targets={self.targets})"


def register(method: Method) -> Method:
    """Add ``method`` to the registry under ``method.name`` (names are unique)."""
    if not method.name:
        raise ValueError(f"{method!r} has no name")
    if method.name in _REGISTRY:
        raise ValueError(f"method {method.name!r} is already registered ({_REGISTRY[method.name]!r})")
    _REGISTRY[method.name] = method
    return method


def get_method(name: str) -> Method:
    """The registered method ``name``; a KeyError lists the known ones."""
    import gazelib.methods  # noqa: F401  (importing the package registers every method)

    if name not in _REGISTRY:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def known_methods() -> list[str]:
    import gazelib.methods  # noqa: F401

    return sorted(_REGISTRY)


def in_channels(cfg) -> int:
    """Image channels of ``cfg.dataset`` (3 for Kvasir RGB, 1 for NCI-ISBI T2)."""
    if cfg.dataset not in IN_CHANNELS:
        raise ValueError(f"unknown dataset {cfg.dataset!r}; known: {sorted(IN_CHANNELS)}")
    return IN_CHANNELS[cfg.dataset]


def require(batch: dict[str, torch.Tensor], name: str, channels: int | None = None) -> torch.Tensor:
    """``batch[name]`` as a 4-D tensor, with a clear error if it is missing or malformed."""
    if name not in batch:
        raise KeyError(f"batch has no target {name!r} (has: {sorted(batch)})")
    t = batch[name]
    if t.dim() != 4 or (channels is not None and t.shape[1] != channels):
        want = f"(B, {channels}, H, W)" if channels is not None else "(B, C, H, W)"
        raise ValueError(f"batch[{name!r}] must be {want}, got {tuple(t.shape)}")
    return t
