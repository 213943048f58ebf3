#!/usr/bin/env python3
"""Where GradTrack's gap to its paper comes from, measured in one command of at most 10 minutes on an
offline CUDA machine (run from a pack's code/ after ``tools/gpu/steps.sh setup``):

1. GradTrack trained with ``selection=best_on_test selection_every=500``: its test-Dice trajectory and
   the checkpoint the test split chooses (the GazeMedSeg authors' protocol: optimistic);
2. that checkpoint scored per image (the mean of per-image Dice, gazelib's convention) and pooled (all
   test pixels counted together), at each image's own size and on the training grid (224 px at ``paper``);
3. its predictions on the training images against the track band (``G^100% > 0``), the band united with
   the 0.7 CRF mask (the final output's effective target) and the ground truth: does it fit the band?
4. GradTrack trained on the ground truth in place of every gaze map (``target_source=truth``, an
   oracle): does the pipeline reach full supervision when the target is right?

Both runs train at once, two processes on the one device, each resuming from its checkpoint. When
``--budget`` seconds pass first, they are stopped and the command exits 3: run it again to continue.
Writes ``<out>/diagnose_gradtrack_<profile>.json`` (every number, with the run ids of its records).

    tools/gpu/steps.sh diagnose                        # on the machine (PROFILE=paper, DEVICE=cuda)
    python tools/gpu/diagnose_gradtrack.py --profile smoke --device cpu --every 2 --out DIR   # here
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


import gazelib.papers  # noqa: F401  (registers GradTrack)
from gazelib.core import files, metrics
from gazelib.core.config import make_config, preset_for
from gazelib.core.evaluate import load_checkpoint, predict_logits, predicted_masks
from gazelib.core.targets import build_tensors
from gazelib.papers.target_ceilings import BAND
from gazelib.runs.identity import checkpoint_path, find_record, resolve, select_ids
from gazelib.runs.records import read_record

#: The two runs: overrides on GradTrack's preset.
RUNS = {"best_on_test": ("selection=best_on_test", "selection_every={every}"), "oracle": ("target_source=truth",)}
#: Full supervision with GradTrack's backbone (Table 1's nnU-Net row): the oracle's yardstick, when its record is here.
FULL = ("full", ("backbone=nnunet",))
STOPPED = 3   # exit status when the budget ran out before both runs finished


def dice_both_ways(pred, truth) -> dict:
    """Mean of per-image Dice and pooled Dice (all pixels counted together) of two lists of boolean masks
    (``metrics.mean_dice`` and ``metrics.pooled_dice`` of their pixel counts)."""
    scores = {str(i): metrics.counts(p, t) for i, (p, t) in enumerate(zip(pred, truth))}
    return {"per_image": metrics.mean_dice(scores), "pooled": metrics.pooled_dice(scores), "images": len(scores)}


def train_runs(configs: dict, profile: str, device: str, budget: float, logs: Path) -> bool:
    """Train the runs without a record at once (``gazelib train`` processes); stop them after ``budget``
    seconds (each resumes from its checkpoint next time). True when every record exists."""
    logs.mkdir(parents=True, exist_ok=True)
    running, log_files = {}, []
    for name, cfg in configs.items():
        if find_record(cfg).exists():
            continue
        overrides = [o.format(every=cfg.selection_every) for o in RUNS[name]]
        command = [sys.executable, "-m", "gazelib", "train", "gradtrack", "--profile", profile, "--quiet",
                   "--set", f"device={device}", *[a for o in overrides for a in ("--set", o)]]
        log_files.append(open(logs / f"{name}.log", "w"))
        running[name] = subprocess.Popen(command, stdout=log_files[-1], stderr=subprocess.STDOUT)
    deadline = time.monotonic() + budget
    while any(p.poll() is None for p in running.values()) and time.monotonic() < deadline:
        time.sleep(2)
    stopped = [name for name, process in running.items() if process.poll() is None]
    for name in stopped:
        running[name].terminate()
        running[name].wait()
        print(f"{name}: stopped at the budget; run again to continue from its checkpoint")
    for log in log_files:
        log.close()
    for name, process in running.items():
        if name not in stopped and process.returncode:
            raise RuntimeError(f"{name} failed (exit {process.returncode}): see {logs / f'{name}.log'}")
    return all(find_record(cfg).exists() for cfg in configs.values())


def on_grid(model, method, data, ids, cfg, device, names=("mask",)) -> tuple[list, dict]:
    """Predicted masks on the training grid (logit > 0) and the tensors ``names`` of ``ids``, as numpy."""
    tensors = build_tensors(data, ids, cfg, ("image", *names))
    logits = predict_logits(model, method, tensors["image"], cfg, device)
    return [m[0] for m in (logits > 0).numpy()], {n: t.numpy() for n, t in tensors.items() if n != "image"}


def score_run(cfg, with_training_images: bool) -> dict:
    """A finished run's record and checkpoint scored in every convention above."""
    record = read_record(find_record(cfg))
    model, method, cfg = load_checkpoint(checkpoint_path(record.run_id), device=cfg.device)
    method, data = resolve(cfg, method, None)
    device = next(model.parameters()).device
    train_ids, test_ids = select_ids(data, cfg)
    native = list(predicted_masks(model, method, data, test_ids, cfg))
    pred, grid = on_grid(model, method, data, test_ids, cfg, device)
    out = {"run_id": record.run_id, "record_dice": record.summary["dice_mean"], "selection": record.selection,
           "test_native": dice_both_ways([p for _, p, _ in native], [t for _, _, t in native]),
           f"test_{cfg.image_size}px": dice_both_ways(pred, [m[0] > 0 for m in grid["mask"]])}
    if with_training_images:
        pred, maps = on_grid(model, method, data, train_ids, cfg, device, ("mask", "conservative_mask", "track"))
        band = [t[BAND] > 0 for t in maps["track"]]
        targets = {"band": band, "band_or_mask": [b | (m[0] > 0) for b, m in zip(band, maps["conservative_mask"])],
                   "truth": [m[0] > 0 for m in maps["mask"]]}
        out[f"train_{cfg.image_size}px"] = {f"prediction_vs_{k}": dice_both_ways(pred, v) for k, v in targets.items()}
        out[f"train_{cfg.image_size}px"]["band_vs_truth"] = dice_both_ways(band, targets["truth"])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tools/gpu/diagnose_gradtrack.py", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--every", type=int, default=500, help="iterations between test evaluations (best_on_test)")
    parser.add_argument("--budget", type=float, default=540, help="seconds of training before the runs are stopped")
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON and the runs' logs")
    args = parser.parse_args(argv)
    preset = preset_for(args.profile, "kvasir")
    configs = {name: make_config("gradtrack", "kvasir", preset, [o.format(every=args.every) for o in overrides]
                                 + [f"device={args.device}"]) for name, overrides in RUNS.items()}
    if not train_runs(configs, args.profile, args.device, args.budget, args.out / "logs"):
        return STOPPED
    full = find_record(make_config(FULL[0], "kvasir", preset, [*FULL[1], f"device={args.device}"]))
    result = {"profile": args.profile, "device": args.device,
              "gradtrack_best_on_test": score_run(configs["best_on_test"], with_training_images=True),
              "gradtrack_oracle": score_run(configs["oracle"], with_training_images=False),
              "full_nnunet_record": ({"run_id": full.stem, "dice": read_record(full).summary["dice_mean"]}
                                     if full.exists() else None)}
    path = args.out / f"diagnose_gradtrack_{args.profile}.json"
    files.write_text(path, json.dumps(result, indent=1))
    print(json.dumps(result, indent=1), f"written: {path}", sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
