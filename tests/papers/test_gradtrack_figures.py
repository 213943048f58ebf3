"""GradTrack's lesson figure of track maps: the maps eq. (2) gives, under one shared colourbar."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from gazelib.data.fixations import Scanpath  # noqa: E402
from gazelib.papers.gradtrack.figures import track_panels  # noqa: E402
from gazelib.papers.gradtrack.track_maps import track_map  # noqa: E402

PARAMS = {"beta": 3.0, "tau": 0.25, "truncation": "reverse", "track": "polyline", "grid": [20, 30]}


class _TwoImages:
    def image(self, image_id):
        return np.zeros((20, 30, 3))

    def scanpath(self, image_id):
        x = np.array([0.2, 0.5, 0.8]) if image_id == "a" else np.array([0.8, 0.5, 0.2])
        return Scanpath(image_id, x, np.array([0.3, 0.5, 0.7]), np.ones(3), np.array([0.0, 1.0, 2.0]), 20, 30)


def test_track_panels_draw_each_ratios_map_with_one_colourbar():
    ratios = (0.5, 1.0)
    fig = track_panels(_TwoImages(), ["a", "b"], PARAMS, ratios)
    assert len(fig.axes) == 2 * (1 + len(ratios)) + 1            # the panels and one colourbar
    assert fig.axes[-1].get_ylabel() == "track map value"
    overlay = fig.axes[2].get_images()[-1].get_array()              # row 0, G^100%
    expected = track_map(_TwoImages().scanpath("a"), 20, 30, 1.0, 3.0, 0.25, "reverse", "polyline", (20, 30))
    assert 0 < (expected > 0).mean() < 1                                # a map, not all or nothing
    np.testing.assert_allclose(overlay, expected)
    assert [ax.get_title() for ax in fig.axes[:3]] == ["scanpath", r"$G^{50\%}$", r"$G^{100\%}$"]
