"""Training tensors: every image and target a method asks for, at ``cfg.image_size``, cached.

``build_tensors(dataset, ids, cfg, names)`` returns ``{name: (N, C, S, S) tensor}`` for

=====================  ==============================================================================
``image``              float32; Kvasir RGB ``(x/255 - ImageNet mean) / ImageNet std``; one-channel images
                       (NCI-ISBI T2) per-image z-score ``(x - mean(x)) / std(x)``
``mask``               uint8 ground truth
``vam_soft``           float32 VAM with values < 0.5 set to 0 (GradTrack's VAM baseline soft label)
``crf_soft``           float32 VAM_D-CRF with values < 0.5 set to 0 (GradTrack's VAM_D-CRF baseline)
``pseudo_masks``       uint8 (N, L, S, S), ``resized crf >= level`` for each of ``cfg.levels`` (GazeMedSeg)
``conservative_mask``  uint8, ``resized crf >= cfg.under_threshold`` (GradTrack's under-activation mask)
``track``              float32 (N, 3, S, S), track maps for ratios 0.5, 0.75, 1.0 on the S x S grid (GTMG)
``gaze``               float32 SAN target (Gaussian on fixations, ``selective_attention.gaze_target``) computed at S x S
                       with sigma 10 px of a 224 input (scaled with S); methods area-pool it to their
                       gaze-map resolution
=====================  ==============================================================================

Resizing choices. Images and soft maps are resized bilinearly with antialiasing (area-like when
shrinking). Pseudo-masks (``pseudo_masks``, ``conservative_mask``) are made as the GazeMedSeg authors' data
loader makes them: the SOFT CRF map (computed at the image's own resolution) is resized bilinearly
without antialiasing (MONAI 1.1 ``Resized``, their pinned version) and thresholded afterwards
(``crf >= level``); GradTrack's 0.7 mask is made the same way (its code is not public). Track maps
are computed directly on the S x S training grid (``gaze.cache`` ``size``; beta stays in pixels of
the 224 grid), so eq. (2)'s hard tau cut-off is not smeared by a resize.

Built tensors are cached under ``cache_root()/tensors/`` keyed by (data set, ids, size, name, the
parameters that name depends on, the content of the files used: ``fingerprint.data_fingerprint``), so
a repeated run starts at once and changed data is never served from the cache. Each file carries
the digest of its content (``core.verified``): a damaged or replaced one is rebuilt, with a warning.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gazelib.core import files, verified
from gazelib.core.config import Config
from gazelib.runs.fingerprint import data_fingerprint
from gazelib.papers.gradtrack.track_maps import RATIOS as TRACK_RATIOS
from gazelib.core.paths import cache_root
from gazelib.papers.selective_attention.gaze_target import SIGMA_224 as SAN_SIGMA_224

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SOFT_FLOOR = 0.5
CACHE_VERSION = 2   # bump when the way tensors are built changes (2: threshold after resizing; tracks on the grid)

NAMES = ("image", "mask", "vam_soft", "crf_soft", "pseudo_masks", "conservative_mask", "track", "gaze")
GAZE_NAMES = frozenset(NAMES) - {"image", "mask"}


def _params(name: str, cfg: Config) -> dict[str, Any]:
    """The config values a target depends on (its cache key, and the gaze_maps parameters)."""
    if name in ("vam_soft", "crf_soft"):
        return {"sigma": cfg.sigma}
    if name == "gaze":
        return {"san_sigma_224": SAN_SIGMA_224}
    if name == "pseudo_masks":
        return {"sigma": cfg.sigma, "levels": list(cfg.levels)}
    if name == "conservative_mask":
        return {"sigma": cfg.sigma, "under_threshold": cfg.under_threshold}
    if name == "track":
        return {"beta": cfg.beta, "tau": cfg.tau, "truncation": cfg.truncation, "track": cfg.track}
    return {}


def _resize(array: np.ndarray, size: int, binary: bool, antialias: bool = True) -> torch.Tensor:
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


def _image(dataset, image_id: str, size: int) -> torch.Tensor:
    image = np.asarray(dataset.image(image_id))
    chw = image.transpose(2, 0, 1) if image.ndim == 3 else image[None]
    return normalise_image(_resize(chw, size, binary=False))


def _check_gaze(dataset, ids: list[str]) -> None:
    for image_id in ids:
        try:
            dataset.scanpath(image_id)
        except KeyError as error:
            raise ValueError(f"training image {image_id!r} of {dataset.name} has no gaze: {error}") from None


def _gaze_maps(dataset, kind: str, ids: list[str], **params) -> dict[str, np.ndarray]:
    """``gaze.cache.gaze_maps`` with the config's values; ``None`` means the per-data-set default."""
    from gazelib.gaze.cache import gaze_maps
    return gaze_maps(dataset, kind, ids=ids, **{k: v for k, v in params.items() if v is not None})


