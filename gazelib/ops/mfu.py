"""Model FLOPs utilisation for ``gazelib bench``: FLOPs per training step, the device's peak, and what
Table 1 would take at the measured speed.

* FLOPs per step are counted, not estimated: ``torch.utils.flop_counter.FlopCounterMode`` around one
  real training step (forward, loss, backward, optimiser step). It counts the matrix products and
  convolutions (forward 2 x MACs; a convolution's backward 2x its forward, 1x where its input needs
  no gradient, as for the network's first layer) and nothing elementwise (norms, activations, LPP's
  dot products, the optimiser): the usual "model FLOPs" of an MFU.
* achieved TFLOP/s = FLOPs per step / median step time; MFU = achieved / peak, with the peak of the
  precision the step ran in (bf16 under autocast, else fp32).
* Peaks: ``GPU_PEAKS`` by device name; on the CPU an estimate, threads x clock x FLOPs per cycle from
  the instruction sets ``/proc/cpuinfo`` lists (``cpu_peak``). Either is overridden by
  ``--peak-tflops`` / ``GAZELIB_PEAK_TFLOPS`` (one number, used for every row).
* Projection: Table 1 x ``seeds`` at a profile = sum over its rows of iterations (``make_config``)
  x the row's median step time, one run after another, training steps only (no evaluation, no data
  preparation). GazeMedSeg's step trains all its level networks (``Method.networks``), so its step
  time already counts them.
"""
from __future__ import annotations

import os
import re

import torch
from torch.utils.flop_counter import FlopCounterMode

from gazelib.core.config import make_config, preset_for
from gazelib.experiments.grids import Experiment
from gazelib.papers.table1 import TABLE1

PEAK_ENV = "GAZELIB_PEAK_TFLOPS"

#: (device-name pattern, dense bf16 tensor TFLOP/s, fp32 TFLOP/s without tensor cores, source), first
#: match wins. Vendors quote bf16 "with sparsity": the dense figure is half of it.
GPU_PEAKS = (
    (r"\bH200\b", 989.0, 67.0, "NVIDIA H200 datasheet (1,979 sparse bf16; same SXM compute as H100)"),
    (r"\bH100\b.*\bPCIe\b", 756.0, 51.0, "NVIDIA H100 datasheet, PCIe column (1,513 sparse bf16)"),
    (r"\bH100\b", 989.0, 67.0, "NVIDIA H100 datasheet, SXM column (1,979 sparse bf16)"),
    (r"\bA100\b", 312.0, 19.5, "NVIDIA A100 datasheet (624 sparse bf16)"),
    (r"\bL40S\b", 362.0, 91.6, "NVIDIA L40S datasheet (733 sparse bf16)"),
    (r"\bL4\b", 121.0, 30.3, "NVIDIA L4 datasheet (242 sparse bf16)"),
    (r"\bA10\b", 125.0, 31.2, "NVIDIA A10 datasheet (250 sparse bf16)"),
    (r"\bRTX 4090\b", 165.2, 82.6, "NVIDIA Ada Lovelace architecture whitepaper, appendix (fp32 accumulate)"),
)

# fp32 FLOPs per cycle per core (2 per fused multiply-add lane): two 512-bit FMA units on Intel
# AVX-512 servers (Intel optimization reference manual; parts with one unit reach half); AMD's
# AVX-512 (Zen 4) runs on two 256-bit units (AMD Zen 4 software optimization guide); AVX2 + FMA:
# two 256-bit units (Haswell and later, Zen 2 and later); AVX: one add and one multiply 256-bit unit.
_FP32_PER_CYCLE = (({"avx512f"}, "GenuineIntel", 64), ({"avx512f"}, None, 32), ({"avx2", "fma"}, None, 32),
                   ({"avx"}, None, 16))
# bf16: AMX tiles, 1024 FLOPs per cycle per core (Intel optimization reference manual, AMX chapter);
# AVX512-BF16's dot product does two bf16 products per fp32 lane (2x fp32); without either, oneDNN
# emulates bf16, no faster than fp32.
AMX_BF16_PER_CYCLE = 1024


def count_step_flops(step, batch: dict, lr: float) -> int:
    """FLOPs torch counts in one call of the trainer's ``step(batch, lr)`` (a real training step)."""
    with FlopCounterMode(display=False) as counter:
        step(batch, lr)
    return counter.get_total_flops()


