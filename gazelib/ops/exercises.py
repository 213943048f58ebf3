"""Workshop exercises generated from the lessons: one source, two notebooks, and a teacher's page.

In a lesson's percent ``.py``, a code cell tagged ``solution`` holds readable code with its body
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines, and at least one ``### HINT: ...`` line
inside them; a cell tagged ``check`` asserts that code against the library on real data
(``assert_close``). From each lesson we write, under ``notebooks/exercises/``:

* ``NN_name_solution.{py,ipynb}``: the marker and hint lines removed;
* ``NN_name_exercise.{py,ipynb}``: each marked body replaced by its hints (``# Hint: ...``) and a blank
  (``# your code here`` then ``raise NotImplementedError``), so its check fails until it is filled;
* ``TEACHER.md``: every exercise, its blanks and hints, and the time its solution took here.

Both notebooks carry only the part of the lesson the exercises need: the title, the parameters, the
cells tagged ``solution``, ``check`` or ``exercise`` (the set-up a check reads: data, a training batch),
the text just before each of them, and nothing after the last check. Their parameters are the
workshop's (``WORKSHOP``): the ``quick`` profile, one seed, nothing trained.

``python -m gazelib.ops.exercises`` (``make exercises``) writes them; they are build outputs, not
committed. ``run_checks`` executes a notebook's cells in one namespace, without a kernel, up to its
last check cell, and reports which checks passed: the tests use it to see the solutions pass and
the blanks fail, and the teacher's page to time the solutions.
"""
from __future__ import annotations

import argparse
import copy
import re
import subprocess
import sys
import time
from pathlib import Path

import jupytext
from nbformat.v4 import new_markdown_cell

from gazelib.core import files

REPO = Path(__file__).resolve().parents[2]
LESSONS = ("01_gaze_to_pseudo_labels", "02_baselines", "03_gazemedseg", "04_gradtrack", "05_selective_attention")
BEGIN, END, HINT = "### BEGIN SOLUTION", "### END SOLUTION", "### HINT:"
BLANK = ("# your code here", "raise NotImplementedError")
#: The parameters an exercise opens with: a workshop-sized profile, one seed, nothing trained.
WORKSHOP = {"profile": '"quick"', "seeds": "[0]", "train": "False"}
KEPT = {"parameters", "solution", "check", "exercise"}   # the tags of the code cells an exercise carries


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _blank_out(source: str, where: str, keep_solution: bool) -> str:
    """The cell's source with each marked region kept (markers and hints dropped) or replaced by its
    hints and the blank. Every region needs a hint."""
    out, inside = [], False
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"{where}, line {number}: {BEGIN} inside an open solution")
            inside, hinted, indent = True, False, line[:len(line) - len(line.lstrip())]
        elif marker == END:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END} without {BEGIN}")
            if not hinted:
                raise ValueError(f"{where}, line {number}: the solution above has no '{HINT}' line")
            inside = False
            if not keep_solution:
                out += [indent + text for text in BLANK]
        elif marker.startswith(HINT):
            if not inside:
                raise ValueError(f"{where}, line {number}: {HINT} outside a solution")
            hinted = True
            if not keep_solution:
                out.append(indent + "# Hint:" + marker[len(HINT):])
        elif keep_solution or not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed")
    return "\n".join(out)


def _workshop_parameters(source: str) -> str:
    """The parameters cell with the values of ``WORKSHOP`` (comments kept, aligned as they were)."""
    def assign(match):
        value, tail = WORKSHOP[match["name"]], match["tail"]
        return match["head"] + (value.ljust(len(match["value"])) + tail if tail else value)
    names = "|".join(WORKSHOP)
    return re.sub(rf"^(?P<head>(?P<name>{names})\s*=\s*)(?P<value>[^#\n]*?)(?P<tail>\s+#.*)?$", assign, source,
                  flags=re.MULTILINE)


def _workshop_cells(cells: list) -> list:
    """The cells an exercise carries (module docstring): up to the last check, the title, the code
    cells tagged ``KEPT`` and the text cells just before a kept code cell."""
    last = max(i for i, c in enumerate(cells) if "check" in _tags(c))
    kept, text = [], []
    for index, cell in enumerate(cells[:last + 1]):
        if cell.cell_type == "markdown":
            text.append(cell)
            if index == 0:
                kept.append(text.pop())
        elif KEPT & set(_tags(cell)):
            kept += text + [cell]
            text = []
        else:
            text = []
    return kept


def split_lesson(source: Path):
    """(exercise, solution) notebooks of one lesson (workshop parameters, only the cells they need);
    every ``solution`` cell must hold a marked region with a hint."""
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
            if "parameters" in _tags(cell):
                cell.source = _workshop_parameters(cell.source)
        notebook.cells = _workshop_cells(notebook.cells)
        notebook.cells.insert(1, new_markdown_cell(_header(source, keep)))
        versions.append(notebook)
    return tuple(versions)


