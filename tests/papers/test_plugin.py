"""A paper plugs in without editing a shared module: a method from a folder outside gazelib, with its
own config key, target and gaze-map kind, trains under `smoke`, is evaluated and writes a record."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "plugin_paper"
REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import gazelib.papers
from gazelib.core.config import make_config
from gazelib.core.evaluate import evaluate_checkpoint
from gazelib.core.train import train
from gazelib.runs.records import read_record
from gazelib.runs.identity import config_key
from gazelib.papers.table1 import TABLE1

cfg = make_config("centre_prior", "kvasir", "smoke", ["prior_radius=0.3", "device=cpu"])
record = read_record(train(cfg, progress=False))
again = evaluate_checkpoint(record.run_id)
table1_keys = [config_key(make_config(e.method, "kvasir", "laptop", list(e.overrides))) for e in TABLE1]
print(json.dumps({"run_id": record.run_id, "config": record.config, "iterations": record.iterations,
                  "images": len(record.scores), "dice": record.summary["dice_mean"],
                  "again": again["summary"]["dice_mean"], "table1_keys": table1_keys}))
"""


def _run(env_extra: dict, tmp_path: Path, mirror: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(FIXTURES)]), "GAZELIB_DATA": str(mirror),
           "GAZELIB_RESULTS": str(tmp_path / "results"), "GAZELIB_CACHE": str(tmp_path / "cache"), **env_extra}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_paper_outside_gazelib_trains_evaluates_and_records(tmp_path, mirror):
    out = _run({"GAZELIB_PLUGINS": "centre_prior"}, tmp_path, mirror)
    assert out["run_id"].startswith("centre_prior-kvasir-") and out["iterations"] == 3   # its own recipe
    assert out["config"]["prior_radius"] == 0.3 and out["images"] == 8                  # its key; smoke's 8 test images
    assert 0 <= out["dice"] <= 1 and out["again"] == out["dice"]                          # evaluated from its checkpoint
    assert list((tmp_path / "cache" / "gaze" / "kvasir").glob("dwell-*"))                 # its gaze-map kind was cached
    # declaring a key leaves every other run's id as it was
    without = subprocess.run([sys.executable, "-c", "import json, gazelib.papers; from gazelib.core.config import "
                              "make_config; from gazelib.runs.identity import config_key; from gazelib.papers.table1 "
                              "import TABLE1; print(json.dumps([config_key(make_config(e.method, 'kvasir', 'laptop', "
                              "list(e.overrides))) for e in TABLE1]))"],
                             env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)
    assert json.loads(without.stdout) == out["table1_keys"]


def test_the_shared_layers_import_no_paper():
    """core, data, gaze and runs know no paper: nothing there imports from gazelib.papers (the layers
    above, experiments, report, ops and cli, may: they present the papers)."""
    offenders = []
    for layer in ("core", "data", "gaze", "runs"):
        for path in (REPO / "gazelib" / layer).rglob("*.py"):
            offenders += [f"{path.relative_to(REPO)}: {line.strip()}" for line in path.read_text().splitlines()
                          if "gazelib.papers" in line and line.strip().startswith(("from ", "import "))]
    assert offenders == []
