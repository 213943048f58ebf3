"""Dense-CRF refinement of a gaze heatmap (GazeMedSeg authors' ``crf_inference``, pydensecrf2)."""
from __future__ import annotations

import numpy as np
from PIL import Image


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """A grey float slice -> uint8 (H, W, 3), as the authors prepare NCI-ISBI for the CRF.

    ``(img - min) / (max - min) * 255`` truncated to uint8 and repeated to three channels;
    an RGB uint8 image is returned unchanged. A constant slice maps to zeros.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return image
    if image.ndim != 2:
        raise ValueError(f"to_rgb_uint8: expected a 2-D grey slice or uint8 RGB, got shape {image.shape} {image.dtype}")
    image = image.astype(np.float32)
    span = float(image.max() - image.min())
    scaled = (image - image.min()) / span * 255 if span > 0 else np.zeros_like(image)
    return np.repeat(scaled.astype(np.uint8)[:, :, None], 3, axis=2)


def _resize(array: np.ndarray, height: int, width: int, resample) -> np.ndarray:
    if array.ndim == 3:
        return np.asarray(Image.fromarray(array).resize((width, height), resample))
    return np.asarray(Image.fromarray(array.astype(np.float32), mode="F").resize((width, height), resample))


def crf_refine(rgb_uint8: np.ndarray, heat: np.ndarray, sxy: float = 80, srgb: float = 13,
               compat: float = 1, iterations: int = 10, scale: float = 1.0) -> np.ndarray:
    """Foreground marginal of a 2-label dense CRF, float32 (H, W) in [0, 1].

    Unary: ``U = -log(clip([1 - h, h], 1e-5, 1))`` (``pydensecrf.utils.unary_from_softmax`` applied
    to the probabilities ``[1 - h, h]`` exactly as the authors do: no extra softmax). Pairwise: one
    bilateral (appearance) kernel ``compat * exp(-|p_i - p_j|^2 / (2 sxy^2) - |I_i - I_j|^2 / (2 srgb^2))``;
    ``iterations`` mean-field steps; returns ``Q[1]``.

    ``scale < 1`` is a speed switch (not in the paper): the image (bilinear) and the heatmap are
    shrunk by ``scale``, ``sxy`` becomes ``sxy * scale`` (same kernel in original pixels; the
    authors' code has the same ``sxy / scale_factor`` hook) and the marginal is resized back
    bilinearly. ``scale = 1`` is the authors' setting.
    """
    import pydensecrf.densecrf as dcrf

    rgb = np.asarray(rgb_uint8)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"crf_refine: image must be uint8 (H, W, 3), got {rgb.shape} {rgb.dtype}")
    if heat.shape != rgb.shape[:2]:
        raise ValueError(f"crf_refine: heatmap shape {heat.shape} differs from image shape {rgb.shape[:2]}")
    if not 0 < scale <= 1:
        raise ValueError(f"crf_refine: scale must be in (0, 1], got {scale}")
    height, width = heat.shape
    small_h, small_w = max(1, round(height * scale)), max(1, round(width * scale))
    if (small_h, small_w) != (height, width):
        rgb = _resize(rgb, small_h, small_w, Image.BILINEAR)
        heat = _resize(heat, small_h, small_w, Image.BILINEAR)
    probs = np.clip(np.stack([1 - heat, heat]).astype(np.float32), 1e-5, 1.0)
    crf = dcrf.DenseCRF2D(small_w, small_h, 2)
    crf.setUnaryEnergy(np.ascontiguousarray(-np.log(probs).reshape(2, -1)))
    crf.addPairwiseBilateral(sxy=sxy * scale, srgb=srgb, rgbim=np.array(rgb, order="C"), compat=compat)
    marginal = np.asarray(crf.inference(iterations), dtype=np.float32)[1].reshape(small_h, small_w)
    if (small_h, small_w) != (height, width):
        marginal = np.clip(_resize(marginal, height, width, Image.BILINEAR), 0.0, 1.0)
    return marginal.astype(np.float32)
