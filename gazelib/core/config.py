"""Run configuration: one flat dataclass (nanoGPT style), named presets, ``key=value`` overrides.

Every field a method reads lives here, so a run record's ``config`` says everything about a run.

A run's configuration is built in three layers (``make_config``):

1. the ``Config`` defaults below;
2. the preset (``PRESETS``: ``smoke``, ``quick``, ``laptop``, ``paper_kvasir``, ``paper_nci_isbi``), which fills in
   per-data-set values (``sigma``, ``beta``, GazeMedSeg ``levels``) and per-method recipes;
3. ``key=value`` overrides, typed from the dataclass field types.
"""
from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, Callable

from gazelib.gaze.heatmap import SIGMA
from gazelib.papers.gazemedseg.pseudo_masks import LEVELS, UNDER_ACTIVATION
from gazelib.papers.gradtrack.track_maps import BETA, TAU


@dataclass
class Config:
    # --- what is trained on what -------------------------------------------------------------
    method: str = "full"               # a registered method: full, vam, vam_crf, gazemedseg, gradtrack, san
    dataset: str = "kvasir"            # kvasir | nci_isbi
    preset: str = "none"               # the preset it was built from; a profile picks one (``experiments.preset_for``:
                                       # paper -> paper_<dataset>; smoke, quick, laptop are presets of their own)
    split: str = "default"             # committed split, or "fold{k}of{K}"
    train_fraction: float = 1.0        # limited-data ratio (selective attention): seeded subset of the train split
    train_limit: int | None = None     # cap on training images (CPU profiles)
    test_limit: int | None = None      # cap on test images (CPU profiles)
    image_size: int = 224

    # --- network -------------------------------------------------------------------------------
    backbone: str = "unet"             # unet (GazeMedSeg's BasicUNet-like) | nnunet (nnU-Net-style)
    features: tuple[int, ...] | None = None   # None: the backbone's paper widths (networks.PAPER_FEATURES)

    # --- optimisation (GazeMedSeg authors' defaults) ---------------------------------------------
    iterations: int = 15000
    batch_size: int = 8
    lr: float = 1e-2
    min_lr: float = 1e-4
    schedule: str = "cosine"           # cosine (GazeMedSeg) | poly (GradTrack, power 0.9)
    momentum: float = 0.99
    nesterov: bool = True
    weight_decay: float = 4e-4
    amp: bool = True                   # bf16 autocast where the device computes bf16 natively (device.amp_enabled)
    channels_last: bool = True         # where it pays: CUDA, or bf16 on the CPU (device.channels_last_enabled)
    compile: bool = False
    seed: int = 0
    device: str = "auto"               # auto | cpu | cuda
    checkpoint_every: int = 500        # iterations between checkpoints (resume after interruption)
    selection: str = "final"           # final | best_on_test (OPTIMISTIC: the authors' test-set choice; gazelib.core.selection)
    selection_every: int = 1000        # best_on_test: iterations between test evaluations (the authors' val_step)

    # --- gaze maps ---------------------------------------------------------------------------------
    sigma: float | None = None         # VAM Gaussian sigma on the 768 canvas; None = per data set (heatmap.SIGMA)

    # --- GazeMedSeg --------------------------------------------------------------------------------
    levels: tuple[float, ...] = LEVELS["kvasir"][2]   # per data set (pseudo_masks.LEVELS, 2 levels)
    cons_mode: str = "prop"            # consistency on: prop = the LPP-propagated predictions (the paper's),
                                       # pure = the plain predictions, none = no consistency term
    cons_weight: float = 3.0
    lpp_kernel: int = 5
    lpp_dilation: int = 2

    # --- GradTrack ---------------------------------------------------------------------------------
    beta: float | None = None          # distance decay; None = per data set (track_maps.BETA)
    tau: float = TAU                   # field-of-view threshold
    lambda1: float = 0.5
    lambda2: float = 0.5
    under_threshold: float = UNDER_ACTIVATION   # conservative VAM_D-CRF threshold for L_VAM
    truncation: str = "reverse"        # reverse | none | sequential
    ta_location: str = "decoder"       # decoder | encoder | both
    components: int = 4                # Fig. 4(a) #1..#4: 1 = L_VAM only; 2 = + GTMG on the final output;
                                       # 3 = + TA modules on 100 % maps; 4 = + truncated 50/75 % maps (GradTrack)
    track: str = "polyline"            # polyline | points

    # --- Selective attention (SAN + AAB) -------------------------------------------------------------
    san_variant: str = "ours"          # the paper's Table 1 columns: backbone | gaze_head (+gaze*) | san_concat
                                       # (+SAN*) | ours_gaze (SAN + AAB, SAN trained on the mask) | ours (SAN + AAB)
    gaze_weight: float = 0.5
    aab_hidden: int = 64
    aab_heads: int = 4


