"""GazeMedSeg hierarchical pseudo-masks and GradTrack's conservative (under-activation) mask."""
from __future__ import annotations

import numpy as np

# Threshold levels of the GazeMedSeg authors' scripts: LEVELS[dataset][number of levels].
# Only the 2-level setting differs between the data sets (Kvasir {0.5, 0.3}, prostate {0.2, 0.4}).
_SHARED = {1: (0.5,), 3: (0.5, 0.3, 0.4), 4: (0.5, 0.3, 0.367, 0.433), 5: (0.5, 0.3, 0.35, 0.4, 0.45)}
LEVELS: dict[str, dict[int, tuple[float, ...]]] = {
    "kvasir": {**_SHARED, 2: (0.5, 0.3)},
    "nci_isbi": {**_SHARED, 2: (0.2, 0.4)},
}

UNDER_ACTIVATION = 0.7   # GradTrack's VAM_D-CRF threshold for L_VAM


def levels_for(dataset: str, n: int = 2) -> tuple[float, ...]:
    """The authors' ``n`` thresholds for ``dataset``."""
    if dataset not in LEVELS:
        raise KeyError(f"levels_for: unknown dataset {dataset!r}; known: {sorted(LEVELS)}")
    if n not in LEVELS[dataset]:
        raise KeyError(f"levels_for: no {n}-level setting; known: {sorted(LEVELS[dataset])}")
    return LEVELS[dataset][n]


def pseudo_masks(crf: np.ndarray, levels) -> np.ndarray:
    """``M_l = [C >= t_l]`` for each level t_l: bool (L, H, W)."""
    levels = np.asarray(levels, dtype=np.float64).reshape(-1, 1, 1)
    return np.asarray(crf)[None] >= levels
