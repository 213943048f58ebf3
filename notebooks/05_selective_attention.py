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
# # 05 · Selective attention: gaze as a teacher when masks are scarce
#
# Huang et al. (BMVC 2021) keep the full masks but use **less** of them, and let gaze make up
# for it. A shallow **Selective Attention Network** (SAN) looks at a 4× down-sampled image and
# learns to predict where the expert looked; an **Auxiliary Attention Block** (AAB) uses the
# SAN's features as *queries* into the backbone's deepest features, like an expert searching
# the image with a prior in mind. Gaze is needed for training only.
#
# The paper's data (BraTS 2020 gaze, MIMIC-CXR-gaze) is not public. We reproduce the method in
# 2D on Kvasir-SEG with the GazeMedSeg authors' real gaze, and run the 3D path on synthetic
# volumes to show it works.

# %% tags=["parameters"]
profile = "laptop"     # smoke (CI, seconds) | quick (live demo, minutes) | laptop (near the papers, CPU; records committed) | paper (GPU)
dataset = "kvasir"
seeds = [0, 1, 2]      # quick: [0]
device = "auto"
train = True
results_dir = None     # a results folder to use instead of results/ (an empty one trains afresh)

# %% tags=["exercise"]
from gazelib.core.config import check_profile
from gazelib.core.paths import use_results

check_profile(profile)
print(f"results: {use_results(results_dir)}")

# %% tags=["exercise"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from gazelib.report.differences import show_differences
from gazelib.experiments.grids import run_grid
from gazelib.papers.selective_attention import experiments as san_experiments
from gazelib.core.losses import dice_loss
from gazelib.papers.selective_attention.network import AAB, SAN, SANSegNet, positional_encoding
from gazelib.core.networks import BasicUNet
from gazelib.report.tables import readable, write_table
from gazelib.report.plots import MAP_CMAP, add_colorbar, save_figure, significance_ticks
from gazelib.report.summary import claim_verdicts, show_verdicts, summarize

# %% [markdown]
# ## 1. The Selective Attention Network
#
# Two convolution groups (two $3\times3$ convolutions with GroupNorm and ReLU, then max
# pooling) on the 4× down-sampled image $I^{ds}$; a $1\times1$ convolution turns the second
# group's output $M_2$ into a gaze map $G$ at 1/16 of the input size, trained with a binary
# cross-entropy against the expert's gaze map $G^{gt}$ (lesson 01):
#
# $$\mathcal{L}_{g} = -\frac{1}{P} \sum_{i=1}^{P} \left( G_{i}^{gt} \cdot log(G_{i}) + (1 - G_{i}^{gt}) \cdot log(1 - G_{i}) \right) \qquad (4)$$
#
#
# As code (2D; GroupNorm with at most 8 groups):

# %% tags=["solution"]
import math

import torch.nn.functional as F
from torch import nn


class ReadableSAN(nn.Module):
    def __init__(self, in_channels, widths=(32, 64)):
        super().__init__()
        def group(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.ReLU(),
                                 nn.MaxPool2d(2))
        self.group1, self.group2 = group(in_channels, widths[0]), group(widths[0], widths[1])
        self.to_gaze = nn.Conv2d(widths[1], 1, 1)

    def forward(self, image):
        ### BEGIN SOLUTION
        ### HINT: down-sample 4x (F.avg_pool2d(image, 4)), run both groups (each halves the size: 1/16 in all),
        ### HINT: and return M2 with the gaze logits self.to_gaze(M2).
        I_ds = F.avg_pool2d(image, 4)                  # the 4x down-sampled image
        M2 = self.group2(self.group1(I_ds))            # 1/16 of the input size
        return M2, self.to_gaze(M2)                    # G as logits; L_g applies the sigmoid
        ### END SOLUTION


def readable_gaze_loss(G_logits, G_gt):
    ### BEGIN SOLUTION
    ### HINT: eq. 4 with G = sigmoid(G_logits): -(G_gt log G + (1 - G_gt) log(1 - G)), the mean over the pixels.
    G = torch.sigmoid(G_logits)
    return -(G_gt * torch.log(G) + (1 - G_gt) * torch.log(1 - G)).mean()
    ### END SOLUTION


# %% [markdown]
# Checked against the library's `SAN` (same weights) and its loss on a real image and its gaze
# target (lesson 01), at the 224×224 training size:

