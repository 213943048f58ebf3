"""MFU of ``gazelib bench`` (``gazelib.ops.mfu``): FLOPs counted on a network worked out by hand, peaks
from device names and fake /proc/cpuinfo texts, the Table 1 projection on a hand-made record."""
from __future__ import annotations

import pytest
import torch

from gazelib.core import train
from gazelib.ops import mfu
from tests.core.test_train import Tiny, tiny_cfg


def test_one_convolution_forward_is_2_cin_cout_k2_hw_and_its_backward_twice_that():
    conv = torch.nn.Conv2d(3, 5, 3, padding=1)
    x = torch.randn(2, 3, 10, 12, requires_grad=True)

    def step(batch, lr):
        conv(batch["image"]).sum().backward()

    forward = 2 * 3 * 5 * 3 * 3 * 10 * 12 * 2            # 2 x Cin x Cout x k x k x H x W, per image
    # backward: the gradient of the input and of the weight, one forward's worth each
    assert mfu.count_step_flops(step, {"image": x}, 0.1) == 3 * forward


def test_the_trainer_step_counts_both_convolutions_and_no_gradient_for_the_image():
    cfg = tiny_cfg(amp=False, channels_last=False)      # conv 3 -> 4, ReLU, conv 4 -> 1; 3x3, 16 px, batch 4
    model = Tiny().build(cfg)
    step = train.make_train_step(model, Tiny(), train.make_optimiser(model, cfg, torch.device("cpu")), cfg,
                                 torch.device("cpu"))
    batch = {"image": torch.randn(4, 3, 16, 16), "mask": torch.rand(4, 1, 16, 16).round()}
    first, second = 2 * 3 * 4 * 9 * 16 * 16 * 4, 2 * 4 * 1 * 9 * 16 * 16 * 4
    # the first layer's input (the image) needs no gradient: its backward is the weight gradient only
    assert mfu.count_step_flops(step, batch, 0.1) == (first + first) + (second + 2 * second)


def _cpuinfo(vendor: str, model: str, mhz: str, flags: str) -> str:
    core = f"vendor_id\t: {vendor}\nmodel name\t: {model}\ncpu MHz\t\t: {mhz}\nflags\t\t: {flags}\n"
    return core + "\n" + core      # /proc/cpuinfo lists every logical CPU; the first is read


def test_cpu_peak_from_the_clock_and_the_instruction_sets():
    epyc = mfu.cpu_peak(_cpuinfo("AuthenticAMD", "AMD EPYC 7B12", "3000.000", "fpu sse2 avx fma avx2"), 2)
    assert epyc["fp32"] == pytest.approx(2 * 3.0 * 32 / 1e3) and epyc["bf16"] == epyc["fp32"]   # bf16 emulated
    zen4 = mfu.cpu_peak(_cpuinfo("AuthenticAMD", "AMD EPYC", "2600.0", "avx fma avx2 avx512f avx512_bf16"), 2)
    assert zen4["fp32"] == pytest.approx(2 * 2.6 * 32 / 1e3) and zen4["bf16"] == pytest.approx(2 * zen4["fp32"])
    xeon = mfu.cpu_peak(_cpuinfo("GenuineIntel", "Intel(R) Xeon(R) Gold 6430 @ 2.10GHz", "800.000",
                                 "avx fma avx2 avx512f avx512_bf16 amx_bf16 amx_tile"), 4)
    assert xeon["fp32"] == pytest.approx(4 * 2.1 * 64 / 1e3)        # the nominal clock, not the idle 800 MHz
    assert xeon["bf16"] == pytest.approx(4 * 2.1 * 1024 / 1e3) and "4 threads x 2.10 GHz" in xeon["source"]
    assert mfu.cpu_peak("processor\t: 0\nBogoMIPS\t: 50.00\n", 2) is None   # no clock, no flags: unknown


@pytest.mark.parametrize("name, bf16", [("NVIDIA H100 80GB HBM3", 989), ("NVIDIA H100 PCIe", 756),
                                        ("NVIDIA H200", 989), ("NVIDIA A100-SXM4-80GB", 312), ("NVIDIA L4", 121),
                                        ("NVIDIA L40S", 362), ("NVIDIA A10", 125), ("Tesla T4", None)])
def test_gpu_peak_by_device_name(name, bf16):
    peak = mfu.gpu_peak(name)
    assert (peak and peak["bf16"]) == bf16


def test_the_peak_is_overridden_by_the_option_then_the_environment(monkeypatch):
    monkeypatch.setenv(mfu.PEAK_ENV, "7.5")
    assert mfu.device_peak(torch.device("cuda"), "Tesla T4")["bf16"] == 7.5
    assert mfu.device_peak(torch.device("cpu"), "any", override=2.0)["fp32"] == 2.0
    monkeypatch.delenv(mfu.PEAK_ENV)
    assert mfu.device_peak(torch.device("cuda"), "Tesla T4") is None


def test_utilisation_uses_the_peak_of_the_precision_the_step_ran_in():
    peak = {"bf16": 8.0, "fp32": 2.0, "source": "hand"}
    assert mfu.utilisation(2e12, 0.5, True, peak) == {"flops_per_step": 2e12, "achieved_tflops": 4.0,
                                                       "peak_tflops": 8.0, "mfu": 0.5}
    assert mfu.utilisation(2e12, 0.5, False, peak)["mfu"] == 2.0
    assert "mfu" not in mfu.utilisation(2e12, 0.5, True, None)


def test_table1_projection_is_iterations_times_step_time_times_seeds():
    steps = {"full_unet": 0.2, "full_nnunet": 0.1, "vam": 0.1, "vam_crf": 0.1, "gazemedseg": 0.5}
    rows = [{"entry": e, "profile": "paper", "path": "fast", "step_s": s} for e, s in steps.items()]
    rows.append({"entry": "gradtrack", "profile": "quick", "path": "fast", "step_s": 1.0})   # another profile
    out = mfu.project_table1(rows, "paper", seeds=3)
    # the paper configs: 15,000 iterations (GazeMedSeg's recipe), 11,300 (GradTrack's, and its baselines')
    by_row = {r["label"]: r["seconds"] for r in out["rows"]}
    assert by_row == pytest.approx({"U-Net": 3 * 15000 * 0.2, "nnU-Net": 3 * 15000 * 0.1, "VAM": 3 * 11300 * 0.1,
                                    "VAM_D-CRF": 3 * 11300 * 0.1, "GazeMedSeg": 3 * 15000 * 0.5})
    assert out["total_s"] == pytest.approx(9000 + 4500 + 3390 + 3390 + 22500)
    assert out["missing"] == ["GradTrack"]
