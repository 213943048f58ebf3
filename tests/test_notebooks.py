"""Every lesson notebook runs top to bottom under the smoke profile, on the real data, and
produces what it promises (records, tables, figures). Pairs .py/.ipynb must stay in sync."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pandas as pd
import pytest

from tests.conftest import fresh_clone, git

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))


def _cells(notebook) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_pair_in_sync(source: Path):
    paired = source.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired} missing: run `make notebooks`"
    assert _cells(jupytext.read(source)) == _cells(jupytext.read(paired)), (
        f"{source.name} and {paired.name} differ: run `make notebooks`")
    outputs = [o for c in json.loads(paired.read_text())["cells"] for o in c.get("outputs", [])]
    assert not outputs, f"{paired.name} is committed with outputs"


HEADING = re.compile(r"# #+ ")   # a markdown heading written as a comment, e.g. "# ## 5. Results"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_no_markdown_heading_in_a_code_cell(source: Path):
    """A heading left in a code cell (its ``# %% [markdown]`` marker missing, at the cell's start or
    after its code) renders as a comment, not as a section of the lesson."""
    stray = [line for cell in jupytext.read(source).cells if cell.cell_type == "code"
             for line in cell.source.splitlines() if HEADING.match(line)]
    assert not stray, f"{source.name}: markdown headings in code cells (add `# %% [markdown]`): {stray}"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One gaze/tensor cache for all notebook runs, as a user's machine would have."""
    return tmp_path_factory.mktemp("cache")


def _run(source: Path, mirror: Path, shared_cache: Path, tmp_path: Path, monkeypatch) -> Path:
    import papermill

    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    monkeypatch.setenv("GAZELIB_CACHE", str(shared_cache))
    out = tmp_path / source.with_suffix(".ipynb").name
    # cwd = notebooks/, where JupyterLab starts a lesson's kernel: paths must not depend on it
    papermill.execute_notebook(str(source.with_suffix(".ipynb")), str(out), cwd=str(REPO / "notebooks"),
                               progress_bar=False,
                               parameters={"profile": "smoke", "seeds": [0], "dataset": "kvasir", "device": "cpu"})
    return out


def _outputs(executed: Path) -> str:
    """All text/markdown outputs of an executed notebook, joined."""
    cells = json.loads(executed.read_text())["cells"]
    texts = [o.get("text", "") if "text" in o else "".join(o.get("data", {}).get("text/markdown", []))
             for c in cells for o in c.get("outputs", [])]
    return "\n".join("".join(t) if isinstance(t, list) else t for t in texts)


def _ends_with_claims_and_differences(executed: Path) -> None:
    text = _outputs(executed)
    assert "claims checked" in text or "No claim could be checked" in text
    assert "Where this differs from the paper" in text


def _has_uncertainty(table: pd.DataFrame) -> None:
    assert {"dice_mean", "dice_std", "dice_ci_low", "dice_ci_high", "vs", "p_value"} <= set(table.columns)
    assert (table.dice_ci_low <= table.dice_mean + 1e-9).all() and (table.dice_mean <= table.dice_ci_high + 1e-9).all()
    compared = table[table.vs.notna() & (table.vs != "")]
    assert len(compared) and compared.p_value.between(0, 1).all()


def _figures(tmp_path: Path, prefix: str) -> set[str]:
    return {p.name for p in (tmp_path / "figures").glob(f"{prefix}*")}


def test_01_gaze_to_pseudo_labels(mirror, shared_cache, tmp_path, monkeypatch):
    executed = _run(REPO / "notebooks/01_gaze_to_pseudo_labels.py", mirror, shared_cache, tmp_path, monkeypatch)
    assert "Where this differs from the paper" in _outputs(executed)
    figures = _figures(tmp_path, "01_")
    for name in ("scanpaths", "vam", "crf", "levels", "tracks", "san_targets", "quality_dice_per_threshold"):
        assert {f"01_{name}_kvasir.png", f"01_{name}_kvasir.pdf"} <= figures, name
    per_image = pd.read_csv(next((tmp_path / "results" / "quality").glob("*per_image*.csv")))
    assert len(per_image) == 8 and per_image["id"].is_unique


def _records(tmp_path: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (tmp_path / "results" / "runs").glob("*.json")]


