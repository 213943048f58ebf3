"""Run records (one JSON per run, written atomically) and the tables built from them.

Every number in a table comes from ``results_root()/runs/<run_id>.json``; nothing is typed by hand.
Tables report Dice and IoU in percent (as the papers do) and HD95 in pixels of each image's own grid,
as mean and sample standard deviation (ddof=1) over seeds; one seed gives an empty std.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gazelib.core import files
from gazelib.core.paths import results_root

METRICS = ("dice", "iou", "hd95")


@dataclass
class RunRecord:
    run_id: str
    method: str
    dataset: str
    seed: int
    config: dict[str, Any]
    split: dict[str, Any]                   # name, train_hash, test_hash, n_train, n_test
    scores: dict[str, dict[str, float]]     # image id -> {"dice", "iou", "hd95"}
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


def write_record(record: RunRecord, root: Path | None = None) -> Path:
    return files.write_text(record_path(record.run_id, root), json.dumps(asdict(record), indent=1) + "\n")


def read_record(path: Path | str) -> RunRecord:
    path = Path(path)
    try:
        return RunRecord(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"{path} is not a valid run record: {error}") from None


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
UNITS = {"dice_mean": "%", "dice_std": "%", "dice_ci_low": "%", "dice_ci_high": "%", "delta": "%", "iou_mean": "%",
         "hd95_mean": "px", "paper_dice": "%"}


def readable(df):
    """A table for reading: numbers with one decimal, p-values as ``stats.format_p``, seed counts whole,
    missing values empty, units in the headers of the columns that have one (``UNITS``: HD95 in pixels,
    Dice and IoU in percent); the Markdown files and the lessons' displayed tables."""
    import pandas as pd

    from gazelib.report.stats import format_p

    out = df.copy()
    for column in out.columns:
        values = out[column]
        if column == "p_value":
            out[column] = values.map(format_p)
        elif column == "seeds":
            out[column] = values.map(lambda v: "" if pd.isna(v) else str(int(v)))
        elif pd.api.types.is_float_dtype(values):
            out[column] = values.map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
        else:
            out[column] = values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return out.rename(columns={c: f"{c} ({UNITS[c]})" for c in out.columns if c in UNITS})


def _markdown(df) -> str:
    shown = readable(df)
    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(df, name: str, root: Path | None = None) -> tuple[Path, Path]:
    """Write ``df`` to ``results_root()/tables/<name>.csv`` and ``.md`` (atomically); return both paths."""
    folder = Path(root or results_root()) / "tables"
    csv, md = folder / f"{name}.csv", folder / f"{name}.md"
    files.write_text(csv, df.to_csv(index=False))
    files.write_text(md, _markdown(df))
    return csv, md
