"""GazeMedSeg's Local Pixel Propagation (LPP): a non-parametric local feature filter."""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

#: The two implementations of the same equations (``local_pixel_propagation``'s ``impl``).
IMPLS = ("loop", "fused")


def local_pixel_propagation(feat: torch.Tensor, kernel: int = 5, dilation: int = 2, impl: str = "loop") -> torch.Tensor:
    """Propagate each pixel's feature from its dilated ``kernel x kernel`` neighbourhood.

    For pixel i with neighbours j in N(i) (5x5, dilation 2, i itself included)::

        s_ij  = max(0, f_i . f_j)                     (dot-product similarity, clamped at 0)
        w_ij  = exp(s_ij) / sum_{k in N(i)} exp(s_ik) (softmax over the neighbours)
        f'_i  = sum_{j in N(i)} w_ij f_j

    ``impl="loop"`` (the default): vectorised over pixels, looping over the K*K = 25 neighbour offsets: each neighbour map is a
    shifted view of the zero-padded feature map (padding ``dilation * (kernel // 2)``). This gives
    exactly what ``F.unfold`` with zero padding gives (and ``local_pixel_propagation_reference``),
    without unfold's 25x copy of the feature map. The gradient is written by hand (``_LPP.backward``):
    autograd through 25 slices allocates and zero-fills a padded gradient per slice, which made LPP
    most of a GazeMedSeg training step at the quick size.
    ``impl="fused"``: the same equations as a few whole-tensor operations on ``F.unfold``
    (``_lpp_unfold``): 3 large kernels instead of ~100 small ones (what a GPU may want), at the price
    of the 25x copy of the feature map. The two agree to float rounding, not always bitwise (the sums
    run in another order; ``tests/papers/test_networks.py``), so the loop stays the default and the
    records' numbers stay reproducible. Measured on a shared 2-core CPU (``results/bench/lpp-cpu-*.md``,
    and an earlier pair of runs): at 224 px the loop is the faster (3-5x in bf16, 1.7x in fp32); at
    the 64 px slim profile neither wins from one run to the next (fused 0.3x to 1.8x the loop's time).
    Runs choose with ``lpp_impl``.
    Border: neighbours that fall outside the image are zero vectors, as with zero-padded unfold, so
    they get similarity 0 (weight exp(0) / Z in the softmax) and contribute nothing to the sum; near
    the border the propagated feature is therefore shrunk towards 0 a little.

    feat: (B, C, H, W) -> (B, C, H, W).
    """
    if feat.dim() != 4:
        raise ValueError(f"LPP expects a (B, C, H, W) feature map, got shape {tuple(feat.shape)}")
    if kernel % 2 != 1:
        raise ValueError(f"LPP kernel must be odd, got {kernel}")
    if impl not in IMPLS:
        raise ValueError(f"unknown LPP implementation {impl!r}; known: {', '.join(IMPLS)}")
    return _LPP.apply(feat, kernel, dilation)[0] if impl == "loop" else _lpp_unfold(feat, kernel, dilation)


def local_pixel_propagation_reference(feat: torch.Tensor, kernel: int = 5, dilation: int = 2) -> torch.Tensor:
    """The equations of ``local_pixel_propagation``, pixel by pixel and neighbour by neighbour: slow,
    differentiable by autograd, and the reference the fast version is tested against (values and
    gradients, ``tests/papers/test_networks.py``)."""
    batch, channels, height, width = feat.shape
    r = kernel // 2
    images = []
    for n in range(batch):
        pixels = []
        for y, x in itertools.product(range(height), range(width)):
            f_i = feat[n, :, y, x]
            f_j = [feat[n, :, y + dy * dilation, x + dx * dilation]
                   if 0 <= y + dy * dilation < height and 0 <= x + dx * dilation < width
                   else torch.zeros(channels, dtype=feat.dtype)                    # outside: a zero vector
                   for dy, dx in itertools.product(range(-r, r + 1), repeat=2)]
            s_ij = torch.stack([(f_i @ v).clamp_min(0) for v in f_j])            # max(0, f_i . f_j)
            w_ij = torch.softmax(s_ij, 0)                                         # over the neighbours
            pixels.append(sum(w * v for w, v in zip(w_ij, f_j)))                  # f'_i = sum_j w_ij f_j
        images.append(torch.stack(pixels, 1).view(channels, height, width))
    return torch.stack(images)


