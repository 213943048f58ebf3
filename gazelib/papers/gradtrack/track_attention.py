"""GradTrack's Track Attention (TA) module and the network that carries it (paper Fig. 2(b), eqs. 3-5).

Where the TA modules go. The paper's decoder has 6 blocks; TA follows blocks 2 and 4 and block 6 (the
last) gives the final prediction. In a 6-block decoder those blocks output at strides 16, 4 and 1, so
we place TA by stride, which works for any depth: after the decoder blocks with output stride 16 and
4, and the final prediction from the last block (stride 1). The nnU-Net planner topology for 224x224
(``NNUNet`` with 6 stages, 5 decoder blocks at strides 16, 8, 4, 2, 1) thus gets TA after its decoder
blocks 1 and 3 (1-based) and predicts from block 5; the paper's block 1 (stride 32) does not exist at
224. Shallower nets (slim CPU features, 4 decoder blocks at strides 8, 4, 2, 1) use their deepest
block in place of stride 16. ``ta_location="encoder"`` puts the two TA modules after the encoder stages
with output stride 4 and 16 instead, ``"both"`` uses all four (Table 2).

Components (Fig. 4(a), ``cfg.components``), model + loss (loss in ``gazelib.papers.gradtrack.method``):
  #1  no TA modules;  L = lambda2 * L_VAM (Dice + CE on the 0.7-threshold mask, final output)
  #2  no TA modules;  L = L_GTMG^{100%,final} + lambda2 * L_VAM
  #3  TA modules;     L = #2 + lambda1 * sum_TA L_GTMG^{100%,TA}     (TA maps not truncated)
  #4  TA modules;     L = #2 + lambda1 * (L_GTMG^{50%,first TA} + L_GTMG^{75%,second TA})  (eq. 5)
"""
from __future__ import annotations

import torch
from torch import nn

from gazelib.core.networks import SegNet

TA_STRIDES = (16, 4)  # decoder order: paper blocks 2 and 4 of 6
LOCATIONS = ("decoder", "encoder", "both")


class TrackAttention(nn.Module):
    """Predict the 2-channel track map P^h from F^h and fuse its foreground back (eq. 4).

    Three convolutional blocks: conv3x3 -> InstanceNorm -> LeakyReLU(0.01), twice, then a 1x1 conv to
    [bg, fg] logits. Fusion:

        F_hat^h = F^h (+) |P_fg^h|,   |.| = stop-gradient (detach),  P = softmax(logits)

    with P_fg expanded from 1 channel to F^h's channels and added element-wise. Because of the
    stop-gradient the TA branch learns only from its own L_GTMG term, never from the segmentation path.
    Returns (F_hat, logits).
    """

    def __init__(self, channels: int):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1),
                                 nn.InstanceNorm2d(cout, affine=True), nn.LeakyReLU(0.01, inplace=True))

        self.head = nn.Sequential(block(channels, channels), block(channels, channels), nn.Conv2d(channels, 2, 1))

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(feat)
        p_fg = logits.softmax(dim=1)[:, 1:2].detach()
        return feat + p_fg.expand_as(feat), logits


def _pick(strides: list[int], wanted: tuple[int, ...], where: str) -> list[int]:
    """Indices of the blocks whose output stride is each wanted stride, the deepest one standing in
    for strides the net is too shallow to have."""
    deepest = max(range(len(strides)), key=lambda i: strides[i])
    picked = [strides.index(s) if s in strides else deepest for s in wanted]
    if len(set(picked)) != len(picked):
        raise ValueError(f"network too shallow for two {where} TA modules (block strides {strides})")
    return picked


class GradTrackNet(nn.Module):
    """A ``SegNet`` backbone with 2-channel output plus TA modules.

    forward(x) -> {"logits": (B, 2, H, W) final [bg, fg] logits,
                   "ta": [TA logits (B, 2, h, w)] in processing order (encoder first, shallow to deep;
                          then decoder, deep to shallow); the method pairs them with the 50% / 75% maps}.
    """

    def __init__(self, backbone: SegNet, ta_location: str = "decoder", use_ta: bool = True):
        super().__init__()
        if ta_location not in LOCATIONS:
            raise ValueError(f"unknown ta_location {ta_location!r}; known: {LOCATIONS}")
        self.backbone = backbone
        self.enc_at: list[int] = []
        self.dec_at: list[int] = []
        if use_ta and ta_location in ("encoder", "both"):
            enc_strides = [2 ** i for i in range(len(backbone.encoder))]
            self.enc_at = _pick(enc_strides, tuple(reversed(TA_STRIDES)), "encoder")
        if use_ta and ta_location in ("decoder", "both"):
            self.dec_at = _pick(backbone.decoder_strides(), TA_STRIDES, "decoder")
        enc_ch = [backbone.features[i] for i in self.enc_at]
        dec_ch = [self._decoder_channels(i) for i in self.dec_at]
        self.enc_ta = nn.ModuleList(TrackAttention(c) for c in enc_ch)
        self.dec_ta = nn.ModuleList(TrackAttention(c) for c in dec_ch)

    def _decoder_channels(self, i: int) -> int:
        n = len(self.backbone.decoder)
        return self.backbone.feature_channels if i == n - 1 else self.backbone.features[n - 1 - i]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        ta_logits: list[torch.Tensor] = []

        def hook(at: list[int], modules: nn.ModuleList):
            def apply(i: int, f: torch.Tensor) -> torch.Tensor:
                if i not in at:
                    return f
                f, logits = modules[at.index(i)](f)
                ta_logits.append(logits)
                return f
            return apply

        skips = self.backbone.encode(x, hook(self.enc_at, self.enc_ta) if self.enc_at else None)
        feat = self.backbone.decode(skips, hook(self.dec_at, self.dec_ta) if self.dec_at else None)
        feat = self.backbone.final_conv(feat)
        return {"logits": self.backbone.classifier(feat), "ta": ta_logits}
