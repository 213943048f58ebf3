"""The command line's conventions: ``--version``, plain and complete help, a one-line summary
after ``gazelib train``, and the NCI-ISBI notice only where NCI-ISBI would have run."""
from __future__ import annotations

import argparse
import importlib.metadata
import re

import pandas as pd
import pytest

from gazelib.cli import build_parser, main
from gazelib.cli.train import summary_line
from gazelib.report.summary import summarize
from gazelib.runs import records as results
from tests.test_trust import tiny_cli  # noqa: F401  (the fixture: gazelib ... on the synthetic data and method)


def _parsers(parser: argparse.ArgumentParser, name: str = "gazelib"):
    """``parser`` and every sub-command parser below it, with its command line."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_version_is_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"gazelib {importlib.metadata.version('gazelib')}"


def test_help_is_plain_text_and_every_option_has_some():
    plain, silent = [], []
    for name, parser in _parsers(build_parser()):
        text = parser.format_help()
        if "`" in text or ":func:" in text or ":mod:" in text:
            plain.append(name)
        silent += [f"{name} {'/'.join(a.option_strings) or a.dest}" for a in parser._actions
                   if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert not plain, f"help with markup (backticks): {plain}"
    assert not silent, f"options without help: {silent}"


def test_the_helpers_see_a_parser_with_sub_commands():   # the walk above must not pass vacuously
    names = [name for name, _ in _parsers(build_parser())]
    assert {"gazelib", "gazelib train", "gazelib data fetch", "gazelib figures"} <= set(names)


SUMMARY = re.compile(r"(?P<method>\w+) on (?P<dataset>\w+), seed (?P<seed>\d+), (?P<preset>\w+): "
                     r"Dice (?P<dice>[\d.]+) % \(95 % CI (?P<low>[\d.]+) to (?P<high>[\d.]+), (?P<n>\d+) test images\), "
                     r"wall time (?P<wall>[\d.]+) s")


def test_train_ends_with_a_summary_line_that_matches_the_record_and_the_tables(tiny_cli, capsys):
    assert tiny_cli(["train", "tiny", "--profile", "smoke", "--quiet", "--seed", "2", "--set", "image_size=16",
                     "--set", "train_limit=None", "--set", "test_limit=None", "--set", "device=cpu"]) == 0
    path, line = capsys.readouterr().out.strip().splitlines()
    record = results.read_record(path)
    found = SUMMARY.fullmatch(line)
    assert found, line
    assert (found["method"], found["dataset"], int(found["seed"]), found["preset"]) == ("tiny", record.dataset, 2, "smoke")
    assert float(found["dice"]) == pytest.approx(100 * record.summary["dice_mean"], abs=0.05)
    assert int(found["n"]) == len(record.scores) and float(found["wall"]) == pytest.approx(record.wall_time_s, abs=0.05)
    # the interval is the one the results tables print for this run
    runs = pd.DataFrame([{"label": "tiny", "seed": record.seed, "record": path, "run_id": record.run_id,
                          "dice": record.summary["dice_mean"], "iou": record.summary["iou_mean"],
                          "hd95": record.summary["hd95_mean"], "device": record.device}])
    table = summarize(runs).iloc[0]
    assert (float(found["low"]), float(found["high"])) == (round(table.dice_ci_low, 1), round(table.dice_ci_high, 1))
    assert float(found["low"]) < float(found["dice"]) < float(found["high"])
    assert summary_line(path) == line


@pytest.fixture
def lessons(tmp_path, monkeypatch):
    """``gazelib figures`` over two fake lessons (``ran`` lists the (lesson, dataset) run), with a
    record to read and NCI-ISBI not prepared."""
    from gazelib.ops import reproduce

    monkeypatch.setenv("GAZELIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("GAZELIB_DATA", str(tmp_path / "no-data"))
    (tmp_path / "results" / "runs").mkdir(parents=True)
    (tmp_path / "results" / "runs" / "some-run.json").write_text("{}")
    monkeypatch.setattr(reproduce, "notebooks", lambda only=(): [tmp_path / "01_a.ipynb", tmp_path / "02_b.ipynb"])
    ran = []

    def run(papermill, notebook, reports, dataset, *args):
        if notebook.name == "02_b.ipynb" and "fail" in ran:
            raise RuntimeError("lesson 02_b failed")
        ran.append((notebook.stem, dataset))
    monkeypatch.setattr(reproduce, "_run_notebook", run)
    monkeypatch.setitem(__import__("sys").modules, "papermill", object())
    return ran


def test_the_nci_isbi_notice_follows_the_kvasir_lessons(lessons, tmp_path, capsys):
    assert main(["figures", "--profile", "smoke", "--reports", str(tmp_path / "reports")]) == 0
    assert lessons == [("01_a", "kvasir"), ("02_b", "kvasir")]
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("NCI-ISBI not run: its prepared images are not in ")


def test_no_nci_isbi_notice_before_an_error_or_in_other_commands(lessons, tmp_path, capsys):
    lessons.append("fail")
    assert main(["figures", "--profile", "smoke", "--reports", str(tmp_path / "reports")]) == 2
    captured = capsys.readouterr()
    assert "lesson 02_b failed" in captured.err and "NCI-ISBI" not in captured.out + captured.err
    assert main(["train", "nosuch", "--profile", "smoke"]) == 2
    captured = capsys.readouterr()
    assert "unknown method 'nosuch'" in captured.err and "NCI-ISBI" not in captured.out + captured.err
