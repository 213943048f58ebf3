"""THE trainer: one loop for every method (a method = model + targets + loss, ``gazelib.core.methods``).

* Data resident on the device: all training tensors are built once (``targets.build_tensors``,
  cached) and moved to the device; batches are drawn by index on the device, epoch by epoch from a
  seeded ``torch.Generator`` permutation (each image once per epoch; the last partial batch dropped,
  or kept with ``cfg.drop_last=False`` as the GazeMedSeg authors' loader does).
* Augmentation (``cfg.augment``): random flips on both axes (``flips``), or nnU-Net-style rotation,
  scaling, elastic deformation, gamma and mirroring (``nnunet``, ``gazelib.core.augment``); drawn per
  sample on the device and applied to the image and every target together.
* bf16 autocast when ``cfg.amp`` and the device computes bf16 natively (CUDA; CPUs with AVX512-BF16 /
  AMX), channels-last when ``cfg.channels_last`` and it pays (CUDA, or bf16 on the CPU),
  ``torch.compile`` when ``cfg.compile``; fp32 otherwise. The record's ``precision`` says which. The step itself is
  ``make_train_step`` (also what ``gazelib bench`` times). No host-device sync per iteration: the
  loss is summed on the device and read (``float``) only when the progress bar / history is updated.
* SGD (momentum, Nesterov, weight decay; fused kernel on CUDA) with a per-iteration schedule:
  cosine ``lr_t = min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2`` (GazeMedSeg) or
  poly ``lr_t = lr (1 - t / T)^0.9`` (GradTrack / nnU-Net; applied per iteration, not per epoch), or the
  GazeMedSeg authors' cosine set once per epoch (``cosine_epoch``: ``learning_rate``).
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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from gazelib.runs import records as results

from gazelib.core import files, selection
from gazelib.core.augment import augment_batch
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


def learning_rate(cfg: Config, iteration: int, epoch_batches: int | None = None) -> float:
    """lr at ``iteration`` (0-based) of ``cfg.iterations``; formulas in the module docstring.
    ``cosine_epoch`` needs ``epoch_batches`` (batches per epoch, ``batches_per_epoch``)."""
    t = iteration / cfg.iterations
    if cfg.schedule == "cosine":
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t)) / 2
    if cfg.schedule == "poly":
        return cfg.lr * (1 - t) ** POLY_POWER
    if cfg.schedule == "cosine_epoch":
        if not epoch_batches:
            raise ValueError("schedule cosine_epoch needs the number of batches per epoch (epoch_batches)")
        # the GazeMedSeg authors' loop: `total_epoch = max_ite // len(loader) + 1`; the rate is set at the
        # start of each epoch from a counter that is raised only after the hook, so epochs 1 and 2 both run
        # at the rate of epoch 1, and data epoch k >= 2 at that of epoch k - 1
        total_epochs = cfg.iterations // epoch_batches + 1
        epoch = max(1, iteration // epoch_batches)
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * epoch / total_epochs)) / 2
    raise ValueError(f"unknown schedule {cfg.schedule!r}; schedules: cosine, poly, cosine_epoch")


def batches_per_epoch(count: int, batch_size: int, drop_last: bool) -> int:
    """Batches per epoch of ``count`` images: the last partial batch dropped (``drop_last``) or kept."""
    return count // batch_size if drop_last else math.ceil(count / batch_size)


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


def sample_batch(data: dict[str, torch.Tensor], index: torch.Tensor, generator: torch.Generator,
                 augment: str = "flips") -> dict[str, torch.Tensor]:
    """The training batch ``index`` of the device-resident ``data``, as float, augmented (``augment_batch``)."""
    return augment_batch({k: v[index].float() for k, v in data.items()}, generator, augment)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Run:
    """One training run: its config, the live objects the loop uses and a checkpoint keeps, and the
    per-iteration bookkeeping (``next_batch``, ``end_iteration``) that the one-run loop (``_train_loop``)
    and the stacked loop (``gazelib.core.stacked``) share."""
    cfg: Config
    rid: str
    device: torch.device
    model: torch.nn.Module
    optimiser: torch.optim.Optimizer
    generator: torch.Generator            # epoch permutations and augmentation, on the device
    data: dict[str, torch.Tensor]         # the device-resident training tensors
    batch_size: int
    state: dict                           # iteration, permutation, loss history and window, times
    method: object = None
    dataset: object = None
    train_ids: list = field(default_factory=list)
    test_ids: list = field(default_factory=list)
    fingerprint: str = ""
    tracker: selection.TestTrajectory | None = None
    stacked: int = 1                      # runs trained together with this one (``gazelib.core.stacked``)

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

    @property
    def images(self) -> int:
        """Training images (the device-resident tensors' first dimension)."""
        return next(iter(self.data.values())).shape[0]

    @property
    def batches(self) -> int:
        return batches_per_epoch(self.images, self.batch_size, self.cfg.drop_last)

    def next_batch(self, it: int) -> tuple[dict[str, torch.Tensor], float]:
        """Iteration ``it``'s batch and learning rate: epochs of a seeded permutation (the last partial
        batch dropped unless ``cfg.drop_last`` is false), augmented by the run's own generator."""
        batches, state = self.batches, self.state
        position = it % batches
        if position == 0 or state["perm"] is None:
            state["perm"] = torch.randperm(self.images, generator=self.generator, device=self.device)
        index = state["perm"][position * self.batch_size:(position + 1) * self.batch_size]
        return sample_batch(self.data, index, self.generator, self.cfg.augment), learning_rate(self.cfg, it, batches)

    def start_segment(self) -> None:
        """Start the clocks of training time (checkpoints add it up) and of the progress bar's rate."""
        self.segment_start = self.pace_start = time.perf_counter()
        self.pace_first = self.state["iteration"]

    def end_iteration(self, loss: torch.Tensor, logs: dict, stop_after: int | None = None, bar=None,
                      sync=None) -> bool:
        """After one step with detached ``loss``: the loss summed on the device (read only at log points),
        the test evaluations (``tracker``), the checkpoint; True when ``stop_after`` asks to stop here.
        ``bar``: a progress bar to update, or None (then the method's loss terms are never read).
        ``sync()``, if given, is called before anything reads the model (the stacked loop copies the
        run's weights into ``model`` there)."""
        cfg, state = self.cfg, self.state
        state["window"][0] += loss.float()   # summed on the device: no sync per iteration
        state["window"][1] += 1
        done = state["iteration"] = state["iteration"] + 1
        if done % max(1, min(50, cfg.iterations // 20)) == 0 or done == cfg.iterations:
            mean = float(state["window"][0]) / state["window"][1]
            _check_finite(mean, "mean training loss", done, self.rid)
            state["history"].append([done, mean])
            state["window"] = [torch.zeros((), device=self.device), 0]
            state["final_loss"] = mean
            if bar is not None:   # the method's loss terms are device tensors: read them only here
                rate = (done - self.pace_first) * self.batch_size / (time.perf_counter() - self.pace_start)
                bar.set_postfix(loss=f"{mean:.4f}", img_s=f"{rate:.1f}", **log_floats(logs, "{:.4f}"))
        if bar is not None:
            bar.update(1)
        stopping = stop_after is not None and done >= stop_after
        saving = done % cfg.checkpoint_every == 0 or done == cfg.iterations or stopping
        scoring = self.tracker is not None and self.tracker.scores_at(done)
        if sync is not None and (saving or scoring):
            sync()
        if scoring:   # test evaluations (selection), before the checkpoint that keeps them
            self.tracker.after_step(done, self.model)
        if saving:
            now = time.perf_counter()
            state["train_time"] += now - self.segment_start
            self.segment_start = now
            _check_finite(float(state["window"][0]), "training loss", done, self.rid)
            _check_finite(float(sum(p.detach().float().abs().sum() for p in self.model.parameters())), "model weights",
                          done, self.rid)
            self.save_checkpoint()
        return stopping


def open_run(cfg: Config, method=None, dataset=None, retrain: bool | None = None) -> Run | Path:
    """The run of ``cfg`` ready to train (fresh, or resumed from its checkpoint), or the path of its
    finished record. Arguments as ``train``'s."""
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
                     "train_time": 0.0, "started": _now(), "final_loss": float("nan")},
              method=method, dataset=dataset, train_ids=train_ids, test_ids=test_ids, fingerprint=fingerprint)
    run.generator.manual_seed(cfg.seed)
    if checkpoint_path(rid).exists():
        run.resume(checkpoint_path(rid))
    run.tracker = selection.tracker(cfg, run.state, lambda m: pixel_counts(m, method, dataset, test_ids, cfg))
    return run


def finish_run(run: Run) -> Path:
    """Score a run that has trained all its iterations and write its record (the record's path), or the
    path of its last checkpoint if it has not."""
    cfg, state, model = run.cfg, run.state, run.model
    if state["iteration"] < cfg.iterations:
        return checkpoint_path(run.rid)
    if isinstance(run.tracker, selection.BestOnTest):
        run.tracker.restore_best(model)
    _check_scorable(run)
    start = time.perf_counter()
    scores, qualitative = evaluate(model, run.method, run.dataset, run.test_ids, cfg, keep=QUALITATIVE_IMAGES)
    eval_time = time.perf_counter() - start
    computed = precision(cfg, run.device)
    if run.stacked > 1:
        computed.update(stacked=run.stacked, channels_last=False, compile=False)   # what the stack runs
    record = results.RunRecord(
        run_id=run.rid, method=cfg.method, dataset=cfg.dataset, seed=cfg.seed, config=cfg.to_dict(),
        split={"name": cfg.split, "train_hash": ids_hash(run.train_ids), "test_hash": ids_hash(run.test_ids),
               "n_train": len(run.train_ids), "n_test": len(run.test_ids)},
        scores=scores, summary=results.summarise(scores), device=device_name(run.device), torch=torch.__version__,
        precision=computed, selection=selection.record_entry(cfg, state),
        git=git_state(), iterations=cfg.iterations, final_loss=state["final_loss"],
        wall_time_s=state["train_time"] + eval_time,
        train_images_per_s=cfg.iterations * run.batch_size / max(state["train_time"], 1e-9),
        eval_images_per_s=len(run.test_ids) / max(eval_time, 1e-9), started=state["started"], finished=_now(),
        loss_history=state["history"], qualitative=qualitative, data_fingerprint=run.fingerprint,
        code=code_fingerprint())
    return results.write_record(record)


def train(cfg: Config, progress: bool = True, *, method=None, dataset=None, stop_after: int | None = None,
          retrain: bool | None = None) -> Path:
    """Train ``cfg`` (or resume it, or return its finished record) and return the run record path.

    ``method`` / ``dataset`` default to ``get_method(cfg.method)`` / ``load_dataset(cfg.dataset)``;
    objects may be passed instead (tests, notebooks). ``stop_after=k`` is an interruption hook:
    stop after iteration k with a checkpoint written and return the checkpoint path.
    ``retrain=True`` (default: environment ``GAZELIB_RETRAIN=1``, set by ``gazelib reproduce --retrain``)
    trains from scratch even where a record or checkpoint exists, and replaces them.
    """
    run = open_run(cfg, method, dataset, retrain)
    if isinstance(run, Path):
        return run
    train_alone(run, progress, stop_after)
    return finish_run(run)


def train_alone(run: Run, progress: bool = True, stop_after: int | None = None) -> None:
    """Train an opened run (``open_run``) by itself, with the trainer's step, to its end or ``stop_after``."""
    with deterministic(run.device):
        _train_loop(run, make_train_step(run.model, run.method, run.optimiser, run.cfg, run.device), progress,
                    stop_after)


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


def _train_loop(run: Run, step, progress: bool, stop_after: int | None) -> None:
    """Iterations ``run.state["iteration"]`` to ``cfg.iterations`` of one run: ``next_batch``, ``step``,
    ``end_iteration``."""
    from tqdm.auto import tqdm

    bar = tqdm(total=run.cfg.iterations, initial=run.state["iteration"], disable=not progress, desc=run.rid,
               leave=False)
    run.model.train()
    run.start_segment()
    for it in range(run.state["iteration"], run.cfg.iterations):
        loss, logs = step(*run.next_batch(it))
        if run.end_iteration(loss, logs, stop_after, bar if progress else None):
            break
    bar.close()
