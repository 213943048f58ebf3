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
    assert metrics.scores(empty, empty) == {"dice": 1.0, "iou": 1.0, "hd95": 0.0, "tp": 0, "fp": 0, "fn": 0}
    assert metrics.scores(empty, some) == {"dice": 0.0, "iou": 0.0, "hd95": pytest.approx(math.hypot(6, 8)),
                                           "tp": 0, "fp": 0, "fn": 1}


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        metrics.dice(blank(4, 4), blank(4, 5))


def test_counts_give_the_same_dice_and_iou_as_the_masks():
    pred, truth = blank(), blank()
    pred[1:3, 1:3] = True          # 4 pixels
    truth[1:3, 1:4] = True         # 6 pixels, 4 shared
    assert metrics.counts(pred, truth) == {"tp": 4, "fp": 0, "fn": 2}
    assert metrics.dice_of_counts(4, 0, 2) == metrics.dice(pred, truth) == 8 / 10   # the same float
    assert metrics.iou_of_counts(4, 0, 2) == metrics.iou(pred, truth) == 4 / 6
    assert metrics.dice_of_counts(0, 0, 0) == metrics.iou_of_counts(0, 0, 0) == 1.0


# three images by hand: truth areas 10, 2 and 40 pixels
THREE = {"a": {"tp": 8, "fp": 2, "fn": 2},      # Dice 16/20 = 0.8
         "b": {"tp": 0, "fp": 3, "fn": 2},      # Dice 0
         "c": {"tp": 30, "fp": 0, "fn": 10}}    # Dice 60/70


def test_mean_and_pooled_dice_by_hand():
    assert metrics.mean_dice(THREE) == pytest.approx((0.8 + 0 + 60 / 70) / 3)
    # pooled: tp 38, fp 5, fn 14 -> 76 / (76 + 19); IoU 38 / 57
    assert metrics.pooled_dice(THREE) == pytest.approx(76 / 95)
    assert metrics.pooled_iou(THREE) == pytest.approx(38 / 57)
    assert metrics.truth_areas(THREE) == {"a": 10, "b": 2, "c": 40}


def test_size_strata_split_at_the_median_area():
    strata = metrics.size_strata(THREE)           # median area 10: small = a, b; large = c
    assert strata["median_area"] == 10
    assert strata["small"] == {"images": 2, "mean_dice": pytest.approx(0.4), "pooled_dice": pytest.approx(16 / 25)}
    assert strata["large"] == {"images": 1, "mean_dice": pytest.approx(60 / 70), "pooled_dice": pytest.approx(60 / 70)}
    row = metrics.conventions(THREE)
    assert row["images"] == 3 and row["small_images"] == 2 and row["large_pooled_dice"] == pytest.approx(60 / 70)


def test_a_score_without_counts_is_named():
    with pytest.raises(ValueError, match="1 image\\(s\\) without pixel counts.*'x'.*--rescore"):
        metrics.pooled_dice({**THREE, "x": {"dice": 0.5, "iou": 0.3, "hd95": 2.0}})
