"""Command line ``risk-pipeline``, one module per command:

- ``backfill``: materialize a date range as one run on the instance of ``$DAGSTER_HOME``;
- ``summary``: the latest figures from the DuckDB catalog;
- ``pre-trade``: would a proposed trade keep a portfolio within its limits?
- ``lake``: a table's history, time travel, maintenance, the catalog;
- ``init-csv``: a settings profile for the user's own price CSV;
- ``var``: VaR/ES of any symbols and its backtest, from the stored prices or a CSV, without a run;
- ``report``: a past day's risk report rebuilt from the table versions it was published from.

A configuration or input error (every such error of the project is a ``ValueError``, e.g.
``ConfigError`` naming file, line and field) and a lake of an old layout are printed as one line
on stderr with exit status 2; exit status 1 means the command ran and found a failure (a failed
run, a breached limit). A reader that stops reading (``risk-pipeline lake history prices | head -3``)
ends the command quietly with status 141, as SIGPIPE ends other Unix tools.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from risk_pipeline.cli import backfill, init_csv, lake, pre_trade, report, summary, var
from risk_pipeline.cli.run_log import INPUT_ERRORS

# a path given on the command line that cannot be read or written is bad input too
PATH_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


class _Parser(argparse.ArgumentParser):
    """argparse's parser (its subcommands' too), but a bad argument (an unknown option, a date that does not
    parse) is one line on stderr with exit status 2 like every other bad input, where argparse prints the whole
    usage first; ``--help`` still shows it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (`{self.prog} --help` lists the arguments)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="risk-pipeline", description="Backfill the risk pipeline, read its latest figures, check a trade "
        "against limits, inspect and maintain the lake, set up a CSV of your own prices. Exit status 2: bad "
        "configuration or input (one line on stderr); 1: the command ran and found a failure (a failed run, a "
        "breached limit).")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (summary, backfill, pre_trade, lake, init_csv, var, report):
        command.add_parser(commands)
    args = parser.parse_args(argv)
    try:
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe raises here, not in the interpreter's flush at exit
        return status
    except BrokenPipeError:
        # what is still buffered goes nowhere, so that exiting does not raise the same error again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except INPUT_ERRORS + PATH_ERRORS as exc:
        message = " ".join(str(exc).split())
        print(f"risk-pipeline {args.command}: {message}", file=sys.stderr)
        return 2
