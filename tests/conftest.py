"""Shared fixtures. Tests that need the real data read it from the mirror (``$GAZELIB_MIRROR``,
by default ``../shared/data`` beside the checkout). Under ``CI=true`` a missing mirror fails."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _mirror() -> Path | None:
    candidate = Path(os.environ.get("GAZELIB_MIRROR") or REPO.parent / "shared" / "data")
    return candidate if (candidate / "kvasir-seg").is_dir() else None


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
