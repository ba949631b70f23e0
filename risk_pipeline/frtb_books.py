"""From portfolios and stored market data to the FRTB core's inputs: each desk as a
:class:`risk_pipeline.risk.frtb.FactorBook` in its base currency, and the bank (every desk
together) in the reporting currency.

A desk's positions and values are those of the book portfolio_pnl values
(:func:`risk_pipeline.books.build_book` for a portfolio, the stored positions of a book of record);
its risk factors are each asset's price (local return) and, for an
asset quoted in another currency, that currency's FX rate against the desk's base. The bank
holds every desk's positions converted to the reporting currency at each close (a desk
joins the bank from its first valued day); its FX factors are the assets' currencies against
the reporting currency, so a EUR desk holding US stocks adds only equity risk to a USD bank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipeline.books import Book, _wide, currency_levels, currency_returns
from risk_pipeline.config.frtb import FrtbConfig
from risk_pipeline.risk.frtb import FactorBook
from risk_pipeline.risk.instruments.fx import to_base_returns
from risk_pipeline.risk.portfolio import pnl_from_exposures
from risk_pipeline.risk.sums import row_sums


@dataclass(frozen=True)
class FrtbBook:
    """A desk or the bank: its FactorBook and the daily P&L of its held positions
    (``portfolio_pnl`` columns: date, value, pnl, simple_return), in ``base_currency``;
    ``actual_pnl`` (by date) when it trades (None: the hypothetical P&L, a book without trades);
    ``held``: a book of record's frames (its desk model revalues the positions held)."""

    name: str
    base_currency: str
    factors: FactorBook
    pnl: pd.DataFrame
    actual_pnl: pd.Series | None = None
    held: Book | None = None


def _local_returns(returns: pd.DataFrame, symbols: list[str], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Each of ``symbols``' simple return on ``dates`` (NaN without a row): the frame of
    ``returns.pivot(index="date", columns="symbol", values="simple_return").reindex(index=dates, columns=symbols)``
    filled by position (``books._wide``), without the pivot's cost on the 16 years ``frtb_es`` reads. Its
    array is row-major, as the pivot's is: the ES core's products sum in the order of that layout."""
    wide = _wide(returns, "simple_return", symbols)
    at = wide.index.get_indexer(dates)
    local = np.full((len(dates), len(symbols)), np.nan)
    local[at >= 0] = wide.to_numpy()[at[at >= 0]]
    return pd.DataFrame(local, index=dates, columns=wide.columns, copy=False)  # not copied: the frame keeps its layout


def _factor_book(config: FrtbConfig, close_exposures: pd.DataFrame, local: pd.DataFrame, fx: pd.DataFrame,
                 symbols: list[str], currencies: list[str]) -> FactorBook:
    return FactorBook(
        exposures=close_exposures.shift(1),
        equity_returns=local,
        fx_returns=fx,
        equity_horizon=np.array([config.equity_horizon(s) for s in symbols]),
        fx_horizon=np.array([config.fx_horizon(c) for c in currencies]),
        equity_reduced=np.array([s not in config.reduced_excludes_equity for s in symbols]),
        fx_reduced=np.array([c not in config.reduced_excludes_fx for c in currencies]),
    )


def position_fx_returns(base: str, currencies: list[str], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Per position, the daily return of its currency in ``base`` (0.0 for the base itself)."""
    foreign = sorted({c for c in currencies if c != base})
    by_currency = currency_returns(base, foreign, dates) if foreign else pd.DataFrame(index=dates)
    columns = {i: (by_currency[c] if c != base else pd.Series(0.0, index=dates)) for i, c in enumerate(currencies)}
    return pd.DataFrame(columns, index=dates)


def desk_book(config: FrtbConfig, book: Book, returns: pd.DataFrame, actual_pnl: pd.Series | None = None,
              recorded: bool = False) -> FrtbBook:
    """The desk of ``book`` (:func:`risk_pipeline.books.build_book` of a portfolio, or
    :func:`risk_pipeline.defs.portfolios.record_book` of a book of record: ``recorded``) over the
    dates of its frames, ``returns`` the long frame as stored; ``actual_pnl`` its actual P&L by date
    when it trades."""
    portfolio = book.portfolio
    symbols = list(portfolio.symbols)
    dates = pd.DatetimeIndex(book.exposures.index)
    currencies = [book.currencies[s] or portfolio.base_currency for s in symbols]
    local = _local_returns(returns, symbols, dates)
    fx = position_fx_returns(portfolio.base_currency, currencies, dates)
    fx.columns = symbols
    factors = _factor_book(config, book.exposures, local, fx, symbols, currencies)
    # a book of record's columns are the instruments held anywhere in the frames' dates: its P&L is the
    # sum of each day's nonzero terms (risk.sums.row_sums), as portfolio_pnl stores it, whatever the range
    pnl = pnl_from_exposures(book.exposures, book.values, book.asset_returns,
                             **({"sum_rows": row_sums} if recorded else {}))
    return FrtbBook(portfolio.name, portfolio.base_currency, factors, pnl, actual_pnl, book if recorded else None)


def bank_book(config: FrtbConfig, desks: list[tuple[Book, FrtbBook]], returns: pd.DataFrame) -> FrtbBook:
    """Every desk's positions together, in ``config.reporting_currency`` (module docstring), from each
    desk's book and FrtbBook; its actual P&L adds the desks' trades (actual - hypothetical P&L) at
    each close's rate, when a desk trades."""
    target = config.reporting_currency
    exposures, symbols, currencies, trading = [], [], [], []
    for book, desk in desks:
        portfolio = book.portfolio
        dates = pd.DatetimeIndex(book.exposures.index)
        level = currency_levels(target, [portfolio.base_currency], dates)[portfolio.base_currency]
        exposures.append(book.exposures.mul(level, axis=0).set_axis(
            [f"{portfolio.name}:{s}" for s in portfolio.symbols], axis=1))
        symbols += list(portfolio.symbols)
        currencies += [book.currencies[s] or portfolio.base_currency for s in portfolio.symbols]
        if desk.actual_pnl is not None:
            traded = desk.actual_pnl - desk.pnl.set_index("date")["pnl"].reindex(desk.actual_pnl.index)
            trading.append(traded.mul(level.reindex(traded.index)))
    close = pd.concat(exposures, axis=1).sort_index().fillna(0.0)  # a desk without value is not (yet) held
    dates = pd.DatetimeIndex(close.index)
    local = _local_returns(returns, sorted(set(symbols)), dates)[symbols].set_axis(close.columns, axis=1)
    fx = position_fx_returns(target, currencies, dates).set_axis(close.columns, axis=1)
    factors = _factor_book(config, close, local, fx, symbols, currencies)
    pnl = pnl_from_exposures(close, close.sum(axis=1), to_base_returns(local, fx))
    actual = None
    if trading:
        hypothetical = pnl.set_index("date")["pnl"]
        actual = hypothetical + pd.concat(trading, axis=1).sum(axis=1).reindex(hypothetical.index).fillna(0.0)
    return FrtbBook(config.bank_name, target, factors, pnl, actual)
