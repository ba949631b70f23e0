"""Portfolio P&L asset: value, P&L and return per portfolio and day in base currency."""

import dagster as dg
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.books import Book, build_books
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.risk.portfolio import pnl_from_exposures
from risk_pipeline.storage.lake import empty_frame, read_window

# stored days read before the range: the previous close of every position
PREVIOUS_CLOSE_LOOKBACK = 1


def book_rows(book: Book) -> pd.DataFrame:
    """The portfolio_pnl rows of one book over the dates of its frames (the first date, without a
    previous close, has none)."""
    pnl = pnl_from_exposures(book.exposures, book.values, book.asset_returns)
    pnl.insert(1, "portfolio", book.portfolio.name)
    pnl.insert(2, "base_currency", book.portfolio.base_currency)
    return pnl


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
