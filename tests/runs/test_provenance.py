"""git_state: a record's revision, and whether the code (not its outputs) differed from it."""
import subprocess

from gazelib.runs import provenance


def test_dirty_means_code_changes_not_outputs(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)
    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "run.json").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    assert provenance.git_state()["dirty"] is False
    (tmp_path / "results" / "run.json").unlink()          # a rerun that deleted its records first
    assert provenance.git_state()["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    state = provenance.git_state()
    assert state["dirty"] is True and len(state["revision"]) == 40


def test_default_locations_are_the_repositorys_whatever_the_working_directory(tmp_path, monkeypatch):
    """A kernel started in notebooks/ (JupyterLab) finds data/, results/ and figures/ of the checkout."""
    from gazelib.core import paths

    for name in ("GAZELIB_DATA", "GAZELIB_RESULTS", "GAZELIB_FIGURES", "GAZELIB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.data_root() == paths.REPO_ROOT / "data"
    assert paths.cache_root() == paths.REPO_ROOT / "data" / "cache"
    assert paths.results_root() == paths.REPO_ROOT / "results"
    assert paths.figures_root() == paths.REPO_ROOT / "figures"
    monkeypatch.setenv("GAZELIB_RESULTS", "elsewhere")       # a variable wins, relative to the working directory
    assert paths.results_root().resolve() == tmp_path / "elsewhere"
