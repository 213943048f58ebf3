"""Where a number came from: the git state of the code that produced it (run, quality and bench records)."""
from __future__ import annotations

import os
import subprocess

from gazelib.core.paths import REPO_ROOT


#: What the code writes (records, tables, figures): changes there do not make the code "dirty".
OUTPUTS = ("results", "figures")


def git_state() -> dict:
    """``{"revision": <HEAD sha>, "dirty": <tracked files other than OUTPUTS modified>}``; None values
    outside a checkout. ``$GAZELIB_REVISION``, when set, wins (``dirty`` then unknown): a copy of the
    tree on another machine may carry a stale ``.git`` (seen: an earlier commit, not the code sent)
    or none (the GPU pack's ``code/``)."""
    if os.environ.get("GAZELIB_REVISION"):
        return {"revision": os.environ["GAZELIB_REVISION"], "dirty": None}

    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    try:
        return {"revision": git("rev-parse", "HEAD").strip(),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".",
                                     *(f":(exclude){d}" for d in OUTPUTS)).strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"revision": None, "dirty": None}
