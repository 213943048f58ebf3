"""LPP, Track Attention, SAN / AAB, backbones."""
import pytest
import torch

from gazelib.papers.gazemedseg.lpp import local_pixel_propagation, local_pixel_propagation_reference
from gazelib.papers.selective_attention.network import AAB, SAN, SANSegNet, positional_encoding
from gazelib.papers.gradtrack.track_attention import GradTrackNet, TrackAttention
from gazelib.core.networks import BasicUNet, NNUNet, count_parameters

SLIM = (16, 32, 64, 128, 256)


def test_lpp_matches_the_pixel_by_pixel_reference():
    torch.manual_seed(0)
    f = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    assert torch.allclose(local_pixel_propagation(f, 5, 2), local_pixel_propagation_reference(f, 5, 2), atol=1e-10)
    assert torch.allclose(local_pixel_propagation(f, 3, 1), local_pixel_propagation_reference(f, 3, 1), atol=1e-10)


def test_lpp_hand_written_gradient_matches_autograd_of_the_reference():
    torch.manual_seed(1)
    f = torch.randn(1, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(1, 3, 6, 7, dtype=torch.float64)
    (ours,) = torch.autograd.grad((local_pixel_propagation(f, 5, 2) * upstream).sum(), f)
    (reference,) = torch.autograd.grad((local_pixel_propagation_reference(f) * upstream).sum(), f)
    assert torch.allclose(ours, reference, atol=1e-10)
    assert torch.autograd.gradcheck(lambda x: local_pixel_propagation(x, 3, 1), (f.detach()[..., :4, :5].requires_grad_(),))


@pytest.mark.parametrize("kernel, dilation", [(5, 2), (3, 1), (5, 1), (3, 3)])
def test_fused_lpp_values_and_gradients_match_the_reference(kernel, dilation):
    """float64, seeded; 6 x 7 pixels: with dilation 2 every pixel has neighbours outside (zero border)."""
    torch.manual_seed(kernel * 10 + dilation)
    f = torch.randn(2, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    fused = local_pixel_propagation(f, kernel, dilation, impl="fused")
    reference = local_pixel_propagation_reference(f, kernel, dilation)
    (g_fused,) = torch.autograd.grad((fused * upstream).sum(), f)
    (g_reference,) = torch.autograd.grad((reference * upstream).sum(), f)
    # Each value (and gradient) sums K*K*C products of O(1) terms in another order than the reference:
    # they may differ by ~K*K*C roundings of float64 (eps 2.2e-16), times a margin of 8 and |value| ~ 5.
    tol = kernel * kernel * f.shape[1] * torch.finfo(torch.float64).eps * 8 * 5
    assert torch.allclose(fused, reference, rtol=0, atol=tol)
    assert torch.allclose(g_fused, g_reference, rtol=0, atol=tol)


def test_fused_and_loop_lpp_agree_to_float32_rounding_in_the_model_layout():
    """The training dtype and a channels-last map (as under bf16 on CUDA): not bitwise equal (the sums run
    in another order), but within float32 rounding."""
    torch.manual_seed(2)
    f = torch.randn(2, 16, 20, 24).contiguous(memory_format=torch.channels_last).requires_grad_()
    upstream = torch.randn(2, 16, 20, 24)
    outs = [local_pixel_propagation(f, 5, 2, impl) for impl in ("loop", "fused")]
    grads = [torch.autograd.grad((o * upstream).sum(), f)[0] for o in outs]
    # values (|f'| < 4) and gradients (|g| < 8) sum K*K = 25 (gradients 2 x 25) terms: allow that many
    # float32 roundings (eps 1.2e-7) of the largest value; seen: 1.3e-6 and 5.6e-6
    eps = torch.finfo(torch.float32).eps
    assert torch.allclose(outs[0], outs[1], rtol=0, atol=25 * eps * 4)
    assert torch.allclose(grads[0], grads[1], rtol=0, atol=50 * eps * 8)
    with pytest.raises(ValueError, match="unknown LPP implementation 'nope'"):
        local_pixel_propagation(f, 5, 2, "nope")


def test_lpp_constant_positive_features_in_the_interior_stay_constant():
    f = torch.ones(1, 2, 9, 9)
    out = local_pixel_propagation(f, 5, 2)
    assert torch.allclose(out[..., 4, 4], torch.ones(1, 2))   # all 25 neighbours inside
    assert (out[..., 0, 0] < 1).all()                          # zero-padded border pulls towards 0


def test_ta_fusion_adds_detached_foreground_probability():
    torch.manual_seed(0)
    ta = TrackAttention(4)
    feat = torch.randn(1, 4, 8, 8, requires_grad=True)
    fused, logits = ta(feat)
    assert torch.allclose(fused - feat, logits.softmax(1)[:, 1:2].expand(-1, 4, -1, -1), atol=1e-6)
    (fused ** 2).sum().backward()                               # a loss on the fused path only
    assert torch.allclose(feat.grad, 2 * fused.detach())        # d/dF only through the identity
    assert all(p.grad is None for p in ta.parameters())         # nothing into the TA branch


def test_gradtrack_net_ta_outputs_and_positions():
    net = GradTrackNet(NNUNet(3, 2, (32, 64, 128, 256, 512, 512)), "decoder")
    assert net.dec_at == [0, 2]                                 # strides 16 and 4 of a 5-block decoder
    slim = GradTrackNet(NNUNet(3, 2, SLIM), "both")
    out = slim(torch.randn(1, 3, 64, 64))
    assert out["logits"].shape == (1, 2, 64, 64)
    assert [t.shape[-1] for t in out["ta"]] == [16, 4, 8, 16]   # encoder 4, 16(->deepest); decoder 8, 4
    assert GradTrackNet(NNUNet(3, 2, SLIM), use_ta=False)(torch.randn(1, 3, 32, 32))["ta"] == []


def test_positional_encoding_formula():
    p = positional_encoding((3, 4))
    assert p.shape == (2, 3, 4)
    assert torch.allclose(p[0, :, 0], torch.tensor([(2 * i - 3 + 1) / 2 for i in range(3)]))
    assert torch.allclose(p[1, 0], torch.tensor([(2 * j - 4 + 1) / 3 for j in range(4)]))
    assert torch.equal(positional_encoding((1, 2))[0], torch.zeros(1, 2))


@pytest.mark.parametrize("dims,size", [(2, (64, 64)), (3, (32, 32, 32))])
def test_san_and_aab_shapes(dims, size):
    torch.manual_seed(0)
    san = SAN(1, (8, 16), dims)
    x = torch.randn(2, 1, *size)
    m2, g = san(x)
    small = tuple(s // 16 for s in size)
    assert m2.shape == (2, 16, *small) and g.shape == (2, 1, *small)
    aab = AAB(enc_channels=24, san_channels=16, hidden=8, heads=2, dims=dims)
    e4 = torch.randn(2, 24, *tuple(s // 8 for s in size))     # deeper than M2: max-pooled, then upsampled
    out = aab(e4, m2)
    assert out.shape == e4.shape
    assert not torch.allclose(aab(e4, m2 + torch.randn_like(m2)), out)   # the query matters


@pytest.mark.parametrize("variant", ["backbone", "gaze_head", "san_concat", "ours"])
def test_san_segnet_3d_variants(variant):
    net = SANSegNet(BasicUNet(1, 1, (8, 16, 32, 64, 128), dims=3), 1, variant, hidden=8, heads=2, dims=3)
    out = net(torch.randn(1, 1, 32, 32, 32))
    assert out["logits"].shape == (1, 1, 32, 32, 32)
    assert ("gaze" in out) == (variant != "backbone")


def test_backbones_channels_last_and_param_counts(capsys):
    x = torch.randn(1, 3, 64, 64).to(memory_format=torch.channels_last)
    for net in (BasicUNet(3, 1, SLIM), NNUNet(3, 1, SLIM)):
        assert net.to(memory_format=torch.channels_last)(x).shape == (1, 1, 64, 64)
    unet = count_parameters(BasicUNet(3, 1, (64, 128, 256, 512, 1024, 128)))
    nnunet = count_parameters(NNUNet(3, 2, (32, 64, 128, 256, 512, 512)))
    print(f"params: BasicUNet(64..1024, 128) {unet:,}; NNUNet(32..512, 6 stages) {nnunet:,}")
    assert 30e6 < unet < 32e6                                   # MONAI BasicUNet (64..1024) has 31 M parameters


def test_gazemedseg_levels_start_identical_and_lpp_sees_the_final_conv():
    # the authors: MONAI BasicUNet(out_channels=128) = last decoder block -> linear 1x1 final_conv
    # 128 -> 128; classifier and LPP on its output; level networks deep copies of one initialisation
    from gazelib.core.config import Config
    from gazelib.core.methods import get_method

    for backbone in ("unet", "nnunet"):
        model = get_method("gazemedseg").build(Config(method="gazemedseg", backbone=backbone, features=SLIM))
        first, second = model.nets
        assert isinstance(first.final_conv, torch.nn.Conv2d)
        assert first.final_conv.kernel_size == (1, 1) and first.final_conv.in_channels == first.final_conv.out_channels
        for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
            assert torch.equal(a, b), name
        x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        features = first.final_conv(first.decode(first.encode(x)))
        assert torch.allclose(first.forward_features(x), features)
    assert isinstance(NNUNet(3, 1, SLIM).final_conv, torch.nn.Identity)   # other methods: unchanged
