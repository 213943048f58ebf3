"""Segmentation losses shared by the papers (Dice, BCE, Dice + CE). Logits in, scalar out.

Each paper's own loss lives in its folder: ``gazemedseg/loss.py`` (cross-level consistency),
``gradtrack/loss.py`` (GTMG, eq. 3).

Conventions: single-logit outputs are (B, 1, H, W) foreground logits z with p = sigmoid(z);
two-channel outputs (GradTrack) are (B, 2, H, W) logits [background, foreground] with
P = softmax over the 2 channels. A 2-channel output is turned into its foreground logit by
``fg_logit`` (z_fg - z_bg, so sigmoid(z_fg - z_bg) = softmax(z)_fg exactly), which lets the same
Dice / BCE code serve both conventions (2-class softmax CE == BCE on z_fg - z_bg).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

DICE_SMOOTH = 1e-5


def fg_logit(logits2: torch.Tensor) -> torch.Tensor:
    """(B, 2, ...) [bg, fg] logits -> (B, 1, ...) foreground logit z_fg - z_bg."""
    if logits2.shape[1] != 2:
        raise ValueError(f"expected 2-channel [bg, fg] logits, got shape {tuple(logits2.shape)}")
    return logits2[:, 1:2] - logits2[:, 0:1]


def check_same_shape(logits: torch.Tensor, target: torch.Tensor, what: str) -> None:
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
    check_same_shape(logits, target, "dice_loss")
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
    check_same_shape(logits, target, "bce_with_logits")
    # No value check on the target: it would force a device sync every step; targets.py builds [0, 1] maps.
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def dice_ce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """nnU-Net's / GradTrack's L_VAM: Dice + cross-entropy (binary: Dice on the fg probability + BCE)."""
    return dice_loss(logits, target) + bce_with_logits(logits, target)
