"""GradTrack gaze track maps (GTMG module, eqs. (1)-(2) of the paper)."""
from __future__ import annotations

import math

import numpy as np

TRUNCATIONS = ("reverse", "sequential", "none")
TRACKS = ("polyline", "points")
TRAINING_GRID = (224, 224)   # GradTrack resizes every image to 224x224; beta is in these pixels
RATIOS = (0.5, 0.75, 1.0)    # the truncation ratios r of G^r (50%, 75%, 100% of the fixations)
BETA = {"kvasir": 10.0, "nci_isbi": 15.0}   # eq. (2) distance decay per data set, pixels of the 224 grid
TAU = 0.25                   # eq. (2) field-of-view threshold


def kept_count(n: int, ratio: float, truncation: str = "reverse") -> int:
    """How many fixations the truncation keeps: ``ceil(ratio * n)`` (at least 1), or n for "none".

    Rounding rule (the paper does not give one): ceil, so T^r holds at least a fraction r of the
    fixations and never none; e.g. 27 fixations -> 14 (50 %), 21 (75 %), 27 (100 %).
    """
    if truncation not in TRUNCATIONS:
        raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {truncation!r}")
    if truncation == "none":
        return n
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    return max(1, min(n, math.ceil(round(ratio * n, 9))))


def inclusion_order(scanpath, truncation: str = "reverse") -> np.ndarray:
    """Fixation indices in the order the truncation takes them in (stable sort on ``start``).

    reverse: from the LAST fixation backwards (GradTrack: T^r = the last r of the sequence);
    sequential / none: from the first forwards. T^r is the first ``kept_count`` of this order.
    """
    if truncation not in TRUNCATIONS:
        raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {truncation!r}")
    order = np.argsort(np.asarray(scanpath.start), kind="stable")
    return order[::-1] if truncation == "reverse" else order


def truncate(scanpath, ratio: float, truncation: str = "reverse") -> np.ndarray:
    """Indices of the fixations in T^r, in start-time order."""
    kept = inclusion_order(scanpath, truncation)[:kept_count(len(scanpath.start), ratio, truncation)]
    return kept[::-1] if truncation == "reverse" else kept


def _pieces(points: np.ndarray, track: str) -> tuple[np.ndarray, np.ndarray]:
    """Segments (a_i, b_i) in inclusion order; piece i completes the track of the first i+1 points.

    polyline: the first point alone, then (p_{i-1}, p_i); points: (p_i, p_i).
    """
    if track not in TRACKS:
        raise ValueError(f"track must be one of {TRACKS}, got {track!r}")
    if track == "points":
        return points, points
    return np.concatenate([points[:1], points[:-1]]), points


def _grid_coordinates(height, width, grid):
    unit_y, unit_x = (height, width) if grid is None else grid
    ys = ((np.arange(height) + 0.5) * (unit_y / height)).astype(np.float32)
    xs = ((np.arange(width) + 0.5) * (unit_x / width)).astype(np.float32)
    return ys, xs, np.array([unit_y, unit_x], dtype=np.float64)


def _add_piece(best: np.ndarray, ys, xs, a, b, cutoff: float) -> None:
    """``best = min(best, d(p, [a, b])^2)`` for pixels within ``cutoff`` of the segment's bounding box.

    Exact point-to-segment distance: ``t* = clip(((p - a) . (b - a)) / |b - a|^2, 0, 1)``,
    ``d^2 = |p - a - t* (b - a)|^2`` (written as the residual, which is exact in float32 near
    the track). Pixels farther than ``cutoff`` from the box cannot be within ``cutoff`` of the segment.
    """
    r0, r1 = np.searchsorted(ys, [min(a[0], b[0]) - cutoff, max(a[0], b[0]) + cutoff], side="left")
    c0, c1 = np.searchsorted(xs, [min(a[1], b[1]) - cutoff, max(a[1], b[1]) + cutoff], side="left")
    if r0 >= r1 or c0 >= c1:
        return
    ry, rx = ys[r0:r1] - np.float32(a[0]), xs[c0:c1] - np.float32(a[1])
    dy, dx = np.float32(b[0] - a[0]), np.float32(b[1] - a[1])
    length2 = dy * dy + dx * dx
    if length2 > 0:
        t = np.clip(((ry * dy)[:, None] + (rx * dx)[None, :]) / length2, 0, 1)
        dist2 = np.square(ry[:, None] - t * dy) + np.square(rx[None, :] - t * dx)
    else:
        dist2 = np.square(ry)[:, None] + np.square(rx)[None, :]
    np.minimum(best[r0:r1, c0:c1], dist2, out=best[r0:r1, c0:c1])


