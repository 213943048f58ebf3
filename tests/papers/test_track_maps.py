"""Hand-computed checks of GradTrack's truncation, distance map (eq. 1) and decay (eq. 2)."""
from __future__ import annotations

import numpy as np
import pytest

from gazelib.data.fixations import Scanpath
from gazelib.papers.gradtrack.track_maps import (attention_from_distance, kept_count, track_distance, track_map, track_maps,
                                truncate)


def scanpath(x, y, start):
    x = np.asarray(x, float)
    return Scanpath("img", x, np.asarray(y, float), np.ones_like(x), np.asarray(start, float), 50, 50)


@pytest.mark.parametrize("n, ratio, expected", [(27, 0.5, 14), (27, 0.75, 21), (27, 1.0, 27), (4, 0.75, 3),
                                                (4, 0.5, 2), (3, 0.5, 2), (1, 0.5, 1), (10, 0.3, 3)])
def test_kept_count_rounds_up(n, ratio, expected):
    assert kept_count(n, ratio) == expected


def test_truncation_keeps_the_right_fixations_in_start_order():
    path = scanpath([0.1, 0.2, 0.3, 0.4, 0.5], [0.5] * 5, start=[0, 400, 100, 300, 200])
    # start-time order: fixations 0, 2, 4, 3, 1
    assert truncate(path, 0.5, "reverse").tolist() == [4, 3, 1]
    assert truncate(path, 0.5, "sequential").tolist() == [0, 2, 4]
    assert truncate(path, 0.5, "none").tolist() == [0, 2, 4, 3, 1]
    with pytest.raises(ValueError, match="truncation"):
        truncate(path, 0.5, "forward")


def brute_force(points, height, width, track):
    rows, cols = np.mgrid[:height, :width]
    pixels = np.stack([rows + 0.5, cols + 0.5], -1).reshape(-1, 1, 2)
    vertices = np.asarray(points) * (height, width)
    if track == "polyline":   # 20001 samples per segment: sampling error < 1e-3 px
        t = np.linspace(0, 1, 20001)[:, None]
        vertices = np.concatenate([a + t * (b - a) for a, b in zip(vertices[:-1], vertices[1:])])
    return np.sqrt(((pixels - vertices[None]) ** 2).sum(-1)).min(1).reshape(height, width)


@pytest.mark.parametrize("track", ["polyline", "points"])
def test_distance_equals_brute_force_on_a_tiny_grid(track):
    points = [(0.1, 0.2), (0.8, 0.3), (0.5, 0.9), (0.5, 0.9)]   # includes a zero-length segment
    exact = track_distance(points, 7, 9, track, grid=None)
    np.testing.assert_allclose(exact, brute_force(points, 7, 9, track), atol=2e-3)


def test_distance_is_measured_in_pixels_of_the_grid():
    points = [(0.25, 0.25), (0.75, 0.6)]
    own = track_distance(points, 12, 16, "polyline", grid=None)
    np.testing.assert_allclose(track_distance(points, 12, 16, "polyline", grid=(24, 32)), 2 * own, rtol=1e-5)
    # a 224 grid on a 448 image: one grid pixel is two image pixels
    assert track_distance([(0.5, 0.5)], 448, 448, "points", grid=(224, 224))[224, 300] == pytest.approx(
        np.hypot(0.25, 38.25), rel=1e-5)  # pixel centre (224.5, 300.5) -> grid (112.25, 150.25)


def test_tau_zeroes_exactly_where_the_decay_is_at_most_tau():
    beta, tau = 10.0, 0.25
    edge = -beta * np.log(tau)
    distance = np.array([0.0, 5.0, edge - 1e-6, edge, edge + 1e-6, 40.0])
    attention = attention_from_distance(distance, beta, tau)
    decay = np.exp(-distance / beta)
    assert ((attention == 0) == (decay <= tau)).all()
    np.testing.assert_allclose(attention[decay > tau], decay[decay > tau], rtol=1e-6)
    assert attention[0] == 1.0


def test_track_map_on_a_real_size_image():
    path = scanpath([0.2, 0.8], [0.5, 0.5], start=[0, 100])
    full = track_map(path, 50, 100, 1.0, beta=10, tau=0.25, grid=None)
    last = track_map(path, 50, 100, 0.5, beta=10, tau=0.25, grid=None)
    assert full[25, 50] == pytest.approx(np.exp(-0.5 / 10), rel=1e-5)   # on the segment (row centre 25.5)
    assert last[25, 50] == 0 and last[25, 80] == pytest.approx(np.exp(-np.hypot(0.5, 0.5) / 10), rel=1e-5)


@pytest.mark.parametrize("truncation", ["reverse", "sequential", "none"])
@pytest.mark.parametrize("track", ["polyline", "points"])
def test_one_sweep_equals_eq1_and_eq2_on_each_truncated_track(truncation, track):
    rng = np.random.default_rng(0)
    path = scanpath(rng.uniform(0, 1, 9), rng.uniform(0, 1, 9), start=rng.permutation(9) * 100.0)
    maps = track_maps(path, 60, 80, (0.5, 0.75, 1.0), beta=10, tau=0.25, truncation=truncation, track=track)
    for ratio, got in zip((0.5, 0.75, 1.0), maps):
        kept = truncate(path, ratio, truncation)
        distance = track_distance(np.stack([path.y[kept], path.x[kept]], 1), 60, 80, track)
        np.testing.assert_allclose(got, attention_from_distance(distance, 10, 0.25), atol=1e-5)


def test_track_maps_on_the_training_grid_keep_the_tau_cut_off():
    # built directly on the S x S grid (cache parameter ``size``), eq. (2) holds on every pixel:
    # G is 0 or > tau, never in (0, tau] as an antialiased resize of an image-size map would give
    from gazelib.gaze import cache

    sp = Scanpath("x", np.array([0.3, 0.6]), np.array([0.4, 0.5]), np.array([200.0, 300.0]),
                  np.array([0.0, 250.0]), 480, 640)

    class One:
        name = "kvasir"

        def scanpath(self, image_id):
            return sp

    params = cache.resolve_params("kvasir", "track", {"size": 32})
    maps = cache.compute_map(One(), "track", "x", params)
    assert maps.shape == (3, 32, 32)
    tau = params["tau"]
    assert not ((maps > 0) & (maps <= tau)).any() and (maps > tau).any()
    assert np.array_equal(maps, track_maps(sp, 32, 32, (0.5, 0.75, 1.0), params["beta"], tau))
