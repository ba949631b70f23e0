"""Command line: ``risk-pipeline summary`` prints the latest figures from the DuckDB catalog."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from risk_pipeline.storage.catalog import catalog_path, connect

LATEST_VAR_SQL = """
with latest as (select portfolio, max(date) as date from var_estimates group by portfolio)
select v.portfolio, v.date, v.method, v.horizon_days, v.confidence,
       round(100 * v.var, 3) as var_pct, round(100 * v.es, 3) as es_pct,
       round(v.var_amount, 0) as var_amount, round(v.es_amount, 0) as es_amount, v.base_currency
from var_estimates v join latest using (portfolio, date)
where v.horizon_days = 1
order by v.portfolio, v.method, v.confidence
"""

VERDICTS_SQL = """
with latest as (select portfolio, max(as_of) as as_of from var_backtests group by portfolio)
select b.portfolio, b.as_of, b.method, b.confidence, b.horizon_days, b.window, b.n_obs, b.n_breaches,
       round(b.kupiec_p, 4) as kupiec_p, round(b.cc_p, 4) as cc_p, b.traffic_light, b.verdict
from var_backtests b join latest using (portfolio, as_of)
where b.horizon_days = 1
order by b.portfolio, b.method, b.confidence, b.window
"""


def summary() -> int:
    path = catalog_path()
    if not path.exists():
        print(f"No catalog at {path}: run `make run` first.", file=sys.stderr)
        return 1
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 20):
        with connect() as con:
            print("Latest 1-day VaR and ES per portfolio (losses positive; % of value and base-currency amounts)")
            print(con.execute(LATEST_VAR_SQL).df().to_string(index=False))
            print()
            print("Backtest verdicts as of the latest date (full sample and trailing window)")
            print(con.execute(VERDICTS_SQL).df().to_string(index=False))
    print()
    print(f"DuckDB catalog: {path}  (try: duckdb {path} -c 'select * from var_backtests limit 5')")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="risk-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("summary", help="latest VaR/ES and backtest verdicts from the catalog")
    args = parser.parse_args(argv)
    if args.command == "summary":
        return summary()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