def _thresholded(dataset, ids: list[str], cfg: Config, levels) -> torch.Tensor:
    """Resize the soft CRF map (bilinear, no antialiasing), then threshold: the authors' order."""
    from gazelib.papers.gazemedseg.pseudo_masks import pseudo_masks
    maps = _gaze_maps(dataset, "crf", ids, sigma=cfg.sigma)
    resized = {i: _resize(maps[i][None], cfg.image_size, binary=False, antialias=False)[0].numpy() for i in ids}
    return torch.stack([torch.from_numpy(pseudo_masks(resized[i], levels)).to(torch.uint8) for i in ids])


def _soft(dataset, ids: list[str], cfg: Config, kind: str) -> torch.Tensor:
    from gazelib.gaze.heatmap import soft_vam
    maps = _gaze_maps(dataset, kind, ids, sigma=cfg.sigma)
    return torch.stack([_resize(soft_vam(maps[i], floor=SOFT_FLOOR)[None], cfg.image_size, False) for i in ids])


def _build(dataset, ids: list[str], cfg: Config, name: str) -> torch.Tensor:
    size = cfg.image_size
    if name == "image":
        return torch.stack([_image(dataset, i, size) for i in ids])
    if name == "mask":
        return torch.stack([_resize(np.asarray(dataset.mask(i))[None], size, binary=True) for i in ids])
    if name == "vam_soft":
        return _soft(dataset, ids, cfg, "vam")
    if name == "crf_soft":
        return _soft(dataset, ids, cfg, "crf")
    if name == "pseudo_masks":
        return _thresholded(dataset, ids, cfg, cfg.levels)
    if name == "conservative_mask":
        return _thresholded(dataset, ids, cfg, (cfg.under_threshold,))
    if name == "track":
        maps = _gaze_maps(dataset, "track", ids, ratios=TRACK_RATIOS, beta=cfg.beta, tau=cfg.tau,
                          truncation=cfg.truncation, track=cfg.track, size=size)
        return torch.stack([torch.from_numpy(maps[i]) for i in ids])
    if name == "gaze":
        # computed directly at S x S (no resize); sigma = 10 input pixels at 224, scaled with S
        maps = _gaze_maps(dataset, "san", ids, height=size, width=size, sigma=SAN_SIGMA_224 * size / 224)
        return torch.stack([torch.from_numpy(maps[i])[None] for i in ids])
    raise ValueError(f"unknown target {name!r}; targets: {', '.join(NAMES)}")


def ids_hash(ids: list[str]) -> str:
    """Short, order-sensitive hash of a list of ids (for cache keys and run records)."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def _cache_path(dataset, ids: list[str], cfg: Config, name: str) -> Path:
    key = {"version": CACHE_VERSION, "dataset": dataset.name, "ids": ids_hash(ids), "size": cfg.image_size,
           "name": name, "params": _params(name, cfg),
           "data": data_fingerprint(dataset, ids, gaze=name in GAZE_NAMES)}   # the files' content, not their names
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_root() / "tensors" / f"{dataset.name}-{name}-{cfg.image_size}-{digest}.pt"


def build_tensors(dataset, ids: list[str], cfg: Config, names) -> dict[str, torch.Tensor]:
    """``{name: (N, C, S, S) tensor}`` for the ``ids`` of ``dataset`` (CPU tensors; see module doc)."""
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(f"unknown targets {unknown}; targets: {', '.join(NAMES)}")
    if not ids:
        raise ValueError(f"no image ids given for {dataset.name}")
    out = {}
    for name in names:
        if name in GAZE_NAMES:
            _check_gaze(dataset, ids)
        path = _cache_path(dataset, ids, cfg, name)
        cached = verified.read_tensor(path, len(ids), cfg.image_size) if path.exists() else None
        if cached is not None:
            out[name] = cached
            continue
        out[name] = _build(dataset, ids, cfg, name)
        verified.write(path, files.torch_bytes(out[name]))
    return out
