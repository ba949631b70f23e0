"""The positions a forecast is made for: for each forecast day t, the base-currency value of each
instrument held at the close of t-1, and the book's value at that close.

The VaR engine (:func:`risk_pipeline.risk.var.held_positions.held_var_es_grid`) and Monte Carlo
read the positions held through these two functions only. Today they come from the book of the
portfolios file (:func:`risk_pipeline.books.build_book`: constant weights rebalanced to the
notional at each close, or constant quantities valued at each close); a book of record's daily
``positions`` table replaces the body of :func:`book_exposures` (quantities times the closes and
FX of t-1), and :func:`held_values` reads the value of the previous close from ``portfolio_pnl``
computed on the same positions.
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
