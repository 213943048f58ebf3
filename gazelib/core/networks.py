"""The two U-Net backbones: GazeMedSeg's BasicUNet-like net and an nnU-Net-style plain U-Net.

Both share one interface (``SegNet``) so the method units can hook into them without copying code:

* ``encode(x, after_stage=None) -> list[Tensor]``: one feature map per resolution stage, shallowest
  first; the last one is the deepest (the bottleneck, "E4" of the selective-attention paper).
* ``decode(skips, after_block=None) -> Tensor``: runs the decoder blocks deepest first; block ``i``
  upsamples, concatenates skip ``skips[-2 - i]`` and convolves. ``after_block(i, f) -> f`` may replace
  a block's output (GradTrack's Track Attention); ``after_stage(i, f) -> f`` does the same in the encoder.
* ``forward_features(x)`` = ``final_conv(decode(encode(x)))``: the output feature map (B, C, H, W).
  ``final_conv`` is MONAI BasicUNet's last layer, a linear 1x1 convolution C -> C (the GazeMedSeg
  authors build BasicUNet with ``out_channels=128`` and put their classifier and LPP on its output);
  it is the identity in the nnU-Net-style net unless asked for (``final_conv=True``, as GazeMedSeg
  does on any backbone). ``classifier`` is the 1x1 convolution to the logits, so GazeMedSeg's LPP can
  re-apply it to propagated features; ``forward(x) = classifier(forward_features(x))``.

Inputs must have sides divisible by ``2 ** (len(features) - 1)`` (224 = 7 * 32 for five downsamplings).
Both work on ``channels_last`` tensors (all layers are standard convolutions / norms).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from gazelib.core.config import PAPER_FEATURES
from gazelib.core.device import channels_last_enabled

Hook = Callable[[int, torch.Tensor], torch.Tensor] | None


def conv_cls(dims: int) -> type[nn.Module]:
    return {2: nn.Conv2d, 3: nn.Conv3d}[dims]


def conv_transpose_cls(dims: int) -> type[nn.Module]:
    return {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[dims]


def check_dims(dims: int) -> None:
    if dims not in (2, 3):
        raise ValueError(f"spatial dims must be 2 or 3, got {dims}")


class SegNet(nn.Module):
    """Encoder stages + decoder blocks + 1x1 classifier (see the module docstring)."""

    encoder: nn.ModuleList
    decoder: nn.ModuleList
    final_conv: nn.Module         # 1x1 conv C -> C on the last decoder block (MONAI), or identity
    classifier: nn.Module
    features: tuple[int, ...]     # channels of each encoder stage, shallowest first
    feature_channels: int         # channels of forward_features' output

    def encode(self, x: torch.Tensor, after_stage: Hook = None) -> list[torch.Tensor]:
        skips = []
        for i, stage in enumerate(self.encoder):
            x = stage(x)
            if after_stage is not None:
                x = after_stage(i, x)
            skips.append(x)
        return skips

    def decode(self, skips: Sequence[torch.Tensor], after_block: Hook = None) -> torch.Tensor:
        x = skips[-1]
        for i, block in enumerate(self.decoder):
            x = block(x, skips[-2 - i])
            if after_block is not None:
                x = after_block(i, x)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_conv(self.decode(self.encode(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))

    def decoder_strides(self) -> list[int]:
        """Output stride (input size / feature size) of each decoder block, deepest block first."""
        n = len(self.decoder)
        return [2 ** (n - 1 - i) for i in range(n)]


class UpBlock(nn.Module):
    """Upsample ``x`` by a stride-2 transposed convolution, concatenate the skip, convolve."""

    def __init__(self, up: nn.Module, conv: nn.Module):
        super().__init__()
        self.up, self.conv = up, conv

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


# --- GazeMedSeg: MONAI BasicUNet-like -------------------------------------------------------------

def two_conv(cin: int, cout: int, dims: int, groups: int, slope: float) -> nn.Sequential:
    """MONAI ``TwoConv``: twice (conv3x3 with bias -> GroupNorm -> LeakyReLU)."""
    conv = conv_cls(dims)
    return nn.Sequential(
        conv(cin, cout, 3, padding=1), nn.GroupNorm(groups, cout), nn.LeakyReLU(slope, inplace=True),
        conv(cout, cout, 3, padding=1), nn.GroupNorm(groups, cout), nn.LeakyReLU(slope, inplace=True),
    )


class BasicUNet(SegNet):
    """GazeMedSeg's backbone, laid out like MONAI ``BasicUNet`` (upsample="deconv").

    ``features`` = (f0, f1, f2, f3, f4[, f_out]); GazeMedSeg uses (64, 128, 256, 512, 1024, 128):
    a 128-channel output feature, GroupNorm with 4 groups, MONAI's ``final_conv`` (1x1, f_out -> f_out,
    with bias, no norm or activation: the authors' ``BasicUNet(out_channels=128)``), then a 1x1
    classifier to one logit.
    With a 5-tuple the output feature width is ``f1`` (128 for the paper features, 32 for the slim
    CPU features (16, 32, 64, 128, 256)).

    Encoder: ``conv_0 = TwoConv(in, f0)``, then 4 x (MaxPool 2 -> TwoConv). Decoder (MONAI ``UpCat``):
    ConvTranspose(k=2, s=2) halving the channels (``upcat_4..2``), except the last one which keeps
    them (``upcat_1``, halves=False), concat skip, TwoConv. Activation: MONAI's default LeakyReLU(0.1).
    ``dims`` = 3 gives the volumetric variant (selective-attention 3D path).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 1,
                 features: Sequence[int] = (64, 128, 256, 512, 1024), norm_groups: int = 4,
                 negative_slope: float = 0.1, dims: int = 2):
        super().__init__()
        check_dims(dims)
        features = tuple(int(f) for f in features)
        if len(features) == 5:
            features = features + (features[1],)
        if len(features) != 6:
            raise ValueError(f"BasicUNet needs 5 or 6 feature widths, got {features}")
        enc, f_out = features[:5], features[5]
        self.features, self.feature_channels = enc, f_out
        pool = {2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims]

        def tc(cin, cout):
            return two_conv(cin, cout, dims, norm_groups, negative_slope)

        self.encoder = nn.ModuleList(
            [tc(in_channels, enc[0])] + [nn.Sequential(pool(2), tc(enc[i], enc[i + 1])) for i in range(4)]
        )
        blocks = []
        for i in (4, 3, 2, 1):  # upcat_4 .. upcat_1
            last = i == 1
            up_ch = enc[i] if last else enc[i] // 2
            cout = f_out if last else enc[i - 1]
            blocks.append(UpBlock(conv_transpose_cls(dims)(enc[i], up_ch, 2, stride=2),
                                  tc(enc[i - 1] + up_ch, cout)))
        self.decoder = nn.ModuleList(blocks)
        self.final_conv = conv_cls(dims)(f_out, f_out, 1)
        self.classifier = conv_cls(dims)(f_out, out_channels, 1)


