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
    ``unit_values``: the value in base currency of one unit of each symbol at each close (close x FX);
    ``held_quantities``: a book of record's stored units at each close (``defs.portfolios.record_book``),
    None for a book of portfolios.yaml.
    """

    portfolio: Portfolio
    exposures: pd.DataFrame
    values: pd.Series
    asset_returns: pd.DataFrame
    weights: pd.DataFrame
    currencies: dict[str, str | None]
    unit_values: pd.DataFrame
    held_quantities: pd.DataFrame | None = None

    def quantities(self) -> pd.DataFrame:
        """Units of each symbol held at each close: a book of record's stored quantities, a weight book's
        exposures over the unit values (the quantities its rebalancing to the notional holds), a quantity
        book's own quantities; NaN where the book has no value. A book of record's are its stored ones, not
        exposures over unit values, which differ from them in the last bits (a traded value of 1e-11 on a
        day without trades)."""
        if self.held_quantities is not None:
            held = self.held_quantities
        elif self.portfolio.by_weight:
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
    held = _positions(frame, symbols)
    rows = held >= 0
    cells = _cells(days[rows], held[rows], frame[column].to_numpy(dtype=float)[rows], len(dates), len(symbols), column)
    return pd.DataFrame(cells, index=pd.Index(dates, name="date"), columns=_symbol_columns(frame, symbols))


def _positions(frame: pd.DataFrame, symbols: list[str]) -> np.ndarray:
    """Each row's column among ``symbols`` (-1: a symbol not among them), from one factorization of the symbols."""
    codes, names = pd.factorize(frame["symbol"])
    position = {symbol: i for i, symbol in enumerate(symbols)}
    return np.array([position.get(name, -1) for name in names] + [-1], dtype=np.intp)[codes]


def _cells(days: np.ndarray, columns: np.ndarray, values: np.ndarray, n_dates: int, n_symbols: int,
           column: str) -> np.ndarray:
    """Dates x symbols, ``values`` at (``days``, ``columns``) and NaN elsewhere; a ValueError naming ``column`` for
    two rows of a date and symbol."""
    if days.size and np.bincount(days * n_symbols + columns).max() > 1:
        raise ValueError(f"{column}: more than one row for a date and symbol")
    cells = np.full((n_dates, n_symbols), np.nan)
    cells[days, columns] = values
    return cells


def _symbol_columns(frame: pd.DataFrame, symbols: list[str]) -> pd.Index:
    """The columns of a book's wide frames: ``symbols``, named ``symbol``."""
    columns = pd.Index(symbols) if symbols else pd.Index(frame["symbol"].iloc[:0])
    return columns.rename("symbol")


def _position_currencies(portfolio: Portfolio, prices: pd.DataFrame) -> dict[str, str | None]:
    """Each position's currency: its own setting, else the currency its prices are quoted in (that
    of the symbol's first row; None when the window holds no price for it: the book then has no
    value on those dates)."""
    codes, names = pd.factorize(prices["symbol"])
    first = np.unique(codes, return_index=True)[1]
    quoted = dict(zip(names, prices["currency"].to_numpy()[first]))
    return {p.symbol: p.currency or quoted.get(p.symbol) for p in portfolio.positions}


