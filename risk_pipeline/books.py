"""From a portfolio definition and stored market data to the frames the risk core takes.

One place turns (portfolio, long prices, long returns) into base-currency exposures, values,
asset returns and weights, so that P&L, Monte Carlo VaR, attribution and stress all see the
same book.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipeline.config.portfolios import Portfolio
from risk_pipeline.risk.instruments.fx import to_base_returns
from risk_pipeline.sources.ecb_fx import FxRateError, first_rate_date, fx_currencies, fx_rate
from risk_pipeline.sources.quality import missing_fx_line


@dataclass(frozen=True)
class Book:
    """A portfolio's market frames, dates x symbols, all in its base currency.

    ``exposures``: value of each position at each close; ``values``: the book's value at
    each close; ``asset_returns``: each symbol's simple return over the day in base currency;
    ``weights``: exposures / value at each close (the weights held over the next day);
    ``currencies``: each symbol's currency (None when the frames hold no price for it);
    ``unit_values``: the value in base currency of one unit of each symbol at each close (close x FX).
    """

    portfolio: Portfolio
    exposures: pd.DataFrame
    values: pd.Series
    asset_returns: pd.DataFrame
    weights: pd.DataFrame
    currencies: dict[str, str | None]
    unit_values: pd.DataFrame

    def quantities(self) -> pd.DataFrame:
        """Units of each symbol held at each close: a weight book's exposures over the unit values
        (the quantities its rebalancing to the notional holds), a quantity book's own quantities;
        NaN where the book has no value."""
        if self.portfolio.by_weight:
            held = self.exposures / self.unit_values
        else:
            held = pd.DataFrame(np.tile([p.quantity for p in self.portfolio.positions], (len(self.values), 1)),
                                index=self.values.index, columns=list(self.portfolio.symbols))
        return held.where(self.values.notna(), axis=0)

    def held(self) -> tuple[pd.DataFrame, pd.Series]:
        """Exposures and value held over each day: those of the previous close."""
        return self.exposures.shift(1), self.values.shift(1)


class BookFxError(FxRateError):
    """A book cannot be valued: one of its currencies has no rate on a date it is priced."""


def _wide(frame: pd.DataFrame, column: str, symbols: list[str]) -> pd.DataFrame:
    """``column`` of a long frame as dates x ``symbols``: the frame's dates sorted (those of every
    row), NaN where a symbol has no row; the frame of ``frame.pivot(index="date", columns="symbol")
    .reindex(columns=symbols).sort_index()``, filled by position instead (a book is built about 85
    times in a day's run: the pivot was a third of it)."""
    days, dates = pd.factorize(frame["date"], sort=True)
    codes, names = pd.factorize(frame["symbol"])
    position = {symbol: i for i, symbol in enumerate(symbols)}
    held = np.array([position.get(name, -1) for name in names] + [-1], dtype=np.intp)[codes]
    rows = held >= 0
    days, held = days[rows], held[rows]
    if days.size and np.bincount(days * len(symbols) + held).max() > 1:
        raise ValueError(f"{column}: more than one row for a date and symbol")
    cells = np.full((len(dates), len(symbols)), np.nan)
    cells[days, held] = frame[column].to_numpy(dtype=float)[rows]
    columns = pd.Index(symbols) if symbols else pd.Index(frame["symbol"].iloc[:0])
    return pd.DataFrame(cells, index=pd.Index(dates, name="date"), columns=columns.rename("symbol"))


def _position_currencies(portfolio: Portfolio, prices: pd.DataFrame) -> dict[str, str | None]:
    """Each position's currency: its own setting, else the currency its prices are quoted in (that
    of the symbol's first row; None when the window holds no price for it: the book then has no
    value on those dates)."""
    codes, names = pd.factorize(prices["symbol"])
    first = np.unique(codes, return_index=True)[1]
    quoted = dict(zip(names, prices["currency"].to_numpy()[first]))
    return {p.symbol: p.currency or quoted.get(p.symbol) for p in portfolio.positions}


def _fx_levels(base: str, currencies: dict[str, str | None], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Price in ``base`` of one unit of each symbol's currency.

    NaN before the first rate of either currency (the book has no history there); a missing
    rate after it is an FxRateError naming the currency and the first date without one.
    """
    levels = {}
    cache: dict[str, pd.Series] = {}
    for symbol, currency in currencies.items():
        if currency is None or currency == base:
            levels[symbol] = pd.Series(float("nan") if currency is None else 1.0, index=dates)
            continue
        if currency not in cache:
            unquoted = sorted({base, currency} - fx_currencies())
            if unquoted and len(dates):  # e.g. a CSV quoting prices in a currency without any rate
                raise FxRateError(f"no {unquoted[0]} rate at all", currency=unquoted[0], first_missing=dates[0])
            covered = dates >= max(first_rate_date(base), first_rate_date(currency))
            rates = pd.Series(float("nan"), index=dates)
            rates[covered] = fx_rate(base, currency, dates[covered]).to_numpy()
            cache[currency] = rates
        levels[symbol] = cache[currency]
    return pd.DataFrame(levels, index=dates)


def currency_levels(base: str, currencies: list[str], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Price in ``base`` of one unit of each currency on ``dates`` (columns currencies; NaN
    before the first rate of both)."""
    return _fx_levels(base, {c: c for c in currencies}, pd.DatetimeIndex(dates))


def currency_returns(base: str, currencies: list[str], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Daily simple return of each currency's price in ``base`` on ``dates`` (columns currencies;
    NaN before the first rate of both, and on the first date)."""
    levels = currency_levels(base, currencies, dates)
    return levels / levels.shift(1) - 1.0


def build_book(portfolio: Portfolio, prices: pd.DataFrame, returns: pd.DataFrame) -> Book:
    """The book of ``portfolio`` over the dates of ``prices`` (long frames as stored in the lake).

    A currency without a rate on a date (after its first one) raises BookFxError, whose message
    is the one line of ``quality.missing_fx_line`` (the book, the currency, the first date).
    """
    symbols = list(portfolio.symbols)
    held_prices = prices.loc[prices["symbol"].isin(symbols)]
    held_returns = returns.loc[returns["symbol"].isin(symbols)]
    close = _wide(held_prices, "close", symbols)
    dates = close.index
    local = _wide(held_returns, "simple_return", symbols).reindex(dates)
    currencies = _position_currencies(portfolio, held_prices)
    try:
        fx = _fx_levels(portfolio.base_currency, currencies, dates)
    except FxRateError as exc:
        if exc.first_missing is None:
            raise
        raise BookFxError(missing_fx_line(portfolio.name, exc.currency, exc.first_missing),
                          currency=exc.currency, first_missing=exc.first_missing) from None
    fx_returns = fx / fx.shift(1) - 1.0
    asset_returns = to_base_returns(local, fx_returns)
    if portfolio.by_weight:
        weights = pd.Series({p.symbol: p.weight for p in portfolio.positions}, dtype=float)[symbols]
        exposures = pd.DataFrame(
            np.tile(weights.to_numpy() * portfolio.notional, (len(dates), 1)), index=dates, columns=symbols
        )
        values = pd.Series(float(portfolio.notional), index=dates)
    else:
        quantities = pd.Series({p.symbol: p.quantity for p in portfolio.positions}, dtype=float)[symbols]
        exposures = close * fx * quantities
        values = exposures.sum(axis=1, min_count=len(symbols))
    return Book(
        portfolio=portfolio,
        exposures=exposures,
        values=values,
        asset_returns=asset_returns,
        weights=exposures.div(values, axis=0),
        currencies=currencies,
        unit_values=close * fx,
    )


class SymbolRows:
    """The rows of a long frame (a ``symbol`` column) grouped by symbol once, so that each of many
    books takes its symbols' rows without scanning the whole frame (books x rows): :meth:`of` gives
    the rows of some symbols, each symbol's rows in the frame's order."""

    def __init__(self, frame: pd.DataFrame) -> None:
        codes, symbols = pd.factorize(frame["symbol"])
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(symbols) + 1))
        self._frame = frame
        self._order = order
        self._bounds = {symbol: (bounds[i], bounds[i + 1]) for i, symbol in enumerate(symbols)}

    def of(self, symbols: Sequence[str]) -> pd.DataFrame:
        spans = [self._bounds[s] for s in dict.fromkeys(symbols) if s in self._bounds]
        rows = np.concatenate([self._order[a:b] for a, b in spans]) if spans else np.array([], dtype=np.intp)
        return self._frame.iloc[rows]


def build_books(portfolios: Sequence[Portfolio], prices: pd.DataFrame,
                returns: pd.DataFrame) -> tuple[list[Book], dict[str, str]]:
    """The books of ``portfolios`` that can be valued, and per book that cannot for want of an FX
    rate its one-line message: a book whose FX is missing fails alone, the others are computed."""
    books, skipped = [], {}
    price_rows, return_rows = SymbolRows(prices), SymbolRows(returns)
    for portfolio in portfolios:
        try:
            books.append(build_book(portfolio, price_rows.of(portfolio.symbols), return_rows.of(portfolio.symbols)))
        except BookFxError as exc:
            skipped[portfolio.name] = str(exc)
    return books, skipped
