"""THE aggregator behind every results table, and the verdicts on the papers' claims.

``summarize(runs, ...)`` turns the rows of ``experiments.run_grid`` (one per run, with its record
path) into one row per table row (``group`` column, default ``label``):

* ``dice_mean`` / ``dice_std``: mean and sample std (ddof = 1) over seeds of the run's mean Dice, in
  percent (the papers' mean ± std over three seeds; one seed gives an empty std); ``iou_mean``,
  ``hd95_mean`` likewise (HD95 in pixels);
* ``dice_ci_low`` / ``dice_ci_high``: 95 % bootstrap interval over test images of the mean Dice,
  each image's Dice averaged over the seeds first (``gazelib.report.stats``);
* with ``compare={row: reference row}``: ``vs`` (the reference), ``delta`` (row minus reference,
  percent points) and ``p_value``, the paired Wilcoxon signed-rank test on the seed-averaged per-image
  Dice of the two rows (same test images); a pair whose rows are not both in ``runs`` is left empty
  (a lesson that runs part of Table 1 gets the comparisons among its own rows);
* with ``paper`` (a Series row -> quoted Dice): ``paper_dice`` beside ours;
* ``selection``: how the evaluated checkpoint was chosen; a ``best_on_test`` row (the GazeMedSeg
  authors' protocol, optimistic) gets its label marked so no reader takes it for a final-model score.

``claim_verdicts(runs, claims)`` tests each claim of a paper (row A beats row B) on the same
per-image scores and says, from the numbers, whether the measurements support it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from gazelib.report import stats
from gazelib.runs.records import read_record

OPTIMISTIC = " [best on test: optimistic]"


def per_image(runs: pd.DataFrame, group: str = "label", metric: str = "dice") -> dict[str, pd.Series]:
    """Seed-averaged per-image ``metric`` of every row, read from the run records (``runs.record``)."""
    out = {}
    for row, members in runs.groupby(group, sort=False):
        duplicated = members.seed[members.seed.duplicated()].tolist()
        if duplicated:
            raise ValueError(f"row {row!r} has several runs with seed(s) {duplicated}: {members.run_id.tolist()}")
        per_seed = {}
        for seed, path in zip(members.seed, members.record):
            per_seed[int(seed)] = {image: s[metric] for image, s in read_record(path).scores.items()}
        out[row] = stats.seed_averaged(per_seed, where=f"{row!r}")
    return out


def summarize(runs: pd.DataFrame, compare: dict[str, str] | None = None, paper: pd.Series | None = None,
              group: str = "label") -> pd.DataFrame:
    """One row per ``group`` value, in the order of ``runs`` (module docstring for the columns)."""
    if runs.empty:
        return pd.DataFrame(columns=[group, "seeds", "dice_mean", "dice_std", "dice_ci_low", "dice_ci_high"])
    scores = per_image(runs, group)
    percent = runs.assign(dice=runs.dice * 100, iou=runs.iou * 100)
    table = (percent.groupby(group, sort=False)
             .agg(seeds=("seed", "nunique"), dice_mean=("dice", "mean"), dice_std=("dice", "std"),
                  iou_mean=("iou", "mean"), hd95_mean=("hd95", "mean"),
                  device=("device", lambda d: ", ".join(sorted(set(d)))))
             .reset_index())
    intervals = [stats.bootstrap_ci(scores[row].to_numpy()) for row in table[group]]
    table["dice_ci_low"] = [100 * low for low, _ in intervals]
    table["dice_ci_high"] = [100 * high for _, high in intervals]
    if compare:
        tests = {row: stats.paired_test(scores[row], scores[ref]) for row, ref in compare.items()
                 if row in scores and ref in scores}
        table["vs"] = table[group].map(lambda row: compare.get(row, "") if row in tests else "")
        table["delta"] = table[group].map(lambda row: 100 * tests[row].mean_difference if row in tests else np.nan)
        table["p_value"] = table[group].map(lambda row: tests[row].p_value if row in tests else np.nan)
    if paper is not None:
        table["paper_dice"] = table[group].map(paper)
    if "selection" in runs.columns:
        optimistic = set(runs[runs.selection == "best_on_test"][group])
        table[group] = [f"{row}{OPTIMISTIC}" if row in optimistic else row for row in table[group]]
    return table


def markers(table: pd.DataFrame, group: str = "label") -> dict[str, str]:
    """Figure markers of the compared rows (``stats.significance`` of their p-value), by row label."""
    if "p_value" not in table.columns:
        return {}
    return {row: stats.significance(p) for row, p in zip(table[group], table.p_value) if not np.isnan(p)}


@dataclass(frozen=True)
class Claim:
    better: str       # the row the paper finds higher (mean Dice)
    worse: str
    source: str       # where the paper says so


def chain(rows: list[str], source: str) -> list[Claim]:
    """An ordering ``rows[0] < rows[1] < ...`` as claims, each row against the next."""
    return [Claim(b, a, source) for a, b in zip(rows, rows[1:])]


def versus(best: str, others, source: str) -> list[Claim]:
    """``best`` beats each of ``others`` (a paper's chosen setting against its alternatives)."""
    return [Claim(best, other, source) for other in others if other != best]


def claim_verdicts(runs: pd.DataFrame, claims: list[Claim], group: str = "label",
                   alpha: float = stats.ALPHA) -> pd.DataFrame:
    """One row per claim whose two rows were measured: the measured difference (percent points,
    better minus worse, seed-averaged per-image Dice), the paired p-value, and the verdict:

    * ``supported``: the difference has the paper's sign and p < alpha;
    * ``reversed``: the opposite sign and p < alpha;
    * ``not supported``: p >= alpha (the measurements cannot tell the two rows apart), with the sign
      measured; ``too few images`` is added when no p-value below alpha was possible.
    """
    scores = per_image(runs, group) if not runs.empty else {}
    rows = []
    for claim in claims:
        if claim.better not in scores or claim.worse not in scores:
            continue
        test = stats.paired_test(scores[claim.better], scores[claim.worse])
        delta = 100 * test.mean_difference
        if test.p_value < alpha:
            verdict = "supported" if delta > 0 else "reversed"
        else:
            verdict = "not supported" + (" (too few images)" if test.underpowered else "")
        rows.append({"claim": f"{claim.better} > {claim.worse}", "source": claim.source, "delta": delta,
                     "p_value": test.p_value, "n_images": test.n_images, "verdict": verdict})
    return pd.DataFrame(rows, columns=["claim", "source", "delta", "p_value", "n_images", "verdict"])


def verdict_sentences(verdicts: pd.DataFrame) -> str:
    """The verdicts as Markdown sentences for a lesson (generated, never typed)."""
    if verdicts.empty:
        return "*No claim could be checked: the runs it needs have no records yet.*"
    lines = []
    for v in verdicts.itertuples():
        p = stats.format_p(v.p_value)
        evidence = f"Δ = {v.delta:+.1f} Dice points, p {p if p.startswith('<') else '= ' + p}, {v.n_images} test images"
        lines.append(f"* **{v.claim}** ({v.source}): **{v.verdict}** ({evidence}).")
    counts = verdicts.verdict.str.split(" \\(").str[0].value_counts()
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("supported", "not supported", "reversed"))
    return f"Of {len(verdicts)} claims checked: {summary}.\n\n" + "\n".join(lines)


def show_verdicts(verdicts: pd.DataFrame) -> None:
    """Display ``verdict_sentences`` in a notebook."""
    display(Markdown(verdict_sentences(verdicts)))
