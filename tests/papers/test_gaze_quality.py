"""Pseudo-label quality scores, the labels-only NCI-ISBI source and the CLI wiring."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from gazelib.cli import gaze as commands
from gazelib.data.nci_isbi import NciIsbiLabels
from gazelib.papers.gaze_quality import binary_scores, image_quality, quality_summary


def test_binary_scores_by_hand():
    mask = np.zeros((4, 4), bool)
    mask[:2] = True                      # 8 pixels
    pred = np.zeros((4, 4), bool)
    pred[1:3] = True                     # 8 pixels, 4 inside
    scores = binary_scores(pred, mask)
    assert scores["dice"] == pytest.approx(0.5) and scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(0.5)
    assert binary_scores(np.zeros_like(mask), mask)["precision"] == 0


def test_image_quality_thresholds_and_track_coverage():
    mask = np.zeros((2, 5), bool)
    mask[:, :2] = True                                       # 4 pixels
    crf = np.array([[0.9, 0.6, 0.45, 0.3, 0.1]] * 2)
    tracks = np.array([[[0.5, 0, 0, 0, 0]] * 2, [[0.5, 0.4, 0.3, 0, 0]] * 2])
    row = image_quality(mask, crf, tracks, (0.5, 1.0), crf=crf, levels=(0.5, 0.3))
    assert row["crf>0.5 dice"] == pytest.approx(1.0)
    assert row["crf>=0.3 precision"] == pytest.approx(4 / 8)           # >= keeps the 0.3 column
    assert row["crf>=0.7 recall"] == pytest.approx(2 / 4)
    assert row["track50 coverage"] == pytest.approx(0.5) and row["track50 inside"] == pytest.approx(1.0)
    assert row["track100 coverage"] == pytest.approx(1.0) and row["track100 inside"] == pytest.approx(4 / 6)
    assert quality_summary(__import__("pandas").DataFrame([row, row])).loc["track100 inside", "mean"] == pytest.approx(4 / 6)


def test_nci_isbi_masks_come_from_the_transposed_label_slice(mirror):
    from gazelib.data.nci_isbi import read_label

    labels = NciIsbiLabels(mirror)
    assert len(labels.ids) == 789
    id = next(i for i in labels.ids if i.startswith("Prostate3T-01-0001_"))
    volume = read_label(mirror / "nci-isbi" / "labels" / "Prostate3T-01-0001.nrrd")[0]
    k = int(id.rsplit("_", 1)[1])
    mask = labels.mask(id)
    np.testing.assert_array_equal(mask, volume[:, :, k - 1].T > 0)
    assert mask.any() and mask.shape == (labels.scanpath(id).height, labels.scanpath(id).width)
    with pytest.raises(FileNotFoundError, match="not available"):
        labels.image(id)


def test_cli_registers_gaze_cache_and_quality():
    parser = argparse.ArgumentParser()
    commands.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["gaze", "quality", "--dataset", "nci_isbi", "--crf-scale", "0.5"])
    assert args.func is commands._quality and args.crf_scale == 0.5
    assert parser.parse_args(["gaze", "cache", "--dataset", "kvasir", "--kinds", "vam"]).kinds == ["vam"]


def test_compare_flags_mean_differences_against_the_tolerance(tmp_path):
    import pandas as pd

    from gazelib.papers.gaze_quality import compare

    pd.DataFrame({"id": ["a", "b"], "crf>0.5 dice": [0.8, 0.6]}).to_csv(tmp_path / "x_per_image.csv", index=False)
    pd.DataFrame({"id": ["b", "a"], "crf>0.5 dice": [0.6, 0.808]}).to_csv(tmp_path / "y.5_per_image.csv", index=False)
    report = compare(tmp_path, "x", "y.5")
    text = report.read_text()
    assert "0.0040" in text and "True" in text       # mean moves by 0.008 / 2 = 0.004 < 0.005


class _LabelsOnly:
    """Three images' gaze and masks, no image files (so no crf map), named like Kvasir."""
    name, has_images = "kvasir", False

    def __init__(self, ids=("a", "b", "c")):
        from gazelib.data.fixations import Scanpath

        self.ids = list(ids)
        self._paths = {id: Scanpath(id, np.array([0.3, 0.6]), np.array([0.4, 0.5]), np.array([200.0, 300.0]),
                                    np.array([0.0, 300.0]), 20, 24) for id in self.ids}

    def scanpath(self, id):
        return self._paths[id]

    def mask(self, id):
        return np.pad(np.ones((8, 8), bool), ((6, 6), (8, 8)))


def test_a_committed_record_is_read_only_when_it_is_of_today_s_parameters_and_all_images(tmp_path):
    import json

    from gazelib.papers.gaze_quality import committed, quality, write_quality

    data = _LabelsOnly()
    assert committed(tmp_path, data) is None                              # nothing committed
    table, provenance = quality(data, workers=1, progress=False)
    write_quality(table, provenance, tmp_path, "kvasir")
    read, read_provenance = committed(tmp_path, data)
    assert read.index.tolist() == ["a", "b", "c"] and read_provenance["n_images"] == 3
    np.testing.assert_allclose(read.to_numpy(), table.to_numpy(), atol=1e-6)   # written with 6 decimals
    assert committed(tmp_path, _LabelsOnly(("a", "b"))) is None         # of other images
    record = tmp_path / "kvasir_summary.json"
    other = json.loads(record.read_text())
    other["params"]["vam"]["sigma"] = 20.0
    record.write_text(json.dumps(other))
    assert committed(tmp_path, data) is None                              # of other parameters
    record.write_text("{")
    with pytest.raises(ValueError, match="kvasir_summary.json .* not a quality record"):
        committed(tmp_path, data)
