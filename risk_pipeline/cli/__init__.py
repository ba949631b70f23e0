"""Command line ``risk-pipeline``, one module per command:

- ``backfill``: materialize a date range as one run on the instance of ``$DAGSTER_HOME``;
- ``summary``: the latest figures from the DuckDB catalog;
- ``pre-trade``: would a proposed trade keep a portfolio within its limits?
- ``lake``: a table's history, time travel, maintenance, the catalog;
- ``init-csv``: a settings profile for the user's own price CSV.

A configuration or input error (every such error of the project is a ``ValueError``, e.g.
``ConfigError`` naming file, line and field) and a lake of an old layout are printed as one line
on stderr with exit status 2; exit status 1 means the command ran and found a failure (a failed
run, a breached limit).
"""

from __future__ import annotations

import argparse
import sys

from risk_pipeline.cli import backfill, init_csv, lake, pre_trade, summary
from risk_pipeline.storage.lake import LakeLayoutError

INPUT_ERRORS = (ValueError, LakeLayoutError)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="risk-pipeline", description="Backfill the risk pipeline, read its latest figures, check a trade "
        "against limits, inspect and maintain the lake, set up a CSV of your own prices. Exit status 2: bad "
        "configuration or input (one line on stderr); 1: the command ran and found a failure (a failed run, a "
        "breached limit).")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (summary, backfill, pre_trade, lake, init_csv):
        command.add_parser(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except INPUT_ERRORS as exc:
        message = " ".join(str(exc).split())
        print(f"risk-pipeline {args.command}: {message}", file=sys.stderr)
        return 2