# ------------------------------------------------------------------------------------------------
# Presets
# ------------------------------------------------------------------------------------------------

#: Per-data-set facts, each defined in its paper's module: VAM sigma, GradTrack beta, GazeMedSeg levels.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    name: {"sigma": SIGMA[name], "beta": BETA[name], "levels": LEVELS[name][2]} for name in ("kvasir", "nci_isbi")
}
TRAIN_IMAGES = {"kvasir": 900, "nci_isbi": 789}   # papers' training-set sizes (GradTrack epochs -> iterations)

#: Methods trained with GradTrack's recipe (GradTrack and its VAM / VAM_D-CRF baselines, Table 1).
GRADTRACK_METHODS = ("gradtrack", "vam", "vam_crf")


def _paper(method: str, dataset: str) -> dict[str, Any]:
    """The papers' settings.

    * GazeMedSeg (``gazemedseg``), full supervision (``full``) and SAN (``san``): the GazeMedSeg
      authors' scripts -- SGD momentum 0.99 Nesterov, weight decay 4e-4, lr 1e-2 cosine to 1e-4 over
      15,000 iterations, batch 8, 224 px, BasicUNet-like ``unet`` (64..1024).
      Full supervision is run with both backbones: ``--set backbone=nnunet`` keeps this recipe so the
      two rows differ only in the network.
      SAN: the paper trains with Ranger (lr 1e-4, 210 epochs) inside nnU-Net pipeline A on BraTS;
      Ranger is not in torch, so we use the same SGD recipe as ``full`` on the same backbone -- then
      ``san`` vs ``full`` isolates the gaze branch. Loss = 1 * Dice + 0.5 * gaze BCE (``gaze_weight``).
    * GradTrack, VAM, VAM_D-CRF: SGD, batch 8, lr 0.01, poly decay ``l_t = l_0 (1 - t/T)^0.9`` over
      100 epochs = ``100 * ceil(n_train / 8)`` iterations (11,300 on Kvasir, 9,900 on NCI-ISBI),
      224 px, ``nnunet`` backbone. The paper gives no momentum; nnU-Net (its reference [8], whose
      poly rule it quotes) uses SGD momentum 0.99 Nesterov, weight decay 3e-5 -- we use those.
    """
    settings: dict[str, Any] = dict(iterations=15000, batch_size=8, lr=1e-2, min_lr=1e-4, schedule="cosine",
                                    momentum=0.99, nesterov=True, weight_decay=4e-4, image_size=224,
                                    backbone="unet", features=None, checkpoint_every=500)
    if method in GRADTRACK_METHODS:
        settings.update(iterations=100 * math.ceil(TRAIN_IMAGES[dataset] / 8), schedule="poly",
                        weight_decay=3e-5, backbone="nnunet")
    return settings


#: Iterations under ``quick``: 150, more for the BCE-only objectives, which first sit at the
#: all-background solution (the measurements: ``results/quick_recipe/README.md``).
QUICK_ITERATIONS = {"gazemedseg": 300, "vam": 800, "vam_crf": 800}


