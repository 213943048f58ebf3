"""``gazelib records check | migrate``: the state of run records (``gazelib/runs/records.py``)."""
from __future__ import annotations


def _check(args) -> int:
    from gazelib.runs.records import RecordError, read_record, record_files

    paths = record_files(args.paths or [_default_folder()])
    bad = 0
    for path in paths:
        try:
            read_record(path)
        except RecordError as error:
            bad += 1
            print(f"FAILS {error}")
        else:
            if not args.quiet:
                print(f"ok    {path}")
    print(f"{len(paths)} run record(s): {len(paths) - bad} sound, {bad} failing")
    return 1 if bad else 0


def _migrate(args) -> int:
    from gazelib.runs.records import RecordError, migrate_record, record_files

    paths = record_files(args.paths)
    added, failing = 0, []
    for path in paths:
        try:
            added += migrate_record(path)
        except RecordError as error:
            failing.append(path)
            print(f"FAILS {error}")
    print(f"{len(paths)} run record(s): digest added to {added}, {len(paths) - added - len(failing)} had one, "
          f"{len(failing)} not sound (left as they are)")
    return 1 if failing else 0


def _default_folder() -> str:
    from gazelib.core.paths import results_root
    return str(results_root())


def add_commands(subparsers) -> None:
    records = subparsers.add_parser("records", help="check run records (schema, summary, content digest)",
                                    description=__doc__.splitlines()[0].replace("``", ""))
    commands = records.add_subparsers(dest="records_command", required=True)
    p = commands.add_parser("check", help="list every run record's state; exit 1 if any fails",
                            description="Read every run record as training and the tables do (fields, types, "
                                        "scores, summary, content digest) and print its state. Exit code 1 "
                                        "when any record fails.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="record files or folders (their runs/ folders, searched below; default: the results folder)")
    p.add_argument("--quiet", action="store_true", help="print only the failing records and the count")
    p.set_defaults(func=_check)
    p = commands.add_parser("migrate", help="add the content digest to records written before records carried one",
                            description="Add the content digest to sound records that have none, changing "
                                        "nothing else in them; a record that has a digest keeps it. Exit code "
                                        "1 when any record is not sound.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="record files or folders (their runs/ folders)")
    p.set_defaults(func=_migrate)
