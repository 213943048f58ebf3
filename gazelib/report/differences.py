"""Where gazelib differs from the papers (and from the GazeMedSeg authors' code), said once.

Every lesson ends with ``show_differences("NN")``: the entries below whose ``lessons`` name it.
Add a difference here, never in a notebook, so the lessons cannot disagree with each other. The
entries on the GazeMedSeg authors' training loop (schedule, image resize, last batch) are generated
from the config (``authors_loop_differences``): one per key whose default differs from the authors'.
"""
from __future__ import annotations

from dataclasses import dataclass

import gazelib.papers  # noqa: F401  (registers the methods whose presets the generated entries read)
from gazelib.core.config import FIELDS, LAPTOP_ITERATIONS, PROFILES, make_config, preset_for
from gazelib.data.base import DATASETS
from gazelib.experiments.grids import GRID_ITERATIONS
from gazelib.papers.gazemedseg.method import AUTHORS_LOOP


@dataclass(frozen=True)
class Difference:
    topic: str
    paper: str          # what the paper / the authors' code does
    here: str           # what gazelib does, and the switch where there is one
    lessons: tuple[str, ...]
    measured: str = ""  # a committed record measuring the difference, if any (path from the repo root)


ALL = ("01", "02", "03", "04", "05", "06")
TRAINED = ("02", "03", "04", "05", "06")

#: What each key of the authors' loop means in their code, and under gazelib's default.
LOOP_MEANING = {
    "schedule": ("Cosine lr set once per epoch (`total_epoch = max_ite // batches + 1`); the counter is raised after "
                 "the hook, so epochs 1 and 2 both run at epoch 1's rate.",
                 "cosine lr set every iteration"),
    "resize_antialias": ("Images resized bilinearly without antialiasing (MONAI 1.1 `Resized`).",
                         "images resized bilinearly with antialiasing"),
    "drop_last": ("A `DataLoader` without `drop_last`: each epoch's last partial batch is trained on.",
                  "each epoch's last partial batch dropped"),
}


def summed_lr_gap(iterations: int, dataset: str = "kvasir") -> float:
    """How much larger (%) the lr summed over ``iterations`` is under the authors' per-epoch cosine than
    under the per-iteration one (GazeMedSeg's ``paper`` recipe, every training image of ``dataset``)."""
    from gazelib.core.train import batches_per_epoch, learning_rate

    theirs = make_config("gazemedseg", dataset, preset_for("paper", dataset), [f"iterations={iterations}"])
    ours = make_config("gazemedseg", dataset, preset_for("paper", dataset), [f"iterations={iterations}", "schedule=cosine"])
    batches = batches_per_epoch(DATASETS[dataset].train_images, theirs.batch_size, theirs.drop_last)
    summed = [sum(learning_rate(cfg, it, batches) for it in range(iterations)) for cfg in (theirs, ours)]
    return 100 * (summed[0] / summed[1] - 1)


def _schedule_gap() -> str:
    lengths = (make_config("gazemedseg", "kvasir", "paper_kvasir").iterations, LAPTOP_ITERATIONS, GRID_ITERATIONS["laptop"])
    return (" On Kvasir-SEG the authors' rates, summed, are larger by "
            + ", ".join(f"{summed_lr_gap(n):.1f} % over {n:,} iterations" for n in lengths) + ".")


def authors_loop_differences() -> tuple[Difference, ...]:
    """One entry per key of the GazeMedSeg authors' loop (``gazemedseg.method.AUTHORS_LOOP``) whose default
    differs from theirs, naming the profiles whose GazeMedSeg runs use the default."""
    entries = []
    for key, theirs in AUTHORS_LOOP.items():
        default = FIELDS[key].default
        if default == theirs:
            continue
        ours = [p for p in PROFILES if getattr(make_config("gazemedseg", "kvasir", preset_for(p, "kvasir")), key) != theirs]
        entries.append(Difference(
            f"GazeMedSeg training loop: `{key}`", LOOP_MEANING[key][0],
            f"`{key}={default}` by default ({LOOP_MEANING[key][1]}; GazeMedSeg under "
            f"{', '.join(f'`{p}`' for p in ours) or 'no profile'}); `{key}={theirs}` is the authors' behaviour, "
            f"which GazeMedSeg's `paper` preset uses." + (_schedule_gap() if key == "schedule" else ""),
            ("02", "03", "06")))
    return tuple(entries)


