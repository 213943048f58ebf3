"""Run configuration: one flat dataclass (nanoGPT style), named presets, ``key=value`` overrides.

Every field a method reads lives here, so a run record's ``config`` says everything about a run.
Presets (``smoke``, ``quick``, ``paper_kvasir``, ``paper_nci_isbi``) are defined in ``PRESETS`` below.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    # --- what is trained on what -------------------------------------------------------------
    method: str = "full"               # a registered method: full, vam, vam_crf, gazemedseg, gradtrack, san
    dataset: str = "kvasir"            # kvasir | nci_isbi
    split: str = "default"             # committed split, or "fold{k}of{K}"
    train_fraction: float = 1.0        # limited-data ratio (selective attention): seeded subset of the train split
    train_limit: int | None = None     # cap on training images (CPU profiles)
    test_limit: int | None = None      # cap on test images (CPU profiles)
    image_size: int = 224

    # --- network -------------------------------------------------------------------------------
    backbone: str = "unet"             # unet (GazeMedSeg's BasicUNet-like) | nnunet (nnU-Net-style)
    features: tuple[int, ...] = (64, 128, 256, 512, 1024)

    # --- optimisation (GazeMedSeg authors' defaults) ---------------------------------------------
    iterations: int = 15000
    batch_size: int = 8
    lr: float = 1e-2
    min_lr: float = 1e-4
    schedule: str = "cosine"           # cosine (GazeMedSeg) | poly (GradTrack, power 0.9)
    momentum: float = 0.99
    nesterov: bool = True
    weight_decay: float = 4e-4
    amp: bool = True                   # bf16 autocast where the device supports it
    channels_last: bool = True
    compile: bool = False
    seed: int = 0
    device: str = "auto"               # auto | cpu | cuda
    checkpoint_every: int = 500        # iterations between checkpoints (resume after interruption)

    # --- gaze maps (GuIDE section 3) -------------------------------------------------------------
    sigma: float | None = None         # VAM Gaussian sigma on the 768 canvas; None = per data set (70 / 50)

    # --- GazeMedSeg --------------------------------------------------------------------------------
    levels: tuple[float, ...] = (0.5, 0.3)
    cons_mode: str = "prop"            # prop | pure | none
    cons_weight: float = 3.0
    lpp_kernel: int = 5
    lpp_dilation: int = 2

    # --- GradTrack ---------------------------------------------------------------------------------
    beta: float | None = None          # distance decay; None = per data set (10 / 15)
    tau: float = 0.25                  # field-of-view threshold
    lambda1: float = 0.5
    lambda2: float = 0.5
    under_threshold: float = 0.7       # conservative VAM_D-CRF threshold for L_VAM
    truncation: str = "reverse"        # reverse | none | sequential
    ta_location: str = "decoder"       # decoder | encoder | both
    components: int = 4                # Fig. 4(a) ablation #1..#4
    track: str = "polyline"            # polyline | points

    # --- Selective attention (SAN + AAB) -------------------------------------------------------------
    san_variant: str = "ours"          # backbone | gaze_head | san_concat | ours_gaze | ours
    gaze_weight: float = 0.5
    aab_hidden: int = 64
    aab_heads: int = 4
