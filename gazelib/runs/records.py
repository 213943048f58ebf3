"""Run records (one JSON per run, written atomically) and the tables built from them.

Every number in a table comes from ``results_root()/runs/<run_id>.json``; nothing is typed by hand.
Tables report Dice and IoU in percent (as the papers do) and HD95 in pixels of each image's own grid,
as mean and sample standard deviation (ddof=1) over seeds; one seed gives an empty std.

A record is trusted only as written. ``read_record``, the one place records are read, checks every
read: the fields and their types (``check_record``); finite per-image scores in range, one per test
image, with pixel counts (``metrics.COUNTS``: tp, fp, fn) that give its Dice and IoU where it has them
(records written before counts were kept have none; ``gazelib eval --rescore`` adds them); a summary equal to the one its scores give (``summarise``); and ``digest``, the sha256 of its
content (``record_digest``: every field but the digest, as canonical JSON), written by
``write_record``. A record that fails is a ``RecordError`` naming the file and the problem, so it
never enters a table. The digest shows an edit made by hand or by a tool that does not know about it;
it is no signature (anyone can compute it), and records stay plain, diffable JSON.
``gazelib records check`` lists the state of every record of a folder; ``gazelib records migrate``
adds the digest to records written before records carried one (never replacing one).
"""
from __future__ import annotations

import hashlib
import json
import math
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from gazelib.core import files
from gazelib.core.metrics import COUNTS, dice_of_counts, iou_of_counts
from gazelib.core.paths import results_root

METRICS = ("dice", "iou", "hd95")
#: The range of each per-image score: Dice and IoU are fractions, HD95 a distance in pixels.
SCORE_RANGES = {"dice": (0.0, 1.0), "iou": (0.0, 1.0), "hd95": (0.0, math.inf)}
SPLIT_FIELDS = {"name": str, "train_hash": str, "test_hash": str, "n_train": int, "n_test": int}
#: Top-level fields a record repeats from its config.
FROM_CONFIG = ("method", "dataset", "seed", "iterations")


@dataclass
class RunRecord:
    run_id: str
    method: str
    dataset: str
    seed: int
    config: dict[str, Any]
    split: dict[str, Any]                   # name, train_hash, test_hash, n_train, n_test
    scores: dict[str, dict[str, float]]     # image id -> {"dice", "iou", "hd95"[, "tp", "fp", "fn"]}
    summary: dict[str, float]               # dice_mean, dice_std, ... over the test images
    device: str
    torch: str
    git: dict[str, Any]                     # revision, dirty
    iterations: int
    final_loss: float
    wall_time_s: float                      # training (all resumed segments) + evaluation
    train_images_per_s: float
    eval_images_per_s: float
    started: str
    finished: str
    loss_history: list[list[float]] = field(default_factory=list)   # [iteration, loss]
    qualitative: dict[str, dict] = field(default_factory=dict)      # image id -> run-length predicted mask
    precision: dict[str, Any] = field(default_factory=dict)         # device.precision: autocast, channels_last, compile
    data_fingerprint: str = ""                                       # fingerprint.data_fingerprint of train + test data
    code: dict[str, str] = field(default_factory=dict)              # fingerprint.code_fingerprint: source -> digest
    selection: dict[str, Any] = field(default_factory=dict)         # which checkpoint was scored (train.selection_info)
    digest: str = ""                                                 # record_digest of all the fields above


def encode_mask(mask: np.ndarray) -> dict:
    """Run-length code of a boolean mask (row-major, runs alternate starting with False)."""
    flat = np.asarray(mask, dtype=bool).ravel()
    changes = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"shape": list(mask.shape), "counts": counts}


def decode_mask(code: dict) -> np.ndarray:
    """Inverse of ``encode_mask``."""
    values = np.arange(len(code["counts"])) % 2 == 1
    return np.repeat(values, code["counts"]).reshape(code["shape"])


def qualitative_masks(path: Path | str) -> dict[str, np.ndarray]:
    """The predicted masks a run record keeps for qualitative figures, by image id."""
    return {image_id: decode_mask(code) for image_id, code in read_record(path).qualitative.items()}


