"""Portfolio P&L asset: value, P&L and return per portfolio and day in base currency."""

import dataclasses
import datetime as dt
from collections.abc import Collection
from functools import partial

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.defs.chunks import publish_staged
from risk_pipeline.defs.lake_assets import lake_asset, partition_days
from risk_pipeline.defs.positions import positions, trades
from risk_pipeline.books import Book, BookFxError, SymbolRows, build_book, build_books
from risk_pipeline.config.portfolios import Portfolio, Position, load_portfolios
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.risk.portfolio import pnl_days, pnl_from_exposures, trades_pnl
from risk_pipeline.risk.sums import row_sums
from risk_pipeline.storage.lake import empty_frame, read_window, stored_days
from risk_pipeline.storage.staging import Staged, stage

# stored days read before the range: the previous close of every position
PREVIOUS_CLOSE_LOOKBACK = 1
# a book's simple return is its P&L over its value at the previous close when that value is at least
# this fraction of its gross exposure (the sum of |exposure|), else null: near zero or negative, a
# return would be meaningless (docs/positions.md); its P&L amounts are stored whatever the value
RETURN_VALUE_FLOOR = 0.01


def holdings(book: Book, quantities: pd.DataFrame, dates: pd.Series) -> dict[str, np.ndarray]:
    """The portfolio_pnl columns of what a book holds at each close of ``dates``: ``gross_exposure``
    = sum_i |E_i,t|, ``n_positions`` = #{i: E_i,t != 0} and ``traded_value`` = sum_i |q_i,t -
    q_i,t-1| U_i,t, the change of the units held since the previous close valued at the close (unit
    value U = close x FX; a weight book's daily rebalancing to its notional included), from the
    book's ``quantities`` (dates x its instruments). Each row is summed by :func:`skipna_row_sums`, in
    symbol order whatever the other rows: ``DataFrame.sum(axis=1)`` adds a one-row frame's terms
    pairwise and a longer frame's one after another, so a day re-run alone differed in the last bit
    from the same day of a range run."""
    exposures = book.exposures.reindex(pd.DatetimeIndex(dates))
    change = quantities.fillna(0.0).diff().reindex(exposures.index)
    traded = change.abs().mul(book.unit_values.reindex(exposures.index)).where(change != 0.0, 0.0)
    return {"gross_exposure": skipna_row_sums(exposures.abs()),
            "n_positions": (exposures.fillna(0.0) != 0.0).sum(axis=1).to_numpy(dtype=np.int64),
            "traded_value": skipna_row_sums(traded)}


def book_rows(book: Book) -> pd.DataFrame:
    """The portfolio_pnl rows of one book over the dates of its frames (the first date, without a
    previous close, has none)."""
    pnl = pnl_from_exposures(book.exposures, book.values, book.asset_returns)
    pnl.insert(1, "portfolio", book.portfolio.name)
    pnl.insert(2, "base_currency", book.portfolio.base_currency)
    # a portfolio of portfolios.yaml does not trade: it holds its previous close's positions over the day
    return pnl.assign(hypothetical_pnl=pnl["pnl"], actual_pnl=pnl["pnl"], actual_return=pnl["simple_return"],
                      **holdings(book, book.quantities(), pnl["date"]))


def book_days(book: Book) -> pd.DatetimeIndex:
    """The dates of :func:`book_rows` (the days with a P&L), without computing the rows."""
    return pnl_days(book.exposures, book.values, book.asset_returns)


