"""`make book`: the executed lessons and the results as a static site, read in a real headless
Chromium (Debian's; `make test` installs it as root). Under ``CI=true`` a missing browser fails."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gazelib.book import build
from gazelib.book_check import SCREENSHOT_PAGE, check_site, chromium

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.fixture(scope="session")
def browser() -> str:
    path = chromium()
    if path is None:
        message = ("Chromium not found: `make test` installs Debian's `chromium` when run as root "
                   "(or: apt-get install chromium)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


BROKEN_PAGE = """<!doctype html><html><head>
<script src="https://cdn.example.org/mathjax.js"></script></head><body><main>
<p>Raw maths: <span class="math">\\(x^2\\)</span> and $$y$$.</p>
<img src="missing.png"> <a href="nowhere.html">a dead link</a> <a href="index.html#no-such-id">a dead anchor</a>
</main></body></html>"""


def test_check_finds_what_a_reader_would_miss(browser, tmp_path):
    """The check fails on a page with untypeset maths, a missing image, dead links and a CDN script."""
    (tmp_path / "index.html").write_text("<!doctype html><html><body><h1 id='top'>fine</h1></body></html>")
    (tmp_path / "broken.html").write_text(BROKEN_PAGE)
    report = check_site(tmp_path, executable=browser)
    assert not report.ok
    problems = "\n".join(report.problems)
    assert not [p for p in report.problems if p.startswith("index.html")], problems
    for expected in ("requests another host: https://cdn.example.org/mathjax.js", "1 of 1 equations not typeset",
                     "raw maths delimiters", "image did not load", "HTTP 404", "broken link",
                     "link to a missing anchor"):
        assert expected in problems, expected


def test_book_builds_and_reads_offline(mirror, executed_lessons, browser, tmp_path, monkeypatch):
    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    index = build("smoke", out=tmp_path / "book", reports=executed_lessons,
                  results=REPO / "results", figures=REPO / "figures")
    screenshot = tmp_path / "screenshot.png"
    report = check_site(index.parent, screenshot=screenshot, executable=browser)
    print(report.summary())
    assert report.ok, report.summary()

    assert {f"lessons/{stem}.html" for stem in LESSONS} <= set(report.pages)
    for stem in LESSONS:   # a lesson whose source holds display maths shows it typeset
        if "$$" in (REPO / "notebooks" / f"{stem}.py").read_text():
            assert report.pages[f"lessons/{stem}.html"]["typeset"] > 0, stem
    shown = {Path(image["src"]).name for image in report.pages["results.html"]["images"]}
    assert {p.name for p in (REPO / "figures").glob("*.png")} <= shown
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and SCREENSHOT_PAGE in report.pages
