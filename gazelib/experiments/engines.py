"""Where a grid's runs are trained: here one after another, here several at once, or on a cluster.

``experiments.run_grid(..., engine=...)`` hands the runs that have no record to an engine:

================  ==============================================================================
``serial``        ``train.train`` in this process, one run after another (the default)
``local:N``       N runs at once, each its own ``python -m gazelib.experiments.engines`` process: the way to
                  put several runs on one GPU (a batch of 8 at 224 px leaves an H100 mostly idle)
``stacked:N``     up to N runs that differ only in seed, schedule or augmentation trained as one stacked
                  model in this process (``gazelib.core.stacked``): one kernel launch serves N runs,
                  the way to fill a GPU; records equal to the runs trained alone up to float rounding
``submitit``      one SLURM job per run through submitit's ``AutoExecutor``; parameters from
                  ``$GAZELIB_SUBMITIT`` (JSON), e.g. ``{"slurm_partition": "gpu", "gpus_per_node": 1,
                  "timeout_min": 240}``; job files under ``results/submitit/``
``submitit-local`` the same jobs through submitit's ``LocalExecutor`` (tests, one workstation)
================  ==============================================================================

The default is ``$GAZELIB_ENGINE`` (``gazelib reproduce --engine``), else ``stacked:3`` for the ``paper``
profile on a CUDA machine (the seeds of a row in one stacked model), else ``serial``. Every engine calls
the same ``train.train`` on the same config, so records are the same whoever trains them (bit for bit
with the same CPU thread count, ``worker_env``); a run that is interrupted resumes from its checkpoint
when the grid is run again, and a finished run is never trained twice. A failing run does not stop
the others: ``run`` returns one message per failure (label, seed and the end of its log).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

import gazelib.papers  # noqa: F401  (a worker process trains any paper's method)
from gazelib.core.config import config_from_dict
from gazelib.core.methods import get_method
from gazelib.core.paths import results_root
from gazelib.core.train import train

ENGINES = ("serial", "local:N", "stacked:N", "submitit", "submitit-local")


#: The engine of the ``paper`` profile on CUDA: a row's three seeds as one stacked model.
PAPER_CUDA_ENGINE = "stacked:3"


def default_engine(profile: str | None = None) -> str:
    """``$GAZELIB_ENGINE``, else ``PAPER_CUDA_ENGINE`` for ``profile="paper"`` where CUDA is available, else serial."""
    if "GAZELIB_ENGINE" in os.environ:
        return os.environ["GAZELIB_ENGINE"]
    if profile == "paper":
        import torch

        if torch.cuda.is_available():
            return PAPER_CUDA_ENGINE
    return "serial"


def check(spec: str) -> str:
    """``spec`` if it names an engine, else a ValueError listing them."""
    if spec in ("serial", "submitit", "submitit-local"):
        return spec
    kind, _, count = spec.partition(":")
    if kind in ("local", "stacked") and count.isdigit() and int(count) >= 1:
        return spec
    raise ValueError(f"unknown engine {spec!r}; engines: {', '.join(ENGINES)} (N >= 1)")


def train_config(values: dict, retrain: bool = False) -> str:
    """Train the run of a config dict (``cfg.to_dict()``); the record path. What every
    worker process and cluster job executes."""
    return str(train(config_from_dict(values), progress=False, retrain=retrain))


def run(jobs: list[tuple[str, object]], spec: str, retrain: bool = False) -> dict[str, str]:
    """Train ``jobs`` (``(name, cfg)`` pairs) with the engine ``spec``; ``{name: error}`` of the runs
    that failed (empty when all finished)."""
    spec = check(spec)
    if not jobs:
        return {}
    if spec == "serial":
        return _serial(jobs, retrain)
    if spec.startswith("local:"):
        return _local(jobs, int(spec[6:]), retrain)
    if spec.startswith("stacked:"):
        return _stacked(jobs, int(spec[8:]), retrain)
    return _submitit(jobs, local=spec == "submitit-local", retrain=retrain)


def _serial(jobs, retrain) -> dict[str, str]:
    failures = {}
    for name, cfg in tqdm(jobs, desc="runs", unit="run"):
        try:
            train_config(cfg.to_dict(), retrain)
        except Exception as error:   # reported per run; the grid goes on
            failures[name] = f"{type(error).__name__}: {error}"
    return failures


def _stacked(jobs, size: int, retrain) -> dict[str, str]:
    """Jobs in stacks of up to ``size`` runs with equal ``stacked.stack_key``, one stack after another."""
    from gazelib.core.stacked import stack_groups, train_stacked

    names = {id(cfg): name for name, cfg in jobs}
    failures = {}
    for group in tqdm(stack_groups([cfg for _, cfg in jobs], size), desc=f"stacks (up to {size} runs)", unit="stack"):
        try:
            train_stacked(group, progress=False, retrain=retrain)
        except Exception as error:   # the stack's runs fail together; the grid goes on
            failures.update({names[id(cfg)]: f"{type(error).__name__}: {error}" for cfg in group})
    return failures


def _log_folder() -> Path:
    folder = results_root() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def worker_env(workers: int) -> dict[str, str]:
    """The environment of each ``local:N`` process: an equal share of the CPU threads unless
    ``OMP_NUM_THREADS`` is set: two 2-thread processes on 2 cores fight over them, while two 1-thread
    processes train more images per second together than one 2-thread process (``results/laptop_recipe/``).
    A run trained with another thread count sums floats in another order: its scores may differ from
    a serial run's in the last digits (the same thread count gives bit-identical records)."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    return env


