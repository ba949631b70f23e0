"""Command line: ``risk-pipeline summary`` prints the latest figures from the DuckDB catalog;
``risk-pipeline backfill`` materializes a date range as one run; ``risk-pipeline pre-trade``
checks a proposed trade against the portfolio's limits; ``risk-pipeline lake`` shows a table's
history, reads it as it was at a version or time, maintains the lake and rebuilds the catalog."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from risk_pipeline.pre_trade import PreTradeError, parse_trades, pre_trade
from risk_pipeline.risk.limits import LimitInputError
from risk_pipeline.scenario_config import ConfigError
from risk_pipeline.settings import section
from risk_pipeline.storage.catalog import catalog_path, connect, refresh_catalog
from risk_pipeline.storage.lake import LakeLayoutError
from risk_pipeline.storage.maintenance import maintain_lake, snapshot, table_history
from risk_pipeline.storage.schemas import TABLES

LATEST_VAR_SQL = """
with latest as (select portfolio, max(date) as date from var_estimates group by portfolio)
select v.portfolio, v.base_currency as ccy, v.date, v.method,
       max(case when v.confidence = 0.95 then 100 * v.var end) as "VaR95 %",
       max(case when v.confidence = 0.95 then 100 * v.es end) as "ES95 %",
       max(case when v.confidence = 0.99 then 100 * v.var end) as "VaR99 %",
       max(case when v.confidence = 0.99 then 100 * v.es end) as "ES99 %",
       max(case when v.confidence = 0.95 then v.var_amount end) as "VaR95",
       max(case when v.confidence = 0.95 then v.es_amount end) as "ES95",
       max(case when v.confidence = 0.99 then v.var_amount end) as "VaR99",
       max(case when v.confidence = 0.99 then v.es_amount end) as "ES99"
from var_estimates v join latest using (portfolio, date)
where v.horizon_days = 1
group by all
order by v.portfolio, v.method
"""

VERDICTS_SQL = """
with latest as (select portfolio, max(as_of) as as_of from var_backtests group by portfolio)
select b.portfolio, b.as_of, b.method,
       max(case when b.confidence = 0.95 and b.backtest_window_days = {long} then b.verdict end) as "{long}d 95%",
       max(case when b.confidence = 0.99 and b.backtest_window_days = {long} then b.verdict end) as "{long}d 99%",
       max(case when b.confidence = 0.95 and b.backtest_window_days = {short} then b.verdict end) as "{short}d 95%",
       max(case when b.confidence = 0.99 and b.backtest_window_days = {short} then b.verdict end) as "{short}d 99%",
       max(case when b.confidence = 0.99 and b.backtest_window_days = {short} then b.n_breaches end) as "breaches {short}d 99%",
       max(case when b.confidence = 0.99 and b.backtest_window_days = {short} then b.traffic_light end) as "Basel light"
from var_backtests b join latest using (portfolio, as_of)
where b.horizon_days = 1
group by all
order by b.portfolio, b.method
"""
MCS_SQL = """
with latest as (select portfolio, max(as_of) as as_of from var_scores where mcs_computed group by portfolio)
select s.portfolio, s.as_of, s.confidence, s.backtest_window_days as days,
       string_agg(case when s.in_mcs then s.method end, ', ' order by s.mean_fz0_loss) as "in the 90% MCS (best first)",
       coalesce(string_agg(case when not s.in_mcs then s.method end, ', ' order by s.mean_fz0_loss), '-') as "worse"
from var_scores s join latest using (portfolio, as_of)
where s.horizon_days = 1 and s.compared and s.mcs_computed and s.backtest_window_days = {long}
group by all
order by s.portfolio, s.confidence
"""
FRTB_ES_SQL = """
select e.portfolio as desk, e.base_currency as ccy, e.es_10d, e.es_full_current as es_liquidity_adjusted,
       e.es_reduced_stressed as es_stressed, e.imes, e.stress_start, e.stress_end,
       d.exceptions_99 as exc_99, d.exceptions_975 as exc_975, d.backtest_zone, round(d.pla_spearman, 3) as spearman,
       round(d.pla_ks, 3) as ks, d.pla_zone, d.eligible
