"""GradTrack's own lesson figure: what each Track Attention module predicts, beside its track map."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from gazelib.core.evaluate import load_checkpoint
from gazelib.core.targets import build_tensors
from gazelib.papers.gradtrack.track_maps import RATIOS as TRACK_RATIOS
from gazelib.report.lesson_figures import displayable
from gazelib.report.plots import MAP_CMAP


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
