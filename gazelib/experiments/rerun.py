"""``gazelib rerun``: train run records again from their stored config and check they reproduce.

A record is reproduced when the new run has the same run id, the same per-image scores, the same
final loss and the same loss history, compared exactly (floats as stored). Training is deterministic
on one machine for one CPU thread count (``gazelib/experiments/engines.py``), so a record trained with two
threads is compared with ``--threads 2``. The new records go to ``--into`` (never over the
originals); a rerun into the same folder resumes where it stopped.

Every verdict comes from a training the rerun did: ``--into`` keeps a ledger, ``rerun.json``, of the
runs whose training a rerun started there (and the comparisons so far). A record or checkpoint of a
run to compare that is already in ``--into`` but not in its ledger (the original's own folder, a
copy) is refused before anything is trained: comparing it would prove nothing.

Used to show that a refactoring changed no behaviour: rerun every record of a profile before and after.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from gazelib.core import files
from gazelib.core.config import config_from_dict
from gazelib.core.paths import use_results
from gazelib.core.train import train
from gazelib.runs.identity import checkpoint_path
from gazelib.runs.records import read_record, record_files, record_path

LEDGER = "rerun.json"


def read_records(paths: list[str], preset: str | None) -> list:
    """The run records named directly or found in folders (``records.record_files``), optionally only
    those of one preset."""
    records = [read_record(f) for f in record_files(paths)]
    if preset is not None:
        records = [r for r in records if r.config.get("preset") == preset]
    if not records:
        raise FileNotFoundError(f"no run records{f' of preset {preset!r}' if preset else ''} in {', '.join(paths)}")
    return records


def compare(old, new) -> dict:
    """Where two records of the same config differ: ``identical`` and the largest score difference.
    Scores compare on what the old record keeps (one written before pixel counts were kept: Dice, IoU, HD95)."""
    same_images = set(old.scores) == set(new.scores)
    same_scores = same_images and all({m: new.scores[i].get(m) for m in s} == s for i, s in old.scores.items())
    largest = max((abs(old.scores[i][m] - new.scores[i][m]) for i in old.scores if i in new.scores
                   for m in old.scores[i] if m in new.scores[i]), default=float("nan"))
    checks = {"run_id": old.run_id == new.run_id, "images": same_images, "scores": same_scores,
              "final_loss": old.final_loss == new.final_loss, "loss_history": old.loss_history == new.loss_history}
    return {"run_id": old.run_id, "identical": all(checks.values()),
            "differs_in": [name for name, ok in checks.items() if not ok],
            "dice_old": old.summary["dice_mean"], "dice_new": new.summary["dice_mean"],
            "largest_score_difference": largest}


def _ledger(into: Path) -> dict:
    path = into / LEDGER
    if not path.exists():
        return {"started": [], "records": []}
    try:
        ledger = json.loads(path.read_text())
        if not isinstance(ledger.get("started"), list):
            raise ValueError("no list of started runs")
    except (ValueError, AttributeError) as error:
        raise ValueError(f"{path} is not a rerun ledger ({error}); choose another --into folder") from None
    return ledger


def _refuse_untrained(originals: list, into: Path, started: list[str]) -> None:
    """Refuse records or checkpoints of ``originals`` in ``into`` that no rerun there trained."""
    for old in originals:
        for found in (record_path(old.run_id, into), checkpoint_path(old.run_id)):
            if found.exists() and old.run_id not in started:
                raise ValueError(f"{found} is already there and was not trained by `gazelib rerun` into {into}: "
                                 f"comparing with it would prove nothing; choose an empty --into folder")


def rerun(originals: list, into: Path, progress: bool = True) -> list[dict]:
    """Train each record's config into ``into`` (resuming what a rerun started there) and compare with
    the record; the comparisons are also written to ``into/rerun.json`` as they come."""
    use_results(into)
    ledger = _ledger(into)
    _refuse_untrained(originals, into, ledger["started"])
    rows = []

    def save() -> None:
        files.write_text(into / LEDGER, json.dumps({"threads": torch.get_num_threads(), "started": ledger["started"],
                                                    "records": rows}, indent=1) + "\n")

    for number, old in enumerate(originals, 1):
        print(f"[{number}/{len(originals)}] {old.run_id}", flush=True)
        if old.run_id not in ledger["started"]:
            ledger["started"].append(old.run_id)
            save()
        new = read_record(train(config_from_dict(old.config), progress=progress))
        rows.append(compare(old, new))
        save()
        print(f"    {'identical' if rows[-1]['identical'] else 'DIFFERS in ' + ', '.join(rows[-1]['differs_in'])}",
              flush=True)
    return rows
