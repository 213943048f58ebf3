"""Gaze maps of a whole data set, computed once, in parallel, and kept on disk.

Layout: ``cache_root()/gaze/<dataset>/<kind>-<key>/part-*.npz`` where ``key`` hashes the kind,
the resolved parameters and the source of the modules that compute the maps (editing them
recomputes). Each part holds the maps of a chunk of ids and is written to a temporary name and
renamed, so a part is either complete or invisible; stray temporaries (of a killed run) are removed
by the next run. A part carries the digest of its content (``core.verified``): a damaged or replaced
part is removed, with a warning naming it, and its maps computed again. A map is stored under
``<id>@<content key>``: the key hashes the image's fixation rows (and for crf its image file), so
edited data is recomputed, never served stale. Asking for ids not yet stored computes only those.
Worker processes die with their parent (``_init_worker``).

Precision: maps lie in [0, 1] and are stored as uint16 fixed point ``round(v * 65535)``
(error <= 7.7e-6, exact 0 and 1; half the size of float32 and 30x finer than float16 near 0.5;
on 50 Kvasir images no pixel changes side of any threshold, 0.3/0.5/0.7 or G > 0). They come back
as float32. Parts are .npz files: track maps (mostly zeros) deflated at level 1 (4x smaller,
13 ms a map); the smooth vam/crf maps stored uncompressed (deflate gains only 1.4x for 15 ms a map).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gazelib.core import files, verified
from gazelib.gaze import heatmap
from gazelib.gaze import crf
from gazelib.papers.gradtrack import track_maps as track
from gazelib.papers.selective_attention import gaze_target as san_target

KINDS = ("vam", "crf", "track", "san")
QUANT = 65535
# CRF at half size (sxy scaled with it): 4x faster; over all 1000 Kvasir images no mean score of
# crf > 0.5 or of any level (0.3, 0.5, 0.7) moves by more than 0.0014 against the authors' full size
# (results/quality/compare_kvasir_crf-scale1_vs_kvasir.md). Pass scale=1.0 for the exact setting.
_CRF = {"sxy": 80, "srgb": 13, "compat": 1, "iterations": 10, "scale": 0.5}
_SOURCES = (heatmap, crf, track, san_target)
_DEFLATE = {"track"}


def default_params(dataset_name: str, kind: str) -> dict:
    """The papers' parameters of ``kind`` for ``dataset_name``."""
    vam = {"sigma": heatmap.SIGMA.get(dataset_name, heatmap.SIGMA["kvasir"]), "canvas": heatmap.CANVAS}
    defaults = {
        "vam": vam,
        "crf": {**vam, **_CRF},
        # size: None = at the image's own resolution; an int S = directly on the S x S training grid
        "track": {"ratios": track.RATIOS, "beta": track.BETA.get(dataset_name, track.BETA["kvasir"]), "tau": track.TAU,
                  "truncation": "reverse", "track": "polyline", "grid": track.TRAINING_GRID, "size": None},
        # SAN: gaze map at 1/16 of the 224 input, so sigma = 10 input pixels = 10/16 cells of the 14x14 grid
        "san": {"height": 14, "width": 14, "sigma": san_target.SIGMA_224 / 16},
    }
    if kind not in defaults:
        raise ValueError(f"unknown gaze map kind {kind!r}: choose one of {KINDS}")
    return defaults[kind]


def resolve_params(dataset_name: str, kind: str, params: dict) -> dict:
    """Defaults overridden by ``params``; an unknown parameter is an error."""
    resolved = dict(default_params(dataset_name, kind))
    unknown = sorted(set(params) - set(resolved))
    if unknown:
        raise TypeError(f"gaze map kind {kind!r} has no parameter(s) {unknown}; known: {sorted(resolved)}")
    resolved.update(params)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()}


def cache_dir(dataset_name: str, kind: str, params: dict) -> Path:
    from gazelib.core.paths import cache_root

    code = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in _SOURCES)).hexdigest()
    blob = json.dumps({"kind": kind, "params": params, "code": code}, sort_keys=True)
    return cache_root() / "gaze" / dataset_name / f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def compute_map(dataset, kind: str, id: str, params: dict) -> np.ndarray:
    """One map (float32) of ``kind`` for sample ``id`` with resolved ``params``."""
    sp = dataset.scanpath(id)
    if kind == "vam":
        return heatmap.vam(sp, sp.height, sp.width, params["sigma"], params["canvas"])
    if kind == "crf":
        try:
            image = dataset.image(id)
        except (FileNotFoundError, OSError) as error:
            raise _image_missing(dataset, id, error) from error
        heat = heatmap.vam(sp, sp.height, sp.width, params["sigma"], params["canvas"])
        return crf.crf_refine(crf.to_rgb_uint8(image), heat, params["sxy"], params["srgb"], params["compat"],
                              params["iterations"], params["scale"])
    if kind == "track":
        grid = tuple(params["grid"]) if params["grid"] is not None else None
        height, width = (sp.height, sp.width) if params["size"] is None else (params["size"], params["size"])
        return track.track_maps(sp, height, width, params["ratios"], params["beta"], params["tau"],
                                params["truncation"], params["track"], grid)
    if kind == "san":
        return san_target.san_target(sp, params["height"], params["width"], params["sigma"])
    raise ValueError(f"unknown gaze map kind {kind!r}: choose one of {KINDS}")


def _image_missing(dataset, id: str, error: Exception) -> RuntimeError:
    return RuntimeError(f"the crf gaze map needs the image of {id!r} ({dataset.name}), which is not available: {error}")


