"""``risk-pipeline lake``: a table's history, time travel, compaction and vacuum, the catalog, and the
deletion of a portfolio's, symbol's or bond book's rows."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq

from risk_pipeline.config.settings import section
from risk_pipeline.storage.catalog import refresh_catalog
from risk_pipeline.storage.csv_export import csv_bytes
from risk_pipeline.storage.lake import delete_key
from risk_pipeline.storage.maintenance import maintain_lake, snapshot, table_history
from risk_pipeline.storage.schemas import TABLES

# the columns a run writes by (portfolio, symbol, book): `lake delete --<column> NAME`
KEY_COLUMNS = sorted({spec.key_column for spec in TABLES.values() if spec.key_column is not None})


def add_parser(commands: argparse._SubParsersAction) -> None:
    lake = commands.add_parser("lake", help="table history, time travel, compaction and vacuum, the catalog")
    actions = lake.add_subparsers(dest="action", required=True)
    history = actions.add_parser("history", help="a table's commits, newest first")
    history.add_argument("table", choices=sorted(TABLES))
    history.add_argument("--limit", type=int, default=20, help="newest commits shown (default 20)")
    snap = actions.add_parser("snapshot", help="a table as it was at a version or a time")
    snap.add_argument("table", choices=sorted(TABLES))
    when = snap.add_mutually_exclusive_group(required=True)
    when.add_argument("--version", type=int, help="table version (see `lake history`, or a materialization's "
                                                 "table_version metadata)")
    when.add_argument("--at", type=dt.datetime.fromisoformat, help="timestamp, e.g. 2026-11-30T18:45 (UTC if no zone)")
    snap.add_argument("--start", type=dt.date.fromisoformat, help="first day (with --end)")
    snap.add_argument("--end", type=dt.date.fromisoformat, help="last day (with --start)")
    snap.add_argument("--out", type=Path, help="write to this .parquet or .csv file instead of printing")
    maintain = actions.add_parser("maintain", help="compact every table and vacuum what is older than the retention")
    maintain.add_argument("--retention-days", type=int, default=None,
                          help="versions kept readable (default: pipeline.yaml lake.retention_days)")
    actions.add_parser("catalog", help="bring the DuckDB catalog up to the latest version of every table")
    delete = actions.add_parser("delete", help="delete every stored row of a portfolio, symbol or bond book "
                                               "(one commit per table; a run never deletes what it did not compute)")
    key = delete.add_mutually_exclusive_group(required=True)
    for column in KEY_COLUMNS:
        key.add_argument(f"--{column}", metavar="NAME", help=f"the {column} whose rows are deleted from "
                         f"{', '.join(t for t, spec in TABLES.items() if spec.key_column == column)}")
    delete.add_argument("--dry-run", action="store_true", help="print what would be deleted, delete nothing")
    lake.set_defaults(run=lake_command)


def lake_command(args: argparse.Namespace) -> int:
    if args.action == "history":
        history = table_history(args.table, args.limit)
        print(history.to_string(index=False) if len(history) else f"{args.table}: no commit yet")
    elif args.action == "snapshot":
        rows = snapshot(args.table, version=args.version, at=args.at, first=args.start, last=args.end)
        if args.out is None:
            print(rows.to_pandas().to_string(index=False))
        elif args.out.suffix == ".csv":
            args.out.write_bytes(csv_bytes(rows))
        else:
            pq.write_table(rows, args.out)
        if args.out is not None:
            print(f"{rows.num_rows} rows of {args.table} written to {args.out}")
    elif args.action == "maintain":
        retention = args.retention_days if args.retention_days is not None else int(section("lake")["retention_days"])
        for done in maintain_lake(retention):
            print(f"{done.table:<20} files {done.files_before:>6} -> {done.files_after:<6} "
                  f"vacuumed {done.files_deleted:>6}  version {done.version}")
        refresh_catalog()
    elif args.action == "delete":
        return _delete(args)
    else:
        print(f"catalog up to date: {refresh_catalog() or 'none kept, the lake is on object storage (docs/deployment.md)'}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    """Delete (or, with --dry-run, count) the rows of the chosen key in every table keyed by it."""
    column = next(c for c in KEY_COLUMNS if getattr(args, c) is not None)
    name = getattr(args, column)
    done = [delete_key(table, name, dry_run=args.dry_run) for table, spec in TABLES.items() if spec.key_column == column]
    found = [d for d in done if d.rows]
    if not found:
        raise ValueError(f"no table holds rows of {column} {name!r}: nothing deleted")
    verb = "would delete" if args.dry_run else "deleted"
    for d in found:
        version = "" if d.version is None else f", version {d.version}"
        print(f"{d.table:<20} {verb} {d.rows:>10,} rows of {column} {name!r} dated {d.first_day}..{d.last_day}{version}")
    if not args.dry_run:
        refresh_catalog()
    return 0