def record_book(name: str, base_currency: str, held: pd.DataFrame, day_trades: pd.DataFrame,
                price_history: pd.DataFrame, return_history: pd.DataFrame) -> Book:
    """The :class:`Book` of a book of record over the dates of ``price_history``, from its ``held``
    positions (the stored rows) and the instruments of its ``day_trades``: ``exposures`` = the
    quantity held at each close x the unit value of the close (close x FX, those of a book of one
    unit of each instrument), NaN on the days without stored positions; ``values`` their sum;
    ``asset_returns`` the instruments' base-currency returns. Its ``portfolio`` lists the
    instruments at one unit each (the unit book); the quantities are the stored ones. Raises
    BookFxError."""
    symbols = sorted(set(held["symbol"].unique()) | set(day_trades["symbol"].unique()))
    quoted = pd.concat([held, day_trades]).dropna(subset=["currency"]).drop_duplicates("symbol")
    currencies = quoted.set_index("symbol")["currency"].to_dict()
    # one unit of each instrument: its unit values and base-currency returns, as for any book
    unit = build_book(Portfolio(name, base_currency, tuple(Position(s, quantity=1.0, currency=currencies.get(s))
                                                          for s in symbols)), price_history, return_history)
    dates = unit.unit_values.index
    present = dates.isin(pd.DatetimeIndex(held["date"].unique()))
    quantity = held.pivot(index="date", columns="symbol", values="quantity").reindex(index=dates, columns=symbols)
    quantity = quantity.fillna(0.0).where(pd.Series(present, index=dates), axis=0)
    exposures = (quantity * unit.unit_values).where(quantity != 0.0, 0.0).where(quantity.notna())
    # each day's sum of its nonzero exposures in symbol order, whatever the other days hold (risk.sums)
    values = pd.Series(row_sums(exposures.to_numpy()), index=dates).where(present)
    return dataclasses.replace(unit, exposures=exposures, values=values, weights=exposures.div(values, axis=0),
                               held_quantities=quantity)


def skipna_row_sums(frame: pd.DataFrame) -> np.ndarray:
    """:func:`risk.sums.row_sums` of a frame's rows, NaN skipped (as ``frame.sum(axis=1)``): the sums
    of a book of record's rows, which do not depend on the instruments held on other days."""
    return row_sums(frame.to_numpy(), skipna=True)


def record_book_rows(book: Book, day_trades: pd.DataFrame, price_history: pd.DataFrame) -> pd.DataFrame:
    """The portfolio_pnl rows of a book of record (:func:`record_book`) and its trades: value = sum
    of quantity x close x FX at the close; pnl = hypothetical_pnl = the previous close's positions
    revalued (their exposures times the day's base-currency returns); actual_pnl = hypothetical_pnl
    + ``risk.portfolio.trades_pnl`` of the day's trades; simple_return = pnl over the previous value
    (null under ``RETURN_VALUE_FLOOR``) and actual_return = actual_pnl over it (null on the same days). A day without a previous close of the book (its first) has
    no row. ``price_history``: the stored prices of (at least) the book's instruments."""
    exposures, values, unit_values = book.exposures, book.values, book.unit_values
    rows = pnl_from_exposures(exposures, values, book.asset_returns, sum_rows=row_sums)
    previous = values.shift(1).reindex(rows["date"]).to_numpy()
    gross = pd.Series(skipna_row_sums(exposures.abs()), index=exposures.index).shift(1).reindex(rows["date"]).to_numpy()
    has_return = previous >= RETURN_VALUE_FLOOR * gross
    rows["simple_return"] = np.where(has_return, rows["simple_return"], np.nan)
    traded = pd.Series(0.0, index=rows["date"])
    if len(day_trades):
        close = price_history.pivot(index="date", columns="symbol", values="close").reindex(
            index=unit_values.index, columns=unit_values.columns)
        at = (close.index.get_indexer(day_trades["date"]), close.columns.get_indexer(day_trades["symbol"]))
        close_t = close.to_numpy()[at]
        fx_t = unit_values.to_numpy()[at] / close_t
        amounts = trades_pnl(day_trades["quantity"], day_trades["price"], day_trades["fees"], close_t, fx_t)
        traded = traded.add(pd.Series(amounts, index=day_trades["date"].to_numpy()).groupby(level=0).sum(),
                            fill_value=0.0).reindex(rows["date"])
    rows.insert(1, "portfolio", book.portfolio.name)
    rows.insert(2, "base_currency", book.portfolio.base_currency)
    actual = rows["pnl"].to_numpy() + traded.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        actual_return = np.where(has_return, actual / previous, np.nan)
    return rows.assign(hypothetical_pnl=rows["pnl"], actual_pnl=actual, actual_return=actual_return,
                       **holdings(book, book.quantities(), rows["date"]))


