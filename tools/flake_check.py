"""Flake hunt: run every lesson check cell and the unit tests many times, under different seeds and
thread counts, and report the failures of each check (`make flake-check`; long, not part of `make test`).

Lesson check cells (cells tagged ``check``): each lesson that has them is executed under the ``smoke``
profile on the real data, its code cells in one namespace without a kernel (as
``gazelib.exercises.run_checks`` does), in a fresh process per thread count (``torch.set_num_threads``,
``OMP_NUM_THREADS``). At every check cell the namespace is copied (shallow) and the check is re-run
``--repeat`` times, each from its own copy, after seeding Python's ``random``, NumPy's and torch's
global generators with a different seed: seeds ``0 .. repeat-1`` under the first thread count,
``repeat .. 2*repeat-1`` under the second, and so on. A check that fixes its random input itself
(``torch.manual_seed(0)`` at its top, so that the lesson is deterministic) has that seed shifted by the
repetition's seed (``shifted_seeds``): with seed 0 it runs as written, with the others on other inputs.
The solution cells a check calls are functions defined before it, so re-running the check re-runs
them. Then the check runs once more in the lesson's own namespace and the lesson goes on. Only the
check cells are repeated: the cells before them read real data deterministically (a fixed split,
``default_rng(0)`` picks the examples) and run once per thread count. The exercises are generated
from these lessons (``gazelib.exercises``): their checks are these cells.

Unit tests: ``pytest`` with pytest-repeat (``--count``) and pytest-randomly (random order; ``random``
and NumPy reseeded per test from ``--randomly-seed`` and the test id, which includes the repetition);
this file, loaded as a pytest plugin (``-p flake_check``), reseeds torch the same way. A seed a test
sets itself is left alone (tests compare with values that follow from it). ``--test-count``
repetitions of every test are spread over the thread counts (5 over 1 and 2 threads: 3 runs with one
thread, 2 with two), each thread count with its own ``--randomly-seed``. ``EXCLUDED`` names the tests
left out, and why.

Writes ``summary.md`` and ``summary.json`` to ``--out`` (default ``results/flakes/``): git revision,
date, versions, repetitions, thread counts, seeds, and per check / per test the runs and failures.
Exit status 1 when anything failed.

    python tools/flake_check.py                         # the committed run
    python tools/flake_check.py --repeat 5 --test-count 0 --lessons 03   # a quick look at lesson 03
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
import zlib
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PARAMETERS = {"profile": "smoke", "dataset": "kvasir", "seeds": [0], "device": "cpu"}
CHECK_TAG = re.compile(r'^# %%.*tags=\[[^\]]*"check"')

# Unit tests the repetitions leave out (node id prefixes), with the reason. Each still runs once in `make test`.
EXCLUDED = {
    "tests/test_notebooks.py::test_0": "executes a whole lesson under papermill; its check cells are what the "
                                      "lesson part of this runner repeats (test_pair_in_sync is kept)",
    "tests/test_lessons_fresh.py": "executes every lesson from a fresh copy under its default profile (a benchmark of "
                                   "minutes; its check cells are what the lesson part of this runner repeats)",
    "tests/ops/test_exercises.py::test_solutions_pass_the_checks_and_blanks_fail_them":
        "executes the lessons' cells up to their checks (generated copies of the same check cells, "
        "repeated by the lesson part)",
    "tests/ops/test_book.py::test_book_builds_and_reads_offline": "builds the book from executed lessons and reads it "
                                                              "in Chromium (minutes)",
    "tests/ops/test_book.py::test_check_finds_what_a_reader_would_miss": "drives Chromium (browser, not numerics)",
    "tests/ops/test_gpu.py::test_steps_run_two_rows_from_the_pack_alone_and_collects_their_records":
        "trains runs in child processes (about 50 s a repetition); the training code is repeated in-process "
        "by tests/core/test_train.py",
    "tests/experiments/test_engines.py::test_local_processes_write_the_records_serial_training_writes":
        "trains runs in child processes (about 40 s a repetition), as above",
    "tests/experiments/test_engines.py::test_submitit_local_executor_trains_the_serial_record":
        "trains a run in a child process (about 25 s a repetition), as above",
}


# --------------------------------------------------------------------------------------------------
# Lesson check cells


def seed_everything(seed: int) -> None:
    """Python's ``random``, NumPy's and torch's global generators."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def shifted_seeds(offset: int):
    """While a check re-runs: a seed the check sets itself with ``torch.manual_seed``,
    ``np.random.seed``, ``np.random.default_rng`` or ``random.seed`` is shifted by ``offset``, so a
    check that fixes its own random input is still tried on other inputs (offset 0: as written)."""
    import numpy as np
    import torch

    originals = [(torch, "manual_seed"), (np.random, "seed"), (np.random, "default_rng"), (random, "seed")]
    originals = [(module, name, getattr(module, name)) for module, name in originals]

    def shift(function, modulus):
        def shifted(seed=None, *args, **kwargs):
            if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
                seed = (int(seed) + offset) % modulus
            return function(seed, *args, **kwargs)
        return shifted

    try:
        for module, name, function in originals:
            setattr(module, name, shift(function, 2**32 if module is np.random else 2**63))
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


