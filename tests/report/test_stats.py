"""Confidence intervals and paired tests against cases worked out by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gazelib.report import stats

IDS = [f"img{i}" for i in range(6)]


def _scores(values, ids=IDS) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=ids)


def test_wilcoxon_exact_on_six_images_by_hand():
    # differences a - b = 0.01 * [1, -2, 3, 4, 5, 6]: |d| ranks 1..6, the only negative has rank 2,
    # so W- = 2, W+ = 19, T = min = 2. Under H0 each of the 2^6 = 64 sign patterns is equally likely;
    # the patterns with W- <= 2 are {} (0), {1} (1), {2} (2): 3 of 64. Two-sided p = 2 * 3/64 = 0.09375.
    b = _scores([0.5] * 6)
    a = b + 0.01 * np.array([1, -2, 3, 4, 5, 6])
    result = stats.paired_test(a, b)
    assert result.statistic == 2.0
    assert result.p_value == pytest.approx(6 / 64)
    assert (result.n_images, result.n_nonzero, result.method) == (6, 6, "exact")
    assert result.mean_difference == pytest.approx(0.01 * 17 / 6)
    assert not result.underpowered


def test_wilcoxon_all_one_way_and_zeros_dropped():
    # six positive differences: only the all-positive pattern has W- = 0 -> p = 2 * 1/64.
    # A seventh image with equal scores has no sign and is dropped (n stays 6).
    ids = [*IDS, "tie"]
    b = _scores([0.4] * 7, ids)
    a = b + np.array([0.05, 0.01, 0.02, 0.03, 0.04, 0.06, 0.0])
    result = stats.paired_test(a, b)
    assert (result.statistic, result.n_images, result.n_nonzero) == (0.0, 7, 6)
    assert result.p_value == pytest.approx(2 / 64)
    assert stats.paired_test(b, a).p_value == pytest.approx(2 / 64)   # two-sided: symmetric


def test_wilcoxon_edge_cases():
    same = _scores([0.7, 0.2, 0.9, 0.1, 0.5, 0.3])
    assert stats.paired_test(same, same.copy()).p_value == 1.0
    five = same.iloc[:5]
    few = stats.paired_test(five + 0.01 * np.arange(1, 6), five)   # 5 images, all one way: p = 2/32
    assert few.underpowered and few.p_value == pytest.approx(2 / 32)
    with pytest.raises(ValueError, match="same test images"):
        stats.paired_test(same, same.rename(index={"img0": "other"}))


def test_bootstrap_ci_by_hand():
    # constant scores: every resample has the same mean -> zero-width interval
    low, high = stats.bootstrap_ci([0.42] * 10)
    assert low == high == pytest.approx(0.42)
    # two images scoring 0 and 1: a resample's mean is 0, 1/2 or 1 with probability 1/4, 1/2, 1/4;
    # the 2.5th and 97.5th percentiles are therefore 0 and 1
    assert stats.bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    # seeded: the same interval every time, inside the range and around the mean
    values = np.random.default_rng(3).uniform(0.2, 0.9, 50)
    low, high = stats.bootstrap_ci(values)
    assert (low, high) == stats.bootstrap_ci(values)
    assert values.min() < low < values.mean() < high < values.max()
    with pytest.raises(ValueError):
        stats.bootstrap_ci([])


def test_seed_average_before_bootstrap():
    per_seed = {0: {"a": 0.2, "b": 0.6}, 1: {"a": 0.4, "b": 0.8}}
    assert stats.seed_averaged(per_seed).to_dict() == pytest.approx({"a": 0.3, "b": 0.7})
    with pytest.raises(ValueError, match="different test images"):
        stats.seed_averaged({0: {"a": 0.2}, 1: {"b": 0.3}}, where="VAM")


def test_markers_and_p_format():
    assert [stats.significance(p) for p in (0.0005, 0.005, 0.03, 0.2, float("nan"))] == ["***", "**", "*", "n.s.", ""]
    assert [stats.format_p(p) for p in (0.0002, 0.09375, float("nan"))] == ["<0.001", "0.094", ""]
