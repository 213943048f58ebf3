"""Figures: every figure is saved as PNG and PDF under ``figures/`` (``$GAZELIB_FIGURES``).

One style for the project, set when this module is imported: seaborn's whitegrid theme with its
colour-blind-safe palette; maps in [0, 1] drawn with the perceptual ``MAP_CMAP`` and a colourbar;
Dice in percent ("Dice (%)"), distances in pixels ("HD95 (px)"); significance marks under the x tick
labels of the rows they belong to, never in the plot area, and every error bar named in the axis
label (``significance_ticks``)."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from gazelib.core import files
from gazelib.core.paths import figures_root

MAP_CMAP = "magma"   # perceptual, monotone in lightness, readable in grey and by colour-blind readers


def use_style() -> None:
    """The project's plotting style (applied on import of ``gazelib.report.plots``)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"image.cmap": "viridis", "axes.titlesize": 10, "figure.dpi": 100})


use_style()


def add_colorbar(ax: plt.Axes, image, label: str = "") -> None:
    """A slim colourbar beside ``ax`` for the ``imshow`` result ``image``."""
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)


#: File metadata left out of saved figures (a creation date, the library's version), so that a figure
#: drawn again from the same numbers is the same bytes and a committed one shows no change.
METADATA = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}


def save_figure(fig: plt.Figure, name: str) -> list[Path]:
    """Write ``<figures>/<name>.png`` and ``.pdf`` (atomically, byte-reproducible: ``METADATA``);
    return both paths."""
    root = figures_root()
    paths = [root / f"{name}.png", root / f"{name}.pdf"]
    for path in paths:
        image = io.BytesIO()
        fig.savefig(image, format=path.suffix[1:], bbox_inches="tight", dpi=150, metadata=METADATA[path.suffix[1:]])
        files.write_bytes(path, image.getvalue())
    return paths


def show_image(ax: plt.Axes, image: np.ndarray, title: str | None = None) -> None:
    """An RGB image or a grey slice, without axes."""
    ax.imshow(image, cmap=None if image.ndim == 3 else "gray")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def draw_scanpath(ax: plt.Axes, image: np.ndarray, scanpath, title: str | None = None) -> None:
    """Fixations over the image: disc area ~ duration, colour = order (early dark, late bright),
    a thin line joins them in start-time order and the first and last are numbered."""
    show_image(ax, image, title)
    h, w = image.shape[:2]
    order = np.argsort(scanpath.start, kind="stable")
    x, y = scanpath.x[order] * w, scanpath.y[order] * h
    duration = scanpath.duration[order]
    ax.plot(x, y, "-", color="white", lw=0.8, alpha=0.7)
    ax.scatter(x, y, s=duration / duration.max() * 300, c=np.arange(len(x)), cmap="plasma",
               alpha=0.75, edgecolors="white", linewidths=0.5)
    for k in (0, len(x) - 1):
        ax.annotate(str(k + 1), (x[k], y[k]), color="white", fontsize=7, ha="center", va="center")


def show_map(ax: plt.Axes, image: np.ndarray, heat: np.ndarray, title: str | None = None, alpha: float = 0.6,
             label: str = "map value", colorbar: bool = True):
    """A map in [0, 1] over its image (stretched to the image when smaller), with its colourbar unless
    ``colorbar`` is False (panels sharing one: pass the returned image to ``Figure.colorbar``)."""
    show_image(ax, image, title)
    shown = ax.imshow(heat, cmap=MAP_CMAP, alpha=alpha, vmin=0, vmax=1, extent=(0, image.shape[1], image.shape[0], 0))
    if colorbar:
        add_colorbar(ax, shown, label)
    return shown


def show_mask(ax: plt.Axes, image: np.ndarray, mask: np.ndarray, title: str | None = None, color=(0.1, 1.0, 0.3)) -> None:
    """A binary mask as a coloured overlay with its outline."""
    show_image(ax, image, title)
    overlay = np.zeros((*mask.shape, 4))
    overlay[mask.astype(bool)] = (*color, 0.45)
    ax.imshow(overlay)
    ax.contour(mask.astype(float), levels=[0.5], colors=[color], linewidths=0.8)


#: What a significance mark means (``stats.significance``), for the figures' keys.
SIGNIFICANCE_KEY = "paired Wilcoxon: * p<0.05, ** p<0.01, *** p<0.001, n.s. p≥0.05"


