"""Pre-trade limit check on stored data: would this trade keep the portfolio within its limits?

Positions are the portfolio's base-currency exposures at the latest stored close (or
``as_of``); a trade ``SYMBOL=N`` adds N units for a quantity portfolio and N of base currency
for a weight portfolio. The scenarios are the last ``lookback`` days of stored base-currency
asset returns; the check itself is :func:`risk_pipeline.risk.limits.pre_trade_check`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from risk_pipeline.books import build_book
from risk_pipeline.portfolios import Portfolio, Position, load_portfolios
from risk_pipeline.risk.limits import PreTradeResult, pre_trade_check
from risk_pipeline.scenario_config import DEFAULT_LIMITS_FILE, load_limits
from risk_pipeline.storage.lake import read_days, stored_days


class PreTradeError(ValueError):
    """The pre-trade request cannot be answered (names the portfolio, symbol or date)."""


@dataclass(frozen=True)
class PreTradeAnswer:
    """The check, the date of the positions and the trade as base-currency exposures."""

    as_of: dt.date
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


def _portfolio(name: str) -> Portfolio:
    portfolios = {p.name: p for p in load_portfolios()}
    if name not in portfolios:
        raise PreTradeError(f"unknown portfolio {name!r} (known: {sorted(portfolios)})")
    return portfolios[name]


def pre_trade(name: str, trades: Mapping[str, float], *, limits_file: str | None = None, lookback: int = 252,
              as_of: dt.date | None = None, warning_fraction: float | None = None) -> PreTradeAnswer:
    """VaR/ES of ``name`` before and after ``trades`` against its limits (module docstring)."""
    portfolio = _portfolio(name)
    days = [d for d in stored_days("prices") if as_of is None or d <= as_of]
    if len(days) < lookback + 1:
        raise PreTradeError(f"the lake holds {len(days)} price days up to {as_of or 'the latest'}; "
                            f"lookback={lookback} needs {lookback + 1}")
    window = days[-(lookback + 1):]
    prices, returns = read_days("prices", window), read_days("returns", window)
    unknown = sorted(set(trades) - set(prices["symbol"]))
    if unknown:
        raise PreTradeError(f"no stored prices for traded symbol(s) {unknown} (add them to a portfolio or "
                            "prices.extra_symbols and materialize)")
    symbols = list(dict.fromkeys([*portfolio.symbols, *trades]))
    # one unit of every symbol: base-currency unit prices and base-currency returns
    units = build_book(Portfolio(f"{name}.units", portfolio.base_currency,
                                 tuple(Position(s, quantity=1.0) for s in symbols)), prices, returns)
    book = build_book(portfolio, prices, returns)
    last = units.exposures.index[-1]
    trade = pd.Series(trades, dtype=float)
    trade_exposures = trade if portfolio.by_weight else trade * units.exposures.loc[last, trade.index]
    current = book.exposures.loc[last].reindex(symbols).fillna(0.0)
    result = pre_trade_check(units.asset_returns.iloc[1:], current, trade_exposures,
                             load_limits(limits_file or DEFAULT_LIMITS_FILE), portfolio=name, lookback=lookback,
                             warning_fraction=warning_fraction)
    return PreTradeAnswer(last.date(), portfolio.base_currency, trade_exposures, result)
