"""``gazelib book``: the executed lessons and the results as an offline HTML site (``gazelib/ops/book.py``)."""
from __future__ import annotations

from pathlib import Path

from gazelib.core.config import PROFILES
from gazelib.core.paths import REPO_ROOT


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("book", help="build the executed lessons and the results into a static HTML site",
                              description=__doc__.splitlines()[0].replace("``", ""))
    p.add_argument("--profile", default="laptop", choices=PROFILES,
                   help="which lessons: laptop (default, the README's profile: executed from the committed run "
                        "records, nothing trained), quick or paper likewise from their records, smoke (trains in "
                        "seconds); lessons that make reproduce PROFILE=... wrote to --reports are published as they are")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "_build" / "book",
                   help="build folder (site in OUT/html; default _build/book)")
    p.add_argument("--reports", type=Path, default=REPO_ROOT / "reports",
                   help="where make reproduce wrote the executed notebooks")
    p.add_argument("--check", action="store_true",
                   help="do not build: open every page of the site built in OUT/html in headless Chromium (pages "
                        "load, equations render, figures load, links resolve, no injected parameters, machine "
                        "paths, progress bars, machine column names or clipped tables)")
    p.add_argument("--screenshots", type=Path, default=None,
                   help="with --check: folder for PNGs of the index, lesson 04 and the Table 1 page")

    def run(a) -> int:
        if a.check:
            from gazelib.ops.book_check import check_site   # here, not at the top: `gazelib --help` stays fast

            report = check_site(a.out / "html", screenshots=a.screenshots)
            print(report.summary())
            return 0 if report.ok else 1
        from gazelib.ops.book import build

        build(a.profile, a.out, a.reports)
        return 0

    p.set_defaults(func=run)
