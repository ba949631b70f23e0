"""Portfolio P&L asset: value, P&L and return per portfolio and day in base currency; and
:func:`pnl_history`, the P&L window a rolling estimate reads (stored, or computed from the stored
market data for a book added after its earlier days were stored)."""

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.books import build_book
from risk_pipeline.config.portfolios import Portfolio, load_portfolios
from risk_pipeline.risk.portfolio import pnl_from_exposures
from risk_pipeline.storage.lake import read_window, stored_days

# stored days read before the range: the previous close of every position
PREVIOUS_CLOSE_LOOKBACK = 1


def book_pnl(portfolio: Portfolio, price_history: pd.DataFrame, return_history: pd.DataFrame) -> pd.DataFrame:
    """The portfolio_pnl rows of one portfolio over the dates of the long price and return frames
    (the first date, without a previous close, has none)."""
    book = build_book(portfolio, price_history, return_history)
    pnl = pnl_from_exposures(book.exposures, book.values, book.asset_returns)
    pnl.insert(1, "portfolio", portfolio.name)
    pnl.insert(2, "base_currency", portfolio.base_currency)
    return pnl


def pnl_history(start: dt.date, end: dt.date, lookback: int) -> pd.DataFrame:
    """The portfolio_pnl rows of ``start``..``end`` plus the ``lookback`` stored days before ``start``
    (``read_window``). A portfolio with fewer stored P&L days before ``start`` than the stored prices
    allow (a book added to the portfolios file after those days were materialized: its P&L starts
    with the range) gets its earlier days computed from the stored prices and returns of its symbols
    by :func:`book_pnl`, the rows portfolio_pnl would have stored: a new book has a full estimation
    window on the first day of its range when its symbols have the history."""
    stored = read_window("portfolio_pnl", start, end, lookback=lookback)
    # P&L days the stored prices allow before start: each needs the close of the stored day before it
    possible = min(lookback, max(sum(d < start for d in stored_days("prices")) - 1, 0))
    before = stored.loc[stored["date"] < pd.Timestamp(start)]
    counts = before["portfolio"].value_counts()
    short = [p for p in load_portfolios() if counts.get(p.name, 0) < possible]
    if not short:
        return stored
    price_history = read_window("prices", start, end, lookback=lookback + PREVIOUS_CLOSE_LOOKBACK)
    return_history = read_window("returns", start, end, lookback=lookback + PREVIOUS_CLOSE_LOOKBACK)
    computed = [book_pnl(p, price_history, return_history) for p in short]
    computed = [c.loc[c["date"] < pd.Timestamp(start)].tail(lookback) for c in computed]
    names = {p.name for p in short}
    kept = stored.loc[~(stored["portfolio"].isin(names) & (stored["date"] < pd.Timestamp(start)))]
    frame = pd.concat([kept, *computed], ignore_index=True)
    return frame.sort_values(["date", "portfolio"], kind="stable", ignore_index=True)


@lake_asset(
    group_name="portfolios",
    deps=[prices, returns],
    description="Per portfolio and day: closing value, P&L and simple return in the portfolio's base currency.",
)
def portfolio_pnl(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    price_history = read_window("prices", start, end, lookback=PREVIOUS_CLOSE_LOOKBACK)
    return_history = read_window("returns", start, end, lookback=PREVIOUS_CLOSE_LOOKBACK)
    portfolios = load_portfolios()
    frames = [book_pnl(portfolio, price_history, return_history) for portfolio in portfolios]
    frame = pd.concat(frames, ignore_index=True)
    frames.clear()  # a long run's rows are held once, not twice, while they are written
    frame = frame.loc[frame["date"].dt.date.between(start, end)]
    return publish("portfolio_pnl", frame, days, keys=[p.name for p in portfolios], portfolios=dg.MetadataValue.int(frame["portfolio"].nunique()))
