"""`make book`: the executed lessons and the results as a static site, read in a real headless
Chromium (Debian's; `make test` installs it as root). Under ``CI=true`` a missing browser fails."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import nbformat

from gazelib.ops.book import WIDGET_VIEW, build, publish_lesson
from gazelib.ops.book_check import SCREENSHOT_PAGE, check_site, chromium

REPO = Path(__file__).resolve().parents[2]
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


def test_publish_lesson_drops_widgets_and_refuses_errors(tmp_path):
    new = nbformat.v4
    bar = new.new_output("display_data", data={WIDGET_VIEW: {"model_id": "m"}, "text/plain": "HBox(...)"})
    picture = new.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    text_bar = [new.new_output("stream", name="stderr", text=f"\rruns: {k}/2") for k in range(3)]
    notebook = new.new_notebook(cells=[new.new_code_cell("train()", outputs=[bar, picture, *text_bar])],
                                metadata={"widgets": {"state": {}}})
    nbformat.write(notebook, tmp_path / "ok.ipynb")
    publish_lesson(tmp_path / "ok.ipynb", tmp_path / "published.ipynb")
    published = nbformat.read(tmp_path / "published.ipynb", as_version=4)
    picture, text_bar = published.cells[0].outputs
    assert list(picture.data) == ["image/png", "text/plain"]
    assert text_bar.text == "runs: 2/2"      # one bar in its last state
    assert "widgets" not in published.metadata

    notebook.cells.append(new.new_code_cell("1 / 0", outputs=[new.new_output(
        "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]))
    nbformat.write(notebook, tmp_path / "failed.ipynb")
    with pytest.raises(ValueError, match="cell 1 ended with ZeroDivisionError"):
        publish_lesson(tmp_path / "failed.ipynb", tmp_path / "never.ipynb")


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


def test_book_builds_and_reads_offline(mirror, executed_lessons, browser, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    index = build("smoke", out=tmp_path / "book", reports=executed_lessons,
                  results=REPO / "results", figures=REPO / "figures")
    warnings = [line for line in capfd.readouterr().err.splitlines() if re.search(r"(^|: )WARNING:", line)]
    assert not warnings, "Sphinx warned (e.g. a link to a file outside the book):\n" + "\n".join(warnings)
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
