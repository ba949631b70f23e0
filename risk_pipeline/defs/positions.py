"""The positions held at each close and the trades of each day, per book (docs/positions.md).

``positions`` holds every book: a portfolio of ``portfolios.yaml`` as the position history it
stands for (a weight book its weights rebalanced to the notional at each close, quantity = weight x
notional / the unit's value in base currency; a quantity book its quantities), and each book of
record as its source gives it. ``trades`` holds the books of record's trades. Both are validated
before anything is written: a bad row is one line naming the file, the row and the field.
"""


import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection
from functools import partial

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.books import Book, build_books
from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.config.last_dates import configured_last_dates
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.config.positions import BooksOfRecord, load_books_of_record
from risk_pipeline.defs.chunks import publish_staged
from risk_pipeline.defs.lake_assets import checked_days, lake_asset, partition_days, publish
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.sources import quality
from risk_pipeline.sources.positions import (
    POSITION_COLUMNS,
    TRADE_COLUMNS,
    PositionDataError,
    day_file_name,
    load_records,
    row_origin,
)
from risk_pipeline.storage.lake import empty_frame, read_window, window_days
from risk_pipeline.storage.staging import stage

CARRIED_CHECK = "positions_not_carried_forward"


def yaml_positions(book: Book) -> pd.DataFrame:
    """The positions rows of a portfolio of portfolios.yaml on the dates its value is known: each date's known
    quantities in the book's symbol order (a symbol unpriced that day has none), the rows of the quantities'
    ``stack()`` taken from their array at once, not through a frame per step."""
    held = book.quantities()
    quantities = held.to_numpy(dtype=float)
    row, column = np.nonzero(~np.isnan(quantities))  # row-major: by date, then the book's symbols
    symbols = pd.Index(held.columns)[column]
    rows = pd.DataFrame({"date": held.index[row], "portfolio": book.portfolio.name, "symbol": symbols,
                         "quantity": quantities[row, column]})
    rows["currency"] = rows["symbol"].map(book.currencies)
    return rows


def quoted_currencies(price_history: pd.DataFrame) -> pd.Series:
    """The currency each instrument's prices are quoted in (its last price row's), by symbol."""
    return price_history.drop_duplicates("symbol", keep="last").set_index("symbol")["currency"]


def _fill_currency(frame: pd.DataFrame, quoted: pd.Series) -> pd.DataFrame:
    """A row without a currency takes the one its instrument's prices are quoted in (``quoted``)."""
    return frame.assign(currency=frame["currency"].fillna(frame["symbol"].map(quoted)))


def _missing_line(record: BooksOfRecord, book: str, held_on: pd.Timestamp, day: pd.Timestamp) -> str:
    source = record.positions
    where = (f"{source.path / day_file_name('positions', day.date())}: missing file" if source.kind == "folder"
             else f"{source.origin}: no rows dated {day:%Y-%m-%d}")
    return (f"{where}: book {book!r} held positions on {held_on:%Y-%m-%d} and has none on {day:%Y-%m-%d} "
            "(books_of_record carry_forward: true carries them)")


def complete_days(record: BooksOfRecord, rows: pd.DataFrame, trading_days: list[pd.Timestamp]) -> tuple[pd.DataFrame, list[str]]:
    """The rows of ``trading_days[1:]`` (the first is the previous close): a book that held a
    non-zero position on a trading day and has no row on the next one fails with the missing file
    named (PositionDataError) or, with ``carry_forward``, holds the previous day's rows again; the
    carried books and days as lines for the warning check."""
    days = pd.DatetimeIndex(trading_days)
    carried_lines: list[str] = []
    frames = [rows]
    for book, own in rows.groupby("portfolio", sort=True):
        present = days.isin(own["date"].unique())
        held = days.isin(own.loc[own["quantity"] != 0, "date"].unique())
        source = np.where(present, np.arange(len(days)), -1)  # the day whose rows day i holds
        for i in np.flatnonzero(~present[1:]) + 1:
            before = source[i - 1]
            if before < 0 or not held[before]:
                continue
            if not record.carry_forward:
                raise PositionDataError(_missing_line(record, book, days[before], days[i]))
            source[i] = before
        carried = np.flatnonzero((source >= 0) & ~present)
        if len(carried):
            mapping = pd.DataFrame({"from_day": days[source[carried]], "date": days[carried]})
            frames.append(own.rename(columns={"date": "from_day"}).merge(mapping, on="from_day").drop(columns="from_day"))
            carried_lines += [f"{book} on {days[i]:%Y-%m-%d} (from {days[source[i]]:%Y-%m-%d})" for i in carried]
    frame = pd.concat(frames, ignore_index=True)
    return frame.loc[frame["date"] > days[0]] if len(days) else frame.iloc[:0], carried_lines