def _header(source: Path, solution: bool) -> str:
    """What the notebook is, under the lesson's title."""
    count = len(blanks(source))
    what = (f"**Solutions** of the workshop exercise `{source.stem}_exercise.ipynb`" if solution else
            f"**Workshop exercise**: {count} blank{'s' if count != 1 else ''}, each a `# your code here` under its hints; the check cell "
            f"after a blank passes when it is right (solutions: `{source.stem}_solution.ipynb`)")
    parameters = ", ".join(f"`{name} = {value}`" for name, value in WORKSHOP.items())
    return (f"{what}. Generated from the lesson `{source.name}` by `make exercises`, with only the part of it "
            f"the exercises need; it opens under the workshop's parameters ({parameters}).")


def blanks(source: Path) -> list[tuple[str, list[str]]]:
    """``[(what to write, [hints])]`` of a lesson, in order: the function, class or method a marked region
    completes (the last ``def`` or ``class`` above its ``BEGIN``) and the region's hints."""
    found = []
    for cell in jupytext.read(source).cells:
        if "solution" not in _tags(cell):
            continue
        name = owner = None
        for line in cell.source.splitlines():
            marker = line.strip()
            definition = re.match(r"(def|class)\s+(\w+)", marker)
            if definition and definition[1] == "class":
                name = owner = definition[2]
            elif definition:   # a method is named with its class
                name = f"{owner}.{definition[2]}" if owner and line[0].isspace() else definition[2]
            elif marker == BEGIN:
                found.append((name or "a cell", []))
            elif marker.startswith(HINT):
                found[-1][1].append(marker[len(HINT):].strip())
    return found


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


def time_solutions(exercises: Path, lessons=LESSONS) -> dict[str, tuple[float, int, int]]:
    """``{lesson: (seconds, checks passed, checks)}``: each solution run up to its last check (``run_checks``)
    under the workshop parameters, in a fresh Python process as a student's fresh kernel (imports
    included), with the gaze cache as it is here."""
    from tqdm.auto import tqdm

    report = ("import sys; from pathlib import Path; from gazelib.ops.exercises import run_checks; "
              "outcome = run_checks(Path(sys.argv[1]), {}); "
              "print('checks', sum(e is None for e in outcome.values()), len(outcome))")
    timed = {}
    for name in tqdm(lessons, desc="timing the solutions"):
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", report, str(exercises / f"{name}_solution.py")],
                             capture_output=True, text=True, cwd=REPO)
        seconds = time.perf_counter() - start
        last = run.stdout.strip().splitlines()[-1:] or [""]
        if run.returncode != 0 or not last[0].startswith("checks "):
            raise RuntimeError(f"{name}_solution.py failed to run: {run.stderr.strip()[-2000:]}")
        passed, checks = map(int, last[0].split()[1:])
        timed[name] = (seconds, passed, checks)
    return timed


def teacher_page(notebooks: Path, timed: dict[str, tuple[float, int, int]], lessons=LESSONS) -> str:
    """Markdown: per exercise, its time (``time_solutions``), its checks, and each blank with its hints."""
    lines = ["# Workshop exercises: the teacher's page", "",
             "Generated by `make exercises` (`gazelib.ops.exercises`) from the lessons. Each exercise opens under "
             f"the workshop's parameters ({', '.join(f'`{k} = {v}`' for k, v in WORKSHOP.items())}); a student fills "
             "each `# your code here` and runs the check cell below it. The time is that of the solution run up to its "
             "last check in a fresh Python process (as a fresh kernel: imports included), on the machine that ran "
             "`make exercises`, with its gaze cache as it was (a first run also computes the gaze maps of the few "
             "images it uses).", "",
             "| exercise | blanks | checks passed by the solution | solution time (s) |", "|---|---|---|---|"]
    for name in lessons:
        seconds, passed, checks = timed[name]
        lines.append(f"| `{name}_exercise.ipynb` | {len(blanks(notebooks / f'{name}.py'))} | {passed} of {checks} "
                     f"| {seconds:.1f} |")
    for name in lessons:
        lines += ["", f"## {name}", ""]
        for number, (what, hints) in enumerate(blanks(notebooks / f"{name}.py"), start=1):
            lines.append(f"{number}. `{what}`: " + " ".join(hints))
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=Path, default=REPO / "notebooks",
                        help="folder of the lessons; the notebooks go to its exercises/ subfolder")
    parser.add_argument("--no-timing", action="store_true",
                        help="write the notebooks only, without running the solutions for the teacher's page")
    args = parser.parse_args(argv)
    for path in write_exercises(args.notebooks):
        print(path)
    if not args.no_timing:
        page = args.notebooks / "exercises" / "TEACHER.md"
        files.write_text(page, teacher_page(args.notebooks, time_solutions(args.notebooks / "exercises")))
        print(page)


if __name__ == "__main__":
    main()