from frtb_es e left join frtb_desks d using (date, portfolio)
where e.date = (select max(date) from frtb_es) and e.risk_class = 'all'
order by e.portfolio = (select max(portfolio) from frtb_capital), e.portfolio
"""
FRTB_CAPITAL_SQL = """
select date, base_currency as ccy, imcc_unconstrained, imcc_equity, imcc_fx, imcc, imcc_average, exceptions_99,
       backtest_zone, multiplier, capital_charge, binding
from frtb_capital where date = (select max(date) from frtb_capital)
"""
WINDOWS_SQL = """
select distinct backtest_window_days as days from var_backtests
where as_of = (select max(as_of) from var_backtests) order by days
"""


def _figure(x: float) -> str:
    """Percentages with two decimals, amounts in whole units of the base currency."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"


def summary() -> int:
    path = catalog_path()
    if not path.exists():
        print(f"No catalog at {path}: run `make run` first.", file=sys.stderr)
        return 1
    with pd.option_context("display.width", 220, "display.max_rows", 500, "display.max_columns", 20):
        with connect() as con:
            print("Latest 1-day VaR and ES (losses positive): % of value, then amounts in the base currency")
            print(con.execute(LATEST_VAR_SQL).df().to_string(index=False, float_format=_figure))
            print()
            days = con.execute(WINDOWS_SQL).df()["days"].tolist() or [0]
            short, long = days[0], days[-1]
            print(f"Backtest verdicts (1-day, as of the latest date): trailing {long} and {short} trading days;")
            print("fail = Kupiec, Christoffersen or Z2 rejects at 5% or the Basel light is red")
            print(con.execute(VERDICTS_SQL.format(short=short, long=long)).df().to_string(index=False))
            tables = set(con.execute("select table_name from information_schema.tables").df()["table_name"])
            mcs = con.execute(MCS_SQL.format(long=long)).df() if "var_scores" in tables else pd.DataFrame()
            if len(mcs):
                print()
                print(f"Model Confidence Set (FZ0 loss, 1-day, trailing {long} trading days, latest month-end or "
                      "run end): methods statistically indistinguishable from the best, and the worse ones")
                print(mcs.to_string(index=False))
            if {"frtb_es", "frtb_desks", "frtb_capital"} <= tables:
                print()
                print("FRTB internal models (docs/frtb.md), latest day: ES at 97.5% on a 10-day base horizon, "
                      "liquidity-adjusted, stressed, IMES; desk backtesting and P&L attribution zones")
                print(con.execute(FRTB_ES_SQL).df().to_string(index=False, float_format=_figure))
                print("Bank capital: C_A = max(IMCC, multiplier x 60-day average IMCC); SES and the default risk "
                      "charge out of scope")
                print(con.execute(FRTB_CAPITAL_SQL).df().to_string(index=False, float_format=_figure))
    print()
    print(f"DuckDB catalog: {path}")
    print(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{path}', read_only=True)"
          ".execute('select * from var_backtests limit 5').df())\"")
    reports = sorted(path.parent.glob("reports/*/risk_report.html"))
    if reports:
        print(f"Risk report: {reports[-1]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="risk-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("summary", help="latest VaR/ES and backtest verdicts from the catalog")
    fill = commands.add_parser(
        "backfill",
        help="materialize a date range as one in-process run on the instance of $DAGSTER_HOME "
             "(in memory if unset; see risk_pipeline/backfill.py)",
    )
    fill.add_argument("--start", required=True, type=dt.date.fromisoformat, help="first day, YYYY-MM-DD")
    fill.add_argument("--end", required=True, type=dt.date.fromisoformat, help="last day, YYYY-MM-DD")
    fill.add_argument("--select", default="*", help="asset selection, e.g. 'var_estimates*' (default: everything)")
    fill.add_argument("--config-json", default=None, help="run config as JSON, as for `dagster asset materialize`")
    fill.add_argument("--chunk-years", type=int, default=None,
                      help="one run per this many calendar years, in date order (bounds the memory; same tables)")
    trade = commands.add_parser(
        "pre-trade",
        help="would a proposed trade keep a portfolio within its limits? VaR/ES before and after",
        description="Exit status 0 when no limit is breached after the trade, 1 when one is, 2 on bad input.",
    )
    trade.add_argument("--portfolio", required=True, help="portfolio name (portfolios.yaml)")
    trade.add_argument("--trade", required=True, nargs="+", metavar="SYMBOL=AMOUNT",
                       help="units for a quantity portfolio, base-currency amount for a weight portfolio; "
                            "negative sells")
    trade.add_argument("--limits", default=None, help="limits YAML (default: pipeline.yaml limits.limits_file)")
    trade.add_argument("--lookback", type=int, default=None, help="days of returns simulated (default: "
                                                                   "pipeline.yaml limits.pre_trade_lookback)")
    trade.add_argument("--as-of", default=None, help="positions at this date's close (default: latest stored)")
    trade.add_argument("--json", action="store_true", help="print the result as JSON")
    _lake_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "lake":
        return lake_command(args)
    if args.command == "summary":
        return summary()
    if args.command == "backfill":
        return backfill_command(args)
    if args.command == "pre-trade":
        return pre_trade_command(args)
    return 2


def _lake_parser(commands) -> None:
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


def lake_command(args: argparse.Namespace) -> int:
    try:
        if args.action == "history":
            print(table_history(args.table, args.limit).to_string(index=False))
        elif args.action == "snapshot":
            rows = snapshot(args.table, version=args.version, at=args.at, first=args.start, last=args.end)
            if args.out is None:
                print(rows.to_pandas().to_string(index=False))
            elif args.out.suffix == ".csv":
                rows.to_pandas().to_csv(args.out, index=False)
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
        else:
            print(f"catalog up to date: {refresh_catalog()}")
    except (ValueError, LakeLayoutError) as exc:
        print(f"lake {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def backfill_command(args: argparse.Namespace) -> int:
    from risk_pipeline.backfill import backfill

    config = json.loads(args.config_json) if args.config_json else None
    runs = f"runs of {args.chunk_years} year(s)" if args.chunk_years else "one run"
    home = os.getenv("DAGSTER_HOME")
    where = f"the Dagster instance in {home}" if home else "an in-memory Dagster instance (DAGSTER_HOME is not set)"
    print(f"Backfilling {args.select} over {args.start}..{args.end} as {runs} on {where} ...", flush=True)
    try:
        report = backfill(args.start, args.end, selection=args.select, run_config=config,
                          chunk_years=args.chunk_years)
    except ValueError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    for step, seconds in sorted(report.step_seconds.items(), key=lambda item: -item[1]):
        print(f"  {step:<45} {seconds:8.1f} s")
    first, last = report.ranges[-1]
    outcome = "succeeded" if report.success else f"FAILED in the run over {first}..{last}"
    print(f"Backfill {outcome} in {report.seconds:.1f} s ({len(report.ranges)} run(s))")
    return 0 if report.success else 1


def pre_trade_command(args: argparse.Namespace) -> int:
    settings = section("limits")
    try:
        answer = pre_trade(
            args.portfolio, parse_trades(args.trade), limits_file=args.limits or settings["limits_file"],
            lookback=args.lookback or int(settings["pre_trade_lookback"]),
            as_of=dt.date.fromisoformat(args.as_of) if args.as_of else None,
            warning_fraction=settings["warning_fraction"],
        )
    except (PreTradeError, LimitInputError, ConfigError) as exc:
        print(f"pre-trade: {exc}", file=sys.stderr)
        return 2
    result = answer.result
    if args.json:
        print(json.dumps({
            "portfolio": result.portfolio, "as_of": answer.as_of.isoformat(), "base_currency": answer.base_currency,
            "trade_exposures": answer.trade_exposures.to_dict(), "stays_within_limits": result.stays_within_limits,
            "status_before": result.status_before, "status_after": result.status_after,
            "limits": result.rows.to_dict(orient="records"),
        }, indent=2))
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(f"Portfolio {result.portfolio}: positions at the close of {answer.as_of}, amounts in "
                  f"{answer.base_currency}")
            print("Trade (base-currency exposure): " + ", ".join(f"{s} {v:+,.0f}" for s, v in
                                                                answer.trade_exposures.items()))
            print(result.rows.to_string(index=False, float_format=lambda x: f"{x:,.4g}"))
            verdict = "stays within its limits" if result.stays_within_limits else "BREACHES a limit"
            print(f"Status {result.status_before} -> {result.status_after}: the portfolio {verdict} after the trade.")
    return 0 if result.stays_within_limits else 1


if __name__ == "__main__":
    raise SystemExit(main())
