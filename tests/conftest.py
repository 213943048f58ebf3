"""Shared fixtures. Tests that need the real data read it from the mirror (``$GAZELIB_MIRROR``,
by default ``../shared/data`` beside the checkout). Under ``CI=true`` a missing mirror fails."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import gazelib.papers  # noqa: F401  (registers the papers, as every entry point does)

REPO = Path(__file__).resolve().parent.parent


def _mirror() -> Path | None:
    candidate = Path(os.environ.get("GAZELIB_MIRROR") or REPO.parent / "shared" / "data").resolve()
    return candidate if (candidate / "kvasir-seg").is_dir() else None   # absolute: kernels run in notebooks/


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The real data, read-only."""
    root = _mirror()
    if root is None:
        message = "real-data mirror not found: set GAZELIB_MIRROR to a copy laid out like ../shared/data"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path, monkeypatch):
    """Keep caches, results and figures of every test inside its own temporary folder."""
    monkeypatch.setenv("GAZELIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GAZELIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("GAZELIB_FIGURES", str(tmp_path / "figures"))


def git(*args, cwd) -> str:
    """``git args`` in ``cwd`` (its output), with a committer set for clones made by tests."""
    import subprocess

    return subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout


def fresh_clone(dest: Path) -> Path:
    """``dest``: the tracked files of this checkout as they are now (what a clone of them holds), committed
    in a new repository, so that ``git status`` there shows what a lesson wrote."""
    for name in git("ls-files", "-z", cwd=REPO).split("\0"):
        if name and (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "clean", cwd=dest)
    return dest


@pytest.fixture(scope="session")
def executed_lessons(tmp_path_factory) -> Path:
    """Where the notebook tests leave the lessons they executed (``<lesson>-kvasir-smoke.ipynb``, the
    names `make reproduce` uses) with the tables (``results/tables``) and figures (``figures``) they
    wrote, so the book test publishes them instead of executing them again."""
    return tmp_path_factory.mktemp("executed_lessons")


@pytest.fixture(autouse=True)
def _keep_executed_lessons(request, tmp_path, executed_lessons):
    yield
    if request.node.module.__name__.endswith("test_notebooks"):
        for executed in tmp_path.glob("[0-9][0-9]_*.ipynb"):   # moved with its results: the paths it printed follow
            kept = executed_lessons / f"{executed.stem}-kvasir-smoke.ipynb"
            kept.write_text(executed.read_text().replace(str(tmp_path), str(executed_lessons)))
        for written, kept in ((tmp_path / "results" / "tables", executed_lessons / "results" / "tables"),
                              (tmp_path / "figures", executed_lessons / "figures")):
            if written.is_dir():
                shutil.copytree(written, kept, dirs_exist_ok=True)


def pytest_collection_modifyitems(items):
    """The book test runs last, after the notebook tests whose executed lessons it reuses."""
    items.sort(key=lambda item: getattr(item.module, "__name__", "").endswith("test_book"))
