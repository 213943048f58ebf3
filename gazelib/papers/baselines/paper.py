"""What the baseline rows add to the shared core: full supervision (``full``) and the soft-label VAM
rows (``vam``, ``vam_crf``) with their two targets (imported by ``gazelib.papers``, which registers
every paper)."""
from __future__ import annotations

from gazelib.core.methods import register
from gazelib.core.targets import Target, register_target, soft_maps
from gazelib.papers.baselines.full import Full
from gazelib.papers.baselines.vam import SOFT_FLOOR, SoftLabel

# GradTrack's soft labels: the gaze map (kind) with values below SOFT_FLOOR set to 0, resized.
for name, kind in (("vam_soft", "vam"), ("crf_soft", "crf")):
    register_target(Target(name, lambda dataset, ids, cfg, kind=kind: soft_maps(dataset, ids, cfg, kind, SOFT_FLOOR),
                           params=lambda cfg: {"sigma": cfg.sigma}))

FULL = register(Full())
VAM = register(SoftLabel("vam", "vam_soft"))
VAM_CRF = register(SoftLabel("vam_crf", "crf_soft"))
