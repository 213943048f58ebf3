"""Where and in what precision a run computes: device, bf16 autocast, channels-last, deterministic kernels."""
from __future__ import annotations

import contextlib
import platform
from pathlib import Path

import torch

from gazelib.core.config import Config


def resolve_device(cfg: Config) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={cfg.device!r} requested but CUDA is not available")
    return torch.device(cfg.device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 natively on this CPU (AVX512-BF16, AMX, or AVX512 emulation); without
    it bf16 autocast is emulated and far slower than fp32 (``results/quick_recipe/README.md``)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_enabled(cfg: Config, device: torch.device) -> bool:
    """bf16 autocast: requested by ``cfg.amp`` and run only where the device computes bf16 natively."""
    if not cfg.amp:
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


def channels_last_enabled(cfg: Config, device: torch.device) -> bool:
    """Channels-last memory: requested by ``cfg.channels_last`` and used where it pays -- CUDA, and the
    CPU in bf16 (oneDNN's blocked kernels); fp32 CPU runs keep NCHW, which is faster there."""
    return cfg.channels_last and (device.type == "cuda" or amp_enabled(cfg, device))


def precision(cfg: Config, device: torch.device) -> dict:
    """What a run actually computed in (its record keeps it: the config says what was requested)."""
    return {"autocast": "bf16" if amp_enabled(cfg, device) else None,
            "channels_last": channels_last_enabled(cfg, device), "compile": cfg.compile}


def autocast(cfg: Config, device: torch.device):
    if amp_enabled(cfg, device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def deterministic(device: torch.device):
    """Deterministic kernels while training (warn only on CUDA, where a few kernels have none)."""
    previous = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.benchmark = benchmark
