"""Training tensors: every image and target a method asks for, at ``cfg.image_size``, cached.

``build_tensors(dataset, ids, cfg, names)`` returns ``{name: (N, C, S, S) tensor}``. The core builds

=====================  ==============================================================================
``image``              float32; Kvasir RGB ``(x/255 - ImageNet mean) / ImageNet std``; one-channel images
                       (NCI-ISBI T2) per-image z-score ``(x - mean(x)) / std(x)``
``mask``               uint8 ground truth
=====================  ==============================================================================

and each paper registers the targets made from gaze (``register_target``; e.g. GazeMedSeg's
``pseudo_masks``, GradTrack's ``track``): a builder from (data set, ids, config) to the tensor, the
config keys it depends on (its cache key), and whether it reads the fixations (a run's data
fingerprint then includes them). The builders share ``soft_maps`` and ``resized_maps`` below.

Resizing choices. Images and soft maps are resized bilinearly with antialiasing (area-like when
shrinking); ``cfg.resize_antialias=False`` resizes the images as the GazeMedSeg authors do (bilinear,
``align_corners=False``, no antialiasing: MONAI 1.1 ``Resized``), for training and evaluation alike. Thresholded maps are made as the GazeMedSeg authors' data loader makes them: the SOFT
map (computed at the image's own resolution) is resized bilinearly without antialiasing (MONAI 1.1
``Resized``, their pinned version) and thresholded afterwards (``resized_maps``).

Built tensors are cached under ``cache_root()/tensors/`` keyed by (data set, ids, size, name, the
parameters that name depends on, the content of the files used: ``fingerprint.data_fingerprint``), so
a repeated run starts at once and changed data is never served from the cache. Each file carries
the digest of its content (``core.verified``): a damaged or replaced one is rebuilt, with a warning.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from gazelib.core import files, verified
from gazelib.core.config import Config
from gazelib.core.methods import in_channels
from gazelib.core.paths import cache_root
from gazelib.core.registry import Registry
from gazelib.gaze.cache import gaze_maps
from gazelib.gaze.heatmap import soft_vam
from gazelib.runs.fingerprint import data_fingerprint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CACHE_VERSION = 2   # bump when the way tensors are built changes (2: threshold after resizing; tracks on the grid)


@dataclass(frozen=True)
class Target:
    """A training tensor a method can ask for by ``name``."""
    name: str
    build: Callable[[Any, list[str], Config], torch.Tensor]   # (dataset, ids, cfg) -> (N, C, S, S)
    params: Callable[[Config], dict[str, Any]] = lambda cfg: {}   # the config values it depends on
    gaze: bool = True        # made from the fixations (checked present; part of the run's data fingerprint)
    binary: bool = False     # a 0/1 mask (uint8)
    channels: Callable[[Config], int] = lambda cfg: 1


TARGETS: Registry = Registry("target")


def register_target(target: Target) -> Target:
    """Make ``target`` available to every method (names are unique)."""
    return TARGETS.add(target.name, target)


def uses_gaze(names) -> bool:
    """Whether any of the targets ``names`` is made from the fixations."""
    return any(_target(name).gaze for name in names)


def _target(name: str) -> Target:
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; targets: {', '.join(TARGETS)}")
    return TARGETS[name]


def resize(array: np.ndarray, size: int, binary: bool, antialias: bool = True) -> torch.Tensor:
    """(C, H, W) array -> (C, size, size) tensor; nearest for binary maps, bilinear otherwise
    (antialiased unless ``antialias=False``)."""
    x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None]
    if binary:
        return F.interpolate(x, size=(size, size), mode="nearest-exact")[0].to(torch.uint8)
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)[0]


def normalise_image(image: torch.Tensor) -> torch.Tensor:
    """(C, S, S) resized image -> network input.

    RGB uint8 range: ``(x / 255 - mean) / std`` with ImageNet statistics.
    One channel: ``(x - mean(x)) / std(x)`` over the image (z-score; constant image -> zeros).
    """
    if image.shape[0] == 3:
        mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        return (image / 255.0 - mean) / std
    return (image - image.mean()) / image.std(unbiased=False).clamp_min(1e-8)


def _image(dataset, image_id: str, size: int, antialias: bool = True) -> torch.Tensor:
    image = np.asarray(dataset.image(image_id))
    chw = image.transpose(2, 0, 1) if image.ndim == 3 else image[None]
    return normalise_image(resize(chw, size, binary=False, antialias=antialias))


def _check_gaze(dataset, ids: list[str]) -> None:
    for image_id in ids:
        try:
            dataset.scanpath(image_id)
        except KeyError as error:
            raise ValueError(f"training image {image_id!r} of {dataset.name} has no gaze: {error}") from None


def soft_maps(dataset, ids: list[str], cfg: Config, kind: str, floor: float) -> torch.Tensor:
    """(N, 1, S, S): the gaze map ``kind`` with values below ``floor`` set to 0, resized with antialiasing."""
    maps = gaze_maps(dataset, kind, ids, cfg=cfg)
    return torch.stack([resize(soft_vam(maps[i], floor=floor)[None], cfg.image_size, False) for i in ids])


def resized_maps(dataset, ids: list[str], cfg: Config, kind: str) -> dict[str, np.ndarray]:
    """``{id: (S, S) map}``: the soft gaze map ``kind`` resized bilinearly without antialiasing, to be
    thresholded afterwards (the GazeMedSeg authors' order)."""
    maps = gaze_maps(dataset, kind, ids, cfg=cfg)
    return {i: resize(maps[i][None], cfg.image_size, binary=False, antialias=False)[0].numpy() for i in ids}


register_target(Target("image", lambda dataset, ids, cfg: torch.stack(
    [_image(dataset, i, cfg.image_size, cfg.resize_antialias) for i in ids]), gaze=False,
    channels=lambda cfg: in_channels(cfg),
    params=lambda cfg: {} if cfg.resize_antialias else {"antialias": False}))   # the default keeps its cache key
register_target(Target("mask", lambda dataset, ids, cfg: torch.stack(
    [resize(np.asarray(dataset.mask(i))[None], cfg.image_size, binary=True) for i in ids]), gaze=False, binary=True))


def ids_hash(ids: list[str]) -> str:
    """Short, order-sensitive hash of a list of ids (for cache keys and run records)."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def _cache_path(dataset, ids: list[str], cfg: Config, name: str) -> Path:
    key = {"version": CACHE_VERSION, "dataset": dataset.name, "ids": ids_hash(ids), "size": cfg.image_size,
           "name": name, "params": _target(name).params(cfg),
           "data": data_fingerprint(dataset, ids, gaze=_target(name).gaze)}   # the files' content, not their names
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_root() / "tensors" / f"{dataset.name}-{name}-{cfg.image_size}-{digest}.pt"


def build_tensors(dataset, ids: list[str], cfg: Config, names) -> dict[str, torch.Tensor]:
    """``{name: (N, C, S, S) tensor}`` for the ``ids`` of ``dataset`` (CPU tensors; see module doc)."""
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise ValueError(f"unknown targets {unknown}; targets: {', '.join(TARGETS)}")
    if not ids:
        raise ValueError(f"no image ids given for {dataset.name}")
    out = {}
    for name in names:
        if TARGETS[name].gaze:
            _check_gaze(dataset, ids)
        path = _cache_path(dataset, ids, cfg, name)
        cached = verified.read_tensor(path, len(ids), cfg.image_size) if path.exists() else None
        if cached is not None:
            out[name] = cached
            continue
        out[name] = TARGETS[name].build(dataset, ids, cfg)
        verified.write(path, files.torch_bytes(out[name]))
    return out
