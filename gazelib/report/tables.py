"""Result tables as a reader sees them: one decimal, plain column names with their units, readable
p-values; written as CSV (machine names) and Markdown (the names a reader sees) side by side."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gazelib.core import files
from gazelib.core.paths import results_root
from gazelib.report.stats import format_p

# The headers a reader sees for the columns ``summary.summarize`` writes (the CSV files keep the
# machine names); the two ends of the bootstrap interval become one column, ``[low, high]`` (a
# no-break space after the comma).
HEADERS = {"label": "setting", "dice_mean": "Dice (%)", "dice_std": "std over seeds (%)", "iou_mean": "IoU (%)",
           "hd95_mean": "HD95 (px)", "vs": "compared with", "delta": "Δ Dice (points)", "p_value": "p",
           "paper_dice": "paper Dice (%)", "ratio": "training fraction",
           # the pixel-count conventions (``metrics.conventions``: target ceilings, the gap ledger)
           "dice_pooled": "pooled Dice (%)", "iou_pooled": "pooled IoU (%)", "median_area": "median area (px)",
           **{f"{size}_{kind}_dice": f"{size} polyps: {kind} Dice (%)" for size in ("small", "large")
              for kind in ("mean", "pooled")},
           **{f"{size}_images": f"{size} polyps: images" for size in ("small", "large")}}
RUN_HEADERS = {"label": "setting", "seed": "seed", "run_id": "run id", "dice": "Dice (%)", "iou": "IoU (%)",
               "hd95": "HD95 (px)", "device": "device"}
INTERVAL = ("dice_ci_low", "dice_ci_high", "95% CI of Dice (%)")


def readable_frame(df):
    """A table for reading: numbers with one decimal, p-values as ``stats.format_p``, seed counts whole,
    missing values empty, the interval as ``[low, high]``, a ``label`` that repeats ``method`` left
    out, and the headers of ``HEADERS`` (units in them: HD95 in pixels, Dice and IoU in percent);
    what the Markdown files hold."""
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
    if {"label", "method"} <= set(out.columns) and out.label.equals(out.method):
        out = out.drop(columns="label")   # Table 1's rows: the setting is the method's name
    low, high, name = INTERVAL
    if {low, high} <= set(out.columns):
        interval = [f"[{a},\u00a0{b}]" if a and b else "" for a, b in zip(out[low], out[high])]   # one line in a narrow cell
        out.insert(out.columns.get_loc(low), name, interval)
        out = out.drop(columns=[low, high])
    return out.rename(columns=HEADERS)


def readable(df):
    """``readable_frame`` as a lesson displays it: without the index, which numbers rows and says nothing."""
    return readable_frame(df).style.hide(axis="index").set_table_attributes('class="dataframe"')


def readable_runs(runs):
    """The rows of ``experiments.run_grid`` (one per run) as a lesson displays them: setting, seed,
    run id and its scores (Dice and IoU in percent, HD95 in pixels), without the index."""
    shown = runs[list(RUN_HEADERS)].assign(dice=runs.dice * 100, iou=runs.iou * 100)
    return readable_frame(shown.rename(columns=RUN_HEADERS)).style.hide(axis="index").set_table_attributes(
        'class="dataframe"')


def markdown_table(df) -> str:
    """``df`` as ``readable_frame`` shows it, in Markdown (no index)."""
    shown = readable_frame(df)
    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(df, name: str, root: Path | None = None, markdown: str | None = None) -> tuple[Path, Path]:
    """Write ``df`` to ``results_root()/tables/<name>.csv`` and ``.md`` (atomically); return both paths.
    ``markdown``: the text of the ``.md`` where a table is read in another layout (default ``markdown_table``)."""
    folder = Path(root or results_root()) / "tables"
    csv, md = folder / f"{name}.csv", folder / f"{name}.md"
    files.write_text(csv, df.to_csv(index=False))
    files.write_text(md, markdown_table(df) if markdown is None else markdown)
    return csv, md
