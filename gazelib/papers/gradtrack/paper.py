"""What GradTrack adds to the shared core: its config keys, its method, its two training targets and
the track-map gaze kind (imported by ``gazelib.papers``, which registers every paper)."""
from __future__ import annotations

import numpy as np
import torch

from gazelib.core.config import Field, register_fields
from gazelib.core.methods import register
from gazelib.core.targets import TARGETS, Target, register_target
from gazelib.gaze.cache import GazeKind, gaze_maps, register_kind
from gazelib.papers.gazemedseg.pseudo_masks import pseudo_mask_tensor
from gazelib.papers.gradtrack import track_maps
from gazelib.papers.gradtrack.method import COMPONENTS, GradTrack
from gazelib.papers.gradtrack.track_attention import LOCATIONS

TARGET_SOURCES = ("gaze", "truth")

#: GradTrack's L_VAM target is one more pseudo-mask of GazeMedSeg's dense-CRF map, a conservative
#: (under-activation) one: ``[C >= 0.7]`` (target ``conservative_mask``).
UNDER_ACTIVATION = 0.7

register_fields(
    "gradtrack",
    Field("beta", float | None, None, range=(0, None, False, None), per_dataset=track_maps.BETA),   # distance decay
    Field("tau", float, track_maps.TAU, range=(0, 1, False, True)),        # field-of-view threshold
    Field("lambda1", float, 0.5, range=(0, None, True, None)),
    Field("lambda2", float, 0.5, range=(0, None, True, None)),
    Field("under_threshold", float, UNDER_ACTIVATION, range=(0, 1, False, False)),   # the conservative CRF threshold
    Field("truncation", str, "reverse", choices=track_maps.TRUNCATIONS),
    Field("ta_location", str, "decoder", choices=LOCATIONS),
    Field("components", int, 4, choices=COMPONENTS),   # Fig. 4(a) #1..#4 (``method.py``)
    Field("track", str, "polyline", choices=track_maps.TRACKS),
    # an oracle: "truth" trains on the ground-truth mask in place of every gaze-made map (the 0.7 mask and
    # the three track maps), to see whether the pipeline reaches full supervision when the target is right
    Field("target_source", str, "gaze", choices=TARGET_SOURCES),
)

# Track maps are computed at the requested size directly (``size``; None = the image's own), on the
# 224 grid's pixel units (beta stays in pixels of the 224 grid), so eq. (2)'s hard tau cut-off is not
# smeared by a resize.
register_kind(GazeKind(
    "track",
    lambda dataset, id, sp, p: track_maps.track_maps(
        sp, *((sp.height, sp.width) if p["size"] is None else (p["size"], p["size"])), p["ratios"], p["beta"],
        p["tau"], p["truncation"], p["track"], tuple(p["grid"]) if p["grid"] is not None else None),
    lambda cfg: {"ratios": track_maps.RATIOS, "beta": cfg.beta, "tau": cfg.tau, "truncation": cfg.truncation,
                 "track": cfg.track, "grid": track_maps.TRAINING_GRID, "size": None},
    (track_maps,), deflate=True))


def _track(dataset, ids, cfg) -> torch.Tensor:
    """float32 (N, 3, S, S): the track maps G^r, r = 50 %, 75 %, 100 %, on the S x S training grid
    (with ``target_source=truth``: the ground-truth mask in each channel)."""
    if cfg.target_source == "truth":
        return TARGETS["mask"].build(dataset, ids, cfg).float().repeat(1, len(track_maps.RATIOS), 1, 1)
    maps = gaze_maps(dataset, "track", ids, cfg=cfg, size=cfg.image_size)
    return torch.stack([torch.from_numpy(np.asarray(maps[i])) for i in ids])


def _conservative_mask(dataset, ids, cfg) -> torch.Tensor:
    """uint8 (N, 1, S, S): GazeMedSeg's pseudo-mask at 0.7 (``target_source=truth``: the ground-truth mask)."""
    if cfg.target_source == "truth":
        return TARGETS["mask"].build(dataset, ids, cfg)
    return pseudo_mask_tensor(dataset, ids, cfg, (cfg.under_threshold,))


def _source(cfg) -> dict:
    """The oracle's cache key part; empty for gaze, so the gaze targets keep their cache entries."""
    return {} if cfg.target_source == "gaze" else {"source": cfg.target_source}


register_target(Target("conservative_mask", _conservative_mask, binary=True,
                       params=lambda cfg: {"sigma": cfg.sigma, "under_threshold": cfg.under_threshold, **_source(cfg)}))
register_target(Target("track", _track, channels=lambda cfg: len(track_maps.RATIOS),
                       params=lambda cfg: {"beta": cfg.beta, "tau": cfg.tau, "truncation": cfg.truncation,
                                           "track": cfg.track, **_source(cfg)}))
GRADTRACK = register(GradTrack())
