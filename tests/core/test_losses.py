"""Losses against hand computations on tiny tensors."""
import math

import pytest
import torch

from gazelib.papers.gazemedseg.loss import consistency_loss
from gazelib.papers.gradtrack.loss import gtmg_loss
from gazelib.core.losses import bce_with_logits, dice_loss, fg_logit


def test_dice_hand_computed():
    # p = sigmoid(0) = 0.5 on 4 pixels; target has 2 foreground pixels
    logits = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    s = 1e-5
    expected = 1 - (2 * 1.0 + s) / (2.0 + 2.0 + s)           # sum p t = 1, sum p = 2, sum t = 2
    assert dice_loss(logits, target).item() == pytest.approx(expected, abs=1e-6)
    expected_sq = 1 - (2 * 1.0 + s) / (1.0 + 2.0 + s)        # sum p^2 = 1
    assert dice_loss(logits, target, squared=True).item() == pytest.approx(expected_sq, abs=1e-6)


def test_dice_empty_target_and_empty_prediction_is_zero_loss():
    assert dice_loss(torch.full((1, 1, 3, 3), -50.0), torch.zeros(1, 1, 3, 3)).item() == pytest.approx(0, abs=1e-5)


def test_dice_averages_per_image():
    logits = torch.tensor([50.0, -50.0]).view(2, 1, 1, 1)    # image 0 perfect, image 1 misses
    target = torch.ones(2, 1, 1, 1)
    assert dice_loss(logits, target).item() == pytest.approx(0.5, abs=1e-4)


def test_soft_bce_hand_computed():
    z = torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)
    t = torch.tensor([0.3, 1.0]).view(1, 1, 1, 2)
    p1 = 1 / (1 + math.exp(-2.0))
    expected = (-(0.3 * math.log(0.5) + 0.7 * math.log(0.5)) - math.log(p1)) / 2
    assert bce_with_logits(z, t).item() == pytest.approx(expected, rel=1e-6)


def test_gtmg_indicator_terms():
    # pixel 0: G = 0 -> -log P_bg ; pixel 1: G = 0.5 -> -(1 + 0.5) log P_fg
    logits = torch.tensor([[[[0.0, 1.0]], [[1.0, -1.0]]]])   # (1, 2, 1, 2): channel 0 = bg, 1 = fg
    G = torch.tensor([[[[0.0, 0.5]]]])
    pbg0 = math.exp(0) / (math.exp(0) + math.exp(1))
    pfg1 = math.exp(-1) / (math.exp(1) + math.exp(-1))
    expected = (-math.log(pbg0) - 1.5 * math.log(pfg1)) / 2
    assert gtmg_loss(logits, G).item() == pytest.approx(expected, rel=1e-6)


def test_gtmg_resizes_G_bilinearly():
    logits = torch.zeros(1, 2, 1, 1)                          # P_fg = P_bg = 0.5
    G = torch.full((1, 1, 4, 4), 0.4)                          # bilinear 4x4 -> 1x1 stays 0.4
    assert gtmg_loss(logits, G).item() == pytest.approx(-1.4 * math.log(0.5), rel=1e-6)


def test_fg_logit_matches_softmax():
    # float64: sigmoid(z_fg - z_bg) and the softmax round differently, by ~1e-16 here (~1e-7 in float32)
    z = torch.randn(2, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(torch.sigmoid(fg_logit(z)), z.softmax(1)[:, 1:2])


def test_consistency_value_and_stop_gradient():
    p_i = torch.tensor([0.8, 0.2]).view(1, 1, 1, 2).requires_grad_()
    p_j = torch.tensor([0.6, 0.4]).view(1, 1, 1, 2).requires_grad_()
    loss = consistency_loss(p_i, p_j)
    expected = -((0.8 * 0.6 + 0.2 * 0.4) + (0.2 * 0.4 + 0.8 * 0.6)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    # d/dp_i of -(p q + (1-p)(1-q)) / 2 = -(2q - 1) / 2
    assert torch.allclose(p_i.grad.flatten(), torch.tensor([-0.1, 0.1]), atol=1e-6)
    assert p_j.grad is None


def test_consistency_averages_other_levels():
    p_i = torch.full((1, 1, 1, 1), 1.0)
    a, b = torch.full((1, 1, 1, 1), 1.0), torch.full((1, 1, 1, 1), 0.0)
    assert consistency_loss(p_i, [a, b]).item() == pytest.approx(-0.5)


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="differ in shape"):
        dice_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 3))
    with pytest.raises(ValueError, match="2-channel"):
        gtmg_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
