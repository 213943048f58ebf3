"""The lesson figures draw what the run records hold, not something else."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from gazelib.report.lesson_figures import loss_curves, predictions_vs_truth
from gazelib.runs.records import encode_mask, write_record
from tests.runs.test_records import sound_record


def _record(run_id: str, seed: int, history, masks) -> str:
    record = sound_record(f"full-kvasir-{run_id}-s{seed}", method="full", seed=seed,
                          config={"method": "full", "dataset": "kvasir", "seed": seed, "iterations": 2},
                          loss_history=history, qualitative={k: encode_mask(m) for k, m in masks.items()})
    return str(write_record(record))


def test_loss_curves_plot_each_labels_history_of_the_smallest_seed(tmp_path):
    runs = pd.DataFrame({"label": ["a", "a", "b"], "seed": [1, 0, 0], "record": [
        _record("r1", 1, [[1, 9.0], [2, 8.0]], {}),
        _record("r0", 0, [[1, 0.5], [2, 0.25]], {}),
        _record("r2", 0, [[5, 0.7]], {})]})
    ax = loss_curves(runs)
    lines = {line.get_label(): np.column_stack(line.get_data()) for line in ax.get_lines()}
    assert set(lines) == {"a", "b"}
    np.testing.assert_array_equal(lines["a"], [[1, 0.5], [2, 0.25]])
    np.testing.assert_array_equal(lines["b"], [[5, 0.7]])


def test_predictions_need_an_image_every_record_keeps(tmp_path):
    mask = np.zeros((3, 4), dtype=bool)
    runs = pd.DataFrame({"label": ["a", "b"], "seed": [0, 0], "record": [
        _record("p0", 0, [], {"img1": mask}), _record("p1", 0, [], {"img2": mask})]})
    with pytest.raises(ValueError, match="no qualitative mask of a common image"):
        predictions_vs_truth(runs, dataset=None)


class _OneImage:
    """A data set of one 3 x 4 image and its mask, as ``predictions_vs_truth`` reads it."""

    def image(self, image_id):
        return np.zeros((3, 4, 3))

    def mask(self, image_id):
        return np.zeros((3, 4), dtype=bool)


def test_prediction_columns_say_what_each_run_is(tmp_path):
    mask = np.zeros((3, 4), dtype=bool)
    runs = pd.DataFrame({"label": ["#1", "#4"], "seed": [0, 0], "record": [
        _record("q0", 0, [], {"img1": mask}), _record("q1", 0, [], {"img1": mask})]})
    fig = predictions_vs_truth(runs, _OneImage(), titles={"#1": "#1: 0.7 mask only"})
    assert [ax.get_title() for ax in fig.axes] == ["ground truth", "#1: 0.7 mask only", "#4"]
