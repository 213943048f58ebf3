"""Why the soft-label baselines (VAM, VAM_D-CRF) score below their own targets
(``python -m gazelib.papers.baselines.soft_labels RUN_ID [RUN_ID ...]``).

VAM trains with BCE towards the soft map ``S = H * [H >= 0.5]``, so the best the network can do is
``p = S`` pixel by pixel, and a prediction thresholded at 0.5 then marks the region ``{S > 0}``.
That region is the ceiling; the question is how close a trained network gets to it. On the
**training** images of finished runs (never the test images; nothing here chooses a setting), at
the training grid, this measures for each run:

* ``target vs truth``: Dice of ``{S > 0}`` against the ground truth, the ceiling;
* ``prediction vs target``: Dice of ``{p >= 0.5}`` against ``{S > 0}``, how well the network fits it;
* ``area ratio``: predicted area over target area (below 1: the prediction shrinks inside the target);
* ``p inside target`` and ``S inside target``: the mean probability the network gives the target
  region against the mean of the target there; just inside the edge S is about 0.5, so any
  smoothing pushes p below the threshold there;
* ``prediction vs truth @ t``: Dice against the truth for thresholds t (how much a threshold
  below 0.5 would give back; the scored runs keep 0.5, as the paper implies).

Dice here is on the training grid (the scored runs are upsampled to each image's size first).

Then a remedy that needs no ground truth: ``fitted threshold``, the threshold at which the trained
network's ``{p >= t}`` best matches its own target region ``{S > 0}`` on the training images (the
gaze target only, so nothing is chosen on the test images or the truth). The run's test images are
scored at 0.5 (the run record's Dice, recomputed) and at the fitted threshold, as ``gazelib eval``
scores them (each image's own size), with the paired Wilcoxon p-value between the two.

Writes ``results/<folder>/tables/soft_labels.csv`` and ``.md``; every number comes from here.
"""
from __future__ import annotations

import argparse
import math
import os

import numpy as np
import pandas as pd
import torch

from gazelib.core import metrics
from gazelib.core.evaluate import evaluate, load_checkpoint, predict_logits
from gazelib.core.paths import REPO_ROOT, results_root
from gazelib.core.targets import build_tensors
from gazelib.data.datasets import load_dataset
from gazelib.papers.table1 import TABLE1
from gazelib.report.stats import format_p, paired_test
from gazelib.report.tables import write_table
from gazelib.runs.identity import checkpoint_path, select_ids

THRESHOLDS = (0.5, 0.4, 0.3)
#: Where ``main`` writes its table by default (``results/<FOLDER>/tables/<TABLE>.csv``), and that table
#: as committed: the measurement of the ``laptop`` Table 1 VAM rows (lessons 02 and 06 show it).
FOLDER, TABLE = "laptop_recipe", "soft_labels"
COMMITTED = REPO_ROOT / "results" / FOLDER / "tables" / f"{TABLE}.csv"
#: Candidates of ``fitted_threshold``.
CANDIDATES = tuple(round(0.05 * k, 2) for k in range(1, 20))


def mean_dice(a: torch.Tensor, b: torch.Tensor) -> float:
    """``metrics.dice`` of each image of two (N, 1, S, S) boolean stacks, averaged, in %."""
    return 100 * float(np.mean([metrics.dice(x.numpy(), y.numpy()) for x, y in zip(a, b)]))


