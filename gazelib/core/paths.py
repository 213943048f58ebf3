"""Where data, caches and results live. Every location can be overridden by an environment variable.

Defaults are folders of the repository (``data/``, ``results/``, ``figures/`` beside ``pyproject.toml``),
whatever the working directory: a JupyterLab kernel starts in ``notebooks/`` and must find the same
data as ``make`` does from the root. An installed copy outside a checkout uses the working directory.
A relative path in an environment variable is taken relative to the working directory."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _default(name: str) -> Path:
    base = REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()
    return base / name


def data_root() -> Path:
    """Root of the fetched data (layout of ``../shared/data``): ``$GAZELIB_DATA`` or ``<repo>/data``."""
    env = os.environ.get("GAZELIB_DATA")
    return Path(env).expanduser() if env else _default("data")


def cache_root() -> Path:
    """Derived gaze maps and prepared tensors: ``$GAZELIB_CACHE`` or ``<data root>/cache``."""
    env = os.environ.get("GAZELIB_CACHE")
    return Path(env).expanduser() if env else data_root() / "cache"


def results_root() -> Path:
    """Run records, tables and benchmark records: ``$GAZELIB_RESULTS`` or ``<repo>/results``."""
    env = os.environ.get("GAZELIB_RESULTS")
    return Path(env).expanduser() if env else _default("results")


def figures_root() -> Path:
    """Figures (PNG + PDF): ``$GAZELIB_FIGURES`` or ``<repo>/figures``."""
    env = os.environ.get("GAZELIB_FIGURES")
    return Path(env).expanduser() if env else _default("figures")


def mirror_root() -> Path | None:
    """A local copy laid out like ``../shared/data`` (``$GAZELIB_MIRROR``), or None."""
    env = os.environ.get("GAZELIB_MIRROR")
    return Path(env).expanduser() if env else None


def use_results(folder: str | Path | None) -> Path:
    """A lesson's ``results_dir`` parameter: records and tables go to ``folder`` from now on (runs without
    a record there are trained afresh); None keeps the current results root. Returns the root in use."""
    if folder is not None:
        os.environ["GAZELIB_RESULTS"] = str(Path(folder).expanduser().resolve())
    return results_root()