def check_cells(path: Path) -> list[tuple[int, int]]:
    """(cell index, line in the percent .py) of every code cell tagged ``check``."""
    import jupytext

    cells = jupytext.read(path).cells
    indices = [i for i, c in enumerate(cells) if "check" in c.metadata.get("tags", [])]
    lines = [n for n, text in enumerate(path.read_text().splitlines(), start=1) if CHECK_TAG.match(text)]
    if len(lines) != len(indices):   # a check tag written otherwise: name the checks by cell only
        lines = [0] * len(indices)
    return list(zip(indices, lines))


def _message(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300]


def run_lesson_checks(path: Path, seeds: list[int], threads: int, parameters: dict | None = None) -> dict:
    """Execute ``path`` up to its last check cell under ``threads`` torch threads; re-run every check cell
    once per seed, each from a copy of the namespace the check cell sees. Returns
    {"lesson", "threads", "setup_error", "checks": [{"cell", "line", "runs": [{"seed", "error"}]}]};
    a check that raised has the exception's type and message as its ``error`` (None when it passed).
    A failing non-check cell stops the lesson (``setup_error``); its remaining checks are reported with
    no runs. The caller's thread count is restored."""
    import jupytext
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    parameters = PARAMETERS if parameters is None else parameters
    cells = jupytext.read(path).cells
    checks = check_cells(path)
    result = {"lesson": path.stem, "threads": threads, "setup_error": None,
              "checks": [{"cell": i, "line": line, "runs": []} for i, line in checks]}
    if not checks:
        return result
    by_cell = {c["cell"]: c for c in result["checks"]}
    namespace = {"__name__": "__main__", "display": lambda *args, **kwargs: None}
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for index, cell in enumerate(cells[:max(by_cell) + 1]):
            if cell.cell_type != "code":
                continue
            code = compile(cell.source, f"{path.name}, cell {index}", "exec")
            if index in by_cell:
                snapshot, started = dict(namespace), time.monotonic()
                for seed in seeds:
                    copy = dict(snapshot)
                    seed_everything(seed)
                    try:
                        with contextlib.redirect_stdout(io.StringIO()), shifted_seeds(seed):
                            exec(code, copy)
                        error = None
                    except Exception as failure:  # noqa: BLE001 - a failing check is the result we report
                        error = _message(failure)
                    by_cell[index]["runs"].append({"seed": seed, "error": error})
                    plt.close("all")
                by_cell[index]["seconds"] = round(time.monotonic() - started, 2)
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(code, namespace)
            except Exception:  # noqa: BLE001 - reported, and the lesson stops here
                if index not in by_cell:   # (a failing check is already in its runs)
                    result["setup_error"] = f"cell {index}: " + traceback.format_exc(limit=-3)
                    break
            if "parameters" in cell.metadata.get("tags", []):
                namespace.update(parameters)   # as papermill would
            plt.close("all")
    finally:
        torch.set_num_threads(before)
    return result


def _lesson_sources(lessons: list[str] | None) -> list[Path]:
    sources = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
    if lessons:
        sources = [s for s in sources if any(s.stem.startswith(prefix) for prefix in lessons)]
    return [s for s in sources if check_cells(s)]


def _worker_env(threads: int, scratch: Path) -> dict:
    env = dict(os.environ)
    mirror = os.environ.get("GAZELIB_MIRROR") or str(REPO.parent / "shared" / "data")
    env.setdefault("GAZELIB_DATA", mirror)
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                "GAZELIB_CACHE": str(scratch / "cache"), "GAZELIB_RESULTS": str(scratch / "results"),
                "GAZELIB_FIGURES": str(scratch / "figures"), "MPLBACKEND": "Agg",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))})
    return env


