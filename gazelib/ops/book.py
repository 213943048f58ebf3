"""`gazelib book`: the executed lessons and the results as a static HTML site (Sphinx + MyST-NB).

The site works offline: MathJax is served from a local copy (``sphinx-mathjax-offline``), the
theme ships its own fonts and scripts, and no page loads anything from another host.

Where the executed lessons come from: ``reports/<lesson>-kvasir-<profile>.ipynb`` written by
``make reproduce PROFILE=<profile>``; a missing one is executed here. By default (``laptop``, the
README's profile) that reads the committed run records and trains nothing; under ``smoke`` it trains
(seconds each). Either way the records, tables and figures of lessons executed here stay inside the
build folder, so the repository's results are not touched.

How a lesson is published (one parameter cell, no machine paths, no progress bars) is
``book_publish``; the index and the results pages, one per paper, are ``book_pages``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import papermill

from gazelib.core import files
from gazelib.core.paths import REPO_ROOT, cache_root, data_root, figures_root, results_root
from gazelib.ops.book_pages import index_page, results_pages
from gazelib.ops.book_publish import publish_lesson
from gazelib.ops.reproduce import DEFAULT_SEEDS
from gazelib.report.differences import DIFFERENCES
from gazelib.runs.provenance import git_state

CONF_DIR = REPO_ROOT / "book"          # conf.py: theme, MyST-NB, offline MathJax
DATASET = "kvasir"


def lessons() -> list[Path]:
    return sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def executed_lessons(profile: str, reports: Path, out: Path) -> tuple[list[Path], dict[str, float]]:
    """One executed notebook per lesson: from ``reports`` when ``make reproduce`` wrote it, else
    executed now into ``out/executed`` (``executed_here``); and the seconds each of those took."""
    found = {nb: reports / f"{nb.stem}-{DATASET}-{profile}.ipynb" for nb in lessons()}
    if all(report.is_file() for report in found.values()):
        print(f"lessons: executed notebooks from {reports} ({profile})")
    notebooks, seconds = [], {}
    for notebook, report in found.items():
        if report.is_file():
            notebooks.append(report)
            continue
        started = time.perf_counter()
        notebooks.append(executed_here(notebook, profile, out))
        seconds[notebook.stem] = round(time.perf_counter() - started, 1)
        print(f"    done in {seconds[notebook.stem]:.0f} s", flush=True)
    return notebooks, seconds


def executed_here(notebook: Path, profile: str, out: Path) -> Path:
    """Execute a lesson into ``out/executed``. Only ``smoke`` trains (seconds); every other profile
    reads the repository's run records (``train=False``), copied into ``out/outputs`` with the
    tables and figures the lesson writes, so the repository's results are not touched. The target
    ceilings (computed from the data, not from records: ``papers.target_ceilings``) are copied too,
    so the lessons read them instead of computing them again."""
    outputs = out / "outputs"
    train = profile == "smoke"
    if not train and not (outputs / "results" / "runs").is_dir():
        records = sorted((results_root() / "runs").glob("*.json"))
        if not records:
            raise FileNotFoundError(f"no run records in {results_root() / 'runs'} to publish the {profile} "
                                    f"lessons from: run `make reproduce PROFILE={profile}` first")
        (outputs / "results" / "runs").mkdir(parents=True)
        for record in records:
            shutil.copy(record, outputs / "results" / "runs" / record.name)
        (outputs / "results" / "tables").mkdir(parents=True, exist_ok=True)
        for table in (results_root() / "tables").glob("target_ceilings_*"):
            shutil.copy(table, outputs / "results" / "tables" / table.name)
    target = out / "executed" / notebook.name
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"lessons: executing {notebook.name} ({profile}, train={train}) -> {target}", flush=True)
    with mock.patch.dict(os.environ, GAZELIB_RESULTS=str(outputs / "results"), GAZELIB_FIGURES=str(outputs / "figures")):
        papermill.execute_notebook(
            str(notebook), str(target), cwd=str(REPO_ROOT), progress_bar=False,
            parameters={"profile": profile, "seeds": DEFAULT_SEEDS[profile], "dataset": DATASET, "device": "cpu",
                        "train": train})
    return target


def build(profile: str = "laptop", out: Path | None = None, reports: Path = REPO_ROOT / "reports",
          results: Path | None = None, figures: Path | None = None) -> Path:
    """Write the book's sources into ``out/src`` and the site into ``out/html``; return the site's index.
    ``results`` / ``figures``: where the results pages read their tables and figures; by default where
    the published lessons wrote theirs (the build's outputs when lessons were executed here)."""
    started, revision = time.perf_counter(), git_state().get("revision")   # the code this build runs
    out = (out or REPO_ROOT / "_build" / "book").resolve()
    outputs = out / "outputs"
    shutil.rmtree(outputs, ignore_errors=True)   # a fresh copy of the records for lessons executed here
    notebooks, seconds = executed_lessons(profile, reports.resolve(), out)
    from_reports = all(n.parent == reports.resolve() for n in notebooks)
    results = (results or (results_root() if from_reports else outputs / "results")).resolve()
    figures = (figures or (figures_root() if from_reports else outputs / "figures")).resolve()
    src = out / "src"
    shutil.rmtree(src, ignore_errors=True)
    (src / "lessons").mkdir(parents=True)
    # the folders the lessons printed, by the names a reader knows (their results and figures too, wherever
    # the lessons that are published wrote them)
    roots = {str(outputs): "", str(REPO_ROOT): "", str(results): "results", str(figures): "figures",
             str(data_root().resolve()): "data",
             str(cache_root().resolve()): "cache", str(Path.home()): "~"}
    for notebook, executed in zip(lessons(), notebooks):
        publish_lesson(executed, src / "lessons" / notebook.name, roots)
    (src / "figures").mkdir()
    for picture in figures.glob("*.png"):
        shutil.copy(picture, src / "figures" / picture.name)
    pages = results_pages(lessons(), DATASET, profile, results, figures)
    (src / "results").mkdir()
    for name, text in pages.items():
        (src / "results" / f"{name}.md").write_text(text)
    (src / "index.md").write_text(index_page(profile, from_reports, list(pages)))
    html = out / "html"
    shutil.rmtree(html, ignore_errors=True)   # no page of an earlier build (the old single results page) left
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(CONF_DIR), str(src), str(html)],
                   check=True)
    # measurement files the lessons link to (``../results/...``: the differences lists), served as they are
    for measured in {d.measured for d in DIFFERENCES if d.measured}:
        if (REPO_ROOT / measured).is_file():
            (html / measured).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / measured, html / measured)
    total = time.perf_counter() - started
    record = write_timing(profile, seconds, total, revision)
    print(f"book: {html / 'index.html'} ({profile}, built in {total:.0f} s; timing: {record})")
    return html / "index.html"


def write_timing(profile: str, seconds: dict[str, float], total: float, revision: str | None) -> Path:
    """How long the last build of ``profile`` took: ``results_root()/book/build-<profile>.json`` (the
    lessons executed here, each, and the whole build, site included)."""
    path = results_root() / "book" / f"build-{profile}.json"
    files.write_text(path, json.dumps({
        "profile": profile, "stamp": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
        "git": revision, "lessons_executed_seconds": seconds,
        "total_seconds": round(total, 1)}, indent=1) + "\n")
    return path
