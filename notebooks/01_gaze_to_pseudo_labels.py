# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · From fixations to pseudo-labels
#
# An eye tracker records where a clinician looked while reading an image: a sequence of
# **fixations**, each with a position, a duration and a start time. None of the three papers
# in this companion trains on fixations directly. Each first turns them into dense maps:
#
# | map | paper | what it keeps of the gaze |
# |---|---|---|
# | visual attention map (VAM) | GazeMedSeg, GradTrack (baseline) | where, and for how long |
# | VAM refined by a dense CRF | GazeMedSeg, GradTrack | where, snapped to image edges |
# | hierarchical pseudo-masks | GazeMedSeg | several levels of "how sure" |
# | conservative 0.7 mask | GradTrack | only the most certain part |
# | gaze **track** maps | GradTrack | where, **and in which order** |
# | SAN gaze target | Selective attention | where, at the SAN's coarse resolution |
#
# This lesson builds each one from the real GazeMedSeg gaze on Kvasir-SEG, shows them side by
# side, and ends by scoring every map against the ground-truth masks: how good a label is
# gaze, before any network is trained?

# %% tags=["parameters"]
profile = "laptop"     # smoke (CI, seconds) | quick (live demo, minutes) | laptop (near the papers, CPU; records committed) | paper (GPU)
dataset = "kvasir"     # kvasir | nci_isbi (needs the prepared TCIA images for the image-based maps)
seeds = [0]            # unused here: no training in this lesson
device = "auto"        # unused here
train = True           # unused here
n_examples = 3         # cases drawn in the figures

# %% tags=["exercise"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gazelib.core.config import check_profile
from gazelib.data.datasets import load_dataset
from gazelib.gaze.crf import crf_refine, to_rgb_uint8
from gazelib.gaze.heatmap import soft_vam, vam
from gazelib.papers.gazemedseg.pseudo_masks import levels_for, pseudo_masks
from gazelib.papers.gradtrack.paper import UNDER_ACTIVATION
from gazelib.papers.selective_attention.gaze_target import san_target
from gazelib.papers.gradtrack.track_maps import track_map
from gazelib.gaze.cache import default_params
from gazelib.papers.gaze_quality import committed, quality, quality_summary, write_quality
from gazelib.core.paths import results_root
from gazelib.report.plots import dice_per_threshold, draw_scanpath, save_figure, show_image, show_map, show_mask

check_profile(profile)
# Images the quality table of section 7 scores where it is computed here: the committed record of all
# of them is read instead (under every profile but smoke, the CI's check of the computation).
quality_sample = 8 if profile == "smoke" else 50
ds = load_dataset(dataset)
params = {kind: default_params(dataset, kind) for kind in ("vam", "crf", "track", "san")}
print(f"{ds.name}: {len(ds.ids)} images")
params

# %% [markdown]
# ## 1. The raw material: scanpaths
#
# Each fixation file row is one fixation: `CURRENT_FIX_X`, `CURRENT_FIX_Y` normalised to
# [0, 1] (origin top-left), `CURRENT_FIX_DURATION` in ms and `CURRENT_FIX_START` in ms from
# the start of the trial. The reader validates every row (see `gazelib.data.fixations`): a
# broken file stops with the file, row and column named, instead of silently losing data.
#
# Below, each disc is a fixation; its area grows with the duration, its colour goes from dark
# (early) to bright (late), and the line follows the order of the fixations.

# %% tags=["exercise"]
rng = np.random.default_rng(0)
examples = sorted(rng.choice(ds.split()["test"], size=n_examples, replace=False).tolist())
counts = pd.Series({i: len(ds.scanpath(i).x) for i in ds.ids})
print(f"fixations per image: median {counts.median():.0f}, min {counts.min()}, max {counts.max()}")

# %%
fig, axes = plt.subplots(2, n_examples, figsize=(4 * n_examples, 7))
for col, image_id in enumerate(examples):
    image = ds.image(image_id)
    draw_scanpath(axes[0, col], image, ds.scanpath(image_id), title=f"{image_id[:10]}… scanpath")
    show_mask(axes[1, col], image, ds.mask(image_id), title="ground truth")
save_figure(fig, f"01_scanpaths_{dataset}")
plt.show()

