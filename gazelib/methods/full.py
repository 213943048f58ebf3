"""Full supervision with the ground-truth mask (the upper-bound rows of the tables).

Loss by backbone, following each source: ``unet`` (GazeMedSeg's BasicUNet-like) uses BCE with logits
as the GazeMedSeg authors' full-supervision script does; ``nnunet`` (GradTrack's U-Net / nnU-Net
"Full" rows) uses nnU-Net's default Dice + CE.
"""
from __future__ import annotations

from gazelib.losses import bce_with_logits, dice_ce_loss
from gazelib.methods.base import Method, in_channels, register, require
from gazelib.models.unet import build_backbone


class Full(Method):
    name = "full"
    targets = ("mask",)

    def build(self, cfg):
        return build_backbone(cfg, in_channels(cfg), 1)

    def loss(self, out, batch, cfg):
        mask = require(batch, "mask", 1)
        if cfg.backbone == "nnunet":
            loss = dice_ce_loss(out, mask)
            return loss, {"dice_ce": loss.detach()}
        loss = bce_with_logits(out, mask)
        return loss, {"bce": loss.detach()}

    def predict(self, out):
        return out


FULL = register(Full())