def record_positions(record: BooksOfRecord, start: dt.date, end: dt.date, price_history: pd.DataFrame,
                     known_symbols: Collection[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The books of record's positions on the trading days ``start..end`` (the days of
    ``price_history``, which holds the previous close too), validated (against ``known_symbols``
    when given) and completed by :func:`complete_days`; rows on a weekday without prices (a
    holiday) are left out."""
    trading = sorted(pd.Timestamp(d) for d in price_history["date"].unique())
    return record_positions_on(record, start, end, trading, quoted_currencies(price_history), known_symbols)


def record_positions_on(record: BooksOfRecord, start: dt.date, end: dt.date, trading: list[pd.Timestamp],
                        quoted: pd.Series, known_symbols: Collection[str] | None = None,
                        previous: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[str]]:
    """:func:`record_positions` on the sorted ``trading`` days (the previous close first when one
    is stored), rows without a currency taking ``quoted``'s; ``previous``: the positions of the
    previous close as an earlier block of days completed them (its carried rows included), which
    replace the source's rows of that day, so a run in blocks of days gives the rows of one run."""
    first = trading[0].date() if trading else start
    rows = load_records(record.positions, "positions", record.books, min(first, start), end, known_symbols)
    rows = rows.loc[rows["date"].isin(trading)]
    if previous is not None and trading:
        rows = pd.concat([previous, rows.loc[rows["date"] != trading[0]]], ignore_index=True)
    in_range = [d for d in trading if d.date() >= start]
    if trading and trading[0].date() < start:
        in_range = [trading[0], *in_range]
    else:
        in_range = [pd.Timestamp(start) - pd.Timedelta(days=1), *in_range]  # no stored close before the range
    frame, carried = complete_days(record, rows, in_range)
    frame = frame.loc[frame["quantity"] != 0, list(POSITION_COLUMNS)]
    return _fill_currency(frame, quoted), carried


def year_blocks(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """``start..end`` as the first and last day of each calendar year it spans (the blocks of days
    the positions asset and its checks hold at a time)."""
    return [(max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))) for year in range(start.year, end.year + 1)]