def _lpp_unfold(feat: torch.Tensor, kernel: int, dilation: int) -> torch.Tensor:
    """LPP on the (B, C, K*K, H*W) neighbour tensor of zero-padded ``F.unfold``; autograd's gradient
    (unfold's is fold). Per pixel p and neighbour k: s_kp = max(0, sum_c n_ckp f_cp),
    w_kp = softmax_k s_kp, f'_cp = sum_k w_kp n_ckp."""
    b, c, h, w = feat.shape
    neighbours = F.unfold(feat, kernel, dilation=dilation, padding=dilation * (kernel // 2)).view(b, c, kernel * kernel, h * w)
    weight = (neighbours * feat.reshape(b, c, 1, h * w)).sum(1).clamp_min(0).softmax(dim=1)       # (B, K*K, H*W)
    return (neighbours * weight.unsqueeze(1)).sum(2).view(b, c, h, w)


def _offsets(kernel: int, dilation: int) -> list[tuple[int, int]]:
    """The K*K neighbour offsets into the padded map, row by row."""
    return [(dy * dilation, dx * dilation) for dy in range(kernel) for dx in range(kernel)]


def _neighbours(padded: torch.Tensor, offsets: list[tuple[int, int]], h: int, w: int) -> list[torch.Tensor]:
    """The shifted (B, C, h, w) views of the padded map, one per neighbour offset."""
    return [padded[:, :, y:y + h, x:x + w] for y, x in offsets]


class _LPP(torch.autograd.Function):
    """LPP with its gradient. With n_j the neighbour maps, s_j = max(0, f . n_j), w = softmax(s):

        forward:   f' = sum_j w_j n_j
        backward:  g_w_j = g . n_j
                   g_s_j = w_j (g_w_j - sum_k w_k g_w_k) 1(s_j > 0)       (softmax, then the clamp)
                   g_f   = sum_j g_s_j n_j                                (through s_j = f . n_j)
                   g_n_j = w_j g + g_s_j f, summed into the padded map at offset j, then cropped
    """

    # forward / setup_context / vmap: the form torch.func needs (``gazelib.core.stacked`` vmaps the
    # network). The intermediates the gradient needs are extra, non-differentiable outputs.

    @staticmethod
    def forward(feat: torch.Tensor, kernel: int, dilation: int):
        h, w = feat.shape[-2:]
        pad = dilation * (kernel // 2)
        padded = F.pad(feat, (pad, pad, pad, pad))
        neighbours = _neighbours(padded, _offsets(kernel, dilation), h, w)
        sim = torch.stack([torch.linalg.vecdot(n, feat, dim=1) for n in neighbours], dim=1)   # (B, K*K, H, W)
        positive = sim > 0
        weight = sim.clamp_min_(0).softmax(dim=1)
        out = torch.zeros_like(feat)
        for k, n in enumerate(neighbours):
            out.addcmul_(n, weight[:, k:k + 1])
        return out, padded, weight, positive

    @staticmethod
    def setup_context(ctx, inputs, output):
        feat, kernel, dilation = inputs
        _, padded, weight, positive = output
        ctx.mark_non_differentiable(padded, weight, positive)
        ctx.save_for_backward(padded, feat, weight, positive)
        ctx.offsets, ctx.pad = _offsets(kernel, dilation), dilation * (kernel // 2)

    @staticmethod
    def vmap(info, in_dims, feat, kernel, dilation):
        """Over stacked runs: LPP has no weights, so the stacked dimension folds into the batch."""
        feat = feat.movedim(in_dims[0], 0)
        outputs = _LPP.apply(feat.flatten(0, 1), kernel, dilation)
        return tuple(o.unflatten(0, feat.shape[:2]) for o in outputs), (0, 0, 0, 0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor, *_):
        padded, feat, weight, positive = ctx.saved_tensors
        h, w = feat.shape[-2:]
        grad = grad.contiguous()
        neighbours = _neighbours(padded, ctx.offsets, h, w)
        grad_w = torch.stack([torch.linalg.vecdot(n, grad, dim=1) for n in neighbours], dim=1)
        grad_s = weight * (grad_w - (weight * grad_w).sum(1, keepdim=True)) * positive
        grad_padded = torch.zeros_like(padded)
        grad_feat = torch.zeros_like(feat)
        for k, g in enumerate(_neighbours(grad_padded, ctx.offsets, h, w)):
            g.addcmul_(grad, weight[:, k:k + 1]).addcmul_(feat, grad_s[:, k:k + 1])
            grad_feat.addcmul_(neighbours[k], grad_s[:, k:k + 1])
        pad = ctx.pad
        grad_feat += grad_padded[:, :, pad:pad + h, pad:pad + w]
        return grad_feat, None, None
