"""The soft-label diagnosis (gazelib.papers.baselines.soft_labels) on a hand-computed case."""
import pytest
import torch

from gazelib.papers.baselines import soft_labels
from gazelib.papers.baselines.soft_labels import ThresholdAt, fit_to_target, fitted_threshold, mean_dice


def test_fit_to_target_by_hand():
    # one 1x4 "image": truth marks pixels 0-2, the target S marks pixels 0-1 (0.9, 0.5), the network
    # gives p = (0.8, 0.45, 0.35, 0.1): it fits the target's core, drops its edge pixel at 0.5
    truth = torch.tensor([True, True, True, False]).view(1, 1, 1, 4)
    target = torch.tensor([0.9, 0.5, 0.0, 0.0]).view(1, 1, 1, 4)
    p = torch.tensor([0.8, 0.45, 0.35, 0.1]).view(1, 1, 1, 4)
    row = fit_to_target(p, target, truth)
    assert row["target vs truth (Dice %)"] == pytest.approx(100 * 2 * 2 / (2 + 3))      # 80
    assert row["prediction vs target (Dice %)"] == pytest.approx(100 * 2 * 1 / (1 + 2))  # 66.7
    assert row["area ratio (%)"] == pytest.approx(50)
    assert row["p inside target (%)"] == pytest.approx(100 * (0.8 + 0.45) / 2)
    assert row["S inside target (%)"] == pytest.approx(70)
    assert row["prediction vs truth @ 0.5 (Dice %)"] == pytest.approx(100 * 2 * 1 / (1 + 3))   # 50
    assert row["prediction vs truth @ 0.4 (Dice %)"] == pytest.approx(100 * 2 * 2 / (2 + 3))   # 80
    assert row["prediction vs truth @ 0.3 (Dice %)"] == pytest.approx(100 * 2 * 3 / (3 + 3))   # 100


def test_mean_dice_averages_per_image_with_empty_images_scoring_one():
    empty = torch.zeros(1, 1, 2, 2, dtype=torch.bool)
    full = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    assert mean_dice(empty, empty) == 100.0
    assert mean_dice(empty, full) == 0.0
    assert mean_dice(torch.cat([empty, empty]), torch.cat([empty, full])) == 50.0


def test_fitted_threshold_matches_the_target_region_without_the_truth():
    # target region = pixels 0-1; p = (0.8, 0.45, 0.35, 0.1): {p >= t} equals the region exactly for
    # 0.35 < t <= 0.45, i.e. the candidates 0.4 and 0.45; of those the nearest 0.5 is 0.45
    target = torch.tensor([0.9, 0.5, 0.0, 0.0]).view(1, 1, 1, 4)
    p = torch.tensor([0.8, 0.45, 0.35, 0.1]).view(1, 1, 1, 4)
    assert fitted_threshold(p, target) == 0.45


def test_threshold_at_moves_the_decision_of_evaluate():
    class Identity:
        def predict(self, out):
            return out

    logits = torch.logit(torch.tensor([0.8, 0.45, 0.35, 0.1]))
    shifted = ThresholdAt(Identity(), 0.4).predict(logits)
    assert (shifted > 0).tolist() == [True, True, False, False]


def test_fitted_threshold_note_summarises_each_method_over_its_runs():
    import pandas as pd

    table = pd.DataFrame({"method": ["vam", "vam"], "fitted threshold": [0.2, 0.25],
                          "test Dice @ 0.5 (%)": [50.0, 52.0], "test Dice @ fitted (%)": [60.0, 64.0],
                          "p (fitted vs 0.5)": ["<0.001", "0.012"]})
    note = soft_labels.fitted_threshold_note(table)
    # mean ± sample std of (50, 52) and (60, 64): 51.0 ± 1.4 and 62.0 ± 2.8
    assert "VAM 51.0 ± 1.4 → **62.0 ± 2.8** (t = 0.2, 0.25; p = <0.001, 0.012)" in note


def test_the_committed_table_is_shown_only_for_the_runs_it_measured(tmp_path, monkeypatch, capsys):
    import pandas as pd

    committed = tmp_path / "soft_labels.csv"
    monkeypatch.setattr(soft_labels, "COMMITTED", tmp_path / "absent.csv")
    runs = pd.DataFrame({"method": ["full", "vam", "vam_crf"], "run_id": ["f-s0", "v-s0", "c-s0"]})
    assert soft_labels.committed_for(runs) is None
    assert "not measured yet" in capsys.readouterr().out
    monkeypatch.setattr(soft_labels, "COMMITTED", committed)
    pd.DataFrame({"run": ["v-s0", "c-s0"], "method": ["vam", "vam_crf"]}).to_csv(committed, index=False)
    assert list(soft_labels.committed_for(runs)["run"]) == ["v-s0", "c-s0"]
    stale = runs.assign(run_id=["f-s0", "v-s1", "c-s0"])            # another seed: not these runs
    assert soft_labels.committed_for(stale) is None
    out = capsys.readouterr().out
    assert "measures other runs" in out and "python -m gazelib.papers.baselines.soft_labels c-s0 v-s1" in out
