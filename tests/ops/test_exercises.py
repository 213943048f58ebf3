"""Workshop exercises: generated from the lessons' tagged cells, under the workshop's parameters and with
only the cells they need; every lesson 01-05 has at least four blanks with hints; the solutions pass the
lesson's checks on the real data and the blanks fail them; the teacher's page lists them with their times."""
from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import pytest

from gazelib.ops.exercises import (LESSONS, _blank_out, _workshop_parameters, blanks, run_checks, split_lesson,
                                   teacher_page, time_solutions, write_exercises)

REPO = Path(__file__).resolve().parents[2]

CELL = """def area(r):
    ### BEGIN SOLUTION
    ### HINT: pi r squared
    import math
    return math.pi * r * r
    ### END SOLUTION"""


def test_blank_out_replaces_the_marked_body_by_its_hint_and_the_blank_at_its_indent():
    assert _blank_out(CELL, "cell", keep_solution=False) == (
        "def area(r):\n    # Hint: pi r squared\n    # your code here\n    raise NotImplementedError")
    assert _blank_out(CELL, "cell", keep_solution=True) == (
        "def area(r):\n    import math\n    return math.pi * r * r")


@pytest.mark.parametrize("broken, problem", [
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### HINT: h\nx = 1", "never closed"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside an open"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "line 3: the solution above has no '### HINT:' line"),
    ("### HINT: h\n### BEGIN SOLUTION\n### HINT: h\n### END SOLUTION", "line 1: ### HINT: outside a solution"),
])
def test_blank_out_names_a_broken_marker(broken, problem):
    with pytest.raises(ValueError, match=problem):
        _blank_out(broken, "lesson.py, cell 3", keep_solution=False)


def test_the_parameters_become_the_workshop_s_with_their_comments():
    cell = ('profile = "laptop"     # smoke | quick\ndataset = "kvasir"\nseeds = [0, 1, 2]      # quick: [0]\n'
            'train = True\ndevice = "auto"')
    assert _workshop_parameters(cell) == ('profile = "quick"      # smoke | quick\ndataset = "kvasir"\n'
                                          'seeds = [0]            # quick: [0]\ntrain = False\ndevice = "auto"')


def test_an_exercise_keeps_the_title_the_tagged_cells_and_the_text_just_before_them(tmp_path):
    source = tmp_path / "lesson.py"
    source.write_text("\n".join([
        "# %% [markdown]\n# title", '# %% tags=["parameters"]\nprofile = "laptop"', "# %%\nfigure = 1",
        "# %% [markdown]\n# about the figure", "# %%\nanother_figure = 2", "# %% [markdown]\n# the data",
        '# %% tags=["exercise"]\ndata = 3', "# %% [markdown]\n# the equation",
        '# %% tags=["solution"]\ndef f():\n    ### BEGIN SOLUTION\n    ### HINT: h\n    return data\n    ### END SOLUTION',
        '# %% tags=["check"]\nassert f() == 3', "# %% [markdown]\n# training", "# %%\ntrain_everything()", ""]))
    exercise, solution = split_lesson(source)
    kept = [c.source.splitlines()[0] for c in exercise.cells]
    assert exercise.cells[1].source.startswith("**Workshop exercise**: 1 blank, each")
    assert solution.cells[1].source.startswith("**Solutions** of the workshop exercise `lesson_exercise.ipynb`")
    del kept[1]
    assert kept == ["title", 'profile = "quick"', "the data", "data = 3", "the equation", "def f():",
                    "assert f() == 3"]
    assert [c.source for c in solution.cells][2:5] == [c.source for c in exercise.cells][2:5]


def test_a_solution_cell_without_markers_is_an_error(tmp_path):
    source = tmp_path / "lesson.py"
    source.write_text('# %% tags=["solution"]\nx = 1\n\n# %% tags=["check"]\nassert x == 1\n')
    with pytest.raises(ValueError, match="lesson.py, cell 0: tagged 'solution'"):
        split_lesson(source)


def test_the_teacher_s_page_lists_every_exercise_with_its_time_and_every_blank_with_its_hints():
    timed = {name: (10.0 + k, 4, 4) for k, name in enumerate(LESSONS)}
    page = teacher_page(REPO / "notebooks", timed)
    for k, name in enumerate(LESSONS):
        assert f"| `{name}_exercise.ipynb` | {len(blanks(REPO / 'notebooks' / f'{name}.py'))} | 4 of 4 | {10.0 + k:.1f} |" in page
    assert "`readable_truncate`: order = np.argsort(start" in page
    assert "`ReadableAAB.forward`: head k uses" in page


@pytest.mark.parametrize("lesson", LESSONS)
def test_each_lesson_has_four_blanks_or_more_each_with_a_hint_and_an_assert_close_check(lesson):
    found = blanks(REPO / "notebooks" / f"{lesson}.py")
    assert len(found) >= 4, found
    assert all(hints for _, hints in found), found
    checks = [c.source for c in jupytext.read(REPO / "notebooks" / f"{lesson}.py").cells if "check" in c.metadata.get("tags", [])]
    assert len(checks) >= len(found)
    assert all("assert_close" in check or "assert_allclose" in check for check in checks), checks


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
    assert exercise.count("raise NotImplementedError") == len(blanks(REPO / "notebooks" / f"{lesson}.py"))
    assert "# your code here" not in solution and "# Hint:" in exercise and "# Hint:" not in solution
    assert "SOLUTION" not in exercise + solution and "### HINT" not in exercise + solution
    # the workshop's parameters; the part of the lesson the exercises need, not its training grids
    assert 'profile = "quick"' in exercise and "train = False" in exercise and "seeds = [0]" in exercise
    assert "run_grid(" not in exercise and "run_grids(" not in exercise and "show_differences(" not in exercise
    assert len(jupytext.read(generated / f"{lesson}_exercise.py").cells) < len(jupytext.read(REPO / "notebooks" / f"{lesson}.py").cells)


@pytest.mark.parametrize("lesson", LESSONS)
def test_solutions_pass_the_checks_and_blanks_fail_them(generated, lesson, mirror, monkeypatch):
    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    monkeypatch.chdir(REPO)
    # as a student opens them: the workshop's parameters, a fresh process (nothing imported before)
    _, passed, checks = time_solutions(generated, [lesson])[lesson]
    assert checks >= 4 and passed == checks
    blank = run_checks(generated / f"{lesson}_exercise.py", {})
    assert len(blank) == checks
    assert all(isinstance(error, NotImplementedError) for error in blank.values()), blank
