"""GradTrack (Wang et al., 2025): gaze-track maps supervising Track Attention in the decoder.

Targets: "conservative_mask" (B, 1, H, W), the CRF map >= cfg.under_threshold (0.7); "track" (B, 3, H, W), the
track maps G^r for r = 50%, 75%, 100% (channels 0, 1, 2), already truncated per cfg.truncation.
Loss, eq. (5):

    L = L_GTMG^{100%,6} + lambda1 * L_GTMG^{50%,2} + lambda1 * L_GTMG^{75%,4} + lambda2 * L_VAM

L_GTMG is eq. (3) (``gazelib.papers.gradtrack.loss.gtmg_loss``) on the final 2-channel output (block 6) and on the TA
predictions (blocks 2 and 4; see ``gazelib.papers.gradtrack.track_attention`` for the block mapping and the
ablation components #1-#4, ``cfg.components``). L_VAM = Dice + CE on the final output vs conservative_mask.
With ta_location "both" each pair of TA modules (encoder pair, decoder pair) gets the 50% and 75%
maps in processing order.
"""
from __future__ import annotations

import math

from gazelib.core.losses import dice_ce_loss, fg_logit
from gazelib.core.methods import Method, in_channels, require
from gazelib.core.networks import build_backbone
from gazelib.data.base import DATASETS
from gazelib.papers.gradtrack.loss import gtmg_loss
from gazelib.papers.gradtrack.track_attention import GradTrackNet
from gazelib.papers.gradtrack.track_maps import RATIOS

RATIO_CHANNEL = {f"{r * 100:g}": k for k, r in enumerate(RATIOS)}   # "50" -> channel 0, ...
COMPONENTS = (1, 2, 3, 4)   # Fig. 4(a): the components a run keeps (config key ``components``)


def _paper_recipe(dataset: str) -> dict:
    """GradTrack's training: SGD, batch 8, lr 0.01, poly decay ``l_t = l_0 (1 - t/T)^0.9`` over 100 epochs
    = ``100 * ceil(n_train / 8)`` iterations (11,300 on Kvasir, 9,900 on NCI-ISBI), 224 px, ``nnunet``
    backbone. The paper gives no momentum; nnU-Net (its reference [8], whose poly rule it quotes) uses
    SGD momentum 0.99 Nesterov, weight decay 3e-5 -- we use those."""
    return dict(iterations=100 * math.ceil(DATASETS[dataset].train_images / 8), schedule="poly",
                weight_decay=3e-5, backbone="nnunet")


#: GradTrack's recipe for the ``paper`` step of every preset; its VAM baselines train with it too.
RECIPE = {"paper": _paper_recipe}


class GradTrack(Method):
    name = "gradtrack"
    targets = ("conservative_mask", "track")
    recipe = RECIPE

    def build(self, cfg):
        backbone = build_backbone(cfg, in_channels(cfg), 2)
        return GradTrackNet(backbone, cfg.ta_location, use_ta=cfg.components >= 3)

    def loss(self, out, batch, cfg):
        final = out["logits"]
        mask = require(batch, "conservative_mask", 1)
        vam = dice_ce_loss(fg_logit(final), mask)
        total, logs = cfg.lambda2 * vam, {"vam": vam.detach()}
        if cfg.components >= 2:
            track = require(batch, "track", 3)
            g100 = gtmg_loss(final, track[:, 2:3])
            total = total + g100
            logs["gtmg_100_final"] = g100.detach()
            for k, ta in enumerate(out["ta"]):
                ratio = "100" if cfg.components == 3 else ("50", "75")[k % 2]
                c = RATIO_CHANNEL[ratio]
                g = gtmg_loss(ta, track[:, c:c + 1])
                total = total + cfg.lambda1 * g
                logs[f"gtmg_{ratio}_ta{k}"] = g.detach()
        return total, logs

    def predict(self, out):
        return fg_logit(out["logits"])