# %% [markdown]
# ## 2. The visual attention map (VAM)
#
# GazeMedSeg places every fixation $i$ on a $768 \times 768$ canvas, weighted by its duration
# $d_i$, blurs with an isotropic Gaussian $g_\sigma$ and min-max normalises:
#
# $$H = \operatorname{norm}\Big(g_\sigma * \sum_i d_i\, \delta_{(\operatorname{round}(768 y_i) - 1,\ \operatorname{round}(768 x_i) - 1)}\Big),
# \qquad \sigma = 70 \text{ (Kvasir)},\ 50 \text{ (NCI-ISBI)},$$
#
# then resizes $H$ (cubic) to the image size. GradTrack's VAM baseline uses the map as a *soft*
# label, with values below 0.5 set to background (`soft_vam`).
#
# Here is the equation as code, step by step on the full canvas. (`cubic_resize` is OpenCV's
# `INTER_CUBIC`, written out in `gazelib.gaze.heatmap` so that OpenCV is not needed.)

# %% tags=["solution"]
from scipy.ndimage import gaussian_filter

from gazelib.gaze.heatmap import cubic_resize


def readable_vam(scanpath, height, width, sigma, canvas=768):
    ### BEGIN SOLUTION
    ### HINT: add each duration d_i at row round(canvas * y_i) - 1, column round(canvas * x_i) - 1 of a
    ### HINT: canvas x canvas array of zeros; blur with scipy's gaussian_filter(., sigma); min-max normalise;
    ### HINT: cubic_resize(., height, width) and clip to [0, 1].
    impulses = np.zeros((canvas, canvas))
    for x, y, d in zip(scanpath.x, scanpath.y, scanpath.duration):
        # the authors' indexing: round half to even, minus 1 (index -1 wraps to the last row, as in numpy)
        impulses[round(y * canvas) - 1, round(x * canvas) - 1] += d
    blurred = gaussian_filter(impulses, sigma)                                # g_sigma * sum_i d_i delta_i
    normalised = (blurred - blurred.min()) / (blurred.max() - blurred.min())  # norm(.)
    return np.clip(cubic_resize(normalised, height, width), 0, 1)             # resize; cubic may overshoot [0, 1]
    ### END SOLUTION


# %% [markdown]
# The library's `vam` computes the same map without ever building the $768 \times 768$ canvas
# (the blur is separable and linear, so it filters one row and one column per fixation). Both
# must agree on a real scanpath:

# %% tags=["check"]
case = examples[0]
h, w = ds.image(case).shape[:2]
library = vam(ds.scanpath(case), h, w, sigma=params["vam"]["sigma"])
# Both compute in float64 (they differ by ~1e-15); the library returns float32, and rounding to float32
# moves a value in [0, 1] by at most 2**-25 (measured 3e-8). Tolerance: float32's eps, 2**-23.
np.testing.assert_allclose(readable_vam(ds.scanpath(case), h, w, params["vam"]["sigma"]), library,
                           atol=np.finfo(np.float32).eps, rtol=0)
print(f"readable_vam == gazelib.gaze.heatmap.vam on {case} ({h}x{w})")

# %% tags=["exercise"]
maps = {}
for image_id in examples:
    sp, image = ds.scanpath(image_id), ds.image(image_id)
    h, w = image.shape[:2]
    heat = vam(sp, h, w, sigma=params["vam"]["sigma"])
    c = params["crf"]
    crf = crf_refine(to_rgb_uint8(image), heat, c["sxy"], c["srgb"], c["compat"], c["iterations"], c["scale"])
    maps[image_id] = {"heat": heat, "soft": soft_vam(heat), "crf": crf}

# %%
fig, axes = plt.subplots(2, n_examples, figsize=(4 * n_examples, 7))
for col, image_id in enumerate(examples):
    image = ds.image(image_id)
    show_map(axes[0, col], image, maps[image_id]["heat"], "VAM $H$")
    show_map(axes[1, col], image, maps[image_id]["soft"], "soft VAM (GradTrack baseline)")
save_figure(fig, f"01_vam_{dataset}")
plt.show()

