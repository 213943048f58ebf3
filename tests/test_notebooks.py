"""Every lesson notebook runs top to bottom under the smoke profile, on the real data, and
produces what it promises (records, tables, figures). Pairs .py/.ipynb must stay in sync."""
from __future__ import annotations

import json
from pathlib import Path

import jupytext
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))


def _cells(notebook) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_pair_in_sync(source: Path):
    paired = source.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired} missing: run `make notebooks`"
    assert _cells(jupytext.read(source)) == _cells(jupytext.read(paired)), (
        f"{source.name} and {paired.name} differ: run `make notebooks`")
    outputs = [o for c in json.loads(paired.read_text())["cells"] for o in c.get("outputs", [])]
    assert not outputs, f"{paired.name} is committed with outputs"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One gaze/tensor cache for all notebook runs, as a user's machine would have."""
    return tmp_path_factory.mktemp("cache")


def _run(source: Path, mirror: Path, shared_cache: Path, tmp_path: Path, monkeypatch) -> Path:
    import papermill

    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    monkeypatch.setenv("GAZELIB_CACHE", str(shared_cache))
    out = tmp_path / source.with_suffix(".ipynb").name
    papermill.execute_notebook(str(source.with_suffix(".ipynb")), str(out), cwd=str(REPO), progress_bar=False,
                               parameters={"profile": "smoke", "seeds": [0], "dataset": "kvasir", "device": "cpu"})
    return out


def _figures(tmp_path: Path, prefix: str) -> set[str]:
    return {p.name for p in (tmp_path / "figures").glob(f"{prefix}*")}


def test_01_gaze_to_pseudo_labels(mirror, shared_cache, tmp_path, monkeypatch):
    _run(REPO / "notebooks/01_gaze_to_pseudo_labels.py", mirror, shared_cache, tmp_path, monkeypatch)
    figures = _figures(tmp_path, "01_")
    for name in ("scanpaths", "vam", "crf", "levels", "tracks", "san_targets", "quality_dice_per_threshold"):
        assert {f"01_{name}_kvasir.png", f"01_{name}_kvasir.pdf"} <= figures, name
    per_image = pd.read_csv(next((tmp_path / "results" / "quality").glob("*per_image*.csv")))
    assert len(per_image) == 8 and per_image["id"].is_unique
