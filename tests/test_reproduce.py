"""`gazelib reproduce` / `figures`: every notebook through papermill, with the parameters, and a
timing record per invocation."""
from __future__ import annotations

import json

import nbformat

from gazelib import reproduce


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
    monkeypatch.setattr(reproduce, "notebooks", lambda: sources)
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
    assert "| 01_a | kvasir |" in table and "| **total** |" in table
