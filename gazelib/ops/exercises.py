"""Workshop exercises generated from the lessons: one source, two notebooks.

In a lesson's percent ``.py``, a code cell tagged ``solution`` holds readable code with its body
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines; a cell tagged ``check`` asserts that
code against the library on real data. From each lesson we write, under ``notebooks/exercises/``:

* ``NN_name_solution.{py,ipynb}``: the lesson with the marker lines removed;
* ``NN_name_exercise.{py,ipynb}``: the same, each marked body replaced by a blank
  (``# your code here`` then ``raise NotImplementedError``), so its check fails until it is filled.

``python -m gazelib.ops.exercises`` (``make exercises``) writes them; they are build outputs, not
committed. ``run_checks`` executes a notebook's cells in one namespace, without a kernel, up to its
last check cell, and reports which checks passed: the tests use it to see the solutions pass and
the blanks fail.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import jupytext

REPO = Path(__file__).resolve().parents[2]
LESSONS = ("01_gaze_to_pseudo_labels", "03_gazemedseg", "04_gradtrack")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BLANK = ("# your code here", "raise NotImplementedError")


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _blank_out(source: str, where: str, keep_solution: bool) -> str:
    """The cell's source with each marked region kept (markers dropped) or replaced by the blank."""
    out, inside = [], False
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"{where}, line {number}: {BEGIN} inside an open solution")
            inside, indent = True, line[:len(line) - len(line.lstrip())]
            if not keep_solution:
                out += [indent + text for text in BLANK]
        elif marker == END:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif keep_solution or not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed")
    return "\n".join(out)


def split_lesson(source: Path):
    """(exercise, solution) notebooks of one lesson; every ``solution`` cell must hold a marked region."""
    lesson = jupytext.read(source)
    if not any("check" in _tags(c) for c in lesson.cells):
        raise ValueError(f"{source}: no cell tagged 'check'; nothing to exercise")
    versions = []
    for keep in (False, True):
        notebook = copy.deepcopy(lesson)
        for index, cell in enumerate(notebook.cells):
            if "solution" in _tags(cell):
                where = f"{source.name}, cell {index}"
                if BEGIN not in cell.source:
                    raise ValueError(f"{where}: tagged 'solution' but has no {BEGIN} line")
                cell.source = _blank_out(cell.source, where, keep_solution=keep)
        versions.append(notebook)
    return tuple(versions)


def write_exercises(notebooks: Path = REPO / "notebooks", lessons=LESSONS) -> list[Path]:
    """Write the exercise and solution pairs (.py percent + .ipynb without outputs) of each lesson."""
    target = notebooks / "exercises"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in lessons:
        for kind, notebook in zip(("exercise", "solution"), split_lesson(notebooks / f"{name}.py")):
            for ext, fmt in ((".py", "py:percent"), (".ipynb", "ipynb")):
                path = target / f"{name}_{kind}{ext}"
                notebook.metadata.get("jupytext", {}).pop("formats", None)  # standalone, not paired
                jupytext.write(notebook, path, fmt=fmt)
                written.append(path)
    return written


def run_checks(path: Path, parameters: dict) -> dict[int, BaseException | None]:
    """Execute ``path``'s code cells in order, in one namespace, up to its last ``check`` cell.

    ``parameters`` override the cell tagged ``parameters`` (as papermill would). A failing check is
    recorded and the run goes on; any other failing cell stops it. Returns {check cell index: the
    exception it raised, or None}. Figures go to a non-interactive backend.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = jupytext.read(path).cells
    checks = [i for i, c in enumerate(cells) if "check" in _tags(c)]
    namespace = {"__name__": "__main__", "display": print}
    outcome: dict[int, BaseException | None] = {}
    for index, cell in enumerate(cells[:max(checks) + 1]):
        if cell.cell_type != "code":
            continue
        code = compile(cell.source, f"{path.name}, cell {index}", "exec")
        if index in checks:
            try:
                exec(code, namespace)
                outcome[index] = None
            except Exception as error:  # noqa: BLE001 - a failing check is the result we report
                outcome[index] = error
        else:
            exec(code, namespace)
            if "parameters" in _tags(cell):
                namespace.update(parameters)
        plt.close("all")
    return outcome


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=Path, default=REPO / "notebooks",
                        help="folder of the lessons; the notebooks go to its exercises/ subfolder")
    args = parser.parse_args(argv)
    for path in write_exercises(args.notebooks):
        print(path)


if __name__ == "__main__":
    main()
