"""GazeMedSeg (Zhong et al., MICCAI 2024): one network per pseudo-mask level + cross-level consistency.

Target "pseudo_masks" (B, L, H, W): channel l is the CRF map >= cfg.levels[l]. For level i:

    L_i = BCE(z_i, M_i) + cons_weight * L_cons_i
    L_cons_i = mean_{j != i} -mean_pixels sum_{c in {bg, fg}} q_i(c) * stopgrad(p_j(c))

with q_i = sigmoid(classifier_i(LPP(F_i))) for cons_mode "prop", q_i = p_i for "pure", and no
consistency term for "none" (or a single level). Total loss = sum_i L_i (each network minimises its
own L_i; the stop-gradient keeps the peers out of each other's gradients).
Prediction = mean of the level logits.
"""
from __future__ import annotations

import copy

import torch

from gazelib.core.config import FIELDS
from gazelib.core.losses import bce_with_logits
from gazelib.core.methods import Method, in_channels, require
from gazelib.core.networks import build_backbone
from gazelib.papers.gazemedseg.loss import consistency_loss
from gazelib.papers.gazemedseg.network import MultiLevelNet

CONSISTENCY_MODES = ("prop", "pure", "none")
#: The authors' training loop (their ``trainers/base.py``, ``utils/util.py``, ``datasets/``): cosine stepped
#: once per epoch, images resized without antialiasing (MONAI 1.1 ``Resized``), the last partial batch kept
#: (a ``DataLoader`` without ``drop_last``). The ``paper`` preset trains with it; the CPU profiles keep
#: gazelib's own per-iteration loop (the defaults), which at their few epochs (12 under ``laptop``)
#: changes the lr smoothly instead of in a dozen steps, and keeps the records they were measured with.
AUTHORS_LOOP = {"schedule": "cosine_epoch", "resize_antialias": False, "drop_last": False}
OWN_LOOP = {key: FIELDS[key].default for key in AUTHORS_LOOP}


class GazeMedSeg(Method):
    name = "gazemedseg"
    targets = ("pseudo_masks",)
    # quick: one network per level learns more slowly (results/quick_recipe/)
    recipe = {"paper": AUTHORS_LOOP, "quick": {"iterations": 300, **OWN_LOOP}}

    def networks(self, cfg):
        return len(cfg.levels)

    def build(self, cfg):
        if not cfg.levels:
            raise ValueError("gazemedseg needs at least one level in cfg.levels")
        # as the authors: every level network starts from one initialisation (deepcopy), and the
        # classifier and LPP work on the output of a linear 1x1 feature conv (MONAI's final_conv)
        first = build_backbone(cfg, in_channels(cfg), 1, final_conv=True)
        nets = [first] + [copy.deepcopy(first) for _ in cfg.levels[1:]]
        return MultiLevelNet(nets, cfg.cons_mode, cfg.lpp_kernel, cfg.lpp_dilation, cfg.lpp_impl)

    def loss(self, out, batch, cfg):
        logits = out["logits"]
        masks = require(batch, "pseudo_masks", len(logits))
        probs = [torch.sigmoid(z.float()) for z in logits]
        use_cons = cfg.cons_mode != "none" and len(logits) > 1
        if use_cons and cfg.cons_mode == "prop" and "prop_logits" not in out:
            raise ValueError("cons_mode 'prop' needs the model's 'prop_logits' (built with cons_mode='prop', in train mode)")
        total, logs = 0.0, {}
        for i, z in enumerate(logits):
            bce = bce_with_logits(z, masks[:, i:i + 1])
            total = total + bce
            logs[f"bce_{i}"] = bce.detach()
            if use_cons:
                q = torch.sigmoid(out["prop_logits"][i].float()) if cfg.cons_mode == "prop" else probs[i]
                cons = consistency_loss(q, [p for j, p in enumerate(probs) if j != i])
                total = total + cfg.cons_weight * cons
                logs[f"cons_{i}"] = cons.detach()
        return total, logs

    def predict(self, out):
        return torch.stack(out["logits"]).mean(0)