DIFFERENCES = (
    Difference("Profile size",
               "224 px, full-width networks, 10,000-15,000 iterations on a GPU.",
               "`paper` runs the papers' recipes; `laptop` / `quick` / `smoke` shrink images, widths and "
               "iterations and use SGD momentum 0.9, lr 0.05 (0.01 for the BasicUNet under `laptop`; see "
               "`gazelib.core.config`), so their numbers are not the papers' numbers. That recipe and `quick`'s "
               "lengths were chosen by the test Dice of seed-0 runs (no validation split): slightly "
               "optimistic for those profiles; `laptop`'s lengths were set by its time budget on 2 cores "
               "(`results/reproduce/README.md`). Under `laptop` the ablation lessons (03-05) train each run "
               f"{GRID_ITERATIONS['laptop']:,} iterations (`experiments.GRID_ITERATIONS`), Table 1 "
               f"{LAPTOP_ITERATIONS:,}.", TRAINED,
               "results/laptop_recipe/README.md"),
    Difference("Train/test split (Kvasir-SEG)",
               "900 / 100 images; the authors' split file is not public.",
               "A seeded 900 / 100 split committed in `gazelib/data/splits/kvasir.json`: the test images differ "
               "from the papers'.", TRAINED),
    Difference("Checkpoint that is scored",
               "The GazeMedSeg authors evaluate on the test split every 1,000 iterations and report the best "
               "checkpoint (optimistic: the test set chooses the model). GradTrack does not say.",
               "The final model (`selection=final`, the default). `selection=best_on_test` mimics the authors "
               "(interval `selection_every`); such rows are labelled optimistic.", ("02", "03", "04", "06")),
    Difference("Uncertainty",
               "Mean ± std over three seeds; no test between methods.",
               "Mean ± std over seeds, a 95 % bootstrap interval over test images and a paired Wilcoxon test "
               "per comparison (`gazelib.report.stats`).", TRAINED),
    Difference("Precision",
               "GPU training; the GazeMedSeg authors' fp16 autocast is optional (`--fp16`).",
               "bf16 autocast only where the device computes it natively, fp32 otherwise (every CPU profile "
               "on an AVX2 CPU); the record's `precision` says which.", TRAINED),
    Difference("Dense CRF resolution",
               "The authors refine the VAM with a dense CRF at the image's size.",
               "The CRF runs at half size (`gaze.cache`, `scale=0.5`): measured < 0.0014 change in any mean "
               "pseudo-mask score over all Kvasir images; `scale=1.0` gives the exact setting.", ("01", "03")),
    Difference("GradTrack optimiser",
               "SGD, lr 0.01, poly decay; momentum and weight decay not given.",
               "nnU-Net's SGD momentum 0.99 Nesterov, weight decay 3e-5 (the reference whose poly rule the "
               "paper quotes).", ("02", "04")),
    Difference("VAM soft label",
               "\"Normalized soft labels\" (GradTrack Table 1 baselines), not defined further.",
               "The map with values below 0.5 set to 0 (`papers/baselines/vam.py` `SOFT_FLOOR`), trained with BCE; predictions are "
               "thresholded at 0.5 like every other method (the paper names no threshold). How far the trained "
               "networks fall inside their own target, and their test Dice at a threshold fitted to that target "
               "on the training images (no ground truth), is measured by `python -m gazelib.papers.baselines.soft_labels`.",
               ("02", "06"),
               "results/laptop_recipe/tables/soft_labels.md"),
    Difference("GradTrack TA positions",
               "After decoder blocks 2 and 4 of a 6-block decoder.",
               "By output stride (16 and 4): nnU-Net's 224 px plan has 5 decoder blocks; slimmer nets use "
               "their deepest block for stride 16 (`gradtrack.track_attention`).", ("04",)),
    Difference("GradTrack component #3",
               "\"#3 extends #2 by using the TA module\"; #4 adds the reverse-truncated maps.",
               "#3 = both TA modules, each taught by the untruncated map G^100%, so #3 -> #4 changes only "
               "the truncation.", ("04",)),
    Difference("GradTrack maps on the training grid",
               "Eq. (2) cuts the track map at tau; the code is not public.",
               "Track maps are computed directly on the S x S training grid (beta in pixels of 224), so the "
               "tau cut-off stays sharp (no resizing of the map).", ("01", "04"),
               "results/fidelity/preprocessing_kvasir_64.md"),
    Difference("Pseudo-mask resizing",
               "The GazeMedSeg authors resize the soft CRF map bilinearly (MONAI, no antialiasing) and "
               "threshold it afterwards.",
               "The same; GradTrack's 0.7 mask is made the same way (its code is not public).", ("01", "03", "04"),
               "results/fidelity/preprocessing_kvasir_224.md"),
    Difference("GazeMedSeg network",
               "MONAI BasicUNet with a 128-channel 1x1 `final_conv`, classifier and LPP on its output; every "
               "level network a copy of one initialisation; an unused `head` module in the authors' UNet.",
               "The same layout (`final_conv` on every GazeMedSeg level network, whatever the backbone; "
               "level networks deep-copied); the unused `head` is left out.", ("03",)),
    Difference("GazeMedSeg level sets on NCI-ISBI",
               "The authors' code gives 1-5-level threshold sets for Kvasir-SEG, only the 2-level set (0.2, 0.4) "
               "for NCI-ISBI.",
               "The NCI-ISBI 1-, 3-, 4-, 5-level sets are ours, built by the rule of the Kvasir sets "
               "(`gazemedseg.pseudo_masks.LEVELS`).", ("01", "03")),
    Difference("Selective attention: data, dimension, optimiser",
               "BraTS 2020 (3D) with the authors' gaze, nnU-Net pipeline A, Ranger lr 1e-4 for 210 epochs.",
               "Kvasir-SEG (2D) with the GazeMedSeg gaze, the same SGD recipe as full supervision (Ranger is "
               "not in torch), so `san` against `full` isolates the gaze branch; the 3D path runs on synthetic "
               "volumes only.", ("05",)),
    Difference("Mask resize (full supervision)",
               "The GazeMedSeg authors resize the training masks with MONAI's `nearest` (torch `nearest`: the "
               "top-left neighbour of each output pixel's corner).",
               "`nearest-exact` (the neighbour of each output pixel's centre), which does not shift the mask by "
               "up to one input pixel.", ("02",)),
    Difference("Augmentation",
               "GradTrack trains with nnU-Net as its backbone; nnU-Net's pipeline augments heavily (rotation, "
               "scaling, elastic deformation, gamma, mirroring). The GazeMedSeg authors flip on both axes.",
               "Flips on both axes (`augment=flips`, the default) for every method; `augment=nnunet` adds "
               "nnU-Net-style rotation, scaling, a light elastic deformation and gamma on the device "
               "(`gazelib.core.augment`).", ("02", "04")),
) + authors_loop_differences()


def differences(lesson: str) -> list[Difference]:
    """The differences a lesson (``"01"`` .. ``"06"``) lists."""
    if lesson not in ALL:
        raise ValueError(f"unknown lesson {lesson!r}; lessons: {', '.join(ALL)}")
    return [d for d in DIFFERENCES if lesson in d.lessons]


def render(lesson: str) -> str:
    """The lesson's differences as a Markdown table."""
    lines = ["| | the paper | gazelib |", "|---|---|---|"]
    lines += [f"| **{d.topic}** | {d.paper} | {d.here}" + (f" Measured: [`{d.measured}`](../{d.measured})." if d.measured else "")
              + " |" for d in differences(lesson)]
    return "### Where this differs from the paper\n\n" + "\n".join(lines) + "\n"


def show_differences(lesson: str) -> None:
    """Display ``render(lesson)`` in a notebook (the last cell of every lesson)."""
    from IPython.display import Markdown, display

    display(Markdown(render(lesson)))
