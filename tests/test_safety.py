"""Issue 12: nothing silent -- safe checkpoints, validated configs, non-finite losses, input checks,
data-keyed caches and run ids, one-line CLI errors, clean interruption."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from gazelib.core import train
from gazelib.runs import identity as runs
from gazelib.core import evaluate
from gazelib.core.config import config_from_dict, make_config
from tests.core.test_train import Disks, Tiny, rid, run, tiny_cfg


# --- 2. checkpoints cannot run code ----------------------------------------------------------------

class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_CHECKPOINT",))


def _crafted_checkpoint(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:   # torch.load reads legacy pickle files too
        pickle.dump({"model": _Evil(), "config": {}}, f, protocol=2)


def test_crafted_checkpoint_is_refused_by_resume_and_eval(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tiny_cfg()
    ckpt = runs.checkpoint_path(rid(cfg))
    _crafted_checkpoint(ckpt)
    with pytest.raises(ValueError, match="not a readable gazelib checkpoint"):
        run(cfg)
    with pytest.raises(ValueError, match=str(ckpt.name)):
        evaluate.evaluate_checkpoint(str(ckpt), method=Tiny(), dataset=Disks())
    assert not (tmp_path / "PWNED_BY_CHECKPOINT").exists()


def test_genuine_checkpoint_resumes_under_weights_only():
    cfg = tiny_cfg()
    run(cfg, stop_after=2)
    assert run(cfg).suffix == ".json"


# --- 3. configs are validated; divergence stops training -----------------------------------------

@pytest.mark.parametrize("override, key", [
    ("iterations=0", "iterations"), ("iterations=-5", "iterations"), ("lr=nan", "lr"), ("lr=1e6", "lr"),
    ("levels=1.5", "levels"), ("levels=-0.2", "levels"), ("tau=1.5", "tau"), ("beta=-3", "beta"),
    ("momentum=5", "momentum"), ("train_limit=0", "train_limit"), ("image_size=50", "image_size"),
    ("batch_size=0", "batch_size"), ("checkpoint_every=0", "checkpoint_every"), ("sigma=0", "sigma"),
    ("schedule=linear", "schedule"), ("backbone=resnet", "backbone"), ("split=fold1", "split"),
    ("method=san", "method"), ("train_fraction=0", "train_fraction")])
def test_nonsense_config_is_an_error_naming_the_key(override, key):
    with pytest.raises(ValueError, match=f"config key {key}"):
        make_config("full", "kvasir", "quick", [override])


def test_config_from_a_record_is_validated():
    values = {**make_config("full", "kvasir", "quick").__dict__, "iterations": 0}
    with pytest.raises(ValueError, match="config key iterations"):
        config_from_dict(values)


def test_non_finite_loss_stops_without_record_or_checkpoint():
    cfg = tiny_cfg(lr=10.0, iterations=20, checkpoint_every=5)

    class Exploding(Tiny):
        def loss(self, out, batch, cfg):
            loss, logs = super().loss(out, batch, cfg)
            return loss * float("nan"), logs

    with pytest.raises(train.NonFiniteError, match="diverged"):
        train.train(cfg, progress=False, method=Exploding(), dataset=Disks())
    from gazelib.runs import records as results
    assert not runs.checkpoint_path(rid(cfg)).exists() and not results.record_path(rid(cfg)).exists()


# --- 4. inputs are checked on load ---------------------------------------------------------------

def _kvasir_root(tmp_path, image_size=(40, 30), mask_size=(40, 30)):
    import numpy as np
    from PIL import Image

    root = tmp_path / "d"
    for sub, size in (("images", image_size), ("masks", mask_size)):
        (root / "kvasir-seg" / sub).mkdir(parents=True)
        Image.fromarray(np.full(size[::-1] + (3,), 200, np.uint8)).save(root / "kvasir-seg" / sub / "a.jpg")
    return root


def test_mask_of_the_wrong_size_is_refused(tmp_path):
    from gazelib.data.datasets import load_dataset

    ds = load_dataset("kvasir", _kvasir_root(tmp_path, mask_size=(10, 10)))
    with pytest.raises(ValueError, match=r"mask .*a\.jpg is 10x10 but its image is 30x40"):
        ds.mask("a")


def test_truncated_jpeg_names_the_file(tmp_path):
    from gazelib.data.datasets import load_dataset

    root = _kvasir_root(tmp_path)
    path = root / "kvasir-seg" / "images" / "a.jpg"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"cannot decode .*images/a\.jpg"):
        load_dataset("kvasir", root).image("a")


# --- 5. one-line errors from the CLI -------------------------------------------------------------

def _gazelib(*argv, env=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "gazelib", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.mark.parametrize("argv, expected", [
    (("train", "nosuch", "--profile", "smoke"), "unknown method 'nosuch'"),
    (("train", "full", "--profile", "smoke", "--set", "iteratons=5"), "unknown config key 'iteratons'"),
    (("train", "full", "--set", "method=san"), "config key method cannot be overridden"),
    (("train", "full", "--dataset", "nci_isbi", "--profile", "smoke"), "prepared NCI-ISBI slices are missing"),
    (("figures", "--profile", "smoke"), "no run records"),
])
def test_cli_user_errors_are_one_line(tmp_path, argv, expected):
    done = _gazelib(*argv, env={"GAZELIB_DATA": str(tmp_path / "data")})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], done.stderr


def test_cli_corrupt_checkpoint_is_one_line_and_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint")
    done = _gazelib("eval", "--run", str(bad))
    assert done.returncode == 2 and done.stderr.startswith(f"error: {bad} is not a readable gazelib checkpoint")
    assert "Traceback" in _gazelib("--debug", "eval", "--run", str(bad)).stderr
    assert "Traceback" in _gazelib("eval", "--run", str(bad), env={"GAZELIB_DEBUG": "1"}).stderr


HEADER = "IMAGE,CURRENT_FIX_INDEX,CURRENT_FIX_X,CURRENT_FIX_Y,CURRENT_FIX_DURATION,CURRENT_FIX_START,IMAGE_HEIGHT,IMAGE_WIDTH\n"


@pytest.mark.parametrize("content, problem", [
    (b"", "the file is empty"),
    (bytes(range(256)) * 4, "binary file"),
    (HEADER.encode() + "caf\xe9.jpg,1,0.5,0.5,100,0,3,5\n".encode("latin-1"), "not UTF-8"),
    (HEADER.encode() + b"a.jpg,1,0.5,0.5,100,0,3,5,7,8\n", "not a well-formed CSV"),
])
def test_check_gaze_names_the_file_and_problem(tmp_path, content, problem):
    from gazelib.data.fixations import FixationError, read_fixations

    path = tmp_path / "fix.csv"
    path.write_bytes(content)
    with pytest.raises(FixationError) as info:
        read_fixations(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_check_gaze_accepts_spaces_in_the_header_and_warns_about_index_gaps(tmp_path):
    path = tmp_path / "fix.csv"
    path.write_text(HEADER.replace(",", ", ") + "a.jpg,1,0.5,0.5,100,0,3,5\na.jpg,3,0.5,0.5,100,200,3,5\n")
    done = _gazelib("data", "check-gaze", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" in done.stdout and "a.jpg (missing [2])" in done.stdout


# --- 1. caches and run ids follow the data; records say which code made them ---------------------

class _EditedDisks(Disks):
    """Disks with the mask of one training image blacked out (the 'replaced masks' probe)."""
    def mask(self, image_id):
        mask = super().mask(image_id)
        return mask & False if image_id == "img03" else mask


def test_changed_mask_changes_the_run_id_and_the_tensor_cache():
    from gazelib.core import targets

    cfg = tiny_cfg()
    ids = Disks().split()["train"]
    clean = targets.build_tensors(Disks(), ids, cfg, ("mask",))["mask"]
    edited = targets.build_tensors(_EditedDisks(), ids, cfg, ("mask",))["mask"]
    assert clean[3].sum() > 0 and edited[3].sum() == 0   # not served from the clean cache
    assert targets.build_tensors(Disks(), ids, cfg, ("mask",))["mask"].equal(clean)
    assert rid(cfg) != runs.resolve_run_id(cfg, method=Tiny(), dataset=_EditedDisks())


def test_mirrored_fixations_are_recomputed_by_the_gaze_cache():
    import dataclasses

    from gazelib.gaze import cache
    from tests.gaze.test_cache import TinyDataset

    ds = TinyDataset(2)
    before = cache.gaze_maps(ds, "vam", workers=1, progress=False)
    sp = ds._paths["im0"]
    ds._paths["im0"] = dataclasses.replace(sp, x=1 - sp.x)   # mirror x
    after = cache.gaze_maps(ds, "vam", workers=1, progress=False)
    assert not np.allclose(before["im0"], after["im0"]) and np.array_equal(before["im1"], after["im1"])
    assert np.allclose(after["im0"], before["im0"][:, ::-1], atol=0.05)


def test_file_fingerprint_follows_the_bytes(tmp_path):
    from gazelib.runs.fingerprint import file_digest

    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    first = file_digest(path)
    path.write_bytes(b"two!")
    assert file_digest(path) != first


def test_record_from_other_code_warns_and_retrain_replaces_it(monkeypatch):
    from gazelib.runs import records as results
    from gazelib.runs.fingerprint import code_fingerprint

    cfg = tiny_cfg()
    other_code = {**code_fingerprint(), "core/losses.py": "000000000000"}
    with monkeypatch.context() as patch:   # the record is made by other code
        patch.setattr(train, "code_fingerprint", lambda: other_code)
        path = run(cfg)
    with pytest.warns(runs.CodeChangedWarning, match=r"different code \(core/losses.py differ.*--retrain"):
        assert run(cfg) == path
    monkeypatch.setenv("GAZELIB_RETRAIN", "1")   # what `gazelib reproduce --retrain` sets
    assert run(cfg) == path and results.read_record(path).code["core/losses.py"] != "000000000000"


def test_killed_reproduce_leaves_an_interrupted_timing_record(monkeypatch, tmp_path):
    import json
    import sys
    import types

    from gazelib.ops import reproduce

    calls = []

    def execute_notebook(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
    fake = types.SimpleNamespace(execute_notebook=execute_notebook, PapermillExecutionError=RuntimeError)
    monkeypatch.setitem(sys.modules, "papermill", fake)
    with pytest.raises(KeyboardInterrupt):
        reproduce.run_notebooks("smoke", [0], "cpu", True, tmp_path / "reports")
    (record,) = (tmp_path / "results" / "reproduce").glob("*.json")
    assert json.loads(record.read_text())["status"] == "interrupted"
    assert "Status: **interrupted**" in record.with_suffix(".md").read_text()


def test_stale_gaze_temporaries_are_removed(tmp_path):
    from gazelib.gaze import cache
    from tests.gaze.test_cache import TinyDataset

    directory = cache.ensure_maps(TinyDataset(1), "vam", workers=1, progress=False)
    stale = directory / ".part-abc.npz.tmp999999999"   # no such process
    stale.write_bytes(b"half")
    cache.ensure_maps(TinyDataset(1), "vam", workers=1, progress=False)
    assert not stale.exists()
