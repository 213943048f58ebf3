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
# # 04 · GradTrack: the order of the fixations as a gradual teacher
#
# Wang et al. (2025) keep a deliberately *under-activated* mask of the gaze,
# $\mathbb 1[\text{VAM}_{D\text{-}CRF} \ge 0.7]$, and add what GazeMedSeg throws away: the
# **order** of the fixations. Lesson 01 built the gaze track maps $G^{50\%}, G^{75\%}, G^{100\%}$
# (eqs. 1–2). Here they supervise **Track Attention** (TA) modules inside the decoder, whose
# predictions are added back into the features: the decoder is told, stage by stage, where the
# reader's eyes went — the most decided, last part of the reading first.

# %% tags=["parameters"]
profile = "laptop"     # smoke (CI, seconds) | quick (live demo, minutes) | laptop (near the papers, CPU; records committed) | paper (GPU)
dataset = "kvasir"     # kvasir | nci_isbi
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
import pandas as pd
import seaborn as sns
import torch

from gazelib.report.differences import show_differences
from gazelib.experiments.grids import against_default, run_grids
from gazelib.papers.table1 import paper_dice
from gazelib.papers.gradtrack import experiments as gradtrack_experiments
from gazelib.papers.gradtrack.loss import gtmg_loss
from gazelib.papers.gradtrack.track_attention import TrackAttention
from gazelib.report.tables import readable, write_table
from gazelib.report.plots import bar_with_reference, save_figure, significance_ticks
from gazelib.report.summary import claim_verdicts, show_verdicts, summarize

# %% [markdown]
# ## 1. Track attention and its loss
#
# A TA module turns the decoder feature $F^h$ into a two-channel prediction $P^h$ and is
# supervised by the (bilinearly resized) track map $G^r_{re}$ with a weighted cross-entropy:
#
# $$\mathcal{L}_{GTMG}^{r,h} = -\left[(1 + G_{re}^r) \cdot \mathbb{I}(G_{re}^r > 0) \cdot \log(P_{fg}^h) + \mathbb{I}(G_{re}^r = 0) \cdot \log(P_{bg}^h)\right] \qquad (3)$$
#
# Pixels on the track count more the closer they are to it; pixels outside the field of view
# are background. The foreground prediction is broadcast to the feature channels and added,
# **without** letting the segmentation loss reach the TA branch through this path
# ($\oplus$ is element-wise adding, $|\cdot|$ the stop-gradient):
#
# $$\hat{F}^h = F^h \oplus |P_{fg}^h| \qquad (4)$$
#
# Eq. 3 as code, averaged over the pixels. $P^h$ is the softmax of the TA module's two logits;
# the track map is resized (bilinear) to the TA module's resolution:

# %% tags=["solution"]
import torch.nn.functional as F
from torch import nn


def readable_gtmg_loss(logits, G):
    ### BEGIN SOLUTION
    ### HINT: resize G to the logits' size (F.interpolate, bilinear, align_corners=False); log P = log_softmax over
    ### HINT: the two channels [bg, fg]; on the track (G_re > 0) the term is (1 + G_re) log P_fg, off it log P_bg;
    ### HINT: minus the mean over the pixels.
    G_re = F.interpolate(G, size=logits.shape[-2:], mode="bilinear", align_corners=False)
    log_P = logits.log_softmax(dim=1)                  # log P^h, channels [bg, fg]
    on_track = (G_re > 0).float()                      # 1(G_re > 0); 1 - on_track = 1(G_re = 0)
    loss = -((1 + G_re) * on_track * log_P[:, 1:2] + (1 - on_track) * log_P[:, 0:1])
    return loss.mean()
    ### END SOLUTION


# %% [markdown]
# The TA block (Fig. 2(b)): two $3\times3$ convolution blocks (instance norm, leaky ReLU), a
# $1\times1$ convolution to the two logits of $P^h$, and the fusion of eq. 4, where `detach()` is
# the stop-gradient $|\cdot|$ and the addition broadcasts $P^h_{fg}$ over the channels:

