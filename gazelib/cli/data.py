"""``gazelib data fetch | verify | check-gaze | prepare-nci-isbi``."""
from __future__ import annotations

from pathlib import Path


def add_commands(subparsers) -> None:
    data = subparsers.add_parser("data", help="fetch, verify and check the data")
    commands = data.add_subparsers(dest="data_command", required=True)

    fetch = commands.add_parser("fetch", help="copy from a mirror or download, checking every sha256")
    fetch.add_argument("--root", type=Path, help="data root (default $GAZELIB_DATA or ./data)")
    fetch.add_argument("--mirror", type=Path, help="local copy laid out like ../shared/data (default $GAZELIB_MIRROR)")
    fetch.set_defaults(func=_fetch)

    verify = commands.add_parser("verify", help="check every file against gazelib/data/checksums.json")
    verify.add_argument("--root", type=Path, help="data root (default $GAZELIB_DATA or ./data)")
    verify.set_defaults(func=_verify)

    gaze = commands.add_parser("check-gaze", help="validate a fixation CSV and print its summary")
    gaze.add_argument("file", type=Path, help="a GazeMedSeg fixation CSV file")
    gaze.add_argument("--images", type=Path, help="folder of the images (checks IMAGE_HEIGHT/WIDTH and coverage)")
    gaze.set_defaults(func=_check_gaze)

    prepare = commands.add_parser("prepare-nci-isbi", help="TCIA NCI-ISBI download -> prepared 2D slices")
    prepare.add_argument("raw", type=Path, help="folder holding the T2 DICOM series and the NRRD labels")
    prepare.add_argument("--out", type=Path, help="default <data root>/nci-isbi/prepared")
    prepare.set_defaults(func=_prepare)


def _root(args) -> Path:
    from gazelib.core.paths import data_root

    return args.root if args.root is not None else data_root()


def _fetch(args) -> int:
    from gazelib.data.fetch import DataError, fetch

    root = _root(args)
    try:
        report = fetch(root, mirror=args.mirror)
    except DataError as error:
        print(f"error: {error}")
        return 1
    print(f"data root: {root.resolve()}")
    for key, files in report.items():
        print(f"  {key}: {len(files)} files")
    if report["unavailable"]:
        print("  unavailable (optional, mirror only): " + ", ".join(sorted({str(Path(f).parent) for f in report["unavailable"]})))
    return 0


def _verify(args) -> int:
    from gazelib.data.fetch import checksums, verify

    root = _root(args)
    problems = verify(root)
    for line in problems:
        print(line)
    print(f"{root.resolve()}: {len(checksums())} files known, {len(problems)} problem(s)")
    return 1 if problems else 0


def _check_gaze(args) -> int:
    from PIL import Image

    from gazelib.data.fixations import FixationError, check_coverage, fixation_statistics, index_gaps, read_fixations

    sizes = None
    if args.images is not None:
        sizes = {}
        for path in sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
            with Image.open(path) as im:
                sizes[path.stem] = (im.height, im.width)
    try:
        scanpaths = read_fixations(args.file, image_sizes=sizes)
        if sizes is not None:
            check_coverage(scanpaths, sizes, args.file)
    except FixationError as error:
        print(error)
        return 1
    gaps = index_gaps(args.file)
    if gaps:
        listed = ", ".join(f"{image} (missing {missing[:5]})" for image, missing in list(gaps.items())[:5])
        print(f"warning: {args.file}: CURRENT_FIX_INDEX skips numbers (dropped fixations?) in {len(gaps)} "
              f"image(s): {listed}{' ...' if len(gaps) > 5 else ''}")
    print(f"{args.file}: OK")
    for key, value in fixation_statistics(scanpaths).items():
        print(f"  {key}: {value}")
    return 0


def _prepare(args) -> int:
    from gazelib.data.nci_isbi import PREPARED, NciIsbiError, prepare_nci_isbi
    from gazelib.core.paths import data_root

    out = args.out if args.out is not None else data_root() / PREPARED
    try:
        report = prepare_nci_isbi(args.raw, out)
    except NciIsbiError as error:
        print(f"error: {error}")
        return 1
    print(f"prepared {report['cases']} cases into {Path(report['out']).resolve()}: {report['slices']}")
    return 0
