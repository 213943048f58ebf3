"""Per-image segmentation metrics at the image's own resolution: Dice, IoU, 95 % Hausdorff distance.

Conventions (chosen, documented; the papers do not state them):

* empty prediction AND empty ground truth: Dice = IoU = 1, HD95 = 0 (a perfect answer);
* exactly one of them empty: Dice = IoU = 0, HD95 = the image diagonal ``sqrt(H^2 + W^2)``
  (the largest distance possible in the image), so an empty prediction is penalised and never
  silently dropped from a mean (a NaN would be);
* HD95 follows MedPy's ``hd95``: boundaries are ``mask & ~erosion(mask)`` with 4-connectivity,
  and HD95 is the 95th percentile of the pooled directed surface distances in both directions,
  in pixels of the image's own grid.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def _check(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground-truth shape {truth.shape}")
    return pred, truth


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice = 2 |P n G| / (|P| + |G|); 1 when both are empty."""
    pred, truth = _check(pred, truth)
    total = pred.sum() + truth.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(pred, truth).sum() / total)


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """IoU = |P n G| / |P u G|; 1 when both are empty."""
    pred, truth = _check(pred, truth)
    union = np.logical_or(pred, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, truth).sum() / union)


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (the image border counts as outside)."""
    eroded = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(mask.ndim, 1),
                                    border_value=0)
    return mask & ~eroded


def hd95(pred: np.ndarray, truth: np.ndarray) -> float:
    """95 % Hausdorff distance (pixels): ``percentile_95(d(dP, dG) u d(dG, dP))``.

    ``d(dA, dB)`` = for every boundary pixel of A, the Euclidean distance to the nearest boundary
    pixel of B (from a distance transform of ``~dB``). Empty-mask conventions: module docstring.
    """
    pred, truth = _check(pred, truth)
    if not pred.any() and not truth.any():
        return 0.0
    if not pred.any() or not truth.any():
        return float(np.sqrt(sum(s * s for s in pred.shape)))
    edge_pred, edge_truth = _boundary(pred), _boundary(truth)
    to_truth = ndimage.distance_transform_edt(~edge_truth)[edge_pred]
    to_pred = ndimage.distance_transform_edt(~edge_pred)[edge_truth]
    return float(np.percentile(np.concatenate([to_truth, to_pred]), 95))


def scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """``{"dice", "iou", "hd95"}`` of one binary prediction against its ground truth."""
    return {"dice": dice(pred, truth), "iou": iou(pred, truth), "hd95": hd95(pred, truth)}
