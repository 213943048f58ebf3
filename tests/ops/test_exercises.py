"""Workshop exercises: generated from the lessons' tagged cells; the solutions pass the lesson's checks
on the real data and the blanks fail them."""
from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import pytest

from gazelib.ops.exercises import LESSONS, _blank_out, run_checks, split_lesson, write_exercises

REPO = Path(__file__).resolve().parents[2]

CELL = """def area(r):
    ### BEGIN SOLUTION
    import math
    return math.pi * r * r
    ### END SOLUTION"""


def test_blank_out_replaces_the_marked_body_at_its_indent():
    assert _blank_out(CELL, "cell", keep_solution=False) == (
        "def area(r):\n    # your code here\n    raise NotImplementedError")
    assert _blank_out(CELL, "cell", keep_solution=True) == (
        "def area(r):\n    import math\n    return math.pi * r * r")


@pytest.mark.parametrize("broken, problem", [
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside an open"),
])
def test_blank_out_names_a_broken_marker(broken, problem):
    with pytest.raises(ValueError, match=problem):
        _blank_out(broken, "lesson.py, cell 3", keep_solution=False)


def test_a_solution_cell_without_markers_is_an_error(tmp_path):
    source = tmp_path / "lesson.py"
    source.write_text('# %% tags=["solution"]\nx = 1\n\n# %% tags=["check"]\nassert x == 1\n')
    with pytest.raises(ValueError, match="lesson.py, cell 0: tagged 'solution'"):
        split_lesson(source)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    notebooks = tmp_path_factory.mktemp("notebooks")
    for name in LESSONS:
        shutil.copy(REPO / "notebooks" / f"{name}.py", notebooks)
    write_exercises(notebooks)
    return notebooks / "exercises"


@pytest.mark.parametrize("lesson", LESSONS)
def test_exercise_and_solution_pairs_are_written(generated, lesson):
    for kind in ("exercise", "solution"):
        py, ipynb = (generated / f"{lesson}_{kind}{ext}" for ext in (".py", ".ipynb"))
        assert [c.source for c in jupytext.read(py).cells] == [c.source for c in jupytext.read(ipynb).cells]
    exercise = (generated / f"{lesson}_exercise.py").read_text()
    solution = (generated / f"{lesson}_solution.py").read_text()
    assert "# your code here" in exercise and "# your code here" not in solution
    assert "SOLUTION" not in exercise + solution


@pytest.mark.parametrize("lesson", LESSONS)
def test_solutions_pass_the_checks_and_blanks_fail_them(generated, lesson, mirror, monkeypatch):
    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    monkeypatch.chdir(REPO)
    parameters = {"profile": "smoke", "dataset": "kvasir", "seeds": [0], "device": "cpu"}
    solved = run_checks(generated / f"{lesson}_solution.py", parameters)
    assert solved and all(error is None for error in solved.values()), solved
    blank = run_checks(generated / f"{lesson}_exercise.py", parameters)
    assert blank.keys() == solved.keys()
    assert all(isinstance(error, NotImplementedError) for error in blank.values()), blank
