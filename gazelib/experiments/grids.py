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
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gazelib.core.paths import results_root


PAPER_VALUES = Path(__file__).resolve().parents[1] / "papers" / "paper_values.csv"


@dataclass(frozen=True)
class Experiment:
    label: str                       # row / point label as the paper writes it
    method: str
    overrides: tuple[str, ...] = ()  # "key=value" strings applied on top of the preset


# GradTrack Table 1: the rows this project measures (others are quoted, see gazelib/papers/paper_values.csv).
TABLE1 = [
    Experiment("U-Net", "full", ("backbone=unet",)),
    Experiment("nnU-Net", "full", ("backbone=nnunet",)),
    Experiment("VAM", "vam"),
    Experiment("VAM_D-CRF", "vam_crf"),
    Experiment("GazeMedSeg", "gazemedseg"),
    Experiment("GradTrack", "gradtrack"),
]

#: The ordering the papers report on Table 1 (GradTrack, Kvasir-SEG and NCI-ISBI), weakest first: each
#: row is tested against the one before it (``table1_comparisons``) and the ordering is a list of claims.
TABLE1_ORDER = ("VAM", "VAM_D-CRF", "GazeMedSeg", "GradTrack", "U-Net", "nnU-Net")


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


def preset_for(profile: str, dataset: str) -> str:
    """``paper`` means the paper preset of the data set; ``smoke``, ``quick`` and ``laptop`` are shared."""
    return f"paper_{dataset}" if profile == "paper" else profile


def experiment_key(exp: Experiment, dataset: str, preset: str) -> str:
    """The run identity (``runs.config_key``, seed aside) of ``exp`` under ``preset``."""
    from gazelib.core.config import make_config
    from gazelib.runs.identity import config_key

    return config_key(make_config(exp.method, dataset, preset, list(exp.overrides)))


def run_grid(experiments: list[Experiment], profile: str, dataset: str, seeds, device: str = "auto",
             train: bool = True, retrain: bool | None = None, engine: str | None = None,
             report: bool = True) -> pd.DataFrame:
    """Train every (experiment, seed) whose record does not exist yet; return one row per run.

    With ``train=False`` nothing is trained: runs without a record are reported and left out,
    so tables and figures can be rebuilt from the records alone (``runs.find_record``: no data needed).
    ``retrain=True`` trains every run again (``train.train``; default ``GAZELIB_RETRAIN=1``).
    ``engine`` (``gazelib.experiments.engines``; default ``$GAZELIB_ENGINE`` or ``serial``) trains the runs without a
    record: ``local:N`` several at once, ``submitit`` one cluster job each; a run that fails there is
    reported and left out.
    Columns: label, method, seed, run_id, dice, iou, hd95 (means over test images), device,
    train_fraction, selection (how the scored checkpoint was chosen) and the record path.
    ``report=False`` leaves out the line saying how many runs were loaded and trained.
    """
    from gazelib.experiments import engines
    from gazelib.core.config import make_config
    from gazelib.runs.records import read_record
    from gazelib.runs.identity import find_record
    from gazelib.core.train import train as train_run

    engine = engines.check(engine or engines.default_engine())
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
    for k, (exp, seed) in enumerate(tqdm(jobs, desc=f"{profile} runs", unit="run", disable=not train)):
        cfg = configs[k]
        if f"{k}: {names[k]}" in failed:
            missing.append(f"{exp.label} (seed {seed}, failed)")
            continue
        if engine == "serial":
            started = time.time()
        path = train_run(cfg, progress=False, retrain=retrain) if train else find_record(cfg)
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


def paper_values(dataset: str, table: str | None = None) -> pd.DataFrame:
    """Numbers quoted from the papers (``gazelib/papers/paper_values.csv``), never measured here."""
    values = pd.read_csv(PAPER_VALUES)
    values = values[values.dataset == dataset]
    return values if table is None else values[values.table == table]


def table1_claims() -> list:
    """GradTrack Table 1 ordering: VAM < VAM_D-CRF < GazeMedSeg < GradTrack < U-Net < nnU-Net."""
    from gazelib.report.summary import chain

    return chain(list(TABLE1_ORDER), "GradTrack Table 1")


def table1_comparisons() -> dict[str, str]:
    """Each Table 1 row against the row below it in the papers' ordering (``TABLE1_ORDER``)."""
    return dict(zip(TABLE1_ORDER[1:], TABLE1_ORDER[:-1]))


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


def paper_dice(dataset: str, table: str) -> pd.Series:
    """The quoted Dice of a paper table, by row label."""
    quoted = paper_values(dataset, table)
    # a label quoted twice (Table 1's AGMM, point and scribble) is never a measured row
    return quoted.drop_duplicates("method", keep=False).set_index("method").dice_mean