# %% tags=["exercise"]
from gazelib.data.datasets import load_dataset
from gazelib.papers.selective_attention.gaze_target import san_target
from gazelib.gaze.cache import default_params

ds = load_dataset(dataset)
case = ds.split()["test"][0]
image = torch.from_numpy(np.atleast_3d(ds.image(case)).astype(np.float32) / 255).permute(2, 0, 1)[None]
image = F.interpolate(image, size=(224, 224), mode="area")
target = default_params(dataset, "san")  # the 14x14 SAN size of a 224x224 input
G_gt = torch.from_numpy(san_target(ds.scanpath(case), target["height"], target["width"], target["sigma"]))[None, None].float()
torch.manual_seed(0)
library_san, readable_san = SAN(image.shape[1]), ReadableSAN(image.shape[1])
with torch.no_grad():
    for ours, theirs in zip(readable_san.parameters(), library_san.parameters(), strict=True):
        ours.copy_(theirs)
M2_lib, G_logits_lib = library_san(image)

# %% tags=["check"]
# The same float32 operations in the same order: assert_close's float32 tolerance is headroom.
M2, G_logits = readable_san(image)
torch.testing.assert_close(M2, M2_lib)
torch.testing.assert_close(G_logits, G_logits_lib)
print(f"ReadableSAN == SAN on {case}: M2 {tuple(M2.shape)}")

# %% tags=["check"]
torch.testing.assert_close(readable_gaze_loss(G_logits_lib, G_gt), F.binary_cross_entropy_with_logits(G_logits_lib, G_gt))
print(f"readable_gaze_loss == binary cross-entropy on the SAN's gaze logits for {case}")

# %% [markdown]
# ## 2. The Auxiliary Attention Block
#
# The deepest encoder feature $E_4$ is max-pooled to the SAN size, concatenated with a fixed
# positional encoding $P_{i,j} = \big(\tfrac{2i - W + 1}{W - 1}, \tfrac{2j - H + 1}{H - 1}\big)$
# (three coordinates in 3D), and projected to keys $K$ and values $V$; $M_2$ is projected to
# the queries $Q$ ($c_h = 64$). Multi-head attention
#
# $$Att(Q, K, V) = Softmax(\frac{QK^{T}}{\sqrt{c_{h}}})V, \qquad MultiHead(Q, K, V) = Concat(Att_1, Att_2, \cdots, Att_k)W^O,$$
#
# a norm and a two-layer feed-forward network give a refined feature, upsampled and added back to
# $E_4$. The loss is
# $\mathcal L = 1 \cdot \mathcal L_{seg}^{Dice} + 0.5 \cdot \mathcal L_g$.
#
#
# The block as code, in 2D (3D adds one axis to the pooling, the positional encoding and the
# tokens), one attention head at a time:

# %% tags=["solution"]
class ReadableAAB(nn.Module):
    def __init__(self, enc_channels, san_channels, hidden=64, heads=4):
        super().__init__()
        self.hidden, self.heads = hidden, heads
        self.q = nn.Linear(san_channels, heads * hidden)                # W^Q of every head
        self.kv = nn.Linear(enc_channels + 2, 2 * heads * hidden)       # W^K and W^V of every head
        self.out = nn.Linear(heads * hidden, hidden)                    # W^O
        self.norm1 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, enc_channels))
        self.norm2 = nn.LayerNorm(enc_channels)

    def forward(self, E4, M2):
        H, W = M2.shape[2:]
        E4ds = F.adaptive_max_pool2d(E4, (H, W))
        i, j = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        P = torch.stack([(2 * i - H + 1) / (H - 1), (2 * j - W + 1) / (W - 1)]).to(E4)   # (2, H, W)
        kv_in = torch.cat([E4ds, P.expand(len(E4), -1, -1, -1)], dim=1)
        tokens_q, tokens_kv = M2.flatten(2).transpose(1, 2), kv_in.flatten(2).transpose(1, 2)  # (B, HW, C)
        Q, (K, V) = self.q(tokens_q), self.kv(tokens_kv).chunk(2, dim=-1)
        heads = []
        ### BEGIN SOLUTION
        ### HINT: head k uses the k-th block of self.hidden columns of Q, K and V (a slice of the last axis);
        ### HINT: Att_k = softmax(Q_k K_k^T / sqrt(c_h)) V_k with the softmax over the keys (the last axis);
        ### HINT: append each Att_k to heads.
        for k in range(self.heads):
            part = slice(k * self.hidden, (k + 1) * self.hidden)
            scores = Q[..., part] @ K[..., part].transpose(1, 2) / math.sqrt(self.hidden)
            heads.append(scores.softmax(dim=-1) @ V[..., part])        # softmax(Q K^T / sqrt(c_h)) V
        ### END SOLUTION
        M = self.norm2(self.ffn(self.norm1(self.out(torch.cat(heads, dim=-1)))))
        M = M.transpose(1, 2).reshape(len(E4), -1, H, W)
        return E4 + F.interpolate(M, size=E4.shape[2:], mode="nearest")


