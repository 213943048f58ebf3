"""The one aggregator and the claim verdicts, on run records with fixed per-image scores."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gazelib.runs import records as results

from gazelib.report import stats

from gazelib.report import summary
from tests.runs.test_records import sound_record

IMAGES = [f"img{i}" for i in range(8)]
BASE = np.array([0.50, 0.62, 0.41, 0.77, 0.58, 0.66, 0.35, 0.70])


def _record(label: str, seed: int, dice, selection: str = "final") -> dict:
    scores = {image: {"dice": float(d), "iou": float(d) / 2, "hd95": 3.0} for image, d in zip(IMAGES, dice)}
    record = sound_record(f"m-kvasir-{label}-s{seed}", seed=seed, scores=scores, selection={"mode": selection},
                          config={"method": "m", "dataset": "kvasir", "seed": seed, "iterations": 2})
    path = results.write_record(record)
    return {"label": label, "seed": seed, "run_id": record.run_id, "dice": record.summary["dice_mean"],
            "iou": record.summary["iou_mean"], "hd95": record.summary["hd95_mean"], "device": "cpu",
            "selection": selection, "record": str(path)}


@pytest.fixture
def runs() -> pd.DataFrame:
    up = 0.01 * np.arange(1, 9)     # every image better by a different amount
    mixed = 0.01 * np.array([1, -2, 3, -4, 5, -6, 7, -8])
    rows = [_record("base", 0, BASE), _record("base", 1, BASE + 0.02),
            _record("better", 0, BASE + up), _record("better", 1, BASE + up + 0.02),
            _record("worse", 0, BASE - up), _record("worse", 1, BASE - up + 0.02),
            _record("same-ish", 0, BASE + mixed), _record("same-ish", 1, BASE + mixed + 0.02),
            _record("tuned", 0, BASE, selection="best_on_test")]
    return pd.DataFrame(rows)


def test_summarize_columns_by_hand(runs):
    table = summary.summarize(runs, compare={"better": "base", "worse": "base"}).set_index("label")
    base = table.loc["base"]
    # seed means are mean(BASE) and mean(BASE) + 0.02: mean +0.01, std (ddof 1) 0.02 / sqrt(2), in percent
    assert base.seeds == 2
    assert base.dice_mean == pytest.approx(100 * (BASE.mean() + 0.01))
    assert base.dice_std == pytest.approx(100 * 0.02 / np.sqrt(2))
    low, high = stats.bootstrap_ci(BASE + 0.01)          # per image averaged over seeds, then resampled
    assert (base.dice_ci_low, base.dice_ci_high) == pytest.approx((100 * low, 100 * high))
    # 8 images all better: only one of 2^8 sign patterns is as extreme on each side -> p = 2 / 256
    assert table.loc["better", "vs"] == "base" and table.loc["better", "p_value"] == pytest.approx(2 / 256)
    assert table.loc["better", "delta"] == pytest.approx(100 * 0.01 * 4.5)
    assert table.loc["worse", "p_value"] == pytest.approx(2 / 256) and table.loc["worse", "delta"] < 0
    assert np.isnan(table.loc["base", "p_value"]) and table.loc["base", "vs"] == ""
    assert summary.markers(table.reset_index()) == {"better": "**", "worse": "**"}
    assert "tuned" + summary.OPTIMISTIC in table.index          # best-on-test rows are marked


def test_claim_verdicts(runs):
    claims = [summary.Claim("better", "base", "paper"), summary.Claim("base", "worse", "paper"),
              summary.Claim("worse", "base", "paper"), summary.Claim("same-ish", "base", "paper"),
              summary.Claim("base", "not measured", "paper")]
    verdicts = summary.claim_verdicts(runs, claims)
    assert verdicts.verdict.tolist() == ["supported", "supported", "reversed", "not supported"]
    text = summary.verdict_sentences(verdicts)
    assert text.startswith("Of 4 claims checked: 2 supported, 1 not supported, 1 reversed.")
    assert "**better > base** (paper): **supported** (Δ = +4.5 Dice points, p = 0.008, 8 test images)" in text


def test_chain_and_versus():
    assert [(c.better, c.worse) for c in summary.chain(["a", "b", "c"], "s")] == [("b", "a"), ("c", "b")]
    assert [(c.better, c.worse) for c in summary.versus("b", ["a", "b", "c"], "s")] == [("b", "a"), ("b", "c")]
