"""Where data, caches and results live. Every location can be overridden by an environment variable."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """Root of the fetched data (layout of ``../shared/data``): ``$GAZELIB_DATA`` or ``./data``."""
    return Path(os.environ.get("GAZELIB_DATA", "data")).expanduser()


def cache_root() -> Path:
    """Derived gaze maps and prepared tensors: ``$GAZELIB_CACHE`` or ``<data root>/cache``."""
    env = os.environ.get("GAZELIB_CACHE")
    return Path(env).expanduser() if env else data_root() / "cache"


def results_root() -> Path:
    """Run records, tables and benchmark records: ``$GAZELIB_RESULTS`` or ``./results``."""
    return Path(os.environ.get("GAZELIB_RESULTS", "results")).expanduser()


def figures_root() -> Path:
    """Figures (PNG + PDF): ``$GAZELIB_FIGURES`` or ``./figures``."""
    return Path(os.environ.get("GAZELIB_FIGURES", "figures")).expanduser()


def mirror_root() -> Path | None:
    """A local copy laid out like ``../shared/data`` (``$GAZELIB_MIRROR``), or None."""
    env = os.environ.get("GAZELIB_MIRROR")
    return Path(env).expanduser() if env else None
