"""GazeMedSeg's ablation grids (paper Fig. 4): number of levels, consistency mode, its weight lambda."""
from __future__ import annotations

from gazelib.experiments.grids import TRIMMED, Experiment, default_label, grid_overrides
from gazelib.papers.gazemedseg.pseudo_masks import levels_for
from gazelib.report.summary import Claim, versus

#: 1 to 5 levels (``pseudo_masks.LEVELS``: the authors' sets on Kvasir-SEG; on NCI-ISBI only the 2-level
#: set is theirs), the consistency (none, ``pure``, ``prop``), its weight lambda.
LEVEL_COUNTS = (1, 2, 3, 4, 5)
CONSISTENCY = {"no consistency": "none", "pure": "pure", "prop (LPP)": "prop"}
WEIGHTS = (0.5, 1.0, 3.0, 5.0)
#: What the ``experiments.TRIMMED`` profiles keep of each grid.
TRIMMED_POINTS = {"levels": (1, 2), "consistency": ("no consistency", "prop (LPP)"), "weights": (3.0,)}


def ablations(dataset: str, profile: str) -> dict[str, list[Experiment]]:
    """The three ablation grids (levels, consistency, weight) for ``profile``.

    Levels use ``pseudo_masks.levels_for`` (the authors' sets where they exist); the shared default
    (2 levels, ``prop``, lambda 3) is one run that appears in all three grids."""
    trimmed = profile in TRIMMED
    counts = TRIMMED_POINTS["levels"] if trimmed else LEVEL_COUNTS
    modes = TRIMMED_POINTS["consistency"] if trimmed else tuple(CONSISTENCY)
    weights = TRIMMED_POINTS["weights"] if trimmed else WEIGHTS
    shared = grid_overrides(profile)
    return {
        "levels": [Experiment(f"{n} level{'s' * (n > 1)}", "gazemedseg",
                              ("levels=" + ",".join(map(str, levels_for(dataset, n))), *shared)) for n in counts],
        "consistency": [Experiment(label, "gazemedseg", (f"cons_mode={CONSISTENCY[label]}", *shared))
                        for label in modes],
        "weight": [Experiment(f"λ = {w:g}", "gazemedseg", (f"cons_weight={w}", *shared)) for w in weights],
    }


def claims(grids: dict[str, list[Experiment]], dataset: str, profile: str) -> list[Claim]:
    """The paper's choice (2 levels, ``prop`` consistency, lambda = 3) beats each alternative it
    reports (checked by ``summary.claim_verdicts``)."""
    return [claim for name, grid in grids.items()
            for claim in versus(default_label(grid, dataset, profile), [e.label for e in grid],
                                f"GazeMedSeg ablation ({name})")]
