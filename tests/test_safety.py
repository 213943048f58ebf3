"""Issue 12: nothing silent -- safe checkpoints, validated configs, non-finite losses, input checks,
data-keyed caches and run ids, one-line CLI errors, clean interruption."""
from __future__ import annotations

import os
import pickle

import pytest
import torch

from gazelib import train
from gazelib.config import config_from_dict, make_config
from tests.test_train_trainer import Disks, Tiny, run, tiny_cfg


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
    ckpt = train.checkpoint_path(train.run_id(cfg))
    _crafted_checkpoint(ckpt)
    with pytest.raises(ValueError, match="not a readable gazelib checkpoint"):
        run(cfg)
    with pytest.raises(ValueError, match=str(ckpt.name)):
        train.evaluate_checkpoint(str(ckpt), method=Tiny(), dataset=Disks())
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
    rid = train.run_id(cfg)
    assert not train.checkpoint_path(rid).exists()
    from gazelib import results
    assert not results.record_path(rid).exists()
