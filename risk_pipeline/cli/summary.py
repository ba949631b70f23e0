"""``risk-pipeline summary``: the latest VaR/ES, backtest verdicts and Model Confidence Set from the catalog."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from risk_pipeline.report.morning import book_text, load_morning, morning_cells, text_table
from risk_pipeline.report.options_section import load_options, options_text
from risk_pipeline.risk.limits import LIMIT_METHOD_TEXT
from risk_pipeline.storage.catalog import catalog_path, connect
from risk_pipeline.storage.lake import stored_days
from risk_pipeline.storage.paths import is_object_store, lake_uri

# each section: the books with rows on its table's latest day; a book without (its series ended, prices.last_dates)
# is named by NOT_SHOWN_SQL, not shown with its last figures as if they were the day's
LATEST_VAR_SQL = """
select v.portfolio, v.base_currency as ccy, v.date, v.method,
       max(case when v.confidence = 0.95 then 100 * v.var end) as "VaR95 %",
       max(case when v.confidence = 0.95 then 100 * v.es end) as "ES95 %",
       max(case when v.confidence = 0.99 then 100 * v.var end) as "VaR99 %",
       max(case when v.confidence = 0.99 then 100 * v.es end) as "ES99 %",
       max(case when v.confidence = 0.95 then v.var_amount end) as "VaR95",
       max(case when v.confidence = 0.95 then v.es_amount end) as "ES95",
       max(case when v.confidence = 0.99 then v.var_amount end) as "VaR99",
       max(case when v.confidence = 0.99 then v.es_amount end) as "ES99"
from var_estimates v
where v.date = (select max(date) from var_estimates) and v.horizon_days = 1
group by all
order by v.portfolio, v.method
"""

# a verdict over fewer observations than its window (a short history) says how many it used
_VERDICT = ("max(case when b.confidence = {c} and b.backtest_window_days = {days} then b.verdict "
            "|| case when b.n_obs < b.backtest_window_days then ' (' || b.n_obs || ' obs)' else '' end end)")
VERDICTS_SQL = """
select b.portfolio, b.as_of, b.method,
       """ + _VERDICT.format(c=0.95, days="{long}") + """ as "{long}d 95%",
       """ + _VERDICT.format(c=0.99, days="{long}") + """ as "{long}d 99%",
       """ + _VERDICT.format(c=0.95, days="{short}") + """ as "{short}d 95%",
       """ + _VERDICT.format(c=0.99, days="{short}") + """ as "{short}d 99%",
       max(case when b.confidence = 0.99 and b.backtest_window_days = {short} then b.n_breaches end) as "breaches {short}d 99%",
       max(case when b.confidence = 0.99 and b.backtest_window_days = {short} then b.traffic_light end) as "Basel light"
from var_backtests b
where b.as_of = (select max(as_of) from var_backtests) and b.horizon_days = 1
group by all
order by b.portfolio, b.method
"""
MCS_SQL = """
with latest as (select portfolio, max(as_of) as as_of from var_scores
                where mcs_computed and portfolio in (select portfolio from var_scores
                                                     where as_of = (select max(as_of) from var_scores))
                group by portfolio)
select s.portfolio, s.as_of, s.confidence, s.backtest_window_days as days, max(s.comparison_obs) as obs,
       string_agg(case when s.in_mcs then s.method end, ', ' order by s.mean_fz0_loss) as "in the 90% MCS (best first)",
       coalesce(string_agg(case when s.compared and not s.in_mcs then s.method end, ', ' order by s.mean_fz0_loss),
                '-') as "worse",
       coalesce(string_agg(case when not s.compared then s.method || ' (' || s.not_compared_reason || ', '
                                || s.n_obs || ' obs)' end, ', ' order by s.method), '-') as "left out"
