"""The papers, one folder each. Importing this package registers them with the shared core, in this
order (the order of their keys in a run record), and then the plug-ins named in ``GAZELIB_PLUGINS``.

A paper's ``paper.py`` declares what it adds, and registers it: config keys
(``core.config.register_fields``), methods (``core.methods.register``), training targets
(``core.targets.register_target``) and gaze-map kinds (``gaze.cache.register_kind``). The core
imports no paper; the entry points (the command line, the experiment grids, the lessons) import
this package. A paper kept outside ``gazelib`` plugs in the same way: a module that registers
itself, named in ``GAZELIB_PLUGINS`` (comma-separated module names) or simply imported.
"""
from __future__ import annotations

import importlib
import os

from gazelib.papers.baselines import paper as baselines
from gazelib.papers.gazemedseg import paper as gazemedseg
from gazelib.papers.gradtrack import paper as gradtrack
from gazelib.papers.selective_attention import paper as selective_attention

#: The papers of this package.
PAPERS = (baselines, gazemedseg, gradtrack, selective_attention)


def _load_plugins() -> tuple:
    names = [n.strip() for n in os.environ.get("GAZELIB_PLUGINS", "").split(",") if n.strip()]
    try:
        return tuple(importlib.import_module(name) for name in names)
    except ImportError as error:
        raise ImportError(f"GAZELIB_PLUGINS names a module that cannot be imported: {error}") from error


#: The plug-ins loaded from ``GAZELIB_PLUGINS`` (each module registers itself when imported).
PLUGINS = _load_plugins()
