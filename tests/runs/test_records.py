"""Run records are checked on every read: fields and types, scores, summary, content digest;
``gazelib records check | migrate``; every committed record passes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gazelib.runs import records as results

REPO = Path(__file__).resolve().parents[2]


def sound_record(run_id: str = "m-kvasir-0123456789-d00000000-s0", *, method: str = "m", seed: int = 0,
                 scores: dict | None = None, **fields) -> results.RunRecord:
    """A record that passes every check: config, split and summary agree with the scores given."""
    scores = scores or {"a": {"dice": 0.5, "iou": 0.25, "hd95": 3.0}, "b": {"dice": 1.0, "iou": 1.0, "hd95": 0.0}}
    values = dict(run_id=run_id, method=method, dataset="kvasir", seed=seed,
                  config={"method": method, "dataset": "kvasir", "seed": seed, "iterations": 2},
                  split={"name": "default", "train_hash": "t", "test_hash": "u", "n_train": 4, "n_test": len(scores)},
                  scores=scores, summary=results.summarise(scores), device="cpu", torch="x", git={}, iterations=2,
                  final_loss=0.5, wall_time_s=1.0, train_images_per_s=1.0, eval_images_per_s=1.0, started="",
                  finished="", loss_history=[[1, 0.7], [2, 0.5]])
    return results.RunRecord(**{**values, **fields})


def _edited(path: Path, edit) -> Path:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def test_summary_and_digest_by_hand():
    record = sound_record()
    # Dice 0.5 and 1.0: mean 0.75, std (ddof 0) 0.25; IoU 0.25 and 1.0: 0.625, 0.375; HD95 3 and 0: 1.5, 1.5
    assert results.summarise(record.scores) == {"dice_mean": 0.75, "dice_std": 0.25, "iou_mean": 0.625,
                                                "iou_std": 0.375, "hd95_mean": 1.5, "hd95_std": 1.5}
    path = results.write_record(record)
    stored = json.loads(path.read_text())
    content = {k: v for k, v in stored.items() if k != "digest"}
    import hashlib
    assert stored["digest"] == hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert list(stored)[-1] == "digest" and path.read_text().startswith('{\n "run_id"')   # plain, diffable JSON
    assert results.read_record(path) == results.RunRecord(**stored)


@pytest.mark.parametrize("edit, problem", [
    (lambda d: d["scores"]["a"].update(dice=0.99), "summary.dice_mean is 0.75 but its per-image scores give 0.995"),
    (lambda d: d["summary"].update(dice_mean=0.99), "summary.dice_mean is 0.99 but its per-image scores give 0.75"),
    (lambda d: d.update(seed="zero"), "seed must be int, got str 'zero'"),
    (lambda d: d.update(summary="great"), "summary must be dict, got str 'great'"),
    (lambda d: d["scores"]["b"].update(hd95=float("nan")), "scores['b'].hd95 is nan, not a finite number"),
    (lambda d: d["scores"]["b"].update(dice=1.5), "scores['b'].dice is 1.5, not a finite number in [0.0, 1.0]"),
    (lambda d: d["scores"].pop("b"), "1 per-image scores for split.n_test = 2 test images"),
    (lambda d: d["config"].update(seed=1), "seed is 0 but config.seed is 1"),
    (lambda d: d.update(final_loss=float("inf")), "final_loss is inf, not a finite number"),
    (lambda d: d.update(verdict="great"), "unknown field(s) ['verdict']"),
    (lambda d: d.pop("scores"), "missing field(s) ['scores']"),
    (lambda d: d.update(device="cuda"), "changed after it was written (its content does not match its digest)"),
])
def test_an_edited_record_is_refused_naming_file_and_problem(edit, problem):
    path = _edited(results.write_record(sound_record()), edit)
    with pytest.raises(results.RecordError) as error:
        results.read_record(path)
    assert str(error.value).startswith(str(path)) and problem in str(error.value)
    assert "\n" not in str(error.value)


def test_unparsable_and_unsigned_records_are_named(tmp_path):
    bad = tmp_path / "runs" / "x.json"
    bad.parent.mkdir()
    bad.write_text('{"run_id": ')
    with pytest.raises(results.RecordError, match=r"x.json is not a run record: not valid JSON"):
        results.read_record(bad)
    path = _edited(results.write_record(sound_record()), lambda d: d.pop("digest"))
    with pytest.raises(results.RecordError, match=r"has no content digest.*gazelib records migrate"):
        results.read_record(path)


def test_write_record_refuses_an_unsound_record_and_writes_nothing():
    with pytest.raises(results.RecordError, match=r"run m-kvasir-.*refusing to write its record: final_loss is nan"):
        results.write_record(sound_record(final_loss=float("nan")))
    with pytest.raises(results.RecordError, match="summary.dice_mean"):
        results.write_record(sound_record(summary={**results.summarise(sound_record().scores), "dice_mean": 0.9}))
    assert not results.runs_dir().exists()


def test_migrate_adds_only_the_digest_and_never_replaces_one(tmp_path):
    path = results.write_record(sound_record())
    signed = path.read_text()
    legacy = _edited(path, lambda d: d.pop("digest"))
    unsigned = legacy.read_text()
    assert results.migrate_record(legacy) is True
    assert legacy.read_text() == signed                                   # the digest added, nothing else
    assert results.migrate_record(legacy) is False and legacy.read_text() == signed
    edited = _edited(legacy, lambda d: d.update(device="cuda"))
    assert results.migrate_record(edited) is False                        # has a digest: kept, still refused
    with pytest.raises(results.RecordError, match="does not match its digest"):
        results.read_record(edited)
    with pytest.raises(results.RecordError, match="summary.dice_mean"):  # unsound: not signed
        results.migrate_record(_edited(legacy, lambda d: (d.pop("digest"), d["scores"]["a"].update(dice=0.6))))
    assert unsigned.count("\n") + 1 == signed.count("\n")


def _gazelib(*argv):
    return subprocess.run([sys.executable, "-m", "gazelib", *argv], capture_output=True, text=True, timeout=120)


def test_records_check_lists_each_state_and_fails_on_a_bad_record(tmp_path):
    good = results.write_record(sound_record())
    bad = _edited(results.write_record(sound_record("m-kvasir-0123456789-d00000000-s1", seed=1,
                                                    config={"method": "m", "dataset": "kvasir", "seed": 1,
                                                            "iterations": 2})),
                  lambda d: d["summary"].update(dice_mean=0.99))
    done = _gazelib("records", "check", str(results.runs_dir().parent))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert f"ok    {good}" in lines
    assert any(line.startswith(f"FAILS {bad} is not a sound run record: summary.dice_mean") for line in lines)
    assert lines[-1] == "2 run record(s): 1 sound, 1 failing"
    bad.unlink()
    assert _gazelib("records", "check", str(results.runs_dir())).returncode == 0


def test_records_migrate_command(tmp_path):
    legacy = _edited(results.write_record(sound_record()), lambda d: d.pop("digest"))
    done = _gazelib("records", "migrate", str(legacy.parent))
    assert done.returncode == 0 and "digest added to 1, 0 had one, 0 not sound" in done.stdout
    results.read_record(legacy)


def test_every_committed_record_is_sound():
    paths = results.record_files([REPO / "results"])
    assert len(paths) >= 200
    for path in paths:
        results.read_record(path)


COUNTED = {"a": {"dice": 0.8, "iou": 8 / 12, "hd95": 3.0, "tp": 8, "fp": 2, "fn": 2},   # 16 / 20; 8 / 12
           "b": {"dice": 1.0, "iou": 1.0, "hd95": 0.0, "tp": 0, "fp": 0, "fn": 0}}


@pytest.mark.parametrize("edit, problem", [
    (lambda s: s["a"].update(tp=9), "scores['a']: dice 0.8 is not the 0.8181818181818182 its counts give (tp 9, fp 2, fn 2)"),
    (lambda s: s["a"].update(fp=-1), "pixel counts tp, fp, fn must be non-negative integers, got [8, -1, 2]"),
    (lambda s: s["a"].update(fn=2.0), "pixel counts tp, fp, fn must be non-negative integers"),
    (lambda s: s["a"].pop("fn"), "scores['a'] must hold exactly dice, iou, hd95, or these and tp, fp, fn"),
    (lambda s: [s["b"].pop(k) for k in ("tp", "fp", "fn")], "some per-image scores have pixel counts and some have none"),
])
def test_pixel_counts_must_give_the_scores_they_keep(edit, problem):
    scores = {image: dict(score) for image, score in COUNTED.items()}
    assert results.has_counts(results.read_record(results.write_record(sound_record(scores=scores))))
    edit(scores)
    with pytest.raises(results.RecordError, match="refusing to write") as error:
        results.write_record(sound_record(scores=scores, summary=results.summarise(scores)))
    assert problem in str(error.value)
