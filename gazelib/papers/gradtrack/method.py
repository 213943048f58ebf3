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

from gazelib.papers.gradtrack.loss import gtmg_loss
from gazelib.core.losses import dice_ce_loss, fg_logit
from gazelib.core.methods import Method, in_channels, register, require
from gazelib.papers.gradtrack.track_attention import GradTrackNet
from gazelib.papers.gradtrack.track_maps import RATIOS
from gazelib.core.networks import build_backbone

RATIO_CHANNEL = {f"{r * 100:g}": k for k, r in enumerate(RATIOS)}   # "50" -> channel 0, ...


class GradTrack(Method):
    name = "gradtrack"
    targets = ("conservative_mask", "track")

    def build(self, cfg):
        if cfg.components not in (1, 2, 3, 4):
            raise ValueError(f"cfg.components must be 1..4 (Fig. 4(a)), got {cfg.components}")
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


GRADTRACK = register(GradTrack())