def _quick(method: str, dataset: str) -> dict[str, Any]:
    """A laptop-CPU workshop: 64 px, the slim nnU-Net-style network (16..256) for every method,
    200 training images, 100 test images, ``QUICK_ITERATIONS``. The paper recipes (schedule, weight
    decay, losses) are kept except for the optimiser: SGD momentum 0.9 with lr 0.05 instead of 0.99 /
    0.01, which averages the gradient over ~10 steps instead of ~100, for runs of a few hundred
    iterations. Why these values: ``results/quick_recipe/README.md``."""
    settings = _paper(method, dataset)
    settings.update(image_size=64, backbone="nnunet", features=(16, 32, 64, 128, 256),
                    iterations=QUICK_ITERATIONS.get(method, 150), momentum=0.9, lr=0.05,
                    train_limit=200, test_limit=100, checkpoint_every=100)
    return settings


#: Iterations under ``laptop`` (all training images, 64 px, the ``quick`` network and optimiser).
#: The sweep in ``results/laptop_recipe/`` (2-core CPU, seed 0) put the length near 1,600; Table 1
#: with three seeds at 1,600 took 66 minutes from a clean clone, over the 60-minute budget of the
#: profile, so it trains 1,400 (``results/reproduce/README.md``; the 1,600-iteration records, for
#: comparison, are in ``results/laptop_1600/``).
LAPTOP_ITERATIONS = {"full": 1400, "vam": 1400, "vam_crf": 1400, "gazemedseg": 1400, "gradtrack": 1400, "san": 1400}


#: What a preset sets for one backbone only, applied after the overrides (the U-Net row of Table 1
#: chooses its backbone by override) unless the key is overridden too. Under ``laptop`` the slim
#: BasicUNet learns far more slowly with lr 0.05, the rate tuned on the nnU-Net-style net: lr 0.01
#: (``results/laptop_recipe/``).
BACKBONE_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {"laptop": {"unet": {"lr": 0.01}}}


def _laptop(method: str, dataset: str) -> dict[str, Any]:
    """Results near the papers' on a laptop CPU: the ``quick`` recipe (64 px, slim networks,
    momentum 0.9, lr 0.05) on every training and test image, trained long enough to converge
    (``LAPTOP_ITERATIONS``). GradTrack's Table 1 with three seeds is the budget it is sized for."""
    settings = _quick(method, dataset)
    settings.update(iterations=LAPTOP_ITERATIONS[method], train_limit=None, test_limit=None, checkpoint_every=400)
    return settings


def _smoke(method: str, dataset: str) -> dict[str, Any]:
    """CI: seconds per run. 64 px, tiny UNet, 5 iterations on 16 images, 8 test images."""
    settings = _paper(method, dataset)
    settings.update(image_size=64, features=(8, 16, 32, 64, 128), iterations=5, batch_size=4, train_limit=16,
                    test_limit=8, checkpoint_every=1000)
    return settings


PRESETS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "smoke": _smoke,
    "quick": _quick,
    "laptop": _laptop,
    "paper_kvasir": _paper,
    "paper_nci_isbi": _paper,
}
#: The profiles a user chooses (CLI ``--profile``, notebook ``profile``); ``paper`` picks the data set's paper preset.
PROFILES = ("smoke", "quick", "laptop", "paper")
#: Presets tied to one data set (using them on another is an error).
PRESET_DATASET = {"paper_kvasir": "kvasir", "paper_nci_isbi": "nci_isbi"}


# ------------------------------------------------------------------------------------------------
# Overrides
# ------------------------------------------------------------------------------------------------

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_value(text: str, kind: Any) -> Any:
    """Parse ``text`` as a value of the field type ``kind`` (int, float, bool, str, tuples, ``X | None``)."""
    args = typing.get_args(kind)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if text.strip().lower() == "none" and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _parse_value(text, inner)
    if origin is tuple:
        parts = [p for p in text.replace("(", "").replace(")", "").split(",") if p.strip()]
        return tuple(_parse_value(p.strip(), args[0]) for p in parts)
    if kind is bool:
        low = text.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise ValueError(f"expected a boolean (true/false), got {text!r}")
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return text


