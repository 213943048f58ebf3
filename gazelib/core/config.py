"""Run configuration: one flat set of keys (nanoGPT style), named presets, ``key=value`` overrides.

Every key a method reads is a config key, so a run record's ``config`` says everything about a run.
The core declares its own keys below (``CORE_FIELDS``); each paper declares its keys with defaults,
choices, ranges and per-data-set values in its own folder and registers them (``register_fields``),
so a paper brings its whole configuration and the core names none of them.

A run's configuration is built in three layers (``make_config``):

1. the field defaults, then each field's per-data-set value (``Field.per_dataset``);
2. the preset (``PRESETS``: ``smoke``, ``quick``, ``laptop``, ``paper_kvasir``, ``paper_nci_isbi``), a
   chain of steps; at each step the core's settings (``STEPS``) and then the method's (``Method.recipe``);
3. ``key=value`` overrides, typed from the field types.
"""
from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from gazelib.core.methods import get_method
from gazelib.data.base import DATASETS
from gazelib.data.splits import FOLD
from gazelib.gaze.heatmap import SIGMA


@dataclass(frozen=True)
class Field:
    """One config key: its type, default, and what values it allows."""
    name: str
    kind: Any                                  # int, float, str, bool, tuple[float, ...], X | None
    default: Any
    choices: tuple = ()                        # allowed values, if a closed set
    range: tuple | None = None                 # (low, high, low inclusive, high inclusive); None = unbounded
    per_dataset: Mapping[str, Any] | None = None   # the value per data set, set before the preset
    check: Callable[[Any], str | None] | None = None   # further rule: the error text, or None when fine
    owner: str = "core"                        # who declared it (the core or a paper)


#: Every config key, in record order: the core's, then each paper's as it registers.
FIELDS: dict[str, Field] = {}


def register_fields(owner: str, *fields: Field) -> None:
    """Add a paper's config keys (names are unique across the core and every paper)."""
    for f in fields:
        if f.name in FIELDS:
            raise ValueError(f"config key {f.name!r} of {owner} is already declared by {FIELDS[f.name].owner}")
        FIELDS[f.name] = Field(**{**f.__dict__, "owner": owner})


#: The backbones' paper widths: GazeMedSeg's BasicUNet; nnU-Net's plan for 224x224 2D (32..512, capped).
PAPER_FEATURES = {"unet": (64, 128, 256, 512, 1024), "nnunet": (32, 64, 128, 256, 512, 512)}
UNBOUNDED_POSITIVE = (1, None, True, None)
CORE_FIELDS = (
    # --- what is trained on what -------------------------------------------------------------
    Field("method", str, "full"),            # a registered method (core.methods)
    Field("dataset", str, "kvasir", choices=tuple(DATASETS)),
    Field("preset", str, "none"),            # the preset it was built from; a profile picks one (``preset_for``)
    Field("split", str, "default"),          # committed split, "labelled" (NCI-ISBI) or "fold{k}of{K}"
    Field("train_fraction", float, 1.0, range=(0, 1, False, True)),   # limited-data ratio: seeded subset
    Field("train_limit", int | None, None, range=UNBOUNDED_POSITIVE),  # cap on training images (CPU profiles)
    Field("test_limit", int | None, None, range=UNBOUNDED_POSITIVE),   # cap on test images (CPU profiles)
    Field("image_size", int, 224),
    # --- network -------------------------------------------------------------------------------
    Field("backbone", str, "unet", choices=tuple(PAPER_FEATURES)),   # GazeMedSeg's BasicUNet-like | nnU-Net-style
    Field("features", tuple[int, ...] | None, None),   # None: the backbone's paper widths (PAPER_FEATURES)
    # --- optimisation (GazeMedSeg authors' defaults) ---------------------------------------------
    Field("iterations", int, 15000, range=UNBOUNDED_POSITIVE),
    Field("batch_size", int, 8, range=UNBOUNDED_POSITIVE),
    Field("lr", float, 1e-2, range=(0, 10, False, True)),
    Field("min_lr", float, 1e-4, range=(0, 10, True, True)),
    Field("schedule", str, "cosine", choices=("cosine", "poly")),   # cosine (GazeMedSeg) | poly (power 0.9)
    Field("momentum", float, 0.99, range=(0, 1, True, False)),
    Field("nesterov", bool, True),
    Field("weight_decay", float, 4e-4, range=(0, 1, True, False)),
    Field("amp", bool, True),                # bf16 autocast where the device computes bf16 natively
    Field("channels_last", bool, True),      # where it pays: CUDA, or bf16 on the CPU
    Field("compile", bool, False),
    Field("seed", int, 0, range=(0, 2**32 - 1, True, True)),   # seeds a torch.Generator and numpy: 32-bit unsigned
    Field("device", str, "auto", choices=("auto", "cpu", "cuda")),   # also "cuda:N"
    Field("checkpoint_every", int, 500, range=UNBOUNDED_POSITIVE),   # iterations between checkpoints
    Field("selection", str, "final"),        # final | best_on_test (OPTIMISTIC: core.selection)
    Field("selection_every", int, 1000),     # best_on_test: iterations between test evaluations
    # final: also score the test split every k iterations (0 = never), for the OPTIMISTIC best-on-test
    # value beside the reported final one (core.selection); the scored checkpoint stays the final one
    Field("test_every", int, 0, range=(0, None, True, None)),
    # --- gaze maps ---------------------------------------------------------------------------------
    # VAM Gaussian sigma on the 768 canvas, per data set (gaze.heatmap.SIGMA)
    Field("sigma", float | None, None, range=(0, None, False, None), per_dataset=SIGMA),
)
register_fields("core", *CORE_FIELDS)


