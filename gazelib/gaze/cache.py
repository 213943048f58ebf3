"""Gaze maps of a whole data set, computed once, in parallel, and kept on disk.

The kinds are registered (``register_kind``): the shared ``vam`` (the gaze heatmap) and ``crf`` (it
refined by a dense CRF) here, the others by the papers that need them (GradTrack's ``track``, the
selective-attention ``san`` target).

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
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np

from gazelib.core import files, verified
from gazelib.core.config import Config, dataset_defaults
from gazelib.core.paths import cache_root
from gazelib.core.registry import Registry
from gazelib.gaze import crf, heatmap
from gazelib.runs.fingerprint import sample_digest, scanpath_digest

QUANT = 65535
# CRF at half size (sxy scaled with it): 4x faster; over all 1000 Kvasir images no mean score of
# crf > 0.5 or of any level (0.3, 0.5, 0.7) moves by more than 0.0014 against the authors' full size
# (results/quality/compare_kvasir_crf-scale1_vs_kvasir.md). Pass scale=1.0 for the exact setting.
_CRF = {"sxy": 80, "srgb": 13, "compat": 1, "iterations": 10, "scale": 0.5}


@dataclass(frozen=True)
class GazeKind:
    """A kind of gaze map the cache can compute (``register_kind``)."""
    name: str
    compute: Callable[..., np.ndarray]   # (dataset, id, scanpath, resolved params) -> float32 map in [0, 1]
    defaults: Callable[[Config], dict]   # the kind's parameters under a config (its data set's values)
    sources: tuple[ModuleType, ...]      # the modules that compute it: editing one recomputes its maps
    deflate: bool = False                # mostly zeros: deflate the stored part files
    needs_image: bool = False            # computed from the image too (its content keys the map)


KINDS: Registry = Registry("gaze map kind")


def register_kind(kind: GazeKind) -> GazeKind:
    """Make ``kind`` computable and cacheable (names are unique)."""
    return KINDS.add(kind.name, kind)


def _kind(name: str) -> GazeKind:
    if name not in KINDS:
        raise ValueError(f"unknown gaze map kind {name!r}: choose one of {tuple(KINDS)}")
    return KINDS[name]


def _vam_params(cfg: Config) -> dict:
    return {"sigma": cfg.sigma, "canvas": heatmap.CANVAS}


def _image_of(dataset, id: str) -> np.ndarray:
    try:
        return dataset.image(id)
    except (FileNotFoundError, OSError) as error:
        raise _image_missing(dataset, id, error) from error


register_kind(GazeKind("vam", lambda dataset, id, sp, p: heatmap.vam(sp, sp.height, sp.width, p["sigma"], p["canvas"]),
                       _vam_params, (heatmap,)))
register_kind(GazeKind(
    "crf", lambda dataset, id, sp, p: crf.crf_refine(
        crf.to_rgb_uint8(_image_of(dataset, id)), heatmap.vam(sp, sp.height, sp.width, p["sigma"], p["canvas"]),
        p["sxy"], p["srgb"], p["compat"], p["iterations"], p["scale"]),
    lambda cfg: {**_vam_params(cfg), **_CRF}, (heatmap, crf), needs_image=True))


def dataset_config(dataset_name: str) -> Config:
    """The default configuration of a data set (its per-data-set values): the maps' parameters where no run gives them."""
    return Config(dataset=dataset_name, **dataset_defaults(dataset_name))


def default_params(dataset_name: str, kind: str, cfg: Config | None = None) -> dict:
    """The parameters of ``kind`` under ``cfg`` (default: the data set's defaults, ``dataset_config``)."""
    return _kind(kind).defaults(cfg if cfg is not None else dataset_config(dataset_name))


def resolve_params(dataset_name: str, kind: str, params: dict, cfg: Config | None = None) -> dict:
    """``default_params`` overridden by ``params``; an unknown parameter is an error."""
    resolved = dict(default_params(dataset_name, kind, cfg))
    unknown = sorted(set(params) - set(resolved))
    if unknown:
        raise TypeError(f"gaze map kind {kind!r} has no parameter(s) {unknown}; known: {sorted(resolved)}")
    resolved.update(params)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()}


def cache_dir(dataset_name: str, kind: str, params: dict) -> Path:
    code = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in _kind(kind).sources)).hexdigest()
    blob = json.dumps({"kind": kind, "params": params, "code": code}, sort_keys=True)
    return cache_root() / "gaze" / dataset_name / f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def compute_map(dataset, kind: str, id: str, params: dict) -> np.ndarray:
    """One map (float32) of ``kind`` for sample ``id`` with resolved ``params``."""
    return _kind(kind).compute(dataset, id, dataset.scanpath(id), params)


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
    def key(id):
        parts = scanpath_digest(dataset, id)
        if _kind(kind).needs_image:
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
    _write_part(directory, maps, _kind(kind).deflate)
    return list(entries)


def ensure_maps(dataset, kind: str, ids=None, workers: int | None = None, progress: bool = True,
                chunk: int = 25, cfg: Config | None = None, **params) -> Path:
    """Compute the maps of ``ids`` (default all) not yet cached; return the cache directory.

    Missing maps are computed in ``workers`` processes (default: all cores; 1 = in this process),
    ``chunk`` ids per task, each task writing its own part file, so memory stays bounded by a chunk.
    """
    from tqdm.auto import tqdm   # a widget in a notebook, so no text bars land in the executed lessons

    params = resolve_params(dataset.name, kind, params, cfg)
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
    if progress and len(missing) > chunk:
        announce(dataset, kind, missing, params, workers)
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


def announce(dataset, kind: str, missing: list[str], params: dict, workers: int, timed: int = 3) -> float:
    """Print, before a long computation starts, how many maps it computes and about how long it takes: the
    mean time of ``timed`` maps in this process (after one untimed map, which pays the one-off costs such as
    reading every fixation), times the count, over the workers. The maps are computed again in their chunks
    (a few seconds at most). Returns the estimate in seconds."""
    compute_map(dataset, kind, missing[0], params)
    sample = missing[1:1 + timed] or missing[:1]
    start = time.perf_counter()
    for id in sample:
        compute_map(dataset, kind, id, params)
    estimate = (time.perf_counter() - start) / len(sample) * len(missing) / workers
    print(f"{dataset.name}: {len(missing)} {kind} maps to compute in {workers} process(es), "
          f"about {estimate / 60:.1f} min ({len(sample)} maps timed, times the count, over the processes)", flush=True)
    return estimate


def gaze_maps(dataset, kind: str, ids=None, workers: int | None = None, progress: bool = True,
              chunk: int = 25, cfg: Config | None = None, **params) -> dict[str, np.ndarray]:
    """``{id: float32 map}`` of ``kind`` (``KINDS``: vam, crf, and the kinds papers register) for ``ids`` (default all).

    Shapes: vam, crf (H, W) at the image's size; track (len(ratios), H, W); san (height, width).
    ``params`` override ``default_params(dataset.name, kind, cfg)``; missing maps are computed first
    (``ensure_maps``). All maps of a large data set at full size take memory (Kvasir crf: ~1.4 GB):
    pass ``ids`` in batches where that matters.
    """
    ids = list(dataset.ids if ids is None else ids)
    directory = ensure_maps(dataset, kind, ids, workers, progress, chunk, cfg, **params)
    entries = content_keys(dataset, kind, ids)
    maps = _read_parts(directory, set(entries.values()))
    return {id: maps[entries[id]] for id in ids}


def _read_ids(directory: Path) -> list[str]:
    ids = []
    for data in _parts(directory):
        with data:
            ids.extend(data.files)
    return ids
