"""Result tables as a reader sees them: plain headers with units, one interval column, no index."""
from __future__ import annotations

import numpy as np
import pandas as pd

from gazelib.report.tables import readable, readable_frame, readable_runs, write_table


def _summary() -> pd.DataFrame:
    """Two rows as ``summary.summarize`` writes them (machine names, raw numbers)."""
    return pd.DataFrame({"label": ["VAM", "GradTrack"], "seeds": [3.0, 3.0], "dice_mean": [52.44, 69.66],
                         "dice_std": [0.51, np.nan], "dice_ci_low": [47.61, 65.52], "dice_ci_high": [57.24, 73.68],
                         "hd95_mean": [134.74, 120.0], "vs": ["", "VAM"], "delta": [np.nan, 17.22],
                         "p_value": [np.nan, 0.0004]})


def test_readable_frame_human_headers_and_one_interval_column():
    shown = readable_frame(_summary())
    assert list(shown.columns) == ["setting", "seeds", "Dice (%)", "std over seeds (%)", "95% CI of Dice (%)",
                                   "HD95 (px)", "compared with", "Δ Dice (points)", "p"]
    assert shown.iloc[0].tolist() == ["VAM", "3", "52.4", "0.5", "[47.6,\u00a057.2]", "134.7", "", "", ""]
    assert shown.iloc[1].tolist() == ["GradTrack", "3", "69.7", "", "[65.5,\u00a073.7]", "120.0", "VAM", "17.2", "<0.001"]


def test_readable_hides_the_index_and_files_keep_machine_names(tmp_path):
    html = readable(_summary()).to_html()
    assert "<th" in html and ">0</th>" not in html and ">1</th>" not in html   # no row-number column
    assert ">Dice (%)</th>" in html
    csv, md = write_table(_summary(), "t", root=tmp_path)
    assert pd.read_csv(csv).columns.tolist() == _summary().columns.tolist()
    assert md.read_text().splitlines()[0].startswith("| setting | seeds | Dice (%) | std over seeds (%) | 95% CI")


def test_readable_runs_scores_in_percent_and_no_record_path():
    runs = pd.DataFrame({"label": ["VAM"], "method": ["vam"], "seed": [0], "run_id": ["vam-kvasir-1-2-s0"],
                         "dice": [0.5244], "iou": [0.3961], "hd95": [134.74], "device": ["cpu"],
                         "record": ["/somewhere/results/runs/vam-kvasir-1-2-s0.json"]})
    shown = readable_runs(runs)
    assert shown.data.columns.tolist() == ["setting", "seed", "run id", "Dice (%)", "IoU (%)", "HD95 (px)", "device"]
    assert shown.data.iloc[0].tolist() == ["VAM", "0", "vam-kvasir-1-2-s0", "52.4", "39.6", "134.7", "cpu"]
    assert ">0</th>" not in shown.to_html()


def test_readable_frame_leaves_out_a_label_that_repeats_the_method():
    table = pd.DataFrame({"method": ["VAM", "GradTrack"], "label": ["VAM", "GradTrack"], "supervision": ["Gaze"] * 2})
    assert readable_frame(table).columns.tolist() == ["method", "supervision"]
    table.loc[1, "label"] = "GradTrack (TA Dec.)"
    assert readable_frame(table).columns.tolist() == ["method", "setting", "supervision"]