def significance_ticks(ax: plt.Axes, table: pd.DataFrame, positions: dict[str, float] | None = None,
                       texts: dict[str, str] | None = None, group: str = "label", axis: str = "",
                       spread: str = "", width: int = 12) -> None:
    """The one rule for significance marks: each compared row's mark (``summary.markers`` of the
    ``summarize`` ``table``) is the second line of its x tick label ("vs <row>" added when the rows have
    different references), the reference row's says "reference", and the x-axis label says what the
    marks and the error bars mean. Nothing is written in the plot area, so no mark covers a bar, a
    point or the frame; labels are wrapped at ``width`` characters so that neighbours do not overlap.

    ``positions``: x of each row, one tick each (default: the current tick labels'); ``texts``: the
    tick text of each row (default: its name); ``axis``: the axis' own name; ``spread``: what the
    error bars are."""
    from gazelib.report.summary import markers

    if positions is None:
        positions = {label.get_text(): x for label, x in zip(ax.get_xticklabels(), ax.get_xticks())}
    texts = texts or {}
    marks = markers(table, group)
    compared = dict(zip(table[group], table["vs"])) if "vs" in table.columns else {}
    references = {ref for row, ref in compared.items() if row in marks}
    labels = []
    for row in positions:
        text = textwrap.fill(texts.get(row, row), width)
        if row in marks:
            text += f"\n{marks[row]}" + (f" vs {compared[row]}" if len(references) > 1 else "")
        elif row in references and len(references) == 1:
            text += "\nreference"
        labels.append(text)
    ax.set_xticks(list(positions.values()), labels, rotation=0, fontsize=8)
    key = [axis] if axis else []
    if marks:
        key.append(SIGNIFICANCE_KEY + (f" vs {next(iter(references))}" if len(references) == 1 else ""))
    if spread:
        key.append(spread)
    chars = max(30, int(14 * ax.get_position().width * ax.figure.get_figwidth()))   # ~14 characters an inch at size 8
    ax.set_xlabel("\n".join(textwrap.fill(line, chars) for line in key), fontsize=8)


def bar_with_reference(df: pd.DataFrame, x: str, y: str, reference: pd.Series | None = None, ax=None,
                       title: str | None = None, table: pd.DataFrame | None = None,
                       texts: dict[str, str] | None = None) -> plt.Axes:
    """Mean ± std over seeds (one point per seed drawn too), with quoted paper values as red lines and,
    given the ``summarize`` ``table`` of the rows, their significance marks (``significance_ticks``,
    which also takes the tick ``texts``)."""
    ax = ax or plt.gca()
    sns.barplot(data=df, x=x, y=y, errorbar="sd", ax=ax, color="#7aa6c2")
    sns.stripplot(data=df, x=x, y=y, ax=ax, color="black", size=3)
    positions = {label.get_text(): i for i, label in enumerate(ax.get_xticklabels())}
    several = df.groupby(x)[y].size().max() > 1
    spread = "bars: mean ± sd over seeds; dots: one per seed" if several else "one seed a bar (no spread)"
    if reference is not None:
        for label, value in reference.items():
            if label in positions:
                ax.plot(positions[label], value, marker="_", color="crimson", markersize=22, mew=2)
        spread += "; red: the paper's value (quoted)"
    significance_ticks(ax, table if table is not None else pd.DataFrame({x: list(positions)}), positions,
                       texts, group=x, spread=spread)
    if y == "dice":
        ax.set_ylabel("Dice (%)")
    if title:
        ax.set_title(title)
    return ax


def label_points(ax: plt.Axes, x, y, labels) -> None:
    """Labels beside scatter points, joined to them: to the right, or, where another point sits within a
    label's reach on the right, to the left of the leftmost point at about its height (so no label
    covers a point or its bar); on each side pushed apart vertically, at least 4.5 % of the axis."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    low, high = ax.get_ylim()
    left_x, right_x = ax.get_xlim()
    gap, dx, reach = 0.045 * (high - low), 0.03 * (right_x - left_x), 0.2 * (right_x - left_x)
    crowded = [any(0 < x[j] - x[i] <= reach and abs(y[j] - y[i]) < 2 * gap for j in range(len(x)))
               for i in range(len(x))]
    for to_the_left in (False, True):
        placed = -np.inf
        for i in np.argsort(y):
            if crowded[i] != to_the_left:
                continue
            placed = max(y[i], placed + gap)
            near = np.abs(y - y[i]) < 2 * gap
            ax.annotate(labels[i], (x[i], y[i]), xytext=(x[near].min() - dx if to_the_left else x[i] + dx, placed),
                        fontsize=8, va="center", ha="right" if to_the_left else "left",
                        arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "grey"})


def dice_per_threshold(per_image: pd.DataFrame) -> plt.Figure:
    """Box plot of the per-image Dice of every pseudo-mask of a quality record, mean as a dot."""
    columns = [c for c in per_image.columns if c.endswith(" dice")]
    long = (per_image[columns] * 100).melt(var_name="pseudo-mask", value_name="Dice (%)")
    long["pseudo-mask"] = long["pseudo-mask"].str.removesuffix(" dice")
    fig, ax = plt.subplots(figsize=(1.2 * len(columns) + 2, 4))
    sns.boxplot(data=long, x="pseudo-mask", y="Dice (%)", ax=ax, color="#b7d3e6", fliersize=1.5)
    sns.pointplot(data=long, x="pseudo-mask", y="Dice (%)", ax=ax, color="crimson", errorbar=None, linestyle="none")
    ax.set_title(f"Pseudo-mask Dice against the ground truth ({len(per_image)} images)")
    ax.set_xlabel("")
    return fig
