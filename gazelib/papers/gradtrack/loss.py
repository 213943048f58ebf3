"""GradTrack's gaze-track-map-guided loss (GTMG, eq. 3)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def gtmg_loss(logits2: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """GradTrack eq. (3), the track-map-weighted cross-entropy, averaged over pixels:

        L^{r,h}_GTMG = -[ (1 + G_re) * 1(G_re > 0) * log P_fg  +  1(G_re = 0) * log P_bg ]

    P = softmax over the 2 channels of ``logits2`` (B, 2, h, w); G (B, 1, H, W) is the track map
    G^r in [0, 1], bilinearly resized to (h, w) (``G_re``, align_corners=False; a no-op at equal size).
    """
    if logits2.shape[1] != 2:
        raise ValueError(f"gtmg_loss needs 2-channel [bg, fg] logits, got shape {tuple(logits2.shape)}")
    if G.dim() != 4 or G.shape[1] != 1 or G.shape[0] != logits2.shape[0]:
        raise ValueError(f"gtmg_loss: track map must be (B, 1, H, W) with B={logits2.shape[0]}, got {tuple(G.shape)}")
    g = G.float()
    if g.shape[-2:] != logits2.shape[-2:]:
        g = F.interpolate(g, size=logits2.shape[-2:], mode="bilinear", align_corners=False)
    logp = F.log_softmax(logits2.float(), dim=1)
    fg = (1 + g) * (g > 0) * logp[:, 1:2]
    bg = (g == 0) * logp[:, 0:1]
    return -(fg + bg).mean()
