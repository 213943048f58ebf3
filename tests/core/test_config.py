"""Presets and key=value overrides."""
import json
from pathlib import Path

import pytest

from gazelib.core.config import config_from_dict, make_config
from gazelib.runs.identity import check_same_config, config_key

REPO = Path(__file__).resolve().parents[2]


def test_paper_presets_per_method_and_dataset():
    gms = make_config("gazemedseg", "kvasir", "paper_kvasir")
    assert (gms.iterations, gms.schedule, gms.backbone, gms.sigma, gms.levels) == (15000, "cosine_epoch", "unet", 70.0,
                                                                                  (0.5, 0.3))
    assert (gms.resize_antialias, gms.drop_last, gms.augment) == (False, False, "flips")   # the authors' loader
    gt = make_config("gradtrack", "kvasir", "paper_kvasir")
    assert (gt.iterations, gt.schedule, gt.backbone, gt.beta) == (100 * 113, "poly", "nnunet", 10.0)
    nci = make_config("vam_crf", "nci_isbi", "paper_nci_isbi")
    assert (nci.iterations, nci.beta, nci.sigma, nci.levels) == (100 * 99, 15.0, 50.0, (0.2, 0.4))


def test_overrides_are_typed():
    cfg = make_config("full", "kvasir", "smoke", ["levels=0.5,0.3,0.4", "train_limit=None", "amp=false",
                                                  "lr=0.05", "iterations=7", "backbone=nnunet", "beta=12"])
    assert cfg.levels == (0.5, 0.3, 0.4) and cfg.train_limit is None and cfg.amp is False
    assert cfg.lr == 0.05 and cfg.iterations == 7 and cfg.backbone == "nnunet" and cfg.beta == 12.0
    assert make_config("full", "kvasir", "smoke", ["features=4,8"]).features == (4, 8)


@pytest.mark.parametrize("override, message", [
    (["nope=1"], "unknown config key 'nope'; valid keys: method"),
    (["iterations=abc"], "bad value for iterations"),
    (["amp=maybe"], "bad value for amp"),
    (["iterations"], "not of the form key=value"),
])
def test_override_errors(override, message):
    with pytest.raises(ValueError, match=message):
        make_config("full", "kvasir", "smoke", override)


def test_unknown_preset_and_mismatched_dataset():
    with pytest.raises(ValueError, match="presets: smoke, quick, laptop, paper_kvasir, paper_nci_isbi"):
        make_config("full", "kvasir", "fast")
    with pytest.raises(ValueError, match="is for dataset 'kvasir'"):
        make_config("full", "nci_isbi", "paper_kvasir")


@pytest.mark.parametrize("method", ["full", "vam", "vam_crf", "gazemedseg", "gradtrack", "san"])
def test_laptop_is_quick_on_every_image_for_longer(method):
    from gazelib.core.config import LAPTOP_ITERATIONS

    quick, laptop = make_config(method, "kvasir", "quick"), make_config(method, "kvasir", "laptop")
    assert (laptop.train_limit, laptop.test_limit) == (None, None)         # all 900 / 100 images
    assert laptop.iterations == LAPTOP_ITERATIONS > quick.iterations
    same = ("image_size", "backbone", "features", "lr", "momentum", "schedule", "weight_decay", "batch_size")
    assert {k: getattr(laptop, k) for k in same} == {k: getattr(quick, k) for k in same}
    assert laptop.preset == "laptop"


def test_laptop_unet_row_gets_its_own_learning_rate_unless_overridden():
    assert make_config("full", "kvasir", "laptop", ["backbone=unet"]).lr == 0.01
    assert make_config("full", "kvasir", "laptop", ["backbone=unet", "lr=0.03"]).lr == 0.03
    assert make_config("full", "kvasir", "laptop", {"backbone": "unet", "lr": 0.03}).lr == 0.03
    assert make_config("full", "kvasir", "laptop").lr == 0.05                 # nnU-Net-style default
    assert make_config("full", "kvasir", "quick", ["backbone=unet"]).lr == 0.05  # quick keeps one recipe


def test_gazemedseg_cpu_profiles_keep_the_default_loop():
    for preset in ("quick", "laptop"):
        cfg = make_config("gazemedseg", "kvasir", preset)
        assert (cfg.schedule, cfg.resize_antialias, cfg.drop_last, cfg.augment) == ("cosine", True, True, "flips")
    with pytest.raises(ValueError, match="augment must be one of flips, nnunet"):
        make_config("full", "kvasir", "smoke", ["augment=heavy"])


def test_keys_at_their_default_leave_every_committed_run_id_unchanged():
    """Each committed record's id holds the config key recomputed from its config by this code, and a
    record written before a key was declared is the same config as a run with that key at its default."""
    paths = sorted((REPO / "results" / "runs").glob("*.json"))
    assert paths
    for path in paths:
        config = json.loads(path.read_text())["config"]
        cfg = config_from_dict(config)
        assert f"-{config_key(cfg)}-" in path.stem, path.name
        check_same_config(config, cfg, path)   # records older than a key lack it: read as its default
    moved = make_config("full", "kvasir", "laptop", ["drop_last=false"])
    assert config_key(moved) != config_key(make_config("full", "kvasir", "laptop"))   # a changed key enters the hash
