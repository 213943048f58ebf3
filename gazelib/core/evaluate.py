"""Scoring a trained network: predictions at each test image's own resolution, per-image Dice, IoU, HD95.

Logits at ``cfg.image_size`` are upsampled bilinearly to the image's size and thresholded at
sigmoid 0.5 (logit 0). ``evaluate_checkpoint`` re-scores a saved run (``gazelib eval``);
``rescore_record`` adds the per-image pixel counts to a record written before records kept them,
from its checkpoint (``gazelib eval --rescore``).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gazelib.core import metrics
from gazelib.core.config import Config, config_from_dict
from gazelib.core.device import autocast, channels_last_enabled, resolve_device
from gazelib.core.methods import get_method
from gazelib.core.networks import build_model
from gazelib.core.targets import build_tensors, ids_hash
from gazelib.runs import records as results
from gazelib.runs.identity import (check_same_config, checkpoint_path, read_checkpoint, resolve, resolve_run_id,
                                   select_ids)

EVAL_BATCH = 32


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
        yield image_id, at_own_resolution(logit, truth.shape), truth


def at_own_resolution(logit: torch.Tensor, shape: tuple[int, int]) -> np.ndarray:
    """The boolean mask of a (1, S, S) logit map at an image's own ``shape``: upsampled bilinearly,
    thresholded at 0 (sigmoid 0.5)."""
    full = F.interpolate(logit[None].float(), size=shape, mode="bilinear", align_corners=False)[0, 0]
    return (full > 0).numpy()


def evaluate(model, method, dataset, ids: list[str], cfg: Config, keep: int = 0):
    """Per-image ``{"dice", "iou", "hd95", "tp", "fp", "fn"}`` of ``predicted_masks``, and the predicted
    masks of the first ``keep`` ids (run-length encoded) for qualitative figures."""
    scores, kept = {}, {}
    for image_id, prediction, truth in predicted_masks(model, method, dataset, ids, cfg):
        scores[image_id] = metrics.scores(prediction, truth)
        if len(kept) < keep:
            kept[image_id] = results.encode_mask(prediction)
    return scores, kept


def pixel_counts(model, method, dataset, ids: list[str], cfg: Config) -> dict[str, dict[str, int]]:
    """Per-image ``{"tp", "fp", "fn"}`` of ``predicted_masks``: the test evaluations during training
    (``selection``), without the distance transforms of HD95."""
    return {image_id: metrics.counts(prediction, truth)
            for image_id, prediction, truth in predicted_masks(model, method, dataset, ids, cfg)}


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
        method = get_method(cfg.method)
    model = build_model(method, cfg, resolve_device(cfg))
    # a best_on_test run is scored with its chosen checkpoint, which the last checkpoint keeps
    chosen = saved["state"].get("selection", {}).get("best") if cfg.selection == "best_on_test" else None
    model.load_state_dict(chosen["model"] if chosen else saved["model"])
    return model, method, cfg


def _score_checkpoint(path: Path, method, dataset, device: str | None):
    """The per-image scores of the checkpoint at ``path`` on its config's test images, with the config,
    method, data set and test ids they came from."""
    model, method, cfg = load_checkpoint(path, method=method, device=device)
    method, dataset = resolve(cfg, method, dataset)
    _, test_ids = select_ids(dataset, cfg)
    scores, _ = evaluate(model, method, dataset, test_ids, cfg)
    return scores, cfg, method, dataset, test_ids


def evaluate_checkpoint(run: str, *, method=None, dataset=None, device: str | None = None) -> dict:
    """Re-evaluate a run (run id or checkpoint path) on its test ids; return per-image scores + summary."""
    path = Path(run) if run.endswith(".pt") else checkpoint_path(run)
    scores, cfg, method, dataset, _ = _score_checkpoint(path, method, dataset, device)
    return {"run_id": resolve_run_id(cfg, method=method, dataset=dataset), "scores": scores, "summary": results.summarise(scores)}


class CannotRescore(LookupError):
    """A record whose pixel counts cannot be filled: no checkpoint of its run is kept."""


def rescore_record(path: Path | str, *, method=None, dataset=None, device: str | None = None) -> bool:
    """Add each test image's pixel counts (``metrics.COUNTS``) to the record at ``path`` from its run's
    checkpoint (``<results>/checkpoints/<run id>/last.pt`` beside the record's ``runs/`` folder); False
    when it has them already. Its run id and scores stay as they are: the checkpoint must be the
    run's final one on the same config and test images, and re-scoring it must give every stored
    Dice, IoU and HD95 again, else ``ValueError`` naming the file. The record is written again with
    its digest (``write_record``). ``CannotRescore`` where no checkpoint is kept."""
    path = Path(path)
    record = results.read_record(path)
    if results.has_counts(record):
        return False
    if path.parent.name != "runs" or path.stem != record.run_id:
        raise ValueError(f"{path}: a record is rescored in place, as <results>/runs/<run id>.json")
    root = path.parent.parent
    checkpoint = root / "checkpoints" / record.run_id / "last.pt"
    if not checkpoint.exists():
        raise CannotRescore(f"{path}: no checkpoint at {checkpoint} (weights are not committed); retrain the run "
                            f"to have pixel counts")
    saved = read_checkpoint(checkpoint)
    check_same_config(saved["config"], config_from_dict(record.config), checkpoint)
    if saved.get("state", {}).get("iteration") != record.iterations:
        raise ValueError(f"{checkpoint} is at iteration {saved.get('state', {}).get('iteration')}, not the "
                         f"{record.iterations} its record {path} scored; not rescored")
    again, cfg, method, dataset, test_ids = _score_checkpoint(checkpoint, method, dataset, device)
    if ids_hash(test_ids) != record.split["test_hash"] or resolve_run_id(cfg, method=method, dataset=dataset) \
            != record.run_id:
        raise ValueError(f"{path}: the data set as it is now is not the one the run was scored on (test images or "
                         f"data fingerprint differ); not rescored")
    differ = [image for image, score in record.scores.items()
              if any(abs(again[image][m] - score[m]) > 1e-9 for m in results.METRICS)]
    if differ:
        first = differ[0]
        raise ValueError(f"{path}: re-scoring its checkpoint does not give its scores back ({len(differ)} of "
                         f"{len(record.scores)} images differ, e.g. {first!r}: stored "
                         f"{record.scores[first]}, now { {m: again[first][m] for m in results.METRICS} }); "
                         f"not rescored")
    scores = {image: {**score, **{name: again[image][name] for name in metrics.COUNTS}}
              for image, score in record.scores.items()}
    results.write_record(replace(record, scores=scores, digest=""), root)
    return True
