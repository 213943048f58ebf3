"""What GazeMedSeg adds to the shared core: its config keys, its method and its pseudo-mask target
(imported by ``gazelib.papers``, which registers every paper). Its gaze maps, the heatmap and its
dense-CRF refinement, are shared by every paper (``gazelib.gaze``)."""
from __future__ import annotations

from gazelib.core.config import Field, register_fields
from gazelib.core.methods import register
from gazelib.core.targets import Target, register_target
from gazelib.papers.gazemedseg.lpp import IMPLS as LPP_IMPLS
from gazelib.papers.gazemedseg.method import CONSISTENCY_MODES, GazeMedSeg
from gazelib.papers.gazemedseg.pseudo_masks import LEVELS, pseudo_mask_tensor


def _levels_problem(levels) -> str | None:
    return None if levels and all(0 < level < 1 for level in levels) else "one or more values each in (0, 1)"


register_fields(
    "gazemedseg",
    # per data set (pseudo_masks.LEVELS, 2 levels)
    Field("levels", tuple[float, ...], LEVELS["kvasir"][2], per_dataset={d: LEVELS[d][2] for d in LEVELS},
          check=_levels_problem),
    # consistency on: prop = the LPP-propagated predictions (the paper's), pure = the plain predictions,
    # none = no consistency term
    Field("cons_mode", str, "prop", choices=CONSISTENCY_MODES),
    Field("cons_weight", float, 3.0, range=(0, None, True, None)),
    Field("lpp_kernel", int, 5, range=(1, None, True, None)),
    Field("lpp_dilation", int, 2, range=(1, None, True, None)),
    # how LPP is computed, not what: "loop" (25 shifted views, the records') or "fused" (one unfold;
    # equal to float rounding, lpp.py); a new key, so in the run id only when set to "fused"
    Field("lpp_impl", str, "loop", choices=LPP_IMPLS),
)


register_target(Target("pseudo_masks", lambda dataset, ids, cfg: pseudo_mask_tensor(dataset, ids, cfg, cfg.levels), binary=True, channels=lambda cfg: len(cfg.levels),
                       params=lambda cfg: {"sigma": cfg.sigma, "levels": list(cfg.levels)}))
GAZEMEDSEG = register(GazeMedSeg())
