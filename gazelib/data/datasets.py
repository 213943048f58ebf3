"""Opening a data set by name: ``load_dataset`` and ``open_dataset``."""
from __future__ import annotations

from pathlib import Path

from gazelib.core.paths import data_root
from gazelib.data.base import NAMES, Dataset, DataMissingError
from gazelib.data.kvasir import KvasirDataset
from gazelib.data.nci_isbi import NciIsbiDataset, NciIsbiLabels

LOADERS = {"kvasir": KvasirDataset, "nci_isbi": NciIsbiDataset}


def load_dataset(name: str, root=None) -> Dataset:
    """``"kvasir"`` or ``"nci_isbi"`` under ``root`` (default :func:`gazelib.core.paths.data_root`)."""
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}: choose one of {NAMES}")
    return LOADERS[name](Path(root) if root is not None else data_root())


def open_dataset(name: str, root=None):
    """``load_dataset(name, root)``; for NCI-ISBI without prepared slices, the labels-only ``NciIsbiLabels``."""
    try:
        return load_dataset(name, root)
    except DataMissingError:
        if name != "nci_isbi":
            raise
        return NciIsbiLabels(root if root is not None else data_root())
