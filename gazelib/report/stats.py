"""How sure a table is: bootstrap confidence intervals and paired tests on per-image scores.

The unit of resampling is the TEST IMAGE. With several seeds, each image's score is first averaged
over the seeds (``seed_averaged``), then the images are resampled: the interval says how much the
mean would move on another draw of test images from the same population, for this training recipe
averaged over its seed noise. (Resampling seeds too would need more than the papers' three seeds to
mean anything; the seed-to-seed spread is reported separately, as the std over seeds.)

* ``bootstrap_ci``: percentile bootstrap of the mean, seeded (same numbers on every run).
* ``paired_test``: two rows measured on the same test images, compared image by image with the
  Wilcoxon signed-rank test (two-sided, scipy). Images whose seed-averaged scores are equal (a zero
  difference) carry no sign and are dropped first (Wilcoxon's original rule). The exact null
  distribution is used when at most 50 non-zero differences remain and their sizes are all distinct;
  otherwise the normal approximation with scipy's tie correction (tied sizes share their average
  rank); the result says which. Every difference zero gives p = 1 (no evidence of any difference). With
  fewer than 6 non-zero differences no two-sided p-value can fall below 0.05 (the smallest is
  2 / 2^n = 0.0625 at n = 5): the test is reported, and ``underpowered`` says so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

RESAMPLES = 10_000
LEVEL = 0.95
BOOTSTRAP_SEED = 0
ALPHA = 0.05
EXACT_UP_TO = 50      # non-zero differences up to which the exact null distribution is used
MIN_INFORMATIVE = 6   # fewest non-zero differences for which a two-sided Wilcoxon p can be < 0.05


def seed_averaged(per_seed: dict[int, dict[str, float]], where: str = "") -> pd.Series:
    """Per-image score averaged over seeds: ``{seed: {image id: score}}`` -> Series indexed by image id.

    Every seed must have scored the same images: a mismatch is an error (naming ``where``), not a
    silent average over whatever overlaps."""
    if not per_seed:
        raise ValueError(f"no runs to average{' for ' + where if where else ''}")
    table = pd.DataFrame(per_seed)
    if table.isna().any().any():
        missing = {seed: sorted(table.index[table[seed].isna()])[:3] for seed in table.columns if table[seed].isna().any()}
        raise ValueError(f"the seeds of {where or 'a row'} were scored on different test images "
                         f"(missing, first few per seed: {missing})")
    return table.mean(axis=1).sort_index()


def bootstrap_ci(values, resamples: int = RESAMPLES, level: float = LEVEL,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per test image).

    ``resamples`` sets of len(values) images are drawn with replacement (``numpy`` generator seeded
    with ``seed``); the interval is the (1 - level) / 2 and (1 + level) / 2 percentiles of their means.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"bootstrap_ci needs a non-empty 1-d array of per-image scores, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("bootstrap_ci: the scores contain NaN")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // values.size)   # bounded memory for large test sets
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = values[rng.integers(0, values.size, (stop - start, values.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedTest:
    statistic: float      # Wilcoxon T = min(W+, W-), the smaller signed-rank sum
    p_value: float        # two-sided
    n_images: int         # images common to both rows
    n_nonzero: int        # images with a non-zero difference (the ones the test uses)
    mean_difference: float  # mean over images of a - b
    method: str           # "exact" | "approx" | "all equal"

    @property
    def underpowered(self) -> bool:
        return self.n_nonzero < MIN_INFORMATIVE


def paired_test(a: pd.Series, b: pd.Series) -> PairedTest:
    """Wilcoxon signed-rank test of ``a - b`` over the images both were scored on (module docstring).

    ``a`` and ``b`` are per-image scores indexed by image id (``seed_averaged``); they must cover the
    same images (a comparison on different test sets is an error)."""
    from scipy.stats import wilcoxon

    if set(a.index) != set(b.index):
        only = sorted(set(a.index) ^ set(b.index))[:3]
        raise ValueError(f"paired_test: the two rows were not scored on the same test images (e.g. {only})")
    if len(a) == 0:
        raise ValueError("paired_test: no test images")
    diff = (a - b.reindex(a.index)).to_numpy(dtype=float)
    nonzero = int(np.count_nonzero(diff))
    if nonzero == 0:
        return PairedTest(0.0, 1.0, len(diff), 0, 0.0, "all equal")
    kept = diff[diff != 0]
    tied = len(np.unique(np.abs(kept))) < len(kept)
    method = "exact" if len(kept) <= EXACT_UP_TO and not tied else "approx"
    result = wilcoxon(kept, alternative="two-sided", method=method)
    return PairedTest(float(result.statistic), float(result.pvalue), len(diff), nonzero, float(diff.mean()), method)


def significance(p: float) -> str:
    """Marker for a figure: *** p < 0.001, ** p < 0.01, * p < 0.05, n.s. otherwise; '' when untested."""
    if p is None or np.isnan(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < ALPHA else "n.s."


def format_p(p: float) -> str:
    """A p-value for a table: '<0.001', or three decimals; '' when untested."""
    if p is None or np.isnan(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"
