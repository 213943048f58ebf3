"""``gazelib bench`` (``gazelib/ops/bench.py`` does the work)."""
from __future__ import annotations

import argparse

from gazelib.core.config import PROFILES


def add_commands(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="benchmark training/evaluation speed of every method",
                                  description="Time the trainer's step per method and profile; print a table "
                                              "and write results/bench/bench-<device>-<time>.json.")
    bench.add_argument("--device", default="auto", help="auto | cpu | cuda")
    bench.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                       help="subset of: full_unet full_nnunet vam vam_crf gazemedseg gradtrack san (default: all)")
    bench.add_argument("--profiles", nargs="+", default=["paper", "quick"], choices=PROFILES,
                       help="the run sizes to time (default: paper quick)")
    bench.add_argument("--steps", type=int, default=None,
                       help="timed training steps, median reported (default 3 on CUDA, 2 on the CPU)")
    bench.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    bench.add_argument("--eval-images", type=int, default=None, help="default 32 on CUDA, 8 on the CPU")
    bench.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True,
                       help="also time the authors'-style DataLoader fp32 path on gazemedseg (default on)")
    bench.add_argument("--workers", type=int, default=None, help="DataLoader / gaze workers (default: min(4, cpus))")
    bench.add_argument("--gaze", action="store_true", help="also time the full Kvasir-SEG gaze preprocessing")
    bench.add_argument("--concurrent", type=int, default=0, metavar="K",
                       help="also time K training processes at once on the device against one alone "
                            "(several runs per GPU: runs x iterations per second)")
    bench.add_argument("--stacked", type=int, default=0, metavar="N",
                       help="also time N runs trained as one stacked model (the stacked:N engine) against one "
                            "run alone: runs x iterations per second")
    bench.add_argument("--peak-tflops", type=float, default=None, metavar="T",
                       help="the device's peak TFLOP/s for the MFU column (default: GAZELIB_PEAK_TFLOPS, else the "
                            "GPU's from a table of common GPUs, or the CPU's estimated from /proc/cpuinfo)")
    bench.add_argument("--seeds", type=int, default=3, help="seeds of the projected Table 1 time (default 3)")
    bench.add_argument("--lpp", action="store_true",
                       help="time GazeMedSeg's LPP only, loop against fused, per profile -> results/bench/lpp-*.json")
    bench.add_argument("--lpp-batch", type=int, default=None, metavar="B",
                       help="batch of the --lpp feature map (default: the profile's)")
    bench.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="config override for every fast-path run (and --lpp), e.g. --set amp=false")
    bench.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from gazelib.core.config import Config, apply_overrides
    from gazelib.core.device import resolve_device
    from gazelib.ops.bench import ENTRIES, bench_lpp, format_lpp_table, format_table, run_bench, write_record

    overrides = {k: getattr(apply_overrides(Config(), args.overrides), k)
                 for k in (o.partition("=")[0].strip() for o in args.overrides)}
    cpu = resolve_device(Config(device=args.device)).type == "cpu"   # CPU defaults keep `make bench` to minutes
    steps = args.steps or (2 if cpu else 3)
    if args.lpp:
        record = bench_lpp(args.profiles, args.device, steps, args.warmup, args.lpp_batch, overrides)
        print(format_lpp_table(record))
        print(write_record(record))
        return 0
    eval_images = args.eval_images or (8 if cpu else 32)
    record = run_bench(args.device, args.methods or tuple(ENTRIES), args.profiles, steps, args.warmup, eval_images,
                       args.reference, args.gaze, overrides, args.workers, args.concurrent, args.peak_tflops, args.seeds,
                       args.stacked)
    print(format_table(record))
    print(write_record(record))
    return 0