def record_books(start: dt.date, end: dt.date, price_history: pd.DataFrame, return_history: pd.DataFrame,
                 with_trades: bool = True, names: Collection[str] | None = None,
                 since: dt.date | None = None) -> tuple[list[tuple[Book, pd.DataFrame]], list[str], dict[str, str]]:
    """Every book of record (or those of ``names``) with stored positions in ``start..end`` (and the
    previous close, or back to ``since``) as (:func:`record_book`, its trades in the range or from
    ``since``, empty unless ``with_trades``), the books computed (those without positions too) and per
    book skipped for want of an FX rate its one line."""
    record = load_books_of_record()
    chosen = {name: base for name, base in record.books.items() if names is None or name in names}
    if not chosen:
        return [], [], {}
    lookback = PREVIOUS_CLOSE_LOOKBACK if since is None else sum(1 for d in stored_days("positions") if since <= d < start)
    # only the chosen books' rows (one chunk of a long run's books: defs/chunks.py)
    chosen_rows = None if names is None else {"portfolio": list(chosen)}
    held = read_window("positions", start, end, lookback=lookback, where=chosen_rows)
    day_trades = read_window("trades", since or start, end, where=chosen_rows) if with_trades else empty_frame("trades")
    # each book's rows taken from one grouping of each frame (not a scan of every row per book)
    held_by_book = dict(iter(held.groupby("portfolio", sort=False)))
    trades_by_book = dict(iter(day_trades.groupby("portfolio", sort=False)))
    price_rows, return_rows = SymbolRows(price_history, by="date"), SymbolRows(return_history, by="date")
    books, done, skipped = [], [], {}
    for name, base in chosen.items():
        own, traded = held_by_book.get(name, held.iloc[:0]), trades_by_book.get(name, day_trades.iloc[:0])
        if own.empty:
            done.append(name)
            continue
        symbols = sorted(set(own["symbol"].unique()) | set(traded["symbol"].unique()))
        try:
            books.append((record_book(name, base, own, traded, price_rows.of(symbols), return_rows.of(symbols)),
                          traded))
            done.append(name)
        except BookFxError as exc:
            skipped[name] = str(exc)
    return books, done, skipped


def record_books_rows(start: dt.date, end: dt.date, price_history: pd.DataFrame, return_history: pd.DataFrame,
                      names: Collection[str] | None = None) -> tuple[list[pd.DataFrame], list[str], dict[str, str]]:
    """The rows of every book of record (or those of ``names``: :func:`record_book_rows`) from the
    stored positions and trades, the books computed and per book skipped for want of an FX rate its
    one line."""
    books, done, skipped = record_books(start, end, price_history, return_history, names=names)
    price_rows = SymbolRows(price_history, by="date")
    return ([record_book_rows(book, traded, price_rows.of(list(book.unit_values.columns))) for book, traded in books],
            done, skipped)


# the columns of prices and returns a book is built from (books.build_book, record_book_rows)
BOOK_PRICE_COLUMNS = ("date", "symbol", "close", "currency")
BOOK_RETURN_COLUMNS = ("date", "symbol", "simple_return")


