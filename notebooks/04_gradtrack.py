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
profile = "quick"      # smoke | quick | paper
dataset = "kvasir"     # kvasir | nci_isbi
seeds = [0]
device = "auto"
train = True

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from gazelib import claims
from gazelib.differences import show_differences
from gazelib.experiments import against_default, gradtrack_ablations, paper_dice, run_grid
from gazelib.losses import gtmg_loss
from gazelib.methods import get_method
from gazelib.models.track_attention import TrackAttention
from gazelib.results import readable, write_table
from gazelib.plots import bar_with_reference, save_figure, show_source
from gazelib.summary import claim_verdicts, markers, show_verdicts, summarize

# %% [markdown]
# ## 1. Track attention and its loss
#
# A TA module turns the decoder feature $F^h$ into a two-channel prediction $P^h$ and is
# supervised by the (bilinearly resized) track map $G^r_{re}$ with a weighted cross-entropy:
#
# $$\mathcal L^{r,h}_{GTMG} = -\Big[(1 + G^r_{re})\,\mathbb 1(G^r_{re} > 0)\,\log P^h_{fg} + \mathbb 1(G^r_{re} = 0)\,\log P^h_{bg}\Big] \qquad (3)$$
#
# Pixels on the track count more the closer they are to it; pixels outside the field of view
# are background. The foreground prediction is broadcast to the feature channels and added,
# **without** letting the segmentation loss reach the TA branch through this path
# ($\lfloor\cdot\rfloor$ is the stop-gradient):
#
# $$\hat F^h = F^h \oplus \lfloor P^h_{fg} \rfloor \qquad (4)$$

# %%
show_source(gtmg_loss)

# %%
show_source(TrackAttention)

# %% [markdown]
# ## 2. The objective
#
# TA modules sit after decoder blocks 2 and 4 and are taught by $G^{50\%}$ and $G^{75\%}$; the
# last block's prediction is taught by $G^{100\%}$ and by the 0.7 mask with Dice + CE
# ($\mathcal L_{VAM}$):
#
# $$\mathcal L = \mathcal L^{100\%,6}_{GTMG} + \lambda_1 \mathcal L^{50\%,2}_{GTMG} + \lambda_1 \mathcal L^{75\%,4}_{GTMG} + \lambda_2 \mathcal L_{VAM}, \qquad \lambda_1 = \lambda_2 = 0.5 \qquad (5)$$

# %%
show_source(type(get_method("gradtrack")))

# %% [markdown]
# ## 3. Table 2: truncation and where the TA modules go
#
# *w/o* feeds every stage the full track; *sequential* keeps the **first** $r$ of the reading
# instead of the last; the TA modules move to the encoder or to both.
#
# Under the `quick` profile the two sweeps below keep their ends and the paper's choice
# (components \#1 and \#4; $\tau \in \{0.05, 0.25, 0.5\}$), so that the notebook trains in about
# five minutes on a 2-core laptop CPU (`experiments.QUICK`); `paper` runs every point.
#
# Every table: Dice in percent, mean ± std over seeds, the 95 % bootstrap interval over test
# images, and each row's paired Wilcoxon p-value against the default run (`vs`: GradTrack itself).

# %%
grids = gradtrack_ablations(profile)
table2_runs = run_grid(grids["table2"], profile, dataset, seeds, device, train=train)
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
component_runs = run_grid(grids["components"], profile, dataset, seeds, device, train=train)
components = summarize(component_runs, compare=against_default(grids["components"], dataset, profile))
write_table(components, f"04_gradtrack_components_{dataset}_{profile}")
readable(components)

# %% [markdown]
# ## 5. Fig. 4(b): the field-of-view threshold $\tau$
#
# A small $\tau$ keeps a wide, redundant halo around the track; a large one keeps too little.

# %%
tau_runs = run_grid(grids["tau"], profile, dataset, seeds, device, train=train)
tau_runs["tau"] = tau_runs.label.str.extract(r"([\d.]+)").astype(float)
taus = summarize(tau_runs, compare=against_default(grids["tau"], dataset, profile))
write_table(taus, f"04_gradtrack_tau_{dataset}_{profile}")
readable(taus)

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4.2), gridspec_kw={"width_ratios": [5, 4, 5]})
bar_with_reference(table2_runs.assign(dice=table2_runs.dice * 100), "label", "dice",
                   table2.set_index("label")["paper_dice"], ax=axes[0], title="Table 2", markers=markers(table2))
bar_with_reference(component_runs.assign(dice=component_runs.dice * 100), "label", "dice", ax=axes[1],
                   title="Fig. 4(a): components", markers=markers(components))
sns.lineplot(data=tau_runs.assign(dice=tau_runs.dice * 100), x="tau", y="dice", marker="o", errorbar="sd", ax=axes[2])
tau_of = tau_runs.drop_duplicates("label").set_index("label").tau
for label, marker in markers(taus).items():   # significance against tau = 0.25, above each point
    axes[2].annotate(marker, (tau_of[label], taus.set_index("label").dice_mean[label]), xytext=(0, 6),
                     textcoords="offset points", ha="center", fontsize=8)
axes[2].set_title("Fig. 4(b): τ")
axes[0].set_ylabel(f"Dice (%) on {dataset}, {profile}")
save_figure(fig, f"04_gradtrack_ablations_{dataset}_{profile}")
plt.show()

# %% [markdown]
# ## 6. What the measurements say about the paper's claims
#
# GradTrack argues for its design with Table 2 (its choice beats every variant), Fig. 4(a) (each
# component adds to the previous one) and Fig. 4(b) ($\tau = 0.25$ is best). Generated from the
# run records above (paired Wilcoxon test on the per-image Dice, averaged over seeds; `supported`
# needs p < 0.05 in the paper's direction):

# %%
all_runs = pd.concat([table2_runs, component_runs, tau_runs]).drop_duplicates(["label", "seed"])
show_verdicts(claim_verdicts(all_runs, claims.gradtrack(grids, dataset, profile)))

# %%
show_differences("04")
