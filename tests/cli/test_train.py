"""``gazelib train`` / ``gazelib eval`` end to end on the tiny synthetic data set and method."""
import argparse
import json
from pathlib import Path

import pytest

from gazelib.runs import records as results
from gazelib.cli.train import add_commands
from tests.core.test_train import Disks, Tiny


@pytest.fixture
def cli(monkeypatch):
    from gazelib.data import datasets
    from gazelib.core import methods

    monkeypatch.setitem(methods._REGISTRY, "tiny", Tiny())
    monkeypatch.setattr(datasets, "load_dataset", lambda name, root=None: Disks())
    parser = argparse.ArgumentParser(prog="gazelib")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return lambda *argv: parser.parse_args(argv).func(parser.parse_args(argv))


def test_train_then_eval(cli, capsys):
    tiny = ["--set", "image_size=16", "--set", "train_limit=None", "--set", "test_limit=None", "--set", "device=cpu"]
    assert cli("train", "tiny", "--profile", "smoke", "--seed", "3", "--quiet", *tiny) == 0
    path = capsys.readouterr().out.splitlines()[0]
    rec = results.read_record(path)
    assert rec.seed == 3 and rec.config["image_size"] == 16 and rec.config["preset"] == "smoke"
    assert cli("eval", "--run", rec.run_id) == 0
    assert json.loads(capsys.readouterr().out)["summary"] == pytest.approx(rec.summary)


def test_bad_override_is_reported(cli):
    with pytest.raises(ValueError, match="unknown config key 'imagesize'"):
        cli("train", "tiny", "--set", "imagesize=16")


def test_rerun_reproduces_a_record_and_reports_a_changed_one(cli, tmp_path, capsys):
    tiny = ["--set", "image_size=16", "--set", "train_limit=None", "--set", "test_limit=None", "--set", "device=cpu"]
    assert cli("train", "tiny", "--profile", "smoke", "--quiet", *tiny) == 0
    original = results.read_record(capsys.readouterr().out.splitlines()[0])
    assert cli("rerun", str(results.runs_dir()), "--into", str(tmp_path / "again"), "--quiet") == 0
    report = json.loads((tmp_path / "again" / "rerun.json").read_text())
    assert [row["identical"] for row in report["records"]] == [True]

    changed = dict(original.scores)
    first = sorted(changed)[0]
    changed[first] = {**changed[first], "hd95": changed[first]["hd95"] + 0.01}   # Dice would disagree with its counts
    results.write_record(results.RunRecord(**{**original.__dict__, "scores": changed,
                                              "summary": results.summarise(changed)}), tmp_path / "edited")
    tampered = next((tmp_path / "edited" / "runs").glob("*.json"))
    assert cli("rerun", str(tampered), "--into", str(tmp_path / "again"), "--quiet") == 1
    row = json.loads((tmp_path / "again" / "rerun.json").read_text())["records"][0]
    assert row["differs_in"] == ["scores"] and row["largest_score_difference"] == pytest.approx(0.01)


def test_rerun_refuses_a_folder_holding_runs_it_did_not_train_and_resumes_its_own(cli, tmp_path, capsys):
    import shutil

    from gazelib.runs.identity import checkpoint_path

    tiny = ["--set", "image_size=16", "--set", "train_limit=None", "--set", "test_limit=None", "--set", "device=cpu"]
    assert cli("train", "tiny", "--profile", "smoke", "--quiet", *tiny) == 0
    original = Path(capsys.readouterr().out.splitlines()[0])
    trained = checkpoint_path(original.stem)
    copy = tmp_path / "copy" / "runs" / original.name          # a copied record is no training
    copy.parent.mkdir(parents=True)
    shutil.copy(original, copy)
    with pytest.raises(ValueError, match=f"{copy} is already there and was not trained by `gazelib rerun`"):
        cli("rerun", str(original), "--into", str(tmp_path / "copy"), "--quiet")
    assert not (tmp_path / "copy" / "rerun.json").exists()
    stray = tmp_path / "stray"                                  # nor is a checkpoint put there
    checkpoint = stray / "checkpoints" / original.stem / "last.pt"
    checkpoint.parent.mkdir(parents=True)
    shutil.copy(trained, checkpoint)
    with pytest.raises(ValueError, match=f"{checkpoint} is already there"):
        cli("rerun", str(original), "--into", str(stray), "--quiet")
    # a rerun's own folder resumes: the run it trained there is in its ledger
    assert cli("rerun", str(original), "--into", str(tmp_path / "again"), "--quiet") == 0
    assert cli("rerun", str(original), "--into", str(tmp_path / "again"), "--quiet") == 0
    ledger = json.loads((tmp_path / "again" / "rerun.json").read_text())
    assert ledger["started"] == [original.stem] and [r["identical"] for r in ledger["records"]] == [True]


def _without_counts(record, **score_changes):
    """``record`` as written before records kept pixel counts (its digest made again)."""
    from dataclasses import replace

    scores = {image: {m: s[m] for m in results.METRICS} for image, s in record.scores.items()}
    first = next(iter(scores))
    scores[first].update(score_changes)
    return results.write_record(replace(record, scores=scores, summary=results.summarise(scores), digest=""))


def test_rescore_adds_counts_keeps_id_and_scores_and_names_what_it_cannot(cli, capsys):
    from gazelib.core.paths import results_root

    tiny = ["--set", "image_size=16", "--set", "train_limit=None", "--set", "test_limit=None", "--set", "device=cpu"]
    records = []
    for seed in (1, 2, 3):
        assert cli("train", "tiny", "--profile", "smoke", "--seed", str(seed), "--quiet", *tiny) == 0
        records.append(results.read_record(capsys.readouterr().out.splitlines()[0]))
    full, lost, edited = records
    paths = [_without_counts(full), _without_counts(lost), _without_counts(edited, dice=0.123, iou=0.0)]
    (results_root() / "checkpoints" / lost.run_id / "last.pt").unlink()   # weights not kept
    assert cli("eval", "--rescore", str(results_root() / "runs")) == 1    # the edited one fails
    out = capsys.readouterr().out
    assert "1 record(s) rescored, 0 had pixel counts already, 1 cannot be rescored, 1 failed" in out
    assert f"cannot rescore: {paths[1]}: no checkpoint" in out
    assert f"FAILED: {paths[2]}: re-scoring its checkpoint does not give its scores back (1 of" in out
    rescored = results.read_record(paths[0])                    # digest valid
    assert rescored.run_id == full.run_id and rescored.scores == full.scores   # counts back, scores unchanged
    assert not results.has_counts(results.read_record(paths[1])) and not results.has_counts(results.read_record(paths[2]))
    assert cli("eval", "--rescore", str(paths[0])) == 0
    assert "0 record(s) rescored, 1 had pixel counts already" in capsys.readouterr().out
