"""The experiment grids behind every table and figure, shared by the notebooks, `make reproduce`
and `gazelib bench`.

An ``Experiment`` is a row of a table or a point of a figure: a method plus config overrides.
Runs are identified by their full config, so a run that appears in two grids (GradTrack with
tau = 0.25 is both the Table 1 row and a point of the tau sweep) is trained once.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from gazelib.core.config import make_config, preset_for
from gazelib.core.paths import results_root
from gazelib.core.train import train as train_run
from gazelib.data.datasets import load_dataset
from gazelib.experiments import engines
from gazelib.runs.identity import config_key, find_record
from gazelib.runs.records import read_record


@dataclass(frozen=True)
class Experiment:
    label: str                       # row / point label as the paper writes it
    method: str
    overrides: tuple[str, ...] = ()  # "key=value" strings applied on top of the preset


#: The profiles whose ablation grids keep only some points (each paper's ``TRIMMED_POINTS``): the ends
#: of each sweep and the paper's choice. The budget is 5 minutes per notebook under ``quick`` on a
#: 2-core laptop CPU; ``laptop`` keeps the same points (``GRID_ITERATIONS``). ``paper`` and
#: ``smoke`` run every point.
TRIMMED = ("quick", "laptop")

#: Iterations of every run of the ablation lessons (03 GazeMedSeg, 04 GradTrack, 05 selective
#: attention) where a profile shortens them. Under ``laptop`` Table 1 (lesson 02, the README) trains
#: ``config.LAPTOP_ITERATIONS``, but a lesson's grid (8 configurations x 3 seeds for lesson 04) at that
#: length is over an hour on 2 cores. At 300 iterations lesson 04 took 16 minutes from a clean clone,
#: over its 15-minute budget; at 250 each lesson's grid, three seeds two runs at a time, fits it
#: (``results/reproduce/README.md``). The grid's default run is then its own short run, not the
#: Table 1 record.
GRID_ITERATIONS = {"laptop": 250}


def grid_overrides(profile: str) -> tuple[str, ...]:
    """The overrides every run of an ablation lesson's grid gets under ``profile`` (``GRID_ITERATIONS``)."""
    iterations = GRID_ITERATIONS.get(profile)
    return (f"iterations={iterations}",) if iterations else ()


def experiment_key(exp: Experiment, dataset: str, preset: str) -> str:
    """The run identity (``runs.config_key``, seed aside) of ``exp`` under ``preset``."""
    return config_key(make_config(exp.method, dataset, preset, list(exp.overrides)))


