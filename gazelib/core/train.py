"""THE trainer: one loop for every method (a method = model + targets + loss, ``gazelib.core.methods``).

* Data resident on the device: all training tensors are built once (``targets.build_tensors``,
  cached) and moved to the device; batches are drawn by index on the device, epoch by epoch from a
  seeded ``torch.Generator`` permutation (each image once per epoch, last partial batch dropped).
* Augmentation: random flips on both axes, drawn per sample on the device and applied to the image
  and every target together.
* bf16 autocast when ``cfg.amp`` and the device computes bf16 natively (CUDA; CPUs with AVX512-BF16 /
  AMX), channels-last when ``cfg.channels_last`` and it pays (CUDA, or bf16 on the CPU),
  ``torch.compile`` when ``cfg.compile``; fp32 otherwise. The record's ``precision`` says which. The step itself is
  ``make_train_step`` (also what ``gazelib bench`` times). No host-device sync per iteration: the
  loss is summed on the device and read (``float``) only when the progress bar / history is updated.
* SGD (momentum, Nesterov, weight decay; fused kernel on CUDA) with a per-iteration schedule:
  cosine ``lr_t = min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2`` (GazeMedSeg) or
  poly ``lr_t = lr (1 - t / T)^0.9`` (GradTrack / nnU-Net; applied per iteration, not per epoch).
* Checkpoints every ``cfg.checkpoint_every`` iterations to ``results_root()/checkpoints/<run_id>/last.pt``
  (atomic): model, optimiser, iteration, RNG states, current permutation, loss history, config.
  Rerunning the same config resumes and gives the same result as an uninterrupted run; a finished
  run record is returned without training (resumable ``make reproduce``).
* Evaluation at each test image's own resolution (``evaluate``), per-image Dice, IoU, HD95 and pixel
  counts, of the final model, or with ``cfg.selection="best_on_test"`` of the checkpoint that scored
  best on the test split (the GazeMedSeg authors' protocol, optimistic; ``gazelib.core.selection``).
  ``cfg.test_every`` also scores the test split during a ``final`` run and records the trajectory.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from gazelib.runs import records as results

from gazelib.core import files, selection
from gazelib.core.config import Config
from gazelib.core.device import autocast, channels_last_enabled, deterministic, device_name, precision, resolve_device
from gazelib.core.evaluate import evaluate, pixel_counts
from gazelib.runs.fingerprint import code_fingerprint
from gazelib.core.networks import build_model
from gazelib.runs.provenance import git_state
from gazelib.runs.identity import (check_same_config, checkpoint_path, data_fingerprint_of, non_finite,
                                   read_checkpoint, resolve, run_id, select_ids, warn_if_other_code)
from gazelib.core.targets import build_tensors, ids_hash

POLY_POWER = 0.9
QUALITATIVE_IMAGES = 4   # test images whose predicted masks a record keeps (qualitative figures)


def learning_rate(cfg: Config, iteration: int) -> float:
    """lr at ``iteration`` (0-based) of ``cfg.iterations``; formulas in the module docstring."""
    t = iteration / cfg.iterations
    if cfg.schedule == "cosine":
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t)) / 2
    if cfg.schedule == "poly":
        return cfg.lr * (1 - t) ** POLY_POWER
    raise ValueError(f"unknown schedule {cfg.schedule!r}; schedules: cosine, poly")


def make_optimiser(model: torch.nn.Module, cfg: Config, device: torch.device) -> torch.optim.SGD:
    """SGD with the config's momentum, Nesterov and weight decay. On CUDA the fused kernel (one launch
    for all parameters); on the CPU torch's default implementation (kept so CPU results stay bit-identical)."""
    fused = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                           weight_decay=cfg.weight_decay, **fused)


def make_train_step(model: torch.nn.Module, method, optimiser: torch.optim.Optimizer, cfg: Config,
                    device: torch.device):
    """The one training step, used by ``train`` and by ``gazelib bench``.

    Returns ``step(batch, lr) -> (loss, logs)``: ``batch`` is a dict of float tensors on ``device``
    (``"image"`` plus the method's targets); sets the learning rate, runs forward under autocast
    (``amp_enabled``) with a channels-last input where ``channels_last_enabled``, the method's loss,
    backward and the optimiser step. ``loss`` and ``logs`` are detached device tensors (no sync).
    ``torch.compile`` wraps the forward when ``cfg.compile``.
    """
    forward = torch.compile(model) if cfg.compile else model
    channels_last = channels_last_enabled(cfg, device)

    def step(batch: dict[str, torch.Tensor], lr: float):
        if channels_last:
            batch = {**batch, "image": batch["image"].contiguous(memory_format=torch.channels_last)}
        for group in optimiser.param_groups:
            group["lr"] = lr
        with autocast(cfg, device):
            loss, logs = method.loss(forward(batch["image"]), batch, cfg)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return loss.detach(), logs

    return step


