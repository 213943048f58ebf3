"""tools/flake_check.py: it finds a lesson's check cells, re-runs each under its seeds, and reports a
failing check as failed; it reads pytest-repeat's junit report back per test. Hand-made lessons, no data."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("flake_check_under_test", REPO / "tools" / "flake_check.py")
flake_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(flake_check)

LESSON = '''# %% [markdown]
# A lesson.

# %% tags=["parameters"]
profile = "laptop"

# %%
import torch
x = 1

# %% tags=["check"]
assert profile == "smoke"
y = 5

# %% tags=["check"]
torch.manual_seed(0)                     # shifted by the repetition's seed: fails at seed 3 only
assert torch.initial_seed() != 3

# %% tags=["check"]
x += 1                                   # each repetition starts from the namespace the check sees
assert x == 2, f"x is {x}"

# %%
assert y == 5                            # what a check defines reaches the cells after it

# %% tags=["check"]
raise AssertionError("deliberately failing")

# %%
raise RuntimeError("never reached: the runner stops after the last check")
'''


def test_finds_the_check_cells_and_reports_the_failing_ones(tmp_path):
    lesson = tmp_path / "99_fake.py"
    lesson.write_text(LESSON)
    threads = torch.get_num_threads()
    result = flake_check.run_lesson_checks(lesson, seeds=list(range(5)), threads=1, parameters={"profile": "smoke"})
    assert torch.get_num_threads() == threads                       # the caller's thread count is restored
    assert result["setup_error"] is None
    assert [c["line"] for c in result["checks"]] == [11, 15, 19, 26]
    failed = [[r["seed"] for r in c["runs"] if r["error"]] for c in result["checks"]]
    assert failed == [[], [3], [], [0, 1, 2, 3, 4]]
    assert result["checks"][3]["runs"][0]["error"] == "AssertionError: deliberately failing"

    rows = flake_check.summarise_lessons([result, {**result, "threads": 2}])
    assert [(r["check"], r["runs"], r["failures"]) for r in rows] == [
        ("notebooks/99_fake.py:11", 10, 0), ("notebooks/99_fake.py:15", 10, 2),
        ("notebooks/99_fake.py:19", 10, 0), ("notebooks/99_fake.py:26", 10, 10)]
    assert rows[1]["failed"] == [{"threads": 1, "seed": 3}, {"threads": 2, "seed": 3}]


def test_a_failing_cell_before_a_check_stops_the_lesson_and_fails_its_checks(tmp_path):
    lesson = tmp_path / "98_broken.py"
    lesson.write_text('# %%\nraise OSError("no data")\n\n# %% tags=["check"]\nassert True\n')
    result = flake_check.run_lesson_checks(lesson, seeds=[0, 1], threads=1)
    assert "OSError: no data" in result["setup_error"]
    (row,) = flake_check.summarise_lessons([result])
    assert row["runs"] == 0 and row["failures"] == 1 and "stopped before this check" in row["message"]


def test_seeds_a_check_sets_are_shifted_and_restored():
    import numpy as np

    expected = np.random.default_rng(8).integers(1 << 30)
    with flake_check.shifted_seeds(7):
        torch.manual_seed(1)
        assert torch.initial_seed() == 8
        assert np.random.default_rng(1).integers(1 << 30) == expected
    torch.manual_seed(1)
    assert torch.initial_seed() == 1


JUNIT = '''<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_plain[1-3]" time="0.1"/>
<testcase classname="tests.test_a" name="test_plain[2-3]" time="0.1"><failure message="assert 1 == 2">x</failure></testcase>
<testcase classname="tests.test_a" name="test_plain[3-3]" time="0.1"/>
<testcase classname="tests.test_a" name="test_param[a-b-1-3]" time="0.1"><error message="boom"/></testcase>
<testcase classname="tests.test_a" name="test_param[a-b-2-3]" time="0.1"><skipped message="no data"/></testcase>
<testcase classname="tests.test_a.TestGroup" name="test_in_class[1-3]" time="0.1"/>
</testsuite></testsuites>'''


def test_junit_repetitions_are_counted_per_test(tmp_path):
    report = tmp_path / "report.xml"
    report.write_text(JUNIT)
    tests = flake_check.parse_junit(report)
    assert tests == {
        "tests/test_a.py::test_plain": {"runs": 3, "failures": 1, "skipped": 0, "message": "assert 1 == 2"},
        "tests/test_a.py::test_param[a-b]": {"runs": 1, "failures": 1, "skipped": 1, "message": "boom"},
        "tests/test_a.py::TestGroup::test_in_class": {"runs": 1, "failures": 0, "skipped": 0, "message": None},
    }
