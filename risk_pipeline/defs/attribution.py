"""VaR attribution asset: marginal, component and incremental VaR per position, day and portfolio."""


import dataclasses
import datetime as dt
from functools import partial

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.chunks import publish_staged
from risk_pipeline.defs.lake_assets import lake_asset, partition_days
from risk_pipeline.defs.portfolios import (
    held_symbols, histories, log_skipped_books, portfolio_pnl, record_books, skipped_metadata,
)
from risk_pipeline.defs.positions import positions
from risk_pipeline.books import Book, build_books
from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.config.portfolios import Portfolio, load_portfolios
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.risk.attribution import rolling_var_decomposition
from risk_pipeline.config.settings import section
from risk_pipeline.storage.lake import empty_frame, read_window
from risk_pipeline.storage.staging import Staged, stage

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
    """Each chunk of books (portfolios, then books of record) is a task of the ``compute`` engine that reads its
    books' instruments' prices and returns, positions and P&L days, builds the books and writes their rows
    (:func:`_stage_decomposition`); one commit (defs/chunks.py). The run's process holds the books' names, not
    the books: on the ``dask`` engine they are not sent to the workers in the graph."""
    start, end, days = partition_days(context)
    items: list[Portfolio | str] = [*load_portfolios(), *load_books_of_record().books]
    chunks = compute.chunks(items)
    # a book of record's held sets change over the range (each a decomposition of its own): the chunks holding
    # them first, so that on two workers the last task to end is not one of them while the other worker waits
    weights = [sum(isinstance(item, str) for item in chunk) for chunk in chunks]
    staged = compute.map(partial(_stage_decomposition, config=config, start=start, end=end, days=days), chunks,
                         weights)
    keys, skipped = [], {}
    for chunk in staged:
        keys += chunk.keys
        skipped.update(chunk.skipped)
    log_skipped_books(context, skipped)
    # the books computed: a book skipped for want of an FX rate keeps what is stored
    return publish_staged("var_decomposition", [chunk.staged for chunk in staged], days, keys,
                          metadata=_latest_totals, **skipped_metadata(skipped))


@dataclasses.dataclass(frozen=True)
class StagedDecomposition:
    """What a task of var_decomposition hands back: its staged rows, the books it computed (the keys it
    replaces) and its books skipped for want of an FX rate (each one line)."""

    staged: Staged
    keys: list[str]
    skipped: dict[str, str]


def _stage_decomposition(chunk: list[Portfolio | str], config: AttributionConfig, start: dt.date, end: dt.date,
                         days: list[dt.date]) -> StagedDecomposition:
    """A task: the var_decomposition rows on ``start``..``end`` of a chunk of portfolios and books of record
    (names), each built from the stored rows of its own instruments and positions only (the window before the
    range's first day and one more day: the first row of a book read from the lake has no held weights),
    written as the table's uncommitted files."""
    portfolios = [item for item in chunk if isinstance(item, Portfolio)]
    names = [item for item in chunk if isinstance(item, str)]
    read = partial(histories, start, end, lookback=config.estimation_window_days + 1)
    pnl = read_window("portfolio_pnl", start, end, columns=["portfolio"],
                      where={"portfolio": [p.name for p in portfolios] + names})
    books, skipped = build_books(portfolios, *read(sorted({s for p in portfolios for s in p.symbols}))) \
        if portfolios else ([], {})
    keys = [book.portfolio.name for book in books]
    if names:
        # the books of record: the positions stored for each previous close
        recorded, recorded_names, recorded_skipped = record_books(
            start, end, *read(held_symbols(start, end, names, with_trades=False)), with_trades=False, names=names)
        books += [book for book, _ in recorded]
        keys += recorded_names
        skipped.update(recorded_skipped)
        del recorded
    frames = [_book_rows((book, pnl.loc[pnl["portfolio"] == book.portfolio.name, "date"]), config) for book in books]
    del books
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("var_decomposition")
    frames.clear()  # a chunk's rows are held once, not twice, while they are written
    frame = frame.loc[frame["date"].dt.date.between(start, end)]
    return StagedDecomposition(stage("var_decomposition", frame, days, keys), keys, skipped)


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
    for _, columns in sets.iterrows():
        symbols = list(columns.index[columns.to_numpy()])
        days = held[symbols].all(axis=1) & (held.sum(axis=1) == len(symbols))
        on_days = days.to_numpy()
        first = max(int(np.argmax(on_days)) - lookback, 0)
        last = len(on_days) - int(np.argmax(on_days[::-1]))  # after its last day: no row of the set
        yield returns[symbols].iloc[first:last], weights[symbols].where(days, axis=0).iloc[first:last]


def _latest_totals(frame: pd.DataFrame) -> dict[str, object]:
    if frame.empty:
        return {}
    latest = frame.loc[frame["date"] == frame["date"].max()]
    top = (latest.sort_values("pct_contribution", ascending=False).groupby("portfolio").head(3)
           [["portfolio", "symbol", "weight", "component_var", "pct_contribution"]])
    return {"latest_top_contributors": dg.MetadataValue.md(top.to_markdown(index=False, floatfmt=".4g"))}
