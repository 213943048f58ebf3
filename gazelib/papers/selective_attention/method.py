"""Selective attention (Huang et al., BMVC 2021): SAN + AAB on a U-Net backbone, 2D here.

Targets: "mask" and "gaze" (B, 1, H, W) at the training resolution; the gaze target (a Gaussian on
the fixations, in [0, 1]) is area-pooled to the size of the gaze prediction (1/16 for the SAN, full
size for the +gaze* head). Loss (section 3.3, w1 = 1, w2 = cfg.gaze_weight = 0.5):

    L = Dice(S, S_gt) + w2 * BCE(G, G_gt)      Dice as eq. (3) (squared denominators)

Variants (cfg.san_variant): backbone (Dice only), gaze_head, san_concat, ours, and ours_gaze, whose
network is ``ours`` but whose SAN is trained on the area-pooled mask instead of gaze.
"""
from __future__ import annotations

import torch.nn.functional as F

from gazelib.core.losses import bce_with_logits, dice_loss
from gazelib.core.methods import Method, in_channels, require
from gazelib.core.networks import build_backbone
from gazelib.papers.selective_attention.network import GAZE_SCALE, SANSegNet


def area_resize(t, size):
    """Area (average) pooling of a (B, 1, H, W) map to ``size`` (mass-preserving mean)."""
    return t if t.shape[-2:] == tuple(size) else F.adaptive_avg_pool2d(t.float(), size)


class SelectiveAttention(Method):
    name = "san"
    targets = ("mask", "gaze")
    input_multiple = GAZE_SCALE   # the SAN's gaze map is 1/16 of the input

    def build(self, cfg):
        backbone = build_backbone(cfg, in_channels(cfg), 1)
        return SANSegNet(backbone, in_channels(cfg), cfg.san_variant, cfg.aab_hidden, cfg.aab_heads)

    def loss(self, out, batch, cfg):
        mask = require(batch, "mask", 1)
        seg = dice_loss(out["logits"], mask, squared=True)
        total, logs = seg, {"dice": seg.detach()}
        if "gaze" in out:
            source = mask if cfg.san_variant == "ours_gaze" else require(batch, "gaze", 1)
            g = bce_with_logits(out["gaze"], area_resize(source.float(), out["gaze"].shape[-2:]))
            total = total + cfg.gaze_weight * g
            logs["gaze_bce"] = g.detach()
        return total, logs

    def predict(self, out):
        return out["logits"]

