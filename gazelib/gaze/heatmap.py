"""GazeMedSeg visual attention map (VAM) and GradTrack's soft-label variant.

Reference: the GazeMedSeg authors' ``draw_heatmap`` (notebooks/gaze_annotation): each fixation
adds its duration at ``heatmap[round(y*768)-1, round(x*768)-1]`` of a 768x768 canvas,
``scipy.ndimage.gaussian_filter(heatmap, sigma)``, min-max normalisation, then
``cv2.resize(..., INTER_CUBIC)`` to the image size.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter1d

CANVAS = 768
#: The Gaussian sigma on the 768 canvas per data set (the authors' notebooks).
SIGMA = {"kvasir": 70.0, "nci_isbi": 50.0}


@lru_cache(maxsize=8)
def _gaussian_columns(canvas: int, sigma: float) -> np.ndarray:
    """(canvas, canvas) matrix whose column r is ``gaussian_filter1d`` of a unit impulse at r.

    ``gaussian_filter`` is linear and separable, so the filtered sum of impulses
    ``sum_k w_k delta(r_k, c_k)`` equals ``sum_k w_k outer(M[:, r_k], M[:, c_k])``: identical to
    filtering the canvas (same kernel, same ``reflect`` border) at a tiny fraction of the cost.
    """
    return gaussian_filter1d(np.eye(canvas), sigma, axis=0, mode="reflect")


def canvas_indices(scanpath, canvas: int = CANVAS) -> tuple[np.ndarray, np.ndarray]:
    """Row/column of each fixation on the canvas, exactly as the authors index it.

    ``(round(y*canvas) - 1, round(x*canvas) - 1)`` with round-half-to-even (Python's and numpy's
    rule). A coordinate below 0.5/canvas gives index -1, which numpy reads as the LAST row/column;
    we keep that wrap-around (``% canvas``) to reproduce the authors' maps bit for bit.
    """
    rows = (np.round(np.asarray(scanpath.y) * canvas).astype(np.int64) - 1) % canvas
    cols = (np.round(np.asarray(scanpath.x) * canvas).astype(np.int64) - 1) % canvas
    return rows, cols


@lru_cache(maxsize=64)
def cubic_resize_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) matrix R with ``R @ v`` = OpenCV ``INTER_CUBIC`` resize of a 1-D signal.

    OpenCV: source coordinate ``f = (i + 0.5) * n_in / n_out - 0.5``, ``s = floor(f)``,
    ``t = f - s``, taps ``s-1..s+2`` clamped to the border (replicate), Keys kernel with A = -0.75:
    ``w0 = ((A(t+1) - 5A)(t+1) + 8A)(t+1) - 4A``, ``w1 = ((A+2)t - (A+3))t^2 + 1``,
    ``w2 = ((A+2)(1-t) - (A+3))(1-t)^2 + 1``, ``w3 = 1 - w0 - w1 - w2``. No anti-aliasing when
    shrinking (OpenCV has none for INTER_CUBIC). Rows sum to 1.
    """
    a = -0.75
    f = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    s = np.floor(f).astype(np.int64)
    t = f - s
    w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    weights = np.stack([w0, w1, w2, 1 - w0 - w1 - w2], axis=1)
    taps = np.clip(s[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
    matrix = np.zeros((n_out, n_in))
    np.add.at(matrix, (np.repeat(np.arange(n_out), 4), taps.ravel()), weights.ravel())
    return matrix


def cubic_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """OpenCV-compatible bicubic resize of a 2-D float array (see ``cubic_resize_matrix``)."""
    rows = cubic_resize_matrix(height, image.shape[0])
    cols = cubic_resize_matrix(width, image.shape[1])
    return rows @ image @ cols.T


def vam(scanpath, height: int, width: int, sigma: float, canvas: int = CANVAS) -> np.ndarray:
    """Visual attention map of one scanpath, float32 (height, width) in [0, 1].

    ``H = resize_cubic(minmax(G_sigma * sum_k d_k delta(round(y_k c) - 1, round(x_k c) - 1)))``
    with c = canvas, d_k the fixation duration (duplicates accumulate), G_sigma the Gaussian filter
    on the canvas (scipy, ``reflect`` border, truncate 4 sigma). Computed in the factorised form
    ``A diag(d) B^T`` (A, B: filtered impulses, see ``_gaussian_columns``), so the resize is applied
    to the K columns of A and B instead of the whole canvas. The cubic resize may overshoot
    [0, 1] slightly; we clip (the authors cast to uint8 after x255, undefined for negatives).
    A single fixation (or all at one spot) gives a non-constant map, so the min-max is defined;
    no fixations is an error.
    """
    if len(scanpath.x) == 0:
        raise ValueError(f"vam: scanpath {scanpath.image_id!r} has no fixations")
    columns = _gaussian_columns(canvas, float(sigma))
    rows, cols = canvas_indices(scanpath, canvas)
    left = columns[:, rows] * np.asarray(scanpath.duration, dtype=np.float64)[None, :]
    right = columns[:, cols]
    heat = left @ right.T                                   # the filtered canvas, (canvas, canvas)
    low, high = heat.min(), heat.max()
    resized = cubic_resize_matrix(height, canvas) @ left @ (cubic_resize_matrix(width, canvas) @ right).T
    # Resize rows sum to 1, so R (h - low) = R h - low: normalising after the resize is exact.
    return np.clip((resized - low) / (high - low), 0.0, 1.0).astype(np.float32)


def soft_vam(heat: np.ndarray, floor: float = 0.5) -> np.ndarray:
    """GradTrack's VAM soft label: ``S = H * [H >= floor]`` (values below ``floor`` become background)."""
    return np.where(heat < floor, 0.0, heat).astype(heat.dtype, copy=False)
