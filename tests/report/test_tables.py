"""Result tables as a reader sees them: plain headers with units, one interval column, no index."""
from __future__ import annotations

import numpy as np
import pandas as pd

from gazelib.report.tables import readable, readable_frame, write_table


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
    assert shown.iloc[0].tolist() == ["VAM", "3", "52.4", "0.5", "[47.6, 57.2]", "134.7", "", "", ""]
    assert shown.iloc[1].tolist() == ["GradTrack", "3", "69.7", "", "[65.5, 73.7]", "120.0", "VAM", "17.2", "<0.001"]


def test_readable_hides_the_index_and_files_keep_machine_names(tmp_path):
    html = readable(_summary()).to_html()
    assert "<th" in html and ">0</th>" not in html and ">1</th>" not in html   # no row-number column
    assert ">Dice (%)</th>" in html
    csv, md = write_table(_summary(), "t", root=tmp_path)
    assert pd.read_csv(csv).columns.tolist() == _summary().columns.tolist()
    assert md.read_text().splitlines()[0].startswith("| setting | seeds | Dice (%) | std over seeds (%) | 95% CI")
