"""GazeMedSeg's hierarchical pseudo-masks: the dense-CRF map thresholded at each level."""
from __future__ import annotations

import numpy as np
import torch

from gazelib.core.targets import resized_maps


# Threshold levels, LEVELS[dataset][number of levels]. Kvasir-SEG: all five sets are the GazeMedSeg
# authors' (configs/static.py, KVASIR_LEVEL_CONFIGS). NCI-ISBI: the authors give only the 2-level set
# (0.2, 0.4); the 1-, 3-, 4- and 5-level sets are OURS, made by the rule the Kvasir sets follow (checked
# in the tests): the 2-level pair, plus n - 2 levels evenly spaced strictly between them, rounded to 3
# decimals; one level is the pair's first.
def _spread(pair: tuple[float, float], n: int) -> tuple[float, ...]:
    if n == 1:
        return pair[:1]
    low, high = sorted(pair)
    return pair + tuple(round(low + (high - low) * k / (n - 1), 3) for k in range(1, n - 1))


_AUTHORS_PAIR = {"kvasir": (0.5, 0.3), "nci_isbi": (0.2, 0.4)}
LEVELS: dict[str, dict[int, tuple[float, ...]]] = {
    "kvasir": {1: (0.5,), 2: (0.5, 0.3), 3: (0.5, 0.3, 0.4), 4: (0.5, 0.3, 0.367, 0.433),
               5: (0.5, 0.3, 0.35, 0.4, 0.45)},                            # the authors' sets
    "nci_isbi": {n: _spread(_AUTHORS_PAIR["nci_isbi"], n) for n in range(1, 6)},   # only n = 2 is theirs
}


def levels_for(dataset: str, n: int = 2) -> tuple[float, ...]:
    """The ``n`` thresholds for ``dataset`` (the authors' where they exist: see ``LEVELS``)."""
    if dataset not in LEVELS:
        raise KeyError(f"levels_for: unknown dataset {dataset!r}; known: {sorted(LEVELS)}")
    if n not in LEVELS[dataset]:
        raise KeyError(f"levels_for: no {n}-level setting; known: {sorted(LEVELS[dataset])}")
    return LEVELS[dataset][n]


def pseudo_masks(crf: np.ndarray, levels) -> np.ndarray:
    """``M_l = [C >= t_l]`` for each level t_l: bool (L, H, W)."""
    levels = np.asarray(levels, dtype=np.float64).reshape(-1, 1, 1)
    return np.asarray(crf)[None] >= levels


def pseudo_mask_tensor(dataset, ids, cfg, levels) -> torch.Tensor:
    """uint8 (N, L, S, S) training tensor: the soft CRF map resized to ``cfg.image_size`` (bilinear, no
    antialiasing), then ``>= level`` for each level (the authors' order: resize, then threshold)."""
    resized = resized_maps(dataset, ids, cfg, "crf")
    return torch.stack([torch.from_numpy(pseudo_masks(resized[i], levels)).to(torch.uint8) for i in ids])