def repeat_lesson_checks(lessons: list[str] | None, repeat: int, threads: list[int], scratch: Path) -> list[dict]:
    """Every lesson with check cells, once per thread count, each in its own process."""
    runs = []
    for source in _lesson_sources(lessons):
        for position, n in enumerate(threads):
            seeds = list(range(position * repeat, (position + 1) * repeat))
            out = scratch / f"{source.stem}-{n}.json"
            started = time.monotonic()
            command = [sys.executable, __file__, "--worker", str(source), "--worker-threads", str(n),
                       "--worker-seeds", f"{seeds[0]}:{seeds[-1] + 1}", "--worker-out", str(out)]
            done = subprocess.run(command, cwd=REPO / "notebooks", env=_worker_env(n, scratch),
                                  capture_output=True, text=True)
            if done.returncode != 0 or not out.is_file():
                result = {"lesson": source.stem, "threads": n, "checks": [],
                          "setup_error": f"worker exited {done.returncode}: {done.stderr[-2000:]}"}
            else:
                result = json.loads(out.read_text())
            result["seconds"] = round(time.monotonic() - started, 1)
            failed = sum(r["error"] is not None for c in result["checks"] for r in c["runs"])
            print(f"  {source.stem}, {n} thread(s): {len(result['checks'])} checks x {repeat} seeds, "
                  f"{failed} failed, {result['seconds']} s" + (" - SETUP FAILED" if result["setup_error"] else ""),
                  flush=True)
            runs.append(result)
    return runs


def summarise_lessons(runs: list[dict]) -> list[dict]:
    """One row per check cell over every thread count: runs, failures, failing (threads, seed), first message."""
    rows: dict[tuple, dict] = {}
    for run in runs:
        if run["setup_error"] and not run["checks"]:
            rows[(run["lesson"], -1)] = {"check": f"{run['lesson']} (setup)", "runs": 0, "failures": 1,
                                         "failed": [], "message": run["setup_error"][-300:]}
        for check in run["checks"]:
            key = (run["lesson"], check["cell"])
            name = f"notebooks/{run['lesson']}.py:{check['line']}" if check["line"] else \
                f"notebooks/{run['lesson']}.py, cell {check['cell']}"
            row = rows.setdefault(key, {"check": name, "runs": 0, "failures": 0, "failed": [], "message": None,
                                        "seconds": 0.0})
            row["seconds"] = round(row["seconds"] + check.get("seconds", 0.0), 1)
            if run["setup_error"] and not check["runs"]:
                row["failures"] += 1
                row["message"] = row["message"] or f"lesson stopped before this check: {run['setup_error'][-200:]}"
            for r in check["runs"]:
                row["runs"] += 1
                if r["error"] is not None:
                    row["failures"] += 1
                    row["failed"].append({"threads": run["threads"], "seed": r["seed"]})
                    row["message"] = row["message"] or r["error"]
    return list(rows.values())


# --------------------------------------------------------------------------------------------------
# Unit tests


def _torch_reseed(item, offset: int) -> None:
    seed = item.config.getoption("randomly_seed", None)
    if isinstance(seed, int):
        import torch

        torch.manual_seed((seed + zlib.crc32(item.nodeid.encode()) + offset) % 2**63)


def pytest_runtest_setup(item):
    """torch's global generator reseeded per test (and repetition), as pytest-randomly does for NumPy."""
    _torch_reseed(item, -1)


def pytest_runtest_call(item):
    _torch_reseed(item, 0)


_REPEAT_ID = re.compile(r"(\[|-)\d+-\d+\]$")


def base_test_id(classname: str, name: str) -> str:
    """The test's id without pytest-repeat's ``[k-N]`` (junit ``classname`` is the dotted module path)."""
    name = _REPEAT_ID.sub(lambda m: "" if m.group(1) == "[" else "]", name)
    parts = classname.split(".")
    module = [p for p in parts if p.startswith("test_")]
    path = "/".join(parts[:parts.index(module[0]) + 1]) + ".py" if module else classname
    rest = parts[parts.index(module[0]) + 1:] if module else []
    return "::".join([path, *rest, name])


def parse_junit(path: Path) -> dict[str, dict]:
    """{test id: {"runs", "failures", "message"}} over every repetition in a junit XML report."""
    tests: dict[str, dict] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test = base_test_id(case.get("classname", ""), case.get("name", ""))
        row = tests.setdefault(test, {"runs": 0, "failures": 0, "skipped": 0, "message": None})
        if case.find("skipped") is not None:
            row["skipped"] += 1
            continue
        row["runs"] += 1
        problem = case.find("failure")
        problem = case.find("error") if problem is None else problem
        if problem is not None:
            row["failures"] += 1
            row["message"] = row["message"] or " ".join((problem.get("message") or "").split())[:300]
    return tests