def _table(tmp_path: Path, name: str) -> pd.DataFrame:
    md = tmp_path / "results" / "tables" / f"{name}.md"
    assert md.is_file(), f"{md.name} not written"
    return pd.read_csv(tmp_path / "results" / "tables" / f"{name}.csv")


def test_02_baselines(mirror, shared_cache, tmp_path, monkeypatch):
    executed = _run(REPO / "notebooks/02_baselines.py", mirror, shared_cache, tmp_path, monkeypatch)
    _ends_with_claims_and_differences(executed)
    records = _records(tmp_path)
    assert sorted((r["method"], r["config"]["backbone"]) for r in records if r["method"] == "full") == [
        ("full", "nnunet"), ("full", "unet")]
    # every Table 1 row is trained here in one batch (lesson 06 reads the gaze rows); the table shows the baselines
    assert {r["method"] for r in records} == {"full", "vam", "vam_crf", "gazemedseg", "gradtrack"}
    assert all(len(r["scores"]) == r["split"]["n_test"] > 0 for r in records)
    table = _table(tmp_path, "02_baselines_kvasir_smoke")
    assert table.label.tolist() == ["U-Net", "nnU-Net", "VAM", "VAM_D-CRF"]
    assert table.paper_dice.notna().all()
    _has_uncertainty(table)
    assert table.set_index("label").vs.fillna("").to_dict() == {"U-Net": "", "nnU-Net": "U-Net", "VAM": "",
                                                                 "VAM_D-CRF": "VAM"}
    assert {"02_baselines_kvasir_smoke.png", "02_baselines_kvasir_smoke.pdf"} <= _figures(tmp_path, "02_")


def test_03_gazemedseg(mirror, shared_cache, tmp_path, monkeypatch):
    executed = _run(REPO / "notebooks/03_gazemedseg.py", mirror, shared_cache, tmp_path, monkeypatch)
    _ends_with_claims_and_differences(executed)
    levels = sorted(len(r["config"]["levels"]) for r in _records(tmp_path) if r["config"]["cons_mode"] == "prop"
                    and r["config"]["cons_weight"] == 3.0)
    assert levels == [1, 2, 3, 4, 5]
    consistency = _table(tmp_path, "03_gazemedseg_consistency_kvasir_smoke")
    assert consistency.label.tolist() == ["no consistency", "pure", "prop (LPP)"]
    _has_uncertainty(consistency)
    assert consistency.vs.fillna("").tolist() == ["prop (LPP)", "prop (LPP)", ""]
    assert len(_table(tmp_path, "03_gazemedseg_weight_kvasir_smoke")) == 4
    assert "03_gazemedseg_ablations_kvasir_smoke.png" in _figures(tmp_path, "03_")


def test_04_gradtrack(mirror, shared_cache, tmp_path, monkeypatch):
    executed = _run(REPO / "notebooks/04_gradtrack.py", mirror, shared_cache, tmp_path, monkeypatch)
    _ends_with_claims_and_differences(executed)
    table2 = _table(tmp_path, "04_gradtrack_table2_kvasir_smoke")
    assert table2.label.tolist() == ["Truncation w/o", "Truncation sequential", "TA Enc. + Dec.", "TA Enc.",
                                     "TA Dec. (GradTrack)"]
    assert table2.paper_dice.notna().all()
    _has_uncertainty(table2)
    assert set(table2.vs.dropna()) - {""} == {"TA Dec. (GradTrack)"}
    _has_uncertainty(_table(tmp_path, "04_gradtrack_tau_kvasir_smoke"))
    assert _table(tmp_path, "04_gradtrack_components_kvasir_smoke").label.tolist() == ["#1", "#2", "#3", "#4"]
    assert len(_table(tmp_path, "04_gradtrack_tau_kvasir_smoke")) == 7
    assert {r["config"]["tau"] for r in _records(tmp_path)} == {0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5}
    assert "04_gradtrack_ablations_kvasir_smoke.pdf" in _figures(tmp_path, "04_")


