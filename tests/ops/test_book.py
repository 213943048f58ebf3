"""`make book`: the executed lessons and the results as a static site, read in a real headless
Chromium (Debian's; `make test` installs it as root). Under ``CI=true`` a missing browser fails."""
from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

import nbformat
from tqdm import tqdm

from gazelib.ops.book import build, lessons
from gazelib.ops.book_pages import readme_results, results_pages
from gazelib.ops.book_check import SCREENSHOTS, check_site, chromium
from gazelib.ops.book_publish import WIDGET_VIEW, publish_lesson, relative_paths

REPO = Path(__file__).resolve().parents[2]
LESSONS = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))
PAPERS = ("02", "03", "04", "05")   # the lessons with a results page of their own (06 is Table 1)


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


PARAMETERS = """profile = "laptop"     # smoke | quick | laptop | paper
seeds = [0, 1, 2]      # quick: [0]
train = True           # False: only read existing run records"""


def _tqdm_text(total: int) -> str:
    """What tqdm writes to a file that is not a terminal (a kernel's stderr) for ``total`` steps."""
    stream = io.StringIO()
    for _ in tqdm(range(total), desc="kvasir crf maps", file=stream, mininterval=0):
        pass
    return stream.getvalue()


def _executed(tmp_path, *extra_cells):
    new = nbformat.v4
    parameters = new.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})
    injected = new.new_code_cell('# Parameters\nprofile = "smoke"\nseeds = [0]\ntrain = False\ndevice = "cpu"\n',
                                 metadata={"tags": ["injected-parameters"]})
    build = str(tmp_path / "_build" / "book" / "outputs")
    bar = new.new_output("display_data", data={WIDGET_VIEW: {"model_id": "m"}, "text/plain": "HBox(...)"})
    picture = new.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    printed = new.new_output("stream", name="stdout", text=f"results: {build}/results\nwritten: {build}/figures/a.png\n")
    text_bar = new.new_output("stream", name="stderr", text=_tqdm_text(3))
    notebook = new.new_notebook(cells=[parameters, injected, new.new_code_cell(
        "train()", outputs=[bar, picture, printed, text_bar]), *extra_cells], metadata={"widgets": {"state": {}}})
    notebook.metadata["papermill"] = {"input_path": str(tmp_path / "notebooks" / "x.ipynb"), "cwd": str(tmp_path)}
    nbformat.write(notebook, tmp_path / "executed.ipynb")
    return tmp_path / "executed.ipynb", {build: "", str(tmp_path): ""}


def test_publish_lesson_shows_one_parameter_cell_no_paths_no_bars(tmp_path):
    executed, roots = _executed(tmp_path)
    assert "kvasir crf maps: 100%" in _tqdm_text(3)   # the bar this test removes is tqdm's own
    publish_lesson(executed, tmp_path / "published.ipynb", roots)
    published = nbformat.read(tmp_path / "published.ipynb", as_version=4)
    parameters, cell = published.cells
    assert parameters.source == ('profile = "smoke"      # smoke | quick | laptop | paper\n'
                                 "seeds = [0]            # quick: [0]\n"
                                 "train = False           # False: only read existing run records\n"
                                 'device = "cpu"')
    picture, printed = cell.outputs   # the widget and the stream of text bars are gone
    assert list(picture.data) == ["image/png", "text/plain"]
    assert printed.text == "results: results\nwritten: figures/a.png\n"
    assert "widgets" not in published.metadata
    assert str(tmp_path) not in (tmp_path / "published.ipynb").read_text()   # nor in papermill's metadata