# %% [markdown]
# ## 3. Dense CRF refinement
#
# A Gaussian blob knows nothing about the image. A fully connected CRF (Krähenbühl & Koltun,
# 2011) moves the map towards image edges: with labels $x_p \in \{\text{bg}, \text{fg}\}$ it
# minimises
#
# $$E(x) = \sum_p \psi_u(x_p) + \sum_{p<q} \mu(x_p, x_q)\, w \exp\!\Big(-\frac{\|p-q\|^2}{2\theta_\alpha^2} - \frac{\|I_p-I_q\|^2}{2\theta_\beta^2}\Big),$$
#
# with the unary $\psi_u$ from the softmax of $[1-H, H]$, one bilateral kernel
# ($\theta_\alpha$ = `sxy` = 80, $\theta_\beta$ = `srgb` = 13, $w$ = `compat` = 1) and 10
# mean-field iterations; we keep the foreground marginal. Grey MR slices are min-max scaled
# to 0..255 and repeated to RGB first (`to_rgb_uint8`).
#
# Speed: the authors' CRF costs ~0.4 s per Kvasir image here. Run on the half-size image
# (`scale = 0.5`, with `sxy` scaled alike) it is 4x faster, and over all 1000 Kvasir images no
# mean score of any threshold moves by more than 0.0014 Dice
# (`results/quality/compare_kvasir_crf-scale1_vs_kvasir.md`), so the cache uses it;
# `scale = 1.0` is the exact setting.

# %%
fig, axes = plt.subplots(2, n_examples, figsize=(4 * n_examples, 7))
for col, image_id in enumerate(examples):
    image = ds.image(image_id)
    show_map(axes[0, col], image, maps[image_id]["heat"], "VAM")
    show_map(axes[1, col], image, maps[image_id]["crf"], "VAM$_{D\\text{-}CRF}$")
save_figure(fig, f"01_crf_{dataset}")
plt.show()

# %% [markdown]
# ## 4. Pseudo-masks: hierarchical thresholds and the conservative mask
#
# GazeMedSeg thresholds the CRF map at several levels $t_1, \dots, t_m$,
# $M_k = \mathbb{1}[\text{CRF} \ge t_k]$: a low threshold over-activates (covers the lesion and
# more), a high one under-activates. One network is trained per level (lesson 03).
# GradTrack instead keeps only $\mathbb{1}[\text{CRF} \ge 0.7]$, a deliberately
# under-activated but reliable mask (lesson 04).
#
# As code, for any list of levels (one boolean map per level):

# %% tags=["solution"]
def readable_pseudo_masks(crf, levels):
    ### BEGIN SOLUTION
    ### HINT: M_k = 1[CRF >= t_k]: compare the map with each level (>=, not >: a pixel at exactly t_k is in)
    ### HINT: and stack the boolean maps, levels first: shape (len(levels), H, W).
    return np.stack([crf >= t for t in levels])
    ### END SOLUTION


# %% [markdown]
# Checked against the library's `pseudo_masks` on a real CRF map, for GazeMedSeg's five levels and
# GradTrack's 0.7:

# %% tags=["check"]
# Thresholds of the same float32 map: exact, so the tolerance is zero (as 0/1 integers).
levels = levels_for(dataset, 5)
for chosen in (levels, [UNDER_ACTIVATION]):
    np.testing.assert_allclose(readable_pseudo_masks(maps[case]["crf"], chosen).astype(np.uint8),
                               pseudo_masks(maps[case]["crf"], chosen).astype(np.uint8), atol=0, rtol=0)
print(f"readable_pseudo_masks == gazelib.papers.gazemedseg.pseudo_masks.pseudo_masks on {case}")

# %%
fig, axes = plt.subplots(n_examples, len(levels) + 2, figsize=(2.6 * (len(levels) + 2), 2.6 * n_examples))
for row, image_id in enumerate(examples):
    image, crf = ds.image(image_id), maps[image_id]["crf"]
    show_mask(axes[row, 0], image, ds.mask(image_id), "ground truth")
    for col, (t, mask) in enumerate(zip(levels, pseudo_masks(crf, levels)), start=1):
        show_mask(axes[row, col], image, mask, f"CRF ≥ {t:.3g}", color=(1.0, 0.8, 0.1))
    show_mask(axes[row, -1], image, crf >= UNDER_ACTIVATION, f"CRF ≥ {UNDER_ACTIVATION}", color=(1.0, 0.3, 0.2))
save_figure(fig, f"01_levels_{dataset}")
plt.show()