def histories(start: dt.date, end: dt.date, symbols: list[str],
              lookback: int = PREVIOUS_CLOSE_LOOKBACK) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The prices and returns of ``symbols`` over the range and the ``lookback`` stored days before
    (the previous close by default): the columns a book is built from, in the order read, not sorted by
    day (``books.build_books`` and :func:`record_books` take each symbol's rows by date). The tasks of
    portfolio_pnl and var_estimates each read their chunk's symbols over the whole range: a day sort of
    every column (strings too) and the columns no book uses (``source``, ``log_return``, the returns'
    ``currency``) were about a third of a task's CPU at 1,000 symbols x 20 years (docs/performance.md)."""
    chosen = {"symbol": symbols}
    return (read_window("prices", start, end, lookback=lookback, columns=BOOK_PRICE_COLUMNS, where=chosen,
                        by_day=False),
            read_window("returns", start, end, lookback=lookback, columns=BOOK_RETURN_COLUMNS, where=chosen,
                        by_day=False))


def held_symbols(start: dt.date, end: dt.date, names: list[str], with_trades: bool = True) -> list[str]:
    """The instruments the books of record ``names`` hold over the range and its previous close, or (``with_trades``,
    for books built with their trades) trade in it."""
    chosen = {"portfolio": names}
    held = read_window("positions", start, end, lookback=PREVIOUS_CLOSE_LOOKBACK, columns=["symbol"], where=chosen)
    if not with_trades:
        return sorted(set(held["symbol"].unique()))
    traded = read_window("trades", start, end, columns=["symbol"], where=chosen)
    return sorted(set(held["symbol"].unique()) | set(traded["symbol"].unique()))


@lake_asset(
    group_name="portfolios",
    deps=[prices, returns, positions, trades],
    description="Per portfolio and day: closing value, P&L and simple return, hypothetical and actual P&L, in the "
                "portfolio's base currency.",
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def portfolio_pnl(context: dg.AssetExecutionContext, compute: Compute) -> dg.MaterializeResult:
    """Each chunk of ``books_per_task`` books (portfolios, then books of record) is a task of the
    ``compute`` engine that reads its instruments' prices and returns (and its positions and trades)
    and stages its rows (:func:`_stage_pnl`); one commit (defs/chunks.py): a long run holds one
    chunk's books and rows, not every book's."""
    start, end, days = partition_days(context)
    items: list[Portfolio | str] = [*load_portfolios(), *load_books_of_record().books]
    chunks = compute.map(partial(_stage_pnl, start=start, end=end, days=days), compute.chunks(items))
    keys, skipped, with_rows = [], {}, set()
    for chunk in chunks:
        keys += chunk.keys
        skipped.update(chunk.skipped)
        with_rows |= chunk.with_rows
    log_skipped_books(context, skipped)
    # the books computed: a book skipped for want of an FX rate keeps what is stored
    return publish_staged("portfolio_pnl", [chunk.staged for chunk in chunks], days, keys,
                          portfolios=dg.MetadataValue.int(len(with_rows)), **skipped_metadata(skipped))


@dataclasses.dataclass(frozen=True)
class StagedPnl:
    """What a task of portfolio_pnl hands back: its staged rows, the books it computed (the keys it
    replaces), those with rows in the range, and its books skipped for want of an FX rate (each one line)."""

    staged: Staged
    keys: list[str]
    with_rows: frozenset[str]
    skipped: dict[str, str]


def _stage_pnl(chunk: list[Portfolio | str], start: dt.date, end: dt.date, days: list[dt.date]) -> StagedPnl:
    """A task: the portfolio_pnl rows on ``start``..``end`` of a chunk of portfolios and books of record
    (names), each built from the stored rows of its own instruments and positions only, written as the
    table's uncommitted files."""
    portfolios = [item for item in chunk if isinstance(item, Portfolio)]
    names = [item for item in chunk if isinstance(item, str)]
    keys, frames, skipped = [], [], {}
    if portfolios:
        books, skipped = build_books(portfolios, *histories(start, end, sorted({s for p in portfolios for s in p.symbols})))
        keys += [book.portfolio.name for book in books]
        frames += [book_rows(book) for book in books]
        del books
    if names:
        recorded, recorded_names, recorded_skipped = record_books_rows(
            start, end, *histories(start, end, held_symbols(start, end, names)), names=names)
        skipped.update(recorded_skipped)
        keys += recorded_names
        frames += recorded
        del recorded
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("portfolio_pnl")
    frames.clear()  # a chunk's rows are held once, not twice, while they are written
    frame = frame.loc[frame["date"].dt.date.between(start, end)]
    return StagedPnl(stage("portfolio_pnl", frame, days, keys), keys, frozenset(frame["portfolio"].unique()), skipped)


def log_skipped_books(context: dg.AssetExecutionContext, skipped: dict[str, str]) -> None:
    """One warning line per book left out of the run for want of an FX rate (``books.build_books``)."""
    for line in skipped.values():
        context.log.warning(f"{line}: the book is skipped, the other books go on")


def skipped_metadata(skipped: dict[str, str]) -> dict[str, object]:
    """``skipped_books``: the one line of each book left out, for the materialization's metadata."""
    return {"skipped_books": dg.MetadataValue.text("\n".join(skipped.values()))} if skipped else {}
