"""Figure helpers: where scatter labels go."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gazelib.report.plots import label_points  # noqa: E402


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
