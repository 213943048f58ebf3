"""GradTrack's lesson figures: the track maps of a few scanpaths (lesson 01), and what each Track
Attention module predicts, beside its track map (lesson 04)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from gazelib.core.evaluate import load_checkpoint
from gazelib.core.targets import build_tensors
from gazelib.papers.gradtrack.track_maps import RATIOS as TRACK_RATIOS
from gazelib.papers.gradtrack.track_maps import track_map
from gazelib.report.lesson_figures import displayable
from gazelib.report.plots import MAP_CMAP, draw_scanpath, show_map


def track_panels(dataset, ids, params: dict, ratios=(0.5, 0.75, 1.0)) -> plt.Figure:
    """One row per image: its scanpath, then the track map ``G^r`` of each ratio ``r`` (eq. 2 with the
    cache's ``params``: beta, tau, truncation, track, grid) over the image; one colourbar for all maps
    (they share the scale 0 to 1)."""
    fig, axes = plt.subplots(len(ids), len(ratios) + 1, figsize=(3.2 * (len(ratios) + 1) + 0.8, 3 * len(ids)),
                             squeeze=False, layout="constrained")
    for row, image_id in enumerate(ids):
        image, scanpath = dataset.image(image_id), dataset.scanpath(image_id)
        h, w = image.shape[:2]
        draw_scanpath(axes[row, 0], image, scanpath, "scanpath" if row == 0 else None)
        for col, r in enumerate(ratios, start=1):
            g = track_map(scanpath, h, w, r, params["beta"], params["tau"], params["truncation"], params["track"],
                          tuple(params["grid"]))
            title = f"$G^{{{r:.0%}}}$".replace("%", r"\%") if row == 0 else None
            shown = show_map(axes[row, col], image, g, title, colorbar=False)
    fig.colorbar(shown, ax=axes[:, 1:].ravel().tolist(), shrink=0.6, label="track map value")
    return fig


def ta_outputs(checkpoint, dataset, n_images: int = 3) -> plt.Figure:
    """A trained GradTrack network on test images: each TA module's foreground prediction P_fg beside
    the track map it is taught by (first TA: G^50%, second: G^75%), and the final foreground
    probability beside G^100%. ``checkpoint``: the run's ``last.pt``."""
    model, _, cfg = load_checkpoint(checkpoint, device="cpu")
    ids = dataset.split()["test"][:n_images]
    tensors = build_tensors(dataset, ids, cfg, ("image", "track"))
    model.eval()
    with torch.no_grad():
        out = model(tensors["image"].to(next(model.parameters()).device))
    predictions = [*(ta.softmax(dim=1)[:, 1] for ta in out["ta"]), out["logits"].softmax(dim=1)[:, 1]]
    titles = [f"TA {k + 1}: $P_{{fg}}$" for k in range(len(out["ta"]))] + ["final: $P_{fg}$"]
    ratios = [TRACK_RATIOS[k % 2] for k in range(len(out["ta"]))] + [1.0]
    fig, axes = plt.subplots(len(ids), 1 + 2 * len(predictions), figsize=(2.2 * (1 + 2 * len(predictions)) + 0.6,
                                                                           2.3 * len(ids)), squeeze=False, layout="constrained")
    for row in range(len(ids)):
        axes[row, 0].imshow(displayable(tensors["image"][row]), cmap="gray")
        for k, (prediction, ratio, title) in enumerate(zip(predictions, ratios, titles)):
            track = tensors["track"][row, TRACK_RATIOS.index(ratio)]
            axes[row, 1 + 2 * k].imshow(track.numpy(), cmap=MAP_CMAP, vmin=0, vmax=1)
            shown = axes[row, 2 + 2 * k].imshow(prediction[row].float().cpu().numpy(), cmap=MAP_CMAP, vmin=0, vmax=1)
            if row == 0:
                axes[row, 1 + 2 * k].set_title(f"$G^{{{ratio:.0%}}}$".replace("%", r"\%"))
                axes[row, 2 + 2 * k].set_title(title)
    axes[0, 0].set_title("input")
    for ax in axes.flat:
        ax.axis("off")
    fig.colorbar(shown, ax=axes[:, 1:].ravel().tolist(), shrink=0.8, label="track map value / probability")
    return fig