def _write_part(directory: Path, maps: dict[str, np.ndarray], compress: bool) -> None:
    quantised = {id: np.round(np.clip(m, 0, 1) * QUANT).astype(np.uint16) for id, m in maps.items()}
    name = hashlib.sha256("\n".join(sorted(maps)).encode()).hexdigest()[:16]
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", method, compresslevel=1) as archive:
        for id, array in quantised.items():
            with archive.open(f"{id}.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array)
    verified.write(directory / f"part-{name}.npz", buffer.getvalue())   # atomic: a part is complete or absent


def _parts(directory: Path):
    """Every verified part, opened (``verified.read``: a damaged one is removed and left out)."""
    for part in sorted(directory.glob("part-*.npz")):
        data = verified.read(part, lambda payload: np.load(io.BytesIO(payload), allow_pickle=False))
        if data is not None:
            yield data


def _read_parts(directory: Path, wanted: set[str]) -> dict[str, np.ndarray]:
    """``{entry: map}`` for the wanted entry names (``<id>@<content key>``)."""
    found = {}
    for data in _parts(directory):
        with data:
            for entry in set(data.files) & wanted:
                found[entry] = data[entry].astype(np.float32) / QUANT
    return found


def content_keys(dataset, kind: str, ids) -> dict[str, str]:
    """``{id: "<id>@<key>"}``: the map's entry name, keyed on the data it is computed from."""
    from gazelib.runs.fingerprint import sample_digest, scanpath_digest

    def key(id):
        parts = scanpath_digest(dataset, id)
        if kind == "crf":
            try:
                parts += sample_digest(dataset, id, mask=False)
            except (FileNotFoundError, OSError) as error:
                raise _image_missing(dataset, id, error) from error
        return hashlib.sha256(parts.encode()).hexdigest()[:16]
    return {id: f"{id}@{key(id)}" for id in ids}


_WORKER_DATASET = None


def _init_worker(dataset) -> None:
    global _WORKER_DATASET
    _WORKER_DATASET = dataset
    _die_with_parent()


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when its parent dies (a killed `gazelib gaze cache` leaves no orphans;
    SIGKILL because a worker would swallow a catchable signal between tasks, and it holds nothing to
    clean up: its half-written part is removed by the next run)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))   # PR_SET_PDEATHSIG = 1


def _compute_chunk(kind: str, entries: dict[str, str], params: dict, directory: Path) -> list[str]:
    """Compute the maps of ``{id: entry name}`` into one part file."""
    maps = {entry: compute_map(_WORKER_DATASET, kind, id, params) for id, entry in entries.items()}
    _write_part(directory, maps, kind in _DEFLATE)
    return list(entries)


def ensure_maps(dataset, kind: str, ids=None, workers: int | None = None, progress: bool = True,
                chunk: int = 25, **params) -> Path:
    """Compute the maps of ``ids`` (default all) not yet cached; return the cache directory.

    Missing maps are computed in ``workers`` processes (default: all cores; 1 = in this process),
    ``chunk`` ids per task, each task writing its own part file, so memory stays bounded by a chunk.
    """
    from tqdm import tqdm

    params = resolve_params(dataset.name, kind, params)
    ids = list(dataset.ids if ids is None else ids)
    directory = cache_dir(dataset.name, kind, params)
    files.write_text(directory / "params.json", json.dumps({"dataset": dataset.name, "kind": kind, "params": params},
                                                           indent=1, sort_keys=True))
    files.remove_stale_temporaries(directory)
    entries = content_keys(dataset, kind, ids)
    stored = set(_read_ids(directory))
    missing = sorted(id for id in set(ids) if entries[id] not in stored)
    chunks = [{id: entries[id] for id in missing[i:i + chunk]} for i in range(0, len(missing), chunk)]
    workers = min(workers or os.cpu_count() or 1, max(len(chunks), 1))
    bar = tqdm(total=len(missing), desc=f"{dataset.name} {kind} maps", disable=not progress or not missing)
    if workers == 1:
        _init_worker(dataset)
        for part in chunks:
            bar.update(len(_compute_chunk(kind, part, params, directory)))
    elif chunks:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(dataset,)) as pool:
            for done in pool.map(_compute_chunk, [kind] * len(chunks), chunks, [params] * len(chunks),
                                 [directory] * len(chunks)):
                bar.update(len(done))
    bar.close()
    return directory


def gaze_maps(dataset, kind: str, ids=None, workers: int | None = None, progress: bool = True,
              chunk: int = 25, **params) -> dict[str, np.ndarray]:
    """``{id: float32 map}`` of ``kind`` (vam | crf | track | san) for ``ids`` (default all).

    Shapes: vam, crf (H, W) at the image's size; track (len(ratios), H, W); san (height, width).
    ``params`` override ``default_params(dataset.name, kind)``; missing maps are computed first
    (``ensure_maps``). All maps of a large data set at full size take memory (Kvasir crf: ~1.4 GB):
    pass ``ids`` in batches where that matters.
    """
    ids = list(dataset.ids if ids is None else ids)
    directory = ensure_maps(dataset, kind, ids, workers, progress, chunk, **params)
    entries = content_keys(dataset, kind, ids)
    maps = _read_parts(directory, set(entries.values()))
    return {id: maps[entries[id]] for id in ids}


def _read_ids(directory: Path) -> list[str]:
    ids = []
    for data in _parts(directory):
        with data:
            ids.extend(data.files)
    return ids
