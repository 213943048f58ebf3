"""The trainer on a tiny synthetic data set and a tiny test-only method: determinism, resume,
config checks, records -> tables, targets."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gazelib.core import evaluate, methods, targets, train
from gazelib.core.config import make_config
from gazelib.core.methods import Method
from gazelib.report import summary, tables
from gazelib.runs import identity as runs
from gazelib.runs import records as results


class Disks:
    """A data set of RGB images of various sizes with one bright disk each (mask = the disk)."""
    name = "kvasir"
    in_channels = 3
    root = None

    def __init__(self, count=10):
        rng = np.random.default_rng(0)
        self.ids = [f"img{i:02d}" for i in range(count)]
        self._shape = {i: (int(rng.integers(30, 44)), int(rng.integers(30, 44))) for i in self.ids}
        self._centre = {i: rng.uniform(0.3, 0.7, 2) for i in self.ids}

    def mask(self, image_id):
        h, w = self._shape[image_id]
        yy, xx = np.mgrid[:h, :w]
        cy, cx = self._centre[image_id]
        return (yy - cy * h) ** 2 + (xx - cx * w) ** 2 < (0.25 * min(h, w)) ** 2

    def image(self, image_id):
        return np.repeat((40 + 180 * self.mask(image_id))[..., None], 3, axis=2).astype(np.uint8)

    def scanpath(self, image_id):
        raise KeyError(f"{image_id} not in fixations.csv")

    def split(self, name="default"):
        return {"train": self.ids[:8], "test": self.ids[8:]}


class Tiny(Method):
    """Test-only method: two convolutions, BCE to the mask."""
    name = "tiny"
    targets = ("mask",)

    def build(self, cfg):
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                                   torch.nn.Conv2d(4, 1, 3, padding=1))

    def loss(self, out, batch, cfg):
        loss = F.binary_cross_entropy_with_logits(out.float(), batch["mask"])
        return loss, {"bce": loss.detach()}

    def predict(self, out):
        return out


methods._REGISTRY.setdefault("tiny", Tiny())   # make_config reads the method's recipe


def tiny_cfg(**overrides):
    values = {"image_size": 16, "iterations": 6, "batch_size": 4, "lr": 0.1, "train_limit": None,
              "test_limit": None, "checkpoint_every": 2, "device": "cpu"}
    values.update(overrides)
    return make_config("tiny", "kvasir", "smoke", values)


def run(cfg, **kw):
    return train.train(cfg, progress=False, method=Tiny(), dataset=Disks(), **kw)


def rid(cfg):
    return runs.resolve_run_id(cfg, method=Tiny(), dataset=Disks())


def weights(cfg):
    return torch.load(runs.checkpoint_path(rid(cfg)), weights_only=False)["model"]


def test_record_contents_and_skip(tmp_path):
    cfg = tiny_cfg()
    path = run(cfg)
    rec = results.read_record(path)
    assert rec.run_id == path.stem and rec.iterations == 6 and set(rec.scores) == {"img08", "img09"}
    assert rec.split["n_train"] == 8 and rec.split["n_test"] == 2
    assert rec.summary["dice_mean"] == pytest.approx(np.mean([s["dice"] for s in rec.scores.values()]))
    assert rec.loss_history[-1][0] == 6 and math.isfinite(rec.final_loss)
    assert rec.data_fingerprint and rec.run_id.endswith(f"-d{rec.data_fingerprint[:8]}-s0") and "core/train.py" in rec.code
    stamp = path.stat().st_mtime_ns
    assert run(cfg) == path   # finished: no training
    assert path.stat().st_mtime_ns == stamp


def test_two_seeded_runs_are_identical(tmp_path, monkeypatch):
    first = results.read_record(run(tiny_cfg()))
    monkeypatch.setenv("GAZELIB_RESULTS", str(tmp_path / "other"))
    second = results.read_record(run(tiny_cfg()))
    assert first.scores == second.scores and first.loss_history == second.loss_history
    monkeypatch.setenv("GAZELIB_RESULTS", str(tmp_path / "seed1"))
    assert results.read_record(run(tiny_cfg(seed=1))).loss_history != first.loss_history


def test_resume_equals_uninterrupted_run(tmp_path, monkeypatch):
    cfg = tiny_cfg()
    whole = results.read_record(run(cfg))
    whole_weights = weights(cfg)
    monkeypatch.setenv("GAZELIB_RESULTS", str(tmp_path / "interrupted"))
    assert run(cfg, stop_after=3) == runs.checkpoint_path(rid(cfg))   # mid-epoch, off the 2-step grid
    assert not results.record_path(rid(cfg)).exists()
    resumed = results.read_record(run(cfg))
    for name, tensor in whole_weights.items():
        assert torch.equal(tensor, weights(cfg)[name]), name
    assert resumed.scores == whole.scores and resumed.loss_history == whole.loss_history


def test_checkpoint_with_other_config_is_an_error():
    cfg = tiny_cfg()
    run(cfg, stop_after=2)
    path = runs.checkpoint_path(rid(cfg))
    saved = torch.load(path, weights_only=False)
    saved["config"]["lr"] = 0.5
    torch.save(saved, path)
    with pytest.raises(ValueError, match="different config.*'lr': \\(0.5, 0.1\\)"):
        run(cfg)


def test_a_key_declared_after_a_record_was_written_has_its_default_there():
    cfg = tiny_cfg()
    old = {k: v for k, v in cfg.to_dict().items() if k != "test_every"}   # written before test_every existed
    runs.check_same_config(old, cfg, "old.json")
    with pytest.raises(ValueError, match="'test_every': \\(0, 5\\)"):
        runs.check_same_config(old, tiny_cfg(test_every=5), "old.json")
    with pytest.raises(ValueError, match="'lr': \\(None, 0.1\\)"):   # a key of the fixed scheme is never assumed
        runs.check_same_config({k: v for k, v in old.items() if k != "lr"}, cfg, "old.json")


def test_records_to_table_over_two_seeds(tmp_path):
    recs = [results.read_record(run(tiny_cfg(seed=s))) for s in (0, 1)]
    df = results.load_records(method="tiny")
    assert len(df) == 2 and set(df["seed"]) == {0, 1}
    tab = summary.summarize(df, group="method")
    dice = [100 * r.summary["dice_mean"] for r in recs]
    assert tab.loc[0, "seeds"] == 2
    assert tab.loc[0, "dice_mean"] == pytest.approx(np.mean(dice))
    assert tab.loc[0, "dice_std"] == pytest.approx(np.std(dice, ddof=1))
    csv, md = tables.write_table(tab[["method", "seeds", "dice_mean"]], "tiny")
    assert csv.read_text().startswith("method,seeds,dice_mean")
    assert md.read_text().splitlines()[2].startswith(f"| tiny | 2 | {np.mean(dice):.1f} |")   # one decimal
    with pytest.raises(ValueError, match="unknown filter 'nope'"):
        results.load_records(nope=1)


def test_table_refuses_duplicate_seeds():
    run(tiny_cfg())
    run(tiny_cfg(lr=0.05))
    with pytest.raises(ValueError, match="several runs with seed"):
        summary.summarize(results.load_records(), group="method")
    rows = results.load_records()
    assert len(summary.summarize(rows.assign(row=rows.method + " lr " + rows.lr.astype(str)), group="row")) == 2


def test_evaluate_checkpoint_reproduces_record():
    cfg = tiny_cfg()
    rec = results.read_record(run(cfg))
    again = evaluate.evaluate_checkpoint(rec.run_id, method=Tiny(), dataset=Disks())
    assert again["scores"] == rec.scores


def test_schedules():
    cos = tiny_cfg(iterations=10, lr=1e-2, min_lr=1e-4)
    assert train.learning_rate(cos, 0) == pytest.approx(1e-2)
    assert train.learning_rate(cos, 5) == pytest.approx((1e-2 + 1e-4) / 2)
    poly = tiny_cfg(iterations=10, lr=1e-2, schedule="poly")
    assert train.learning_rate(poly, 5) == pytest.approx(1e-2 * 0.5 ** 0.9)


def test_flips_are_shared_between_image_and_targets():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    out = train.flip_batch({"image": x, "mask": x[:, :1].clone()}, torch.Generator().manual_seed(0))
    assert torch.equal(out["image"][:, :1], out["mask"])
    for i in range(2):   # each sample is one of the four flips of itself
        assert any(torch.equal(out["image"][i], x[i].flip(d) if d else x[i]) for d in ((), (-1,), (-2,), (-1, -2)))


def test_targets_image_normalisation_and_mask():
    ds = Disks()
    cfg = tiny_cfg()
    built = targets.build_tensors(ds, ["img00"], cfg, ("image", "mask"))
    image, mask = built["image"], built["mask"]
    assert image.shape == (1, 3, 16, 16) and mask.shape == (1, 1, 16, 16) and mask.dtype == torch.uint8
    outside = (np.array([40, 40, 40]) / 255 - np.array(targets.IMAGENET_MEAN)) / np.array(targets.IMAGENET_STD)
    assert image[0, :, 0, 0].numpy() == pytest.approx(outside, abs=1e-5)   # background corner
    assert mask[0, 0].sum() > 0 and mask[0, 0, 0, 0] == 0
    one = targets.normalise_image(torch.tensor([[[1.0, 3.0]]]))
    assert one.flatten().tolist() == pytest.approx([-1.0, 1.0])          # z-score for one channel
    cached = targets.build_tensors(ds, ["img00"], cfg, ("image",))["image"]
    assert torch.equal(cached, image)


def test_missing_gaze_names_the_image():
    with pytest.raises(ValueError, match="'img00' of kvasir has no gaze.*fixations.csv"):
        targets.build_tensors(Disks(), ["img00"], tiny_cfg(), ("vam_soft",))


class GazedDisks(Disks):
    def scanpath(self, image_id):   # only its presence and content key matter; the maps come from the fake gaze_maps
        from gazelib.data.fixations import Scanpath
        one = np.array([0.5])
        return Scanpath(image_id, one, one, one * 100, one * 0, *self._shape[image_id])


def test_soft_crf_is_resized_then_thresholded(monkeypatch):
    # the GazeMedSeg authors' loader: bilinear resize of the soft CRF map (no antialiasing), then >= level.
    # 2 -> 4 pixels, align_corners=False: output row centres sit at source rows -0.25, 0.25, 0.75, 1.25,
    # clamped to 0, 0.25, 0.75, 1, so rows of [[0.2, 0.2], [0.8, 0.8]] become 0.2, 0.35, 0.65, 0.8.
    crf = np.array([[0.2, 0.2], [0.8, 0.8]], dtype=np.float32)
    calls = []

    def fake(dataset, kind, ids, cfg, **params):
        calls.append((kind, {"sigma": cfg.sigma, **params}))
        return {i: crf for i in ids}

    monkeypatch.setattr(targets, "gaze_maps", fake)
    cfg = tiny_cfg(image_size=4, features=(4, 4, 4), levels=(0.5, 0.3), under_threshold=0.7)
    built = targets.build_tensors(GazedDisks(), ["img00"], cfg, ("pseudo_masks", "conservative_mask", "crf_soft"))

    def rows(*on):
        return np.repeat(np.array(on)[:, None], 4, axis=1).tolist()

    assert built["pseudo_masks"][0].numpy().tolist() == [rows(0, 0, 1, 1), rows(0, 1, 1, 1)]
    assert built["conservative_mask"][0, 0].numpy().tolist() == rows(0, 0, 0, 1)   # thresholding first would give 0, 0, 1, 1
    soft = built["crf_soft"][0, 0].numpy()   # values < 0.5 zeroed at the original resolution, then resized
    assert soft[0].tolist() == [0, 0, 0, 0] and soft[3, 3] == pytest.approx(0.8)
    assert calls[0] == ("crf", {"sigma": 70.0})


def test_learns_the_easy_task_end_to_end():
    """Image, mask, flips, prediction and upsampling to each image's own size must line up."""
    rec = results.read_record(run(tiny_cfg(iterations=80, lr=0.5, momentum=0.9, checkpoint_every=1000)))
    assert rec.summary["dice_mean"] > 0.8, rec.summary


