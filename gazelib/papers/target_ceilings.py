"""Target ceilings: the Dice of each method's training target itself against the ground truth.

A network trained to reproduce its target can at best score what the target scores. For every
method, each mask its targets define (``TARGET_MASKS``: VAM >= 0.5, the dense-CRF map's levels,
GradTrack's track band G100 > 0 and its union with the CRF >= 0.7 mask, SAN's gaze target >= 0.5;
the ground truth itself for full supervision, whose ceiling is then the resolution's) is built at
the training size as training builds it (``targets.build_tensors``), brought to each image's own
resolution as predictions are (``evaluate.at_own_resolution``) and scored like them, per image
and pooled over images, for all images and for small and large polyps apart (split at the median
truth area; ``metrics.conventions``), on the training and the test images, at the profile's size
and at 224 px. ``write_target_ceilings`` writes the table (``results/tables/``); ``ceilings_for``
reads it where it is written (computing it takes minutes under ``laptop``: the dense-CRF maps of
every image), ``ceilings_view`` shows a few methods' rows beside their measured Dice (lessons 02-04).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from gazelib.core import metrics
from gazelib.core.config import make_config, preset_for
from gazelib.core.evaluate import at_own_resolution
from gazelib.core.paths import results_root
from gazelib.core.targets import build_tensors
from gazelib.papers.gradtrack.track_maps import RATIOS
from gazelib.report.tables import write_table
from gazelib.runs.identity import resolve, select_ids

#: Masks of the built targets: (N, C, S, S) tensors by name -> {label: (N, S, S) bool}.
Masks = Callable[[dict[str, torch.Tensor], object], dict[str, torch.Tensor]]
BAND = RATIOS.index(1.0)   # the track map of all fixations, G100


def _gradtrack(t: dict[str, torch.Tensor], cfg) -> dict[str, torch.Tensor]:
    band, crf = t["track"][:, BAND] > 0, t["conservative_mask"][:, 0] > 0
    return {f"CRF ≥ {cfg.under_threshold:g}": crf, "band G100 > 0": band, "band ∪ CRF mask": band | crf}


#: Per method: the targets it trains on, and the masks they define.
TARGET_MASKS: dict[str, tuple[tuple[str, ...], Masks]] = {
    "full": (("mask",), lambda t, cfg: {"ground truth (training size)": t["mask"][:, 0] > 0}),
    "vam": (("vam_soft",), lambda t, cfg: {"VAM ≥ 0.5": t["vam_soft"][:, 0] >= 0.5}),
    "vam_crf": (("crf_soft",), lambda t, cfg: {"CRF ≥ 0.5": t["crf_soft"][:, 0] >= 0.5}),
    "gazemedseg": (("pseudo_masks",), lambda t, cfg: {f"CRF ≥ {level:g} (level)": t["pseudo_masks"][:, k] > 0
                                                      for k, level in enumerate(cfg.levels)}),
    "gradtrack": (("track", "conservative_mask"), _gradtrack),
    "san": (("gaze",), lambda t, cfg: {"gaze target ≥ 0.5": t["gaze"][:, 0] >= 0.5}),
}


def mask_counts(dataset, ids: list[str], masks: torch.Tensor) -> dict[str, dict[str, int]]:
    """Per image, the pixel counts of a (N, S, S) training-size mask against the truth at the image's
    own resolution (brought there as a prediction is: ``evaluate.at_own_resolution``)."""
    out = {}
    for image_id, mask in zip(ids, masks):
        truth = np.asarray(dataset.mask(image_id), dtype=bool)
        out[image_id] = metrics.counts(at_own_resolution(mask[None].float() * 2 - 1, truth.shape), truth)
    return out


def target_ceilings(dataset_name: str, profile: str, sizes: tuple[int, ...] = (224,), *, dataset=None,
                    methods: tuple[str, ...] = tuple(TARGET_MASKS)) -> pd.DataFrame:
    """One row per (method, target mask, split, size): ``metrics.conventions`` of the mask against the
    truth (Dice as fractions), on the profile's images, at the profile's size and ``sizes``."""
    rows = []
    preset = preset_for(profile, dataset_name)
    jobs = [(method, size) for method in methods for size in sorted({make_config(method, dataset_name, preset)
                                                                     .image_size, *sizes})]
    for method, size in tqdm(jobs, desc="target ceilings", unit="target"):
        cfg = make_config(method, dataset_name, preset, [f"image_size={size}"])
        _, data = resolve(cfg, None, dataset)
        names, masks_of = TARGET_MASKS[method]
        for split, ids in zip(("train", "test"), select_ids(data, cfg)):
            built = build_tensors(data, ids, cfg, names)
            for label, masks in masks_of(built, cfg).items():
                rows.append({"method": method, "target": label, "split": split, "size": size,
                             **metrics.conventions(mask_counts(data, ids, masks))})
    return pd.DataFrame(rows)


def profile_size(dataset: str, profile: str) -> int:
    """The training size (pixels) of ``profile``'s runs."""
    return make_config("full", dataset, preset_for(profile, dataset)).image_size


def ceilings_name(dataset: str, profile: str) -> str:
    """``target_ceilings_<dataset>`` where the profile uses every image of the split, else with ``_<profile>``."""
    cfg = make_config("full", dataset, preset_for(profile, dataset))
    every = cfg.train_limit is None and cfg.test_limit is None and cfg.train_fraction == 1
    return f"target_ceilings_{dataset}" + ("" if every else f"_{profile}")


def write_target_ceilings(dataset: str, profile: str) -> pd.DataFrame:
    """Compute ``target_ceilings`` at the profile's size and 224 px and write it, Dice in percent, to
    ``results/tables/<ceilings_name>.{csv,md}``; the table."""
    table = target_ceilings(dataset, profile, (224,))
    percent = [c for c in table.columns if "dice" in c or "iou" in c]
    table[percent] = (100 * table[percent]).round(2)
    write_table(table, ceilings_name(dataset, profile))
    return table


def ceilings_path(dataset: str, profile: str) -> Path:
    """Where ``write_target_ceilings`` writes the table (CSV): ``results/tables/<ceilings_name>.csv``."""
    return results_root() / "tables" / f"{ceilings_name(dataset, profile)}.csv"


def ceilings_for(dataset: str, profile: str, refresh: bool = False) -> pd.DataFrame:
    """The table ``write_target_ceilings`` writes: read from ``results/tables/`` where it is there
    (delete it, or ``refresh=True``, to compute it again), else computed and written."""
    path = ceilings_path(dataset, profile)
    return pd.read_csv(path) if path.exists() and not refresh else write_target_ceilings(dataset, profile)


def ceilings_view(dataset: str, profile: str, methods: tuple[str, ...]) -> pd.DataFrame | str:
    """The test-image rows of ``methods`` at the profile's size from the written table (no computing:
    lesson 06 writes it), or a sentence saying it is not written yet."""
    path = ceilings_path(dataset, profile)
    if not path.exists():
        return f"no target-ceiling table at {path} yet: lesson 06 (or `gazelib figures`) writes it"
    table = pd.read_csv(path)
    size = profile_size(dataset, profile)
    mine = table[table.method.isin(methods) & (table.split == "test") & (table["size"] == size)]
    return mine[["method", "target", "images", "dice_mean", "dice_pooled", "small_mean_dice", "large_mean_dice"]] \
        .reset_index(drop=True)
