"""Train/test splits: committed split files (``gazelib/data/splits/<dataset>.json``) and seeded k-fold.

The papers use 900 train / 100 test on Kvasir-SEG, but the authors' split is not public; ours is
``make_split(sorted ids, n_test=100, seed=0)``, committed so it never changes with library versions.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

SPLITS_DIR = Path(__file__).resolve().parent / "splits"
FOLD = re.compile(r"fold(\d+)of(\d+)")


def make_split(ids, n_test: int, seed: int = 0) -> dict[str, list[str]]:
    """Seeded random split: the first ``n_test`` of ``numpy.random.default_rng(seed).permutation(sorted ids)``
    are the test set; both lists are returned sorted."""
    ids = sorted(ids)
    order = np.random.default_rng(seed).permutation(len(ids))
    test = {ids[i] for i in order[:n_test]}
    return {"train": [i for i in ids if i not in test], "test": sorted(test)}


def kfold(ids, k: int, n_folds: int, seed: int = 0, group=None) -> dict[str, list[str]]:
    """Fold ``k`` (1-based, 1..n_folds) of a seeded k-fold over ``ids``: test = that fold, train = the rest.

    Groups (``group(id)``, e.g. the patient of a slice) are permuted with ``default_rng(seed)`` and cut
    into ``n_folds`` near-equal parts (``numpy.array_split``), so a group never straddles train and test.
    """
    if not 1 <= k <= n_folds or n_folds < 2:
        raise ValueError(f"fold{k}of{n_folds}: need 2 <= K and 1 <= k <= K")
    ids = sorted(ids)
    group = group or (lambda i: i)
    groups = sorted({group(i) for i in ids})
    if n_folds > len(groups):
        raise ValueError(f"fold{k}of{n_folds}: only {len(groups)} groups to split")
    order = np.random.default_rng(seed).permutation(len(groups))
    test_groups = {groups[j] for j in np.array_split(order, n_folds)[k - 1]}
    test = [i for i in ids if group(i) in test_groups]
    return {"train": [i for i in ids if group(i) not in test_groups], "test": test}


def split(dataset: str, name: str, ids, group=None) -> dict[str, list[str]]:
    """``"fold{k}of{K}"`` -> :func:`kfold` over ``ids`` (seed 0); any other name -> the committed file
    ``gazelib/data/splits/<dataset>.json`` (``"default"``: its train/test lists). Every listed id must be in ``ids``."""
    match = FOLD.fullmatch(name)
    if match:
        return kfold(ids, int(match[1]), int(match[2]), seed=0, group=group)
    if name != "default":
        raise ValueError(f"unknown split {name!r} for {dataset}: use 'default' or 'fold<k>of<K>'")
    path = SPLITS_DIR / f"{dataset}.json"
    record = json.loads(path.read_text())
    unknown = sorted(set(record["train"] + record["test"]) - set(ids))
    if unknown:
        raise ValueError(f"{path} names {len(unknown)} ids not in the {dataset} data, e.g. {unknown[:3]}")
    return {"train": record["train"], "test": record["test"]}
