"""GradTrack's Table 1: the rows this project trains, the papers' ordering of them as claims, and the
numbers quoted from the papers (``paper_values.csv``), never measured here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gazelib.experiments.grids import Experiment
from gazelib.report.summary import OPTIMISTIC, chain

PAPER_VALUES = Path(__file__).resolve().parent / "paper_values.csv"


# GradTrack Table 1: the rows this project measures (others are quoted, see gazelib/papers/paper_values.csv).
TABLE1 = [
    Experiment("U-Net", "full", ("backbone=unet",)),
    Experiment("nnU-Net", "full", ("backbone=nnunet",)),
    Experiment("VAM", "vam"),
    Experiment("VAM_D-CRF", "vam_crf"),
    Experiment("GazeMedSeg", "gazemedseg"),
    Experiment("GradTrack", "gradtrack"),
]

#: Test evaluations during Table 1's runs (``test_every``) per profile, for the gap ledger's OPTIMISTIC
#: best-on-test value from the same runs (the reported value stays the final checkpoint's). A profile
#: listed here has other Table 1 run ids than one that is not, so a profile is listed only together
#: with its retrained records: ``quick`` every 50 iterations (3-16 evaluations a run), ``laptop`` every
#: 100 of 1,400 (14 evaluations, as dense as the GazeMedSeg authors' 15 of 15,000, so the optimism is
#: of the same size; one evaluation costs the time of 2-7 training iterations on 2 CPU cores).
TABLE1_TEST_EVERY = {"quick": 50, "laptop": 100}


def table1_grid(profile: str) -> list[Experiment]:
    """Table 1's rows as ``profile`` trains them: ``TABLE1`` with its test evaluations (``TABLE1_TEST_EVERY``)."""
    every = TABLE1_TEST_EVERY.get(profile)
    return TABLE1 if not every else [Experiment(exp.label, exp.method, (*exp.overrides, f"test_every={every}"))
                                     for exp in TABLE1]


#: Table 1 rows measured again with nnU-Net-style augmentation (``augment=nnunet``): the row the GradTrack
#: paper's backbone comes from, a gaze baseline and GradTrack itself.
AUGMENTED_ROWS = ("nnU-Net", "VAM", "GradTrack")
AUGMENTED = " + nnU-Net augmentation"


def augmentation_grid(profile: str) -> list[Experiment]:
    """The ``AUGMENTED_ROWS`` of ``profile``'s Table 1 as they are (flips only: the same runs as Table 1's,
    ``table1_grid``) and with ``augment=nnunet``, labelled ``<row> + nnU-Net augmentation``."""
    rows = [e for e in table1_grid(profile) if e.label in AUGMENTED_ROWS]
    return rows + [Experiment(f"{e.label}{AUGMENTED}", e.method, (*e.overrides, "augment=nnunet")) for e in rows]


def augmentation_comparisons() -> dict[str, str]:
    """Each augmented row against its flips-only row (the paired test of ``summary.summarize``)."""
    return {f"{row}{AUGMENTED}": row for row in AUGMENTED_ROWS}


#: The ordering the papers report on Table 1 (GradTrack, Kvasir-SEG and NCI-ISBI), weakest first: each
#: row is tested against the one before it (``table1_comparisons``) and the ordering is a list of claims.
TABLE1_ORDER = ("VAM", "VAM_D-CRF", "GazeMedSeg", "GradTrack", "U-Net", "nnU-Net")


def paper_values(dataset: str, table: str | None = None) -> pd.DataFrame:
    """Numbers quoted from the papers (``gazelib/papers/paper_values.csv``), never measured here."""
    values = pd.read_csv(PAPER_VALUES)
    values = values[values.dataset == dataset]
    return values if table is None else values[values.table == table]


def table1_claims() -> list:
    """GradTrack Table 1 ordering: VAM < VAM_D-CRF < GazeMedSeg < GradTrack < U-Net < nnU-Net."""

    return chain(list(TABLE1_ORDER), "GradTrack Table 1")


def table1_comparisons() -> dict[str, str]:
    """Each Table 1 row against the row below it in the papers' ordering (``TABLE1_ORDER``)."""
    return dict(zip(TABLE1_ORDER[1:], TABLE1_ORDER[:-1]))


def paper_dice(dataset: str, table: str) -> pd.Series:
    """The quoted Dice of a paper table, by row label."""
    quoted = paper_values(dataset, table)
    # a label quoted twice (Table 1's AGMM, point and scribble) is never a measured row
    return quoted.drop_duplicates("method", keep=False).set_index("method").dice_mean


def table1_layout(measured: pd.DataFrame, dataset: str, profile: str) -> pd.DataFrame:
    """GradTrack's Table 1: measured rows (a ``summary.summarize`` table) with their confidence
    interval and paired p-value against the row below them in the papers' ordering, the other rows
    quoted and marked so."""

    rows = []
    plain = measured.label.str.replace(OPTIMISTIC, "", regex=False)
    for _, quoted in paper_values(dataset, "Table 1").iterrows():
        mine = measured[plain == quoted.method]
        row = {"method": quoted.method, "supervision": quoted.supervision}
        if len(mine):
            m = mine.iloc[0]
            row.update(label=m.label, dice_mean=m.dice_mean, dice_std=m.dice_std, dice_ci_low=m.dice_ci_low,
                       dice_ci_high=m.dice_ci_high, seeds=m.seeds, vs=m.get("vs", ""), p_value=m.get("p_value", np.nan),
                       paper_dice=quoted.dice_mean, source=f"measured ({profile}, {m.device})")
        else:
            row.update(label=quoted.method, dice_mean=quoted.dice_mean, dice_std=quoted.dice_std, seeds=None,
                       paper_dice=quoted.dice_mean, source=f"quoted: {quoted.source}")
        rows.append(row)
    columns = ["method", "label", "supervision", "dice_mean", "dice_std", "dice_ci_low", "dice_ci_high", "seeds",
               "vs", "p_value", "paper_dice", "source"]
    return pd.DataFrame(rows).reindex(columns=columns)
