"""``gazelib gaze cache | quality``."""
from __future__ import annotations

from pathlib import Path


def add_commands(subparsers) -> None:
    gaze = subparsers.add_parser("gaze", help="gaze maps (VAM, CRF, track, SAN) and their quality")
    commands = gaze.add_subparsers(dest="gaze_command", required=True)

    build = commands.add_parser("cache", help="compute the gaze maps of a data set once (parallel, cached)")
    _common(build)
    build.add_argument("--kinds", nargs="+", default=["vam", "crf", "track", "san"],
                       choices=["vam", "crf", "track", "san"],
                       help="which maps: vam (attention map), crf (its dense-CRF refinement), track (GradTrack's "
                            "track maps), san (the SAN gaze target); default: all four")
    build.set_defaults(func=_cache)

    quality = commands.add_parser("quality", help="pseudo-label quality against the ground truth -> results/quality")
    _common(quality)
    quality.add_argument("--out", type=Path, help="default <results root>/quality")
    quality.set_defaults(func=_quality)

    compare = commands.add_parser("compare", help="mean scores of two quality records side by side")
    compare.add_argument("a", help="stem of a record, e.g. kvasir_crf-scale1")
    compare.add_argument("b", help="stem of the record to compare it with")
    compare.add_argument("--out", type=Path, help="default <results root>/quality")
    compare.set_defaults(func=_compare)


def _common(parser) -> None:
    parser.add_argument("--dataset", required=True, choices=["kvasir", "nci_isbi"], help="the data set whose gaze is used")
    parser.add_argument("--root", type=Path, help="data root (default $GAZELIB_DATA or ./data)")
    parser.add_argument("--workers", type=int, help="processes (default: all cores)")
    parser.add_argument("--crf-scale", type=float, help="CRF speed switch (default: the cache default)")


def _crf_params(args) -> dict:
    return {} if args.crf_scale is None else {"scale": args.crf_scale}


def _cache(args) -> int:
    from gazelib.gaze.cache import ensure_maps
    from gazelib.data.datasets import open_dataset

    dataset = open_dataset(args.dataset, args.root)
    for kind in args.kinds:
        if kind == "crf" and not getattr(dataset, "has_images", True):
            print(f"skipping crf: {dataset.name} images are not available (labels only)")
            continue
        print(ensure_maps(dataset, kind, workers=args.workers, **(_crf_params(args) if kind == "crf" else {})))
    return 0


def _quality(args) -> int:
    from gazelib.data.datasets import open_dataset
    from gazelib.papers.gaze_quality import quality, write_quality
    from gazelib.core.paths import results_root

    dataset = open_dataset(args.dataset, args.root)
    table, provenance = quality(dataset, workers=args.workers, crf_params=_crf_params(args))
    stem = dataset.name if args.crf_scale is None else f"{dataset.name}_crf-scale{args.crf_scale:g}"
    for path in write_quality(table, provenance, args.out or results_root() / "quality", stem):
        print(path)
    return 0


def _compare(args) -> int:
    from gazelib.papers.gaze_quality import compare
    from gazelib.core.paths import results_root

    print(compare(args.out or results_root() / "quality", args.a, args.b))
    return 0
