"""Metrics against hand-computed cases."""
import math

import numpy as np
import pytest
from scipy import ndimage

from gazelib.core import metrics


def blank(h=8, w=8):
    return np.zeros((h, w), dtype=bool)


def test_dice_iou_hand_computed():
    pred, truth = blank(), blank()
    pred[1:3, 1:3] = True          # 4 pixels
    truth[1:3, 1:4] = True         # 6 pixels, 4 shared
    assert metrics.dice(pred, truth) == pytest.approx(2 * 4 / (4 + 6))
    assert metrics.iou(pred, truth) == pytest.approx(4 / 6)


def test_hd95_two_pixels_at_distance_5():
    pred, truth = blank(), blank()
    pred[0, 0] = True
    truth[3, 4] = True
    assert metrics.hd95(pred, truth) == pytest.approx(5.0)


def test_hd95_is_percentile_of_pooled_distances():
    pred, truth = blank(4, 12), blank(4, 12)
    pred[0, 0] = True
    truth[0, 0] = truth[0, 10] = True
    # pred -> truth: [0]; truth -> pred: [0, 10]; 95th percentile of [0, 0, 10] = 0 + 0.9 * 10
    assert metrics.hd95(pred, truth) == pytest.approx(9.0)


def test_hd95_matches_brute_force_on_shapes():
    rng = np.random.default_rng(1)
    pred = ndimage.binary_dilation(rng.random((20, 24)) > 0.97, iterations=2)
    truth = ndimage.binary_dilation(rng.random((20, 24)) > 0.97, iterations=3)

    def edge(m):   # pixels with a 4-neighbour outside (or the image border)
        p = np.pad(m, 1)
        inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
        return np.argwhere(m & ~inner)

    a, b = edge(pred), edge(truth)
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    expected = np.percentile(np.concatenate([d.min(1), d.min(0)]), 95)
    assert metrics.hd95(pred, truth) == pytest.approx(expected)


def test_empty_conventions():
    empty, some = blank(6, 8), blank(6, 8)
    some[2, 2] = True
    assert metrics.scores(empty, empty) == {"dice": 1.0, "iou": 1.0, "hd95": 0.0}
    assert metrics.scores(empty, some) == {"dice": 0.0, "iou": 0.0, "hd95": pytest.approx(math.hypot(6, 8))}


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        metrics.dice(blank(4, 4), blank(4, 5))
