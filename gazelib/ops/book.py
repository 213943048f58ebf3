"""`gazelib book`: the executed lessons and the results as a static HTML site (Sphinx + MyST-NB).

The site works offline: MathJax is served from a local copy (``sphinx-mathjax-offline``), the
theme ships its own fonts and scripts, and no page loads anything from another host.

Where the executed lessons come from: ``reports/<lesson>-kvasir-<profile>.ipynb`` written by
``make reproduce PROFILE=<profile>``. Under the ``smoke`` profile a missing one is executed here
(seconds each), with its records, tables and figures kept inside the build folder so the
repository's results are not touched; ``quick`` and ``paper`` lessons must come from
``make reproduce``, which trains or loads their runs.

The results page shows what the repository holds: the README's results block, every table under
``results/tables/`` and every figure under ``figures/``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import nbformat
import papermill
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

from gazelib.core.paths import REPO_ROOT, figures_root, results_root
from gazelib.report.differences import DIFFERENCES
from gazelib.ops.readme import README_END, README_START

CONF_DIR = REPO_ROOT / "book"          # conf.py: theme, MyST-NB, offline MathJax
README = REPO_ROOT / "README.md"
DATASET = "kvasir"


def lessons() -> list[Path]:
    return sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def executed_lessons(profile: str, reports: Path, out: Path) -> list[Path]:
    """One executed notebook per lesson: from ``reports`` when ``make reproduce`` wrote it, else
    (smoke only) executed now into ``out/executed``."""
    found = {nb: reports / f"{nb.stem}-{DATASET}-{profile}.ipynb" for nb in lessons()}
    missing = [nb for nb, report in found.items() if not report.is_file()]
    if missing and profile != "smoke":
        raise FileNotFoundError(
            f"no executed {profile} lessons in {reports} for {', '.join(nb.stem for nb in missing)}: "
            f"run `make reproduce PROFILE={profile}` first, or build with BOOK_PROFILE=smoke")
    if not missing:
        print(f"lessons: executed notebooks from {reports} ({profile})")
        return list(found.values())

    executed = out / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    outputs = out / "outputs"   # the smoke lessons' records, tables and figures stay in the build folder
    result = []
    with mock.patch.dict(os.environ, GAZELIB_RESULTS=str(outputs / "results"), GAZELIB_FIGURES=str(outputs / "figures")):
        for notebook, report in found.items():
            if report.is_file():
                result.append(report)
                continue
            target = executed / notebook.name
            print(f"lessons: executing {notebook.name} ({profile}) -> {target}", flush=True)
            papermill.execute_notebook(
                str(notebook), str(target), cwd=str(REPO_ROOT), progress_bar=False,
                parameters={"profile": profile, "seeds": [0], "dataset": DATASET, "device": "cpu"})
            result.append(target)
    return result


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def publish_lesson(executed: Path, target: Path) -> None:
    """Copy an executed lesson into the book. A lesson that stopped on an error is not published;
    progress-bar widgets are dropped (a static page has no kernel to draw them, and their text form
    is only the widget's repr); text progress bars keep their last state, as Jupyter shows them."""
    notebook = nbformat.read(executed, as_version=4)
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise ValueError(f"{executed}: cell {number} ended with {output.get('ename')}: "
                                 f"{output.get('evalue')}; fix the lesson or run it again")
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
    notebook.metadata.pop("widgets", None)
    CoalesceStreamsPreprocessor().preprocess(notebook, {})
    nbformat.write(notebook, target)


def readme_intro() -> str:
    """The README up to its first second-level heading: title, the three papers, what is measured."""
    text = README.read_text()
    return text[: text.index("\n## ")].strip()


def readme_results() -> str:
    """The README's generated results block (between its markers)."""
    text = README.read_text()
    return text[text.index(README_START) + len(README_START): text.index(README_END)].strip()


def _title(stem: str) -> str:
    return stem.replace("_", " ")


def results_page(results: Path, figures: Path) -> str:
    tables = sorted((results / "tables").glob("*.md"))
    pictures = sorted(figures.glob("*.png"))
    parts = ["# Results", "",
             "What the repository holds: the README's Table 1, every table under `results/tables/` and "
             "every figure under `figures/`, all generated from the run records by the lessons.", "",
             "## Table 1 (README)", "", readme_results(), "", "## Tables", ""]
    parts += [f"### {_title(t.stem)}\n\n{t.read_text().strip()}\n" for t in tables] or ["(none yet)", ""]
    parts += ["## Figures", ""]
    parts += [f"### {_title(p.stem)}\n\n![{_title(p.stem)}](figures/{p.name})\n" for p in pictures] or ["(none yet)"]
    return "\n".join(parts) + "\n"


def index_page(profile: str, from_reports: bool) -> str:
    source = (f"executed by `make reproduce PROFILE={profile}`" if from_reports
              else f"executed by `make book` under the `{profile}` profile")
    return "\n".join([
        readme_intro(), "",
        f"This book holds the lessons {source}, and the results the repository holds. "
        "Build it with `make book`; it works offline.", "",
        "```{toctree}", ":caption: Lessons", ":maxdepth: 1", ":glob:", "", "lessons/*", "```", "",
        "```{toctree}", ":caption: Results", ":maxdepth: 1", "", "results", "```", ""])


def build(profile: str = "smoke", out: Path | None = None, reports: Path = REPO_ROOT / "reports",
          results: Path | None = None, figures: Path | None = None) -> Path:
    """Write the book's sources into ``out/src`` and the site into ``out/html``; return the site's index."""
    out = out or REPO_ROOT / "_build" / "book"
    results = (results or results_root()).resolve()
    figures = (figures or figures_root()).resolve()
    out = out.resolve()
    notebooks = executed_lessons(profile, reports.resolve(), out)
    src = out / "src"
    shutil.rmtree(src, ignore_errors=True)
    (src / "lessons").mkdir(parents=True)
    for notebook, executed in zip(lessons(), notebooks):
        publish_lesson(executed, src / "lessons" / notebook.name)
    # the README names its figure relative to the repository; a missing one makes Sphinx warn
    readme_figures = re.findall(r"\]\(figures/([^)]+)\)", readme_results())
    (src / "figures").mkdir()
    for picture in [*figures.glob("*.png"), *(REPO_ROOT / "figures" / name for name in readme_figures)]:
        if picture.is_file():
            shutil.copy(picture, src / "figures" / picture.name)
    (src / "results.md").write_text(results_page(results, figures))
    (src / "index.md").write_text(index_page(profile, from_reports=all(n.parent == reports.resolve() for n in notebooks)))
    html = out / "html"
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(CONF_DIR), str(src), str(html)],
                   check=True)
    # measurement files the lessons link to (``../results/...``: the differences lists), served as they are
    for measured in {d.measured for d in DIFFERENCES if d.measured}:
        if (REPO_ROOT / measured).is_file():
            (html / measured).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / measured, html / measured)
    print(f"book: {html / 'index.html'}")
    return html / "index.html"
