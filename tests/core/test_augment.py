"""Augmentation on the device: flips, and the nnU-Net-style warp and gamma, checked on hand-made cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gazelib.core import augment


def _disk(size=16, centre=(5, 10), radius=3.5) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < radius ** 2).float()[None, None]


def test_flips_are_shared_between_image_and_targets():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    out = augment.flip_batch({"image": x, "mask": x[:, :1].clone()}, torch.Generator().manual_seed(0))
    assert torch.equal(out["image"][:, :1], out["mask"])
    for i in range(2):   # each sample is one of the four flips of itself
        assert any(torch.equal(out["image"][i], x[i].flip(d) if d else x[i]) for d in ((), (-1,), (-2,), (-1, -2)))


def test_identity_parameters_give_the_identity():
    image = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    mask = torch.cat([_disk(), _disk(centre=(8, 8))])
    grid = augment.sampling_grid(torch.zeros(2), torch.ones(2), torch.zeros(2, 2, 4, 4), (16, 16))
    out = augment.warp({"image": image, "mask": mask}, grid)
    assert torch.allclose(out["image"], image, atol=1e-5) and torch.equal(out["mask"], mask)
    assert torch.allclose(augment.adjust_gamma(image, torch.ones(2)), image, atol=1e-5)


def test_a_quarter_turn_rotates_a_known_mask():
    """Output pixel p reads the input at R(angle) p: +90 degrees reads output (x, y) at input (-y, x), so
    output row i, column j is input row j, column W - 1 - i: ``rot90(k=1)`` over (H, W)."""
    mask = _disk()
    grid = augment.sampling_grid(torch.tensor([math.pi / 2]), torch.ones(1), torch.zeros(1, 2, 4, 4), (16, 16))
    turned = augment.warp({"mask": mask}, grid)["mask"]
    assert torch.equal(turned, torch.rot90(mask, k=1, dims=(-2, -1)))
    assert not torch.equal(turned, mask)


def test_scaling_by_two_reads_twice_as_far_from_the_centre():
    """scale 2: output pixel at normalised x reads the input at 2x, so the middle half fills the output."""
    image = torch.arange(8, dtype=torch.float32).repeat(8, 1)[None, None]   # x coordinate as value
    grid = augment.sampling_grid(torch.zeros(1), torch.full((1,), 0.5), torch.zeros(1, 2, 4, 4), (8, 8))
    zoomed = augment.warp({"image": image}, grid)["image"][0, 0, 0]
    # output centre i + 0.5 - 4 maps to source (i + 0.5 - 4) / 2 + 4 - 0.5 = 1.75 + i / 2
    assert zoomed.tolist() == pytest.approx([1.75 + i / 2 for i in range(8)])


def test_gamma_bends_the_min_max_scaled_image_and_keeps_its_mean_and_std():
    x = torch.tensor([0.0, 0.5, 1.0, 1.0]).view(1, 1, 2, 2)
    out = augment.adjust_gamma(x, torch.tensor([2.0])).flatten().numpy()
    bent = np.array([0.0, 0.25, 1.0, 1.0])   # ((x - 0) / 1) ** 2
    flat = x.flatten().numpy()
    expected = (bent - bent.mean()) / bent.std(ddof=1) * flat.std(ddof=1) + flat.mean()
    assert out == pytest.approx(expected, abs=1e-6)


def _batch():
    mask = torch.cat([_disk(), _disk(centre=(10, 6), radius=4.5)])
    return {"image": mask.repeat(1, 3, 1, 1) * 4 - 1, "mask": mask, "track": mask * 0.6}   # outside reads 0: dark


def test_nnunet_is_seeded_and_moves_targets_with_the_image():
    batch = _batch()
    one = augment.augment_batch(batch, torch.Generator().manual_seed(3), "nnunet")
    two = augment.augment_batch(batch, torch.Generator().manual_seed(3), "nnunet")
    other = augment.augment_batch(batch, torch.Generator().manual_seed(4), "nnunet")
    assert all(torch.equal(one[k], two[k]) for k in batch)
    assert any(not torch.equal(one[k], other[k]) for k in batch)
    assert set(one["mask"].unique().tolist()) <= {0.0, 1.0}                  # nearest: still a mask
    assert {round(v, 6) for v in one["track"].unique().tolist()} <= {0.0, 0.6}  # no value below the cut-off
    assert torch.equal(one["track"] > 0, one["mask"] > 0)
    # the image moved with its mask: its bright half is where the mask is (bilinear edges aside)
    for i in range(2):
        image = one["image"][i, 0]
        bright = image > (image.min() + image.max()) / 2
        mask = one["mask"][i, 0] > 0
        assert (bright == mask).float().mean() > 0.9


def test_nnunet_transforms_some_samples_and_keeps_the_rest_to_flips():
    """Over many samples each transform fires near its probability; a sample none fired on is a flip of itself."""
    n = 2000
    image = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    out = augment.nnunet_spatial_and_gamma({"image": image}, torch.Generator().manual_seed(5))["image"]
    changed = (out - image).abs().flatten(1).amax(1) > 1e-4
    untouched = (1 - augment.ROTATION_P) * (1 - augment.SCALING_P) * (1 - augment.ELASTIC_P) * (1 - augment.GAMMA_P)
    assert abs((~changed).float().mean().item() - untouched) < 0.04


def test_unknown_augmentation_is_named():
    with pytest.raises(ValueError, match="unknown augmentation 'heavy'; augmentations: flips, nnunet"):
        augment.augment_batch(_batch(), torch.Generator(), "heavy")