# %% tags=["solution"]
class ReadableTrackAttention(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(channels, channels, 3, padding=1), nn.InstanceNorm2d(channels, affine=True)
        self.conv2, self.norm2 = nn.Conv2d(channels, channels, 3, padding=1), nn.InstanceNorm2d(channels, affine=True)
        self.to_track = nn.Conv2d(channels, 2, 1)

    def forward(self, F_h):
        ### BEGIN SOLUTION
        ### HINT: twice conv -> instance norm -> leaky ReLU (slope 0.01); to_track gives the two logits of P^h;
        ### HINT: P_fg is channel 1 of their softmax; F_hat = F_h + P_fg.detach() (eq. 4); return (F_hat, logits).
        x = F.leaky_relu(self.norm1(self.conv1(F_h)), 0.01)
        x = F.leaky_relu(self.norm2(self.conv2(x)), 0.01)
        P_logits = self.to_track(x)                          # P^h, as logits [bg, fg]
        P_fg = P_logits.softmax(dim=1)[:, 1:2]
        F_hat = F_h + P_fg.detach()                          # eq. 4
        return F_hat, P_logits
        ### END SOLUTION


# %% [markdown]
# What GradTrack trains on: each image with the 0.7 mask (for $\mathcal L_{VAM}$) and its three
# reverse-truncated track maps $G^{50\%}, G^{75\%}, G^{100\%}$ (eqs. 1-2, lesson 01), as the
# trainer builds them.

# %% tags=["exercise"]
from gazelib.report.lesson_figures import loss_curves, predictions_vs_truth, show_batch, training_batch

batch = training_batch("gradtrack", dataset, profile, n=3)

# %%
fig = show_batch(batch, {"track": ["$G^{50\\%}$", "$G^{75\\%}$", "$G^{100\\%}$"]})
save_figure(fig, f"04_gradtrack_batch_{dataset}")
plt.show()

# %% [markdown]
# Check both against the library on this batch: a TA module on the (4x pooled) images, with the
# weights of the library's module copied in, and the loss of its prediction against $G^{50\%}$.
# The stop-gradient is checked too: $\hat F^h$ must carry no gradient back into the TA head.

# %% tags=["check"]
# Both run the same float32 operations in the same order and agree to the bit (measured: 0 difference
# for 300 seeds, on 1 and 2 threads); assert_close's float32 tolerance is headroom.
torch.manual_seed(0)   # the TA module's initial weights
features = F.avg_pool2d(batch["image"], 4).requires_grad_()
library_ta, readable_ta = TrackAttention(features.shape[1]), ReadableTrackAttention(features.shape[1])
with torch.no_grad():
    for ours, theirs in zip(readable_ta.parameters(), library_ta.parameters(), strict=True):
        ours.copy_(theirs)
(F_hat, logits), (F_hat_lib, logits_lib) = readable_ta(features), library_ta(features)
torch.testing.assert_close(logits, logits_lib)
torch.testing.assert_close(F_hat, F_hat_lib)
assert torch.autograd.grad(F_hat.sum(), readable_ta.to_track.weight, allow_unused=True)[0] is None
print(f"ReadableTrackAttention == TrackAttention on {len(features)} training images")

# %% tags=["check"]
# The TA logits of the library's module on the batch, against G^50: the same float32 operations in the same
# order (the library's gtmg_loss computes in float32 whatever its input, so float64 is not an option here).
G_50 = batch["track"][:, 0:1]
_, logits_lib = library_ta(features)
torch.testing.assert_close(readable_gtmg_loss(logits_lib, G_50), gtmg_loss(logits_lib, G_50))
print(f"readable_gtmg_loss == gtmg_loss on {len(features)} training images")

# %% [markdown]
# ## 2. The objective
#
# TA modules sit after decoder blocks 2 and 4 and are taught by $G^{50\%}$ and $G^{75\%}$; the
# last block's prediction is taught by $G^{100\%}$ and by the 0.7 mask with Dice + CE
# ($\mathcal L_{VAM}$):
#
# $$\mathcal L = \mathcal L^{100\%,6}_{GTMG} + \lambda_1 \mathcal L^{50\%,2}_{GTMG} + \lambda_1 \mathcal L^{75\%,4}_{GTMG} + \lambda_2 \mathcal L_{VAM}, \qquad \lambda_1 = \lambda_2 = 0.5 \qquad (5)$$
#
# $\mathcal L_{VAM}$ is lesson 02's Dice + cross-entropy on the foreground logit $z_{fg} - z_{bg}$ of the
# final two-channel prediction. As code, with the track maps as channels $[G^{50\%}, G^{75\%}, G^{100\%}]$:

# %% tags=["solution"]
from gazelib.core.losses import dice_ce_loss


def readable_gradtrack_loss(final, ta, mask, G, lambda1=0.5, lambda2=0.5):
    ### BEGIN SOLUTION
    ### HINT: readable_gtmg_loss(final, G^100) + lambda1 * (readable_gtmg_loss(ta[0], G^50) + readable_gtmg_loss(ta[1], G^75))
    ### HINT: + lambda2 * dice_ce_loss(z_fg - z_bg, mask), where z_fg - z_bg = final[:, 1:2] - final[:, 0:1].
    G50, G75, G100 = G[:, 0:1], G[:, 1:2], G[:, 2:3]
    vam = dice_ce_loss(final[:, 1:2] - final[:, 0:1], mask)
    return (readable_gtmg_loss(final, G100) + lambda1 * readable_gtmg_loss(ta[0], G50)
            + lambda1 * readable_gtmg_loss(ta[1], G75) + lambda2 * vam)
    ### END SOLUTION


# %% tags=["check"]
# Random logits (seeded) for the final prediction and the two TA modules (decoder blocks 2 and 4), the
# batch's real 0.7 masks and track maps; the trainer's loss of the method. The same float32 terms added in
# another order: well inside assert_close's float32 tolerance.
from gazelib.core.config import make_config, preset_for
from gazelib.core.methods import get_method

cfg = make_config("gradtrack", dataset=dataset, preset=preset_for(profile, dataset))
torch.manual_seed(0)
n, size = len(batch["track"]), batch["track"].shape[-1]
final, ta = torch.randn(n, 2, size, size), [torch.randn(n, 2, size // 4, size // 4), torch.randn(n, 2, size // 2, size // 2)]
library, _ = get_method("gradtrack").loss({"logits": final, "ta": ta}, batch, cfg)
torch.testing.assert_close(readable_gradtrack_loss(final, ta, batch["conservative_mask"], batch["track"], cfg.lambda1,
                                                   cfg.lambda2), library)
print(f"readable_gradtrack_loss == the gradtrack method's loss (eq. 5, lambda1 = {cfg.lambda1}, lambda2 = {cfg.lambda2})")


# %% [markdown]
# ## 3. Table 2: truncation and where the TA modules go
#
# *w/o* feeds every stage the full track; *sequential* keeps the **first** $r$ of the reading
# instead of the last; the TA modules move to the encoder or to both. Which fixations a stage sees,
# as code: $\lceil r\,n \rceil$ of the $n$ fixations (at least one), the last ones in time (reverse) or
# the first ones (sequential):

# %% tags=["solution"]
import math

import numpy as np


def readable_truncate(start, ratio, truncation="reverse"):
    ### BEGIN SOLUTION
    ### HINT: order = np.argsort(start, kind="stable") puts the fixations in time order; keep
    ### HINT: max(1, ceil(ratio * n)) of them: the end of the order for "reverse", its beginning for "sequential".
    order = np.argsort(start, kind="stable")
    kept = max(1, math.ceil(ratio * len(order)))
    return order[len(order) - kept:] if truncation == "reverse" else order[:kept]
    ### END SOLUTION


# %% tags=["check"]
# Indices: exact (tolerance 0), on the real scanpaths of 20 training images, every ratio, both truncations.
from gazelib.data.datasets import load_dataset
from gazelib.papers.gradtrack.track_maps import truncate

ds = load_dataset(dataset)
for image_id in ds.split()["train"][:20]:
    scanpath = ds.scanpath(image_id)
    for ratio in (0.5, 0.75, 1.0):
        for truncation in ("reverse", "sequential"):
            np.testing.assert_allclose(readable_truncate(scanpath.start, ratio, truncation),
                                       truncate(scanpath, ratio, truncation), atol=0, rtol=0)
print("readable_truncate == gazelib.papers.gradtrack.track_maps.truncate on 20 scanpaths")

# %% [markdown]
# Under the `quick` profile the two sweeps below keep their ends and the paper's choice
# (components \#1 and \#4; $\tau \in \{0.05, 0.25, 0.5\}$), so that the notebook trains in about
# five minutes on a 2-core laptop CPU (`gradtrack/experiments.py`, `TRIMMED_POINTS`); `paper` runs every point.
# `laptop` keeps those points on all 900 training images, three seeds, each run
# `experiments.GRID_ITERATIONS` (250) iterations long instead of Table 1's 1,400, so that the 24 runs
# fit the 15-minute budget on 2 cores (measured: `results/reproduce/README.md`); the default run here is that short run, below
# GradTrack's Table 1 row (lesson 06).
#
# Every table: Dice in percent, mean ± std over seeds, the 95 % bootstrap interval over test
# images, and each row's paired Wilcoxon p-value against the default run (`compared with`: GradTrack itself).

# %%
grids = gradtrack_experiments.ablations(profile)
runs = run_grids(grids, profile, dataset, seeds, device, train=train)   # every run of sections 3-5 at once
table2_runs = runs["table2"]
table2 = summarize(table2_runs, compare=against_default(grids["table2"], dataset, profile),
                   paper=paper_dice(dataset, "Table 2"))
write_table(table2, f"04_gradtrack_table2_{dataset}_{profile}")
readable(table2)

# %% [markdown]
# ## 4. Fig. 4(a): components
#
# \#1 the 0.7 mask alone; \#2 plus track-map supervision of the final layer; \#3 plus the TA
# modules (both of them, each taught by the untruncated map $G^{100\%}$: the paper's "using the TA
# module" names the module type, and \#4 differs from \#3 only by the truncation); \#4 the full
# design (two reverse-truncated maps guiding the two TA modules).

# %%
component_runs = runs["components"]
components = summarize(component_runs, compare=against_default(grids["components"], dataset, profile))
write_table(components, f"04_gradtrack_components_{dataset}_{profile}")
readable(components)

# %% [markdown]
# ## 5. Fig. 4(b): the field-of-view threshold $\tau$
#
# A small $\tau$ keeps a wide, redundant halo around the track; a large one keeps too little.

# %%
tau_runs = runs["tau"]
tau_runs["tau"] = tau_runs.label.str.extract(r"([\d.]+)").astype(float)
taus = summarize(tau_runs, compare=against_default(grids["tau"], dataset, profile))
write_table(taus, f"04_gradtrack_tau_{dataset}_{profile}")
readable(taus)

# %%
# One y axis from 0 for the three panels: the tau sweep's differences are seen at the scale of the others.
fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [5, 4, 5]}, sharey=True,
                         layout="constrained")
bar_with_reference(table2_runs.assign(dice=table2_runs.dice * 100), "label", "dice",
                   table2.set_index("label")["paper_dice"], ax=axes[0], title="Table 2", table=table2)
bar_with_reference(component_runs.assign(dice=component_runs.dice * 100), "label", "dice", ax=axes[1],
                   title="Fig. 4(a): components", table=components, texts=gradtrack_experiments.COMPONENT_TITLES)
sns.lineplot(data=tau_runs.assign(dice=tau_runs.dice * 100), x="tau", y="dice", marker="o", errorbar="sd", ax=axes[2])
tau_of = tau_runs.drop_duplicates("label").set_index("label").tau
significance_ticks(axes[2], taus, positions=tau_of.to_dict(), texts={label: f"{t:g}" for label, t in tau_of.items()},
                   axis="τ (field-of-view threshold)",
                   spread="line: mean over seeds; band: ± sd over seeds" if tau_runs.seed.nunique() > 1 else "one seed")
axes[2].set(title="Fig. 4(b): τ", ylabel="")
axes[1].set_ylabel("")
axes[0].set_ylabel(f"Dice (%) on {dataset}, {profile}")
save_figure(fig, f"04_gradtrack_ablations_{dataset}_{profile}")
plt.show()

# %% [markdown]
# ## 6. What the runs learned
#
# The training loss of each component's run (each record keeps it), and the predictions next to
# the ground truth on test images the records keep.

# %%
ax = loss_curves(component_runs)
ax.set_title(f"GradTrack training loss ({dataset}, {profile})")
save_figure(ax.figure, f"04_gradtrack_loss_{dataset}_{profile}")
plt.show()

# %%
from gazelib.data.datasets import load_dataset

ds = load_dataset(dataset)
fig = predictions_vs_truth(component_runs, ds, titles=gradtrack_experiments.COMPONENT_TITLES)
save_figure(fig, f"04_gradtrack_predictions_{dataset}_{profile}")
plt.show()

# %% [markdown]
# Beside the measured Dice: the target ceiling of GradTrack (the CRF mask, the track band, and their union).
# Each training target itself is scored against the truth on the test images at this profile's
# size (brought to each image's resolution as a prediction is), per image (`dice_mean`), pooled
# over images, and for small and large polyps apart: what a network that reproduced its target
# exactly would score. Lesson 06 computes the table
# (`gazelib.papers.target_ceilings`) and puts it beside every Table 1 row in the gap ledger.

# %%
from gazelib.papers.target_ceilings import ceilings_view

ceilings_view(dataset, profile, ("gradtrack",))

# %% [markdown]
# What the trained TA modules see: for the full design (\#4), the track map each TA module is
# taught by and its foreground prediction $P^h_{fg}$, on test images. This needs the run's
# checkpoint (written by training, not committed): with records only, train afresh to see it.

# %%
from gazelib.papers.gradtrack.figures import ta_outputs
from gazelib.runs.identity import checkpoint_path

full_design = component_runs[component_runs.label == "#4"].run_id
if full_design.empty or not checkpoint_path(full_design.iloc[0]).exists():
    print("no checkpoint of the full design (#4) here: TA outputs need a trained run")
else:
    fig = ta_outputs(checkpoint_path(full_design.iloc[0]), ds, n_images=3)
    save_figure(fig, f"04_gradtrack_ta_outputs_{dataset}_{profile}")
    plt.show()

# %% [markdown]
# ## 7. What the measurements say about the paper's claims
#
# GradTrack argues for its design with Table 2 (its choice beats every variant), Fig. 4(a) (each
# component adds to the previous one) and Fig. 4(b) ($\tau = 0.25$ is best). Generated from the
# run records above (paired Wilcoxon test on the per-image Dice, averaged over seeds; `supported`
# needs p < 0.05 in the paper's direction):

# %%
all_runs = pd.concat([table2_runs, component_runs, tau_runs]).drop_duplicates(["label", "seed"])
show_verdicts(claim_verdicts(all_runs, gradtrack_experiments.claims(grids, dataset, profile)))

# %%
show_differences("04")
