"""Hand-computed checks of the VAM, the CRF, the pseudo-masks and the SAN target."""
from __future__ import annotations

import numpy as np
import pytest

from gazelib.data.fixations import Scanpath
from gazelib.gaze.crf import crf_refine, to_rgb_uint8
from gazelib.gaze.heatmap import cubic_resize_matrix, vam, soft_vam
from gazelib.papers.gazemedseg.pseudo_masks import LEVELS, levels_for, pseudo_masks
from gazelib.papers.gradtrack.paper import UNDER_ACTIVATION
from gazelib.papers.selective_attention.gaze_target import san_target


def scanpath(x, y, duration=None, start=None, size=(100, 100)):
    x, y = np.asarray(x, float), np.asarray(y, float)
    duration = np.ones_like(x) if duration is None else np.asarray(duration, float)
    start = np.arange(len(x), dtype=float) if start is None else np.asarray(start, float)
    return Scanpath("img", x, y, duration, start, *size)


def test_single_fixation_is_the_analytic_gaussian_at_the_authors_pixel():
    canvas, sigma = 64, 3.0
    # (round(0.25 * 64) - 1, round(0.5 * 64) - 1) = (15, 31)
    heat = vam(scanpath([0.5], [0.25]), canvas, canvas, sigma, canvas=canvas)  # same size: resize is identity
    assert np.unravel_index(heat.argmax(), heat.shape) == (15, 31)
    rows, cols = np.mgrid[:canvas, :canvas]
    analytic = np.exp(-((rows - 15) ** 2 + (cols - 31) ** 2) / (2 * sigma**2))
    window = (abs(rows - 15) <= 12) & (abs(cols - 31) <= 12)  # scipy truncates at 4 sigma
    np.testing.assert_allclose(heat[window], analytic[window], atol=1e-6)
    assert heat[~window].max() == 0


def test_durations_weight_the_peaks_and_duplicates_accumulate():
    heat = vam(scanpath([0.2, 0.8], [0.5, 0.5], duration=[100, 300]), 64, 64, 2.0, canvas=64)
    assert heat[31, 12] == pytest.approx(1 / 3, abs=1e-6)  # round(12.8)-1 = 12, round(51.2)-1 = 50
    assert heat[31, 50] == pytest.approx(1.0)
    twice = vam(scanpath([0.2, 0.8, 0.2, 0.2], [0.5] * 4, duration=[100, 300, 100, 100]), 64, 64, 2.0, canvas=64)
    assert twice[31, 12] == pytest.approx(1.0) and twice[31, 50] == pytest.approx(1.0)


def test_index_minus_one_wraps_to_the_last_column_like_numpy():
    heat = vam(scanpath([0.0], [0.5]), 64, 64, 2.0, canvas=64)  # round(0) - 1 = -1 -> column 63
    assert np.unravel_index(heat.argmax(), heat.shape) == (31, 63)


def test_cubic_resize_matrix_matches_opencv_keys_kernel():
    assert np.allclose(cubic_resize_matrix(5, 5), np.eye(5))
    upsampled = cubic_resize_matrix(8, 4) @ np.array([0.0, 0.0, 1.0, 1.0])
    # output 3: source 1.25, t = 0.25, A = -0.75 -> w = (-0.10546875, 0.87890625, 0.26171875, -0.03515625)
    assert upsampled[3] == pytest.approx(0.26171875 - 0.03515625)
    assert np.allclose(cubic_resize_matrix(7, 19).sum(1), 1)


def test_vam_resizes_to_the_image_and_stays_in_unit_range():
    heat = vam(scanpath([0.3, 0.6], [0.4, 0.7], duration=[200, 250]), 53, 71, 70.0)
    assert heat.shape == (53, 71) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1 and heat.max() > 0.99


def test_vam_without_fixations_fails_naming_the_image():
    with pytest.raises(ValueError, match="img"):
        vam(scanpath([], []), 10, 10, 5.0)