def log_floats(logs: dict[str, torch.Tensor], fmt: str | None = None) -> dict:
    """A method's loss terms (detached tensors) as Python floats, or strings formatted with ``fmt`` (syncs)."""
    values = {k: float(v) for k, v in logs.items()}
    return values if fmt is None else {k: fmt.format(v) for k, v in values.items()}


def sample_batch(data: dict[str, torch.Tensor], index: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The training batch ``index`` of the device-resident ``data``, as float, randomly flipped (``flip_batch``)."""
    return flip_batch({k: v[index].float() for k, v in data.items()}, generator)


def flip_batch(batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Flip each sample left-right and up-down with probability 1/2 each, the same way in every tensor."""
    first = next(iter(batch.values()))
    size, device = first.shape[0], first.device
    flips = torch.rand(2, size, generator=generator, device=device) < 0.5
    out = {}
    for name, x in batch.items():
        x = torch.where(flips[0].view(-1, *[1] * (x.ndim - 1)), x.flip(-1), x)
        out[name] = torch.where(flips[1].view(-1, *[1] * (x.ndim - 1)), x.flip(-2), x)
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Run:
    """The live objects of one training run: what the loop uses and a checkpoint keeps."""
    cfg: Config
    rid: str
    device: torch.device
    model: torch.nn.Module
    optimiser: torch.optim.Optimizer
    generator: torch.Generator            # epoch permutations and flips, on the device
    data: dict[str, torch.Tensor]         # the device-resident training tensors
    batch_size: int
    state: dict                           # iteration, permutation, loss history and window, times

    def save_checkpoint(self) -> None:
        files.save_torch({"model": self.model.state_dict(), "optimizer": self.optimiser.state_dict(),
                          "torch_rng": torch.get_rng_state(), "generator": self.generator.get_state(),
                          "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                          "state": self.state, "config": self.cfg.to_dict()}, checkpoint_path(self.rid))

    def resume(self, path: Path) -> None:
        """Continue from the checkpoint at ``path`` (same config, or an error naming the file)."""
        saved = read_checkpoint(path)
        check_same_config(saved["config"], self.cfg, path)
        self.model.load_state_dict(saved["model"])
        self.optimiser.load_state_dict(saved["optimizer"])   # moves its state to the parameters' device
        torch.set_rng_state(saved["torch_rng"])
        if saved.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(saved["cuda_rng"], self.device)
        self.generator.set_state(saved["generator"])
        self.state = saved["state"]
        self.state["window"][0] = self.state["window"][0].to(self.device)
        if self.state["perm"] is not None:
            self.state["perm"] = self.state["perm"].to(self.device)


def train(cfg: Config, progress: bool = True, *, method=None, dataset=None, stop_after: int | None = None,
          retrain: bool | None = None) -> Path:
    """Train ``cfg`` (or resume it, or return its finished record) and return the run record path.

    ``method`` / ``dataset`` default to ``get_method(cfg.method)`` / ``load_dataset(cfg.dataset)``;
    objects may be passed instead (tests, notebooks). ``stop_after=k`` is an interruption hook:
    stop after iteration k with a checkpoint written and return the checkpoint path.
    ``retrain=True`` (default: environment ``GAZELIB_RETRAIN=1``, set by ``gazelib reproduce --retrain``)
    trains from scratch even where a record or checkpoint exists, and replaces them.
    """
    if retrain is None:
        retrain = os.environ.get("GAZELIB_RETRAIN") == "1"
    method, dataset = resolve(cfg, method, dataset)
    fingerprint = data_fingerprint_of(cfg, method, dataset)
    rid = run_id(cfg, fingerprint)
    record_file = results.record_path(rid)
    if retrain:
        checkpoint_path(rid).unlink(missing_ok=True)
    elif record_file.exists():
        record = results.read_record(record_file)
        check_same_config(record.config, cfg, record_file)
        warn_if_other_code(record, record_file)
        return record_file
    selection.check(cfg)
    device = resolve_device(cfg)
    train_ids, test_ids = select_ids(dataset, cfg)
    data = {k: v.to(device) for k, v in build_tensors(dataset, train_ids, cfg, ("image", *method.targets)).items()}

    with deterministic(device):
        model = build_model(method, cfg, device)
        run = Run(cfg, rid, device, model, make_optimiser(model, cfg, device), torch.Generator(device=device), data,
                  batch_size=min(cfg.batch_size, len(train_ids)),
                  state={"iteration": 0, "perm": None, "history": [], "window": [torch.zeros((), device=device), 0],
                         "train_time": 0.0, "started": _now(), "final_loss": float("nan")})
        run.generator.manual_seed(cfg.seed)
        if checkpoint_path(rid).exists():
            run.resume(checkpoint_path(rid))
        tracker = selection.tracker(cfg, run.state, lambda m: pixel_counts(m, method, dataset, test_ids, cfg))
        _train_loop(run, make_train_step(model, method, run.optimiser, cfg, device), progress, stop_after,
                    tracker.after_step if tracker else None)
    state = run.state
    if state["iteration"] < cfg.iterations:
        return checkpoint_path(rid)
    if isinstance(tracker, selection.BestOnTest):
        tracker.restore_best(model)
    _check_scorable(run)
    start = time.perf_counter()
    scores, qualitative = evaluate(model, method, dataset, test_ids, cfg, keep=QUALITATIVE_IMAGES)
    eval_time = time.perf_counter() - start
    record = results.RunRecord(
        run_id=rid, method=cfg.method, dataset=cfg.dataset, seed=cfg.seed, config=cfg.to_dict(),
        split={"name": cfg.split, "train_hash": ids_hash(train_ids), "test_hash": ids_hash(test_ids),
               "n_train": len(train_ids), "n_test": len(test_ids)},
        scores=scores, summary=results.summarise(scores), device=device_name(device), torch=torch.__version__,
        precision=precision(cfg, device), selection=selection.record_entry(cfg, state),
        git=git_state(), iterations=cfg.iterations, final_loss=state["final_loss"],
        wall_time_s=state["train_time"] + eval_time,
        train_images_per_s=cfg.iterations * run.batch_size / max(state["train_time"], 1e-9),
        eval_images_per_s=len(test_ids) / max(eval_time, 1e-9), started=state["started"], finished=_now(),
        loss_history=state["history"], qualitative=qualitative, data_fingerprint=fingerprint,
        code=code_fingerprint())
    return results.write_record(record)


class NonFiniteError(RuntimeError):
    """Training diverged (NaN / inf loss or weights): no checkpoint and no record are written."""


def _check_finite(value: float, what: str, iteration: int, rid: str) -> None:
    """Read only where the loss is already on the host (log points, checkpoints): no extra sync per step."""
    if not math.isfinite(value):
        raise NonFiniteError(f"run {rid}: {what} is {value} at iteration {iteration}; training diverged "
                             f"-- lower lr (or check the data); no checkpoint or record was written")


def _check_scorable(run: Run) -> None:
    """The weights about to be scored and the final loss are finite (the loop checks them as it trains;
    a run that resumes from its last checkpoint, or restores a chosen one, did not train them)."""
    bad, loss = non_finite(run.model.state_dict()), run.state["final_loss"]
    if bad or not math.isfinite(loss):
        what = f"non-finite weights ({', '.join(bad[:3])})" if bad else f"final loss {loss}"
        raise NonFiniteError(f"run {run.rid}: {what} at checkpoint {checkpoint_path(run.rid)}; not scored and "
                             f"no record written: delete the checkpoint to retrain")


def _train_loop(run: Run, step, progress: bool, stop_after: int | None, after_step=None) -> None:
    """Iterations ``run.state["iteration"]`` to ``cfg.iterations``: epochs of a seeded permutation (last
    partial batch dropped), the loss summed on the device and read at log points, checkpoints."""
    from tqdm.auto import tqdm

    cfg, state, rid, device, batch_size = run.cfg, run.state, run.rid, run.device, run.batch_size
    log_every = max(1, min(50, cfg.iterations // 20))
    count = next(iter(run.data.values())).shape[0]
    steps_per_epoch = count // batch_size
    bar = tqdm(total=cfg.iterations, initial=state["iteration"], disable=not progress, desc=rid, leave=False)
    run.model.train()
    segment_start = bar_start = time.perf_counter()
    bar_first = state["iteration"]
    for it in range(state["iteration"], cfg.iterations):
        position = it % steps_per_epoch
        if position == 0 or state["perm"] is None:
            state["perm"] = torch.randperm(count, generator=run.generator, device=device)
        index = state["perm"][position * batch_size:(position + 1) * batch_size]
        loss, logs = step(sample_batch(run.data, index, run.generator), learning_rate(cfg, it))

        state["window"][0] += loss.float()   # summed on the device: no sync per iteration
        state["window"][1] += 1
        done = it + 1
        state["iteration"] = done
        if done % log_every == 0 or done == cfg.iterations:
            mean = float(state["window"][0]) / state["window"][1]
            _check_finite(mean, "mean training loss", done, rid)
            state["history"].append([done, mean])
            state["window"] = [torch.zeros((), device=device), 0]
            state["final_loss"] = mean
            rate = (done - bar_first) * batch_size / (time.perf_counter() - bar_start)
            if progress:   # the method's loss terms are device tensors: read them only here
                bar.set_postfix(loss=f"{mean:.4f}", img_s=f"{rate:.1f}", **log_floats(logs, "{:.4f}"))
        bar.update(1)
        if after_step is not None:   # test evaluations (selection), before the checkpoint that keeps them
            after_step(done, run.model)
        stopping = stop_after is not None and done >= stop_after
        if done % cfg.checkpoint_every == 0 or done == cfg.iterations or stopping:
            now = time.perf_counter()
            state["train_time"] += now - segment_start
            segment_start = now
            _check_finite(float(state["window"][0]), "training loss", done, rid)
            _check_finite(float(sum(p.detach().float().abs().sum() for p in run.model.parameters())), "model weights",
                          done, rid)
            run.save_checkpoint()
        if stopping:
            break
    bar.close()
