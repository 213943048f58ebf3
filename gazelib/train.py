"""THE trainer: one loop for every method (a method = model + targets + loss, ``gazelib.methods``).

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
* Evaluation at each test image's own resolution (``evaluate``), per-image Dice, IoU, HD95, of the
  final model, or with ``cfg.selection="best_on_test"`` of the checkpoint that scored best on the
  test split (the GazeMedSeg authors' protocol, optimistic; ``gazelib.selection``).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import pickle
import platform
import time
import warnings
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gazelib import metrics, results, selection
from gazelib.config import Config, config_from_dict
from gazelib.fingerprint import code_fingerprint, data_fingerprint
from gazelib.paths import results_root
from gazelib.provenance import git_state
from gazelib.targets import build_tensors, ids_hash

POLY_POWER = 0.9
SUBSET_SEED = 0          # subsets (train_fraction, limits) are fixed per split, not per run seed
EVAL_BATCH = 32
QUALITATIVE_IMAGES = 4   # test images whose predicted masks a record keeps (qualitative figures)
# seed is its own part of the run id; checkpointing changes nothing; the device a run used is in its
# record (so `make figures` on a laptop finds the records of GPU runs).
NOT_IN_HASH = ("seed", "checkpoint_every", "device")


# ------------------------------------------------------------------------------------------------
# Identity of a run
# ------------------------------------------------------------------------------------------------

def _comparable(config: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if k not in ("checkpoint_every", "device")}


def config_key(cfg: Config) -> str:
    """10 hex digits of the config without seed (and without ``NOT_IN_HASH``)."""
    values = {k: v for k, v in _comparable(asdict(cfg)).items() if k not in NOT_IN_HASH}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:10]


def run_id(cfg: Config, data: str) -> str:
    """``method-dataset-<config key>-d<data fingerprint>-s<seed>``.

    A run is its config and its data (``data_fingerprint``): a changed image, mask or fixation gives a
    new run. The code is not part of the id (records stay findable across edits); the record keeps
    ``code_fingerprint()`` and a reused record made by other code is reported (``train``)."""
    return f"{cfg.method}-{cfg.dataset}-{config_key(cfg)}-d{data[:8]}-s{cfg.seed}"


def data_fingerprint_of(cfg: Config, method, dataset) -> str:
    """Content fingerprint of the train and test data ``cfg`` selects (with fixations where the method uses gaze)."""
    from gazelib.targets import GAZE_NAMES

    train_ids, test_ids = select_ids(dataset, cfg)
    gaze = bool(GAZE_NAMES & set(method.targets))
    parts = data_fingerprint(dataset, train_ids, gaze) + data_fingerprint(dataset, test_ids, gaze=False)
    return hashlib.sha256(parts.encode()).hexdigest()[:16]


def resolve_run_id(cfg: Config, *, method=None, dataset=None) -> str:
    """``run_id`` of ``cfg`` on the data as it is now (loads the data set unless given)."""
    method, dataset = _resolve(cfg, method, dataset)
    return run_id(cfg, data_fingerprint_of(cfg, method, dataset))


def find_record(cfg: Config) -> Path:
    """The record of ``cfg`` without reading the data (``gazelib figures`` where the data is absent):
    the newest record whose id matches the config and seed, whatever data it was trained on; a path
    that does not exist when there is none."""
    found = sorted(results.record_path(f"{cfg.method}-{cfg.dataset}-{config_key(cfg)}-d").parent.glob(
        f"{cfg.method}-{cfg.dataset}-{config_key(cfg)}-d*-s{cfg.seed}.json"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else results.record_path(f"{cfg.method}-{cfg.dataset}-{config_key(cfg)}-s{cfg.seed}")


def checkpoint_path(rid: str) -> Path:
    return results_root() / "checkpoints" / rid / "last.pt"


def _check_same_config(saved: dict, cfg: Config, where: Path) -> None:
    saved, wanted = _comparable(saved), _comparable(asdict(cfg))
    diff = {k: (saved.get(k), wanted.get(k)) for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k)}
    if diff:
        raise ValueError(f"{where} was made with a different config (saved vs requested: {diff}); "
                         f"delete it or change the run")


# ------------------------------------------------------------------------------------------------
# Set-up helpers
# ------------------------------------------------------------------------------------------------

def resolve_device(cfg: Config) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={cfg.device!r} requested but CUDA is not available")
    return torch.device(cfg.device)


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 natively on this CPU (AVX512-BF16, AMX, or AVX512 emulation).

    Without it (AVX2-only CPUs) bf16 autocast is emulated: measured 10x slower than fp32 for the
    quick training step on a 2-core AVX2 EPYC (1.10 s vs 0.11 s)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_enabled(cfg: Config, device: torch.device) -> bool:
    """bf16 autocast: requested by ``cfg.amp`` and run only where the device computes bf16 natively."""
    if not cfg.amp:
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


def channels_last_enabled(cfg: Config, device: torch.device) -> bool:
    """Channels-last memory: requested by ``cfg.channels_last`` and used where it pays -- CUDA, and the
    CPU in bf16 (oneDNN's blocked kernels). In fp32 on the CPU it measured slower (quick GazeMedSeg
    step 0.58 s vs 0.37 s), so fp32 CPU runs keep NCHW."""
    return cfg.channels_last and (device.type == "cuda" or amp_enabled(cfg, device))


def precision(cfg: Config, device: torch.device) -> dict:
    """What a run actually computed in (its record keeps it: the config says what was requested)."""
    return {"autocast": "bf16" if amp_enabled(cfg, device) else None,
            "channels_last": channels_last_enabled(cfg, device), "compile": cfg.compile}


def autocast(cfg: Config, device: torch.device):
    if amp_enabled(cfg, device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _subset(ids: list[str], count: int) -> list[str]:
    order = np.random.default_rng(SUBSET_SEED).permutation(len(ids))
    return sorted(ids[i] for i in order[:count])


def select_ids(dataset, cfg: Config) -> tuple[list[str], list[str]]:
    """Train and test ids: the split, then fixed (seed-independent) subsets.

    The training pool is the train split, cut to ``train_limit`` images (CPU profiles); a run uses
    ``train_fraction`` of that pool. Subsets are prefixes of one seeded order, so a smaller fraction's
    images are part of every larger one's, and the ratios of the limited-data table stay ratios under
    a limit. The test set is cut to ``test_limit``."""
    split = dataset.split(cfg.split)
    train, test = list(split["train"]), list(split["test"])
    if not 0 < cfg.train_fraction <= 1:
        raise ValueError(f"train_fraction must be in (0, 1], got {cfg.train_fraction}")
    pool = len(train) if cfg.train_limit is None else min(len(train), cfg.train_limit)
    count = max(1, round(cfg.train_fraction * pool))
    test_count = len(test) if cfg.test_limit is None else min(len(test), cfg.test_limit)
    return _subset(train, count), _subset(test, test_count)


def learning_rate(cfg: Config, iteration: int) -> float:
    """lr at ``iteration`` (0-based) of ``cfg.iterations``; formulas in the module docstring."""
    t = iteration / cfg.iterations
    if cfg.schedule == "cosine":
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t)) / 2
    if cfg.schedule == "poly":
        return cfg.lr * (1 - t) ** POLY_POWER
    raise ValueError(f"unknown schedule {cfg.schedule!r}; schedules: cosine, poly")


def _resolve(cfg: Config, method, dataset):
    if method is None:
        from gazelib.methods import get_method
        method = get_method(cfg.method)
    elif method.name != cfg.method:
        raise ValueError(f"method object {method.name!r} does not match cfg.method={cfg.method!r}")
    if dataset is None:
        from gazelib.data.datasets import load_dataset
        dataset = load_dataset(cfg.dataset)
    elif dataset.name != cfg.dataset:
        raise ValueError(f"dataset object {dataset.name!r} does not match cfg.dataset={cfg.dataset!r}")
    return method, dataset


def _build_model(method, cfg: Config, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(cfg.seed)
    model = method.build(cfg).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last_enabled(cfg, device) else model


@contextlib.contextmanager
def _deterministic(device: torch.device):
    """Deterministic kernels while training (warn only on CUDA, where a few kernels have none)."""
    previous = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.benchmark = benchmark


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


def _atomic_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------

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
    method, dataset = _resolve(cfg, method, dataset)
    fingerprint = data_fingerprint_of(cfg, method, dataset)
    rid = run_id(cfg, fingerprint)
    record_file = results.record_path(rid)
    if retrain:
        checkpoint_path(rid).unlink(missing_ok=True)
    elif record_file.exists():
        record = results.read_record(record_file)
        _check_same_config(record.config, cfg, record_file)
        _warn_if_other_code(record, record_file)
        return record_file
    selection.check(cfg)
    device = resolve_device(cfg)
    train_ids, test_ids = select_ids(dataset, cfg)
    data = {k: v.to(device) for k, v in build_tensors(dataset, train_ids, cfg, ("image", *method.targets)).items()}
    count = len(train_ids)
    batch_size = min(cfg.batch_size, count)
    steps_per_epoch = count // batch_size

    with _deterministic(device):
        model = _build_model(method, cfg, device)
        optimiser = make_optimiser(model, cfg, device)
        generator = torch.Generator(device=device)
        generator.manual_seed(cfg.seed)
        state = {"iteration": 0, "perm": None, "history": [], "window": [torch.zeros((), device=device), 0],
                 "train_time": 0.0,
                 "started": _now(), "final_loss": float("nan")}
        ckpt = checkpoint_path(rid)
        if ckpt.exists():
            saved = read_checkpoint(ckpt)
            _check_same_config(saved["config"], cfg, ckpt)
            model.load_state_dict(saved["model"])
            optimiser.load_state_dict(saved["optimizer"])   # moves its state to the parameters' device
            torch.set_rng_state(saved["torch_rng"])
            if saved.get("cuda_rng") is not None and device.type == "cuda":
                torch.cuda.set_rng_state(saved["cuda_rng"], device)
            generator.set_state(saved["generator"])
            state = saved["state"]
            state["window"][0] = state["window"][0].to(device)
            if state["perm"] is not None:
                state["perm"] = state["perm"].to(device)
        step = make_train_step(model, method, optimiser, cfg, device)
        chooser = None
        if cfg.selection == "best_on_test":
            chooser = selection.BestOnTest(cfg, state, lambda m: selection.mean_test_dice(
                evaluate, m, method, dataset, test_ids, cfg))
        _train_loop(cfg, step, model, optimiser, generator, data, state, batch_size, steps_per_epoch,
                    rid, device, progress, stop_after, chooser.after_step if chooser else None)
    if state["iteration"] < cfg.iterations:
        return ckpt
    if chooser is not None:
        chooser.restore_best(model)
    start = time.perf_counter()
    scores, qualitative = evaluate(model, method, dataset, test_ids, cfg, keep=QUALITATIVE_IMAGES)
    eval_time = time.perf_counter() - start
    record = results.RunRecord(
        run_id=rid, method=cfg.method, dataset=cfg.dataset, seed=cfg.seed, config=asdict(cfg),
        split={"name": cfg.split, "train_hash": ids_hash(train_ids), "test_hash": ids_hash(test_ids),
               "n_train": len(train_ids), "n_test": len(test_ids)},
        scores=scores, summary=results.summarise(scores), device=device_name(device), torch=torch.__version__,
        precision=precision(cfg, device), selection=selection.record_entry(cfg, state),
        git=git_state(), iterations=cfg.iterations, final_loss=state["final_loss"],
        wall_time_s=state["train_time"] + eval_time,
        train_images_per_s=cfg.iterations * batch_size / max(state["train_time"], 1e-9),
        eval_images_per_s=len(test_ids) / max(eval_time, 1e-9), started=state["started"], finished=_now(),
        loss_history=state["history"], qualitative=qualitative, data_fingerprint=fingerprint,
        code=code_fingerprint())
    return results.write_record(record)


def _warn_if_other_code(record, path: Path) -> None:
    """A reused record made by other code (``fingerprint.code_fingerprint``) is reported, loudly."""
    now = code_fingerprint()
    changed = sorted(f for f in set(now) | set(record.code) if now.get(f) != record.code.get(f))
    if changed:
        message = (f"run {record.run_id}: the record {path} was produced by different code "
                   f"({', '.join(changed[:6])}{' ...' if len(changed) > 6 else ''} differ"
                   f"{'; the record has no code fingerprint' if not record.code else ''}); its numbers may not "
                   f"match the code as it is now. Retrain with train(..., retrain=True), run_grid(..., retrain=True), "
                   f"`gazelib train --retrain` or `gazelib reproduce --retrain`.")
        warnings.warn(message, CodeChangedWarning, stacklevel=3)


class CodeChangedWarning(UserWarning):
    """A reused run record was produced by other code than the current one."""


class NonFiniteError(RuntimeError):
    """Training diverged (NaN / inf loss or weights): no checkpoint and no record are written."""


def _check_finite(value: float, what: str, iteration: int, rid: str) -> None:
    """Read only where the loss is already on the host (log points, checkpoints): no extra sync per step."""
    if not math.isfinite(value):
        raise NonFiniteError(f"run {rid}: {what} is {value} at iteration {iteration}; training diverged "
                             f"-- lower lr (or check the data); no checkpoint or record was written")


def _train_loop(cfg, step, model, optimiser, generator, data, state, batch_size, steps_per_epoch,
                rid, device, progress, stop_after, after_step=None) -> None:
    from tqdm.auto import tqdm

    log_every = max(1, min(50, cfg.iterations // 20))
    count = next(iter(data.values())).shape[0]
    bar = tqdm(total=cfg.iterations, initial=state["iteration"], disable=not progress, desc=rid, leave=False)
    model.train()
    segment_start = bar_start = time.perf_counter()
    bar_first = state["iteration"]
    for it in range(state["iteration"], cfg.iterations):
        position = it % steps_per_epoch
        if position == 0 or state["perm"] is None:
            state["perm"] = torch.randperm(count, generator=generator, device=device)
        index = state["perm"][position * batch_size:(position + 1) * batch_size]
        loss, logs = step(sample_batch(data, index, generator), learning_rate(cfg, it))

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
        if after_step is not None:   # best_on_test: test evaluations, before the checkpoint that keeps them
            after_step(done, model)
        stopping = stop_after is not None and done >= stop_after
        if done % cfg.checkpoint_every == 0 or done == cfg.iterations or stopping:
            now = time.perf_counter()
            state["train_time"] += now - segment_start
            segment_start = now
            _check_finite(float(state["window"][0]), "training loss", done, rid)
            _check_finite(float(sum(p.detach().float().abs().sum() for p in model.parameters())), "model weights", done,
                          rid)
            _atomic_save({"model": model.state_dict(), "optimizer": optimiser.state_dict(),
                          "torch_rng": torch.get_rng_state(), "generator": generator.get_state(),
                          "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                          "state": state, "config": asdict(cfg)}, checkpoint_path(rid))
        if stopping:
            break
    bar.close()


# ------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------

def predict_logits(model, method, images: torch.Tensor, cfg: Config, device: torch.device) -> torch.Tensor:
    """(N, 1, S, S) float32 foreground logits on the CPU, batched, no grad, autocast."""
    model.eval()
    out = []
    channels_last = channels_last_enabled(cfg, device)
    with torch.no_grad():
        for start in range(0, images.shape[0], EVAL_BATCH):
            x = images[start:start + EVAL_BATCH].to(device)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(cfg, device):
                out.append(method.predict(model(x)).float().cpu())
    return torch.cat(out)


def predicted_masks(model, method, dataset, ids: list[str], cfg: Config):
    """Yield ``(id, prediction, truth)`` boolean masks at each image's own resolution: logits at
    ``cfg.image_size`` are upsampled bilinearly and thresholded at sigmoid 0.5 (logit 0)."""
    device = next(model.parameters()).device
    images = build_tensors(dataset, ids, cfg, ("image",))["image"]
    logits = predict_logits(model, method, images, cfg, device)
    for image_id, logit in zip(ids, logits):
        truth = np.asarray(dataset.mask(image_id), dtype=bool)
        full = F.interpolate(logit[None], size=truth.shape, mode="bilinear", align_corners=False)[0, 0]
        yield image_id, (full > 0).numpy(), truth


def evaluate(model, method, dataset, ids: list[str], cfg: Config, keep: int = 0):
    """Per-image ``{"dice", "iou", "hd95"}`` of ``predicted_masks``, and the predicted masks of the
    first ``keep`` ids (run-length encoded) for qualitative figures."""
    scores, kept = {}, {}
    for image_id, prediction, truth in predicted_masks(model, method, dataset, ids, cfg):
        scores[image_id] = metrics.scores(prediction, truth)
        if len(kept) < keep:
            kept[image_id] = results.encode_mask(prediction)
    return scores, kept


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, loaded with ``weights_only=True`` (tensors and plain containers only:
    a crafted pickle cannot run code); RNG states stay on the CPU. A file that is not such a
    checkpoint raises ``ValueError`` naming it."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:   # UnpicklingError (unsafe objects or not a pickle), EOFError, RuntimeError (zip)
        why = ("it holds objects other than tensors and plain containers, or is no torch file; refused, "
               "as loading it could run code" if isinstance(error, pickle.UnpicklingError) else
               f"corrupt: {type(error).__name__}")
        raise ValueError(f"{path} is not a readable gazelib checkpoint ({why}); delete it to retrain") from error
    if not isinstance(saved, dict) or not {"model", "config"} <= set(saved):
        raise ValueError(f"{path} is not a gazelib checkpoint (no model/config); delete it to retrain")
    return saved


def load_checkpoint(path: Path | str, *, method=None, device: str | None = None):
    """``(model, method, cfg)`` from a checkpoint file (``gazelib eval``): the weights the run record
    scored (the last ones, or the chosen ones of a ``best_on_test`` run)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    saved = read_checkpoint(path)
    cfg = config_from_dict(saved["config"])
    if device is not None:
        cfg.device = device
    if method is None:
        from gazelib.methods import get_method
        method = get_method(cfg.method)
    model = _build_model(method, cfg, resolve_device(cfg))
    # a best_on_test run is scored with its chosen checkpoint, which the last checkpoint keeps
    chosen = saved["state"].get("selection", {}).get("best") if cfg.selection == "best_on_test" else None
    model.load_state_dict(chosen["model"] if chosen else saved["model"])
    return model, method, cfg


def evaluate_checkpoint(run: str, *, method=None, dataset=None, device: str | None = None) -> dict:
    """Re-evaluate a run (run id or checkpoint path) on its test ids; return per-image scores + summary."""
    path = Path(run) if run.endswith(".pt") else checkpoint_path(run)
    model, method, cfg = load_checkpoint(path, method=method, device=device)
    method, dataset = _resolve(cfg, method, dataset)
    _, test_ids = select_ids(dataset, cfg)
    scores, _ = evaluate(model, method, dataset, test_ids, cfg)
    return {"run_id": resolve_run_id(cfg, method=method, dataset=dataset), "scores": scores, "summary": results.summarise(scores)}