def gpu_peak(name: str) -> dict | None:
    """``{"bf16", "fp32"}`` TFLOP/s and their source for a CUDA device name, or None when not listed."""
    for pattern, bf16, fp32, source in GPU_PEAKS:
        if re.search(pattern, name):
            return {"bf16": bf16, "fp32": fp32, "source": source}
    return None


def cpu_peak(cpuinfo: str, threads: int) -> dict | None:
    """Estimated ``{"bf16", "fp32"}`` TFLOP/s of ``threads`` cores described by ``cpuinfo`` (the text of
    /proc/cpuinfo): threads x clock x FLOPs per cycle. The clock is the nominal one in the model name
    ("@ 2.40GHz") or else the first "cpu MHz"; an SMT sibling shares its core's units, so 2 threads on
    one core count double. None when the clock or the flags are not there."""
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    nominal = re.search(r"@\s*([\d.]+)\s*GHz", fields.get("model name", ""))
    ghz = float(nominal.group(1)) if nominal else float(fields.get("cpu MHz", 0)) / 1000
    if not ghz or not flags:
        return None
    fp32 = next((n for need, vendor, n in _FP32_PER_CYCLE          # else SSE: a 4-wide add and multiply
                 if need <= flags and vendor in (None, fields.get("vendor_id"))), 8)
    bf16 = AMX_BF16_PER_CYCLE if "amx_bf16" in flags else 2 * fp32 if "avx512_bf16" in flags else fp32
    basis = f"{threads} threads x {ghz:.2f} GHz x {fp32} fp32 / {bf16} bf16 FLOPs per cycle"
    return {"bf16": threads * ghz * bf16 / 1e3, "fp32": threads * ghz * fp32 / 1e3,
            "source": f"estimate from /proc/cpuinfo: {basis}"}


def device_peak(device: torch.device, name: str, override: float | None = None) -> dict | None:
    """The peak of ``device`` (named ``name``): ``override`` TFLOP/s, else ``GAZELIB_PEAK_TFLOPS``, else
    ``gpu_peak`` / ``cpu_peak``; None when unknown (the bench then reports no MFU)."""
    override = override if override is not None else (float(os.environ[PEAK_ENV]) if os.environ.get(PEAK_ENV) else None)
    if override is not None:
        return {"bf16": override, "fp32": override, "source": f"given ({PEAK_ENV} or --peak-tflops)"}
    if device.type == "cuda":
        return gpu_peak(name)
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return cpu_peak(cpuinfo.read(), torch.get_num_threads())
    except OSError:
        return None


def utilisation(flops: int, step_s: float, amp: bool, peak: dict | None) -> dict:
    """The row's FLOP fields: FLOPs per step, achieved TFLOP/s, and the peak and MFU where it is known."""
    achieved = flops / step_s / 1e12
    out = {"flops_per_step": flops, "achieved_tflops": achieved}
    if peak is not None:
        out["peak_tflops"] = peak["bf16" if amp else "fp32"]
        out["mfu"] = achieved / out["peak_tflops"]
    return out


def row_entry(exp: Experiment) -> str:
    """The bench entry name of a Table 1 row: the method, then its overrides' values (``full_unet``)."""
    return "_".join([exp.method, *(o.split("=", 1)[1] for o in exp.overrides)])


def project_table1(rows: list[dict], profile: str, seeds: int = 3, dataset: str = "kvasir") -> dict:
    """Seconds Table 1 x ``seeds`` would train at ``profile``, one run after another, from the fast bench
    ``rows`` measured at that profile (module doc); rows not measured are listed in ``missing``."""
    measured = {r["entry"]: r for r in rows if r["profile"] == profile and r["path"] == "fast"}
    out = {"profile": profile, "seeds": seeds, "rows": [], "missing": []}
    for exp in TABLE1:
        entry = row_entry(exp)
        if entry not in measured:
            out["missing"].append(exp.label)
            continue
        iterations = make_config(exp.method, dataset, preset_for(profile, dataset), list(exp.overrides)).iterations
        step_s = measured[entry]["step_s"]
        out["rows"].append({"label": exp.label, "entry": entry, "iterations": iterations, "step_s": step_s,
                            "seconds": seeds * iterations * step_s})
    out["total_s"] = sum(r["seconds"] for r in out["rows"])
    return out
