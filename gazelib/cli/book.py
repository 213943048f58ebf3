"""``gazelib book``: the executed lessons and the results as an offline HTML site (``gazelib/ops/book.py``)."""
from __future__ import annotations

from pathlib import Path

from gazelib.core.config import PROFILES
from gazelib.core.paths import REPO_ROOT


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("book", help="build the executed lessons and the results into a static HTML site",
                              description=__doc__.splitlines()[0].replace("``", ""))
    p.add_argument("--profile", default="smoke", choices=PROFILES,
                   help="which executed lessons: smoke (executed here when reports/ lacks them), quick, laptop or paper "
                        "(from make reproduce PROFILE=...)")
    p.add_argument("--out", type=Path, default=None,
                   help="build folder (site in OUT/html; default _build/book)")
    p.add_argument("--reports", type=Path, default=REPO_ROOT / "reports",
                   help="where make reproduce wrote the executed notebooks")
    p.add_argument("--check", action="store_true",
                   help="then open every page in headless Chromium: pages load, equations render, figures "
                        "load, internal links resolve")
    p.add_argument("--screenshot", type=Path, default=None, help="with --check: PNG of lesson 03 written here")

    def run(a) -> int:
        from gazelib.ops.book import build   # here, not at the top: `gazelib --help` stays fast
        index = build(a.profile, a.out, a.reports)
        if a.check:
            from gazelib.ops.book_check import check_site

            report = check_site(index.parent, screenshot=a.screenshot)
            print(report.summary())
            return 0 if report.ok else 1
        return 0

    p.set_defaults(func=run)
