"""The GPU procedure (gazelib.ops.gpu, tools/gpu/session.sh), run here on the CPU with the smoke profile
in a fresh copy of the tree: only the GPU itself is untried."""
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
from gazelib.ops.gpu import build_pack, table_runs, verify_pack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pack(mirror, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gpu") / "pack"
    build_pack(out, mirror, wheels=False)
    return out


def test_pack_holds_the_data_losslessly(pack, mirror):
    manifest = json.loads((pack / "MANIFEST.json").read_text())
    assert manifest["images"] == 1000 and len(manifest["files"]) == 2000 + 2
    assert (pack / "kvasir-seg" / "images" / "cju0qkwl35piu0993l0dewei2.jpg").read_bytes() == (
        mirror / "kvasir-seg" / "images" / "cju0qkwl35piu0993l0dewei2.jpg").read_bytes()
    png = read_mask(pack / "kvasir-seg" / "masks" / "cju0qkwl35piu0993l0dewei2.png")
    assert np.array_equal(png, read_mask(mirror / "kvasir-seg" / "masks" / "cju0qkwl35piu0993l0dewei2.jpg"))
    assert verify_pack(pack, originals=mirror) == 2002


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
    assert [r["seed"] for r in runs[:2]] == [0, 1]
    unet = next(r for r in runs if r["label"] == "U-Net")
    assert unet["args"][:5] == ["full", "--dataset", "kvasir", "--profile", "paper"]
    assert unet["args"][-2:] == ["--set", "backbone=unet"]
    with pytest.raises(ValueError, match="unknown Table 1 row"):
        table_runs("paper", "kvasir", [0], rows=["SAM"])


def test_session_runs_two_rows_in_a_fresh_copy_and_collects_their_records(pack, tmp_path):
    """setup -> start (2 runs at once, in the background) -> wait -> collect, as on the device."""
    tree = tmp_path / "tree"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    env = {**os.environ, "PYTHON": sys.executable, "PACK": str(pack), "PROFILE": "smoke", "DEVICE": "cpu",
           "ROWS": "VAM,GradTrack", "PARALLEL": "2", "OUT": str(tmp_path / "out"),
           "GAZELIB_RESULTS": str(tmp_path / "results"), "GAZELIB_CACHE": str(tmp_path / "cache"),
           "GAZELIB_REVISION": "0123abc"}
    script = tree / "tools" / "gpu" / "session.sh"
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
        assert record["config"]["preset"] == "smoke" and record["git"]["revision"] == "0123abc"
        assert len(record["scores"]) == 8   # per-image scores of the smoke test images
