"""The experiment grids behind every table and figure, shared by the notebooks, `make reproduce`
and `gazelib bench`.

An ``Experiment`` is a row of a table or a point of a figure: a method plus config overrides.
Runs are identified by their full config, so a run that appears in two grids (GradTrack with
tau = 0.25 is both the Table 1 row and a point of the tau sweep) is trained once.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm


@dataclass(frozen=True)
class Experiment:
    label: str                       # row / point label as the paper writes it
    method: str
    overrides: tuple[str, ...] = ()  # "key=value" strings applied on top of the preset


# GradTrack Table 1: the rows this project measures (others are quoted, see reference/paper_values.csv).
TABLE1 = [
    Experiment("U-Net", "full", ("backbone=unet",)),
    Experiment("nnU-Net", "full", ("backbone=nnunet",)),
    Experiment("VAM", "vam"),
    Experiment("VAM_D-CRF", "vam_crf"),
    Experiment("GazeMedSeg", "gazemedseg"),
    Experiment("GradTrack", "gradtrack"),
]

# GazeMedSeg ablations: number of levels, consistency mode, consistency weight.
GAZEMEDSEG_LEVELS = [Experiment(f"{n} level{'s' * (n > 1)}", "gazemedseg", (f"num_levels={n}",)) for n in (1, 2, 3, 4, 5)]
GAZEMEDSEG_CONSISTENCY = [
    Experiment("no consistency", "gazemedseg", ("cons_mode=none",)),
    Experiment("pure", "gazemedseg", ("cons_mode=pure",)),
    Experiment("prop (LPP)", "gazemedseg", ("cons_mode=prop",)),
]
GAZEMEDSEG_WEIGHT = [Experiment(f"λ = {w:g}", "gazemedseg", (f"cons_weight={w}",)) for w in (0.5, 1.0, 3.0, 5.0)]

# GradTrack Table 2 (truncation, TA location), Fig. 4(a) components, Fig. 4(b) tau sweep.
GRADTRACK_TABLE2 = [
    Experiment("Truncation w/o", "gradtrack", ("truncation=none",)),
    Experiment("Truncation sequential", "gradtrack", ("truncation=sequential",)),
    Experiment("TA Enc. + Dec.", "gradtrack", ("ta_location=both",)),
    Experiment("TA Enc.", "gradtrack", ("ta_location=encoder",)),
    Experiment("TA Dec. (GradTrack)", "gradtrack"),
]
GRADTRACK_COMPONENTS = [Experiment(f"#{k}", "gradtrack", (f"components={k}",)) for k in (1, 2, 3, 4)]
GRADTRACK_TAU = [Experiment(f"τ = {t:g}", "gradtrack", (f"tau={t}",)) for t in (0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5)]

# Selective attention, Table 1 layout on Kvasir-SEG: data ratio x variant.
SAN_RATIOS = (0.2, 0.3, 0.5, 0.7)
SAN_VARIANTS = {"Backbone": "backbone", "+gaze*": "gaze_head", "+SAN*": "san_concat", "ours-gaze": "ours_gaze", "ours": "ours"}
SAN_TABLE = [
    Experiment(label, "san", (f"san_variant={variant}", f"train_fraction={ratio}"))
    for ratio in SAN_RATIOS
    for label, variant in SAN_VARIANTS.items()
]

GRIDS: dict[str, list[Experiment]] = {
    "table1": TABLE1,
    "gazemedseg_levels": GAZEMEDSEG_LEVELS,
    "gazemedseg_consistency": GAZEMEDSEG_CONSISTENCY,
    "gazemedseg_weight": GAZEMEDSEG_WEIGHT,
    "gradtrack_table2": GRADTRACK_TABLE2,
    "gradtrack_components": GRADTRACK_COMPONENTS,
    "gradtrack_tau": GRADTRACK_TAU,
    "san_table": SAN_TABLE,
}


def preset_for(profile: str, dataset: str) -> str:
    """``paper`` means the paper preset of the data set; ``quick`` and ``smoke`` are shared."""
    return f"paper_{dataset}" if profile == "paper" else profile


def run_grid(experiments: list[Experiment], profile: str, dataset: str, seeds, device: str = "auto") -> pd.DataFrame:
    """Train every (experiment, seed) whose record does not exist yet; return one row per run.

    Columns: label, method, seed, run_id, dice, iou, hd95 (means over test images) and the record path.
    """
    from gazelib.config import make_config
    from gazelib.results import read_record
    from gazelib.train import train

    rows = []
    jobs = [(exp, seed) for exp in experiments for seed in seeds]
    for exp, seed in tqdm(jobs, desc=f"{profile} runs", unit="run"):
        overrides = [*exp.overrides, f"seed={seed}", f"device={device}"]
        cfg = make_config(exp.method, dataset=dataset, preset=preset_for(profile, dataset), overrides=overrides)
        path = train(cfg)
        record = read_record(path)
        rows.append({"label": exp.label, "method": exp.method, "seed": seed, "run_id": record["run_id"],
                     **record["summary"], "record": str(path)})
    return pd.DataFrame(rows)
