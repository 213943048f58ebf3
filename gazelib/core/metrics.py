"""Per-image segmentation metrics at the image's own resolution: Dice, IoU, 95 % Hausdorff distance,
and the pixel counts (true positives, false positives, false negatives) every convention of
averaging over a set of images is computed from. The truth's area is ``tp + fn``.

Over a set of images (``scores``: image id -> at least ``{"tp", "fp", "fn"}``, as a run record
keeps them) the papers do not say which average they report, so every one is computed:

* ``mean_dice``: the mean of per-image Dice (what gazelib reports);
* ``pooled_dice``: Dice of the pixels pooled over all images, ``2 sum tp / (2 sum tp + sum fp + sum fn)``
  (large polyps weigh more);
* ``size_strata``: both, for the small and the large polyps apart (split at the median truth area:
  small is ``area <= median``).

Per-image conventions (chosen, documented; the papers do not state them):

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


COUNTS = ("tp", "fp", "fn")


def counts(pred: np.ndarray, truth: np.ndarray) -> dict[str, int]:
    """``{"tp", "fp", "fn"}``: foreground pixels predicted and true, predicted only, true only."""
    pred, truth = _check(pred, truth)
    return {"tp": int(np.count_nonzero(pred & truth)), "fp": int(np.count_nonzero(pred & ~truth)),
            "fn": int(np.count_nonzero(~pred & truth))}


def dice_of_counts(tp: int, fp: int, fn: int) -> float:
    """Dice from pixel counts, ``2 tp / (2 tp + fp + fn)``; 1 when there is no foreground at all
    (the convention of ``dice``, which gives the same float)."""
    total = 2 * tp + fp + fn
    return 1.0 if total == 0 else float(2.0 * tp / total)


def iou_of_counts(tp: int, fp: int, fn: int) -> float:
    """IoU from pixel counts, ``tp / (tp + fp + fn)``; 1 when there is no foreground at all."""
    union = tp + fp + fn
    return 1.0 if union == 0 else float(tp / union)


def scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """``{"dice", "iou", "hd95", "tp", "fp", "fn"}`` of one binary prediction against its ground truth."""
    return {"dice": dice(pred, truth), "iou": iou(pred, truth), "hd95": hd95(pred, truth), **counts(pred, truth)}


def _counts_of(scores: dict[str, dict]) -> np.ndarray:
    """(N, 3) tp, fp, fn of ``scores``; a clear error where an image has no pixel counts."""
    if not scores:
        raise ValueError("no images to score")
    missing = [image for image, score in scores.items() if not set(COUNTS) <= set(score)]
    if missing:
        raise ValueError(f"{len(missing)} image(s) without pixel counts {', '.join(COUNTS)} (e.g. {missing[0]!r}); "
                         f"records written before counts were kept need `gazelib eval --rescore`")
    return np.array([[score[name] for name in COUNTS] for score in scores.values()], dtype=np.int64)


def mean_dice(scores: dict[str, dict]) -> float:
    """Mean over images of each image's Dice (``dice_of_counts``)."""
    return float(np.mean([dice_of_counts(*row) for row in _counts_of(scores).tolist()]))


def pooled_dice(scores: dict[str, dict]) -> float:
    """Dice of the pixels of all images together: ``2 sum tp / (2 sum tp + sum fp + sum fn)``."""
    return dice_of_counts(*_counts_of(scores).sum(0).tolist())


def pooled_iou(scores: dict[str, dict]) -> float:
    """IoU of the pixels of all images together: ``sum tp / (sum tp + sum fp + sum fn)``."""
    return iou_of_counts(*_counts_of(scores).sum(0).tolist())


def truth_areas(scores: dict[str, dict]) -> dict[str, int]:
    """Foreground pixels of each image's ground truth, ``tp + fn``."""
    return {image: int(tp + fn) for image, (tp, _, fn) in zip(scores, _counts_of(scores).tolist())}


def size_strata(scores: dict[str, dict]) -> dict[str, dict]:
    """``{"small": {...}, "large": {...}}`` split at the median truth area (small: ``area <= median``),
    each with ``images``, ``mean_dice`` and ``pooled_dice``, and the ``median_area`` (pixels)."""
    areas = truth_areas(scores)
    median = float(np.median(list(areas.values())))
    out = {"median_area": median}
    for name, keep in (("small", lambda a: a <= median), ("large", lambda a: a > median)):
        part = {image: scores[image] for image, area in areas.items() if keep(area)}
        out[name] = ({"images": len(part), "mean_dice": mean_dice(part), "pooled_dice": pooled_dice(part)} if part
                     else {"images": 0, "mean_dice": float("nan"), "pooled_dice": float("nan")})
    return out


def conventions(scores: dict[str, dict]) -> dict[str, float]:
    """Every averaging convention of ``scores`` as one flat row (fractions; areas in pixels)."""
    strata = size_strata(scores)
    return {"images": len(scores), "dice_mean": mean_dice(scores), "dice_pooled": pooled_dice(scores),
            "iou_pooled": pooled_iou(scores), "median_area": strata["median_area"],
            **{f"{stratum}_{key}": strata[stratum][key] for stratum in ("small", "large")
               for key in ("images", "mean_dice", "pooled_dice")}}