def apply_overrides(cfg: Config, overrides: list[str] | dict[str, Any] | None) -> Config:
    """Set fields from ``["key=value", ...]`` (typed from the field types) or a dict of typed values.

    Unknown keys and unparsable values raise ``ValueError`` naming the key and listing valid keys.
    """
    hints = typing.get_type_hints(Config)
    if overrides is None:
        return cfg
    items = overrides.items() if isinstance(overrides, dict) else [_split_override(o) for o in overrides]
    for key, value in items:
        if key not in hints:
            raise ValueError(f"unknown config key {key!r}; valid keys: {', '.join(hints)}")
        if isinstance(value, str):
            try:
                value = _parse_value(value, hints[key])
            except ValueError as error:
                raise ValueError(f"bad value for {key} ({hints[key]}): {value!r}: {error}") from None
        setattr(cfg, key, value)
    return cfg


def _split_override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"override {text!r} is not of the form key=value")
    return key.strip(), value.strip()


def make_config(method: str, dataset: str = "kvasir", preset: str = "quick",
                overrides: list[str] | dict[str, Any] | None = None) -> Config:
    """Config for ``method`` on ``dataset``: defaults -> data-set facts -> preset -> overrides -> the
    preset's settings for the chosen backbone (``BACKBONE_SETTINGS``), where not overridden."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    if dataset not in DATASET_DEFAULTS:
        raise ValueError(f"unknown dataset {dataset!r}; datasets: {', '.join(DATASET_DEFAULTS)}")
    if PRESET_DATASET.get(preset, dataset) != dataset:
        raise ValueError(f"preset {preset!r} is for dataset {PRESET_DATASET[preset]!r}, not {dataset!r}")
    cfg = Config(method=method, dataset=dataset, preset=preset)
    apply_overrides(cfg, DATASET_DEFAULTS[dataset])
    apply_overrides(cfg, PRESETS[preset](method, dataset))
    apply_overrides(cfg, overrides)
    for_backbone = BACKBONE_SETTINGS.get(preset, {}).get(cfg.backbone)
    if for_backbone:   # the backbone the overrides chose brings its settings; the overrides still win
        apply_overrides(cfg, for_backbone)
        apply_overrides(cfg, overrides)
    for key, chosen in (("method", method), ("dataset", dataset), ("preset", preset)):
        if getattr(cfg, key) != chosen:   # the preset was filled in for `chosen`: an override would mix recipes
            raise ValueError(f"config key {key} cannot be overridden ({chosen!r} -> {getattr(cfg, key)!r}); "
                             f"choose the {key} as an argument instead")
    return validate(cfg)


def config_from_dict(values: dict[str, Any]) -> Config:
    """Rebuild a Config from ``asdict`` output (e.g. a run record / checkpoint); tuples restored."""
    names = {f.name for f in fields(Config)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; valid keys: {', '.join(sorted(names))}")
    cfg = Config(**values)
    for f in fields(Config):
        value = getattr(cfg, f.name)
        if isinstance(value, list):
            setattr(cfg, f.name, tuple(value))
    return validate(cfg)


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------

CHOICES = {"dataset": tuple(DATASET_DEFAULTS), "schedule": ("cosine", "poly"), "cons_mode": ("prop", "pure", "none"),
           "truncation": ("reverse", "none", "sequential"), "ta_location": ("decoder", "encoder", "both"),
           "track": ("polyline", "points"), "backbone": ("unet", "nnunet"), "device": ("auto", "cpu", "cuda"),
           "san_variant": ("backbone", "gaze_head", "san_concat", "ours_gaze", "ours"), "components": (1, 2, 3, 4)}
#: (low, high, low inclusive, high inclusive); None = unbounded. ``None`` values of optional keys pass.
RANGES = {"iterations": (1, None, True, None), "batch_size": (1, None, True, None),
          "checkpoint_every": (1, None, True, None), "train_limit": (1, None, True, None),
          "test_limit": (1, None, True, None), "train_fraction": (0, 1, False, True),
          "lr": (0, 10, False, True), "min_lr": (0, 10, True, True), "momentum": (0, 1, True, False),
          "weight_decay": (0, 1, True, False), "tau": (0, 1, False, True), "beta": (0, None, False, None),
          "sigma": (0, None, False, None), "under_threshold": (0, 1, False, False),
          "cons_weight": (0, None, True, None), "lambda1": (0, None, True, None), "lambda2": (0, None, True, None),
          "gaze_weight": (0, None, True, None), "lpp_kernel": (1, None, True, None),
          "lpp_dilation": (1, None, True, None), "aab_hidden": (1, None, True, None), "aab_heads": (1, None, True, None),
          "seed": (0, 2**32 - 1, True, True)}   # seeds a torch.Generator and numpy: a 32-bit unsigned range fits both
SAN_MULTIPLE = 16   # SAN pools the input 4x, then twice more by 2


def _range_text(low, high, low_in, high_in) -> str:
    if high is None:
        return f"{'>=' if low_in else '>'} {low}"
    return f"in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"


def validate(cfg: Config) -> Config:
    """Check every value against its allowed range / choices; ``ValueError`` naming the key and range."""
    for f in fields(Config):
        value = getattr(cfg, f.name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"config key {f.name} must be finite, got {value}")
    for key, allowed in CHOICES.items():
        value = getattr(cfg, key)
        if key == "device" and isinstance(value, str) and value.startswith("cuda:"):
            continue
        if value not in allowed:
            raise ValueError(f"config key {key} must be one of {', '.join(map(str, allowed))}; got {value!r}")
    for key, (low, high, low_in, high_in) in RANGES.items():
        value = getattr(cfg, key)
        if value is None:
            continue
        ok = (value >= low if low_in else value > low) and (
            high is None or (value <= high if high_in else value < high))
        if not ok:
            raise ValueError(f"config key {key} must be {_range_text(low, high, low_in, high_in)}; got {value}")
    if cfg.min_lr > cfg.lr:
        raise ValueError(f"config key min_lr must be <= lr ({cfg.lr}); got {cfg.min_lr}")
    if not cfg.levels or not all(0 < level < 1 for level in cfg.levels):
        raise ValueError(f"config key levels must be one or more values each in (0, 1); got {cfg.levels}")
    from gazelib.core.networks import PAPER_FEATURES   # the networks halve the input once per stage after the first
    features = PAPER_FEATURES[cfg.backbone] if cfg.features is None else cfg.features
    if not features or any(f < 1 for f in features):
        raise ValueError(f"config key features must be positive widths; got {cfg.features}")
    multiple = 2 ** (len(features) - 1)
    if cfg.method == "san":
        multiple = max(multiple, SAN_MULTIPLE)
    if cfg.image_size < multiple or cfg.image_size % multiple:
        raise ValueError(f"config key image_size must be a positive multiple of {multiple} "
                         f"(for {len(features)} network stages, method {cfg.method}); got {cfg.image_size}")
    from gazelib.data.splits import FOLD
    if cfg.split not in ("default", "labelled") and not FOLD.fullmatch(cfg.split):
        raise ValueError(f"config key split must be 'default', 'labelled' (nci_isbi) or 'fold<k>of<K>'; "
                         f"got {cfg.split!r}")
    return cfg


def check_profile(profile: str) -> str:
    """``profile`` if it is one of ``PROFILES``; else a ValueError listing them (each lesson checks its
    ``profile`` parameter with it first: papermill's ``-p profile`` is not checked otherwise)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    return profile
