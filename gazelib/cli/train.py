"""``gazelib train``, ``gazelib eval`` and ``gazelib rerun`` (heavy imports inside the command functions)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from gazelib.core.config import PRESETS, PROFILES


def add_commands(subparsers) -> None:
    train = subparsers.add_parser("train", help="train one method (resumes; skips a finished run)",
                                  description="Train METHOD; prints the path of the run record, then one line: the "
                                              "method, its Dice (mean over the test images, 95 % bootstrap "
                                              "interval) and the wall time the record holds.")
    train.add_argument("method", help="a registered method: full, vam, vam_crf, gazemedseg, gradtrack, san")
    train.add_argument("--dataset", default="kvasir", choices=["kvasir", "nci_isbi"],
                       help="kvasir (Kvasir-SEG, fetched by gazelib data fetch) or nci_isbi (prepared by "
                            "gazelib data prepare-nci-isbi); default: kvasir")
    train.add_argument("--profile", default="quick", choices=PROFILES,
                       help="the size of the run, as for gazelib reproduce: smoke (CI), quick (live demo, CPU), "
                            "laptop (every image, near the papers, CPU), paper (the papers' settings for --dataset)")
    train.add_argument("--preset", choices=list(PRESETS), help=argparse.SUPPRESS)   # the old spelling, kept working
    train.add_argument("--seed", type=int, default=0,
                       help="random seed of the initialisation, the data order and the augmentation; default: 0")
    train.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                       help="several seeds instead of --seed: trained one after another, or with --stacked together")
    train.add_argument("--stacked", action="store_true",
                       help="train the --seeds as one stacked model (gazelib/core/stacked.py): one kernel launch "
                            "serves every seed; records equal to the runs trained alone up to float rounding")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config field (repeatable), e.g. --set backbone=nnunet")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--retrain", action="store_true",
                       help="train again even if a record exists (e.g. after editing the method's code)")
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser(
        "eval", help="re-evaluate a trained run on its test images; --rescore: add pixel counts to old records",
        description="Re-evaluate a checkpoint (--run); prints the summary as JSON. With --rescore RECORD...: add "
                    "each test image's true/false positive and false negative pixel counts to records written "
                    "before records kept them, from their checkpoints, keeping run id and scores (checked to "
                    "reproduce); lists the records that cannot be rescored (no checkpoint). Exit code 1 when a "
                    "checkpoint does not give its record's scores back.")
    evaluate.add_argument("records", nargs="*", metavar="RECORD",
                          help="with --rescore: run record files or folders of them (e.g. results/runs)")
    evaluate.add_argument("--run", help="run id (results/checkpoints/<run id>/last.pt) or a .pt path")
    evaluate.add_argument("--rescore", action="store_true", help="add pixel counts to the records given")
    evaluate.add_argument("--device", default=None, help="cpu | cuda (default: the run's)")
    evaluate.add_argument("--scores", action="store_true", help="also print the per-image scores")
    evaluate.set_defaults(func=_eval)
    add_rerun(subparsers)


def _train(args: argparse.Namespace) -> int:
    from gazelib.core.config import make_config
    from gazelib.core.config import preset_for
    from gazelib.core.train import train

    from gazelib.core.stacked import train_stacked

    if args.stacked and not args.seeds:
        raise SystemExit("gazelib train: --stacked trains several --seeds together; give --seeds")
    preset = args.preset or preset_for(args.profile, args.dataset)
    cfgs = [make_config(args.method, args.dataset, preset, [f"seed={seed}", *args.overrides])
            for seed in (args.seeds or [args.seed])]
    paths = (train_stacked(cfgs, progress=not args.quiet, retrain=args.retrain) if args.stacked else
             [train(cfg, progress=not args.quiet, retrain=args.retrain) for cfg in cfgs])
    for path in paths:
        print(path)
        print(summary_line(path))
    return 0


def summary_line(path) -> str:
    """One line for the run record at ``path``: method, dataset, seed, preset, mean Dice over the test
    images with its 95 % bootstrap interval (as the results tables compute it) and the wall time."""
    from gazelib.report import stats
    from gazelib.runs.records import read_record

    record = read_record(path)
    dice = stats.seed_averaged({record.seed: {image: s["dice"] for image, s in record.scores.items()}},
                               where=str(path))
    low, high = stats.bootstrap_ci(dice.to_numpy())
    return (f"{record.method} on {record.dataset}, seed {record.seed}, {record.config['preset']}: "
            f"Dice {100 * record.summary['dice_mean']:.1f} % (95 % CI {100 * low:.1f} to {100 * high:.1f}, "
            f"{len(dice)} test images), wall time {record.wall_time_s:.1f} s")


def _eval(args: argparse.Namespace) -> int:
    from gazelib.core.evaluate import evaluate_checkpoint

    if args.rescore or args.records:
        if not (args.rescore and args.records) or args.run:
            raise SystemExit("gazelib eval: give either --run RUN, or --rescore RECORD...")
        return _rescore(args.records, args.device)
    if not args.run:
        raise SystemExit("gazelib eval: give --run RUN (or --rescore RECORD...)")
    result = evaluate_checkpoint(args.run, device=args.device)
    if not args.scores:
        result.pop("scores")
    print(json.dumps(result, indent=1))
    return 0


def _rescore(names: list[str], device: str | None) -> int:
    from tqdm.auto import tqdm

    from gazelib.core.evaluate import CannotRescore, rescore_record
    from gazelib.runs.records import record_files

    done, had, cannot, failed = [], [], [], []
    for path in tqdm(record_files(names), desc="rescore", unit="record"):
        try:
            (done if rescore_record(path, device=device) else had).append(path)
        except CannotRescore as why:
            cannot.append(str(why))
        except ValueError as why:
            failed.append(str(why))
    print(f"{len(done)} record(s) rescored, {len(had)} had pixel counts already, {len(cannot)} cannot be "
          f"rescored, {len(failed)} failed")
    for line in [*(f"cannot rescore: {why}" for why in cannot), *(f"FAILED: {why}" for why in failed)]:
        print(line)
    return 1 if failed else 0


RERUN_DESCRIPTION = ("Train run records again from their stored config into another results folder and "
                     "compare run id, per-image scores, final loss and loss history exactly. Exit code 1 when "
                     "any record differs. A folder that already holds a run it did not train there (the "
                     "records' own folder, say) is refused.")


def add_rerun(subparsers) -> None:
    command = subparsers.add_parser(
        "rerun", help="train run records again and check they reproduce exactly",
        description=RERUN_DESCRIPTION)
    command.add_argument("records", nargs="+", help="run record files or folders of them (e.g. results/runs)")
    command.add_argument("--into", required=True, help="results folder for the new records (resumable)")
    command.add_argument("--preset", help="only the records of this preset, e.g. quick or laptop")
    command.add_argument("--threads", type=int, help="CPU threads for torch (the records' thread count)")
    command.add_argument("--quiet", action="store_true", help="no progress bars")
    command.set_defaults(func=_rerun)


def _rerun(args) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from gazelib.experiments.rerun import LEDGER, read_records, rerun

    records = read_records(args.records, args.preset)
    into = Path(args.into).expanduser().resolve()
    rows = rerun(records, into, progress=not args.quiet)
    same = sum(row["identical"] for row in rows)
    print(f"{same} of {len(rows)} records reproduced exactly ({torch.get_num_threads()} threads); "
          f"report: {into / LEDGER}")
    return 0 if same == len(rows) else 1