def _fx_levels(base: str, currencies: dict[str, str | None], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Price in ``base`` of one unit of each symbol's currency (:func:`_fx_array`, columns the symbols)."""
    levels = _fx_array(base, currencies, dates)
    return pd.DataFrame({symbol: levels[:, j] for j, symbol in enumerate(currencies)}, index=dates)


def _fx_array(base: str, currencies: dict[str, str | None], dates: pd.DatetimeIndex) -> np.ndarray:
    """Price in ``base`` of one unit of each symbol's currency, dates x symbols.

    NaN before the first rate of either currency (the book has no history there); a missing
    rate after it is an FxRateError naming the currency and the first date without one.
    """
    levels = np.empty((len(dates), len(currencies)))
    cache: dict[str, np.ndarray] = {}
    for j, currency in enumerate(currencies.values()):
        if currency is None or currency == base:
            levels[:, j] = float("nan") if currency is None else 1.0
            continue
        if currency not in cache:
            unquoted = sorted({base, currency} - fx_currencies())
            if unquoted and len(dates):  # e.g. a CSV quoting prices in a currency without any rate
                raise FxRateError(f"no {unquoted[0]} rate at all", currency=unquoted[0], first_missing=dates[0])
            covered = np.asarray(dates >= max(first_rate_date(base), first_rate_date(currency)))
            rates = np.full(len(dates), float("nan"))
            rates[covered] = fx_rate(base, currency, dates[covered]).to_numpy()
            cache[currency] = rates
        levels[:, j] = cache[currency]
    return levels


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
    """The book of ``portfolio`` over the dates of ``prices`` (long frames as stored in the lake):
    those of its symbols' rows.

    A currency without a rate on a date (after its first one) raises BookFxError, whose message
    is the one line of ``quality.missing_fx_line`` (the book, the currency, the first date).
    The frames are those of pandas' own arithmetic on the wide frames (:func:`_wide` of the
    symbols' rows, the FX levels, ``to_base_returns``), computed on their arrays: the same numbers, bit
    for bit, without a frame per step (a book is built about 85 times in a day's run).
    """
    symbols = list(portfolio.symbols)
    price_at, return_at = _positions(prices, symbols), _positions(returns, symbols)
    priced, returned = np.flatnonzero(price_at >= 0), np.flatnonzero(return_at >= 0)
    # the dates of the symbols' price rows, sorted, in the type of the frame's dates
    codes, uniques = pd.factorize(prices["date"], sort=True)
    used = np.unique(codes[priced])
    dates = pd.Index(uniques[used], name="date")
    close = _cells(np.searchsorted(used, codes[priced]), price_at[priced],
                   prices["close"].to_numpy(dtype=float)[priced], len(dates), len(symbols), "close")
    return_codes, return_dates = pd.factorize(returns["date"])
    _cells(return_codes[returned], return_at[returned], np.zeros(len(returned)), len(return_dates), len(symbols),
           "simple_return")  # the same error as for prices for two rows of a date and symbol
    at = dates.get_indexer(return_dates)[return_codes[returned]]
    kept = at >= 0  # the returns on the dates of the prices (a reindex)
    local = np.full((len(dates), len(symbols)), np.nan)
    local[at[kept], return_at[returned][kept]] = returns["simple_return"].to_numpy(dtype=float)[returned][kept]
    # each symbol's first price row holds its quoted currency
    first = priced[np.unique(price_at[priced], return_index=True)[1]]
    currencies = _position_currencies(portfolio, prices.iloc[first])
    try:
        fx = _fx_array(portfolio.base_currency, currencies, dates)
    except FxRateError as exc:
        if exc.first_missing is None:
            raise
        raise BookFxError(missing_fx_line(portfolio.name, exc.currency, exc.first_missing),
                          currency=exc.currency, first_missing=exc.first_missing) from None
    previous = np.vstack([np.full((1, len(symbols)), np.nan), fx[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        fx_returns = fx / previous - 1.0
        asset_returns = to_base_returns(local, fx_returns)
    unit_values = close * fx
    columns = _symbol_columns(prices, symbols)
    if portfolio.by_weight:
        weights = np.array([p.weight for p in portfolio.positions], dtype=float)
        exposures = pd.DataFrame(np.tile(weights * portfolio.notional, (len(dates), 1)), index=dates, columns=symbols)
        values = pd.Series(float(portfolio.notional), index=dates)
    else:
        quantities = np.array([p.quantity for p in portfolio.positions], dtype=float)
        exposures = pd.DataFrame(unit_values * quantities, index=dates, columns=columns)
        values = exposures.sum(axis=1, min_count=len(symbols))  # pandas' row sum, as before (its layout's rounding)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights_held = exposures.to_numpy() / values.to_numpy()[:, None]
    return Book(
        portfolio=portfolio,
        exposures=exposures,
        values=values,
        asset_returns=pd.DataFrame(asset_returns, index=dates, columns=columns),
        weights=pd.DataFrame(weights_held, index=dates, columns=exposures.columns),
        currencies=currencies,
        unit_values=pd.DataFrame(unit_values, index=dates, columns=columns),
    )


class SymbolRows:
    """The rows of a long frame (a ``symbol`` column) grouped by symbol once, so that each of many
    books takes its symbols' rows without scanning the whole frame (books x rows): :meth:`of` gives
    the rows of some symbols, each symbol's rows in the frame's order, or ordered by the column ``by``
    (stable: the frame's order among equal values). Ordered by ``"date"``, a frame in the order read
    gives each symbol the rows of the frame sorted by date, without sorting (taking) every column of
    the whole frame first: the books' reads (``defs.portfolios.histories``) are not sorted."""

    def __init__(self, frame: pd.DataFrame, by: str | None = None) -> None:
        codes, symbols = pd.factorize(frame["symbol"])
        order = np.argsort(codes, kind="stable") if by is None else np.lexsort((frame[by].to_numpy(), codes))
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
    rate its one-line message: a book whose FX is missing fails alone, the others are computed. ``prices`` and
    ``returns`` in any order of their rows (each symbol's rows are taken by date)."""
    books, skipped = [], {}
    price_rows, return_rows = SymbolRows(prices, by="date"), SymbolRows(returns, by="date")
    for portfolio in portfolios:
        try:
            books.append(build_book(portfolio, price_rows.of(portfolio.symbols), return_rows.of(portfolio.symbols)))
        except BookFxError as exc:
            skipped[portfolio.name] = str(exc)
    return books, skipped
