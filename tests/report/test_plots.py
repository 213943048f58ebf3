"""Figure helpers: where scatter labels go, where significance marks go, shared colourbars."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gazelib.report.plots import SIGNIFICANCE_KEY, bar_with_reference, label_points, show_map, significance_ticks  # noqa: E402


def test_labels_move_left_of_a_crowded_pair_and_stay_apart():
    fig, ax = plt.subplots()
    ax.set_xlim(40, 100)
    ax.set_ylim(40, 100)
    x, y = [77.8, 81.0, 88.4, 72.2, 73.1], [70.3, 70.5, 78.6, 51.4, 49.5]
    label_points(ax, x, y, ["A", "B", "C", "D", "E"])
    placed = {t.get_text(): (t.get_position(), t.get_horizontalalignment()) for t in ax.texts}
    # A has B just to its right: its label goes left of A; B and C have room on the right
    assert placed["A"][1] == "right" and placed["A"][0][0] < 77.8
    assert placed["B"][1] == "left" and placed["B"][0][0] > 81.0
    assert placed["C"][1] == "left"
    # D has E right next to it: left of D, the leftmost of the pair; E keeps the right side
    assert placed["D"][1] == "right" and placed["D"][0][0] < 72.2 and placed["E"][1] == "left"
    for side in ("left", "right"):
        heights = sorted(pos[1] for pos, ha in placed.values() if ha == side)
        assert all(b - a >= 0.045 * 60 - 1e-9 for a, b in zip(heights, heights[1:]))
    plt.close(fig)


def _ablation():
    """A summarize-like table: two rows against one reference, and the per-seed runs behind it."""
    table = pd.DataFrame({"label": ["one level", "two levels", "three levels each"], "vs": ["two levels", "", "two levels"],
                          "p_value": [0.0004, np.nan, 0.2]})
    runs = pd.DataFrame({"label": np.repeat(table.label, 2), "dice": [40, 42, 50, 52, 49, 53]})
    return table, runs


def test_marks_go_under_the_tick_labels_never_in_the_plot_area():
    table, runs = _ablation()
    fig, ax = plt.subplots()
    bar_with_reference(runs, "label", "dice", ax=ax, table=table)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["one level\n***", "two levels\nreference", "three levels\neach\nn.s."]
    assert not ax.texts   # no annotation inside the axes
    assert SIGNIFICANCE_KEY + " vs two levels" in ax.get_xlabel().replace("\n", " ")
    assert "mean ± sd over seeds" in ax.get_xlabel()
    plt.close(fig)


def test_rows_with_different_references_name_theirs_and_positions_can_be_numbers():
    table = pd.DataFrame({"label": ["A", "B", "C"], "vs": ["", "A", "B"], "p_value": [np.nan, 0.03, 0.004]})
    fig, ax = plt.subplots()
    ax.plot([0.05, 0.25, 0.5], [1, 2, 3])
    significance_ticks(ax, table, positions={"A": 0.05, "B": 0.25, "C": 0.5}, texts={"A": "0.05", "B": "0.25", "C": "0.5"},
                       axis="τ")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.05", "0.25\n* vs A", "0.5\n** vs B"]
    assert list(ax.get_xticks()) == [0.05, 0.25, 0.5]
    assert ax.get_xlabel().splitlines()[0] == "τ"
    plt.close(fig)


def test_maps_can_share_one_colourbar():
    fig, axes = plt.subplots(1, 2)
    image, heat = np.zeros((4, 4, 3)), np.linspace(0, 1, 16).reshape(4, 4)
    show_map(axes[0], image, heat)                        # its own colourbar: a third axes
    assert len(fig.axes) == 3
    shown = show_map(axes[1], image, heat, colorbar=False)
    assert len(fig.axes) == 3 and shown.get_clim() == (0, 1)
    plt.close(fig)
