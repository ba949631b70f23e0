"""The positions a forecast is made for: for each forecast day t, the base-currency value of each
instrument held at the close of t-1, and the book's value at that close.

The VaR engine (:func:`risk_pipeline.risk.var.held_positions.held_var_es_grid`) and Monte Carlo
read the positions held through these two functions only. They read the book's frames: a book of
the portfolios file (:func:`risk_pipeline.books.build_book`: constant weights rebalanced to the
notional at each close, or constant quantities valued at each close), or a book of record
(:func:`risk_pipeline.defs.portfolios.record_book`: the quantities of the ``positions`` table at
each close times that close's price and FX, the frames ``portfolio_pnl`` values it with; NaN on
the days without stored positions, which have no forecast the day after).
"""

from __future__ import annotations

import pandas as pd

from risk_pipeline.books import Book


def book_exposures(book: Book, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Forecast days x the book's instruments: the value in base currency of each position held at
    the close before each day (NaN where that close is unknown)."""
    return book.exposures.shift(1).reindex(days)


def held_values(book: Book, days: pd.DatetimeIndex) -> pd.Series:
    """The book's value at the close before each forecast day (the value the forecast is a fraction of)."""
    return book.values.shift(1).reindex(days)
