"""What the selective-attention paper adds to the shared core: its config keys, its method (SAN + AAB
and the paper's baselines), its gaze target and the gaze-map kind behind it (imported by
``gazelib.papers``, which registers every paper)."""
from __future__ import annotations

import torch

from gazelib.core.config import Field, register_fields
from gazelib.core.methods import register
from gazelib.core.targets import Target, register_target
from gazelib.gaze.cache import GazeKind, gaze_maps, register_kind
from gazelib.papers.selective_attention import gaze_target
from gazelib.papers.selective_attention.method import SelectiveAttention
from gazelib.papers.selective_attention.network import GAZE_SCALE, VARIANTS

register_fields(
    "selective_attention",
    # the paper's Table 1 columns: backbone | gaze_head (+gaze*) | san_concat (+SAN*) |
    # ours_gaze (SAN + AAB, SAN trained on the mask) | ours (SAN + AAB)
    Field("san_variant", str, "ours", choices=VARIANTS),
    Field("gaze_weight", float, 0.5, range=(0, None, True, None)),
    Field("aab_hidden", int, 64, range=(1, None, True, None)),
    Field("aab_heads", int, 4, range=(1, None, True, None)),
)

# The SAN's gaze map is 1/GAZE_SCALE of the 224 input, so sigma = 10 input pixels = 10/16 of its cells.
register_kind(GazeKind(
    "san", lambda dataset, id, sp, p: gaze_target.san_target(sp, p["height"], p["width"], p["sigma"]),
    lambda cfg: {"height": 224 // GAZE_SCALE, "width": 224 // GAZE_SCALE, "sigma": gaze_target.SIGMA_224 / GAZE_SCALE},
    (gaze_target,)))


def _gaze(dataset, ids, cfg) -> torch.Tensor:
    """float32 (N, 1, S, S): the gaze target computed directly at S x S (no resize), sigma = 10 input
    pixels at 224, scaled with S; methods area-pool it to their gaze-map resolution."""
    size = cfg.image_size
    maps = gaze_maps(dataset, "san", ids, height=size, width=size, sigma=gaze_target.SIGMA_224 * size / 224)
    return torch.stack([torch.from_numpy(maps[i])[None] for i in ids])


register_target(Target("gaze", _gaze, params=lambda cfg: {"san_sigma_224": gaze_target.SIGMA_224}))
SAN = register(SelectiveAttention())