def test_soft_vam_zeroes_below_the_floor():
    heat = np.array([0.2, 0.5, 0.49, 0.9], np.float32)
    assert soft_vam(heat).tolist() == pytest.approx([0.0, 0.5, 0.0, 0.9])


def test_pseudo_masks_threshold_inclusively():
    crf = np.array([[0.1, 0.3], [0.5, 0.8]])
    masks = pseudo_masks(crf, levels_for("kvasir", 2))
    assert masks.tolist() == [[[False, False], [True, True]], [[False, True], [True, True]]]
    assert levels_for("nci_isbi", 2) == (0.2, 0.4) and LEVELS["kvasir"][5] == (0.5, 0.3, 0.35, 0.4, 0.45)
    assert UNDER_ACTIVATION == 0.7
    with pytest.raises(KeyError, match="6-level"):
        levels_for("kvasir", 6)


def test_to_rgb_uint8_minmax_truncates_like_the_authors():
    rgb = to_rgb_uint8(np.array([[0.0, 1.0], [2.0, 4.0]]))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].tolist() == [[0, 63], [127, 255]] and (rgb[..., 0] == rgb[..., 2]).all()


def test_crf_pulls_the_marginal_to_the_colour_edge():
    image = np.zeros((40, 40, 3), np.uint8)
    image[:, 20:] = 255                               # edge at column 20
    heat = np.full((40, 40), 0.2, np.float32)
    heat[:, :25] = 0.8                                # the gaze blob spills 5 columns past the edge
    refined = crf_refine(image, heat)
    flat = crf_refine(np.full_like(image, 128), heat)
    spill = np.s_[:, 20:25]
    # against a featureless image, the edge pulls the spill towards the white background
    # (0.72 vs 0.83 here) and makes the black side more confident (0.90 vs 0.83)
    assert refined[spill].mean() < flat[spill].mean() - 0.05
    assert refined[:, :20].mean() > flat[:, :20].mean() + 0.03
    assert refined[:, 25:].mean() < flat[:, 25:].mean() - 0.03
    assert refined.shape == heat.shape and refined.dtype == np.float32


def test_crf_scale_switch_returns_full_size_and_checks_inputs():
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, 30:] = 255
    heat = np.full((40, 60), 0.3, np.float32)
    heat[:, :30] = 0.7
    half = crf_refine(image, heat, scale=0.5)
    assert half.shape == (40, 60) and (half[:, :25] > 0.5).all() and (half[:, 35:] < 0.5).all()
    with pytest.raises(ValueError, match="differs"):
        crf_refine(image, heat[:10])


def test_san_target_is_an_unweighted_gaussian_sum_peaking_at_one():
    sigma = 1.5
    target = san_target(scanpath([8.5 / 16], [4.5 / 16]), 16, 16, sigma)   # centre of pixel (4, 8)
    assert target[4, 8] == pytest.approx(1.0)
    assert target[4, 9] == pytest.approx(np.exp(-1 / (2 * sigma**2)), rel=1e-6)
    assert target[6, 8] == pytest.approx(np.exp(-4 / (2 * sigma**2)), rel=1e-6)
    two = san_target(scanpath([2.5 / 16, 12.5 / 16], [8.5 / 16] * 2, duration=[50, 900]), 16, 16, 1.0)
    assert two[8, 2] == pytest.approx(two[8, 12], rel=1e-6)   # durations do not weight the SAN target


def test_nci_isbi_level_sets_follow_the_authors_kvasir_rule():
    # only Kvasir's 1..5-level sets and NCI-ISBI's 2-level set are the authors'; the rule behind the
    # Kvasir sets (pair, then evenly spaced levels between) rebuilds them and extends NCI-ISBI's pair
    from gazelib.papers.gazemedseg.pseudo_masks import _spread

    assert {n: _spread((0.5, 0.3), n) for n in range(1, 6)} == LEVELS["kvasir"]
    assert LEVELS["nci_isbi"][2] == (0.2, 0.4) and LEVELS["nci_isbi"][3] == (0.2, 0.4, 0.3)
    assert LEVELS["nci_isbi"][5] == (0.2, 0.4, 0.25, 0.3, 0.35)
