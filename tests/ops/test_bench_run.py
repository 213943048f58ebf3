"""``gazelib bench`` end to end on the CPU at the smoke profile, and its parts."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from gazelib.ops import bench
from gazelib.cli import bench as bench_command
from gazelib.core.device import cpu_has_native_bf16
from gazelib.core.config import make_config


def _parse(argv):
    parser = argparse.ArgumentParser()
    bench_command.add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_bench_cli_writes_a_record(tmp_path, capsys):
    args = _parse(["bench", "--device", "cpu", "--methods", "vam", "--profiles", "smoke", "--steps", "1",
                   "--warmup", "0", "--eval-images", "4", "--workers", "0"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    path = tmp_path / "results" / "bench" / out.strip().splitlines()[-1].split("/")[-1]
    record = json.loads(path.read_text())
    assert {"kind", "time", "environment", "settings", "rows", "reference", "wall_s"} <= set(record)
    assert {"device", "torch", "python", "numpy", "git", "device_name"} <= set(record["environment"])
    rows = {(r["entry"], r["path"]) for r in record["rows"] + record["reference"]}
    # the reference needs gazemedseg's fast row beside it, so it is added even when not asked for
    assert rows == {("vam", "fast"), ("gazemedseg", "fast"), ("gazemedseg", "reference")}
    for row in record["rows"] + record["reference"]:
        assert row["train_images_per_s"] > 0 and row["step_s"] > 0 and len(row["step_times_s"]) == 1
        assert row["train_images_per_s"] == pytest.approx(row["batch_size"] / row["step_s"])
    vam = record["rows"][0]
    assert vam["eval_images_per_s"] > 0 and vam["image_size"] == 64
    assert vam["amp"] is cpu_has_native_bf16()   # bf16 only where the CPU computes it natively
    ref = record["reference"][0]
    assert ref["speedup_fast_over_reference"] == pytest.approx(
        record["rows"][1]["train_images_per_s"] / ref["train_images_per_s"])
    assert "| smoke | vam | fast | 64 | 4 |" in out and "| smoke | vam | fast |" in path.with_suffix(".md").read_text()
    # FLOPs counted on the step, the rate and (where the CPU's peak could be estimated) the share of it
    assert vam["flops_per_step"] > 0 and vam["achieved_tflops"] == pytest.approx(vam["flops_per_step"] / vam["step_s"] / 1e12)
    peak = record["environment"]["peak_tflops"]
    assert peak is None or vam["mfu"] == pytest.approx(vam["achieved_tflops"] / peak["bf16" if vam["amp"] else "fp32"])
    (projection,) = record["projection"]
    assert projection["profile"] == "smoke" and projection["seeds"] == 3
    assert [r["label"] for r in projection["rows"]] == ["VAM", "GazeMedSeg"] and "GradTrack" in projection["missing"]
    assert projection["rows"][0]["seconds"] == pytest.approx(3 * 5 * vam["step_s"])   # smoke: 5 iterations
    assert "Table 1 x 3 seeds at smoke" in out


def test_lpp_bench_times_both_implementations_on_the_trainers_feature_map(tmp_path, capsys):
    args = _parse(["bench", "--device", "cpu", "--lpp", "--profiles", "smoke", "--steps", "1", "--warmup", "0",
                   "--lpp-batch", "2", "--set", "amp=false"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "results" / "bench" / out.strip().splitlines()[-1].split("/")[-1]).read_text())
    assert record["kind"] == "gazelib-bench-lpp" and [r["impl"] for r in record["rows"]] == ["loop", "fused"]
    loop, fused = record["rows"]
    # smoke: the feature conv of the smoke BasicUNet (16 channels) at 64 px; fp32 as asked; 5 x 5, dilation 2
    assert loop["shape"] == [2, 16, 64, 64] and loop["dtype"] == "float32" and (loop["kernel"], loop["dilation"]) == (5, 2)
    assert fused["max_abs_difference"] < 1e-5 and "| smoke | fused | (2, 16, 64, 64) | float32 |" in out


def test_overrides_reach_the_fast_path():
    row = bench.bench_method("full_nnunet", "smoke", torch.device("cpu"), 1, 0, 2,
                             {"amp": False, "channels_last": False})
    assert row["amp"] is False and row["channels_last"] is False and row["backbone"] == "nnunet"


def test_unknown_method_is_an_error():
    with pytest.raises(ValueError, match="unknown bench methods.*'nope'"):
        bench.run_bench("cpu", methods=["nope"], profiles=["smoke"])


def test_synthetic_data_has_the_trainer_shapes_and_dtypes():
    cfg = make_config("gradtrack", "kvasir", "smoke")
    data = bench.synthetic_data(("conservative_mask", "track"), cfg, 3, torch.device("cpu"))
    assert data["image"].shape == (3, 3, 64, 64) and data["image"].dtype == torch.float32
    assert data["conservative_mask"].dtype == torch.uint8 and set(data["conservative_mask"].unique().tolist()) == {0, 1}
    assert data["track"].shape == (3, 3, 64, 64) and data["track"].dtype == torch.float32
    cfg = make_config("gazemedseg", "kvasir", "smoke")
    assert bench.synthetic_data(("pseudo_masks",), cfg, 2, torch.device("cpu"))["pseudo_masks"].shape == (2, 2, 64, 64)


def test_reference_dataset_resizes_normalises_and_flips_together():
    image = np.zeros((10, 20, 3), np.uint8)
    image[:, :10] = 255                          # left half white
    mask = np.zeros((10, 20, 2), np.uint8)
    mask[:, :10] = 1
    ds = bench.ReferenceDataset([image], [mask], 8)
    seen = set()
    for seed in range(12):
        np.random.seed(seed)
        item = ds[0]
        assert item["image"].shape == (3, 8, 8) and item["pseudo_masks"].shape == (2, 8, 8)
        left = bool(item["pseudo_masks"][0, 0, 0] == 1)
        # the image's white side (normalised (1 - mean) / std > 0) follows the mask through the flip
        assert bool(item["image"][0, 0, 0] > 0) == left
        assert item["image"][0, 0, 0].item() == pytest.approx((1 - 0.485) / 0.229, abs=1e-5) or not left
        seen.add(left)
    assert seen == {True, False}


def test_concurrent_processes_report_the_table_throughput():
    """K processes train at once after a barrier; throughput is the sum of their iteration rates."""
    from gazelib.ops.bench import bench_concurrent

    row = bench_concurrent("vam", "smoke", "cpu", runs=2, steps=2, warmup=1)
    assert row["runs"] == 2 and len(row["step_s"]) == 2 and all(t > 0 for t in row["step_s"])
    assert row["runs_iterations_per_s"] == pytest.approx(sum(1 / t for t in row["step_s"]))
    assert row["images_per_s"] == pytest.approx(4 * row["runs_iterations_per_s"])   # smoke batch: 4