def repeat_tests(count: int, threads: list[int], seed: int, scratch: Path, pytest_args: list[str]) -> list[dict]:
    """``count`` repetitions of every unit test (but ``EXCLUDED``), spread over the thread counts."""
    runs = []
    counts = [count // len(threads) + (i < count % len(threads)) for i in range(len(threads))]
    for position, (n, k) in enumerate(zip(threads, counts)):
        if k == 0:
            continue
        report = scratch / f"pytest-{n}.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "randomly", "-p", "flake_check",
                   f"--randomly-seed={seed + position}", f"--count={k}", f"--junitxml={report}",
                   "-o", "junit_family=xunit2", "-p", "no:cacheprovider"]
        command += [f"--deselect={test}" for test in EXCLUDED] + (pytest_args or ["tests"])
        env = _worker_env(n, scratch)
        for name in ("GAZELIB_CACHE", "GAZELIB_RESULTS", "GAZELIB_FIGURES", "GAZELIB_DATA"):
            env.pop(name)                          # the tests choose their own (conftest.py)
        if "GAZELIB_DATA" in os.environ:
            env["GAZELIB_DATA"] = os.environ["GAZELIB_DATA"]
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tools"), env["PYTHONPATH"]])
        started = time.monotonic()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        tests = parse_junit(report) if report.is_file() else {}
        seconds = round(time.monotonic() - started, 1)
        failed = sum(t["failures"] for t in tests.values())
        print(f"  pytest, {n} thread(s), --count={k} --randomly-seed={seed + position}: "
              f"{sum(t['runs'] for t in tests.values())} runs of {len(tests)} tests, {failed} failed, {seconds} s",
              flush=True)
        runs.append({"threads": n, "count": k, "randomly_seed": seed + position, "returncode": done.returncode,
                     "seconds": seconds, "tests": tests, "tail": done.stdout[-3000:] if done.returncode else ""})
    return runs


def summarise_tests(runs: list[dict]) -> list[dict]:
    rows: dict[str, dict] = {}
    for run in runs:
        for test, t in run["tests"].items():
            row = rows.setdefault(test, {"test": test, "runs": 0, "failures": 0, "skipped": 0, "message": None,
                                         "failed": []})
            row["runs"] += t["runs"]
            row["failures"] += t["failures"]
            row["skipped"] += t["skipped"]
            if t["failures"]:
                row["failed"].append({"threads": run["threads"], "randomly_seed": run["randomly_seed"],
                                      "failures": t["failures"]})
                row["message"] = row["message"] or t["message"]
    return sorted(rows.values(), key=lambda r: r["test"])


# --------------------------------------------------------------------------------------------------
# Report


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip()


def markdown(summary: dict) -> str:
    s = summary
    lines = [
        "# Flake hunt",
        "",
        f"`make flake-check` (`tools/flake_check.py`) at `{s['revision']}`{' (uncommitted changes)' if s['dirty'] else ''},"
        f" {s['date']}, on {s['machine']} (torch {s['torch']}, Python {s['python']}); {s['seconds'] / 60:.1f} min.",
        "",
        "## Lesson check cells",
        "",
        f"Every cell tagged `check`, executed under the `smoke` profile on the real data, re-run {s['repeat']} times "
        f"per thread count ({', '.join(map(str, s['threads']))} torch threads), Python/NumPy/torch reseeded before "
        f"each run: seeds {s['lesson_seeds']}.",
        "",
        "| check | runs | failures | failing (threads, seed) | first failure |",
        "|---|---:|---:|---|---|",
    ]
    for row in s["checks"]:
        failing = ", ".join(f"({f['threads']}, {f['seed']})" for f in row["failed"][:8]) + \
            (" ..." if len(row["failed"]) > 8 else "")
        lines.append(f"| `{row['check']}` | {row['runs']} | {row['failures']} | {failing} | "
                     f"{(row['message'] or '').replace('|', '/')} |")
    lines += ["", f"{len(s['checks'])} checks, {sum(r['runs'] for r in s['checks'])} runs, "
              f"{sum(r['failures'] for r in s['checks'])} failures.", ""]
    lines += ["## Unit tests", ""]
    if s["test_runs"]:
        lines += [f"`pytest` with pytest-repeat and pytest-randomly (random order; `random`, NumPy and torch reseeded "
                  f"per test and repetition): {s['test_count']} repetitions of every test, "
                  + ", ".join(f"{r['count']} with {r['threads']} thread(s) (`--randomly-seed={r['randomly_seed']}`, "
                              f"{r['seconds'] / 60:.1f} min)" for r in s["test_runs"]) + ".",
                  "",
                  f"{len(s['tests'])} tests, {sum(t['runs'] for t in s['tests'])} runs "
                  f"({sum(t['skipped'] for t in s['tests'])} skipped), "
                  f"{sum(t['failures'] for t in s['tests'])} failures.", ""]
        failing = [t for t in s["tests"] if t["failures"]]
        if failing:
            lines += ["| test | runs | failures | first failure |", "|---|---:|---:|---|"]
            lines += [f"| `{t['test']}` | {t['runs']} | {t['failures']} | {(t['message'] or '').replace('|', '/')} |"
                      for t in failing]
            lines.append("")
    else:
        lines += ["Not run this time.", ""]
    lines += ["Left out of the repetitions (each runs once in `make test`):", ""]
    lines += [f"* `{test}*`: {why}" for test, why in s["excluded"].items()]
    return "\n".join(lines) + "\n"


