"""GazeMedSeg's Local Pixel Propagation (LPP): a non-parametric local feature filter."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def local_pixel_propagation(feat: torch.Tensor, kernel: int = 5, dilation: int = 2) -> torch.Tensor:
    """Propagate each pixel's feature from its dilated ``kernel x kernel`` neighbourhood.

    For pixel i with neighbours j in N(i) (5x5, dilation 2, i itself included; GUIDE s.3)::

        s_ij  = max(0, f_i . f_j)                     (dot-product similarity, clamped at 0)
        w_ij  = exp(s_ij) / sum_{k in N(i)} exp(s_ik) (softmax over the neighbours)
        f'_i  = sum_{j in N(i)} w_ij f_j

    Vectorised with ``F.unfold`` (zero padding ``dilation * (kernel // 2)``). Border: neighbours that
    fall outside the image are zero vectors, exactly as zero-padded unfold gives them, so they get
    similarity 0 (weight exp(0) / Z in the softmax) and contribute nothing to the sum; near the border
    the propagated feature is therefore shrunk towards 0 a little. Memory: the unfolded tensor is
    ``kernel**2`` times the feature map (25x for 5x5).

    feat: (B, C, H, W) -> (B, C, H, W).
    """
    if feat.dim() != 4:
        raise ValueError(f"LPP expects a (B, C, H, W) feature map, got shape {tuple(feat.shape)}")
    if kernel % 2 != 1:
        raise ValueError(f"LPP kernel must be odd, got {kernel}")
    b, c, h, w = feat.shape
    pad = dilation * (kernel // 2)
    neigh = F.unfold(feat, kernel, dilation=dilation, padding=pad).view(b, c, kernel * kernel, h, w)
    sim = (neigh * feat.unsqueeze(2)).sum(1).clamp_min(0)           # (B, K*K, H, W)
    weight = sim.softmax(dim=1)
    return (neigh * weight.unsqueeze(1)).sum(2)
