"""The gap ledger from small synthetic records, against numbers worked out by hand."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from gazelib.report import ledger
from gazelib.runs import records as results
from tests.runs.test_records import sound_record


def _score(tp, fp, fn, hd95=1.0):
    total, union = 2 * tp + fp + fn, tp + fp + fn
    return {"dice": 1.0 if not total else 2 * tp / total, "iou": 1.0 if not union else tp / union, "hd95": hd95,
            "tp": tp, "fp": fp, "fn": fn}


def _write(method, seed, scores, history=None):
    selection = {"mode": "final", "iteration": 2, **({"test_every": 1, "test_dice_history": history} if history else {})}
    record = sound_record(f"{method}-kvasir-0123456789-d00000000-s{seed}", method=method, seed=seed, scores=scores,
                          selection=selection)
    return str(results.write_record(record))


@pytest.fixture
def table():
    a0 = _write("full", 0, {"x": _score(8, 2, 2), "y": _score(30, 0, 10)},                 # pooled 76 / 90
                [[1, 0.5, 0.6], [2, 0.7, 0.72], [3, 0.7, 0.71]])                              # best 0.7 at 2
    a1 = _write("full", 1, {"x": _score(10, 0, 0), "y": _score(0, 5, 5)}, [[1, 0.9, 0.9], [2, 0.8, 0.8]])  # 20/30
    b0 = _write("vam", 0, {"x": {"dice": 0.5, "iou": 0.25, "hd95": 3.0}, "y": {"dice": 1.0, "iou": 1.0, "hd95": 0.0}})
    runs = pd.DataFrame({"label": ["A", "A", "B"], "method": ["full", "full", "vam"], "seed": [0, 1, 0],
                         "record": [a0, a1, b0]})
    measured = pd.DataFrame({"label": ["A", "B", "not in the paper"], "dice_mean": [60.0, 75.0, 1.0],
                             "dice_ci_low": [50.0, 70.0, 0.0], "dice_ci_high": [70.0, 80.0, 2.0], "seeds": [2, 1, 1]})
    ceilings = pd.DataFrame({"method": ["full", "full", "vam", "vam", "full"], "split": ["test"] * 4 + ["train"],
                             "size": [64, 64, 64, 224, 64], "target": ["t1", "t2", "v", "v", "t3"],
                             "dice_mean": [98.0, 90.0, 74.0, 99.0, 99.5]})
    p0 = _write("full", 7, {"x": {"dice": 0.5, "iou": 0.25, "hd95": 3.0}, "y": {"dice": 1.0, "iou": 1.0, "hd95": 0.0}})
    paper_scale = pd.DataFrame({"label": ["A"], "dice": [0.85], "record": [p0]})
    return ledger.gap_ledger(runs, measured, pd.Series({"A": 80.0, "B": 70.0}), "laptop", 64, ceilings, paper_scale)


def test_ledger_values_by_hand(table):
    assert list(table.row) == ["A", "B"]                                   # rows the paper quotes
    a, b = table.iloc[0], table.iloc[1]
    assert a.pooled == pytest.approx(100 * (76 / 90 + 20 / 30) / 2)
    assert a.best_on_test_OPTIMISTIC == pytest.approx(100 * (0.7 + 0.9) / 2) and a.best_iteration == "2, 1"
    assert (a.ceiling, a.ceiling_target) == (98.0, "t1")                   # the best target, test split, size 64
    assert a.paper_scale == pytest.approx(85.0)
    assert a.missing == ("paper scale: pooled: records without pixel counts; best-on-test: no test evaluations "
                         "during training")                                  # what the paper-scale record lacks
    assert a.paper_scale_seeds == 1 and b.paper_scale_seeds == 0
    assert math.isnan(b.pooled) and math.isnan(b.best_on_test_OPTIMISTIC) and math.isnan(b.paper_scale)
    assert (b.ceiling, b.ceiling_target) == (74.0, "v")
    assert b.missing == "pooled: records without pixel counts; best-on-test: no test evaluations during training"


def test_readings_are_written_from_the_numbers(table):
    a, b = table.reading
    assert a.startswith("A: the paper reports 80.0; measured under `laptop`, final checkpoint, mean per-image "
                        "Dice: 60.0 (95 % CI 50.0-70.0, 2 seed(s)), -20.0 from the paper.")
    assert f"gives {100 * (76 / 90 + 20 / 30) / 2:.1f} (+{100 * (76 / 90 + 20 / 30) / 2 - 60:.1f})" in a
    assert "(OPTIMISTIC: the test set picks the checkpoint) gives 80.0 (+20.0)" in a
    assert "Its training target (t1) itself scores 98.0 on the test images; the paper's value is 18.0 below that " \
           "ceiling, ours -38.0 from it." in a
    assert "At `paper` scale: 85.0 (1 seed(s), +5.0 from the paper)." in a
    assert "Pooling" not in b and "OPTIMISTIC" not in b and "Missing: pooled: records without pixel counts" in b


def test_written_ledger_shows_a_dash_where_records_cannot_give_a_value(table):
    csv, md = ledger.write_gap_ledger(table, "kvasir", "laptop")
    assert csv.name == "gap_ledger_kvasir_laptop.csv" and md.name == "gap_ledger_kvasir_laptop.md"
    text = md.read_text()
    row_b = next(line for line in text.splitlines() if line.startswith("| B |"))
    assert row_b.startswith("| B | 70.0 | 75.0 | 70.0 | 80.0 | 1 | — | — | — | 74.0 | v | — | 0 |")
    assert "Missing pooled (records without pixel counts): records written before per-image pixel counts" in text
    assert pd.read_csv(csv).pooled.isna().tolist() == [False, True]


def test_no_paper_scale_records_leave_the_column_empty(table):
    runs = pd.DataFrame({"label": ["B"], "method": ["vam"], "seed": [0], "record": [
        _write("vam", 3, {"x": {"dice": 0.5, "iou": 0.25, "hd95": 3.0}, "y": {"dice": 1.0, "iou": 1.0, "hd95": 0.0}})]})
    measured = pd.DataFrame({"label": ["B"], "dice_mean": [75.0], "dice_ci_low": [70.0], "dice_ci_high": [80.0],
                             "seeds": [1]})
    alone = ledger.gap_ledger(runs, measured, pd.Series({"B": 70.0}), "smoke", 64, None, pd.DataFrame())
    assert math.isnan(alone.paper_scale.iloc[0]) and math.isnan(alone.ceiling.iloc[0])   # run_grid found none
