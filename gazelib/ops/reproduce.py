"""`gazelib reproduce` / `gazelib figures`: papermill runs every lesson notebook.

Executed notebooks go to ``reports/``; tables to ``results/tables/``; figures to ``figures/``.
Runs whose records exist are not trained again, so an interrupted reproduction continues where
it stopped. ``figures`` runs the same notebooks with ``train=False``: tables and figures are
rebuilt from the records already there.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path


from gazelib.core import files
from gazelib.core.config import Config
from gazelib.core.device import device_name, resolve_device
from gazelib.core.paths import REPO_ROOT, data_root, results_root
from gazelib.runs.provenance import git_state
from gazelib.runs.records import read_record

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
DEFAULT_SEEDS = {"paper": [0, 1, 2], "laptop": [0, 1, 2], "quick": [0], "smoke": [0]}


def notebooks(only: tuple[str, ...] = ()) -> list[Path]:
    """The lessons in order; ``only``: just those whose number is listed (``("02", "04")``)."""
    lessons = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    unknown = set(only) - {path.name[:2] for path in lessons}
    if unknown:
        raise ValueError(f"no lesson numbered {', '.join(sorted(unknown))}; lessons: "
                         f"{', '.join(path.stem for path in lessons)}")
    return [path for path in lessons if not only or path.name[:2] in only]


def nci_isbi_prepared(root: Path | None = None) -> bool:
    """True when `gazelib data prepare-nci-isbi` has written the prepared slices."""
    return ((root or data_root()) / "nci-isbi" / "prepared" / "split.json").is_file()


def run_notebooks(profile: str, seeds: list[int], device: str, train: bool, reports: Path,
                  retrain: bool = False, only: tuple[str, ...] = ()) -> None:
    """``retrain``: train every run again even where a record exists (``GAZELIB_RETRAIN=1`` in the
    notebook kernels, read by ``train.train``), e.g. after editing a method's code. ``only``: the
    lessons to run, by number (``notebooks``); all by default.

    A timing record is written once the first lesson has started (and after each one): a command
    refused before that (an unknown lesson, no records) leaves none."""
    import papermill   # the optional `notebooks` extra (and tests replace it with a fake)


    lessons = notebooks(only)
    if not train and not any((results_root() / "runs").glob("*.json")):
        raise FileNotFoundError(f"no run records in {results_root() / 'runs'}: run `gazelib reproduce` first "
                                f"(or point GAZELIB_RESULTS at a results folder)")
    if retrain:
        os.environ["GAZELIB_RETRAIN"] = "1"
    datasets = ["kvasir", "nci_isbi"] if nci_isbi_prepared() else ["kvasir"]
    reports.mkdir(parents=True, exist_ok=True)
    timing = {"command": "reproduce" if train else "figures", "profile": profile, "seeds": seeds,
              "device": device, **_device(device), "git": git_state(),
              "stamp": time.strftime("%Y%m%d-%H%M%S"), "status": "running", "only": list(only), "notebooks": []}
    try:
        for dataset in datasets:
            for notebook in lessons:
                _run_notebook(papermill, notebook, reports, dataset, profile, seeds, device, train, timing)
    except BaseException:   # Ctrl-C, kill (the CLI turns SIGTERM into KeyboardInterrupt), a failed notebook
        timing["status"] = "interrupted"
        _write_timing(timing)
        raise
    timing["status"] = "complete"
    _write_timing(timing)
    if "nci_isbi" not in datasets:   # said where NCI-ISBI would have run, after Kvasir-SEG's lessons
        print(f"NCI-ISBI not run: its prepared images are not in {data_root() / 'nci-isbi' / 'prepared'} "
              "(they come from TCIA; see README, gazelib data prepare-nci-isbi RAW).")


def _run_notebook(papermill, notebook, reports, dataset, profile, seeds, device, train, timing) -> None:
    out = reports / f"{notebook.stem}-{dataset}-{profile}.ipynb"
    print(f"[{time.strftime('%H:%M:%S')}] {notebook.name} ({dataset}, {profile}) -> {out}", flush=True)
    started = time.time()
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook), str(out), cwd=str(REPO_ROOT), progress_bar=False,
            parameters={"profile": profile, "seeds": seeds, "dataset": dataset, "device": device, "train": train},
        )
    except papermill.PapermillExecutionError as error:
        raise RuntimeError(f"notebook {notebook.name} ({dataset}) failed: {error.ename}: {error.evalue}; "
                           f"the executed notebook is {out}") from error
    seconds = time.perf_counter() - start
    trained = runs_written_since(started)
    print(f"    done in {seconds:.0f} s, {trained} run(s) trained", flush=True)
    timing["notebooks"].append({"notebook": notebook.stem, "dataset": dataset, "seconds": round(seconds, 1),
                                "runs_trained": trained})
    _write_timing(timing)


def runs_written_since(started: float) -> int:
    """How many run records were written (trained) at or after ``started`` (``time.time()``)."""
    return sum(path.stat().st_mtime >= started for path in (results_root() / "runs").glob("*.json"))


def _device(device: str) -> dict:
    """The device the runs of ``device`` ("auto", "cpu", "cuda") land on: its type and name."""
    resolved = resolve_device(Config(device=device))
    return {"device_type": resolved.type, "device_name": device_name(resolved)}


def _write_timing(timing: dict) -> Path:
    """How long each notebook took, one record per invocation (a rerun that skips finished runs takes
    less): ``results/reproduce/<command>-<profile>-<device type>-<start time>.json``, and its table
    beside it (``.md``)."""
    timing = {**timing, "total_seconds": round(sum(n["seconds"] for n in timing["notebooks"]), 1)}
    name = f"{timing['command']}-{timing['profile']}-{timing['device_type']}-{timing['stamp']}.json"
    path = results_root() / "reproduce" / name
    files.write_text(path, json.dumps(timing, indent=1) + "\n")
    rows = [f"| {n['notebook']} | {n['dataset']} | {n['runs_trained']} | {n['seconds'] / 60:.1f} |"
            for n in timing["notebooks"]]
    only = f" --only {' '.join(timing['only'])}" if timing["only"] else ""
    files.write_text(path.with_suffix(".md"), "\n".join([
        f"`gazelib {timing['command']} --profile {timing['profile']}{only}` on {timing['device_name']} "
        f"({timing['device_type']}), seeds {timing['seeds']}, git {str(timing['git'].get('revision'))[:7]}",
        "", f"Status: **{timing['status']}**" + ("" if timing["status"] == "complete" else
                                                 " (the table lists only the notebooks that finished)"),
        "", "| notebook | data set | runs trained | minutes |", "|---|---|---|---|", *rows,
        f"| **total** | | **{sum(n['runs_trained'] for n in timing['notebooks'])}** | "
        f"**{timing['total_seconds'] / 60:.1f}** |", ""]))
    return path


def profile_with_records(root: Path | None = None) -> str:
    """The profile with the most run records in ``root/runs`` (``gazelib figures`` without --profile);
    every record is read (``records.read_record``), so an unsound one is named before any lesson runs."""
    counts: dict[str, int] = {}
    for path in ((root or results_root()) / "runs").glob("*.json"):
        preset = read_record(path).config.get("preset", "")
        profile = "paper" if preset.startswith("paper_") else preset   # paper_kvasir, paper_nci_isbi
        counts[profile] = counts.get(profile, 0) + 1
    if not counts:
        raise FileNotFoundError(f"no run records in {(root or results_root()) / 'runs'}: train them with "
                                f"`gazelib reproduce --profile quick` (or point --results at a results folder)")
    return max(counts, key=counts.get)