def fit_to_target(probability: torch.Tensor, target: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """The scores of the module docstring for one run, from its probabilities ``p``, soft target ``S``
    and ground truth (each (N, 1, S, S)): Dice as means over images, area ratio (all pixels of all
    images) and mean probabilities over the target region, everything in %."""
    region, predicted = target > 0, probability >= 0.5
    inside = region.sum().clamp(min=1)
    row = {"target vs truth (Dice %)": mean_dice(region, truth),
           "prediction vs target (Dice %)": mean_dice(predicted, region),
           "area ratio (%)": (predicted.sum() / inside).item() * 100,
           "p inside target (%)": (probability * region).sum().item() / inside.item() * 100,
           "S inside target (%)": (target * region).sum().item() / inside.item() * 100}
    for t in THRESHOLDS:
        row[f"prediction vs truth @ {t:g} (Dice %)"] = mean_dice(probability >= t, truth)
    return row


def fitted_threshold(probability: torch.Tensor, target: torch.Tensor) -> float:
    """The candidate t (``CANDIDATES``) whose ``{p >= t}`` has the highest mean Dice against the target
    region ``{S > 0}``; of equal ones, the one nearest 0.5. The ground truth is not used."""
    region = target > 0
    fits = {t: mean_dice(probability >= t, region) for t in CANDIDATES}
    return max(CANDIDATES, key=lambda t: (round(fits[t], 9), -abs(t - 0.5)))


class ThresholdAt:
    """A method whose predictions, thresholded at logit 0 by ``evaluate``, are the wrapped method's
    probabilities thresholded at ``t``: it subtracts logit(t), which commutes with the bilinear
    upsampling to each image's size."""
    def __init__(self, method, t: float):
        self.method, self.shift = method, math.log(t / (1 - t))

    def predict(self, out) -> torch.Tensor:
        return self.method.predict(out) - self.shift


def measure(run_id: str) -> dict[str, float | str]:
    """``fit_to_target`` on the training images of a finished run (its last checkpoint), then its
    test Dice at 0.5 and at ``fitted_threshold``."""
    model, method, cfg = load_checkpoint(checkpoint_path(run_id), device="cpu")
    (target_name,) = method.targets
    dataset = load_dataset(cfg.dataset)
    train_ids, test_ids = select_ids(dataset, cfg)
    tensors = build_tensors(dataset, train_ids, cfg, ("image", "mask", target_name))
    probability = torch.sigmoid(predict_logits(model, method, tensors["image"], cfg, torch.device("cpu")))
    row = fit_to_target(probability, tensors[target_name], tensors["mask"] > 0.5)
    t = fitted_threshold(probability, tensors[target_name])
    at_half, at_fitted = (pd.Series({i: s["dice"] for i, s in evaluate(model, m, dataset, test_ids, cfg)[0].items()})
                          for m in (method, ThresholdAt(method, t)))
    return {"run": run_id, "method": cfg.method, "seed": cfg.seed, "train images": len(train_ids), **row,
            "fitted threshold": t, "test images": len(test_ids), "test Dice @ 0.5 (%)": 100 * at_half.mean(),
            "test Dice @ fitted (%)": 100 * at_fitted.mean(),
            "p (fitted vs 0.5)": format_p(paired_test(at_fitted, at_half).p_value)}


def committed_for(runs: pd.DataFrame) -> pd.DataFrame | None:
    """The committed measurement (``COMMITTED``) if it measures exactly the VAM runs of ``runs`` (a
    ``run_grid`` frame), else None, printing why: a table of other runs (another length, seeds or
    profile) is never shown as theirs."""
    wanted = set(runs.loc[runs.method.isin(["vam", "vam_crf"]), "run_id"])
    if not COMMITTED.exists():
        print(f"not measured yet: {COMMITTED}")
        return None
    table = pd.read_csv(COMMITTED)
    if set(table["run"]) != wanted:
        print(f"{os.path.relpath(COMMITTED, REPO_ROOT)} measures other runs than these VAM rows, not shown; to measure "
              f"them: python -m gazelib.papers.baselines.soft_labels {' '.join(sorted(wanted))}")
        return None
    return table


def fitted_threshold_note(table: pd.DataFrame) -> str:
    """A paragraph from a ``measure`` table: each method's test Dice at 0.5 and at its fitted threshold
    (mean ± std over the table's runs), with the thresholds and the per-run p-values."""
    labels = {exp.method: exp.label for exp in TABLE1}
    parts = []
    for method, rows in table.groupby("method", sort=False):
        half, fitted = rows["test Dice @ 0.5 (%)"], rows["test Dice @ fitted (%)"]
        parts.append(f"{labels.get(method, method)} {half.mean():.1f} ± {half.std():.1f} → "
                     f"**{fitted.mean():.1f} ± {fitted.std():.1f}** (t = "
                     f"{', '.join(f'{t:g}' for t in rows['fitted threshold'])}; p = "
                     f"{', '.join(map(str, rows['p (fitted vs 0.5)']))})")
    return ("The same VAM networks scored at a decision threshold fitted to their own gaze target on the "
            "training images (no ground truth used; `python -m gazelib.papers.baselines.soft_labels`, "
            f"`results/{FOLDER}/tables/{TABLE}.md`), test Dice at 0.5 → at the fitted threshold, "
            "mean ± std over seeds, paired Wilcoxon per run: " + "; ".join(parts) + ".")


def main(argv=None) -> None:

    parser = argparse.ArgumentParser(prog="python -m gazelib.papers.baselines.soft_labels", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run ids of finished vam / vam_crf runs (their checkpoints must exist)")
    parser.add_argument("--folder", default=FOLDER, help="results/<folder>/tables/ receives soft_labels.csv/.md")
    args = parser.parse_args(argv)
    table = pd.DataFrame([measure(run) for run in args.runs]).round(3)
    paths = write_table(table, TABLE, root=results_root() / args.folder)
    print(table.to_string(index=False))
    print("written:", *paths)


if __name__ == "__main__":
    main()
