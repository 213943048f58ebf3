"""Pseudo-label quality against the ground truth: how good is each gaze-derived map as a mask?

Per image: Dice / precision / recall of the heatmap > 0.5 and the CRF map > 0.5 (the GazeMedSeg
authors' check, strict >), of every GazeMedSeg level (CRF >= t) and of GradTrack's 0.7 mask
(CRF >= 0.7); for each track ratio r, the coverage of the mask by the track support
(|mask & G^r > 0| / |mask|) and the fraction of the support inside the mask (|mask & G^r > 0| / |G^r > 0|).
Ratios use ``eps = 1e-6`` in the denominator like the authors' Dice, so an empty prediction scores 0.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gazelib.core import files
from gazelib.gaze import cache
from gazelib.papers.gazemedseg.pseudo_masks import levels_for, pseudo_masks
from gazelib.papers.gradtrack.paper import UNDER_ACTIVATION
from gazelib.runs.provenance import git_state

EPS = 1e-6
_BATCH = 50   # images read from the cache at a time (bounds memory)
#: Provenance that changes on every run, not with the numbers (``_write_if_changed``).
VOLATILE = ("git_revision", "time", "map_seconds_incl_cache_reads")


def binary_scores(pred: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """``dice = 2|P&M| / (|P| + |M| + eps)``, ``precision = |P&M| / (|P| + eps)``, ``recall = |P&M| / (|M| + eps)``."""
    inter, p, m = float((pred & mask).sum()), float(pred.sum()), float(mask.sum())
    return {"dice": 2 * inter / (p + m + EPS), "precision": inter / (p + EPS), "recall": inter / (m + EPS)}


def image_quality(mask: np.ndarray, heat: np.ndarray, tracks: np.ndarray, ratios, crf: np.ndarray | None = None,
                  levels=()) -> dict[str, float]:
    """All scores of one image (see the module docstring); CRF scores only when ``crf`` is given."""
    if heat.shape != mask.shape:
        raise ValueError(f"heatmap shape {heat.shape} differs from mask shape {mask.shape}")
    preds = {"heatmap>0.5": heat > 0.5}
    if crf is not None:
        preds["crf>0.5"] = crf > 0.5
        for level, pm in zip(levels, pseudo_masks(crf, levels)):
            preds[f"crf>={level:g}"] = pm
        preds[f"crf>={UNDER_ACTIVATION:g}"] = pseudo_masks(crf, [UNDER_ACTIVATION])[0]
    row = {f"{name} {score}": value for name, pred in preds.items() for score, value in binary_scores(pred, mask).items()}
    for ratio, track in zip(ratios, tracks):
        support = track > 0
        inter = float((support & mask).sum())
        row[f"track{ratio * 100:g} coverage"] = inter / (mask.sum() + EPS)
        row[f"track{ratio * 100:g} inside"] = inter / (support.sum() + EPS)
    return row


def _git_revision() -> str:
    """HEAD's sha, with ``-dirty`` when tracked files are modified (the quality records' format)."""
    state = git_state()
    return "unknown" if state["revision"] is None else state["revision"] + ("-dirty" if state["dirty"] else "")


def _kinds(dataset, crf_params: dict | None = None, track_params: dict | None = None) -> dict[str, dict]:
    """The maps scored (crf only where the images are available) with their parameter overrides."""
    with_crf = getattr(dataset, "has_images", True)
    return {"vam": {}, "track": dict(track_params or {})} | ({"crf": dict(crf_params or {})} if with_crf else {})


def _resolved(dataset, kinds: dict[str, dict]) -> dict[str, dict]:
    return {kind: cache.resolve_params(dataset.name, kind, params) for kind, params in kinds.items()}


def committed(out_dir, dataset) -> tuple[pd.DataFrame, dict] | None:
    """The record ``write_quality`` left for ALL images of ``dataset`` (stem: its name) under ``out_dir``,
    as ``quality`` returns it, if it was made with the maps' parameters of today; None when there is none
    or it was made otherwise (other parameters, other images). Lessons read it instead of computing every map."""
    out_dir = Path(out_dir)
    table_file, record_file = out_dir / f"{dataset.name}_per_image.csv", out_dir / f"{dataset.name}_summary.json"
    if not (table_file.is_file() and record_file.is_file()):
        return None
    try:
        provenance = json.loads(record_file.read_text())
        table = pd.read_csv(table_file, index_col="id", dtype={"id": str})
        params = provenance["params"]
    except (ValueError, KeyError) as error:
        raise ValueError(f"{record_file.name} / {table_file.name} in {out_dir}: not a quality record ({error})") from error
    if params != _resolved(dataset, _kinds(dataset)) or sorted(table.index) != sorted(dataset.ids):
        return None
    return table, provenance


def quality(dataset, workers: int | None = None, progress: bool = True, crf_params: dict | None = None,
            track_params: dict | None = None, ids: list[str] | None = None) -> tuple[pd.DataFrame, dict]:
    """Per-image scores (DataFrame indexed by id) and the provenance of every map used.

    ``ids``: the images to score (default: all of the data set)."""
    ids = list(dataset.ids if ids is None else ids)
    kinds = _kinds(dataset, crf_params, track_params)
    with_crf = "crf" in kinds
    timings = {}
    for kind, params in kinds.items():
        start = time.time()
        cache.ensure_maps(dataset, kind, ids, workers=workers, progress=progress, **params)
        timings[kind] = round(time.time() - start, 1)
    resolved = _resolved(dataset, kinds)
    ratios, levels = resolved["track"]["ratios"], levels_for(dataset.name, 2)
    rows = {}
    for i in range(0, len(ids), _BATCH):
        batch = ids[i:i + _BATCH]
        maps = {kind: cache.gaze_maps(dataset, kind, batch, progress=False, **params) for kind, params in kinds.items()}
        for id in batch:
            rows[id] = image_quality(dataset.mask(id), maps["vam"][id], maps["track"][id], ratios,
                                     maps["crf"][id] if with_crf else None, levels)
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("id")
    provenance = {"dataset": dataset.name, "n_images": len(table), "params": resolved, "levels": list(levels),
                  "under_activation": UNDER_ACTIVATION, "git_revision": _git_revision(),
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "map_seconds_incl_cache_reads": timings,
                  "made_by": "gazelib.papers.gaze_quality.quality"}
    return table, provenance


def quality_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, median over images of every score column."""
    return table.agg(["mean", "std", "median"]).T.rename_axis("score")


