"""GazeMedSeg's multi-level model: one network per pseudo-mask level, plus LPP-propagated logits."""
from __future__ import annotations

import torch
from torch import nn

from gazelib.core.networks import SegNet
from gazelib.papers.gazemedseg.lpp import local_pixel_propagation

CONS_MODES = ("prop", "pure", "none")


class MultiLevelNet(nn.Module):
    """``nets[l]`` is trained on the pseudo-mask of level l.

    forward(x) -> {"logits": [z_l (B, 1, H, W)],
                   "prop_logits": [classifier_l(LPP(F_l))] in training with cons_mode "prop", else absent}
    where F_l = nets[l].forward_features(x). Propagated logits are only computed in training mode:
    inference needs the plain logits only (prediction = mean of level logits).
    """

    def __init__(self, nets: list[SegNet], cons_mode: str = "prop", lpp_kernel: int = 5, lpp_dilation: int = 2,
                 lpp_impl: str = "loop"):
        super().__init__()
        if cons_mode not in CONS_MODES:
            raise ValueError(f"unknown cons_mode {cons_mode!r}; known: {CONS_MODES}")
        self.nets = nn.ModuleList(nets)
        self.cons_mode, self.lpp_kernel, self.lpp_dilation, self.lpp_impl = cons_mode, lpp_kernel, lpp_dilation, lpp_impl

    def forward(self, x: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        feats = [net.forward_features(x) for net in self.nets]
        out = {"logits": [net.classifier(f) for net, f in zip(self.nets, feats)]}
        if self.training and self.cons_mode == "prop":
            out["prop_logits"] = [net.classifier(local_pixel_propagation(f, self.lpp_kernel, self.lpp_dilation,
                                                                              self.lpp_impl))
                                  for net, f in zip(self.nets, feats)]
        return out