# %% [markdown]
# ## 5. Gaze track maps (GradTrack, eqs. 1–2)
#
# GradTrack also uses the **order** of the fixations. The track $T$ is the fixation sequence
# in start-time order; *reverse truncation* keeps its last $r$ = 50 %, 75 % or 100 %
# (the end of a reading is the most decided part). For every pixel $p$,
#
# $$D^r(p) = \min_{t \in T^r} \lVert p - t \rVert_2 \qquad (1)$$
#
# $$G^r = e^{-D^r/\beta} \cdot \mathbb{I}(e^{-D^r/\beta} > \tau) \qquad (2)$$
#
# with $\beta$ = 10 (Kvasir) or 15 (NCI-ISBI) and field-of-view threshold $\tau$ = 0.25.
# Our reading of "track" is the polyline through the fixations of $T^r$ (`track="points"` uses the
# fixations alone), and $\beta$ is measured in pixels of the $224 \times 224$ training image, the
# image the paper works on; both are switches of `gazelib.papers.gradtrack.track_maps.track_map`. $T^r$ keeps
# $\lceil r\,n \rceil$ of the $n$ fixations (the paper gives no rounding rule).
#
# Eqs. 1-2 as code: the distance of every pixel centre to every segment of the track, the
# minimum over segments, then the exponential decay cut at $\tau$.

# %% tags=["solution"]
import math


def readable_track_map(scanpath, height, width, ratio, beta, tau, grid=(224, 224)):
    ### BEGIN SOLUTION
    ### HINT: order the fixations by start time and keep the last ceil(ratio * n) (at least one); put them
    ### HINT: on the grid (y * grid[0], x * grid[1]); for every pixel centre ((i + 0.5) * grid[0] / height, ...)
    ### HINT: take the distance to the nearest segment of the polyline through them (eq. 1: project onto each
    ### HINT: segment, clip to [0, 1]); then G = exp(-D / beta), set to 0 where it is not above tau (eq. 2).
    order = np.argsort(scanpath.start, kind="stable")                 # the reading, in time order
    kept = order[len(order) - max(1, math.ceil(ratio * len(order))):]  # T^r: its last r (reverse truncation)
    track = np.stack([np.asarray(scanpath.y)[kept] * grid[0], np.asarray(scanpath.x)[kept] * grid[1]], axis=1)
    segments = zip(track[:-1], track[1:]) if len(track) > 1 else [(track[0], track[0])]
    py, px = np.meshgrid((np.arange(height) + 0.5) * grid[0] / height,  # pixel centres, in grid pixels
                         (np.arange(width) + 0.5) * grid[1] / width, indexing="ij")
    distance = np.full((height, width), np.inf)
    for a, b in segments:                                             # eq. 1: D = min over the track
        ab = b - a
        t = np.clip(((py - a[0]) * ab[0] + (px - a[1]) * ab[1]) / max(ab @ ab, 1e-12), 0, 1)
        distance = np.minimum(distance, np.hypot(py - a[0] - t * ab[0], px - a[1] - t * ab[1]))
    decay = np.exp(-distance / beta)                                  # eq. 2
    return decay * (decay > tau)
    ### END SOLUTION


# %% tags=["check"]
# The library measures distances in float32: coordinates up to 224 grid pixels are rounded by ~1e-5 px,
# D by ~1e-4 px after a few operations, and G = exp(-D / beta) moves by at most |dD| / beta <= 1e-5
# (beta >= 10; measured 2e-6). The readable code works in float64.
t = params["track"]
h, w = ds.image(case).shape[:2]
for r in t["ratios"]:
    library = track_map(ds.scanpath(case), h, w, r, t["beta"], t["tau"], t["truncation"], t["track"], tuple(t["grid"]))
    np.testing.assert_allclose(readable_track_map(ds.scanpath(case), h, w, r, t["beta"], t["tau"], tuple(t["grid"])),
                               library, atol=1e-5, rtol=0)
print(f"readable_track_map == gazelib.papers.gradtrack.track_maps.track_map on {case}, r = {t['ratios']}")

# %%
from gazelib.papers.gradtrack.figures import track_panels

fig = track_panels(ds, examples, params["track"])
save_figure(fig, f"01_tracks_{dataset}")
plt.show()

