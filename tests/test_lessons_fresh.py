"""Every lesson opens in seconds from a fresh clone after `make data`: its default profile and parameters
(`laptop`, whose records are committed), an empty gaze and tensor cache, the kernel started in notebooks/
(as JupyterLab starts it), and nothing trained: the committed records are read.

Each lesson's time is printed as a benchmark line: the wall-clock seconds and the CPU seconds its kernel
used (with one thread, about its time on an idle machine; the wall time grows with the load). The target
is 90 s on 2 cores; the assertion is a generous ceiling, a guard against a lesson that computes a whole
data set again (lesson 01 once built every gaze map, 11 minutes), not a timing that flakes on a loaded
machine."""
from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from tests.conftest import fresh_clone, git

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))
CEILING_S = 300


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    return fresh_clone(tmp_path_factory.mktemp("fresh") / "gazelib")


@pytest.mark.parametrize("lesson", LESSONS)
def test_a_lesson_opens_from_a_fresh_clone_without_training(lesson, clone, mirror, tmp_path, monkeypatch, capsys):
    import papermill

    for name in ("GAZELIB_RESULTS", "GAZELIB_FIGURES"):   # the clone's own results/ (its committed records)
        monkeypatch.delenv(name)
    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    monkeypatch.setenv("GAZELIB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PYTHONPATH", str(clone))          # the kernel imports the clone's gazelib
    start, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    papermill.execute_notebook(str(clone / "notebooks" / f"{lesson}.ipynb"), str(tmp_path / f"{lesson}.ipynb"),
                               cwd=str(clone / "notebooks"), progress_bar=False)
    seconds, used = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = used.ru_utime + used.ru_stime - children.ru_utime - children.ru_stime   # the kernel, once it has ended
    with capsys.disabled():
        print(f"\nbenchmark: lesson {lesson} opened from a fresh clone in {seconds:.1f} s, {cpu:.1f} s of CPU "
              f"(default profile, empty cache; target 90 s on 2 cores)")
    trained = [line for line in git("status", "--porcelain", "--untracked-files=all", cwd=clone).splitlines()
               if "results/runs/" in line]
    assert not trained, f"{lesson} trained or rewrote runs instead of reading the committed records: {trained}"
    assert not (clone / "results" / "checkpoints").exists(), f"{lesson} trained (a checkpoint was written)"
    assert seconds < CEILING_S, f"{lesson} took {seconds:.0f} s to open (ceiling {CEILING_S} s, target 90 s)"
