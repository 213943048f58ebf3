"""The experiment grids: the papers' grids under `paper`, a subset of them under `quick`, and the
shared default run appearing once as the same config in every grid of a notebook."""
from __future__ import annotations

import pandas as pd
import pytest

from gazelib.core.config import preset_for
from gazelib.experiments import grids as experiments
from gazelib.papers import table1
from gazelib.ops import readme
from gazelib.papers.gazemedseg import experiments as gazemedseg_experiments
from gazelib.papers.gradtrack import experiments as gradtrack_experiments
from gazelib.papers.selective_attention import experiments as san_experiments
from gazelib.core.config import make_config
from gazelib.runs.identity import config_key


def _ids(grid, profile, dataset="kvasir"):
    preset = preset_for(profile, dataset)
    return {e.label: config_key(make_config(e.method, dataset, preset, list(e.overrides))) for e in grid}


def test_paper_grids_are_the_papers():
    gms = gazemedseg_experiments.ablations("kvasir", "paper")
    assert [e.label for e in gms["levels"]] == ["1 level", "2 levels", "3 levels", "4 levels", "5 levels"]
    assert [e.label for e in gms["consistency"]] == ["no consistency", "pure", "prop (LPP)"]
    assert [e.label for e in gms["weight"]] == ["λ = 0.5", "λ = 1", "λ = 3", "λ = 5"]
    gt = gradtrack_experiments.ablations("paper")
    assert [e.label for e in gt["tau"]] == [f"τ = {t:g}" for t in (0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5)]
    assert [e.label for e in gt["components"]] == ["#1", "#2", "#3", "#4"]
    san = san_experiments.table("paper")
    cells = {(e.label, e.overrides[1]) for e in san}
    assert len(san) == len(cells) == 20
    assert ("ours", "train_fraction=0.3") in cells


@pytest.mark.parametrize("name", ["levels", "consistency", "weight"])
def test_quick_gazemedseg_grid_is_a_subset_with_the_default(name):
    quick = _ids(gazemedseg_experiments.ablations("kvasir", "quick")[name], "quick")
    paper = gazemedseg_experiments.ablations("kvasir", "paper")[name]
    assert set(quick) < {e.label for e in paper}
    default = config_key(make_config("gazemedseg", "kvasir", "quick"))
    assert default in quick.values()   # the Table 1 run is one point of every grid


@pytest.mark.parametrize("name", ["table2", "components", "tau"])
def test_quick_gradtrack_grids_share_the_table1_run(name):
    quick = _ids(gradtrack_experiments.ablations("quick")[name], "quick")
    assert set(quick) <= {e.label for e in gradtrack_experiments.ablations("paper")[name]}
    assert config_key(make_config("gradtrack", "kvasir", "quick")) in quick.values()


def test_quick_san_table_keeps_both_ends():
    quick = san_experiments.table("quick")
    cells = {(e.label, e.overrides[1]) for e in quick}
    assert cells <= {(e.label, e.overrides[1]) for e in san_experiments.table("paper")}
    assert {label for label, ratio in cells if ratio == "train_fraction=0.2"} == set(san_experiments.VARIANTS)
    assert {("Backbone", "train_fraction=0.7"), ("ours", "train_fraction=0.7")} <= cells


@pytest.mark.parametrize("profile", ["quick", "laptop", "paper"])
def test_each_ablation_is_compared_with_its_grids_default(profile):
    gms = gazemedseg_experiments.ablations("kvasir", profile)
    assert [experiments.default_label(gms[n], "kvasir", profile) for n in ("levels", "consistency", "weight")] == [
        "2 levels", "prop (LPP)", "λ = 3"]
    gt = gradtrack_experiments.ablations(profile)
    assert experiments.against_default(gt["table2"], "kvasir", profile) == {
        label: "TA Dec. (GradTrack)" for label in ("Truncation w/o", "Truncation sequential", "TA Enc. + Dec.", "TA Enc.")}
    assert experiments.default_label(gt["tau"], "kvasir", profile) == "τ = 0.25"
    assert experiments.default_label(gt["components"], "kvasir", profile) == "#4"


def test_laptop_lesson_grids_are_shorter_than_table1():
    grids = [*gazemedseg_experiments.ablations("kvasir", "laptop").values(),
             *gradtrack_experiments.ablations("laptop").values(), san_experiments.table("laptop")]
    lengths = {make_config(e.method, "kvasir", "laptop", list(e.overrides)).iterations for grid in grids for e in grid}
    assert lengths == {250}
    assert make_config("gradtrack", "kvasir", "laptop").iterations == 1400   # Table 1 keeps its length
    quick = gradtrack_experiments.ablations("quick")["tau"]
    assert all(not any(o.startswith("iterations=") for o in e.overrides) for e in quick)


def test_table1_rows_are_compared_with_the_next_weaker_row():
    assert table1.table1_comparisons() == {"VAM_D-CRF": "VAM", "GazeMedSeg": "VAM_D-CRF", "GradTrack": "GazeMedSeg",
                                                "U-Net": "GradTrack", "nnU-Net": "U-Net"}
    assert set(table1.TABLE1_ORDER) == {e.label for e in table1.TABLE1}
    assert san_experiments.comparisons([0.2])["ours (0.2)"] == "Backbone (0.2)"


