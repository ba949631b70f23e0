"""VaR attribution asset: marginal, component and incremental VaR per position, day and portfolio."""


from functools import partial

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.chunks import publish_chunks
from risk_pipeline.defs.lake_assets import lake_asset, partition_days
from risk_pipeline.defs.portfolios import (
    BOOK_PRICE_COLUMNS, BOOK_RETURN_COLUMNS, log_skipped_books, portfolio_pnl, record_books, skipped_metadata,
)
from risk_pipeline.defs.positions import positions
from risk_pipeline.books import Book, build_books
from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.risk.attribution import rolling_var_decomposition
from risk_pipeline.config.settings import section
from risk_pipeline.storage.lake import empty_frame, read_window

_ATTRIBUTION = section("attribution")


class AttributionConfig(dg.Config):
    """Attribution settings; defaults from the ``attribution`` section of pipeline.yaml."""

    estimation_window_days: int = int(_ATTRIBUTION["estimation_window_days"])
    confidence: float = float(_ATTRIBUTION["confidence"])


@lake_asset(
    group_name="attribution",
    deps=[portfolio_pnl, prices, returns, positions],
    description=(
        "Per portfolio, day and position: marginal, component and incremental parametric VaR from a "
        "Ledoit-Wolf covariance of the previous `estimation_window_days` days (Euler: components sum to the total), "
        "the weights held that day, and historical component ES. Fractions of value; "
        "component_var_amount in base currency."
    ),
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def var_decomposition(context: dg.AssetExecutionContext, config: AttributionConfig,
                      compute: Compute) -> dg.MaterializeResult:
    """Each chunk of books is a task of the ``compute`` engine, which writes its rows (defs/chunks.py)."""
    start, end, days = partition_days(context)
    # one more day than the window: the first row of a book read from the lake has no held weights
    lookback = config.estimation_window_days + 1
    # the columns the books are built from (books.build_book, record_books), not the others of the tables
    price_history = read_window("prices", start, end, lookback=lookback, columns=BOOK_PRICE_COLUMNS)
    return_history = read_window("returns", start, end, lookback=lookback, columns=BOOK_RETURN_COLUMNS)
    pnl = read_window("portfolio_pnl", start, end)
    books, skipped = build_books(load_portfolios(), price_history, return_history)
    # the books of record: the positions stored for each previous close
    recorded, recorded_names, recorded_skipped = record_books(start, end, price_history, return_history,
                                                              with_trades=False)
    skipped.update(recorded_skipped)
    log_skipped_books(context, skipped)
    tasks = [(book, pnl.loc[pnl["portfolio"] == book.portfolio.name, "date"])
             for book in books + [book for book, _ in recorded]]
    computed = [book.portfolio.name for book in books] + recorded_names
    # a book of record's held sets change over the range (each a decomposition of its own): the chunks holding
    # them first, so that on two workers the last task to end is not one of them while the other worker waits
    of_record = {book.portfolio.name for book, _ in recorded}
    return publish_chunks(compute, "var_decomposition", partial(_chunk_rows, config=config, start=start, end=end),
                          tasks, days, keys=computed, metadata=_latest_totals,
                          weight=partial(_of_record, names=of_record), **skipped_metadata(skipped))


def _of_record(task: tuple[Book, pd.Series], names: set[str]) -> int:
    """A task's weight: 1 for a book of record (``names``), 0 for a portfolio."""
    return int(task[0].portfolio.name in names)


def _chunk_rows(chunk: list[tuple[Book, pd.Series]], config: AttributionConfig, start, end) -> pd.DataFrame:
    """A task: the rows of a chunk of books on ``start``..``end``."""
    frames = [_book_rows(task, config) for task in chunk]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("var_decomposition")
    return frame.loc[frame["date"].dt.date.between(start, end)]


def _book_rows(task: tuple[Book, pd.Series], config: AttributionConfig) -> pd.DataFrame:
    """One book's rows on the days it has P&L (``task``: the book and those days)."""
    book, dates = task
    portfolio = book.portfolio
    held_exposures, held_values = book.held()
    weights = held_exposures.div(held_values.where(held_values != 0.0), axis=0)  # a zero value: no weights
    window = config.estimation_window_days
    table = pd.concat([rolling_var_decomposition(returns, held, confidence=config.confidence, lookback=window)
                       for returns, held in _held_sets(book.asset_returns, weights, dates, window)])
    table = table.loc[table["date"].isin(dates)]
    table.insert(1, "portfolio", portfolio.name)
    # the components of the fractions of value scale by |value| (a short book of negative value: positive amounts)
    table["component_var_amount"] = table["component_var"] * held_values.abs().reindex(table["date"]).to_numpy()
    return table.assign(confidence=config.confidence, estimation_window_days=config.estimation_window_days,
                        base_currency=portfolio.base_currency)


def _held_sets(returns: pd.DataFrame, weights: pd.DataFrame, dates: pd.Series, lookback: int):
    """(returns, weights) of each set of instruments held on some of ``dates``: its columns only, the
    other days' weights NaN, the rows from ``lookback`` before its first day to its last (the shrunk covariance
    depends on the instruments it covers, so a day's decomposition covers those held that day, in a
    backfill as in a new day; the rows after its last day have no row of the set, and the window sums of a
    row read the rows before it only). A book that always holds the same instruments is one set."""
    held = weights.notna() & (weights != 0.0)
    on = held.loc[held.index.isin(dates)]
    sets = on.loc[on.any(axis=1)].drop_duplicates()
    if sets.empty or (len(sets) == 1 and sets.iloc[0].all()):
        yield returns, weights
        return
    # the days of each set from the arrays of what is held (a frame per set cost a book of record of 266 sets
    # more than their decompositions)
    mask = held.to_numpy()
    count = mask.sum(axis=1)
    for columns in sets.to_numpy():
        symbols = list(held.columns[columns])
        on_days = mask[:, columns].all(axis=1) & (count == len(symbols))
        first = max(int(np.argmax(on_days)) - lookback, 0)
        last = len(on_days) - int(np.argmax(on_days[::-1]))  # after its last day: no row of the set
        kept = np.repeat(on_days[first:last, None], len(symbols), axis=1)
        yield returns[symbols].iloc[first:last], weights[symbols].iloc[first:last].where(kept)


def _latest_totals(frame: pd.DataFrame) -> dict[str, object]:
    if frame.empty:
        return {}
    latest = frame.loc[frame["date"] == frame["date"].max()]
    top = (latest.sort_values("pct_contribution", ascending=False).groupby("portfolio").head(3)
           [["portfolio", "symbol", "weight", "component_var", "pct_contribution"]])
    return {"latest_top_contributors": dg.MetadataValue.md(top.to_markdown(index=False, floatfmt=".4g"))}