def work(cfg) -> int:
    """A run's training work for scheduling: iterations times the networks it trains (``Method.networks``:
    GazeMedSeg one per pseudo-mask level). Compute-bound runs take time roughly in proportion to it."""
    return cfg.iterations * get_method(cfg.method).networks(cfg)


def longest_first(jobs: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """``jobs`` ordered by ``work``, largest first (ties keep their order): N workers taking the next
    job as they free up then finish close together, instead of one long run training alone at the end."""
    return sorted(jobs, key=lambda job: -work(job[1]))


def _local(jobs, workers: int, retrain) -> dict[str, str]:
    """Each run in its own process (``python -m gazelib.experiments.engines CONFIG_JSON``), ``workers`` at once,
    the longest first (``longest_first``)."""
    jobs = longest_first(jobs)
    logs = _log_folder()
    env = worker_env(workers)

    def one(job):
        name, cfg = job
        log = logs / f"{name.replace(' ', '_').replace('/', '_')}.log"
        command = [sys.executable, "-m", "gazelib.experiments.engines", json.dumps(cfg.to_dict())] + (["--retrain"] if retrain else [])
        with open(log, "w") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        return name, None if done.returncode == 0 else f"exit {done.returncode}; {log}: {_tail(log)}"

    with ThreadPoolExecutor(workers) as pool:
        results = list(tqdm(pool.map(one, jobs), total=len(jobs), desc=f"runs ({workers} at once)", unit="run"))
    return {name: error for name, error in results if error}


def _tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").replace("\r", "\n").strip().splitlines()
    return " | ".join(text[-lines:])


def _submitit(jobs, local: bool, retrain) -> dict[str, str]:
    """One job per run; blocks until every job has ended."""
    import submitit   # the optional `cluster` extra: imported only where a cluster engine is chosen

    folder = results_root() / "submitit"
    if local:
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=int(os.environ.get("GAZELIB_SUBMITIT_TIMEOUT", "600")))
    else:
        executor = submitit.AutoExecutor(folder=folder)
        executor.update_parameters(**json.loads(os.environ.get("GAZELIB_SUBMITIT", "{}")))
    submitted = [(name, executor.submit(train_config, cfg.to_dict(), retrain)) for name, cfg in jobs]
    failures = {}
    for name, job in tqdm(submitted, desc=f"jobs ({'local' if local else 'cluster'})", unit="job"):
        try:
            job.result()
        except Exception as error:   # submitit re-raises the job's error (or its failure) here
            failures[name] = f"job {job.job_id}: {str(error).strip().splitlines()[-1] if str(error).strip() else error!r}"
    return failures


if __name__ == "__main__":   # the worker of ``local:N``: one run from its config
    print(train_config(json.loads(sys.argv[1]), retrain="--retrain" in sys.argv[2:]))