# %% [markdown]
# Checked against the library's `AAB` (same weights) with the SAN features $M_2$ of the real
# image above as queries; the image's colours, pooled to 28×28, stand in for $E_4$:

# %% tags=["check"]
# The same float32 operations, the heads one by one here and batched in the library: within assert_close's
# float32 tolerance.
E4 = F.adaptive_avg_pool2d(image, 28)
torch.manual_seed(0)
library_aab = AAB(E4.shape[1], M2_lib.shape[1], hidden=16, heads=4)
readable_aab = ReadableAAB(E4.shape[1], M2_lib.shape[1], hidden=16, heads=4)
readable_aab.load_state_dict(library_aab.state_dict())
torch.testing.assert_close(readable_aab(E4, M2_lib), library_aab(E4, M2_lib))
torch.testing.assert_close(positional_encoding((7, 7)), torch.stack(torch.meshgrid(torch.linspace(-1, 1, 7), torch.linspace(-1, 1, 7), indexing="ij")))
print(f"ReadableAAB == gazelib.papers.selective_attention.network.AAB on {case}")

# %% [markdown]
# The training loss $\mathcal L = \mathcal L_{seg}^{Dice} + 0.5\,\mathcal L_g$: the segmentation Dice loss
# (the library's `dice_loss`, with squared terms in the denominator as the authors' code) and eq. 4 against
# the expert's gaze map, area-pooled to the SAN's $1/16$ size if it is not there already:

# %% tags=["solution"]
def readable_san_loss(logits, G_logits, mask, G_gt, weight=0.5):
    ### BEGIN SOLUTION
    ### HINT: dice_loss(logits, mask, squared=True) + weight * readable_gaze_loss(G_logits, G_small), where
    ### HINT: G_small = F.adaptive_avg_pool2d(G_gt.float(), G_logits.shape[-2:]) (a no-op at the same size).
    G_small = F.adaptive_avg_pool2d(G_gt.float(), G_logits.shape[-2:])
    return dice_loss(logits, mask, squared=True) + weight * readable_gaze_loss(G_logits, G_small)
    ### END SOLUTION


# %% tags=["check"]
# Random logits (seeded) for the segmentation and the SAN's gaze map, a real training batch (masks and gaze
# targets); the trainer's loss of the method, the same float32 terms.
from gazelib.core.config import make_config, preset_for
from gazelib.core.methods import get_method
from gazelib.report.lesson_figures import training_batch