# %% [markdown]
# ## 6. The SAN gaze target
#
# The Selective Attention Network predicts the expert's gaze at 1/16 of the input resolution
# and is trained with a binary cross-entropy against a Gaussian-on-fixations map at that
# resolution (`gazelib.papers.selective_attention.gaze_target.san_target`): an isotropic Gaussian on
# every fixation $f_k$, all weighted alike (the paper mentions no durations), divided by its maximum:
#
# $$G^{gt}(p) = \frac{S(p)}{\max_q S(q)}, \qquad S(p) = \sum_k \exp\Big(-\frac{\lVert p - f_k \rVert^2}{2\sigma^2}\Big),$$
#
# evaluated at the pixel centres of the small grid, with $f_k = (y_k H, x_k W)$ and $\sigma$ in that
# grid's pixels.

# %% tags=["solution"]
def readable_san_target(scanpath, height, width, sigma):
    ### BEGIN SOLUTION
    ### HINT: a grid of pixel centres (np.meshgrid of np.arange(height) + 0.5 and np.arange(width) + 0.5);
    ### HINT: add one Gaussian per fixation at (y * height, x * width); divide the sum by its maximum.
    py, px = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    S = sum(np.exp(-((py - y * height) ** 2 + (px - x * width) ** 2) / (2 * sigma**2))
            for x, y in zip(scanpath.x, scanpath.y))
    return S / S.max()
    ### END SOLUTION


# %% tags=["check"]
# The library sums separable Gaussians in float64 and returns float32: rounding moves a value in [0, 1]
# by at most 2**-25 (3e-8). Tolerance: float32's eps, 2**-23.
san = params["san"]
np.testing.assert_allclose(readable_san_target(ds.scanpath(case), san["height"], san["width"], san["sigma"]),
                           san_target(ds.scanpath(case), san["height"], san["width"], san["sigma"]),
                           atol=np.finfo(np.float32).eps, rtol=0)
print(f"readable_san_target == gazelib.papers.selective_attention.gaze_target.san_target on {case}")

# %%
fig, axes = plt.subplots(1, n_examples, figsize=(4 * n_examples, 3.5))
for col, image_id in enumerate(examples):
    image, sp = ds.image(image_id), ds.scanpath(image_id)
    target = san_target(sp, params["san"]["height"], params["san"]["width"], params["san"]["sigma"])
    show_map(axes[col], image, target, "SAN target (14×14, upsampled for display)", label="gaze target")
save_figure(fig, f"01_san_targets_{dataset}")
plt.show()

# %% [markdown]
# ## 7. How good a label is gaze?
#
# Every map is scored against the ground-truth mask of every image, at the image's own
# resolution: Dice, precision and recall of VAM > 0.5, CRF > 0.5, each threshold level and the
# 0.7 mask, and for the track maps the share of the lesion they cover. The per-image table and
# its summary are a record under `results/quality/` (these records are the source of the numbers
# below and of the README).
#
# Scoring all 1,000 Kvasir images needs all their maps: minutes of CRF on a laptop. So the lesson
# reads the committed record when it was made with today's map parameters, and otherwise scores a
# sample here. The full computation is a step of its own, which prints its estimate before it
# starts: `make gaze-cache DATASET=kvasir` (every map, kept for training too), then
# `gazelib gaze quality --dataset kvasir` (the record).

# %%
record = None if profile == "smoke" else committed(results_root() / "quality", ds)
if record is not None:
    per_image, provenance = record
    print(f"read the committed record of all {provenance['n_images']} images: results/quality/{dataset}_per_image.csv "
          f"(git {provenance['git_revision'][:10]}, {provenance['time'][:10]})")
else:
    print(f"no committed record of all {len(ds.ids)} images with today's parameters: scoring the first "
          f"{quality_sample} here (all of them: make gaze-cache DATASET={dataset}, then gazelib gaze quality --dataset {dataset})")
    per_image, provenance = quality(ds, ids=ds.ids[:quality_sample])
    write_quality(per_image, provenance, results_root() / "quality", f"{dataset}_{profile}")
quality_summary(per_image).round(4)

# %% [markdown]
# Dice of each pseudo-mask against the ground truth, per image (box) and on average (dot).
# Lower thresholds gain recall and lose precision: GazeMedSeg's levels sit on both sides of
# the best single threshold, and GradTrack's 0.7 mask trades recall for precision.

# %%
fig = dice_per_threshold(per_image)
save_figure(fig, f"01_quality_dice_per_threshold_{dataset}")
plt.show()

# %%
from gazelib.report.differences import show_differences

show_differences("01")
