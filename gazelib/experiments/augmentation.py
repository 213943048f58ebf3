"""Does nnU-Net-style augmentation help? Table 1's nnU-Net, VAM and GradTrack rows trained with
``augment=nnunet`` (``core.augment``), each paired with its flips-only run -- the Table 1 record of the
same config and seed, trained by the same code on the same machine when both are retrained together --
on the same test images (``table1.augmentation_grid``).

``python -m gazelib.experiments.augmentation --profile laptop --engine local:2`` trains the runs that
have no record (three seeds by default) and writes ``results/tables/augmentation_<dataset>_<profile>``
(CSV and Markdown: mean Dice over seeds, 95 % bootstrap interval, the difference to the flips-only row
and its paired Wilcoxon p-value, ``report.summary``) with ``..._reading.md``, a reading written from
those numbers. The default stays ``flips`` unless the augmentation helps every row.
"""
from __future__ import annotations

import argparse

import pandas as pd

from gazelib.core import files
from gazelib.core.paths import results_root
from gazelib.experiments.grids import run_grid
from gazelib.papers.table1 import augmentation_comparisons, augmentation_grid
from gazelib.report.stats import ALPHA, format_p
from gazelib.report.summary import summarize
from gazelib.report.tables import write_table

COLUMNS = ["label", "seeds", "dice_mean", "dice_std", "dice_ci_low", "dice_ci_high", "vs", "delta", "p_value", "device"]


def augmentation_table(profile: str, dataset: str = "kvasir", seeds=(0, 1, 2), train: bool = True,
                       engine: str | None = None) -> pd.DataFrame:
    """The summary of ``table1.augmentation_grid`` (training what has no record unless ``train=False``)."""
    runs = run_grid(augmentation_grid(profile), profile, dataset, seeds, train=train, engine=engine)
    return summarize(runs, compare=augmentation_comparisons()).reindex(columns=COLUMNS)


def reading(table: pd.DataFrame) -> str:
    """One line per augmented row (difference to flips only, p-value) and the verdict on the default."""
    compared = table[table.vs.fillna("") != ""]
    if compared.empty:
        return "No augmented row has both its runs yet: nothing to compare."
    lines = [f"* {row.label}: {row.delta:+.1f} Dice points against {row.vs} (paired Wilcoxon p {format_p(row.p_value)}, "
             f"{row.seeds} seed(s))." for row in compared.itertuples()]
    helps = [row.delta > 0 and row.p_value < ALPHA for row in compared.itertuples()]
    complete = len(compared) == len(augmentation_comparisons())
    verdict = ("It helps every row (higher, p < 0.05): a case for making it the default." if all(helps) and complete
               else f"It helps {sum(helps)} of {len(augmentation_comparisons())} rows (higher, p < 0.05): the default "
                    f"stays `augment=flips`.")
    return "\n".join(lines + ["", verdict]) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gazelib.experiments.augmentation",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="laptop")
    parser.add_argument("--dataset", default="kvasir")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--engine", default=None, help="serial (default), local:N or submitit")
    parser.add_argument("--no-train", action="store_true", help="tabulate the records that exist, train nothing")
    args = parser.parse_args(argv)
    table = augmentation_table(args.profile, args.dataset, args.seeds, train=not args.no_train, engine=args.engine)
    name = f"augmentation_{args.dataset}_{args.profile}"
    paths = write_table(table, name)
    text = reading(table)
    reading_path = results_root() / "tables" / f"{name}_reading.md"
    files.write_text(reading_path, text)
    print(table.to_string(index=False), text, "written:", *paths, reading_path, sep="\n")


if __name__ == "__main__":
    main()
