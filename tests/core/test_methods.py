"""Every method builds with slim features, forwards a (2, 3, 64, 64) batch and back-propagates."""
import pytest
import torch

from gazelib.core.config import Config
from gazelib.papers.gazemedseg.loss import consistency_loss
from gazelib.core.methods import get_method, known_methods

SLIM = (16, 32, 64, 128, 256)


def batch_for(targets, levels=2):
    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(2, 1, 64, 64, generator=g) > 0.5).float()
    make = {
        "mask": mask, "conservative_mask": mask,
        "vam_soft": torch.rand(2, 1, 64, 64, generator=g), "crf_soft": torch.rand(2, 1, 64, 64, generator=g),
        "pseudo_masks": (torch.rand(2, levels, 64, 64, generator=g) > 0.5).float(),
        "track": torch.rand(2, 3, 64, 64, generator=g) * (torch.rand(2, 3, 64, 64, generator=g) > 0.5),
        "gaze": torch.rand(2, 1, 64, 64, generator=g),
    }
    return {"image": torch.randn(2, 3, 64, 64, generator=g), **{t: make[t] for t in targets}}


CASES = [("full", {}), ("full", {"backbone": "nnunet"}), ("vam", {}), ("vam_crf", {}),
         ("gazemedseg", {}), ("gazemedseg", {"cons_mode": "pure"}), ("gazemedseg", {"cons_mode": "none"}),
         ("gradtrack", {"backbone": "nnunet"}), ("gradtrack", {"backbone": "unet"}),
         ("gradtrack", {"backbone": "nnunet", "components": 1}), ("gradtrack", {"backbone": "nnunet", "components": 3}),
         ("gradtrack", {"backbone": "nnunet", "ta_location": "both"})] + \
        [("san", {"san_variant": v}) for v in ("backbone", "gaze_head", "san_concat", "ours_gaze", "ours")]


@pytest.mark.parametrize("name,overrides", CASES)
def test_method_trains_one_step(name, overrides):
    torch.manual_seed(0)
    cfg = Config(method=name, features=SLIM, **overrides)
    method = get_method(name)
    model = method.build(cfg).train()
    batch = batch_for(method.targets, len(cfg.levels))
    out = model(batch["image"])
    loss, logs = method.loss(out, batch, cfg)
    assert torch.isfinite(loss) and logs
    # log terms are detached 0-d tensors (no .item() sync inside loss)
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in logs.values())
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert method.predict(out).shape == (2, 1, 64, 64)


def test_all_methods_are_covered():
    assert {c[0] for c in CASES} == set(known_methods()) - {"tiny"}   # tiny: the trainer tests' own method


def test_gazemedseg_predict_is_mean_of_levels_and_eval_skips_lpp():
    torch.manual_seed(0)
    cfg = Config(method="gazemedseg", features=SLIM)
    method = get_method("gazemedseg")
    model = method.build(cfg).eval()
    out = model(torch.randn(1, 3, 32, 32))
    assert "prop_logits" not in out
    assert torch.allclose(method.predict(out), (out["logits"][0] + out["logits"][1]) / 2)


def test_gradtrack_loss_terms_follow_components():
    method = get_method("gradtrack")
    for comps, expected in [(1, {"vam"}), (2, {"vam", "gtmg_100_final"}),
                            (3, {"vam", "gtmg_100_final", "gtmg_100_ta0", "gtmg_100_ta1"}),
                            (4, {"vam", "gtmg_100_final", "gtmg_50_ta0", "gtmg_75_ta1"})]:
        cfg = Config(method="gradtrack", backbone="nnunet", features=SLIM, components=comps)
        model = method.build(cfg)
        _, logs = method.loss(model(torch.randn(2, 3, 64, 64)), batch_for(method.targets), cfg)
        assert set(logs) == expected


def test_gradtrack_total_is_eq5():
    torch.manual_seed(0)
    cfg = Config(method="gradtrack", backbone="nnunet", features=SLIM)
    method = get_method("gradtrack")
    loss, logs = method.loss(method.build(cfg)(torch.randn(2, 3, 64, 64)), batch_for(method.targets), cfg)
    expected = (logs["gtmg_100_final"] + cfg.lambda1 * (logs["gtmg_50_ta0"] + logs["gtmg_75_ta1"]) + cfg.lambda2 * logs["vam"]).item()
    # the same four positive float32 terms added in another order: a few roundings apart, < 1e-6 relative
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_gazemedseg_consistency_does_not_reach_peer_networks():
    cfg = Config(method="gazemedseg", features=SLIM, cons_mode="pure")
    method = get_method("gazemedseg")
    model = method.build(cfg).train()
    out = model(torch.randn(2, 3, 32, 32))
    probs = [torch.sigmoid(z) for z in out["logits"]]
    consistency_loss(probs[0], probs[1]).backward()
    assert all(p.grad is None for p in model.nets[1].parameters())
    assert any(p.grad is not None for p in model.nets[0].parameters())


def test_missing_target_is_a_clear_error():
    cfg = Config(method="full", features=SLIM)
    method = get_method("full")
    with pytest.raises(KeyError, match="mask"):
        method.loss(method.build(cfg)(torch.randn(1, 3, 32, 32)), {"image": torch.zeros(1)}, cfg)