def test_readme_block_shows_mean_std_ci_p_and_paper(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd

    path = tmp_path / "README.md"
    path.write_text(f"intro\n{readme.README_START}\nold\n{readme.README_END}\nend\n")
    monkeypatch.setattr(readme, "README", path)
    measured = pd.DataFrame({"label": ["VAM", "VAM_D-CRF"], "seeds": [3, 3], "dice_mean": [70.04, 72.51],
                             "dice_std": [0.52, 0.61], "dice_ci_low": [66.0, 68.93], "dice_ci_high": [74.1, 76.0],
                             "vs": ["", "VAM"], "p_value": [np.nan, 0.0004], "device": ["cpu", "cpu"]})
    verdicts = pd.DataFrame([{"claim": "VAM_D-CRF > VAM", "source": "GradTrack Table 1", "delta": 2.47,
                              "p_value": 0.0004, "n_images": 100, "verdict": "supported"}])
    ledger = pd.DataFrame({"row": ["VAM", "VAM_D-CRF"], "pooled": [np.nan, 75.04], "ceiling": [74.3, np.nan]})
    readme.update_readme(table1.table1_layout(measured, "kvasir", "laptop"), "kvasir", "laptop", "f.png",
                         verdicts, ledger=ledger)
    text = path.read_text()
    assert text.startswith("intro\n") and text.endswith("end\n") and "old" not in text
    row = next(line for line in text.splitlines() if line.startswith("| VAM_D-CRF"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:9] == ["VAM_D-CRF", "Gaze", "72.5 ± 0.6", "[68.9, 76.0]", "<0.001 vs VAM", "73.1 ± 0.6", "-0.6",
                         "75.0", "—"]
    vam = next(line for line in text.splitlines() if line.startswith("| VAM "))
    assert [c.strip() for c in vam.strip("|").split("|")][7:9] == ["—", "74.3"]   # pooled, ceiling
    assert "**VAM_D-CRF > VAM** (GradTrack Table 1): **supported** (Δ = +2.5 Dice points, p <0.001, 100 test images)" in text
    quoted = next(line for line in text.splitlines() if line.startswith("| PointSup"))
    assert [c.strip() for c in quoted.strip("|").split("|")][2:9] == ["", "", "", "73.0 ± 1.6", "", "", ""]
    assert "3 seeds per row" in text


def test_run_grids_trains_the_union_once_then_reads_each_grid(monkeypatch):
    calls = []

    def fake_run_grid(grid, profile, dataset, seeds, device="auto", train=True, retrain=None, engine=None,
                      report=True):
        calls.append(([e.label for e in grid], train))
        return [e.label for e in grid]

    monkeypatch.setattr(experiments, "run_grid", fake_run_grid)
    grids = gradtrack_experiments.ablations("quick")
    out = experiments.run_grids(grids, "quick", "kvasir", [0])
    # one training batch: Table 2's five runs, #1 and the two other taus; #4 and tau = 0.25 are the
    # default run already in Table 2, so they are not trained twice
    assert calls[0] == (["Truncation w/o", "Truncation sequential", "TA Enc. + Dec.", "TA Enc.",
                         "TA Dec. (GradTrack)", "#1", "τ = 0.05", "τ = 0.5"], True)
    assert calls[1:] == [([e.label for e in grid], False) for grid in grids.values()]
    assert out["tau"] == ["τ = 0.05", "τ = 0.25", "τ = 0.5"]
    calls.clear()
    experiments.run_grids(grids, "quick", "kvasir", [0], train=False)
    assert [train for _, train in calls] == [False, False, False]


def test_table1_scores_the_test_split_where_listed_and_other_profiles_keep_their_runs():
    assert table1.TABLE1_TEST_EVERY == {"quick": 50, "laptop": 100}
    laptop = table1.table1_grid("laptop")
    assert [e.label for e in laptop] == [e.label for e in table1.TABLE1]
    assert all(e.overrides[-1] == "test_every=100" for e in laptop)
    assert all(make_config(e.method, "kvasir", "laptop", list(e.overrides)).selection == "final" for e in laptop)
    for profile in ("smoke", "paper"):   # their run ids stay as they are
        assert _ids(table1.table1_grid(profile), profile) == _ids(table1.TABLE1, profile)
    assert _ids(laptop, "laptop") != _ids(table1.TABLE1, "laptop")


def test_augmentation_grid_pairs_each_augmented_row_with_its_table1_run():
    grid = table1.augmentation_grid("laptop")
    keys = _ids(grid, "laptop")
    table1_keys = _ids(table1.table1_grid("laptop"), "laptop")
    for augmented, plain in table1.augmentation_comparisons().items():
        assert keys[plain] == table1_keys[plain]           # the flips-only side is Table 1's own record
        plain_cfg = make_config(*next((e.method, "kvasir", "laptop", list(e.overrides)) for e in grid if e.label == plain))
        aug_cfg = make_config(*next((e.method, "kvasir", "laptop", list(e.overrides)) for e in grid if e.label == augmented))
        differ = {k for k, v in aug_cfg.to_dict().items() if plain_cfg.to_dict()[k] != v}
        assert differ == {"augment"} and aug_cfg.augment == "nnunet"


def test_augmentation_reading_follows_the_numbers():
    from gazelib.experiments.augmentation import reading

    def table(deltas, ps):
        rows = [{"label": f"{r}{table1.AUGMENTED}", "vs": r, "delta": d, "p_value": p, "seeds": 3}
                for r, d, p in zip(table1.AUGMENTED_ROWS, deltas, ps)]
        return pd.DataFrame(rows + [{"label": r, "vs": "", "delta": float("nan"), "p_value": float("nan"), "seeds": 3}
                                    for r in table1.AUGMENTED_ROWS])

    text = reading(table([1.5, 2.0, 0.3], [0.01, 0.001, 0.04]))
    assert "* VAM + nnU-Net augmentation: +2.0 Dice points against VAM (paired Wilcoxon p 0.001" in text
    assert "helps every row" in text
    mixed = reading(table([1.5, -2.0, 0.3], [0.01, 0.001, 0.2]))
    assert "It helps 1 of 3 rows" in mixed and "default stays `augment=flips`" in mixed
