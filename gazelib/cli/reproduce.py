"""``gazelib reproduce`` and ``gazelib figures`` (``gazelib/ops/reproduce.py`` does the work)."""
from __future__ import annotations

import os
from pathlib import Path

from gazelib.core.config import PROFILES
from gazelib.core.paths import REPO_ROOT


DESCRIPTIONS = {
    "reproduce": "Execute every lesson (notebooks/NN_*.ipynb) with papermill under a profile, training the runs "
                 "that have no record yet, and write the executed lessons to --reports, the tables to "
                 "results/tables, the figures to figures/ and a timing record to results/reproduce/. Runs "
                 "with a record are loaded, not trained (each lesson says how many); --retrain or --results "
                 "DIR trains afresh.",
    "figures": "Rebuild every table and figure from the run records that exist (no training): the lessons "
               "are executed with train=False and leave out runs without a record.",
}


def add_commands(subparsers) -> None:
    for name, train, help_text in (
        ("reproduce", True, "run every notebook with papermill (trains missing runs)"),
        ("figures", False, "rebuild every table and figure from existing run records (no training)"),
    ):
        p = subparsers.add_parser(name, help=help_text, description=DESCRIPTIONS[name])
        p.add_argument("--profile", default="paper" if train else None, choices=PROFILES,
                       help="the size of every run: smoke (CI), quick (live demo, CPU), laptop (every image, near "
                            "the papers, CPU), paper (the papers' settings, GPU); default: "
                            + ("paper" if train else "the profile with the most run records"))
        p.add_argument("--seeds", type=int, nargs="+", default=None,
                       help="default: 0 1 2 for paper and laptop (the papers report three seeds), 0 for quick and smoke")
        p.add_argument("--device", default="auto", help="auto (CUDA when there is one) | cpu | cuda")
        p.add_argument("--reports", type=Path, default=REPO_ROOT / "reports",
                       help="where the executed lessons go (default: reports/)")
        p.add_argument("--results", type=Path, default=None,
                       help="results folder for records and tables (default: results/, or $GAZELIB_RESULTS); "
                            "an empty folder trains every run afresh")
        p.add_argument("--only", nargs="+", default=(), metavar="NN",
                       help="run only these lessons, by number (e.g. --only 02 04); default: every lesson")
        if train:
            p.add_argument("--engine", default=None,
                           help="where the runs are trained: serial (default), local:N (N at once: several runs "
                                "on one GPU), stacked:N (up to N runs of one network as one stacked model), submitit (one SLURM job per run; $GAZELIB_SUBMITIT), submitit-local")
            p.add_argument("--retrain", action="store_true",
                           help="train every run again, even where a record exists (e.g. after editing a method)")
        p.set_defaults(func=lambda a, train=train: _command(a, train))


def _command(args, train: bool) -> None:
    if args.results is not None:
        os.environ["GAZELIB_RESULTS"] = str(args.results.resolve())   # this process and the lessons' kernels
    if getattr(args, "engine", None):
        from gazelib.experiments.engines import check
        os.environ["GAZELIB_ENGINE"] = check(args.engine)             # read by run_grid in the kernels
    from gazelib.ops.reproduce import DEFAULT_SEEDS, profile_with_records, run_notebooks

    profile = args.profile or profile_with_records()
    run_notebooks(profile, args.seeds if args.seeds is not None else DEFAULT_SEEDS[profile], args.device, train,
                  args.reports, retrain=getattr(args, "retrain", False), only=tuple(args.only))
