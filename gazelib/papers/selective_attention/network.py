"""Selective attention (Huang et al., BMVC 2021): Selective Attention Network (SAN) and Auxiliary
Attention Block (AAB), for 2D (``dims=2``) and 3D (``dims=3``) inputs (sections 3.1-3.3).

Choices where the text leaves freedom (its Figure 2 is not in the text we have):
* SAN widths: (f0 // 2, f0) of the backbone features (32, 64 for the paper U-Net); GroupNorm with
  min(8, C) groups; the 4x down-sampling of the input is area (average) pooling.
* AAB: each of the ``heads`` heads has its own c_h-dimensional Q/K/V projections, so the scale is
  1/sqrt(c_h) as eq. (1) writes; W^O maps the concatenated heads back to c_h. Then
  LayerNorm -> Linear(c_h, c_h) -> ReLU -> Linear(c_h, c_e) -> LayerNorm gives M' (c_e channels, so it
  can be added to E4), which is upsampled (nearest) to E4's size and added: E4' = E4 + up(M').
* The query M2 carries no positional encoding; keys/values come from [maxpool(E4), P] (concat).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gazelib.core.networks import SegNet, check_dims, conv_cls

VARIANTS = ("backbone", "gaze_head", "san_concat", "ours_gaze", "ours")
INPUT_POOL = 4                           # the SAN first pools the input 4x ...
GAZE_SCALE = INPUT_POOL * 2 * 2          # ... then each of its two conv groups halves it: 1/16


def positional_encoding(size: tuple[int, ...], device=None, dtype=None) -> torch.Tensor:
    """Fixed positional encoding P (len(size), *size): per axis of length D, position i gets

        P_i = (2i - D + 1) / (D - 1)          (-1 at the first position, +1 at the last)

    An axis of length 1 gets 0 (the formula would divide by zero).
    """
    axes = [torch.linspace(-1, 1, n, device=device, dtype=dtype) if n > 1 else torch.zeros(1, device=device, dtype=dtype)
            for n in size]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"))


def _gn(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, c), c)


class SAN(nn.Module):
    """Two conv groups on the 4x down-sampled input, each (conv3x3 -> GN -> ReLU) x 2 -> maxpool 2,
    then a 1x1 conv to the gaze-map logits G at 1/16 of the input size.

    forward(x) -> (M2 features (B, widths[1], *x/16), gaze logits (B, 1, *x/16)).
    """

    def __init__(self, in_channels: int, widths: tuple[int, int] = (32, 64), dims: int = 2):
        super().__init__()
        check_dims(dims)
        self.dims = dims
        conv, pool = conv_cls(dims), {2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims]
        groups, cin = [], in_channels
        for w in widths:
            groups.append(nn.Sequential(conv(cin, w, 3, padding=1), _gn(w), nn.ReLU(inplace=True),
                                        conv(w, w, 3, padding=1), _gn(w), nn.ReLU(inplace=True), pool(2)))
            cin = w
        self.groups = nn.Sequential(*groups)
        self.gaze = conv(widths[-1], 1, 1)
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        down = {2: F.avg_pool2d, 3: F.avg_pool3d}[self.dims](x, INPUT_POOL)
        m2 = self.groups(down)
        return m2, self.gaze(m2)


class AAB(nn.Module):
    """Auxiliary Attention Block: refine the deepest encoder features E4 with SAN's M2 as query.

        E4ds = maxpool(E4) to M2's size;  KV_in = [E4ds, P]  (P: fixed positional encoding)
        Q = M2 W^Q_k,  K = KV_in W^K_k,  V = KV_in W^V_k       (all (dwh) x c_h, head k)
        Att_k = softmax(Q K^T / sqrt(c_h)) V                   (eq. 1)
        MultiHead = Concat(Att_1..Att_heads) W^O               (eq. 2)
        M' = LN(FFN(LN(MultiHead)));  E4' = E4 + upsample(M')
    """

    def __init__(self, enc_channels: int, san_channels: int, hidden: int = 64, heads: int = 4, dims: int = 2):
        super().__init__()
        check_dims(dims)
        self.dims, self.hidden, self.heads = dims, hidden, heads
        self.q = nn.Linear(san_channels, heads * hidden)
        self.kv = nn.Linear(enc_channels + dims, 2 * heads * hidden)
        self.out = nn.Linear(heads * hidden, hidden)                 # W^O
        self.norm1 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, enc_channels))
        self.norm2 = nn.LayerNorm(enc_channels)

    def forward(self, e4: torch.Tensor, m2: torch.Tensor) -> torch.Tensor:
        size = m2.shape[2:]
        pool = {2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}[self.dims]
        e4ds = pool(e4, size)
        pos = positional_encoding(tuple(size), device=e4.device, dtype=e4ds.dtype)
        kv_in = torch.cat([e4ds, pos.expand(e4.shape[0], *pos.shape)], dim=1)
        b, n = e4.shape[0], m2.shape[2:].numel()

        def tokens(t):                                              # (B, C, *S) -> (B, S, C)
            return t.flatten(2).transpose(1, 2)

        def split(t):                                               # (B, S, heads*h) -> (B, heads, S, h)
            return t.view(b, n, self.heads, self.hidden).transpose(1, 2)

        q = split(self.q(tokens(m2)))
        k, v = (split(t) for t in self.kv(tokens(kv_in)).chunk(2, dim=-1))
        att = F.scaled_dot_product_attention(q, k, v)              # scale 1/sqrt(c_h)
        att = self.out(att.transpose(1, 2).reshape(b, n, self.heads * self.hidden))
        m = self.norm2(self.ffn(self.norm1(att)))                   # (B, S, c_e)
        m = m.transpose(1, 2).reshape(b, -1, *size)
        return e4 + F.interpolate(m, size=e4.shape[2:], mode="nearest")


class SANSegNet(nn.Module):
    """Backbone U-Net + the selective-attention variant ``variant`` (config ``san_variant``):

    backbone    plain U-Net; no gaze branch.
    gaze_head   +gaze*: a 1x1 gaze head on the last decoder feature F (full resolution) whose
                sigmoid is used as soft attention on F before the classifier,
                logits = classifier(F * (1 + sigmoid(g))); applied in training and inference alike
                (residual form, so regions outside the predicted gaze are not erased).
    san_concat  +SAN*: SAN's M2 resized (nearest) to E4's size, concatenated with E4 and mapped back
                to E4's width by a 1x1 conv, instead of the AAB.
    ours_gaze   same network as ``ours`` (the SAN is trained on masks: a target choice in the method).
    ours        SAN + AAB on E4 (the deepest encoder stage).

    forward(x) -> {"logits": (B, 1, *x), "gaze": gaze logits or absent for ``backbone``}.
    SAN gaze logits are at 1/16 of the input; the gaze_head's at full resolution.
    """

    def __init__(self, backbone: SegNet, in_channels: int, variant: str = "ours",
                 hidden: int = 64, heads: int = 4, dims: int = 2):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown san_variant {variant!r}; known: {VARIANTS}")
        self.backbone, self.variant = backbone, variant
        e4 = backbone.features[-1]
        widths = (max(backbone.features[0] // 2, 8), backbone.features[0])
        if variant in ("san_concat", "ours_gaze", "ours"):
            self.san = SAN(in_channels, widths, dims)
        if variant == "san_concat":
            self.fuse = conv_cls(dims)(e4 + widths[1], e4, 1)
        if variant in ("ours_gaze", "ours"):
            self.aab = AAB(e4, widths[1], hidden, heads, dims)
        if variant == "gaze_head":
            self.gaze_head = conv_cls(dims)(backbone.feature_channels, 1, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        skips = self.backbone.encode(x)
        out: dict[str, torch.Tensor] = {}
        if hasattr(self, "san"):
            m2, out["gaze"] = self.san(x)
            e4 = skips[-1]
            if self.variant == "san_concat":
                m2 = F.interpolate(m2, size=e4.shape[2:], mode="nearest")
                skips[-1] = self.fuse(torch.cat([e4, m2], dim=1))
            else:
                skips[-1] = self.aab(e4, m2)
        feat = self.backbone.final_conv(self.backbone.decode(skips))
        if self.variant == "gaze_head":
            out["gaze"] = self.gaze_head(feat)
            feat = feat * (1 + torch.sigmoid(out["gaze"]))
        out["logits"] = self.backbone.classifier(feat)
        return out
