"""Presets and key=value overrides."""
import pytest

from gazelib.core.config import make_config


def test_paper_presets_per_method_and_dataset():
    gms = make_config("gazemedseg", "kvasir", "paper_kvasir")
    assert (gms.iterations, gms.schedule, gms.backbone, gms.sigma, gms.levels) == (15000, "cosine", "unet", 70.0,
                                                                                  (0.5, 0.3))
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
