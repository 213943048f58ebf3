"""The ``gazelib`` command line (also ``python -m gazelib``).

Each command group lives next to the code it drives and registers itself through an
``add_commands(subparsers)`` function; heavy imports happen inside the command functions so
``gazelib --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_GROUPS = (
    "gazelib.data.commands",   # gazelib data fetch | verify | check-gaze | prepare-nci-isbi
    "gazelib.gaze.commands",   # gazelib gaze cache | quality | compare
    "gazelib.train_commands",  # gazelib train | eval
    "gazelib.reproduce",       # gazelib reproduce | figures
    "gazelib.bench",           # gazelib bench
    "gazelib.book",            # gazelib book
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gazelib", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_GROUPS:
        importlib.import_module(module).add_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