def test_05_selective_attention(mirror, shared_cache, tmp_path, monkeypatch):
    executed = _run(REPO / "notebooks/05_selective_attention.py", mirror, shared_cache, tmp_path, monkeypatch)
    _ends_with_claims_and_differences(executed)
    runs = {(r["config"]["san_variant"], r["config"]["train_fraction"]) for r in _records(tmp_path)}
    assert runs == {(v, f) for v in ("backbone", "gaze_head", "san_concat", "ours_gaze", "ours")
                    for f in (0.2, 0.3, 0.5, 0.7)}
    table = _table(tmp_path, "05_selective_attention_kvasir_smoke")
    assert table[table.ratio == 0.2].label.tolist() == ["Backbone", "+gaze head", "+SAN concat", "ours-gaze", "ours"]
    assert len(table) == 20
    _has_uncertainty(table)
    assert table[table.label == "ours"].vs.tolist() == [f"Backbone ({r:g})" for r in (0.2, 0.3, 0.5, 0.7)]
    assert {"05_selective_attention_kvasir_smoke.png", "05_san_estimate_kvasir_smoke.png"} <= _figures(tmp_path, "05_")


def test_06_results(mirror, shared_cache, tmp_path, monkeypatch):
    executed = _run(REPO / "notebooks/06_results.py", mirror, shared_cache, tmp_path, monkeypatch)
    _ends_with_claims_and_differences(executed)
    table1 = _table(tmp_path, "table1_kvasir_smoke")
    measured = table1[table1.source.str.startswith("measured")]
    assert measured.method.tolist() == ["U-Net", "nnU-Net", "VAM", "VAM_D-CRF", "GazeMedSeg", "GradTrack"]
    _has_uncertainty(measured)
    assert measured.set_index("method").vs.fillna("").to_dict() == {
        "U-Net": "GradTrack", "nnU-Net": "U-Net", "VAM": "", "VAM_D-CRF": "VAM", "GazeMedSeg": "VAM_D-CRF",
        "GradTrack": "GazeMedSeg"}
    assert table1[table1.source.str.startswith("quoted")].method.tolist() == [
        "PointSup", "AGMM", "AGMM", "USTM", "DMPLS", "BoxInst", "BoxTeacher"]
    assert {"06_qualitative_kvasir_smoke.png", "06_measured_vs_paper_kvasir_smoke.png"} <= _figures(tmp_path, "06_")
    ledger = _table(tmp_path, "gap_ledger_kvasir_smoke")   # smoke runs score the test split only at the end
    assert ledger.row.tolist() == measured.method.tolist() and ledger.best_on_test_OPTIMISTIC.isna().all()
    assert ledger.pooled.notna().all() and ledger.ceiling.notna().all()


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_a_lesson_refuses_an_unknown_profile_at_once(source, tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(str(source.with_suffix(".ipynb")), str(tmp_path / "out.ipynb"),
                                   cwd=str(REPO / "notebooks"), progress_bar=False, parameters={"profile": "nonsense"})
    assert error.value.ename == "ValueError"
    assert "unknown profile 'nonsense'; profiles: smoke, quick, laptop, paper" in error.value.evalue
    assert error.value.exec_count == 3     # the parameters, papermill's injected ones, then the check


def test_lesson_06_run_twice_leaves_the_tree_as_it_was(mirror, shared_cache, tmp_path, monkeypatch):
    """A fresh copy of the tracked tree runs lesson 06 under smoke; what it wrote is committed; the
    second run, which changes no number, changes no file."""
    import papermill

    clone = fresh_clone(tmp_path / "clone")
    for name in ("GAZELIB_RESULTS", "GAZELIB_FIGURES"):   # the clone's own results/ and figures/
        monkeypatch.delenv(name)
    monkeypatch.setenv("GAZELIB_DATA", str(mirror))
    monkeypatch.setenv("GAZELIB_CACHE", str(shared_cache))
    monkeypatch.setenv("PYTHONPATH", str(clone))          # the kernel imports the clone's gazelib

    def lesson(number: int) -> None:
        papermill.execute_notebook(str(clone / "notebooks" / "06_results.ipynb"), str(tmp_path / f"06-{number}.ipynb"),
                                   cwd=str(clone / "notebooks"), progress_bar=False,
                                   parameters={"profile": "smoke", "seeds": [0], "device": "cpu"})

    lesson(1)
    written = git("status", "--porcelain", "--untracked-files=all", cwd=clone).splitlines()
    assert written and all(line.startswith("?? ") for line in written), written   # new smoke outputs only
    assert "?? results/tables/table1_kvasir_smoke.md" in written
    git("add", "-A", cwd=clone)
    git("commit", "-q", "-m", "smoke outputs", cwd=clone)
    lesson(2)
    assert git("status", "--porcelain", "--untracked-files=all", cwd=clone) == ""
