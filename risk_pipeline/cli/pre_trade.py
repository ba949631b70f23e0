"""Pre-trade limit check on stored data: would this trade keep the portfolio within its limits?

The check is made on the limits of a day (the latest stored day, or ``as_of``) as limit_status
measures them: the positions held over the day (the base-currency exposures of the previous close)
and the ``lookback`` days of stored base-currency asset returns before it (by default the limits'
``estimation_window_days``, so that the value before the trade is limit_status's value of that day).
A trade ``SYMBOL=N`` adds N units for a quantity portfolio or a book of record (on top of the
positions stored for the close before the day) and N of base currency for a weight portfolio.
The check itself is :func:`risk_pipeline.risk.limits.pre_trade_check`, on the same
:func:`risk_pipeline.risk.limits.position_var_es` as limit_status.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from risk_pipeline.books import build_book
from risk_pipeline.cli.pre_trade_options import option_pre_trade_command
from risk_pipeline.config.settings import section
from risk_pipeline.config.portfolios import Portfolio, Position, load_portfolios
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.risk.limits import LIMIT_METHOD, LIMIT_METHOD_TEXT, PreTradeResult, pre_trade_check
from risk_pipeline.config.limits import DEFAULT_LIMITS_FILE, load_limits
from risk_pipeline.storage.lake import read_days, stored_days


class PreTradeError(ValueError):
    """The pre-trade request cannot be answered (names the portfolio, symbol or date)."""


@dataclass(frozen=True)
class PreTradeAnswer:
    """The check, the day of the limits, the close of the positions held over it and the trade as
    base-currency exposures."""

    as_of: dt.date
    positions_close: dt.date
    base_currency: str
    trade_exposures: pd.Series
    result: PreTradeResult


def parse_trades(items: list[str]) -> dict[str, float]:
    """``["AAPL=100", "KO=-50"]`` -> ``{"AAPL": 100.0, "KO": -50.0}`` (amounts add up per symbol)."""
    trades: dict[str, float] = {}
    for item in items:
        symbol, sep, amount = item.partition("=")
        try:
            value = float(amount)
        except ValueError:
            value = float("nan")
        if not sep or not symbol.strip() or not pd.notna(value):
            raise PreTradeError(f"trade {item!r} must look like SYMBOL=AMOUNT, e.g. AAPL=100 or KO=-50")
        trades[symbol.strip()] = trades.get(symbol.strip(), 0.0) + value
    return trades


def _known(name: str) -> dict[str, Portfolio]:
    """The portfolios of the portfolios file, once ``name`` is known (one of them or a book of record)."""
    portfolios = {p.name: p for p in load_portfolios()}
    record = load_books_of_record().books
    if name not in portfolios and name not in record:
        raise PreTradeError(f"unknown portfolio {name!r} (known: {sorted(portfolios) + sorted(record)})")
    return portfolios


def _recorded(name: str, close: dt.date) -> tuple[Portfolio, pd.DataFrame]:
    """A book of record's instruments (at one unit each) and its positions stored for ``close``."""
    held = read_days("positions", [close], where={"portfolio": name})
    if held.empty:
        raise PreTradeError(f"book of record {name!r} has no positions stored for {close} (materialize positions "
                            "over that day)")
    base = load_books_of_record().books[name]
    return Portfolio(name, base, tuple(Position(s, quantity=1.0) for s in held["symbol"])), held


def pre_trade(name: str, trades: Mapping[str, float], *, limits_file: str | None = None, lookback: int = 252,
              as_of: dt.date | None = None, warning_fraction: float | None = None) -> PreTradeAnswer:
    """VaR/ES of ``name`` before and after ``trades`` against its limits (module docstring)."""
    portfolios = _known(name)
    days = [d for d in stored_days("prices") if as_of is None or d <= as_of]
    if len(days) < lookback + 2:
        raise PreTradeError(f"the lake holds {len(days)} price days up to {as_of or 'the latest'}; "
                            f"lookback={lookback} needs {lookback + 2} (the window, the day before it and the day)")
    window = days[-(lookback + 2):]
    portfolio, recorded = (portfolios[name], None) if name in portfolios else _recorded(name, window[-2])
    prices, returns = read_days("prices", window), read_days("returns", window)
    unpriced = sorted(set(portfolio.symbols) - set(prices["symbol"]))
    if unpriced:
        raise PreTradeError(f"portfolio {name!r} holds symbol(s) {unpriced} with no stored prices in the "
                            f"{lookback + 2} days up to {window[-1]} (unknown to the price source, or not yet "
                            "materialized: run the backfill over those days)")
    unknown = sorted(set(trades) - set(prices["symbol"]))
    if unknown:
        raise PreTradeError(f"no stored prices for traded symbol(s) {unknown} (add them to a portfolio or "
                            "prices.extra_symbols and materialize)")
    symbols = list(dict.fromkeys([*portfolio.symbols, *trades]))
    # one unit of every symbol: base-currency unit prices and base-currency returns
    units = build_book(Portfolio(f"{name}.units", portfolio.base_currency,
                                 tuple(Position(s, quantity=1.0) for s in symbols)), prices, returns)
    day = units.exposures.index[-1]
    unit_held, _ = units.held()  # the close before the day
    if recorded is None:
        book = build_book(portfolio, prices, returns)
    else:
        import risk_pipeline.dagster_warnings  # noqa: F401 - before the assets load: their intended beta warnings
        from risk_pipeline.defs.portfolios import record_book  # Dagster's import only for a book of record

        book = record_book(name, portfolio.base_currency, recorded, recorded.iloc[:0], prices, returns)
    held, _ = book.held()
    trade = pd.Series(trades, dtype=float)
    trade_exposures = trade if portfolio.by_weight else trade * unit_held.loc[day, trade.index]
    current = held.loc[day].reindex(symbols).fillna(0.0)
    result = pre_trade_check(units.asset_returns.loc[units.asset_returns.index < day], current, trade_exposures,
                             load_limits(limits_file or DEFAULT_LIMITS_FILE), portfolio=name, lookback=lookback,
                             warning_fraction=warning_fraction)
    return PreTradeAnswer(day.date(), units.exposures.index[-2].date(), portfolio.base_currency, trade_exposures,
                          result)


