"""The trainer's step is ``train.make_train_step`` (what the benchmark times), and it is one SGD step."""
from __future__ import annotations


import torch

from gazelib.core import train
from gazelib.core.device import cpu_has_native_bf16
from gazelib.core.config import make_config

from tests.core.test_train import Disks, Tiny, tiny_cfg  # noqa: E402


def test_train_runs_every_iteration_through_make_train_step(monkeypatch):
    calls = []
    real = train.make_train_step

    def counting(*args, **kwargs):
        step = real(*args, **kwargs)

        def wrapped(batch, lr):
            calls.append(lr)
            loss, logs = step(batch, lr)
            assert isinstance(logs["bce"], torch.Tensor) and not loss.requires_grad
            return loss, logs
        return wrapped

    monkeypatch.setattr(train, "make_train_step", counting)
    cfg = tiny_cfg()
    train.train(cfg, progress=False, method=Tiny(), dataset=Disks())
    assert calls == [train.learning_rate(cfg, it) for it in range(cfg.iterations)]


def test_step_is_one_plain_sgd_update_in_fp32():
    cfg = make_config("tiny", "kvasir", "smoke", {"amp": False, "channels_last": False, "momentum": 0.0,
                                                  "nesterov": False, "weight_decay": 0.0})
    device = torch.device("cpu")
    torch.manual_seed(0)
    model = Tiny().build(cfg)
    before = [p.detach().clone() for p in model.parameters()]
    batch = {"image": torch.randn(2, 3, 8, 8), "mask": (torch.rand(2, 1, 8, 8) > 0.5).float()}
    loss, logs = train.make_train_step(model, Tiny(), train.make_optimiser(model, cfg, device), cfg, device)(batch, 0.5)
    # by hand: the same loss and w <- w - lr * grad
    ref = [p.clone().requires_grad_(True) for p in before]
    out = torch.nn.functional.conv2d(torch.relu(torch.nn.functional.conv2d(batch["image"], ref[0], ref[1], padding=1)),
                                     ref[2], ref[3], padding=1)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out, batch["mask"])
    expected.backward()
    assert torch.allclose(loss, expected.detach()) and torch.allclose(logs["bce"], expected.detach())
    for p, r in zip(model.parameters(), ref):
        assert torch.allclose(p, r.detach() - 0.5 * r.grad, atol=1e-6)


def test_dice_fast_vs_plain_trains_both_paths_per_seed():
    from gazelib.ops import bench

    out = bench.dice_fast_vs_plain("full", "smoke", seeds=(0, 1), dataset=Disks(),
                                   overrides={"image_size": 16, "iterations": 2, "train_limit": None,
                                              "test_limit": None, "device": "cpu"})
    runs = {(r["path"], r["seed"]): r for r in out["runs"]}
    assert set(runs) == {("fast", 0), ("fast", 1), ("plain", 0), ("plain", 1)}
    assert runs["fast", 0]["amp"] is cpu_has_native_bf16() and not runs["plain", 0]["amp"] and not runs["plain", 0]["channels_last"]
    assert runs["fast", 0]["run_id"] != runs["plain", 0]["run_id"]
    assert out["plain"]["dice_mean"] == (runs["plain", 0]["dice_mean"] + runs["plain", 1]["dice_mean"]) / 2