def run_grid(experiments: list[Experiment], profile: str, dataset: str, seeds, device: str = "auto",
             train: bool = True, retrain: bool | None = None, engine: str | None = None,
             report: bool = True) -> pd.DataFrame:
    """Train every (experiment, seed) whose record does not exist yet; return one row per run.

    With ``train=False`` nothing is trained: runs without a record are reported and left out,
    so tables and figures can be rebuilt from the records alone (``runs.find_record``: no data needed).
    ``retrain=True`` trains every run again (``train.train``; default ``GAZELIB_RETRAIN=1``).
    ``engine`` (``gazelib.experiments.engines``; default ``engines.default_engine(profile)``) trains the runs
    without a record: ``local:N`` several at once, ``stacked:N`` several as one model, ``submitit`` one cluster
    job each; a run that fails there is reported and left out.
    Columns: label, method, seed, run_id, dice, iou, hd95 (means over test images), device,
    train_fraction, selection (how the scored checkpoint was chosen) and the record path.
    ``report=False`` leaves out the line saying how many runs were loaded and trained.
    """
    engine = engines.check(engine or engines.default_engine(profile))
    if retrain is None:
        retrain = os.environ.get("GAZELIB_RETRAIN") == "1"
    rows, missing, trained = [], [], 0
    jobs = [(exp, seed) for exp in experiments for seed in seeds]
    configs = [make_config(exp.method, dataset=dataset, preset=preset_for(profile, dataset),
                           overrides=[*exp.overrides, f"seed={seed}", f"device={device}"]) for exp, seed in jobs]
    names = [f"{exp.label} (seed {seed})" for exp, seed in jobs]   # labels may repeat (SAN: one per ratio)
    failed = {}
    started = time.time()
    if train and engine != "serial":   # the engine trains what has no record; the loop below reads the records
        pending = [(f"{k}: {name}", cfg) for k, (name, cfg) in enumerate(zip(names, configs))
                   if retrain or not find_record(cfg).exists()]
        failed = engines.run(pending, engine, retrain=retrain)
        for name, error in failed.items():
            print(f"run {name} failed: {error}")
        retrain = False   # trained just now
    data = load_dataset(dataset) if train else None   # loaded once: every run's data fingerprint reads it
    for k, (exp, seed) in enumerate(tqdm(jobs, desc=f"{profile} runs", unit="run", disable=not train)):
        cfg = configs[k]
        if f"{k}: {names[k]}" in failed:
            missing.append(f"{exp.label} (seed {seed}, failed)")
            continue
        if engine == "serial":
            started = time.time()
        path = train_run(cfg, progress=False, retrain=retrain, dataset=data) if train else find_record(cfg)
        if not path.exists():
            missing.append(f"{exp.label} (seed {seed})")
            continue
        trained += path.stat().st_mtime >= started   # a record written now was trained now
        record = read_record(path)
        rows.append({"label": exp.label, "method": exp.method, "seed": seed, "run_id": record.run_id,
                     "dice": record.summary["dice_mean"], "iou": record.summary["iou_mean"],
                     "hd95": record.summary["hd95_mean"], "device": record.device,
                     "train_fraction": record.config["train_fraction"],
                     "selection": record.selection.get("mode", "final"), "record": str(path)})
    loaded = len(rows) - trained
    if report:
        print(f"{loaded} run(s) loaded from records, {trained} trained"
              + (f" (results in {results_root()}; to train afresh: retrain=True, or another results folder "
                 f"via GAZELIB_RESULTS / the lessons' results_dir / `gazelib reproduce --results DIR`)" if loaded else ""))
    if missing:
        print(f"no record yet for {len(missing)} run(s), left out: {', '.join(missing)}")
    return pd.DataFrame(rows)


def run_grids(grids: dict[str, list[Experiment]], profile: str, dataset: str, seeds, device: str = "auto",
              train: bool = True, retrain: bool | None = None, engine: str | None = None) -> dict[str, pd.DataFrame]:
    """``run_grid`` for all the grids of a lesson: the runs they need are trained as one batch (a run
    that several grids share once, and ``local:N`` keeps its N workers busy across grids), then each
    grid's rows are read from the records."""
    if train:
        preset = preset_for(profile, dataset)
        union: dict[str, Experiment] = {}
        for grid in grids.values():
            for exp in grid:
                union.setdefault(experiment_key(exp, dataset, preset), exp)
        run_grid(list(union.values()), profile, dataset, seeds, device, retrain=retrain, engine=engine)
    return {name: run_grid(grid, profile, dataset, seeds, device, train=False, report=not train)
            for name, grid in grids.items()}


def default_label(grid: list[Experiment], dataset: str, profile: str) -> str:
    """The label of the grid's default run: the experiment whose config is the method's preset
    with nothing but the grid's shared overrides (``grid_overrides``): the run shared by every grid
    of a notebook."""
    preset = preset_for(profile, dataset)
    for exp in grid:
        default = Experiment(exp.label, exp.method, grid_overrides(profile))
        if experiment_key(exp, dataset, preset) == experiment_key(default, dataset, preset):
            return exp.label
    raise ValueError(f"no experiment of the grid {[e.label for e in grid]} is the {profile} default")


def against_default(grid: list[Experiment], dataset: str, profile: str) -> dict[str, str]:
    """Each ablation row against the grid's default run (``default_label``)."""
    default = default_label(grid, dataset, profile)
    return {exp.label: default for exp in grid if exp.label != default}
