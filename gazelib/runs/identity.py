"""The identity of a run and the files it leaves: run id, the images it uses, records, checkpoints.

* A run is its config and its data: ``run_id`` is ``method-dataset-<config key>-d<data fingerprint>-s<seed>``
  (``config_key`` hashes the config without ``NOT_IN_HASH``; ``data_fingerprint_of`` the content of the
  images, masks and fixations it selects), so changed data is a new run and never a stale record.
* ``select_ids``: the train and test images of a run, fixed subsets of the split.
* Checkpoints (``checkpoint_path``) are written atomically (``core.files.save_torch``) and read with
  ``weights_only=True`` (``read_checkpoint``): a crafted pickle is refused, and so are non-finite weights.
* A reused record made by other code is reported (``warn_if_other_code``, ``CodeChangedWarning``).
"""
from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch

from gazelib.runs import records as results
from gazelib.core.config import FIELDS, Config
from gazelib.core.methods import get_method
from gazelib.core.targets import uses_gaze
from gazelib.data import datasets
from gazelib.runs.fingerprint import code_fingerprint, data_fingerprint
from gazelib.core.paths import results_root

SUBSET_SEED = 0          # subsets (train_fraction, limits) are fixed per split, not per run seed
# Checkpointing changes nothing, and the device a run used is in its record (so `make figures` on a
# laptop finds the records of GPU runs): neither tells two runs apart. The seed is its own part of the id.
NOT_COMPARED = ("checkpoint_every", "device")
NOT_IN_HASH = ("seed", *NOT_COMPARED)
#: The config keys of the run-id scheme as it was fixed (2026-11): each enters the hash with its value.
#: A key declared since (a new option, a new paper, a plugin) enters it only where it differs from its
#: default, so declaring a key never changes the id, and so the record, of any existing run.
HASHED_ALWAYS = frozenset((
    "method", "dataset", "preset", "split", "train_fraction", "train_limit", "test_limit", "image_size", "backbone",
    "features", "iterations", "batch_size", "lr", "min_lr", "schedule", "momentum", "nesterov", "weight_decay", "amp",
    "channels_last", "compile", "selection", "selection_every", "sigma", "levels", "cons_mode", "cons_weight",
    "lpp_kernel", "lpp_dilation", "beta", "tau", "lambda1", "lambda2", "under_threshold", "truncation", "ta_location",
    "components", "track", "san_variant", "gaze_weight", "aab_hidden", "aab_heads"))


def _comparable(config: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if k not in NOT_COMPARED}


def config_key(cfg: Config) -> str:
    """10 hex digits of the config without seed (and without ``NOT_IN_HASH``; ``HASHED_ALWAYS``)."""
    values = {k: v for k, v in _comparable(cfg.to_dict()).items()
              if k not in NOT_IN_HASH and (k in HASHED_ALWAYS or v != _comparable({k: FIELDS[k].default})[k])}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:10]


def run_id(cfg: Config, data: str) -> str:
    """``method-dataset-<config key>-d<data fingerprint>-s<seed>``.

    A run is its config and its data (``data_fingerprint``): a changed image, mask or fixation gives a
    new run. The code is not part of the id (records stay findable across edits); the record keeps
    ``code_fingerprint()`` and a reused record made by other code is reported (``train``)."""
    return _run_id(cfg, f"d{data[:8]}")


def _run_id(cfg: Config, data: str) -> str:
    """The run id with ``data`` in the place of the data fingerprint (``*`` to glob for any)."""
    return f"{cfg.method}-{cfg.dataset}-{config_key(cfg)}-{data}-s{cfg.seed}"


def resolve(cfg: Config, method, dataset):
    """``(method, dataset)`` of ``cfg``: the registered method and the loaded data set unless objects are given."""
    if method is None:
        method = get_method(cfg.method)
    elif method.name != cfg.method:
        raise ValueError(f"method object {method.name!r} does not match cfg.method={cfg.method!r}")
    if dataset is None:
        dataset = datasets.load_dataset(cfg.dataset)
    elif dataset.name != cfg.dataset:
        raise ValueError(f"dataset object {dataset.name!r} does not match cfg.dataset={cfg.dataset!r}")
    return method, dataset


