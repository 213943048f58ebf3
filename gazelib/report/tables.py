"""Result tables as a reader sees them: one decimal, units in the column names, readable p-values;
written as CSV and Markdown side by side."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gazelib.core import files
from gazelib.core.paths import results_root
from gazelib.report.stats import format_p

UNITS = {"dice_mean": "%", "dice_std": "%", "dice_ci_low": "%", "dice_ci_high": "%", "delta": "%", "iou_mean": "%",
         "hd95_mean": "px", "paper_dice": "%", "dice_pooled": "%", "iou_pooled": "%", "median_area": "px",
         **{f"{size}_{kind}_dice": "%" for size in ("small", "large") for kind in ("mean", "pooled")}}


def readable(df):
    """A table for reading: numbers with one decimal, p-values as ``stats.format_p``, seed counts whole,
    missing values empty, units in the headers of the columns that have one (``UNITS``: HD95 in pixels,
    Dice and IoU in percent); the Markdown files and the lessons' displayed tables."""
    import pandas as pd


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
