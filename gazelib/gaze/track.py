"""GradTrack gaze track maps (GTMG module, eqs. (1)-(2) of the paper)."""
from __future__ import annotations

import math

import numpy as np

TRUNCATIONS = ("reverse", "sequential", "none")
TRACKS = ("polyline", "points")
TRAINING_GRID = (224, 224)   # GradTrack resizes every image to 224x224; beta is in these pixels
_ROW_CHUNK_PIXELS = 1 << 20  # rows per distance block, bounds memory to ~4 MB per array


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


def truncate(scanpath, ratio: float, truncation: str = "reverse") -> np.ndarray:
    """Indices of the kept fixations, in start-time order (stable sort on ``start``).

    reverse: the LAST ``kept_count`` fixations (GradTrack); sequential: the FIRST ones (Table 2
    ablation); none: all of them, whatever ``ratio``.
    """
    order = np.argsort(np.asarray(scanpath.start), kind="stable")
    k = kept_count(len(order), ratio, truncation)
    return order[len(order) - k:] if truncation == "reverse" else order[:k]


def track_distance(points_yx: np.ndarray, height: int, width: int, track: str = "polyline",
                   grid: tuple[int, int] | None = TRAINING_GRID) -> np.ndarray:
    """Eq. (1) ``D(p) = min_{t in T} ||p - t||_2`` exactly, float32 (height, width).

    ``points_yx``: (K, 2) track vertices in normalised [0, 1] coordinates. Pixel p of the output is
    its centre ``((i + 0.5) / height, (j + 0.5) / width)``. Distances are measured in pixels of
    ``grid`` (default the 224x224 training resolution: the image the paper's beta refers to);
    ``grid=None`` measures in pixels of the output itself. ``track="polyline"``: T is the union of
    the segments joining consecutive vertices (a single vertex is a point); ``"points"``: T is the
    vertices alone. Exact point-to-segment distance, vectorised, no rasterisation error:
    ``t* = clip(((p - a) . (b - a)) / |b - a|^2, 0, 1)``, ``d^2 = |p - a|^2 - 2 t* (p - a).(b - a) + t*^2 |b - a|^2``.
    """
    if track not in TRACKS:
        raise ValueError(f"track must be one of {TRACKS}, got {track!r}")
    points = np.asarray(points_yx, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        raise ValueError("track_distance: the track has no fixations")
    unit_y, unit_x = (height, width) if grid is None else grid
    points = points * (unit_y, unit_x)
    starts = points if track == "points" or len(points) == 1 else points[:-1]
    ends = points if track == "points" or len(points) == 1 else points[1:]
    ys = (np.arange(height) + 0.5) * (unit_y / height)
    xs = (np.arange(width) + 0.5) * (unit_x / width)
    out = np.empty((height, width), dtype=np.float32)
    step = max(1, _ROW_CHUNK_PIXELS // max(width, 1))
    for top in range(0, height, step):
        out[top:top + step] = _min_segment_distance(ys[top:top + step], xs, starts, ends)
    return out


def _min_segment_distance(ys, xs, starts, ends) -> np.ndarray:
    best = np.full((len(ys), len(xs)), np.inf)
    for (ay, ax), (by, bx) in zip(starts, ends):
        dy, dx = by - ay, bx - ax
        length2 = dy * dy + dx * dx
        ry, rx = ys - ay, xs - ax                         # separable: row and column parts
        dist2 = (ry * ry)[:, None] + (rx * rx)[None, :]
        if length2 > 0:
            proj = (ry * dy)[:, None] + (rx * dx)[None, :]
            t = np.clip(proj / length2, 0.0, 1.0)
            dist2 = dist2 - 2 * t * proj + t * t * length2
        np.minimum(best, dist2, out=best)
    return np.sqrt(np.maximum(best, 0.0))


def attention_from_distance(distance: np.ndarray, beta: float, tau: float) -> np.ndarray:
    """Eq. (2) ``G = exp(-D / beta) * I(exp(-D / beta) > tau)``, float32."""
    decay = np.exp(-np.asarray(distance, dtype=np.float64) / beta)
    return np.where(decay > tau, decay, 0.0).astype(np.float32)


def track_map(scanpath, height: int, width: int, ratio: float, beta: float, tau: float,
              truncation: str = "reverse", track: str = "polyline",
              grid: tuple[int, int] | None = TRAINING_GRID) -> np.ndarray:
    """GradTrack gaze track attention map G^r, float32 (height, width) in [0, 1].

    T^r = ``truncate(scanpath, ratio, truncation)`` (start-time order), D^r by eq. (1) measured in
    pixels of ``grid`` (see ``track_distance``: beta = 10 means 10 pixels of the 224x224 image the
    network is trained on, whatever the output size), G^r by eq. (2).
    """
    kept = truncate(scanpath, ratio, truncation)
    points = np.stack([np.asarray(scanpath.y)[kept], np.asarray(scanpath.x)[kept]], axis=1)
    return attention_from_distance(track_distance(points, height, width, track, grid), beta, tau)
