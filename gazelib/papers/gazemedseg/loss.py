"""GazeMedSeg's cross-level consistency loss."""
from __future__ import annotations

from typing import Sequence

import torch

from gazelib.core.losses import check_same_shape


def consistency_loss(p_i: torch.Tensor, p_j: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """GazeMedSeg's cross-level consistency of level i against the other levels j:

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
        check_same_shape(p_i, q, "consistency_loss")
        q = q.detach()
        terms.append(-(p_i * q + (1 - p_i) * (1 - q)).mean())
    return torch.stack(terms).mean()
