"""``gazelib gpu pack | verify | prepare | commands``: Table 1 on an offline GPU machine (``gazelib/ops/gpu.py``,
tools/gpu/steps.sh); the work is imported inside each command so ``gazelib --help`` stays fast."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from gazelib.core.config import PROFILES


def _cmd_pack(args) -> int:
    from gazelib.core.paths import REPO_ROOT, data_root
    from gazelib.ops.gpu import TRANSFER_LIMIT, build_pack
    limit = TRANSFER_LIMIT if args.limit_mib is None else int(args.limit_mib * 2**20)
    manifest = build_pack(Path(args.out), Path(args.data or data_root()), wheels=not args.no_wheels, repo=REPO_ROOT,
                          limit=limit)
    print(f"{args.out}: {len(manifest['files'])} files (code of {manifest['code_revision'][:9]}: "
          f"{manifest['code_bytes'] / 2**20:.1f} MiB), {manifest['transfer_bytes'] / 2**20:.1f} MiB of the "
          f"{limit / 2**20:g} MiB limit; copy {args.out} alone to the machine")
    return 0


def _cmd_verify(args) -> int:
    from gazelib.ops.gpu import verify_pack
    count = verify_pack(Path(args.pack), Path(args.originals) if args.originals else None)
    print(f"{args.pack}: {count} files match the manifest")
    return 0


def _cmd_prepare(args) -> int:
    from gazelib.ops.gpu import prepare
    prepare(args.profile, args.dataset, args.rows)
    return 0


def _cmd_commands(args) -> int:
    from gazelib.ops.gpu import table_runs
    """One ``gazelib train`` command line per run (for xargs -P in tools/gpu/steps.sh)."""
    for run in table_runs(args.profile, args.dataset, args.seeds, args.rows, args.stacked):
        extra = [a for o in args.set for a in ("--set", o)]
        log = f"{run['label']}-s{'-'.join(map(str, run['seeds']))}".replace(" ", "_")
        print(f"{shlex.join([sys.executable, '-m', 'gazelib', 'train', *run['args'], *extra])} > {args.logs}/{log}.log 2>&1")
    return 0


def add_commands(subparsers) -> None:
    gpu = subparsers.add_parser("gpu", help="pack, check and run Table 1 on an offline GPU machine (tools/gpu/steps.sh)",
                                description=__doc__.splitlines()[0].replace("``", ""))
    commands = gpu.add_subparsers(dest="gpu_command", required=True)
    p = commands.add_parser("pack", help="write the GPU pack (committed code + data + pydensecrf2 sources + manifest)")
    p.add_argument("--out", default=".pack", help="pack folder (default .pack, ignored by git)")
    p.add_argument("--data", help="data root to pack (default: the configured data root)")
    p.add_argument("--no-wheels", action="store_true", help="leave out the pydensecrf2/Cython sources")
    p.add_argument("--limit-mib", type=float, default=None,
                   help="the most the machine can be sent, in MiB (default: TRANSFER_LIMIT in gazelib/ops/gpu.py)")
    p.set_defaults(func=_cmd_pack)
    p = commands.add_parser("verify", help="check a pack against its manifest")
    p.add_argument("pack", nargs="?", default=".pack", help="the pack folder to check (default .pack)")
    p.add_argument("--originals", help="data root whose JPEG masks the 1-bit masks must decode to")
    p.set_defaults(func=_cmd_verify)
    for name, func, text in (("prepare", _cmd_prepare, "build the training tensors of the table's runs once"),
                             ("commands", _cmd_commands, "print one gazelib train command per run")):
        p = commands.add_parser(name, help=text)
        p.add_argument("--profile", default="paper", choices=PROFILES, help="the size of every run (default paper)")
        p.add_argument("--dataset", default="kvasir", help="kvasir or nci_isbi (default kvasir)")
        p.add_argument("--rows", nargs="+", help="Table 1 rows (default: all)")
        if name == "commands":
            p.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds of every row (default 0)")
            p.add_argument("--stacked", action="store_true",
                           help="one command per row, its seeds trained as one stacked model (gazelib train --stacked)")
            p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. device=cuda")
            p.add_argument("--logs", default="results/gpu-logs", help="folder of the runs' logs")
        p.set_defaults(func=func)
