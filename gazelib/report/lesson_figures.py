"""Figures that show a method at work in the lessons: what it trains on, how its loss falls, what it
predicts. Everything is read from the training tensors (``targets.build_tensors``) or from run
records (``loss_history``, ``qualitative``), never typed in."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from gazelib.core.config import make_config, preset_for
from gazelib.core.methods import get_method
from gazelib.core.targets import IMAGENET_MEAN, IMAGENET_STD, build_tensors
from gazelib.data.datasets import load_dataset
from gazelib.report.plots import MAP_CMAP, show_mask
from gazelib.runs.records import qualitative_masks, read_record

TARGET_TITLES = {"mask": "mask", "vam_soft": "soft VAM", "crf_soft": "soft CRF", "conservative_mask": "CRF ≥ 0.7",
                 "gaze": "gaze target", "pseudo_masks": "level", "track": "track"}


def training_batch(method: str, dataset: str, profile: str, n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """The first ``n`` training images of ``dataset`` with the targets ``method`` trains on, exactly
    as the trainer builds them (resized, normalised, from the same cache)."""
    cfg = make_config(method, dataset=dataset, preset=preset_for(profile, dataset), overrides=[f"seed={seed}"])
    ds = load_dataset(dataset)
    ids = ds.split()["train"][:n]
    return build_tensors(ds, ids, cfg, ("image", *get_method(method).targets))


def displayable(image: torch.Tensor) -> np.ndarray:
    """Undo ``targets.normalise_image`` far enough to draw the network input."""
    if image.shape[0] == 3:
        mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
        return (image * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()
    return image[0].numpy()


def show_batch(batch: dict[str, torch.Tensor], channel_names: dict[str, list[str]] | None = None) -> plt.Figure:
    """One row per image: the network input, then every channel of every target (values 0 to 1)."""
    channel_names = channel_names or {}
    columns = [(name, c) for name in batch if name != "image" for c in range(batch[name].shape[1])]
    n = batch["image"].shape[0]
    fig, axes = plt.subplots(n, 1 + len(columns), figsize=(2.3 * (1 + len(columns)) + 0.6, 2.3 * n), squeeze=False,
                             layout="constrained")
    for row in range(n):
        axes[row, 0].imshow(displayable(batch["image"][row]), cmap="gray")
        axes[row, 0].set_title("input" if row == 0 else None)
        for col, (name, c) in enumerate(columns, start=1):
            shown = axes[row, col].imshow(batch[name][row, c].float().numpy(), cmap=MAP_CMAP, vmin=0, vmax=1)
            if row == 0:
                labels = channel_names.get(name)
                title = labels[c] if labels else TARGET_TITLES.get(name, name)
                axes[row, col].set_title(title if labels or batch[name].shape[1] == 1 else f"{title} {c + 1}")
    for ax in axes.flat:
        ax.axis("off")
    if columns:
        fig.colorbar(shown, ax=axes[:, 1:].ravel().tolist(), shrink=0.8, label="target value")
    return fig


def _one_seed(runs: pd.DataFrame) -> pd.DataFrame:
    if runs.empty:
        raise ValueError("no runs to draw: train them (train=True) or check the records folder")
    return runs[runs.seed == runs.seed.min()]


def loss_curves(runs: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Training loss against iteration for each run of a ``run_grid`` table (its ``record`` column),
    one seed (the smallest) so that each label is one curve."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    runs = _one_seed(runs)
    for label, path in zip(runs["label"], runs["record"]):
        history = np.asarray(read_record(path).loss_history, dtype=float).reshape(-1, 2)
        ax.plot(history[:, 0], history[:, 1], label=label)
    ax.set(xlabel="iteration", ylabel="training loss")
    ax.legend(fontsize="small")
    return ax


def predictions_vs_truth(runs: pd.DataFrame, dataset, n_images: int = 3, titles: dict[str, str] | None = None
                         ) -> plt.Figure:
    """Rows: test images kept in every record's ``qualitative`` masks; columns: the ground truth, then
    each run's prediction (green) of one seed (the smallest), all at the image's own resolution.
    ``titles``: a column title per run label where the label alone does not say what the run is."""
    runs = _one_seed(runs)

    predictions = {label: qualitative_masks(path) for label, path in zip(runs["label"], runs["record"])}
    shared = sorted(set.intersection(*(set(p) for p in predictions.values())))[:n_images]
    if not shared:
        raise ValueError("predictions_vs_truth: the records keep no qualitative mask of a common image")
    fig, axes = plt.subplots(len(shared), 1 + len(predictions),
                             figsize=(2.6 * (1 + len(predictions)), 2.4 * len(shared)), squeeze=False)
    for row, image_id in enumerate(shared):
        image = dataset.image(image_id)
        show_mask(axes[row, 0], image, dataset.mask(image_id), "ground truth" if row == 0 else None,
                  color=(1.0, 0.8, 0.1))
        for col, (label, masks) in enumerate(predictions.items(), start=1):
            title = textwrap.fill((titles or {}).get(label, label), 28)
            show_mask(axes[row, col], image, masks[image_id], title if row == 0 else None)
    fig.tight_layout()
    return fig
