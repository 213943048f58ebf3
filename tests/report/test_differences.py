"""The differences list: one place, rendered per lesson, pointing at records that exist."""
from __future__ import annotations

from pathlib import Path

import pytest

from gazelib.report import differences

REPO = Path(__file__).resolve().parents[2]


def test_every_lesson_has_a_list_and_measured_records_exist():
    for lesson in differences.ALL:
        text = differences.render(lesson)
        assert text.startswith("### Where this differs from the paper")
        assert text.count("\n| **") == len(differences.differences(lesson)) > 0
    assert "Selective attention" in differences.render("05") and "Selective attention" not in differences.render("03")
    for entry in differences.DIFFERENCES:
        assert not entry.measured or (REPO / entry.measured).is_file(), entry.measured
    with pytest.raises(ValueError, match="unknown lesson"):
        differences.render("07")


def test_the_authors_loop_is_listed_while_it_differs_from_the_defaults(monkeypatch):
    text = differences.render("03")
    for key in ("schedule", "resize_antialias", "drop_last"):
        assert f"GazeMedSeg training loop: `{key}`" in text
    monkeypatch.setattr(differences, "AUTHORS_LOOP", {"schedule": "cosine", "drop_last": True})   # defaults
    assert differences.authors_loop_differences() == ()


def test_summed_lr_gap_by_hand():
    """226 iterations, 113 batches per epoch: the authors run both epochs at epoch 1's rate of 3 epochs,
    1e-4 + 0.0099 (1 + cos(pi/3)) / 2 = 0.007525; per iteration the sum is 226e-4 + 0.0099 (113 + 1/2),
    since sum_{t<N} cos(pi t / N) = 1."""
    theirs, ours = 226 * 0.007525, 226e-4 + 0.0099 * 113.5
    assert differences.summed_lr_gap(226) == pytest.approx(100 * (theirs / ours - 1), rel=1e-9)
