"""What GradTrack adds to the shared core: its config keys, its method, its two training targets and
the track-map gaze kind (imported by ``gazelib.papers``, which registers every paper)."""
from __future__ import annotations

import numpy as np
import torch

from gazelib.core.config import Field, register_fields
from gazelib.core.methods import register
from gazelib.core.targets import Target, register_target
from gazelib.gaze.cache import GazeKind, gaze_maps, register_kind
from gazelib.papers.gazemedseg.pseudo_masks import pseudo_mask_tensor
from gazelib.papers.gradtrack import track_maps
from gazelib.papers.gradtrack.method import COMPONENTS, GradTrack
from gazelib.papers.gradtrack.track_attention import LOCATIONS

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
    """float32 (N, 3, S, S): the track maps G^r, r = 50 %, 75 %, 100 %, on the S x S training grid."""
    maps = gaze_maps(dataset, "track", ids, cfg=cfg, size=cfg.image_size)
    return torch.stack([torch.from_numpy(np.asarray(maps[i])) for i in ids])


register_target(Target("conservative_mask",   # uint8 (N, 1, S, S): GazeMedSeg's pseudo-mask at 0.7
                       lambda dataset, ids, cfg: pseudo_mask_tensor(dataset, ids, cfg, (cfg.under_threshold,)),
                       binary=True,
                       params=lambda cfg: {"sigma": cfg.sigma, "under_threshold": cfg.under_threshold}))
register_target(Target("track", _track, channels=lambda cfg: len(track_maps.RATIOS),
                       params=lambda cfg: {"beta": cfg.beta, "tau": cfg.tau, "truncation": cfg.truncation,
                                           "track": cfg.track}))
GRADTRACK = register(GradTrack())