class Config:
    """The values of every declared config key (``FIELDS``), as attributes.

    ``Config(**values)``: the defaults, with ``values`` set; an unknown key is an error naming the
    valid ones. ``to_dict()`` gives the plain dict a record stores."""

    def __init__(self, **values: Any):
        _check_known(values)
        for name, f in FIELDS.items():
            object.__setattr__(self, name, values.get(name, f.default))

    def __setattr__(self, name: str, value: Any) -> None:
        _check_known({name: value})
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:   # only for keys declared after this config was made
        if name in FIELDS:
            return FIELDS[name].default
        raise AttributeError(f"config has no key {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "Config(" + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ")"


def _check_known(values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; valid keys: {', '.join(FIELDS)}")


# ------------------------------------------------------------------------------------------------
# Presets
# ------------------------------------------------------------------------------------------------

def _paper(dataset: str) -> dict[str, Any]:
    """The papers' settings.

    * GazeMedSeg (``gazemedseg``), full supervision (``full``) and SAN (``san``): the GazeMedSeg
      authors' scripts -- SGD momentum 0.99 Nesterov, weight decay 4e-4, lr 1e-2 cosine to 1e-4 over
      15,000 iterations, batch 8, 224 px, BasicUNet-like ``unet`` (64..1024).
      Full supervision is run with both backbones: ``--set backbone=nnunet`` keeps this recipe so the
      two rows differ only in the network.
    * Methods with a recipe of their own add it (``Method.recipe``): GradTrack and its VAM / VAM_D-CRF
      baselines train with GradTrack's (``papers/gradtrack/recipe.py``).
    """
    return dict(iterations=15000, batch_size=8, lr=1e-2, min_lr=1e-4, schedule="cosine", momentum=0.99,
                nesterov=True, weight_decay=4e-4, image_size=224, backbone="unet", features=None,
                checkpoint_every=500)


def _quick(dataset: str) -> dict[str, Any]:
    """A laptop-CPU workshop: 64 px, the slim nnU-Net-style network (16..256) for every method,
    200 training images, 100 test images, 150 iterations (more for the methods whose recipe says so:
    the BCE-only objectives first sit at the all-background solution). The paper recipes (schedule,
    weight decay, losses) are kept except for the optimiser: SGD momentum 0.9 with lr 0.05 instead of
    0.99 / 0.01, which averages the gradient over ~10 steps instead of ~100, for runs of a few hundred
    iterations. Why these values: ``results/quick_recipe/README.md``."""
    return dict(image_size=64, backbone="nnunet", features=(16, 32, 64, 128, 256), iterations=150, momentum=0.9,
                lr=0.05, train_limit=200, test_limit=100, checkpoint_every=100)


#: Iterations under ``laptop`` (all training images, 64 px, the ``quick`` network and optimiser).
#: The sweep in ``results/laptop_recipe/`` (2-core CPU, seed 0) put the length near 1,600; Table 1
#: with three seeds at 1,600 took 66 minutes from a clean clone, over the 60-minute budget of the
#: profile, so it trains 1,400 (``results/reproduce/README.md``; the 1,600-iteration records, for
#: comparison, are in ``results/laptop_1600/``).
LAPTOP_ITERATIONS = 1400


def _laptop(dataset: str) -> dict[str, Any]:
    """Results near the papers' on a laptop CPU: the ``quick`` recipe (64 px, slim networks,
    momentum 0.9, lr 0.05) on every training and test image, trained long enough to converge
    (``LAPTOP_ITERATIONS``). GradTrack's Table 1 with three seeds is the budget it is sized for."""
    return dict(iterations=LAPTOP_ITERATIONS, train_limit=None, test_limit=None, checkpoint_every=400)


def _smoke(dataset: str) -> dict[str, Any]:
    """CI: seconds per run. 64 px, tiny UNet, 5 iterations on 16 images, 8 test images."""
    return dict(image_size=64, features=(8, 16, 32, 64, 128), iterations=5, batch_size=4, train_limit=16,
                test_limit=8, checkpoint_every=1000)


#: The core's settings of each preset step.
STEPS: dict[str, Callable[[str], dict[str, Any]]] = {"paper": _paper, "quick": _quick, "laptop": _laptop,
                                                     "smoke": _smoke}
#: Each preset as its chain of steps (``laptop`` is ``quick`` on every image, trained longer).
PRESETS: dict[str, tuple[str, ...]] = {
    "smoke": ("paper", "smoke"),
    "quick": ("paper", "quick"),
    "laptop": ("paper", "quick", "laptop"),
    "paper_kvasir": ("paper",),
    "paper_nci_isbi": ("paper",),
}
#: The profiles a user chooses (CLI ``--profile``, notebook ``profile``); ``paper`` picks the data set's paper preset.
PROFILES = ("smoke", "quick", "laptop", "paper")
#: Presets tied to one data set (using them on another is an error).
PRESET_DATASET = {"paper_kvasir": "kvasir", "paper_nci_isbi": "nci_isbi"}

#: What a preset sets for one backbone only, applied after the overrides (the U-Net row of Table 1
#: chooses its backbone by override) unless the key is overridden too. Under ``laptop`` the slim
#: BasicUNet learns far more slowly with lr 0.05, the rate tuned on the nnU-Net-style net: lr 0.01
#: (``results/laptop_recipe/``).
BACKBONE_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {"laptop": {"unet": {"lr": 0.01}}}


def check_profile(profile: str) -> str:
    """``profile`` if it is one of ``PROFILES``, else a ``ValueError`` listing them."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    return profile


def preset_for(profile: str, dataset: str) -> str:
    """``paper`` means the paper preset of the data set; ``smoke``, ``quick`` and ``laptop`` are shared."""
    return f"paper_{dataset}" if check_profile(profile) == "paper" else profile


def preset_settings(method: str, preset: str, dataset: str) -> dict[str, Any]:
    """The settings of ``preset`` for ``method`` on ``dataset``: each step's core settings, then the method's."""
    spec = get_method(method)
    settings: dict[str, Any] = {}
    for step in PRESETS[preset]:
        settings.update(STEPS[step](dataset))
        settings.update(spec.settings(step, dataset))
    return settings


def dataset_defaults(dataset: str) -> dict[str, Any]:
    """The per-data-set values of every key that has them (VAM sigma, GradTrack beta, GazeMedSeg levels, ...)."""
    return {f.name: f.per_dataset[dataset] for f in FIELDS.values() if f.per_dataset and dataset in f.per_dataset}


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
    if overrides is None:
        return cfg
    items = overrides.items() if isinstance(overrides, dict) else [_split_override(o) for o in overrides]
    for key, value in items:
        if key not in FIELDS:
            raise ValueError(f"unknown config key {key!r}; valid keys: {', '.join(FIELDS)}")
        if isinstance(value, str):
            try:
                value = _parse_value(value, FIELDS[key].kind)
            except ValueError as error:
                raise ValueError(f"bad value for {key} ({FIELDS[key].kind}): {value!r}: {error}") from None
        setattr(cfg, key, value)
    return cfg


def _split_override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"override {text!r} is not of the form key=value")
    return key.strip(), value.strip()


def make_config(method: str, dataset: str = "kvasir", preset: str = "quick",
                overrides: list[str] | dict[str, Any] | None = None) -> Config:
    """Config for ``method`` on ``dataset``: defaults -> data-set values -> preset -> overrides -> the
    preset's settings for the chosen backbone (``BACKBONE_SETTINGS``), where not overridden."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; datasets: {', '.join(DATASETS)}")
    if PRESET_DATASET.get(preset, dataset) != dataset:
        raise ValueError(f"preset {preset!r} is for dataset {PRESET_DATASET[preset]!r}, not {dataset!r}")
    cfg = Config(method=method, dataset=dataset, preset=preset)
    apply_overrides(cfg, dataset_defaults(dataset))
    apply_overrides(cfg, preset_settings(method, preset, dataset))
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
    """Rebuild a Config from ``to_dict`` output (e.g. a run record / checkpoint); tuples restored."""
    cfg = Config(**values)
    for name, value in cfg.to_dict().items():
        if isinstance(value, list):
            setattr(cfg, name, tuple(value))
    return validate(cfg)


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------

def _range_text(low, high, low_in, high_in) -> str:
    if high is None:
        return f"{'>=' if low_in else '>'} {low}"
    return f"in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"


def _in_range(value, low, high, low_in, high_in) -> bool:
    return (value >= low if low_in else value > low) and (high is None or (value <= high if high_in else value < high))


def validate(cfg: Config) -> Config:
    """Check every value against its allowed range / choices; ``ValueError`` naming the key and range."""
    for name, f in FIELDS.items():
        value = getattr(cfg, name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"config key {name} must be finite, got {value}")
        if f.choices and value not in f.choices and not (name == "device" and str(value).startswith("cuda:")):
            raise ValueError(f"config key {name} must be one of {', '.join(map(str, f.choices))}; got {value!r}")
        if f.range and value is not None and not _in_range(value, *f.range):
            raise ValueError(f"config key {name} must be {_range_text(*f.range)}; got {value}")
        problem = f.check(value) if f.check else None
        if problem:
            raise ValueError(f"config key {name} must be {problem}; got {value}")
    if cfg.min_lr > cfg.lr:
        raise ValueError(f"config key min_lr must be <= lr ({cfg.lr}); got {cfg.min_lr}")
    features = PAPER_FEATURES[cfg.backbone] if cfg.features is None else cfg.features
    if not features or any(f < 1 for f in features):
        raise ValueError(f"config key features must be positive widths; got {cfg.features}")
    # the networks halve the input once per stage after the first; a method may need more
    multiple = max(2 ** (len(features) - 1), get_method(cfg.method).input_multiple)
    if cfg.image_size < multiple or cfg.image_size % multiple:
        raise ValueError(f"config key image_size must be a positive multiple of {multiple} "
                         f"(for {len(features)} network stages, method {cfg.method}); got {cfg.image_size}")
    if cfg.split not in ("default", "labelled") and not FOLD.fullmatch(cfg.split):
        raise ValueError(f"config key split must be 'default', 'labelled' (nci_isbi) or 'fold<k>of<K>'; "
                         f"got {cfg.split!r}")
    return cfg
