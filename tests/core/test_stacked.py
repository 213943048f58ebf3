"""Stacked training (``gazelib.core.stacked``): each run trained together with others is the run trained
alone, up to float rounding, for every method; its pieces against torch's own."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, vmap

from gazelib.core import stacked
from gazelib.core.config import make_config
from gazelib.core.methods import known_methods
from gazelib.core.train import train
from gazelib.experiments import engines
from gazelib.runs.identity import checkpoint_path
from gazelib.runs.records import read_record

#: fp32 (machine-independent), 3 iterations of the smoke profile. Measured differences of stacked and
#: alone: the first steps' losses equal to ~1e-7, then rounding differences grow with each SGD step
#: (GradTrack at 5 iterations: ~1e-3 in loss, fastest of the methods); the bounds are ~10x the largest
#: difference measured over all methods at 3 iterations.
SMOKE = ["amp=false", "iterations=3"]
LOSS_TOL, DICE_TOL = 1e-4, 1e-3


@pytest.fixture(scope="module")
def real_data(mirror, tmp_path_factory):
    return mirror, tmp_path_factory.mktemp("stacked_cache")   # gaze maps computed once for the module


def _use(real_data, monkeypatch):
    mirror, cache = real_data
    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    monkeypatch.setenv("GAZELIB_CACHE", str(cache))


def _assert_same_run(a, b):
    assert a.run_id == b.run_id and a.scores.keys() == b.scores.keys()
    assert [it for it, _ in a.loss_history] == [it for it, _ in b.loss_history]
    for (_, x), (_, y) in zip(a.loss_history, b.loss_history):
        assert abs(x - y) <= LOSS_TOL * max(1.0, abs(y)), (a.run_id, a.loss_history, b.loss_history)
    for image in a.scores:
        assert abs(a.scores[image]["dice"] - b.scores[image]["dice"]) <= DICE_TOL, (a.run_id, image)


@pytest.mark.parametrize("method", ["full", "vam", "vam_crf", "gazemedseg", "gradtrack", "san"])
def test_each_stacked_run_is_the_run_trained_alone(method, real_data, monkeypatch):
    _use(real_data, monkeypatch)
    assert method in known_methods()
    # two seeds, one with another learning rate: per-run schedules go through the per-run update
    cfgs = [make_config(method, "kvasir", "smoke", [*SMOKE, "seed=0"]),
            make_config(method, "kvasir", "smoke", [*SMOKE, "seed=1", "lr=0.003"])]
    together = [read_record(path) for path in stacked.train_stacked(cfgs, progress=False)]
    assert [r.precision["stacked"] for r in together] == [2, 2]
    alone = [read_record(train(cfg, progress=False, retrain=True)) for cfg in cfgs]
    assert all("stacked" not in r.precision for r in alone)
    for a, b in zip(together, alone):
        _assert_same_run(a, b)
    assert together[0].scores != together[1].scores   # two runs, not one run twice


def test_stacked_runs_keep_their_own_augmentation_and_test_trajectory(real_data, monkeypatch):
    _use(real_data, monkeypatch)
    cfgs = [make_config("full", "kvasir", "smoke", [*SMOKE, "seed=0", "test_every=2"]),
            make_config("full", "kvasir", "smoke", [*SMOKE, "seed=0", "test_every=1", "augment=nnunet"])]
    together = [read_record(path) for path in stacked.train_stacked(cfgs, progress=False)]
    alone = [read_record(train(cfg, progress=False, retrain=True)) for cfg in cfgs]
    for a, b in zip(together, alone):
        _assert_same_run(a, b)
        history, expected = a.selection["test_dice_history"], b.selection["test_dice_history"]
        scored_at = {2: [2, 3], 1: [1, 2, 3]}[a.config["test_every"]]   # every k-th and the last iteration
        assert [point[0] for point in history] == [point[0] for point in expected] == scored_at
        for point, want in zip(history, expected):
            assert abs(point[1] - want[1]) <= DICE_TOL and abs(point[2] - want[2]) <= DICE_TOL


def test_a_stacked_run_stopped_midway_resumes_alone(real_data, monkeypatch):
    _use(real_data, monkeypatch)
    cfgs = [make_config("vam", "kvasir", "smoke", [*SMOKE, f"seed={s}"]) for s in (0, 1)]
    paths = stacked.train_stacked(cfgs, progress=False, stop_after=2)
    assert all(path == checkpoint_path(path.parent.name) for path in paths)   # checkpoints, no records
    resumed = read_record(train(cfgs[1], progress=False))          # alone, from the stacked checkpoint
    uninterrupted = read_record(train(cfgs[1], progress=False, retrain=True))
    _assert_same_run(resumed, uninterrupted)


def test_runs_stack_only_when_they_differ_in_per_run_fields():
    a = make_config("vam", "kvasir", "smoke", ["seed=0"])
    b = make_config("vam", "kvasir", "smoke", ["seed=1", "lr=0.5", "augment=nnunet", "test_every=2"])
    c = make_config("vam", "kvasir", "smoke", ["seed=2", "batch_size=2"])
    d = make_config("full", "kvasir", "smoke", ["seed=0"])
    assert stacked.stack_key(a) == stacked.stack_key(b)
    assert len({stacked.stack_key(x) for x in (a, c, d)}) == 3
    assert stacked.stack_groups([a, c, b, d], 2) == [[a, b], [c], [d]]
    assert stacked.stack_groups([a, b, a], 2) == [[a, b], [a]]
    with pytest.raises(ValueError, match="equal configs except for seed"):
        stacked.train_stacked([a, c])
    assert engines.check("stacked:3") == "stacked:3"
    with pytest.raises(ValueError, match="stacked:N"):
        engines.check("stacked:0")


def test_stackable_group_norm_is_group_norm_and_batches_under_vmap():
    torch.manual_seed(0)
    norms = [nn.GroupNorm(4, 8) for _ in range(3)]
    for norm in norms:
        nn.init.normal_(norm.weight)
        nn.init.normal_(norm.bias)
    x = torch.randn(3, 2, 8, 5, 5) * 3 + 1
    base = stacked.stackable(norms[0])
    assert type(base) is stacked.StackableGroupNorm
    weights = {name: torch.stack([dict(n.named_parameters())[name] for n in norms]) for name in ("weight", "bias")}
    out = vmap(lambda w, xx: functional_call(base, w, (xx,)))(weights, x)
    for n, norm in enumerate(norms):
        torch.testing.assert_close(out[n], norm(x[n]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("nesterov", [True, False])
def test_stacked_sgd_is_torch_sgd_per_run(nesterov):
    torch.manual_seed(0)
    shapes, lrs = [(4, 3), (5,)], [0.1, 0.1, 0.02]
    weights = [[torch.randn(s) for s in shapes] for _ in lrs]
    reference = [[w.clone().requires_grad_() for w in ws] for ws in weights]
    optimisers = [torch.optim.SGD(ws, lr=lr, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
                  for ws, lr in zip(reference, lrs)]
    params = {str(i): torch.stack([ws[i] for ws in weights]) for i in range(len(shapes))}
    sgd = stacked.StackedSGD(params, optimisers[0].param_groups[0], {name: None for name in params})
    for step in range(3):
        grads = [[torch.randn(s) for s in shapes] for _ in lrs]
        for ws, gs, opt in zip(reference, grads, optimisers):
            for w, g in zip(ws, gs):
                w.grad = g.clone()
            opt.step()
        sgd.step([torch.stack([gs[i] for gs in grads]) for i in range(len(shapes))], lrs)
        for n, ws in enumerate(reference):
            for i, w in enumerate(ws):
                torch.testing.assert_close(params[str(i)][n], w.detach(), rtol=1e-6, atol=1e-7)
    same = {str(i): torch.stack([ws[i] for ws in weights[:2]]) for i in range(len(shapes))}
    first = [[w.clone().requires_grad_() for w in ws] for ws in weights[:2]]
    opts = [torch.optim.SGD(ws, lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01) for ws in first]
    sgd = stacked.StackedSGD(same, opts[0].param_groups[0], {name: None for name in same})
    for step in range(3):   # one learning rate: torch's scalar update, bit for bit
        grads = [[torch.randn(s) for s in shapes] for _ in range(2)]
        for ws, gs, opt in zip(first, grads, opts):
            for w, g in zip(ws, gs):
                w.grad = g.clone()
            opt.step()
        sgd.step([torch.stack([gs[i] for gs in grads]) for i in range(len(shapes))], [0.1, 0.1])
    for n, ws in enumerate(first):
        for i, w in enumerate(ws):
            assert torch.equal(same[str(i)][n], w.detach())