from var_scores s join latest using (portfolio, as_of)
where s.horizon_days = 1 and s.mcs_computed and s.backtest_window_days = {long}
group by all
order by s.portfolio, s.confidence
"""
NOT_SHOWN_SQL = """
select portfolio, max(date) as last from var_estimates group by portfolio
having max(date) < (select max(date) from var_estimates) order by portfolio
"""
FRTB_ES_SQL = """
select e.portfolio as desk, e.base_currency as ccy, e.es_unadjusted, e.es_full_current as es_liquidity_adjusted,
       e.es_reduced_stressed as es_stressed, e.imes, e.stress_start, e.stress_end,
       d.exceptions_99 as exc_99, d.exceptions_975 as exc_975, d.backtest_zone, d.pla_spearman as spearman,
       d.pla_ks as ks, d.pla_zone, d.eligible
from frtb_es e left join frtb_desks d using (date, portfolio)
where e.date = (select max(date) from frtb_es) and e.risk_class = 'all'
order by e.portfolio = (select max(portfolio) from frtb_capital), e.portfolio
"""
FRTB_CAPITAL_SQL = """
select date, base_currency as ccy, imcc_unconstrained, imcc_equity, imcc_fx, imcc, imcc_average, exceptions_99,
       backtest_zone, capital_multiplier, capital_charge, binding
from frtb_capital where date = (select max(date) from frtb_capital)
"""
LIMITS_SQL = """
select portfolio, base_currency as ccy, measure, horizon_days, confidence, measured_amount, limit_amount,
       100 * utilization as "utilization %", status
from limit_status where date = (select max(date) from limit_status)
order by portfolio, measure desc, horizon_days, confidence
"""
WINDOWS_SQL = """
select distinct backtest_window_days as days from var_backtests
where as_of = (select max(as_of) from var_backtests) and not whole_sample order by days
"""


def _figure(x: float) -> str:
    """Percentages with two decimals, amounts in whole units of the base currency."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"


def _pla_metric(x: float) -> str:
    """A P&L attribution metric with three decimals, as its zone thresholds (0.80, 0.70, 0.09, 0.12)
    need: with two, a Spearman of 0.796 (amber) would read 0.80."""
    return NOT_APPLICABLE if pd.isna(x) else f"{x:.3f}"


NOT_APPLICABLE = "—"  # a figure that has no meaning for the row; each table's heading says why


def _text(frame: pd.DataFrame, **formats) -> str:
    """``frame`` as a table, or a note when the catalog has no such rows yet (not pandas' 'Empty DataFrame');
    an empty cell reads as :data:`NOT_APPLICABLE`, not NaN or <NA>."""
    if not len(frame):
        return "(no rows yet)"
    shown = frame.copy()
    for column in shown.columns:  # na_rep covers floats only: a missing flag or text reads <NA> or None
        if not pd.api.types.is_float_dtype(shown[column]) and shown[column].isna().any():
            shown[column] = shown[column].astype(object).where(shown[column].notna(), NOT_APPLICABLE)
    return shown.to_string(index=False, na_rep=NOT_APPLICABLE, **formats)