def write_quality(table: pd.DataFrame, provenance: dict, out_dir, stem: str) -> list[Path]:
    """``<stem>_per_image.csv``, ``<stem>_summary.csv``, ``<stem>_summary.md``, ``<stem>_summary.json``."""
    out_dir = Path(out_dir)
    summary = quality_summary(table)
    paths = [out_dir / f"{stem}_{suffix}" for suffix in ("per_image.csv", "summary.csv", "summary.md", "summary.json")]
    numbers = {paths[0]: table.to_csv(float_format="%.6f"), paths[1]: summary.to_csv(float_format="%.6f")}
    header = (f"# Gaze pseudo-label quality: {provenance['dataset']} ({provenance['n_images']} images)\n\n"
              f"git {provenance['git_revision']}, {provenance['time']}. Parameters: see `{paths[3].name}`.\n\n")
    _write_if_changed(numbers, {paths[2]: header + summary.to_markdown(floatfmt=".4f") + "\n"}, paths[3],
                      {**provenance, "summary": summary.to_dict(orient="index")})
    return paths


def _stable(record: dict) -> str:
    return json.dumps({k: v for k, v in record.items() if k not in VOLATILE}, sort_keys=True)


def _write_if_changed(numbers: dict[Path, str], others: dict[Path, str], js: Path, record: dict) -> None:
    """Write the files (text by path) and ``record`` as ``js``, unless they hold these numbers already:
    every file of ``numbers`` the same text and ``js`` the same but for ``VOLATILE``. A rerun that
    changes no number then leaves every file, its header's revision and time included, as it was."""
    try:
        same = (all(path.read_text() == text for path, text in numbers.items()) and all(p.exists() for p in others)
                and _stable(json.loads(js.read_text())) == _stable(json.loads(json.dumps(record))))
    except (OSError, ValueError):   # absent or unreadable: written afresh
        same = False
    if not same:
        for path, text in {**numbers, **others}.items():
            files.write_text(path, text)
        files.write_text(js, json.dumps(record, indent=1))


def compare(out_dir, stem_a: str, stem_b: str, tolerance: float = 0.005) -> Path:
    """Mean per-image scores of two quality records side by side -> ``compare_<a>_vs_<b>.md/.json``.

    ``|mean_b - mean_a| < tolerance`` is the criterion for a speed switch not to move the results.
    """
    out_dir = Path(out_dir)
    a, b = (pd.read_csv(out_dir / f"{stem}_per_image.csv", index_col="id") for stem in (stem_a, stem_b))
    if sorted(a.index) != sorted(b.index):
        raise ValueError(f"{stem_a} and {stem_b} cover different images ({len(a)} vs {len(b)})")
    b = b.loc[a.index]
    common = [c for c in a.columns if c in b.columns]
    table = pd.DataFrame({stem_a: a[common].mean(), stem_b: b[common].mean()}).rename_axis("score")
    table["difference"] = table[stem_b] - table[stem_a]
    table["max |per-image difference|"] = (b[common] - a[common]).abs().max()
    table[f"|difference| < {tolerance:g}"] = table["difference"].abs() < tolerance
    md, js = (out_dir / f"compare_{stem_a}_vs_{stem_b}.{ext}" for ext in ("md", "json"))
    _write_if_changed({md: f"# {stem_a} vs {stem_b} ({len(a)} images)\n\n" + table.to_markdown(floatfmt=".4f") + "\n"},
                      {}, js, {"a": stem_a, "b": stem_b, "n_images": len(a), "tolerance": tolerance,
                               "git_revision": _git_revision(), "scores": table.to_dict(orient="index")})
    return md
