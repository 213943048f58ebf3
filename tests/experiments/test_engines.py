"""Engines train the same records as the serial loop: several runs at once (local:N), cluster jobs
(submitit through its LocalExecutor, the real subprocess path), failures reported per run."""
from __future__ import annotations

import pytest

from gazelib.experiments.engines import check, worker_env
from gazelib.experiments.grids import Experiment, run_grid

GRID = [Experiment("full", "full"), Experiment("VAM", "vam")]


@pytest.fixture
def data(mirror, monkeypatch):
    monkeypatch.setenv("GAZELIB_DATA", str(mirror))


def _grid(monkeypatch, results, engine, grid=GRID):
    monkeypatch.setenv("GAZELIB_RESULTS", str(results))
    return run_grid(grid, "smoke", "kvasir", seeds=[0], device="cpu", engine=engine).set_index("label")


def test_local_processes_write_the_records_serial_training_writes(data, tmp_path, monkeypatch, capsys):
    import torch

    serial = _grid(monkeypatch, tmp_path / "serial", "serial")
    # the workers use this process's thread count: float sums in another order differ in the last bits
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))
    parallel = _grid(monkeypatch, tmp_path / "local", "local:2")
    assert "0 run(s) loaded from records, 2 trained" in capsys.readouterr().out
    assert list(parallel.run_id) == list(serial.run_id)
    assert list(parallel.dice) == list(serial.dice)              # bit-identical: same config, same seed, same code
    again = _grid(monkeypatch, tmp_path / "local", "local:2")    # nothing left to train
    assert list(again.dice) == list(serial.dice)
    assert "2 run(s) loaded from records, 0 trained" in capsys.readouterr().out


def test_a_failing_run_is_named_and_the_others_finish(data, tmp_path, monkeypatch, capsys):
    grid = [Experiment("full", "full"), Experiment("broken", "full", ("split=fold9of3",))]
    runs = _grid(monkeypatch, tmp_path / "results", "local:2", grid)
    out = capsys.readouterr().out
    assert list(runs.index) == ["full"]
    assert "run 1: broken (seed 0) failed: exit 1" in out and "1:_broken_(seed_0).log" in out
    assert "left out: broken (seed 0, failed)" in out


def test_submitit_local_executor_trains_the_serial_record(data, tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    serial = _grid(monkeypatch, tmp_path / "serial", "serial", GRID[:1])
    cluster = _grid(monkeypatch, tmp_path / "cluster", "submitit-local", GRID[:1])
    assert list(cluster.dice) == list(serial.dice)
    assert any((tmp_path / "cluster" / "submitit").iterdir())   # the job's files


def test_stacked_engine_trains_a_grid_s_seeds_together(data, tmp_path, monkeypatch, capsys):
    from gazelib.runs.records import read_record

    grid = [Experiment("VAM", "vam", ("amp=false",))]
    monkeypatch.setenv("GAZELIB_RESULTS", str(tmp_path / "stacked"))
    stacked = run_grid(grid, "smoke", "kvasir", seeds=[0, 1, 2], device="cpu", engine="stacked:2")
    assert "0 run(s) loaded from records, 3 trained" in capsys.readouterr().out
    # seeds 0 and 1 in one stack of 2, seed 2 alone (a stack of one trains as train() does)
    assert [read_record(path).precision.get("stacked") for path in stacked.record] == [2, 2, None]
    monkeypatch.setenv("GAZELIB_RESULTS", str(tmp_path / "serial"))
    serial = run_grid(grid, "smoke", "kvasir", seeds=[0, 1, 2], device="cpu", engine="serial")
    assert list(stacked.run_id) == list(serial.run_id)
    assert list(stacked.dice) == pytest.approx(list(serial.dice), abs=1e-3)


def test_paper_runs_stack_their_seeds_on_cuda_unless_an_engine_is_chosen(monkeypatch):
    import torch

    from gazelib.experiments.engines import PAPER_CUDA_ENGINE, default_engine

    monkeypatch.delenv("GAZELIB_ENGINE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert (default_engine("paper"), default_engine("laptop"), default_engine()) == (PAPER_CUDA_ENGINE, "serial", "serial")
    monkeypatch.setenv("GAZELIB_ENGINE", "local:2")
    assert default_engine("paper") == "local:2"
    monkeypatch.delenv("GAZELIB_ENGINE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_engine("paper") == "serial"


def test_unknown_engines_are_refused():
    assert check("local:3") == "local:3"
    for spec in ("local:0", "local", "slurm", "local:x"):
        with pytest.raises(ValueError, match="unknown engine"):
            check(spec)


def test_local_workers_share_the_cpu_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert [worker_env(n)["OMP_NUM_THREADS"] for n in (1, 2, 3, 16)] == ["8", "4", "2", "1"]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")          # a user's choice wins
    assert worker_env(2)["OMP_NUM_THREADS"] == "3"


def test_local_runs_the_longest_jobs_first():
    from types import SimpleNamespace

    from gazelib.experiments.engines import longest_first, work

    def cfg(method, iterations, levels=(0.3, 0.7)):
        return SimpleNamespace(method=method, iterations=iterations, levels=levels)

    assert work(cfg("gazemedseg", 100, (0.2, 0.5, 0.8))) == 300   # one network per level
    assert work(cfg("gradtrack", 100)) == 100
    jobs = [("a", cfg("vam", 100)), ("b", cfg("gazemedseg", 100)), ("c", cfg("full", 250)), ("d", cfg("san", 100))]
    assert [name for name, _ in longest_first(jobs)] == ["c", "b", "a", "d"]   # ties keep their order
