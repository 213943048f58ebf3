"""Full supervision with the ground-truth mask (the upper-bound rows of the tables).

Loss: Dice + CE (nnU-Net's default) for both backbones. The full-supervision rows we compare with
are GradTrack's Table 1 U-Net and nnU-Net rows, trained in that framework. (The GazeMedSeg authors'
scripts use BCE alone; on this CPU's short schedules BCE alone never left the all-background prior:
Dice 0.0 after 200-300 iterations, against 0.53 with Dice + CE, slim U-Net at 64 px.)
"""
from __future__ import annotations

from gazelib.core.losses import dice_ce_loss
from gazelib.core.methods import Method, in_channels, require
from gazelib.core.networks import build_backbone


class Full(Method):
    name = "full"
    targets = ("mask",)

    def build(self, cfg):
        return build_backbone(cfg, in_channels(cfg), 1)

    def loss(self, out, batch, cfg):
        mask = require(batch, "mask", 1)
        loss = dice_ce_loss(out, mask)
        return loss, {"dice_ce": loss.detach()}

    def predict(self, out):
        return out

