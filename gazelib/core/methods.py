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
"""
from __future__ import annotations

import torch
from torch import nn

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


def _register_all() -> None:
    """Import each paper's method modules: importing one registers its methods."""
    import gazelib.papers.baselines.full  # noqa: F401
    import gazelib.papers.baselines.vam  # noqa: F401
    import gazelib.papers.gazemedseg.method  # noqa: F401
    import gazelib.papers.gradtrack.method  # noqa: F401
    import gazelib.papers.selective_attention.method  # noqa: F401


def get_method(name: str) -> Method:
    """The registered method ``name``; a KeyError lists the known ones."""
    _register_all()

    if name not in _REGISTRY:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def known_methods() -> list[str]:
    _register_all()

    return sorted(_REGISTRY)


def in_channels(cfg) -> int:
    """Image channels of ``cfg.dataset`` (3 for Kvasir RGB, 1 for NCI-ISBI T2)."""
    from gazelib.data.datasets import IN_CHANNELS

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


def build_model(method: Method, cfg, device: torch.device) -> nn.Module:
    """The method's network for ``cfg``, initialised from ``cfg.seed``, on ``device`` in its memory format."""
    from gazelib.core.device import channels_last_enabled

    torch.manual_seed(cfg.seed)
    model = method.build(cfg).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last_enabled(cfg, device) else model
