"""The ``gazelib`` command line (also ``python -m gazelib``).

Each command group is a module of ``gazelib/cli/`` that registers itself through an
``add_commands(subparsers)`` function and calls the library module that does the work; heavy imports happen inside the command functions so
``gazelib --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import signal
import sys

COMMAND_GROUPS = (
    "gazelib.cli.data",       # gazelib data fetch | verify | check-gaze | prepare-nci-isbi
    "gazelib.cli.gaze",       # gazelib gaze cache | quality | compare
    "gazelib.cli.train",      # gazelib train | eval | rerun
    "gazelib.cli.records",    # gazelib records check | migrate
    "gazelib.cli.reproduce",  # gazelib reproduce | figures
    "gazelib.cli.bench",      # gazelib bench
    "gazelib.cli.book",       # gazelib book
    "gazelib.cli.gpu",        # gazelib gpu pack | verify | prepare | commands
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gazelib", description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--version", action="version", version=f"%(prog)s {importlib.metadata.version('gazelib')}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also GAZELIB_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_GROUPS:
        importlib.import_module(module).add_commands(subparsers)
    return parser


#: Errors a user can fix (bad config, data, file, checkpoint): one line, exit code 2.
USER_ERRORS = (ValueError, FileNotFoundError, KeyError, RuntimeError, OSError)
USER_ERROR_EXIT = 2


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")   # `kill` cleans up like Ctrl-C (timing status, workers, temp files)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import gazelib.papers  # noqa: F401  (registers the papers; after parsing, so --help stays fast)
    signal.signal(signal.SIGTERM, _terminate)
    if args.debug or os.environ.get("GAZELIB_DEBUG") == "1":
        return int(args.func(args) or 0)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message} (--debug or GAZELIB_DEBUG=1 for the traceback)", file=sys.stderr)
        return USER_ERROR_EXIT


if __name__ == "__main__":
    sys.exit(main())
