"""`gazelib reproduce` / `figures`: every notebook through papermill, with the parameters, and a
timing record per invocation."""
from __future__ import annotations

import json

import nbformat
import pytest

from gazelib.ops import reproduce


def _notebook(path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "quick"\nseeds = [0]\ndataset = "kvasir"\ndevice = "auto"\ntrain = True')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(profile, seeds, dataset, device, train)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_every_notebook_runs_with_the_parameters_and_each_is_timed(tmp_path, monkeypatch):
    sources = [_notebook(tmp_path / "01_a.ipynb"), _notebook(tmp_path / "02_b.ipynb")]
    monkeypatch.setattr(reproduce, "notebooks", lambda only=(): sources)
    monkeypatch.setenv("GAZELIB_DATA", str(tmp_path / "no-data"))   # NCI-ISBI not prepared: Kvasir only
    (tmp_path / "results" / "runs").mkdir(parents=True)
    (tmp_path / "results" / "runs" / "some-run.json").write_text("{}")   # `figures` needs records to read
    reproduce.run_notebooks("smoke", [0, 1], "cpu", False, tmp_path / "reports")

    for name in ("01_a", "02_b"):
        executed = nbformat.read(tmp_path / "reports" / f"{name}-kvasir-smoke.ipynb", as_version=4)
        assert executed.cells[-1].outputs[0]["text"].strip() == "smoke [0, 1] kvasir cpu False"
    (record_path,) = (tmp_path / "results" / "reproduce").glob("figures-smoke-cpu-*.json")
    record = json.loads(record_path.read_text())
    assert [n["notebook"] for n in record["notebooks"]] == ["01_a", "02_b"]
    assert all(n["seconds"] > 0 for n in record["notebooks"])
    assert record["total_seconds"] == round(sum(n["seconds"] for n in record["notebooks"]), 1)
    assert record["device_type"] == "cpu" and record["seeds"] == [0, 1] and "revision" in record["git"]
    assert record["status"] == "complete"
    table = record_path.with_suffix(".md").read_text()
    assert "| 01_a | kvasir | 0 |" in table and "| **total** | | **0** |" in table


def test_only_picks_lessons_by_number_and_rejects_unknown_ones():
    assert [path.name[:2] for path in reproduce.notebooks(("04", "02"))] == ["02", "04"]
    assert len(reproduce.notebooks()) == len(list(reproduce.NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")))
    with pytest.raises(ValueError, match="no lesson numbered 99"):
        reproduce.notebooks(("02", "99"))


def test_runs_written_since_counts_the_records_trained_after_a_time(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("GAZELIB_RESULTS", str(tmp_path))
    runs = tmp_path / "runs"
    runs.mkdir()
    for name, mtime in (("old", 1000.0), ("new", 3000.0), ("newer", 4000.0)):
        (runs / f"{name}.json").write_text("{}")
        os.utime(runs / f"{name}.json", (mtime, mtime))
    assert reproduce.runs_written_since(2000.0) == 2
    assert reproduce.runs_written_since(5000.0) == 0
