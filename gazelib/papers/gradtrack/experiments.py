"""GradTrack's ablation grids: Table 2 (truncation, TA location), Fig. 4(a) components, Fig. 4(b) tau."""
from __future__ import annotations

from gazelib.experiments.grids import TRIMMED, Experiment, default_label, grid_overrides
from gazelib.papers.gradtrack.method import COMPONENTS
from gazelib.report.summary import Claim, chain, versus

TABLE2 = [
    Experiment("Truncation w/o", "gradtrack", ("truncation=none",)),
    Experiment("Truncation sequential", "gradtrack", ("truncation=sequential",)),
    Experiment("TA Enc. + Dec.", "gradtrack", ("ta_location=both",)),
    Experiment("TA Enc.", "gradtrack", ("ta_location=encoder",)),
    Experiment("TA Dec. (GradTrack)", "gradtrack"),
]
#: What each Fig. 4(a) component run keeps (``method.COMPONENTS``), for figure titles.
COMPONENT_TITLES = {"#1": "#1: 0.7 mask only", "#2": "#2: + track maps", "#3": "#3: + TA modules",
                    "#4": "#4: full (truncated G)"}
TAUS = (0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5)
#: What the ``experiments.TRIMMED`` profiles keep of each sweep.
TRIMMED_POINTS = {"components": (1, 4), "taus": (0.05, 0.25, 0.5)}


def ablations(profile: str) -> dict[str, list[Experiment]]:
    """Table 2, Fig. 4(a) components and Fig. 4(b) tau sweep for ``profile``; the default run (reverse
    truncation, TA in the decoder, #4, tau = 0.25) is shared by all three."""
    trimmed = profile in TRIMMED
    components = TRIMMED_POINTS["components"] if trimmed else COMPONENTS
    taus = TRIMMED_POINTS["taus"] if trimmed else TAUS
    shared = grid_overrides(profile)
    return {
        "table2": [Experiment(exp.label, exp.method, (*exp.overrides, *shared)) for exp in TABLE2],
        "components": [Experiment(f"#{k}", "gradtrack", (f"components={k}", *shared)) for k in components],
        "tau": [Experiment(f"τ = {t:g}", "gradtrack", (f"tau={t}", *shared)) for t in taus],
    }


def claims(grids: dict[str, list[Experiment]], dataset: str, profile: str) -> list[Claim]:
    """Table 2 and Fig. 4(b): the paper's choice beats each variant / tau; Fig. 4(a): each component
    adds (#1 < #2 < #3 < #4)."""
    found = []
    for name, source in (("table2", "GradTrack Table 2"), ("tau", "GradTrack Fig. 4(b)")):
        grid = grids[name]
        found += versus(default_label(grid, dataset, profile), [e.label for e in grid], source)
    return found + chain([e.label for e in grids["components"]], "GradTrack Fig. 4(a)")