def data_fingerprint_of(cfg: Config, method, dataset) -> str:
    """Content fingerprint of the train and test data ``cfg`` selects (with fixations where the method uses gaze)."""
    train_ids, test_ids = select_ids(dataset, cfg)
    gaze = uses_gaze(method.targets)
    parts = data_fingerprint(dataset, train_ids, gaze) + data_fingerprint(dataset, test_ids, gaze=False)
    return hashlib.sha256(parts.encode()).hexdigest()[:16]


def resolve_run_id(cfg: Config, *, method=None, dataset=None) -> str:
    """``run_id`` of ``cfg`` on the data as it is now (loads the data set unless given)."""
    method, dataset = resolve(cfg, method, dataset)
    return run_id(cfg, data_fingerprint_of(cfg, method, dataset))


def find_record(cfg: Config) -> Path:
    """The record of ``cfg`` without reading the data (``gazelib figures`` where the data is absent):
    the newest record whose id matches the config and seed, whatever data it was trained on; a path
    that does not exist when there is none."""
    runs = results.runs_dir()
    found = sorted(runs.glob(f"{_run_id(cfg, 'd*')}.json"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else results.record_path(_run_id(cfg, "d-none"))


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
    pool = len(train) if cfg.train_limit is None else min(len(train), cfg.train_limit)
    count = max(1, round(cfg.train_fraction * pool))
    test_count = len(test) if cfg.test_limit is None else min(len(test), cfg.test_limit)
    return _subset(train, count), _subset(test, test_count)


def check_same_config(saved: dict, cfg: Config, where: Path) -> None:
    """``saved`` (a record's or checkpoint's config) is ``cfg``; a key declared after it was written
    (not in ``HASHED_ALWAYS``) and absent from it had its default then, as its run id says."""
    later = {k: f.default for k, f in FIELDS.items() if k not in HASHED_ALWAYS and k not in saved}
    saved, wanted = _comparable({**later, **saved}), _comparable(cfg.to_dict())
    diff = {k: (saved.get(k), wanted.get(k)) for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k)}
    if diff:
        raise ValueError(f"{where} was made with a different config (saved vs requested: {diff}); "
                         f"delete it or change the run")


def checkpoint_path(rid: str) -> Path:
    return results_root() / "checkpoints" / rid / "last.pt"


def non_finite(weights: dict) -> list[str]:
    """The names of the floating-point tensors of a state dict that hold a NaN or an infinity."""
    return [name for name, value in weights.items()
            if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all()]


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, loaded with ``weights_only=True`` (tensors and plain containers only:
    a crafted pickle cannot run code); RNG states stay on the CPU. A file that is not such a
    checkpoint, or whose model weights (the last or the chosen ones) are not finite, raises
    ``ValueError`` naming it: such weights are never scored."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:   # UnpicklingError (unsafe objects or not a pickle), EOFError, RuntimeError (zip)
        why = ("it holds objects other than tensors and plain containers, or is no torch file; refused, "
               "as loading it could run code" if isinstance(error, pickle.UnpicklingError) else
               f"corrupt: {type(error).__name__}")
        raise ValueError(f"{path} is not a readable gazelib checkpoint ({why}); delete it to retrain") from error
    if not isinstance(saved, dict) or not {"model", "config"} <= set(saved):
        raise ValueError(f"{path} is not a gazelib checkpoint (no model/config); delete it to retrain")
    best = (saved.get("state") or {}).get("selection", {}).get("best") or {}
    bad = non_finite(saved["model"]) + [f"chosen {name}" for name in non_finite(best.get("model", {}))]
    if bad:
        raise ValueError(f"{path} holds non-finite weights (NaN or inf: {', '.join(bad[:3])}"
                         f"{' ...' if len(bad) > 3 else ''}); the run diverged or the file was changed, and it "
                         f"is not scored: delete it to retrain")
    return saved


def warn_if_other_code(record, path: Path) -> None:
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