def test_train_fraction_is_a_fraction_of_the_limited_pool_and_subsets_nest():
    data = Disks(40)
    data.split = lambda name="default": {"train": data.ids[:30], "test": data.ids[30:]}
    pick = {(f, limit): runs.select_ids(data, tiny_cfg(train_fraction=f, train_limit=limit))[0]
            for f in (0.2, 0.5, 1.0) for limit in (None, 10)}
    assert [len(pick[f, None]) for f in (0.2, 0.5, 1.0)] == [6, 15, 30]
    assert [len(pick[f, 10]) for f in (0.2, 0.5, 1.0)] == [2, 5, 10]    # 0.2 of the 10-image pool, not min(6, 10)
    assert set(pick[0.2, 10]) <= set(pick[0.5, 10]) <= set(pick[1.0, 10]) <= set(pick[1.0, None])
    assert set(pick[0.2, None]) <= set(pick[0.5, None])


def test_best_on_test_scores_the_best_test_checkpoint_and_says_so(tmp_path, monkeypatch):
    final = results.read_record(run(tiny_cfg(iterations=12, lr=0.5)))
    assert final.selection == {"mode": "final", "iteration": 12}
    best = results.read_record(run(tiny_cfg(iterations=12, lr=0.5, selection="best_on_test", selection_every=4)))
    chosen = best.selection
    assert chosen["mode"] == "best_on_test" and chosen["optimistic"]
    history = {done: mean for done, mean, _ in chosen["test_dice_history"]}
    assert sorted(history) == [4, 8, 12]                          # every 4 iterations and the last
    assert history[12] == pytest.approx(final.summary["dice_mean"])   # evaluation does not disturb training
    assert chosen["iteration"] == max(history, key=lambda k: (history[k], -k))   # first best
    assert best.summary["dice_mean"] == pytest.approx(max(history.values()))   # the scored model is that one
    again = evaluate.evaluate_checkpoint(best.run_id, method=Tiny(), dataset=Disks())
    assert again["summary"]["dice_mean"] == pytest.approx(best.summary["dice_mean"])   # `gazelib eval` agrees
    # resumed halfway (after a test evaluation): the same choice
    monkeypatch.setenv("GAZELIB_RESULTS", str(tmp_path / "resumed"))
    cfg = tiny_cfg(iterations=12, lr=0.5, selection="best_on_test", selection_every=4)
    run(cfg, stop_after=6)
    assert results.read_record(run(cfg)).selection == chosen
    with pytest.raises(ValueError, match="unknown selection"):
        run(tiny_cfg(selection="best"))


def test_test_every_records_the_test_trajectory_and_scores_the_final_model(tmp_path):
    final = results.read_record(run(tiny_cfg(iterations=12, lr=0.5)))
    tracked = results.read_record(run(tiny_cfg(iterations=12, lr=0.5, test_every=5)))
    assert tracked.run_id != final.run_id                               # a key away from its default enters the id
    assert tracked.scores == final.scores and tracked.loss_history == final.loss_history   # training undisturbed
    entry = tracked.selection
    assert entry["mode"] == "final" and entry["iteration"] == 12 and entry["test_every"] == 5
    assert [point[0] for point in entry["test_dice_history"]] == [5, 10, 12]      # every 5 and the last
    last = entry["test_dice_history"][-1]
    assert last[1] == final.summary["dice_mean"]                        # the final model, mean per-image Dice
    tp, fp, fn = (sum(s[k] for s in final.scores.values()) for k in ("tp", "fp", "fn"))
    assert last[2] == pytest.approx(2 * tp / (2 * tp + fp + fn))        # and pooled
    with pytest.raises(ValueError, match="test_every=3 is for selection=final"):
        run(tiny_cfg(selection="best_on_test", test_every=3))
