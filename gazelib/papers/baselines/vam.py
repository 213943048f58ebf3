"""VAM baselines (GradTrack Table 1): supervise directly with the soft gaze map.

``vam``: the gaze heatmap with values below 0.5 set to 0 (target "vam_soft"); ``vam_crf``: the same
for the dense-CRF-refined map (target "crf_soft"). Loss: soft-label BCE with logits, the soft map as
the per-pixel target probability (GradTrack: "utilizing these normalized soft labels for supervision").
"""
from __future__ import annotations

from gazelib.core.losses import bce_with_logits
from gazelib.core.methods import Method, in_channels, require
from gazelib.core.networks import build_backbone
from gazelib.papers.gradtrack.method import RECIPE as GRADTRACK_RECIPE

SOFT_FLOOR = 0.5   # values of the soft map below it are set to 0 (GradTrack's soft labels)


class SoftLabel(Method):
    # GradTrack's Table 1 rows, trained in its framework; under ``quick`` longer, as BCE alone first sits
    # at the all-background solution (results/quick_recipe/README.md)
    recipe = {**GRADTRACK_RECIPE, "quick": {"iterations": 800}}

    def __init__(self, name: str, target: str):
        self.name, self.targets = name, (target,)

    def build(self, cfg):
        return build_backbone(cfg, in_channels(cfg), 1)

    def loss(self, out, batch, cfg):
        loss = bce_with_logits(out, require(batch, self.targets[0], 1))
        return loss, {"soft_bce": loss.detach()}

    def predict(self, out):
        return out

