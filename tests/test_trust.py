"""Issue 24: records you can trust. Each symptom the issue reports, as a test: edited records,
a rerun that proves nothing, replaced or damaged caches, a full disk, links in the GPU pack, bad
seeds and manifests, outputs rewritten by a run that changed no number, non-finite checkpoints.
(The clean tree after running lesson 06 twice, and a lesson refusing an unknown profile, are in
``test_notebooks.py``.)"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from gazelib.cli import main
from gazelib.core import targets, train
from gazelib.runs import identity as runs
from gazelib.runs import records as results
from tests.test_safety import _Evil
from tests.core.test_train import Disks, Tiny, rid, run, tiny_cfg

TINY = ["tiny", "--profile", "smoke", "--quiet", "--set", "image_size=16", "--set", "train_limit=None",
        "--set", "test_limit=None", "--set", "device=cpu", "--set", "iterations=6"]


def tiny_cli_cfg():
    """The config of ``gazelib train *TINY``."""
    from gazelib.core.config import make_config
    return make_config("tiny", "kvasir", "smoke", [o for o in TINY[5:] if o != "--set"])


@pytest.fixture
def tiny_cli(monkeypatch):
    """``gazelib ...`` in this process (one-line errors included) on the synthetic data set and method."""
    from gazelib.core import methods
    from gazelib.data import datasets

    monkeypatch.setitem(methods._REGISTRY, "tiny", Tiny())
    monkeypatch.setattr(datasets, "load_dataset", lambda name, root=None: Disks())
    return main


def _one_line_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _edit(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=1))


# --- 1. a hand-edited record is never used ---------------------------------------------------------

def _all_dice_099(data):
    for score in data["scores"].values():
        score["dice"] = 0.99
    data["summary"]["dice_mean"] = 0.99


def test_a_record_edited_to_dice_099_is_refused_by_train_figures_and_summary(tiny_cli, capsys):
    from gazelib.experiments.grids import Experiment, run_grid
    from gazelib.ops.reproduce import profile_with_records
    from gazelib.report.summary import summarize

    assert tiny_cli(["train", *TINY]) == 0
    path = Path(capsys.readouterr().out.splitlines()[0])
    _edit(path, _all_dice_099)
    assert tiny_cli(["train", *TINY]) == 2                         # gazelib train
    assert _one_line_error(capsys).startswith(f"error: {path} ")
    with pytest.raises(ValueError, match=str(path)):               # --debug: the traceback
        tiny_cli(["--debug", "train", *TINY])
    with pytest.raises(ValueError, match=str(path)):               # `gazelib figures` without --profile
        profile_with_records()
    with pytest.raises(ValueError, match=str(path)):               # what `gazelib figures` reads records with
        run_grid([Experiment("Tiny", "tiny", ("image_size=16", "train_limit=None", "test_limit=None",
                                              "iterations=6"))], "smoke", "kvasir", [0], "cpu", train=False)
    rows = pd.DataFrame([{"label": "Tiny", "seed": 0, "run_id": path.stem, "dice": 0.99, "iou": 0.5, "hd95": 1.0,
                          "device": "cpu", "record": str(path)}])
    with pytest.raises(ValueError, match=str(path)):               # the aggregator behind every table
        summarize(rows)
    with pytest.raises(ValueError, match=str(path)):
        results.load_records()


@pytest.mark.parametrize("edit", [
    lambda d: d["scores"][next(iter(d["scores"]))].update(dice=float("nan")),
    lambda d: d.update(summary="great"),
    lambda d: d.update(seed="zero"),
], ids=["nan-score", "summary-great", "seed-zero"])
def test_a_malformed_record_is_not_reused(edit):
    cfg = tiny_cfg()
    path = run(cfg)
    _edit(path, edit)
    with pytest.raises(ValueError, match=f"{path} is not a sound run record"):
        run(cfg)


# --- 2. rerun proves only what it trained ----------------------------------------------------------

def test_rerun_into_the_records_own_folder_is_refused(tiny_cli, capsys):
    assert tiny_cli(["train", *TINY]) == 0
    path = Path(capsys.readouterr().out.splitlines()[0])
    folder = path.parent.parent
    assert tiny_cli(["rerun", str(path), "--into", str(folder), "--quiet"]) == 2
    error = _one_line_error(capsys)
    assert f"{path} is already there and was not trained by `gazelib rerun`" in error
    assert "reproduced" not in capsys.readouterr().out


# --- 3. caches are verified -----------------------------------------------------------------------

def _mask_cache(cfg) -> Path:
    train_ids, _ = runs.select_ids(Disks(), cfg)
    return targets._cache_path(Disks(), train_ids, cfg, "mask")


def test_a_tensor_cache_file_replaced_by_zeros_is_rebuilt_not_trained_on():
    cfg = tiny_cfg()
    clean = results.read_record(run(cfg))
    cached = _mask_cache(cfg)
    shape = targets.build_tensors(Disks(), runs.select_ids(Disks(), cfg)[0], cfg, ("mask",))["mask"].shape
    torch.save(torch.zeros(shape, dtype=torch.uint8), cached)      # a valid tensor of the same shape
    results.record_path(rid(cfg)).unlink()
    runs.checkpoint_path(rid(cfg)).unlink()
    with pytest.warns(UserWarning, match=f"cache file {cached} .*rebuilding it"):
        again = results.read_record(run(cfg))
    assert again.scores == clean.scores and again.loss_history == clean.loss_history


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(b""),
    lambda p: torch.save(torch.zeros(2, 1, 5, 5), p),
    lambda p: p.write_bytes(pickle.dumps({"mask": _Evil()}, protocol=2)),
], ids=["zero-bytes", "wrong-shape", "refused-pickle"])
def test_a_damaged_cache_file_is_rebuilt_with_a_warning_not_a_traceback(damage, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tiny_cfg()
    ids = runs.select_ids(Disks(), cfg)[0]
    built = targets.build_tensors(Disks(), ids, cfg, ("mask",))["mask"]
    damage(_mask_cache(cfg))
    with pytest.warns(UserWarning, match=f"cache file {_mask_cache(cfg)} "):
        assert torch.equal(targets.build_tensors(Disks(), ids, cfg, ("mask",))["mask"], built)
    assert not (tmp_path / "PWNED_BY_CHECKPOINT").exists()


# --- 4. clean failures ----------------------------------------------------------------------------

def test_a_full_disk_is_one_line_naming_the_folder_and_leaves_no_temporary(tiny_cli, capsys, monkeypatch):
    def full(fd, data):
        raise OSError(28, "No space left on device")
    write = os.write
    monkeypatch.setattr(os, "write", full)     # every write of the process fails, as on a full disk
    assert tiny_cli(["train", *TINY]) == 2     # the first file written: the tensor cache
    tensors = Path(os.environ["GAZELIB_CACHE"]) / "tensors"
    error = _one_line_error(capsys)
    assert error.startswith("error: could not write kvasir-image-16-")
    assert f"no space left on device in {tensors} " in error
    assert not list(tensors.iterdir())
    monkeypatch.setattr(os, "write", write)
    cfg = tiny_cli_cfg()
    for ids in runs.select_ids(Disks(), cfg):  # the tensors are cached: the checkpoint comes first
        targets.build_tensors(Disks(), ids, cfg, ("image", "mask"))
    monkeypatch.setattr(os, "write", full)
    assert tiny_cli(["train", *TINY]) == 2
    folder = runs.checkpoint_path(rid(cfg)).parent
    assert _one_line_error(capsys).startswith(f"error: could not write last.pt: no space left on device in {folder} ")
    assert not [p for p in folder.parent.rglob("*") if p.is_file()]


def _tmpfs_works() -> bool:
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True) if shutil.which("unshare") else None
    return probe is not None and probe.returncode == 0


@pytest.mark.skipif(not _tmpfs_works(), reason="needs user namespaces to mount a small tmpfs")
def test_a_really_full_disk_while_training_is_one_line_and_leaves_no_temporary(mirror, tmp_path):
    """`gazelib train` with its results folder on a 256 KiB file system (the checkpoint does not fit)."""
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    script = (f"mount -t tmpfs -o size=256k tmpfs {results_dir} && "
              f"{sys.executable} -m gazelib train full --profile smoke --quiet; echo rc=$?; "
              f"find {results_dir} -type f")
    env = {**os.environ, "GAZELIB_DATA": str(mirror), "GAZELIB_RESULTS": str(results_dir),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=600)
    stderr = done.stderr.strip().splitlines()
    assert "rc=2" in done.stdout.splitlines(), done.stdout + done.stderr
    assert len(stderr) == 1 and stderr[0].startswith("error: could not write last.pt: no space left on device in "
                                                     f"{results_dir}/checkpoints/full-kvasir-"), stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("/")] == []   # no temporary left


def test_a_huge_seed_is_refused_naming_the_range(capsys):
    assert main(["train", "full", "--profile", "smoke", "--seed", str(2**70)]) == 2
    assert "config key seed must be in [0, 4294967295]; got 1180591620717411303424" in _one_line_error(capsys)


def _pack(tmp_path: Path, manifest) -> Path:
    pack = tmp_path / "pack"
    (pack / "gazemedseg").mkdir(parents=True)
    (pack / "gazemedseg" / "kvasir_fixation.csv").write_text("fixations")
    (pack / "MANIFEST.json").write_text(json.dumps(manifest))
    return pack


def test_gpu_verify_refuses_a_link_out_of_the_pack_and_names_what_a_manifest_lacks(tmp_path, capsys):
    import hashlib

    from gazelib.ops.gpu import verify_pack

    secret = tmp_path / "outside.txt"
    secret.write_text("not part of the pack")
    digest = {name: hashlib.sha256(text.encode()).hexdigest()
              for name, text in (("gazemedseg/kvasir_fixation.csv", "fixations"), ("link.txt", "not part of the pack"))}
    pack = _pack(tmp_path, {"files": digest})
    (pack / "link.txt").symlink_to(secret)
    with pytest.raises(ValueError, match=f"{pack / 'link.txt'}: a symbolic link"):
        verify_pack(pack)
    os.mkfifo(pack / "fifo")
    (pack / "link.txt").unlink()
    with pytest.raises(ValueError, match=f"{pack / 'fifo'}: not a regular file"):
        verify_pack(pack)
    (pack / "fifo").unlink()
    (pack / "MANIFEST.json").write_text(json.dumps({"kind": "gazelib-gpu-pack"}))
    assert main(["gpu", "verify", str(pack)]) == 2
    assert _one_line_error(capsys) == (f"error: {pack / 'MANIFEST.json'} has no 'files' (every file of the pack "
                                       f"with its sha256): rebuild the pack with `gazelib gpu pack` (--debug or "
                                       f"GAZELIB_DEBUG=1 for the traceback)")


# --- 5. a run that changes no number changes no file -----------------------------------------------

def test_a_figure_saved_again_is_the_same_bytes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gazelib.report.plots import save_figure

    def draw():
        fig, ax = plt.subplots()
        ax.plot([1, 3, 2])
        ax.set_title("Dice (%)")
        paths = save_figure(fig, "same")
        plt.close(fig)
        return [p.read_bytes() for p in paths]
    first = draw()
    time.sleep(1.1)      # PDF creation dates have a resolution of one second
    assert draw() == first


def test_quality_files_are_rewritten_only_when_the_numbers_change(tmp_path):
    from gazelib.papers.gaze_quality import write_quality

    table = pd.DataFrame({"heatmap>0.5 dice": [0.5, 0.7]}, index=pd.Index(["a", "b"], name="id"))
    provenance = {"dataset": "kvasir", "n_images": 2, "params": {"vam": {"sigma": 1}}, "git_revision": "aaa",
                  "time": "2026-01-01T00:00:00+0000", "map_seconds_incl_cache_reads": {"vam": 1.0}}
    paths = write_quality(table, provenance, tmp_path, "q")
    written = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    later = {**provenance, "git_revision": "bbb", "time": "2026-02-02T00:00:00+0000",
             "map_seconds_incl_cache_reads": {"vam": 2.0}}
    write_quality(table, later, tmp_path, "q")
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths} == written
    write_quality(table.assign(**{"heatmap>0.5 dice": [0.5, 0.8]}), later, tmp_path, "q")
    assert "git bbb, 2026-02-02" in paths[2].read_text() and "0.65" in paths[2].read_text()


def test_a_command_refused_before_it_starts_leaves_no_timing_record(tmp_path, capsys):
    assert main(["reproduce", "--profile", "smoke", "--only", "7", "--reports", str(tmp_path / "reports")]) == 2
    assert "no lesson numbered 7" in _one_line_error(capsys)
    assert not (tmp_path / "results" / "reproduce").exists()


# --- a checkpoint with non-finite weights is never scored ------------------------------------------

def test_a_finished_checkpoint_with_nan_weights_is_refused_not_scored(tiny_cli, capsys):
    from gazelib.core import evaluate

    cfg = tiny_cli_cfg()
    path = run(cfg)
    path.unlink()
    checkpoint = runs.checkpoint_path(rid(cfg))
    saved = torch.load(checkpoint, weights_only=True)
    first = next(iter(saved["model"]))
    saved["model"][first] = torch.full_like(saved["model"][first], float("nan"))
    torch.save(saved, checkpoint)
    assert tiny_cli(["train", *TINY]) == 2
    error = _one_line_error(capsys)
    assert f"error: {checkpoint} holds non-finite weights (NaN or inf: {first})" in error and rid(cfg) in error
    assert not path.exists()
    with pytest.raises(ValueError, match="holds non-finite weights"):
        evaluate.evaluate_checkpoint(str(checkpoint), method=Tiny(), dataset=Disks())


def test_a_non_finite_final_loss_is_never_scored(monkeypatch):
    cfg = tiny_cfg()
    original = train.Run.resume

    def resume_with_nan_loss(self, path):
        original(self, path)
        self.state["final_loss"] = float("nan")
    run(cfg).unlink()                            # the last checkpoint, no record
    monkeypatch.setattr(train.Run, "resume", resume_with_nan_loss)
    with pytest.raises(train.NonFiniteError, match=f"run {rid(cfg)}: final loss nan at checkpoint "
                                                    f"{runs.checkpoint_path(rid(cfg))}"):
        run(cfg)
    assert not results.record_path(rid(cfg)).exists()


def test_non_finite_weights_of_the_model_to_score_are_refused(monkeypatch):
    """Checked just before scoring, whatever put the weights there (the loop, a resumed checkpoint,
    the weights a ``best_on_test`` run chose)."""
    cfg = tiny_cfg()
    monkeypatch.setattr(train, "evaluate", lambda *a, **k: pytest.fail("scored"))
    real = train._train_loop

    def poisoned(run_, *args):
        real(run_, *args)
        with torch.no_grad():
            next(run_.model.parameters()).fill_(float("inf"))
    monkeypatch.setattr(train, "_train_loop", poisoned)
    with pytest.raises(train.NonFiniteError, match=r"non-finite weights \(0.weight\)"):
        run(cfg)
    assert not results.record_path(rid(cfg)).exists()
