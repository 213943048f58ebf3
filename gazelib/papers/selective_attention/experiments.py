"""The selective-attention table (paper Table 1 layout, on Kvasir-SEG): data ratio x variant."""
from __future__ import annotations

from gazelib.experiments.grids import TRIMMED, Experiment, grid_overrides
from gazelib.report.summary import Claim

RATIOS = (0.2, 0.3, 0.5, 0.7)
#: Row label -> ``san_variant``. The paper's "+gaze*" and "+SAN*" are named "+gaze head" and "+SAN concat"
#: here, so that no label ends in an asterisk that reads as a significance mark.
VARIANTS = {"Backbone": "backbone", "+gaze head": "gaze_head", "+SAN concat": "san_concat", "ours-gaze": "ours_gaze",
            "ours": "ours"}
#: What the ``experiments.TRIMMED`` profiles keep: every variant at the smallest ratio, the backbone
#: against ours at a large one.
TRIMMED_CELLS = {0.2: tuple(VARIANTS), 0.7: ("Backbone", "ours")}


def table(profile: str) -> list[Experiment]:
    """Selective attention runs (ratio x variant) for ``profile``."""
    cells = TRIMMED_CELLS if profile in TRIMMED else {ratio: tuple(VARIANTS) for ratio in RATIOS}
    return [Experiment(label, "san", (f"san_variant={VARIANTS[label]}", f"train_fraction={ratio}",
                                      *grid_overrides(profile)))
            for ratio, labels in cells.items() for label in labels]


def cell(label: str, ratio: float) -> str:
    """The row name of one cell of the table: variant and data ratio."""
    return f"{label} ({ratio:g})"


def comparisons(ratios) -> dict[str, str]:
    """Each variant against the backbone at the same data ratio."""
    return {cell(label, r): cell("Backbone", r) for r in ratios for label in VARIANTS if label != "Backbone"}


def claims(ratios) -> list[Claim]:
    """Table 1: at every data ratio ``ours`` beats the backbone, +gaze head (the paper's +gaze*),
    +SAN concat (+SAN*) and ours-gaze."""
    return [Claim(cell("ours", r), cell(variant, r), "Selective attention Table 1")
            for r in ratios for variant in VARIANTS if variant != "ours"]