@lake_asset(
    group_name="portfolios",
    deps=[prices, returns],
    check_specs=[dg.AssetCheckSpec(CARRIED_CHECK, asset="positions", description=(
        "Warns when a book of record had no positions on a day and the previous day's were carried forward "
        "(books_of_record carry_forward: true)."))],
    description="Per book, day and instrument: the units held at the close (YAML books as position histories; "
                "books of record from their drop folder, file or SQL query).",
)
def positions(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Written one calendar year of days at a time (staged files, one commit: defs/chunks.py): the
    run holds one year's rows, the YAML books' prices and the instruments' currencies, not the rows
    of every book and day of a long backfill."""
    start, end, days = partition_days(context)
    # the previous close and the range's trading days, not every stored day of the 30 years
    trading = [pd.Timestamp(d) for d in window_days("prices", start, end, lookback=1)]
    portfolios = load_portfolios()
    symbols = sorted({s for p in portfolios for s in p.symbols})  # the YAML books' prices only
    price_history = read_window("prices", start, end, lookback=1, where={"symbol": symbols})
    return_history = read_window("returns", start, end, lookback=1, where={"symbol": symbols})
    books, _ = build_books(portfolios, price_history, return_history)  # portfolio_pnl names a skipped book
    del price_history, return_history
    yaml_rows = pd.concat([yaml_positions(book) for book in books] or [empty_frame("positions")], ignore_index=True)
    record = load_books_of_record()
    quoted = quoted_currencies(read_window("prices", start, end, lookback=1, columns=["symbol", "currency"])) \
        if record.positions is not None else None
    keys = [book.portfolio.name for book in books] + list(record.books)
    staged, carried, previous, held_books = [], [], None, set()
    yaml_dates = yaml_rows["date"].to_numpy("datetime64[ns]")
    for i, (first, last) in enumerate(year_blocks(start, end)):
        block = days[bisect_left(days, first):bisect_right(days, last)]
        since, until = pd.Timestamp(first), pd.Timestamp(last + dt.timedelta(days=1))  # the block's days, any time
        frames = [yaml_rows.loc[(yaml_dates >= since) & (yaml_dates < until)]]
        if record.positions is not None:
            on = trading[max(bisect_left(trading, since) - 1, 0):bisect_left(trading, until)]  # the previous close too
            held, lines = record_positions_on(record, first, last, on, quoted, previous=previous if i else None)
            carried += lines
            previous = held.loc[held["date"] == held["date"].max()] if len(held) else None
            frames.append(held)
        frame = pd.concat(frames, ignore_index=True).sort_values(["date", "portfolio", "symbol"], ignore_index=True)
        held_books.update(frame["portfolio"].unique())
        staged.append(stage("positions", frame, block, keys))
        del frames, frame
    for line in carried:
        context.log.warning(f"positions carried forward: {line}")
    result = publish_staged("positions", staged, days, keys, portfolios=dg.MetadataValue.int(len(held_books)))
    check = dg.AssetCheckResult(
        check_name=CARRIED_CHECK, passed=not carried, severity=dg.AssetCheckSeverity.WARN,
        metadata={"carried_forward": dg.MetadataValue.text("\n".join(carried[:50]) or "none"),
                  "days_carried": dg.MetadataValue.int(len(carried))})
    return dg.MaterializeResult(asset_key="positions", metadata=result.metadata, check_results=[check])


def record_trades(record: BooksOfRecord, start: dt.date, end: dt.date, price_history: pd.DataFrame,
                  known_symbols: Collection[str] | None = None) -> pd.DataFrame:
    """The books of record's trades dated ``start..end`` (validated against ``known_symbols`` when
    given); a trade dated on a weekday without prices (a holiday) is an error naming its row (its
    P&L to the close could not be computed)."""
    rows = load_records(record.trades, "trades", record.books, start, end, known_symbols)
    trading = set(pd.to_datetime(price_history["date"].unique()))
    closed = ~rows["date"].isin(trading)
    if closed.any():
        row = rows.loc[closed].iloc[0]
        raise PositionDataError(f"{row_origin(row)}: field 'date': {row['date']:%Y-%m-%d} has no "
                                "prices (a market holiday): a trade needs the day's close")
    return _fill_currency(rows.loc[:, list(TRADE_COLUMNS)], quoted_currencies(price_history))


@lake_asset(
    group_name="portfolios",
    deps=[prices],
    description="The trades of the books of record per trade date: quantity, price and fees in the instrument's "
                "currency.",
)
def trades(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    record = load_books_of_record()
    if record.trades is None:
        frame = empty_frame("trades")
    else:
        frame = record_trades(record, start, end, read_window("prices", start, end, columns=["symbol", "currency"]))
    return publish("trades", frame, days, keys=list(record.books), trades=dg.MetadataValue.int(len(frame)))


def _check_result(offending: pd.DataFrame, start: dt.date, end: dt.date, checked: int,
                  severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    metadata = {"offending": dg.MetadataValue.int(len(offending)), "checked": dg.MetadataValue.int(checked),
                "first_day": dg.MetadataValue.text(start.isoformat()), "last_day": dg.MetadataValue.text(end.isoformat())}
    if len(offending):
        metadata["preview"] = dg.MetadataValue.md(offending.head(20).to_markdown(index=False, floatfmt=".6g"))
    return dg.AssetCheckResult(passed=offending.empty, severity=severity, metadata=metadata)


def _checked_years(compute: Compute, check: Callable[[dt.date, dt.date], tuple[pd.DataFrame, int]], start: dt.date,
                   end: dt.date) -> tuple[pd.DataFrame, int]:
    """``check(first, last)`` of each calendar year of ``start..end`` (its offending rows and the items it
    checked), put together in the years' order: a year of rows read at a time, the years in as many tasks of
    consecutive years as the ``compute`` engine has workers (:meth:`Compute.spread`: one inline)."""
    parts = [part for task in compute.map(partial(_check_years, check=check), compute.spread(year_blocks(start, end)))
             for part in task]
    return pd.concat([offending for offending, _ in parts], ignore_index=True), sum(n for _, n in parts)


def _check_years(years: list[tuple[dt.date, dt.date]],
                 check: Callable[[dt.date, dt.date], tuple[pd.DataFrame, int]]) -> list[tuple[pd.DataFrame, int]]:
    """A task of :func:`_checked_years`: ``check`` of each of its years."""
    return [check(first, last) for first, last in years]


def _unpriced_in(first: dt.date, last: dt.date) -> tuple[pd.DataFrame, int]:
    """The stored positions of ``first..last`` without a close on their day, and the positions read."""
    held = read_window("positions", first, last)
    return quality.unpriced_held_positions(held, read_window("prices", first, last, columns=["symbol", "close"])), len(held)


def _uncovered_in(first: dt.date, last: dt.date, ends: dict[str, dt.date]) -> tuple[pd.DataFrame, int]:
    """The books of ``first..last`` (and its previous close) holding positions at a close and none on
    the next trading day, unless only symbols past their last date (``ends``), and the book-days checked
    (:func:`quality.uncovered_books`)."""
    held = read_window("positions", first, last, lookback=1)
    trading = pd.DatetimeIndex(sorted(read_window("prices", first, last, lookback=1, columns=["date"])["date"].unique()))
    return quality.uncovered_books(held, trading, first, ends)


@dg.asset_check(asset=positions, blocking=True, resource_defs={"compute": DEFAULT_COMPUTE},
                description="Every position stored for the run's days has a close of its instrument on its day.")
def positions_instruments_priced(context: dg.AssetCheckExecutionContext, compute: Compute) -> dg.AssetCheckResult:
    start, end, _ = checked_days(context, "positions")
    offending, checked = _checked_years(compute, _unpriced_in, start, end)
    return _check_result(offending, start, end, checked, dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=positions, blocking=True, resource_defs={"compute": DEFAULT_COMPUTE},
                description="Every book holding positions at a trading day's previous close holds some on the day "
                            "(a book of record's missing day fails its asset; a YAML book loses a day when a symbol is "
                            "unpriced), unless every symbol it held has ended (prices.last_dates).")
def positions_cover_the_books(context: dg.AssetCheckExecutionContext, compute: Compute) -> dg.AssetCheckResult:
    start, end, _ = checked_days(context, "positions")
    offending, checked = _checked_years(compute, partial(_uncovered_in, ends=configured_last_dates()), start, end)
    return _check_result(offending, start, end, checked, dg.AssetCheckSeverity.WARN)
