"""The GPU procedure (gazelib.ops.gpu, tools/gpu/steps.sh), run here on the CPU with the smoke profile
from a pack built from a fresh clone: only the GPU itself is untried."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from gazelib.data.kvasir import read_mask
from gazelib.ops.gpu import TRANSFER_LIMIT, build_pack, table_runs, verify_pack

REPO = Path(__file__).resolve().parents[2]
#: The pydensecrf2 and Cython sources the pack also carries (fetched from the package index, so not
#: here): pydensecrf2-1.1.tar.gz 1,468,587 bytes + Cython-0.29.36-py2.py3-none-any.whl 988,293 bytes.
SOURCES_BYTES = 1_468_587 + 988_293


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A fresh clone of this repository: the committed tree, nothing ignored or untracked."""
    out = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def pack(mirror, clone, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gpu") / "pack"
    build_pack(out, mirror, wheels=False, repo=clone)
    return out


def test_pack_from_a_fresh_clone_fits_the_transfer_limit(pack, clone, mirror, tmp_path):
    manifest = json.loads((pack / "MANIFEST.json").read_text())
    on_disk = sum(p.stat().st_size for p in pack.rglob("*") if p.is_file())   # all that would be copied
    assert on_disk == manifest["bytes"] + (pack / "MANIFEST.json").stat().st_size
    assert on_disk + SOURCES_BYTES <= TRANSFER_LIMIT
    # a one-image data root is enough to see the limit enforced, with the code counted
    for folder in ("images", "masks"):
        (tmp_path / "data" / "kvasir-seg" / folder).mkdir(parents=True)
        shutil.copy2(mirror / "kvasir-seg" / folder / "cju0qkwl35piu0993l0dewei2.jpg", tmp_path / "data" / "kvasir-seg" / folder)
    (tmp_path / "data" / "gazemedseg").mkdir()
    with pytest.raises(ValueError, match=r"pack .* is \d+\.\d MiB, over the transfer limit of 0\.5 MiB"):
        build_pack(tmp_path / "pack", tmp_path / "data", wheels=False, repo=clone, limit=2**19)


def test_pack_holds_the_committed_code_without_records_or_figures(pack, clone):
    manifest = json.loads((pack / "MANIFEST.json").read_text())
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
    assert manifest["code_revision"] == head.strip()
    code = {n.removeprefix("code/") for n in manifest["files"] if n.startswith("code/")}
    assert {"gazelib/__init__.py", "tools/gpu/steps.sh", "pyproject.toml", "tests/conftest.py"} <= code
    assert not [n for n in code if n.startswith(("results/", "figures/")) or n.endswith(".ipynb")]
    assert (pack / "code" / "tools" / "gpu" / "steps.sh").stat().st_mode & 0o111   # still executable


def test_pack_holds_the_data_losslessly(pack, mirror):
    manifest = json.loads((pack / "MANIFEST.json").read_text())
    data = [n for n in manifest["files"] if not n.startswith("code/")]
    assert manifest["images"] == 1000 and len(data) == 2000 + 2
    assert (pack / "kvasir-seg" / "images" / "cju0qkwl35piu0993l0dewei2.jpg").read_bytes() == (
        mirror / "kvasir-seg" / "images" / "cju0qkwl35piu0993l0dewei2.jpg").read_bytes()
    png = read_mask(pack / "kvasir-seg" / "masks" / "cju0qkwl35piu0993l0dewei2.png")
    assert np.array_equal(png, read_mask(mirror / "kvasir-seg" / "masks" / "cju0qkwl35piu0993l0dewei2.jpg"))
    assert verify_pack(pack, originals=mirror) == len(manifest["files"])


def test_a_changed_missing_or_extra_file_is_named(pack, tmp_path):
    copy = tmp_path / "pack"
    shutil.copytree(pack, copy)
    (copy / "gazemedseg" / "kvasir_fixation.csv").write_text("changed")
    (copy / "kvasir-seg" / "masks" / "cju0qkwl35piu0993l0dewei2.png").unlink()
    (copy / "stray.txt").write_text("x")
    with pytest.raises(ValueError) as error:
        verify_pack(copy)
    for named in ("kvasir_fixation.csv: content differs", "cju0qkwl35piu0993l0dewei2.png: missing",
                  "stray.txt: not in the manifest"):
        assert named in str(error.value)


def test_table_runs_longest_first_with_each_rows_overrides():
    runs = table_runs("paper", "kvasir", seeds=[0, 1])
    assert [r["label"] for r in runs[:2]] == ["GazeMedSeg", "GazeMedSeg"]   # 2 networks x 15,000 iterations
    assert [r["seeds"] for r in runs[:2]] == [[0], [1]]
    unet = next(r for r in runs if r["label"] == "U-Net")
    assert unet["args"][:7] == ["full", "--dataset", "kvasir", "--profile", "paper", "--seed", "0"]
    assert unet["args"][-2:] == ["--set", "backbone=unet"]
    stacked = table_runs("paper", "kvasir", seeds=[0, 1, 2], stacked=True)
    assert [r["label"] for r in stacked] == [r["label"] for r in runs[::2]]   # one command per row
    assert stacked[0]["args"][5:10] == ["--seeds", "0", "1", "2", "--stacked"] and stacked[0]["seeds"] == [0, 1, 2]
    with pytest.raises(ValueError, match="unknown Table 1 row"):
        table_runs("paper", "kvasir", [0], rows=["SAM"])


def test_steps_run_two_rows_from_the_pack_alone_and_collects_their_records(pack, tmp_path):
    """setup -> start (2 runs at once, in the background) -> wait -> collect, from the pack's code/ as on
    the machine: the pack found as the folder above, the revision read from its manifest."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GAZELIB_REVISION", "PACK")}
    env.update({"PYTHON": sys.executable, "PROFILE": "smoke", "DEVICE": "cpu", "ROWS": "VAM,GradTrack",
                "PARALLEL": "2", "OUT": str(tmp_path / "out"), "GAZELIB_RESULTS": str(tmp_path / "results"),
                "GAZELIB_CACHE": str(tmp_path / "cache")})
    script = pack / "code" / "tools" / "gpu" / "steps.sh"
    for step in (["setup"], ["start"], ["wait", "240"]):
        done = subprocess.run([str(script), *step], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "all runs finished" in done.stdout and "2 records collected" in done.stdout
    with tarfile.open(tmp_path / "out" / "gpu-results.tar.gz") as archive:
        names = archive.getnames()
        records = [json.load(archive.extractfile(n)) for n in names if n.startswith("runs/")]
    assert "gpu-logs/commands.txt" in names
    assert sorted(r["method"] for r in records) == ["gradtrack", "vam"]
    for record in records:
        assert record["config"]["preset"] == "smoke"
        assert record["git"]["revision"] == json.loads((pack / "MANIFEST.json").read_text())["code_revision"]
        assert len(record["scores"]) == 8   # per-image scores of the smoke test images


def _diagnose_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("diagnose_gradtrack", REPO / "tools" / "gpu" / "diagnose_gradtrack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_diagnosis_dice_per_image_and_pooled_by_hand():
    # image 1: prediction 2 pixels, truth 1 of them -> 2*1/3; image 2: both empty -> 1 by convention.
    # pooled over both: 2 * 1 overlapping pixel / (2 + 1 + 0 + 0) pixels = 2/3
    pred = [np.array([1, 1, 0, 0], bool), np.zeros(4, bool)]
    truth = [np.array([1, 0, 0, 0], bool), np.zeros(4, bool)]
    out = _diagnose_module().dice_both_ways(pred, truth)
    assert out == pytest.approx({"per_image": (2 / 3 + 1) / 2, "pooled": 2 / 3, "images": 2})


def test_gradtrack_diagnosis_runs_end_to_end_on_smoke(mirror, tmp_path):
    """The GPU diagnosis as one command, here on the CPU with the smoke profile: stopped at its budget it
    exits 3 and resumes; then both runs' records, the trajectory and every score are in its JSON."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "GAZELIB_DATA": str(mirror), "GAZELIB_RESULTS": str(tmp_path / "results"),
           "GAZELIB_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, str(REPO / "tools" / "gpu" / "diagnose_gradtrack.py"), "--profile", "smoke",
               "--device", "cpu", "--every", "2", "--out", str(tmp_path / "out")]
    stopped = subprocess.run([*command, "--budget", "0"], env=env, capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 3 and "stopped at the budget" in stopped.stdout, stopped.stdout + stopped.stderr
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "diagnose_gradtrack_smoke.json").read_text())
    best, oracle = result["gradtrack_best_on_test"], result["gradtrack_oracle"]
    assert best["selection"]["mode"] == "best_on_test"
    assert [point[0] for point in best["selection"]["test_dice_history"]] == [2, 4, 5]   # every 2 and the last
    assert best["selection"]["iteration"] in (2, 4, 5)
    # the chosen checkpoint is the one its record scored: per-image Dice at the images' own size agrees
    assert best["test_native"]["per_image"] == pytest.approx(best["record_dice"], abs=1e-12)
    assert best["test_native"]["images"] == best["test_64px"]["images"] == 8
    train = best["train_64px"]
    assert set(train) == {"prediction_vs_band", "prediction_vs_band_or_mask", "prediction_vs_truth", "band_vs_truth"}
    assert all(v["images"] == 16 and 0 <= v["pooled"] <= 1 for v in train.values())
    assert oracle["selection"]["mode"] == "final" and oracle["run_id"] != best["run_id"]
    records = {json.loads(p.read_text())["run_id"]: json.loads(p.read_text())["config"]
               for p in (tmp_path / "results" / "runs").glob("*.json")}
    assert records[oracle["run_id"]]["target_source"] == "truth"
    assert result["full_nnunet_record"] is None