def table1_layout(measured: pd.DataFrame, dataset: str, profile: str) -> pd.DataFrame:
    """GradTrack's Table 1: measured rows (a ``summary.summarize`` table) with their confidence
    interval and paired p-value against the row below them in the papers' ordering, the other rows
    quoted and marked so."""
    from gazelib.report.summary import OPTIMISTIC

    rows = []
    plain = measured.label.str.replace(OPTIMISTIC, "", regex=False)
    for _, quoted in paper_values(dataset, "Table 1").iterrows():
        mine = measured[plain == quoted.method]
        row = {"method": quoted.method, "supervision": quoted.supervision}
        if len(mine):
            m = mine.iloc[0]
            row.update(label=m.label, dice_mean=m.dice_mean, dice_std=m.dice_std, dice_ci_low=m.dice_ci_low,
                       dice_ci_high=m.dice_ci_high, seeds=m.seeds, vs=m.get("vs", ""), p_value=m.get("p_value", np.nan),
                       paper_dice=quoted.dice_mean, source=f"measured ({profile}, {m.device})")
        else:
            row.update(label=quoted.method, dice_mean=quoted.dice_mean, dice_std=quoted.dice_std, seeds=None,
                       paper_dice=quoted.dice_mean, source=f"quoted: {quoted.source}")
        rows.append(row)
    columns = ["method", "label", "supervision", "dice_mean", "dice_std", "dice_ci_low", "dice_ci_high", "seeds",
               "vs", "p_value", "paper_dice", "source"]
    return pd.DataFrame(rows).reindex(columns=columns)


README = Path(__file__).resolve().parents[2] / "README.md"
#: The profile whose Table 1 the README shows (lesson 06 writes the block only under it).
README_PROFILE = "laptop"
README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def update_readme(table1: pd.DataFrame, dataset: str, profile: str, figure: str,
                  verdicts: pd.DataFrame | None = None, notes: tuple[str, ...] = ()) -> None:
    """Replace the README's results block with the measured Table 1 rows (mean ± std over seeds,
    95 % bootstrap interval over test images, paired p-value against the row below in the papers'
    ordering) beside the paper's value and the gap to it, the claim ``verdicts``
    (``summary.claim_verdicts``) in words, generated ``notes`` (paragraphs), and a figure; profile and
    devices say where they came from."""
    from gazelib.report.stats import format_p
    from gazelib.report.summary import verdict_sentences

    text = README.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{README} has no {README_START} ... {README_END} block")
    measured = table1.source.str.startswith("measured")
    counts = sorted({int(s) for s in table1[measured].seeds.dropna()})   # seeds per row (a count, not ids)
    seeds = " or ".join(map(str, counts)) + (" seed" if counts == [1] else " seeds") + " per row"

    def spread(mean, std):
        return "" if pd.isna(mean) else f"{mean:.1f}" + ("" if pd.isna(std) else f" ± {std:.1f}")

    quoted = paper_values(dataset, "Table 1")
    paper_std = dict(zip(zip(quoted.method, quoted.supervision), quoted.dice_std))
    shown = pd.DataFrame({
        "method": table1.label,
        "supervision": table1.supervision,
        "measured Dice (mean ± std)": [spread(r.dice_mean, r.dice_std) if m else ""
                                       for r, m in zip(table1.itertuples(), measured)],
        "95% CI (test images)": ["" if pd.isna(lo) else f"[{lo:.1f}, {hi:.1f}]"
                                 for lo, hi in zip(table1.dice_ci_low, table1.dice_ci_high)],
        "p vs": [f"{format_p(p)} vs {v}" if isinstance(v, str) and v else "" for p, v in zip(table1.p_value, table1.vs)],
        "paper Dice (mean ± std)": [spread(r.paper_dice, paper_std.get((r.method, r.supervision)))
                                    for r in table1.itertuples()],
        "measured − paper": [f"{r.dice_mean - r.paper_dice:+.1f}" if m else ""
                             for r, m in zip(table1.itertuples(), measured)],
        "source": table1.source,
    })
    block = (f"{README_START}\n*Generated by `notebooks/06_results` from the run records "
             f"(profile `{profile}`, data set `{dataset}`, {seeds}); paper = GradTrack's Table 1; rows "
             f"without a measured value are quoted from it. "
             f"p: paired Wilcoxon signed-rank test on the per-image Dice (averaged over seeds) against the "
             f"row below in the papers' ordering.*\n\n"
             + shown.to_markdown(index=False)
             + ("" if verdicts is None else "\n\nThe papers' ordering, tested on these runs (paired Wilcoxon on the "
                "per-image Dice; supported needs p < 0.05 in the paper's direction):\n\n" + verdict_sentences(verdicts))
             + "".join(f"\n\n{note}" for note in notes)
             + f"\n\n![Measured against the paper ({profile})]({figure})\n{README_END}")
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    README.write_text(text[:start] + block + text[end:])
