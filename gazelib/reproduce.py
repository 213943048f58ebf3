"""`gazelib reproduce` / `gazelib figures`: papermill runs every lesson notebook.

Executed notebooks go to ``reports/``; tables to ``results/tables/``; figures to ``figures/``.
Runs whose records exist are not trained again, so an interrupted reproduction continues where
it stopped. ``figures`` runs the same notebooks with ``train=False``: tables and figures are
rebuilt from the records already there.
"""
from __future__ import annotations

import time
from pathlib import Path

from gazelib.paths import REPO_ROOT, data_root

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def nci_isbi_prepared(root: Path | None = None) -> bool:
    """True when `gazelib data prepare-nci-isbi` has written the prepared slices."""
    return ((root or data_root()) / "nci-isbi" / "prepared" / "split.json").is_file()


def run_notebooks(profile: str, seeds: list[int], device: str, train: bool, reports: Path) -> None:
    import papermill

    datasets = ["kvasir"]
    if nci_isbi_prepared():
        datasets.append("nci_isbi")
    else:
        print("NCI-ISBI: prepared images not found (they come from TCIA; see README, "
              "`gazelib data prepare-nci-isbi RAW`), so only Kvasir-SEG is run.")
    reports.mkdir(parents=True, exist_ok=True)
    for dataset in datasets:
        for notebook in notebooks():
            out = reports / f"{notebook.stem}-{dataset}-{profile}.ipynb"
            print(f"[{time.strftime('%H:%M:%S')}] {notebook.name} ({dataset}, {profile}) -> {out}", flush=True)
            start = time.perf_counter()
            papermill.execute_notebook(
                str(notebook), str(out), cwd=str(REPO_ROOT), progress_bar=False,
                parameters={"profile": profile, "seeds": seeds, "dataset": dataset, "device": device, "train": train},
            )
            print(f"    done in {time.perf_counter() - start:.0f} s", flush=True)


def add_commands(subparsers) -> None:
    for name, train, help_text in (
        ("reproduce", True, "run every notebook with papermill (trains missing runs)"),
        ("figures", False, "rebuild every table and figure from existing run records (no training)"),
    ):
        p = subparsers.add_parser(name, help=help_text)
        p.add_argument("--profile", default="paper", choices=["smoke", "quick", "paper"])
        p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
        p.add_argument("--device", default="auto")
        p.add_argument("--reports", type=Path, default=REPO_ROOT / "reports")
        p.set_defaults(func=lambda a, train=train: run_notebooks(a.profile, a.seeds, a.device, train, a.reports))
