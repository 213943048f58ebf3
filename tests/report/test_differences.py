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