def summarise(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean and std (ddof=0) over images of every metric (fractions; HD95 in pixels)."""
    out = {}
    for metric in METRICS:
        values = np.array([s[metric] for s in scores.values()], dtype=float)
        out[f"{metric}_mean"] = float(values.mean())
        out[f"{metric}_std"] = float(values.std())
    return out


def runs_dir(root: Path | None = None) -> Path:
    return Path(root or results_root()) / "runs"


def record_path(run_id: str, root: Path | None = None) -> Path:
    return runs_dir(root) / f"{run_id}.json"


class RecordError(ValueError):
    """A run record that cannot be trusted: not JSON, malformed, inconsistent, or changed since written."""


def record_digest(record: RunRecord) -> str:
    """sha256 of every field of ``record`` but ``digest``, as canonical JSON (sorted keys, no spaces;
    tuples as lists, floats as ``repr``, so a record read back gives the digest it was written with)."""
    content = {k: v for k, v in asdict(record).items() if k != "digest"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _is(value, kind) -> bool:
    if isinstance(value, bool):   # JSON true/false are no numbers
        return kind is bool
    return isinstance(value, (int, float)) if kind is float else isinstance(value, kind)


def _number(value) -> bool:
    return _is(value, float) and math.isfinite(value)


_KINDS = {name: typing.get_origin(hint) or hint for name, hint in typing.get_type_hints(RunRecord).items()}
_REQUIRED = {f.name for f in fields(RunRecord) if f.default is MISSING and f.default_factory is MISSING}


def _problems(data: dict) -> typing.Iterator[str]:
    """What is wrong with the record ``data`` (a parsed JSON object), first problem first."""
    missing, unknown = sorted(_REQUIRED - set(data)), sorted(set(data) - set(_KINDS))
    if missing or unknown:
        yield (f"missing field(s) {missing}" if missing else "") + ("; " if missing and unknown else "") + \
              (f"unknown field(s) {unknown}" if unknown else "")
        return
    for name, value in data.items():
        if not _is(value, _KINDS[name]):
            yield f"{name} must be {_KINDS[name].__name__}, got {type(value).__name__} {value!r:.40}"
            return
    split, scores = data["split"], data["scores"]
    for name, kind in SPLIT_FIELDS.items():
        if not _is(split.get(name), kind):
            yield f"split.{name} must be {kind.__name__}, got {split.get(name)!r:.40}"
            return
    for key in FROM_CONFIG:
        if data["config"].get(key) != data[key]:
            yield f"{key} is {data[key]!r} but config.{key} is {data['config'].get(key)!r}"
    if not (data["run_id"].startswith(f"{data['method']}-{data['dataset']}-") and data["run_id"].endswith(
            f"-s{data['seed']}")):
        yield f"run_id {data['run_id']!r} is not of method {data['method']!r}, data set {data['dataset']!r}, " \
              f"seed {data['seed']}"
    for name in ("final_loss", "wall_time_s", "train_images_per_s", "eval_images_per_s"):
        if not math.isfinite(data[name]):
            yield f"{name} is {data[name]}, not a finite number"
    if not all(isinstance(p, list) and len(p) == 2 and all(map(_number, p)) for p in data.get("loss_history", [])):
        yield "loss_history must be [iteration, finite loss] pairs"
    if not scores or len(scores) != split["n_test"]:
        yield f"{len(scores)} per-image scores for split.n_test = {split['n_test']} test images"
    for image, score in scores.items():
        if not isinstance(score, dict) or set(score) not in (set(METRICS), {*METRICS, *COUNTS}):
            yield f"scores[{image!r}] must hold exactly {', '.join(METRICS)}, or these and {', '.join(COUNTS)}, " \
                  f"got {score!r:.60}"
            return
        for metric, (low, high) in SCORE_RANGES.items():
            if not (_number(score[metric]) and low <= score[metric] <= high):
                yield f"scores[{image!r}].{metric} is {score[metric]!r}, not a finite number in [{low}, {high}]"
                return
        problem = _counts_problem(score) if COUNTS[0] in score else None
        if problem:
            yield f"scores[{image!r}]: {problem}"
            return
    if len({COUNTS[0] in score for score in scores.values()}) > 1:
        yield "some per-image scores have pixel counts and some have none (a record keeps them for every image or none)"
    expected = summarise(scores)
    for key in sorted(set(expected) | set(data["summary"])):
        stored = data["summary"].get(key)
        if not (_is(stored, float) and stored == expected.get(key)):
            yield f"summary.{key} is {stored!r} but its per-image scores give {expected.get(key)!r}"
            return
    for image, code in data.get("qualitative", {}).items():
        shape, counts = (code.get("shape"), code.get("counts")) if isinstance(code, dict) else (None, None)
        if not (isinstance(shape, list) and isinstance(counts, list)
                and all(_is(n, int) and n >= 0 for n in shape + counts) and sum(counts) == math.prod(shape)):
            yield f"qualitative[{image!r}] is no run-length mask (shape, counts adding up to its pixels)"
            return
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.get("code", {}).items()):
        yield "code must map source files to digests (strings)"


def _counts_problem(score: dict) -> str | None:
    """Why the pixel counts of a per-image score are unsound (not counts, or not giving its Dice and IoU)."""
    if not all(_is(score[name], int) and score[name] >= 0 for name in COUNTS):
        return f"pixel counts {', '.join(COUNTS)} must be non-negative integers, got " \
               f"{[score[name] for name in COUNTS]}"
    tp, fp, fn = (score[name] for name in COUNTS)
    for metric, of_counts in (("dice", dice_of_counts), ("iou", iou_of_counts)):
        if not math.isclose(score[metric], of_counts(tp, fp, fn), rel_tol=1e-9, abs_tol=1e-12):
            return f"{metric} {score[metric]!r} is not the {of_counts(tp, fp, fn)!r} its counts give " \
                   f"(tp {tp}, fp {fp}, fn {fn})"
    return None


def has_counts(record: RunRecord) -> bool:
    """Whether the record keeps each test image's pixel counts (records written before they were kept do not)."""
    return all(COUNTS[0] in score for score in record.scores.values())


def check_record(data: dict) -> RunRecord:
    """The ``RunRecord`` of ``data`` (a parsed record) if its fields, types, scores and summary are
    sound (module docstring; the digest is ``read_record``'s check); else ``RecordError`` with the first problem."""
    if not isinstance(data, dict):
        raise RecordError(f"a run record is a JSON object, not {type(data).__name__}")
    for problem in _problems(data):
        raise RecordError(problem)
    return RunRecord(**data)


def _parse(path: Path) -> tuple[dict, RunRecord]:
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RecordError(f"{path} is not a run record: not valid JSON ({error})") from None
    try:
        return data, check_record(data)
    except RecordError as error:
        raise RecordError(f"{path} is not a sound run record: {error}; delete it to train the run again "
                          f"(or restore it, e.g. from git)") from None


def read_record(path: Path | str) -> RunRecord:
    """The record at ``path``, checked (module docstring): a ``RecordError`` naming the file if it is
    malformed, inconsistent, or its content does not match its digest."""
    path = Path(path)
    _, record = _parse(path)
    if not record.digest:
        raise RecordError(f"{path} has no content digest (written before records carried one): "
                          f"`gazelib records migrate {path.parent}` adds it")
    if record.digest != record_digest(record):
        raise RecordError(f"{path} was changed after it was written (its content does not match its digest); "
                          f"delete it to train the run again (or restore it, e.g. from git)")
    return record


def write_record(record: RunRecord, root: Path | None = None) -> Path:
    """Check ``record`` (``check_record``), add its digest and write it, atomically; its path."""
    try:
        check_record(json.loads(json.dumps(asdict(record))))   # as it will be read back (tuples -> lists)
    except RecordError as error:
        raise RecordError(f"run {record.run_id}: refusing to write its record: {error}") from None
    signed = RunRecord(**{**asdict(record), "digest": ""})
    signed.digest = record_digest(signed)
    return files.write_text(record_path(record.run_id, root), json.dumps(asdict(signed), indent=1) + "\n")


def migrate_record(path: Path | str) -> bool:
    """Add the digest to a record written before records carried one (the file otherwise unchanged);
    False for a record that has one already (never replaced: that would hide an edit). A record that
    is not sound is a ``RecordError`` and stays as it is."""
    path = Path(path)
    data, record = _parse(path)
    if "digest" in data:
        return False
    data["digest"] = record_digest(record)
    files.write_text(path, json.dumps(data, indent=1) + "\n")
    return True


def record_files(paths) -> list[Path]:
    """The run records among ``paths``: files as given; of a folder, its own ``*.json`` files and those
    of every ``runs`` folder below it (``results/`` holds ``runs/``, ``laptop_1600/runs/``, ...)."""
    found = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.json") if p.parent == path or p.parent.name == "runs")
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such run record or folder")
    return found


def load_records(root: Path | None = None, **filters):
    """One row per run: summary metrics (fractions), config fields, split, device, timings, record path;
    ``summary.summarize(rows, group=...)`` aggregates them over seeds.

    ``filters`` select rows by column value, e.g. ``load_records(method="full", backbone="nnunet")``;
    an unknown column is an error.
    """
    import pandas as pd

    rows = []
    for path in sorted(runs_dir(root).glob("*.json")):
        rec = read_record(path)
        row = {k: tuple(v) if isinstance(v, list) else v for k, v in rec.config.items()}
        row.update(run_id=rec.run_id, method=rec.method, dataset=rec.dataset, seed=rec.seed,
                   split_name=rec.split["name"], n_test=rec.split["n_test"], device=rec.device, record=str(path),
                   git_revision=rec.git.get("revision"), wall_time_s=rec.wall_time_s,
                   train_images_per_s=rec.train_images_per_s, eval_images_per_s=rec.eval_images_per_s)
        row.update({m: rec.summary[f"{m}_mean"] for m in METRICS})
        rows.append(row)
    df = pd.DataFrame(rows)
    for key, value in filters.items():
        if key not in df.columns:
            raise ValueError(f"unknown filter {key!r}; columns: {', '.join(df.columns)}" if len(df)
                             else f"no run records under {runs_dir(root)}")
        df = df[df[key] == value]
    return df.reset_index(drop=True)


#: Units of the summary columns (``summary.summarize``), shown in readable table headers.
