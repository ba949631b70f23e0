"""``risk-pipeline init-csv PRICES.csv --portfolios FILE --out PROFILE``: a settings profile that
runs the pipeline on the user's own prices (``risk_pipeline/config/csv_profile.py`` derives it),
then the commands that use it."""

from __future__ import annotations

import argparse
from pathlib import Path

from risk_pipeline.config.csv_profile import csv_profile, profile_yaml, run_commands
from risk_pipeline.config.reader import ConfigError


def add_parser(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser(
        "init-csv",
        help="write a settings profile for a CSV of prices (date, symbol, close[, currency]) and a portfolios file",
    )
    init.add_argument("prices", type=Path, help="the price CSV: columns date, symbol, close and optional currency")
    init.add_argument("--portfolios", required=True, type=Path, help="the portfolios YAML (as data/portfolios.yaml)")
    init.add_argument("--out", required=True, type=Path, help="the profile to write (RISK_PIPELINE_CONFIG)")
    init.add_argument("--market-proxy", default=None,
                      help="stress.market_proxy, a symbol of the file (default: SP500 if there, else the file's one "
                           "symbol that no portfolio holds)")
    init.add_argument("--data", type=Path, default=None,
                      help="the data folder the printed commands use (default: <out folder>/<out name>_data)")
    init.set_defaults(run=init_csv_command)


def init_csv_command(args: argparse.Namespace) -> int:
    out = args.out.expanduser().resolve()
    if not out.parent.is_dir():
        raise ConfigError(f"{out}: no folder {out.parent} to write the profile in")
    profile = csv_profile(args.prices, args.portfolios, args.market_proxy)
    data = (args.data or out.parent / f"{out.stem}_data").expanduser().resolve()
    portfolios = args.portfolios.expanduser().resolve()
    out.write_text(profile_yaml(profile, portfolios, data))
    print(f"wrote {out}: {profile.prices_csv.name}, {len(profile.symbols)} symbols, {profile.n_days} trading days "
          f"{profile.first_day}..{profile.last_day}")
    for s in profile.settings:
        print(f"  {s.section}.{s.key}: {s.value}  ({s.why}; was {s.was})")
    print("next:")
    for line in run_commands(profile, out, portfolios, data):
        print(f"  {line}")
    return 0