def print_table(summary: dict) -> None:
    rows = [(c["check"], c["runs"], c["failures"]) for c in summary["checks"]]
    rows += [(t["test"], t["runs"], t["failures"]) for t in summary["tests"] if t["failures"]]
    width = max([len(r[0]) for r in rows] + [5])
    print(f"\n{'check':<{width}}  {'runs':>6}  {'failures':>8}")
    for name, runs, failures in rows:
        print(f"{name:<{width}}  {runs:>6}  {failures:>8}")
    tests = summary["tests"]
    if tests:
        print(f"{'unit tests (' + str(len(tests)) + ', failing ones listed above)':<{width}}  "
              f"{sum(t['runs'] for t in tests):>6}  {sum(t['failures'] for t in tests):>8}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=150,
                        help="runs of every check cell per thread count, each with its own seed (default 150)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts (default 1 2)")
    parser.add_argument("--test-count", type=int, default=5,
                        help="repetitions of every unit test, spread over the thread counts (default 5; 0: none)")
    parser.add_argument("--test-seed", type=int, default=27, help="--randomly-seed of the first pytest run (+1 each)")
    parser.add_argument("--lessons", nargs="*", help="lesson prefixes, e.g. 03 (default: every lesson with checks)")
    parser.add_argument("--pytest-args", nargs="*", help="tests to repeat instead of tests/ (paths or node ids)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "flakes",
                        help="folder of summary.md and summary.json ('-': write nothing)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-seeds", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        first, stop = map(int, args.worker_seeds.split(":"))
        result = run_lesson_checks(args.worker, list(range(first, stop)), args.worker_threads)
        args.worker_out.write_text(json.dumps(result))
        return 0

    import torch

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flake-check-") as scratch:
        scratch = Path(scratch)
        print(f"lesson check cells: {args.repeat} seeds x threads {args.threads}", flush=True)
        lesson_runs = repeat_lesson_checks(args.lessons, args.repeat, args.threads, scratch) if args.repeat else []
        print(f"unit tests: {args.test_count} repetitions over threads {args.threads}", flush=True)
        test_runs = repeat_tests(args.test_count, args.threads, args.test_seed, scratch, args.pytest_args) \
            if args.test_count else []
    summary = {
        "revision": _git("rev-parse", "--short=12", "HEAD"), "dirty": bool(_git("status", "--porcelain")),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "python": platform.python_version(),
        "torch": torch.__version__, "seconds": round(time.monotonic() - started, 1),
        "repeat": args.repeat, "threads": args.threads,
        "lesson_seeds": f"0..{args.repeat * len(args.threads) - 1}" if args.repeat else "none",
        "test_count": args.test_count, "test_seed": args.test_seed, "parameters": PARAMETERS,
        "checks": summarise_lessons(lesson_runs),
        "lesson_runs": [{k: v for k, v in r.items() if k != "checks"} for r in lesson_runs],
        "tests": summarise_tests(test_runs),
        "test_runs": [{k: v for k, v in r.items() if k != "tests"} for r in test_runs],
        "excluded": EXCLUDED,
    }
    print_table(summary)
    problems = [r for r in test_runs if r["returncode"] not in (0, 1)]   # 1: tests failed, counted above
    for r in problems:
        print(f"pytest ({r['threads']} threads) exited {r['returncode']}:\n{r['tail']}")
    if str(args.out) != "-":
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        (args.out / "summary.md").write_text(markdown(summary))
        print(f"\nwritten: {args.out / 'summary.md'}, {args.out / 'summary.json'}")
    failures = sum(r["failures"] for r in summary["checks"]) + sum(t["failures"] for t in summary["tests"])
    return 1 if failures or problems else 0


if __name__ == "__main__":
    sys.exit(main())