def test_publish_lesson_refuses_errors(tmp_path):
    failed = nbformat.v4.new_code_cell("1 / 0", outputs=[nbformat.v4.new_output(
        "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])])
    executed, roots = _executed(tmp_path, failed)
    with pytest.raises(ValueError, match="cell 3 ended with ZeroDivisionError"):
        publish_lesson(executed, tmp_path / "never.ipynb", roots)


def test_relative_paths_deepest_root_first():
    roots = {"/w/repo": "", "/w/repo/_build/book/outputs": "", "/data/shared": "data"}
    text = "/w/repo/_build/book/outputs/results /w/repo/figures/x.png /data/shared/kvasir-seg /w/repository /data/shared"
    assert relative_paths(text, roots) == "results figures/x.png data/kvasir-seg /w/repository data"


def test_results_pages_one_per_paper_with_its_own_tables_and_figures(tmp_path):
    tables, figures = tmp_path / "results" / "tables", tmp_path / "figures"
    tables.mkdir(parents=True)
    figures.mkdir()
    row = "label,seeds,dice_mean,dice_ci_low,dice_ci_high\nTA Dec. (GradTrack),3,58.04,53.2,62.91\n"
    for name in ("03_gazemedseg_weight_kvasir_laptop", "04_gradtrack_tau_kvasir_laptop", "04_gradtrack_tau_kvasir_quick"):
        (tables / f"{name}.csv").write_text(row)
    for name in ("04_gradtrack_loss_kvasir_laptop", "04_gradtrack_batch_kvasir", "04_gradtrack_loss_kvasir_quick",
                 "06_measured_vs_paper_kvasir_laptop"):
        (figures / f"{name}.png").write_bytes(b"")
    pages = results_pages(lessons(), "kvasir", "laptop", tmp_path / "results", figures)
    assert list(pages) == ["table1", "03_gazemedseg", "04_gradtrack"]
    gradtrack = pages["04_gradtrack"]
    assert gradtrack.startswith("# Results · 04 · GradTrack\n")
    assert "## tau\n\n| setting | seeds | Dice (%) | 95% CI of Dice (%) |" in gradtrack
    assert "| TA Dec. (GradTrack) | 3 | 58.0 | [53.2,\u00a062.9] |" in gradtrack
    assert re.findall(r"```\{figure\} \.\./figures/(\S+)", gradtrack) == ["04_gradtrack_batch_kvasir.png",
                                                                      "04_gradtrack_loss_kvasir_laptop.png"]
    assert "weight" not in gradtrack and "quick" not in gradtrack
    assert "06_measured_vs_paper_kvasir_laptop.png" in pages["table1"]
    assert readme_results().split("\n\n")[1] in pages["table1"]   # the README's table: it shows `laptop`


BROKEN_PAGE = """<!doctype html><html><head>
<script src="https://cdn.example.org/mathjax.js"></script></head><body><main style="width: 400px">
<p>Raw maths: <span class="math">\\(x^2\\)</span> and $$y$$.</p>
<img src="missing.png"> <a href="nowhere.html">a dead link</a> <a href="index.html#no-such-id">a dead anchor</a>
<div class="cell tag_injected-parameters"><pre>profile = "smoke"</pre></div>
<pre>results: /home/someone/gazelib/_build/book/outputs/results
kvasir crf maps: 100%|##########| 3/3 [00:00&lt;00:00, 9.1it/s]</pre>
<table style="width: 900px"><thead><tr><th></th><th>label</th><th>dice_mean (%)</th></tr></thead>
<tbody><tr><th>0</th><td>VAM</td><td>52.4</td></tr><tr><th>1</th><td>GradTrack</td><td>69.7</td></tr></tbody></table>
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
                     "link to a missing anchor", "injected parameters cell is shown",
                     "a machine path is shown: /home/someone/gazelib/_build/book/outputs/results",
                     "a text progress bar is shown: kvasir crf maps: 100%", "a machine name: dice_mean (%)",
                     "1 table(s) with a column of row numbers", "1 table(s) run off the page"):
        assert expected in problems, expected


def test_book_builds_and_reads_offline(mirror, executed_lessons, browser, tmp_path, monkeypatch, capfd):
    """The smoke lessons the notebook tests executed (or, run alone, executed here), published with the
    tables and figures they wrote; the site passes every check of ``check_site``."""
    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    monkeypatch.setenv("GAZELIB_RESULTS", str(executed_lessons / "results"))
    monkeypatch.setenv("GAZELIB_FIGURES", str(executed_lessons / "figures"))
    index = build("smoke", out=tmp_path / "book", reports=executed_lessons)
    warnings = [line for line in capfd.readouterr().err.splitlines() if re.search(r"(^|: )WARNING:", line)]
    assert not warnings, "Sphinx warned (e.g. a link to a file outside the book):\n" + "\n".join(warnings)
    report = check_site(index.parent, screenshots=tmp_path / "shots", executable=browser)
    print(report.summary())
    assert report.ok, report.summary()

    assert {f"lessons/{stem}.html" for stem in LESSONS} <= set(report.pages)
    for stem in LESSONS:   # a lesson whose source holds display maths shows it typeset
        if "$$" in (REPO / "notebooks" / f"{stem}.py").read_text():
            assert report.pages[f"lessons/{stem}.html"]["typeset"] > 0, stem
    for stem in LESSONS:   # one parameter cell per lesson, showing what it ran with
        cells = nbformat.read(tmp_path / "book" / "src" / "lessons" / f"{stem}.ipynb", as_version=4).cells
        tagged = [c for c in cells if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
        assert len(tagged) == 1 and 'profile = "smoke"' in tagged[0].source, stem
    results = {name for name in report.pages if name.startswith("results/")}
    assert results == {"results/table1.html", *(f"results/{stem}.html" for stem in LESSONS if stem[:2] in PAPERS)}
    # the figures of the lessons: where the notebook tests left them, or the build's own outputs
    figures = executed_lessons / "figures" if any(executed_lessons.glob("*.ipynb")) else tmp_path / "book" / "outputs" / "figures"
    for stem in LESSONS:   # one page per paper: its tables and figures, and no other lesson's
        if stem[:2] in PAPERS:
            shown = {Path(image["src"]).name for image in report.pages[f"results/{stem}.html"]["images"]}
            assert shown == {p.name for p in figures.glob(f"{stem[:2]}_*.png")} != set(), stem
    timing = json.loads((executed_lessons / "results" / "book" / "build-smoke.json").read_text())
    assert set(timing["lessons_executed_seconds"]) <= set(LESSONS) and timing["total_seconds"] > 0
    shots = sorted(p.name for p in (tmp_path / "shots").glob("*.png"))
    assert shots == sorted(file for _, file, _ in SCREENSHOTS)


def test_lessons_executed_for_the_book_read_the_committed_records_and_target_ceilings(tmp_path, monkeypatch):
    from gazelib.ops import book

    results = tmp_path / "results"
    (results / "runs").mkdir(parents=True)
    (results / "tables").mkdir()
    (results / "runs" / "r.json").write_text("{}")
    (results / "tables" / "target_ceilings_kvasir.csv").write_text("method\nfull\n")
    (results / "tables" / "table1_kvasir_laptop.csv").write_text("written by the lessons\n")
    monkeypatch.setenv("GAZELIB_RESULTS", str(results))
    seen = {}

    def execute(source, target, parameters, **kwargs):
        outputs = Path(os.environ["GAZELIB_RESULTS"])
        seen.update(runs=sorted(p.name for p in (outputs / "runs").iterdir()),
                    tables=sorted(p.name for p in (outputs / "tables").iterdir()), train=parameters["train"])
    monkeypatch.setattr(book.papermill, "execute_notebook", execute)
    book.executed_here(Path("02_baselines.ipynb"), "laptop", tmp_path / "out")
    # the ceilings are computed from the data, not from records: copied, not computed again; the
    # lessons' own tables are written anew
    assert seen == {"runs": ["r.json"], "tables": ["target_ceilings_kvasir.csv"], "train": False}
