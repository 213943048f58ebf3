"""`gazelib data ...` commands: exit codes and what they print."""
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from gazelib.cli import main
from gazelib.data.fetch import checksums

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gaze_two_images.csv"


def test_check_gaze_ok(capsys):
    assert main(["data", "check-gaze", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "images: 2" in out and "fixations: 5" in out


def test_check_gaze_errors(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(FIXTURE.read_text().replace("b.jpg,1,0.1,", "b.jpg,1,7,"))
    assert main(["data", "check-gaze", str(bad)]) == 1
    assert f"{bad}" in capsys.readouterr().out


def test_check_gaze_with_images(tmp_path, capsys):
    for name, (h, w) in {"a": (3, 5), "b": (4, 6), "c": (2, 2)}.items():
        Image.fromarray(np.zeros((h, w), np.uint8)).save(tmp_path / f"{name}.png")
    assert main(["data", "check-gaze", str(FIXTURE), "--images", str(tmp_path)]) == 1
    assert "image 'c' has no fixation" in capsys.readouterr().out
    (tmp_path / "c.png").unlink()
    assert main(["data", "check-gaze", str(FIXTURE), "--images", str(tmp_path)]) == 0


def test_fetch_and_verify(mirror, tmp_path, capsys):
    small = tmp_path / "mirror"                  # a mirror with everything but one mask: fetch must fail
    shutil.copytree(mirror / "gazemedseg", small / "gazemedseg")
    assert main(["data", "fetch", "--root", str(tmp_path / "root"), "--mirror", str(small)]) == 1
    assert "is missing from the mirror" in capsys.readouterr().out
    assert main(["data", "verify", "--root", str(tmp_path / "root")]) == 1
    out = capsys.readouterr().out
    assert "missing:" in out and "problem(s)" in out


def test_prepare_nci_isbi_error_exit(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    assert main(["data", "prepare-nci-isbi", str(tmp_path / "raw"), "--out", str(tmp_path / "out")]) == 1
    assert "no *.nrrd label files" in capsys.readouterr().out


def test_full_fetch_from_mirror_then_verify(mirror, tmp_path, capsys):
    root = tmp_path / "root"
    assert main(["data", "fetch", "--root", str(root), "--mirror", str(mirror)]) == 0
    assert f"copied: {len(checksums())} files" in capsys.readouterr().out
    assert main(["data", "verify", "--root", str(root)]) == 0
    assert "0 problem(s)" in capsys.readouterr().out
    assert main(["data", "fetch", "--root", str(root), "--mirror", str(mirror)]) == 0
    assert f"skipped: {len(checksums())} files" in capsys.readouterr().out