def add_parser(commands: argparse._SubParsersAction) -> None:
    trade = commands.add_parser(
        "pre-trade",
        help="would a proposed trade keep a portfolio within its limits? VaR/ES before and after",
        description="Exit status 0 when no limit is breached after the trade, 1 when one is, 2 on bad input.",
    )
    trade.add_argument("--portfolio",
                       help="portfolio name (portfolios.yaml, or a book of record); or --book for an option book")
    trade.add_argument("--book", help="option book (options.positions_file): its Greek caps, then its VaR/ES limits")
    trade.add_argument("--option", nargs="+", metavar="TYPE,UNDERLYING,STRIKE,EXPIRY,QUANTITY[,MULTIPLIER]",
                       help="options traded into --book, e.g. put,SP500,3700,2023-01-20,-5 (multiplier 100)")
    trade.add_argument("--trade", nargs="+", metavar="SYMBOL=AMOUNT",
                       help="units for a quantity portfolio or a book of record, base-currency amount for a "
                            "weight portfolio; negative sells")
    trade.add_argument("--limits", default=None, help="limits YAML (default: pipeline.yaml limits.limits_file)")
    trade.add_argument("--lookback", type=int, default=None,
                       help="days of returns simulated (default: pipeline.yaml limits.estimation_window_days, as "
                            "limit_status)")
    trade.add_argument("--as-of", default=None, type=dt.date.fromisoformat,
                       help="the limits of this day, as limit_status: positions held over it, those of the previous "
                            "close (default: the latest stored day)")
    trade.add_argument("--json", action="store_true", help="print the result as JSON")
    trade.set_defaults(run=pre_trade_command)


def pre_trade_command(args: argparse.Namespace) -> int:
    if bool(args.portfolio) == bool(args.book) or bool(args.book) != bool(args.option) or bool(args.portfolio) != bool(
            args.trade):
        raise PreTradeError("give --portfolio with --trade, or --book with --option")
    if args.book:
        return option_pre_trade_command(args)
    settings = section("limits")
    lookback = args.lookback or int(settings["estimation_window_days"])
    answer = pre_trade(
        args.portfolio, parse_trades(args.trade), limits_file=args.limits or settings["limits_file"],
        lookback=lookback,
        as_of=args.as_of,
        warning_fraction=settings["warning_fraction"],
    )
    result = answer.result
    if args.json:
        print(json.dumps({
            "portfolio": result.portfolio, "as_of": answer.as_of.isoformat(),
            "positions_close": answer.positions_close.isoformat(), "method": LIMIT_METHOD,
            "lookback": lookback, "base_currency": answer.base_currency,
            "trade_exposures": answer.trade_exposures.to_dict(), "stays_within_limits": result.stays_within_limits,
            "status_before": result.status_before, "status_after": result.status_after,
            "limits": result.rows.to_dict(orient="records"),
        }, indent=2))
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(f"Portfolio {result.portfolio}: limits of {answer.as_of} as limit_status measures them, by "
                  f"{LIMIT_METHOD_TEXT} (positions of the close of {answer.positions_close}, {lookback} days of "
                  f"returns); amounts in {answer.base_currency}")
            print("Trade (base-currency exposure): " + ", ".join(f"{s} {v:+,.2f}" for s, v in
                                                                answer.trade_exposures.items()))
            percent = {f"utilization_{when}": "{:.1%}".format for when in ("before", "after")}
            print(result.rows.to_string(index=False, float_format=lambda x: f"{x:,.2f}", formatters=percent))
            verdict = "stays within its limits" if result.stays_within_limits else "BREACHES a limit"
            print(f"Status {result.status_before} -> {result.status_after}: the portfolio {verdict} after the trade.")
    return 0 if result.stays_within_limits else 1
