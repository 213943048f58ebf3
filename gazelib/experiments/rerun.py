"""``gazelib rerun``: train run records again from their stored config and check they reproduce.

A record is reproduced when the new run has the same run id, the same per-image scores, the same
final loss and the same loss history, compared exactly (floats as stored). Training is deterministic
on one machine for one CPU thread count (``gazelib/experiments/engines.py``), so a record trained with two
threads is compared with ``--threads 2``. The new records go to ``--into`` (never over the
originals); a rerun into the same folder resumes where it stopped.

Used to show that a refactoring changed no behaviour: rerun every record of a profile before and after.
"""
from __future__ import annotations

from pathlib import Path

from gazelib.core.config import config_from_dict
from gazelib.core.paths import use_results
from gazelib.core.train import train
from gazelib.runs.records import read_record


def read_records(paths: list[str], preset: str | None) -> list:
    """The run records named directly or found in folders, optionally only those of one preset."""

    files = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files += sorted(path.glob("*.json"))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such run record or folder")
    records = [read_record(f) for f in files]
    if preset is not None:
        records = [r for r in records if r.config.get("preset") == preset]
    if not records:
        raise FileNotFoundError(f"no run records{f' of preset {preset!r}' if preset else ''} in {', '.join(paths)}")
    return records


def compare(old, new) -> dict:
    """Where two records of the same config differ: ``identical`` and the largest score difference."""
    same_images = set(old.scores) == set(new.scores)
    largest = max((abs(old.scores[i][m] - new.scores[i][m]) for i in old.scores if i in new.scores
                   for m in old.scores[i] if m in new.scores[i]), default=float("nan"))
    checks = {"run_id": old.run_id == new.run_id, "images": same_images, "scores": old.scores == new.scores,
              "final_loss": old.final_loss == new.final_loss, "loss_history": old.loss_history == new.loss_history}
    return {"run_id": old.run_id, "identical": all(checks.values()),
            "differs_in": [name for name, ok in checks.items() if not ok],
            "dice_old": old.summary["dice_mean"], "dice_new": new.summary["dice_mean"],
            "largest_score_difference": largest}


def rerun(originals: list, into: Path, progress: bool = True) -> list[dict]:
    """Train each record's config into ``into`` (resuming what is there) and compare with the record."""

    use_results(into)
    rows = []
    for number, old in enumerate(originals, 1):
        print(f"[{number}/{len(originals)}] {old.run_id}", flush=True)
        new = read_record(train(config_from_dict(old.config), progress=progress))
        rows.append(compare(old, new))
        print(f"    {'identical' if rows[-1]['identical'] else 'DIFFERS in ' + ', '.join(rows[-1]['differs_in'])}",
              flush=True)
    return rows