def summary(args: argparse.Namespace | None = None) -> int:
    path = catalog_path()
    if not path.exists() and not is_object_store(lake_uri()):  # a bucket's catalog is in memory
        print(f"risk-pipeline summary: no catalog at {path}: run `make run` (or `risk-pipeline backfill`) first",
              file=sys.stderr)
        return 2
    days = stored_days("risk_summary")
    book = getattr(args, "book", None)
    if book is not None:  # one book's row, a line per column, and its alerts
        morning = load_morning(days[-1]) if days else None
        text = book_text(morning, book) if morning is not None else None
        if text is None:
            known = ", ".join(c[0].text for c in morning_cells(morning)) if morning is not None else "none"
            print(f"risk-pipeline summary: --book {book}: not in the morning table (books: {known})", file=sys.stderr)
            return 2
        print(text)
        return 0
    if days:  # the morning table, as on the report's first page
        print(text_table(load_morning(days[-1])))
        print()
    with pd.option_context("display.width", 220, "display.max_rows", 500, "display.max_columns", 20):
        with connect() as con:
            print("Every method's latest 1-day VaR and ES (the official method's challengers; losses positive): "
                  f"% of value, then amounts in the base currency ({NOT_APPLICABLE}: an option book has no % of value)")
            print(_text(con.execute(LATEST_VAR_SQL).df(), float_format=_figure))
            gone = con.execute(NOT_SHOWN_SQL).df()
            if len(gone):  # not held any more (or not computed on the day): nothing of it is shown below either
                print("Not shown, no VaR on the latest day: " + ", ".join(
                    f"{p} (last {d:%Y-%m-%d})" for p, d in zip(gone["portfolio"], gone["last"])))
            print()
            days = con.execute(WINDOWS_SQL).df()["days"].tolist() or [0]
            short, long = days[0], days[-1]
            if long:
                print(f"Backtest verdicts (1-day, as of the latest date): trailing {long} and {short} trading days "
                      "(a verdict over fewer observations says how many);")
                print("fail = Kupiec, Christoffersen or Z2 rejects at 5% or the Basel light is red")
                print(_text(con.execute(VERDICTS_SQL.format(short=short, long=long)).df()))
            else:
                print("Backtest verdicts: (no rows yet)")
            tables = set(con.execute("select table_name from information_schema.tables").df()["table_name"])
            mcs = con.execute(MCS_SQL.format(long=long)).df() if "var_scores" in tables else pd.DataFrame()
            if len(mcs):
                print()
                print(f"Model Confidence Set (FZ0 loss, 1-day, trailing {long} trading days, latest month-end or "
                      "run end; obs = the compared methods' common days): methods statistically indistinguishable "
                      "from the best, the worse ones, and those left out (why)")
                print(mcs.to_string(index=False))
            limits = con.execute(LIMITS_SQL).df() if "limit_status" in tables else pd.DataFrame()
            if len(limits):
                day = con.execute("select max(date) from limit_status").fetchone()[0]
                print()
                print(f"Limits on {day:%Y-%m-%d} (limit_status), measured by {LIMIT_METHOD_TEXT}")
                print(limits.to_string(index=False, float_format=lambda x: f"{x:,.2f}",
                                       formatters={"utilization %": "{:.1f}".format}))
            frtb = con.execute(FRTB_ES_SQL).df() if {"frtb_es", "frtb_desks", "frtb_capital"} <= tables else pd.DataFrame()
            if len(frtb):  # the catalog holds every table, empty until its stage runs
                print()
                print("FRTB internal models (docs/frtb.md), latest day: ES at 97.5% on a 10-day base horizon, "
                      "liquidity-adjusted, stressed, IMES; desk backtesting and P&L attribution zones "
                      f"({NOT_APPLICABLE}: the P&L attribution test is per desk, not for the bank)")
                print(_text(frtb, float_format=_figure, formatters={"spearman": _pla_metric, "ks": _pla_metric}))
                print("Bank capital: C_A = max(IMCC, multiplier x 60-day average IMCC); SES and the default risk "
                      "charge out of scope")
                print(_text(con.execute(FRTB_CAPITAL_SQL).df(), float_format=_figure))
    option_days = stored_days("option_greeks")
    options = load_options(option_days[-1]) if option_days else None
    if options is not None:  # the option books: Greeks, caps, the three VaRs (as in the report)
        print()
        print(options_text(options))
    print()
    print(f"DuckDB catalog: {path}")
    print(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{path}', read_only=True)"
          ".execute('select * from var_backtests limit 5').df())\"")
    reports = sorted(path.parent.glob("reports/*/risk_report.html"))
    if reports:
        print(f"Risk report: {reports[-1]}")
    return 0



def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("summary", help="the day's alerts and the morning table (a row per book: official "
                                 "VaR/ES, limits, backtest, stress, FRTB), then every method's VaR/ES and backtest verdicts")
    parser.add_argument("--book", help="print only this book's row, a line per column, and its alerts")
    parser.set_defaults(run=summary)