# --- nnU-Net-style plain U-Net ---------------------------------------------------------------------

def conv_in_lrelu(cin: int, cout: int, stride: int) -> nn.Sequential:
    """nnU-Net ``ConvDropoutNormReLU``: conv3x3 (bias) -> InstanceNorm(affine) -> LeakyReLU(0.01)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
                         nn.InstanceNorm2d(cout, eps=1e-5, affine=True),
                         nn.LeakyReLU(0.01, inplace=True))


class NNUNet(SegNet):
    """nnU-Net-style 2D plain U-Net (nnU-Net v2 ``PlainConvUNet`` without deep supervision).

    What the nnU-Net planner gives for 224x224 2D images: downsample while the feature map stays
    >= 4 pixels -> 224, 112, 56, 28, 14, 7 = 6 stages (5 downsamplings), 32 base features doubling per
    stage and capped at 512: ``features = (32, 64, 128, 256, 512, 512)``; 2 convs per stage, the first
    of each stage (except stage 0) with stride 2; decoder: ConvTranspose(k=2, s=2) to the skip's width,
    concat, 2 convs; segmentation head 1x1 (``final_conv=True`` puts a linear 1x1 conv C -> C before
    it, the feature space GazeMedSeg's LPP works in). Any number of stages works (``len(features)``); the slim
    CPU features (16, 32, 64, 128, 256) give 5 stages.

    Decoder blocks (deepest first) have output strides 2**(n-1), ..., 2, 1. GradTrack's block numbers
    refer to a 6-block decoder (strides 32..1); ``gazelib.papers.gradtrack.track_attention`` maps them by stride.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 1,
                 features: Sequence[int] = (32, 64, 128, 256, 512, 512), final_conv: bool = False):
        super().__init__()
        features = tuple(int(f) for f in features)
        if len(features) < 2:
            raise ValueError(f"NNUNet needs at least 2 stages, got features={features}")
        self.features, self.feature_channels = features, features[0]
        stages, cin = [], in_channels
        for i, f in enumerate(features):
            stages.append(nn.Sequential(conv_in_lrelu(cin, f, 1 if i == 0 else 2), conv_in_lrelu(f, f, 1)))
            cin = f
        self.encoder = nn.ModuleList(stages)
        blocks = []
        for i in range(len(features) - 1, 0, -1):
            f_deep, f_skip = features[i], features[i - 1]
            blocks.append(UpBlock(nn.ConvTranspose2d(f_deep, f_skip, 2, stride=2),
                                  nn.Sequential(conv_in_lrelu(2 * f_skip, f_skip, 1),
                                                conv_in_lrelu(f_skip, f_skip, 1))))
        self.decoder = nn.ModuleList(blocks)
        self.final_conv = nn.Conv2d(features[0], features[0], 1) if final_conv else nn.Identity()
        self.classifier = nn.Conv2d(features[0], out_channels, 1)


BACKBONES = {"unet": BasicUNet, "nnunet": NNUNet}




def resolved_features(cfg) -> tuple[int, ...]:
    """``cfg.features``, or the paper widths of ``cfg.backbone`` when it is None."""
    return PAPER_FEATURES[cfg.backbone] if cfg.features is None else tuple(cfg.features)


def build_backbone(cfg, in_channels: int, out_channels: int = 1, final_conv: bool = False) -> SegNet:
    """The backbone ``cfg.backbone`` (``unet`` | ``nnunet``) with ``cfg.features``, or with its paper
    widths when ``cfg.features`` is None. ``final_conv``: a linear 1x1 feature conv before the
    classifier in the nnU-Net-style net too (BasicUNet always has MONAI's)."""
    if cfg.backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {cfg.backbone!r}; known: {sorted(BACKBONES)}")
    extra = {"final_conv": final_conv} if cfg.backbone == "nnunet" else {}
    return BACKBONES[cfg.backbone](in_channels=in_channels, out_channels=out_channels,
                                   features=resolved_features(cfg), **extra)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_model(method, cfg, device: torch.device) -> nn.Module:
    """``method``'s network for ``cfg``, initialised from ``cfg.seed``, on ``device`` in its memory format."""
    torch.manual_seed(cfg.seed)
    model = method.build(cfg).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last_enabled(cfg, device) else model
