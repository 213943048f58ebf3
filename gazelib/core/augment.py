"""Training augmentation, batched on the device (``cfg.augment``), the same transform for the image and
every target of a sample.

* ``flips`` (default): each sample flipped left-right and up-down with probability 1/2 each.
* ``nnunet``: in the spirit of nnU-Net's 2D pipeline (Isensee et al., 2021), each with its own
  probability per sample: rotation by U(-180, 180) degrees (0.2), scaling by U(0.7, 1.4) (0.2), a light
  elastic deformation (0.2: a smooth random displacement, ``ELASTIC_GRID`` x ``ELASTIC_GRID`` control
  points of at most ``ELASTIC_MAGNITUDE`` of the half-width, upsampled bilinearly; nnU-Net's own elastic
  transform is off by default in its 2D plans), gamma U(0.7, 1.5) with the image's mean and std kept
  (0.3), then the flips above. Written with ``affine_grid`` / ``grid_sample``: no extra dependency, the
  data never leaves the device.

The image is resampled bilinearly, every target by nearest neighbour: a 0/1 mask stays 0/1 and a track
map keeps its hard tau cut-off (a bilinear mix of two labels is a value no target has). Outside the
image the sample reads zeros (the mean colour of a normalised image; background for every target).
Every call draws the same number of random values from ``generator``, so a seeded run is repeatable.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ROTATION_P, SCALING_P, ELASTIC_P, GAMMA_P = 0.2, 0.2, 0.2, 0.3
SCALE_RANGE = (0.7, 1.4)
GAMMA_RANGE = (0.7, 1.5)
ELASTIC_GRID = 4
ELASTIC_MAGNITUDE = 0.05


def augment_batch(batch: dict[str, torch.Tensor], generator: torch.Generator, kind: str = "flips") -> dict[str, torch.Tensor]:
    """``batch`` (``"image"`` and targets, float, (B, C, H, W)) augmented by ``kind`` (``flips`` | ``nnunet``)."""
    if kind == "flips":
        return flip_batch(batch, generator)
    if kind == "nnunet":
        return flip_batch(nnunet_spatial_and_gamma(batch, generator), generator)
    raise ValueError(f"unknown augmentation {kind!r}; augmentations: flips, nnunet")


def flip_batch(batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Flip each sample left-right and up-down with probability 1/2 each, the same way in every tensor."""
    first = next(iter(batch.values()))
    size, device = first.shape[0], first.device
    flips = torch.rand(2, size, generator=generator, device=device) < 0.5
    out = {}
    for name, x in batch.items():
        x = torch.where(flips[0].view(-1, *[1] * (x.ndim - 1)), x.flip(-1), x)
        out[name] = torch.where(flips[1].view(-1, *[1] * (x.ndim - 1)), x.flip(-2), x)
    return out


def nnunet_spatial_and_gamma(batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Rotation, scaling, elastic deformation and gamma with nnU-Net's probabilities (module docstring)."""
    image = batch["image"]
    n, device = image.shape[0], image.device

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator, device=device)

    on = torch.rand(4, n, generator=generator, device=device) < torch.tensor(
        [ROTATION_P, SCALING_P, ELASTIC_P, GAMMA_P], device=device)[:, None]
    angle = torch.where(on[0], uniform(-math.pi, math.pi, n), 0.0)
    scale = torch.where(on[1], uniform(*SCALE_RANGE, n), 1.0)
    displacement = uniform(-ELASTIC_MAGNITUDE, ELASTIC_MAGNITUDE, n, 2, ELASTIC_GRID, ELASTIC_GRID) * on[2].view(-1, 1, 1, 1)
    gamma = torch.where(on[3], uniform(*GAMMA_RANGE, n), 1.0)
    out = warp(batch, sampling_grid(angle, scale, displacement, image.shape[-2:]))
    out["image"] = adjust_gamma(out["image"], gamma)
    return out


def sampling_grid(angle: torch.Tensor, scale: torch.Tensor, displacement: torch.Tensor, size) -> torch.Tensor:
    """(B, H, W, 2) ``grid_sample`` grid: output pixel p reads the input at ``scale * R(angle) p + d(p)``
    (normalised coordinates, centre of the image at 0; ``d`` the displacement (B, 2, g, g) upsampled)."""
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], -2)
    grid = F.affine_grid(theta, (angle.shape[0], 1, *size), align_corners=False)
    smooth = F.interpolate(displacement, size=tuple(size), mode="bilinear", align_corners=True)
    return grid + smooth.permute(0, 2, 3, 1)


def warp(batch: dict[str, torch.Tensor], grid: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every tensor of ``batch`` resampled on ``grid``: the image bilinearly, targets by nearest neighbour."""
    return {name: F.grid_sample(x, grid, mode="bilinear" if name == "image" else "nearest", padding_mode="zeros",
                                align_corners=False) for name, x in batch.items()}


def adjust_gamma(image: torch.Tensor, gamma: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per sample: min-max scale to [0, 1], raise to ``gamma``, scale back, then restore the sample's mean
    and standard deviation (nnU-Net's ``GammaTransform`` with ``retain_stats``)."""
    flat = image.flatten(1)
    low, high = flat.min(1).values, flat.max(1).values
    span = (high - low).clamp_min(eps)
    curved = ((flat - low[:, None]) / span[:, None]).clamp(0, 1) ** gamma[:, None] * span[:, None] + low[:, None]
    mean, std = flat.mean(1, keepdim=True), flat.std(1, keepdim=True)
    kept = (curved - curved.mean(1, keepdim=True)) / curved.std(1, keepdim=True).clamp_min(eps) * std + mean
    return kept.view_as(image)