cfg = make_config("san", dataset=dataset, preset=preset_for(profile, dataset))
batch = training_batch("san", dataset, profile, n=3)
torch.manual_seed(0)
n, size = batch["mask"].shape[0], batch["mask"].shape[-1]
logits, G_logits = torch.randn(n, 1, size, size), torch.randn(n, 1, size // 16, size // 16)
library, _ = get_method("san").loss({"logits": logits, "gaze": G_logits}, batch, cfg)
torch.testing.assert_close(readable_san_loss(logits, G_logits, batch["mask"], batch["gaze"], cfg.gaze_weight), library)
print(f"readable_san_loss == the san method's loss (gaze weight {cfg.gaze_weight})")

# %% [markdown]
# ## 3. Table 1 layout: data ratio × variant
#
# * **Backbone** — the U-Net alone;
# * **+gaze head** (the paper's +gaze\*) — an extra gaze head whose prediction is used as a soft attention map;
# * **+SAN concat** (the paper's +SAN\*) — SAN features concatenated to the backbone instead of the AAB;
# * **ours-gaze** — SAN + AAB with the SAN trained on the masks instead of gaze;
# * **ours** — SAN + AAB trained with gaze.
#
# The ratio is the fraction of the training split used (a seeded subset; the test split is
# always the full one).
#
# Under the `quick` profile (200 training images, 150 iterations) the table has two columns:
# every variant at ratio 0.2, where the paper finds gaze helps most, and the backbone against
# `ours` at 0.7 (`selective_attention/experiments.py`, `TRIMMED_CELLS`); `paper` fills all twenty cells.
# `laptop` fills the same cells from all 900 training images, three seeds, each run
# `experiments.GRID_ITERATIONS` (250) iterations long, so that the 21 runs fit the 15-minute budget on 2 cores
# (measured: `results/reproduce/README.md`).

# %% [markdown]
# Each cell (variant, ratio) is one row of the table below: Dice in percent, mean ± std over
# seeds, the 95 % bootstrap interval over test images, and the paired Wilcoxon p-value against the
# backbone at the same ratio (`compared with`); the pivot after it shows the means in the paper's layout.

# %%
runs = run_grid(san_experiments.table(profile), profile, dataset, seeds, device, train=train)
runs["ratio"] = runs.train_fraction
runs["cell"] = [san_experiments.cell(label, ratio) for label, ratio in zip(runs.label, runs.ratio)]
ratios = sorted(runs.ratio.unique())
cells = summarize(runs, compare=san_experiments.comparisons(ratios), group="cell")
cell_of = runs.drop_duplicates("cell").set_index("cell")
cells.insert(1, "label", cells.cell.map(cell_of.label))
cells.insert(2, "ratio", cells.cell.map(cell_of.ratio))
cells = cells.sort_values(["ratio", "label"], key=lambda c: c.map(list(san_experiments.VARIANTS).index) if c.name == "label" else c)
write_table(cells.drop(columns="cell"), f"05_selective_attention_{dataset}_{profile}")
display(readable(cells.drop(columns="cell")))
table = cells.pivot_table(index="label", columns="ratio", values="dice_mean").reindex(list(san_experiments.VARIANTS))
table.round(1)

# %%
# One panel per data ratio; the y axis spans whole tens around the 95 % intervals, so that a difference
# is seen against the uncertainty of each mean, not magnified by a tight axis.
widths = [max(3, (cells.ratio == ratio).sum()) for ratio in ratios]
fig, axes = plt.subplots(1, len(ratios), figsize=(1.3 * sum(widths), 4.4), sharey=True, squeeze=False,
                         gridspec_kw={"width_ratios": widths}, layout="constrained")
for ax, ratio in zip(axes[0], ratios):
    at = cells[cells.ratio == ratio].reset_index(drop=True)
    ax.errorbar(at.index, at.dice_mean, yerr=[at.dice_mean - at.dice_ci_low, at.dice_ci_high - at.dice_mean],
                fmt="o", capsize=4)
    significance_ticks(ax, at, positions=dict(zip(at.cell, at.index)), texts=dict(zip(at.cell, at.label)),
                       group="cell", axis=f"ratio {ratio:g} of the training split",
                       spread="point: mean over seeds; bar: 95 % bootstrap CI over test images")
    ax.set_xlim(-0.6, len(at) - 0.4)
axes[0, 0].set_ylim(10 * np.floor(cells.dice_ci_low.min() / 10), 10 * np.ceil(cells.dice_ci_high.max() / 10))
axes[0, 0].set_ylabel("Dice (%)")
fig.suptitle(f"Selective attention on {dataset} ({profile})", fontsize=10)
save_figure(fig, f"05_selective_attention_{dataset}_{profile}")
plt.show()

# %% [markdown]
# What the variants train on (the image, its mask and the expert's gaze target at the SAN's size),
# their training losses, and their predictions next to the ground truth, at the smallest ratio.

# %%
from gazelib.report.lesson_figures import loss_curves, predictions_vs_truth, show_batch, training_batch

fig = show_batch(training_batch("san", dataset, profile, n=3))
save_figure(fig, f"05_selective_attention_batch_{dataset}")
plt.show()

# %%
smallest = runs[runs.ratio == runs.ratio.min()]
ax = loss_curves(smallest)
ax.set_title(f"training loss at ratio {smallest.ratio.iloc[0]:g} ({dataset}, {profile})")
save_figure(ax.figure, f"05_selective_attention_loss_{dataset}_{profile}")
plt.show()

# %%
fig = predictions_vs_truth(smallest, ds)
save_figure(fig, f"05_selective_attention_predictions_{dataset}_{profile}")
plt.show()

# %% [markdown]
# ### What the measurements say about the paper's claims
#
# The paper finds `ours` above the backbone and above every other variant at every data ratio.
# Generated from the run records above (paired Wilcoxon test on the per-image Dice, averaged over
# seeds; `supported` needs p < 0.05 in the paper's direction):

# %%
show_verdicts(claim_verdicts(runs, san_experiments.claims(ratios), group="cell"))

# %% [markdown]
# ## 4. What the SAN learned to look at (the paper's Fig. 3 idea)
#
# The SAN of the `ours` run at the largest ratio, on a few test images, next to the expert's
# gaze map it was trained to imitate.

# %%
from gazelib.data.datasets import load_dataset
from gazelib.core.targets import build_tensors
from gazelib.core.evaluate import load_checkpoint
from gazelib.runs.identity import checkpoint_path

ds = load_dataset(dataset)
ours = runs[runs.label == "ours"].sort_values(["ratio", "seed"]).iloc[-1]
checkpoint = checkpoint_path(ours.run_id)
if not checkpoint.exists():
    print(f"{checkpoint} is not on this machine (weights are not committed): train the run to draw this figure")
else:
    model, method, cfg = load_checkpoint(checkpoint, device="cpu")
    ids = ds.split()["test"][:3]
    tensors = build_tensors(ds, ids, cfg, ("image", "gaze"))
    model.eval()
    with torch.no_grad():
        estimate = torch.sigmoid(model(tensors["image"])["gaze"]).float()
    fig, axes = plt.subplots(len(ids), 3, figsize=(9, 3 * len(ids)), squeeze=False)
    for row, image_id in enumerate(ids):
        axes[row, 0].imshow(ds.image(image_id))
        axes[row, 0].set_title("image", fontsize=9)
        shown = axes[row, 1].imshow(tensors["gaze"][row, 0], cmap=MAP_CMAP, vmin=0, vmax=1)
        add_colorbar(axes[row, 1], shown, "gaze target")
        axes[row, 1].set_title("expert gaze target", fontsize=9)
        shown = axes[row, 2].imshow(estimate[row, 0], cmap=MAP_CMAP, vmin=0, vmax=1)
        add_colorbar(axes[row, 2], shown, "estimated gaze")
        axes[row, 2].set_title(f"SAN estimate ({estimate.shape[-1]}×{estimate.shape[-2]})", fontsize=9)
    for ax in axes.flat:
        ax.set_axis_off()
    save_figure(fig, f"05_san_estimate_{dataset}_{profile}")
    plt.show()

# %% [markdown]
# ## 5. The 3D path
#
# The paper's own setting is 3D (BraTS). The same SAN and AAB run in 3D: below, a short
# optimisation on synthetic volumes (a bright ball in noise, gaze = a blob near the ball)
# checks that shapes, gradients and the loss behave; it is a check of the code path, not an
# experiment.

# %%
from gazelib.core.config import make_config

cfg3d = make_config("san", preset="smoke", overrides=["san_variant=ours"])
backbone3d = BasicUNet(in_channels=1, out_channels=1, features=cfg3d.features, dims=3)
net3d = SANSegNet(backbone3d, 1, "ours", cfg3d.aab_hidden, cfg3d.aab_heads, dims=3)
gen = torch.Generator().manual_seed(0)
size = 32
zz, yy, xx = torch.meshgrid(*(torch.arange(size),) * 3, indexing="ij")
centres = torch.randint(10, size - 10, (4, 3), generator=gen)
masks = torch.stack([((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < 36).float() for c in centres])[:, None]
volumes = masks + 0.3 * torch.randn(masks.shape, generator=gen)
optimizer = torch.optim.Adam(net3d.parameters(), lr=1e-3)
losses = []
for step in range(20):
    out = net3d(volumes)
    gaze = torch.nn.functional.adaptive_avg_pool3d(masks, out["gaze"].shape[2:])
    loss = dice_loss(out["logits"], masks) + 0.5 * torch.nn.functional.binary_cross_entropy_with_logits(out["gaze"], gaze)
    optimizer.zero_grad(); loss.backward(); optimizer.step()
    losses.append(loss.item())
print(f"3D SAN + AAB: output {tuple(out['logits'].shape)}, gaze {tuple(out['gaze'].shape)}; "
      f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")

# %%
show_differences("05")
