"""The papers' claims that the lessons check against the measurements (``summary.claim_verdicts``).

A claim is "row A scores higher than row B", as the paper states it or as its ablation argues it
(the setting the paper chose beats each alternative it reports). The rows are the labels of the
experiment grids (``gazelib.experiments``), so a claim whose rows a profile does not run is skipped.
"""
from __future__ import annotations

from gazelib import experiments
from gazelib.summary import Claim, chain, versus


def table1() -> list[Claim]:
    """GradTrack Table 1 ordering: VAM < VAM_D-CRF < GazeMedSeg < GradTrack < U-Net < nnU-Net."""
    return chain(list(experiments.TABLE1_ORDER), "GradTrack Table 1")


def gazemedseg(grids: dict[str, list[experiments.Experiment]], dataset: str, profile: str) -> list[Claim]:
    """GazeMedSeg's ablations: its choice (2 levels, ``prop`` consistency, lambda = 3) beats each
    alternative it reports."""
    return [claim for name, grid in grids.items()
            for claim in versus(experiments.default_label(grid, dataset, profile), [e.label for e in grid],
                                f"GazeMedSeg ablation ({name})")]


def gradtrack(grids: dict[str, list[experiments.Experiment]], dataset: str, profile: str) -> list[Claim]:
    """GradTrack: Table 2 and Fig. 4(b) (its choice beats each variant / tau), Fig. 4(a) (each
    component adds: #1 < #2 < #3 < #4)."""
    claims = []
    for name, source in (("table2", "GradTrack Table 2"), ("tau", "GradTrack Fig. 4(b)")):
        grid = grids[name]
        claims += versus(experiments.default_label(grid, dataset, profile), [e.label for e in grid], source)
    return claims + chain([e.label for e in grids["components"]], "GradTrack Fig. 4(a)")


def selective_attention(ratios) -> list[Claim]:
    """Selective attention Table 1: at every data ratio ``ours`` beats the backbone, +gaze*, +SAN* and
    ours-gaze (rows named by ``experiments.san_cell``)."""
    return [Claim(experiments.san_cell("ours", r), experiments.san_cell(variant, r), "Selective attention Table 1")
            for r in ratios for variant in experiments.SAN_VARIANTS if variant != "ours"]
