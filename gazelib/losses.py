"""Losses of the three papers. Logits in, scalar out; every equation is quoted next to its code.

Conventions: single-logit outputs are (B, 1, H, W) foreground logits z with p = sigmoid(z);
two-channel outputs (GradTrack) are (B, 2, H, W) logits [background, foreground] with
P = softmax over the 2 channels. A 2-channel output is turned into its foreground logit by
``fg_logit`` (z_fg - z_bg, so sigmoid(z_fg - z_bg) = softmax(z)_fg exactly), which lets the same
Dice / BCE code serve both conventions (2-class softmax CE == BCE on z_fg - z_bg).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

DICE_SMOOTH = 1e-5


def fg_logit(logits2: torch.Tensor) -> torch.Tensor:
    """(B, 2, ...) [bg, fg] logits -> (B, 1, ...) foreground logit z_fg - z_bg."""
    if logits2.shape[1] != 2:
        raise ValueError(f"expected 2-channel [bg, fg] logits, got shape {tuple(logits2.shape)}")
    return logits2[:, 1:2] - logits2[:, 0:1]


def _check_same_shape(logits: torch.Tensor, target: torch.Tensor, what: str) -> None:
    if logits.shape != target.shape:
        raise ValueError(f"{what}: logits {tuple(logits.shape)} and target {tuple(target.shape)} differ in shape")


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = DICE_SMOOTH,
              squared: bool = False) -> torch.Tensor:
    """Soft Dice loss on sigmoid probabilities, per image and channel, then averaged.

        p = sigmoid(logits);  for each image n and channel c (sums over pixels):
        Dice_nc = (2 sum p t + smooth) / (sum p + sum t + smooth)            (squared=False)
        Dice_nc = (2 sum p t + smooth) / (sum p^2 + sum t^2 + smooth)        (squared=True, V-Net;
                                                       selective-attention eq. 3: S^2 + (S^gt)^2)
        loss = 1 - mean_nc Dice_nc

    ``smooth`` (1e-5, MONAI's DiceLoss default) keeps empty-target images finite: an empty
    prediction on an empty target scores Dice 1 (loss 0).
    """
    _check_same_shape(logits, target, "dice_loss")
    p = torch.sigmoid(logits.float()).flatten(2)
    t = target.float().flatten(2)
    inter = (p * t).sum(-1)
    denom = (p * p).sum(-1) + (t * t).sum(-1) if squared else p.sum(-1) + t.sum(-1)
    return 1 - ((2 * inter + smooth) / (denom + smooth)).mean()


def bce_with_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits, mean over pixels; hard (0/1) or soft ([0, 1]) targets.

        loss = -mean_i [ t_i log sigmoid(z_i) + (1 - t_i) log(1 - sigmoid(z_i)) ]

    With soft labels t in [0, 1] (VAM / CRF soft maps, Gaussian gaze maps) this is the soft-label BCE
    (selective-attention eq. 4); the minimum is at sigmoid(z) = t.
    """
    _check_same_shape(logits, target, "bce_with_logits")
    # No value check on the target: it would force a device sync every step; targets.py builds [0, 1] maps.
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def dice_ce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """nnU-Net's / GradTrack's L_VAM: Dice + cross-entropy (binary: Dice on the fg probability + BCE)."""
    return dice_loss(logits, target) + bce_with_logits(logits, target)


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


def consistency_loss(p_i: torch.Tensor, p_j: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """GazeMedSeg's cross-level consistency of level i against the other levels j (GUIDE s.3):

        L_cons_i = mean_{j != i} ( - mean_pixels sum_{c in {bg, fg}} p_i(c) * stopgrad(p_j(c)) )

    with p(fg) = p, p(bg) = 1 - p for sigmoid outputs. ``p_i`` is the LPP-propagated probability
    p_prop_i (mode "prop") or the plain p_i (mode "pure"); ``p_j`` one (B, 1, H, W) probability map
    or a sequence of them (one per other level). Gradient flows into ``p_i`` only.
    """
    others = [p_j] if isinstance(p_j, torch.Tensor) else list(p_j)
    if not others:
        raise ValueError("consistency_loss needs at least one other level")
    terms = []
    for q in others:
        _check_same_shape(p_i, q, "consistency_loss")
        q = q.detach()
        terms.append(-(p_i * q + (1 - p_i) * (1 - q)).mean())
    return torch.stack(terms).mean()
