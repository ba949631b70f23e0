"""Portfolio P&L asset: value, P&L and return per portfolio and day in base currency; and
:func:`pnl_history`, the P&L window a rolling estimate reads (stored, or computed from the stored
market data for a book added after its earlier days were stored)."""

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.books import Book, build_books
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.risk.portfolio import pnl_from_exposures
from risk_pipeline.storage.lake import empty_frame, read_window, stored_days

# stored days read before the range: the previous close of every position
PREVIOUS_CLOSE_LOOKBACK = 1


def book_rows(book: Book) -> pd.DataFrame:
    """The portfolio_pnl rows of one book over the dates of its frames (the first date, without a
    previous close, has none)."""
    pnl = pnl_from_exposures(book.exposures, book.values, book.asset_returns)
    pnl.insert(1, "portfolio", book.portfolio.name)
    pnl.insert(2, "base_currency", book.portfolio.base_currency)
    return pnl


def pnl_history(start: dt.date, end: dt.date, lookback: int) -> pd.DataFrame:
    """The portfolio_pnl rows of ``start``..``end`` plus the ``lookback`` stored days before ``start``
    (``read_window``). A portfolio with fewer stored P&L days before ``start`` than the stored prices
    allow (a book added to the portfolios file after those days were materialized: its P&L starts
    with the range) gets its earlier days computed from the stored prices and returns of its symbols
    by :func:`book_rows`, the rows portfolio_pnl would have stored: a new book has a full estimation
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
    books, _ = build_books(short, price_history, return_history)  # a book without its FX keeps what is stored
    computed = [book_rows(book) for book in books]
    computed = [c.loc[c["date"] < pd.Timestamp(start)].tail(lookback) for c in computed]
    names = {book.portfolio.name for book in books}
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
    books, skipped = build_books(load_portfolios(), price_history, return_history)
    log_skipped_books(context, skipped)
    frames = [book_rows(book) for book in books]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("portfolio_pnl")
    frames.clear()  # a long run's rows are held once, not twice, while they are written
    frame = frame.loc[frame["date"].dt.date.between(start, end)]
    # the books computed: a book skipped for want of an FX rate keeps what is stored
    return publish("portfolio_pnl", frame, days, keys=[book.portfolio.name for book in books],
                   portfolios=dg.MetadataValue.int(frame["portfolio"].nunique()), **skipped_metadata(skipped))


def log_skipped_books(context: dg.AssetExecutionContext, skipped: dict[str, str]) -> None:
    """One warning line per book left out of the run for want of an FX rate (``books.build_books``)."""
    for line in skipped.values():
        context.log.warning(f"{line}: the book is skipped, the other books go on")


def skipped_metadata(skipped: dict[str, str]) -> dict[str, object]:
    """``skipped_books``: the one line of each book left out, for the materialization's metadata."""
    return {"skipped_books": dg.MetadataValue.text("\n".join(skipped.values()))} if skipped else {}
