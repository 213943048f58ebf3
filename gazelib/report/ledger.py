"""The gap ledger: where each Table 1 row's distance to its paper comes from, generated from records.

Per row: the paper's value; the measured one (final checkpoint, mean per-image Dice, what every
table reports, with its 95 % bootstrap interval); the same runs scored by pooling pixels over the
test images (``metrics.pooled_dice``, from the records' pixel counts); the best of the test
evaluations made during training (``selection``: OPTIMISTIC, the test set chooses the checkpoint, as
the GazeMedSeg authors' protocol does); the target ceiling (the best Dice any of the row's training
targets scores itself on the test images at the profile's size: ``papers.target_ceilings``); and the
``paper``-profile value where a record exists. A value the records cannot give is ``NaN`` and its
reason is said (never filled in), and each row gets a reading written from its numbers.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from gazelib.core.metrics import pooled_dice
from gazelib.report.tables import write_table
from gazelib.runs.records import has_counts, read_record

COLUMNS = ["row", "paper", "measured", "ci_low", "ci_high", "seeds", "pooled", "best_on_test_OPTIMISTIC",
           "best_iteration", "ceiling", "ceiling_target", "paper_scale", "paper_scale_seeds", "missing", "reading"]


#: The ledger's columns as a reader sees them in its Markdown (the CSV keeps the names above).
HEADERS = {"paper": "paper (%)", "measured": "measured (%)", "ci_low": "CI low (%)", "ci_high": "CI high (%)",
           "pooled": "pooled (%)", "best_on_test_OPTIMISTIC": "best on test, OPTIMISTIC (%)",
           "best_iteration": "best at iteration", "ceiling": "target ceiling (%)", "ceiling_target": "ceiling's target",
           "paper_scale": "paper scale (%)", "paper_scale_seeds": "paper-scale seeds"}

NO_COUNTS = "pooled: records without pixel counts"
NO_TRAJECTORY = "best-on-test: no test evaluations during training"
#: What each missing part means and how to fill it (said once, under the table).
WHY = {NO_COUNTS: "records written before per-image pixel counts were kept: `gazelib eval --rescore` fills them "
                  "where the run's checkpoint is kept, else retrain",
       NO_TRAJECTORY: "runs trained with test_every=0 (and selection=final) kept no test-Dice trajectory: retrain "
                      "with the profile's Table 1 grid (`table1_grid`)"}


def best_on_test(record) -> tuple[float, int] | None:
    """``(mean per-image Dice, iteration)`` of the best test evaluation a run made during training
    (``selection`` ``test_dice_history``; the first best), or None where it made none."""
    history = record.selection.get("test_dice_history") or []
    if not history:
        return None
    best = max(history, key=lambda point: (point[1], -point[0]))
    return float(best[1]), int(best[0])


def _mean(values: list[float | None]) -> float:
    """The mean over seeds; NaN unless every seed has a value (a mean of some seeds is another number)."""
    return float(np.mean(values)) if values and all(v is not None for v in values) else math.nan


def row_values(records: list) -> dict:
    """Pooled Dice and best-on-test (percent, means over the seeds' records), and why one is missing."""
    pooled = [100 * pooled_dice(r.scores) if has_counts(r) else None for r in records]
    best = [best_on_test(r) for r in records]
    missing = []
    if None in pooled:
        missing.append(NO_COUNTS)
    if None in best:
        missing.append(NO_TRAJECTORY)
    return {"pooled": _mean(pooled), "best_on_test_OPTIMISTIC": _mean([100 * b[0] if b else None for b in best]),
            "best_iteration": ", ".join(str(b[1]) for b in best) if None not in best else "",
            "missing": "; ".join(missing)}


def reading(row: dict, profile: str) -> str:
    """One paragraph on a ledger row, written from its numbers (NaN parts are said to be missing)."""
    def f(x):
        return f"{x:.1f}"

    parts = [f"{row['row']}: the paper reports {f(row['paper'])}; measured under `{profile}`, final checkpoint, "
             f"mean per-image Dice: {f(row['measured'])} (95 % CI {f(row['ci_low'])}-{f(row['ci_high'])}, "
             f"{row['seeds']} seed(s)), {row['measured'] - row['paper']:+.1f} from the paper."]
    if not math.isnan(row["pooled"]):
        parts.append(f"Pooling the pixels of all test images gives {f(row['pooled'])} "
                     f"({row['pooled'] - row['measured']:+.1f}): the convention alone moves it that much.")
    if not math.isnan(row["best_on_test_OPTIMISTIC"]):
        parts.append(f"Keeping the best test evaluation made during training (OPTIMISTIC: the test set picks the "
                     f"checkpoint) gives {f(row['best_on_test_OPTIMISTIC'])} "
                     f"({row['best_on_test_OPTIMISTIC'] - row['measured']:+.1f}).")
    if not math.isnan(row["ceiling"]):
        def side(value):
            return f"{abs(value - row['ceiling']):.1f} {'above' if value > row['ceiling'] else 'below'}"

        parts.append(f"Its training target ({row['ceiling_target']}) itself scores {f(row['ceiling'])} on the test "
                     f"images: the paper's value is {side(row['paper'])} that ceiling, ours {side(row['measured'])}.")
    if not math.isnan(row["paper_scale"]):
        parts.append(f"At `paper` scale: {f(row['paper_scale'])} ({row['paper_scale_seeds']} seed(s), "
                     f"{row['paper_scale'] - row['paper']:+.1f} from the paper).")
    if row["missing"]:
        parts.append(f"Missing: {row['missing']}.")
    return " ".join(parts)


def ceiling_of(ceilings: pd.DataFrame | None, method: str, size: int) -> tuple[float, str]:
    """The best mean per-image Dice (percent) of ``method``'s target masks on the test images at ``size``."""
    if ceilings is None:
        return math.nan, ""
    mine = ceilings[(ceilings.method == method) & (ceilings.split == "test") & (ceilings["size"] == size)]
    if mine.empty:
        return math.nan, ""
    best = mine.loc[mine.dice_mean.idxmax()]
    return float(best.dice_mean), str(best.target)


def gap_ledger(runs: pd.DataFrame, measured: pd.DataFrame, paper: pd.Series, profile: str, size: int,
               ceilings: pd.DataFrame | None = None, paper_scale: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ledger (module docstring) of the rows of ``measured`` (``summary.summarize`` of ``runs``, a
    ``run_grid`` table) that the paper quotes (``paper``: Dice by label). ``ceilings`` is a
    ``target_ceilings`` table in percent; ``paper_scale`` a ``run_grid`` table of the ``paper`` profile."""
    rows = []
    for _, m in measured.iterrows():
        if m.label not in paper.index:
            continue
        mine = runs[runs.label == m.label]
        records = [read_record(path) for path in mine.record]
        scale = paper_scale[paper_scale.label == m.label] if paper_scale is not None and len(paper_scale) \
            else pd.DataFrame()
        ceiling, target = ceiling_of(ceilings, mine.method.iloc[0], size)
        row = {"row": m.label, "paper": float(paper[m.label]), "measured": float(m.dice_mean),
               "ci_low": float(m.dice_ci_low), "ci_high": float(m.dice_ci_high), "seeds": int(m.seeds),
               **row_values(records), "ceiling": ceiling, "ceiling_target": target,
               "paper_scale": 100 * float(scale.dice.mean()) if len(scale) else math.nan,
               "paper_scale_seeds": len(scale)}
        if len(scale):   # what the paper-scale records lack, said beside the row's own
            lacking = row_values([read_record(path) for path in scale.record])["missing"]
            row["missing"] = "; ".join(filter(None, [row["missing"], lacking and f"at paper scale too ({lacking})"]))
        row["reading"] = reading(row, profile)
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def ledger_markdown(table: pd.DataFrame, title: str) -> str:
    """The ledger for reading: numbers with one decimal, "—" where the records cannot give a value,
    then each row's reading."""
    shown = table.drop(columns=["reading"]).copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "—" if pd.isna(v) else f"{v:.1f}")
    shown = shown.astype(str).replace("", "—").rename(columns=HEADERS)
    lines = [f"# {title}", "", "| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)]
    lines += ["", "Dice in percent. Measured: final checkpoint, mean per-image Dice, mean over seeds (CI: 95 % "
              "bootstrap over test images). Pooled: the same runs, pixels pooled over the test images. "
              "Best on test (OPTIMISTIC): the best test evaluation during training (the test set picks the "
              "checkpoint). Target ceiling: the best of the row's training targets scored itself on the test "
              "images (`target_ceilings`). Paper scale: the `paper` profile's records, where they exist.", ""]
    lines += [f"Missing {what.split(':')[0]} ({what.split(': ')[1]}): {why}." for what, why in WHY.items()
              if table.missing.str.contains(what, regex=False).any()] + [""]
    lines += [f"* {text}" for text in table.reading]
    return "\n".join(lines) + "\n"


def write_gap_ledger(table: pd.DataFrame, dataset: str, profile: str) -> tuple[Path, Path]:
    """``results/tables/gap_ledger_<dataset>_<profile>.csv`` (numbers, empty where missing) and ``.md``."""
    return write_table(table, f"gap_ledger_{dataset}_{profile}",
                       markdown=ledger_markdown(table, f"Gap ledger: GradTrack's Table 1 on {dataset}, `{profile}`"))