def track_distance(points_yx, height: int, width: int, track: str = "polyline",
                   grid: tuple[int, int] | None = TRAINING_GRID) -> np.ndarray:
    """Eq. (1) ``D(p) = min_{t in T} ||p - t||_2`` exactly, float32 (height, width).

    ``points_yx``: (K, 2) track vertices in order, normalised [0, 1] coordinates. Pixel p of the
    output is its centre ``((i + 0.5) / height, (j + 0.5) / width)``. Distances are measured in pixels
    of ``grid`` (default the 224x224 training resolution, the image the paper's beta refers to);
    ``grid=None`` measures in pixels of the output itself. ``track="polyline"``: T is the union of
    the segments joining consecutive vertices (one vertex is a point); ``"points"``: the vertices
    alone. Exact point-to-segment distances, vectorised: no rasterisation error.
    """
    points = np.asarray(points_yx, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        raise ValueError("track_distance: the track has no fixations")
    ys, xs, unit = _grid_coordinates(height, width, grid)
    best = np.full((height, width), np.inf, dtype=np.float32)
    for a, b in zip(*_pieces(points * unit, track)):
        _add_piece(best, ys, xs, a, b, np.inf)
    return np.sqrt(best)


def attention_from_distance(distance: np.ndarray, beta: float, tau: float) -> np.ndarray:
    """Eq. (2) ``G = exp(-D / beta) * I(exp(-D / beta) > tau)``, float32."""
    decay = np.exp(-np.asarray(distance, dtype=np.float64) / beta)
    return np.where(decay > tau, decay, 0.0).astype(np.float32)


def track_maps(scanpath, height: int, width: int, ratios, beta: float, tau: float,
               truncation: str = "reverse", track: str = "polyline",
               grid: tuple[int, int] | None = TRAINING_GRID) -> np.ndarray:
    """G^r for several ratios in one pass, float32 (len(ratios), height, width) in [0, 1].

    T^r = the first ``kept_count`` fixations of ``inclusion_order`` (reverse: the last r of the
    start-time sequence); D^r by eq. (1) in pixels of ``grid`` (see ``track_distance``: beta = 10
    means 10 pixels of the 224x224 training image, whatever the output size); G^r by eq. (2).
    The T^r are nested, so one sweep over the track snapshots every D^r. Only pixels where G can be
    non-zero (D < beta ln(1/tau)) are evaluated; elsewhere G = 0 exactly, as eq. (2) says.
    """
    order = inclusion_order(scanpath, truncation)
    if len(order) == 0:
        raise ValueError(f"track_maps: scanpath {scanpath.image_id!r} has no fixations")
    kept = [kept_count(len(order), r, truncation) for r in ratios]
    points = np.stack([np.asarray(scanpath.y)[order], np.asarray(scanpath.x)[order]], axis=1)
    ys, xs, unit = _grid_coordinates(height, width, grid)
    cutoff = beta * math.log(1 / tau) if tau > 0 else np.inf
    best = np.full((height, width), np.inf, dtype=np.float32)
    maps = np.zeros((len(kept), height, width), dtype=np.float32)
    for i, (a, b) in enumerate(zip(*_pieces(points[:max(kept)] * unit, track))):
        _add_piece(best, ys, xs, a, b, cutoff)
        for slot in np.flatnonzero(np.asarray(kept) == i + 1):
            maps[slot] = attention_from_distance(np.sqrt(best), beta, tau)
    return maps


def track_map(scanpath, height: int, width: int, ratio: float, beta: float, tau: float,
              truncation: str = "reverse", track: str = "polyline",
              grid: tuple[int, int] | None = TRAINING_GRID) -> np.ndarray:
    """GradTrack gaze track attention map G^r, float32 (height, width); see ``track_maps``."""
    return track_maps(scanpath, height, width, (ratio,), beta, tau, truncation, track, grid)[0]
