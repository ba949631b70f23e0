"""Market data assets: validated closes and close-to-close returns per symbol and day, each audited by
the blocking quality rules before its commit (``defs.quality_rules.audit``)."""


import dataclasses
import datetime as dt
from functools import partial
from typing import Optional

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.defs.chunks import publish_staged
from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.defs.quality_rules import (audit, audit_failures, audit_parts, audit_window, chunks_failures,
                                              parts_failures, refuse)
from risk_pipeline.config.last_dates import configured_last_dates
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.risk.returns import close_to_close_returns
from risk_pipeline.config.settings import section
from risk_pipeline.sources import MoexSource, PriceDataError, make_source, validate_prices
from risk_pipeline.sources.base import empty_prices
from risk_pipeline.sources.bond_instruments import bond_instrument_prices, configured_instruments, yield_source
from risk_pipeline.sources.cash import cash_prices, configured_cash
from risk_pipeline.sources.ecb_fx import FX_RATE_COLUMNS, load_fx_rates
from risk_pipeline.sources.positions import record_symbols
from risk_pipeline.storage.lake import distinct_values, read_window, window_days
from risk_pipeline.storage.staging import Staged, stage

_PRICES = section("prices")
_RETURNS = section("returns")


class PricesConfig(dg.Config):
    """Where prices come from; defaults from the ``prices`` section of pipeline.yaml."""

    source: str = _PRICES["source"]
    csv_path: Optional[str] = _PRICES.get("csv_path")
    extra_symbols: list[str] = list(_PRICES.get("extra_symbols") or [])
    moex_symbols: list[str] = list(_PRICES.get("moex_symbols") or [])
    moex_boards: dict[str, str] = dict(_PRICES.get("moex_boards") or {})


def universe(extra_symbols: list[str]) -> list[str]:
    """Every symbol the portfolios hold and the books of record's sources name, plus the configured
    extras (benchmarks)."""
    held = {symbol for portfolio in load_portfolios() for symbol in portfolio.symbols}
    record = load_books_of_record()
    held |= record_symbols(record.positions, "positions") | record_symbols(record.trades, "trades")
    return sorted(held | set(extra_symbols))


def source_symbols(symbols: list[str]) -> list[str]:
    """The ``symbols`` the price source quotes: all but the bond instruments (priced from yields) and the
    cash symbols (close 1 in their currency)."""
    derived = {i.symbol for i in configured_instruments()} | set(configured_cash())
    return [s for s in symbols if s not in derived]


def after_last_date(frame: pd.DataFrame, last_dates: dict[str, dt.date]) -> np.ndarray:
    """Which rows of a price frame fall after their symbol's last date (``last_dates``: a series that
    ends), each symbol's date looked up once, not once a row."""
    at, symbols = pd.factorize(frame["symbol"])
    last = pd.to_datetime(pd.Series(symbols, dtype=object).map(last_dates)).to_numpy("datetime64[ns]")  # NaT: none
    return frame["date"].to_numpy("datetime64[ns]") > last[at]


@lake_asset(
    group_name="market_data",
    description="Validated daily closes (date, symbol, close, currency, source) of every symbol the portfolios hold.",
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def prices(context: dg.AssetExecutionContext, config: PricesConfig, compute: Compute) -> dg.MaterializeResult:
    """The source's closes of the run's symbols, the bond instruments priced from their yields and the cash
    symbols on the trading days of the other prices, audited by the blocking rules before one commit. Inline
    (or for a source read whole only) in the run's process; on an engine of several workers, with a source
    read in parts (:func:`_shares`), in a task of symbols per worker (:func:`_prices_in_parts`)."""
    start, end, days = partition_days(context)
    options = {"csv": {"path": config.csv_path}, "moex": {"boards": config.moex_boards}}.get(config.source, {})
    source = make_source(config.source, **options)
    symbols = universe(config.extra_symbols)
    on_moex = [s for s in symbols if s in set(config.moex_symbols)] if config.source != "moex" else []
    quoted = [s for s in source_symbols(symbols) if s not in on_moex]
    shares = _shares(compute, source, quoted) if not on_moex else []
    if shares:
        try:
            return _prices_in_parts(context, compute, source, shares, symbols, quoted, start, end, days)
        except PriceDataError:
            pass  # a part's problem: the whole read below names the file's first problems, as it always did
    # fetch validates the whole range before anything is written: bad data writes nothing
    frame = source.fetch(quoted, start, end)
    name = source.name
    if on_moex:  # a rouble desk's MOEX securities beside the selected source
        name = f"{source.name} + moex"
        moex = MoexSource(config.moex_boards).fetch(on_moex, start, end)
        frame = validate_prices(pd.concat([frame, moex], ignore_index=True), origin=name)
    # bond instruments priced on the trading days of the other prices; when the books hold nothing else, on the
    # days of their yield series
    derived, name = _derived(symbols, _dates(frame["date"]) if quoted or on_moex else None, len(frame), name, start, end)
    if len(derived):
        frame = pd.concat([frame, derived], ignore_index=True).sort_values(["date", "symbol"], ignore_index=True)
    frame = frame.loc[~after_last_date(frame, configured_last_dates())].reset_index(drop=True)
    audit(context, "prices", frame, days, symbols)  # the blocking quality rules, before the commit
    return publish("prices", frame, days, keys=symbols, source=name,
                   symbols=dg.MetadataValue.int(frame["symbol"].nunique()))


def _dates(dates: pd.Series) -> pd.DatetimeIndex:
    """The distinct ``dates``, sorted."""
    return pd.DatetimeIndex(dates.unique()).sort_values()


def _derived(symbols: list[str], trading_days: Optional[pd.DatetimeIndex], rows: int, name: str, start: dt.date,
             end: dt.date) -> tuple[pd.DataFrame, str]:
    """The rows of the bond instruments and cash symbols among ``symbols`` and the source's ``name`` with
    theirs: the bonds priced from their yields on ``trading_days`` (the dates of the other prices, sorted;
    None: those of their yield series), cash at 1 on the dates of every other row, each validated as the
    rows after the ``rows`` rows of the other prices (an error names a row by its place in them all)."""
    derived = empty_prices()
    bonds = [i for i in configured_instruments() if i.symbol in symbols]
    if bonds:
        settings = section("bonds")
        priced = bond_instrument_prices(bonds, yield_source(settings["source"], settings["csv_path"]),
                                        None if trading_days is None else trading_days.date, start, end)
        if len(priced):
            name = f"{name} + yield_repricing"
            derived = _appended(priced, rows, name)
    cash = {s: c for s, c in configured_cash().items() if s in symbols}
    if cash and rows + len(derived):  # cash: close 1 in its currency on the trading days of the other prices
        name = f"{name} + cash"
        on = trading_days if trading_days is not None else pd.DatetimeIndex([])
        on = on.append(_dates(derived["date"])).unique().sort_values()
        derived = pd.concat([derived, _appended(cash_prices(cash, on.date), rows + len(derived), name)],
                            ignore_index=True)
    return derived, name


def _appended(frame: pd.DataFrame, rows: int, origin: str) -> pd.DataFrame:
    """``frame`` validated as the rows after ``rows`` others (its rows named ``rows``, ``rows + 1``, ...)."""
    return validate_prices(frame.set_axis(pd.RangeIndex(rows, rows + len(frame))), origin=origin)


def _shares(compute: Compute, source: object, quoted: list[str]) -> list[list[str]]:
    """The file's symbols in a share per worker, for a read in parts: on an engine of several workers, a
    source that reads parts (``file_symbols``, ``fetch_part``: the bundled snapshot; a CSV file has no
    column to filter on, each task would parse all of it) with every ``quoted`` symbol; else none (a read
    whole, which names the source's problems)."""
    if compute.engine == "inline" or not quoted or not hasattr(source, "fetch_part"):
        return []
    symbols = source.file_symbols()
    if symbols is None or not set(quoted) <= set(symbols):
        return []
    shares = compute.spread(symbols)
    return shares if len(shares) > 1 else []


def _prices_in_parts(context: dg.AssetExecutionContext, compute: Compute, source: object, shares: list[list[str]],
                     symbols: list[str], quoted: list[str], start: dt.date, end: dt.date,
                     days: list[dt.date]) -> dg.MaterializeResult:
    """``prices`` in a task per share of the file's symbols (:func:`_stage_prices`: each validates its
    share's rows and stages those of its quoted symbols, with its part of the blocking rules); the run's
    process prices the bonds and cash on the tasks' trading days, puts the rules' parts together (a day's
    coverage of every live symbol, the portfolios' symbols priced) with its own of them (the bonds, cash
    and stored symbols outside the run's) and commits once. A task's PriceDataError reaches the caller."""
    window = audit_window("prices", start, end)
    before = [d for d in window if d < start]
    wanted = set(quoted)
    tasks = compute.map(partial(_stage_prices, source=source, wanted=wanted, start=start, end=end, days=days,
                                before=before), shares)
    trading = pd.DatetimeIndex(np.unique(np.concatenate([task.dates for task in tasks])))
    derived, name = _derived(symbols, trading, sum(task.rows for task in tasks), source.name, start, end)
    derived = derived.loc[~after_last_date(derived, configured_last_dates())].reset_index(drop=True)
    others = [s for s in (distinct_values("prices", window, "symbol") if window else []) if s not in wanted]
    own = audit_parts("prices", derived, days, symbols, others, before)
    refuse(context, "prices", days, parts_failures("prices", [task.parts for task in tasks] + [own], days))
    staged = [task.staged for task in tasks]
    if len(derived):
        staged.append(stage("prices", derived, days, sorted(set(derived["symbol"]))))
    return publish_staged("prices", staged, days, symbols, sort_latest=True, source=name,
                          symbols=dg.MetadataValue.int(sum(task.symbols for task in tasks) + derived["symbol"].nunique()))


@dataclasses.dataclass(frozen=True)
class StagedPrices:
    """What a task of ``prices`` hands back: its staged rows, the rows and dates (sorted) the source gave
    it before the last dates' cut (what the bonds and cash are priced after), its symbols with rows, and
    its part of each blocking rule (``quality_rules.audit_parts``)."""

    staged: Staged
    rows: int
    dates: np.ndarray
    symbols: int
    parts: dict[str, object]


def _stage_prices(share: list[str], source: object, wanted: set[str], start: dt.date, end: dt.date,
                  days: list[dt.date], before: list[dt.date]) -> StagedPrices:
    """A task: the rows of ``share`` (a share of the source's symbols) validated, those of the ``wanted``
    symbols on ``start``..``end`` cut at their last dates and written as the table's uncommitted files,
    with their part of the blocking rules (the stored days ``before`` the range: every symbol's)."""
    keys = [s for s in share if s in wanted]
    frame = source.fetch_part(share, keys, start, end)
    rows, dates = len(frame), np.unique(frame["date"].to_numpy("datetime64[ns]"))
    frame = frame.loc[~after_last_date(frame, configured_last_dates())].reset_index(drop=True)
    parts = audit_parts("prices", frame, days, keys, keys, before)
    return StagedPrices(stage("prices", frame, days, keys), rows, dates, frame["symbol"].nunique(), parts)


class ReturnsConfig(dg.Config):
    max_gap_days: int = int(_RETURNS["max_gap_days"])


@lake_asset(
    group_name="market_data",
    deps=[prices],
    description="Simple and log close-to-close returns per symbol and day, in the symbol's own currency.",
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def returns(context: dg.AssetExecutionContext, config: ReturnsConfig, compute: Compute) -> dg.MaterializeResult:
    """The returns of every symbol whose closes are stored in the range or the ``max_gap_days`` stored
    days before (those priced in the range), in tasks of the ``compute`` engine, each a chunk of symbols
    (:meth:`Compute.spread`: one inline, one per worker on Dask) that reads its symbols' closes, computes
    and audits their returns and stages them (:func:`_stage_returns`); one commit (defs/chunks.py)."""
    start, end, days = partition_days(context)
    window = window_days("prices", start, end, lookback=config.max_gap_days)
    symbols = list(distinct_values("prices", window, "symbol")) if window else []
    chunks = compute.map(partial(_stage_returns, start=start, end=end, days=days, max_gap_days=config.max_gap_days),
                         compute.spread(symbols))
    refuse(context, "returns", days, chunks_failures([chunk.failed for chunk in chunks]))
    return publish_staged("returns", [chunk.staged for chunk in chunks], days, symbols)


@dataclasses.dataclass(frozen=True)
class StagedReturns:
    """What a task of ``returns`` hands back: its staged rows (None when a blocking rule failed: it
    wrote nothing) and the offending rows of each blocking rule its rows fail."""

    staged: Optional[Staged]
    failed: dict[str, pd.DataFrame]


def _stage_returns(symbols: list[str], start: dt.date, end: dt.date, days: list[dt.date],
                   max_gap_days: int) -> StagedReturns:
    """A task: the returns on ``start``..``end`` of ``symbols`` from their stored closes (and those of
    the ``max_gap_days`` stored days before), audited by the blocking rules of ``returns`` (each symbol
    on its own rows) and, when they pass, written as the table's uncommitted files."""
    history = read_window("prices", start, end, lookback=max_gap_days, where={"symbol": symbols})
    frame = close_to_close_returns(history, max_gap_days=max_gap_days)
    del history
    frame = frame.loc[frame["date"].between(pd.Timestamp(start), pd.Timestamp(end))]
    failed = audit_failures("returns", frame, days, symbols, keys_only=True)
    return StagedReturns(None if failed else stage("returns", frame, days, symbols), failed)


@lake_asset(
    group_name="market_data",
    deps=[prices],
    description="The FX rates the books use (units per 1 EUR) with their source: ECB, or the configured second "
                "source after the ECB's last fixing of a currency.",
)
def fx_rates(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    held = read_window("prices", start, end, columns=["symbol", "currency"])
    portfolios = load_portfolios()
    record = load_books_of_record()
    valued = {s for p in portfolios for s in p.symbols} | record_symbols(record.positions, "positions")
    needed = ({p.base_currency for p in portfolios} | {q.currency for p in portfolios for q in p.positions if q.currency}
              | set(record.books.values()) | set(held.loc[held["symbol"].isin(valued), "currency"].unique())) - {"EUR"}
    rates = load_fx_rates()
    # the fixings of the days the books are valued on (prices stored): none on a market holiday
    priced = rates["date"].isin(held["date"].unique())
    frame = rates.loc[rates["currency"].isin(needed) & priced, list(FX_RATE_COLUMNS)]
    sources = frame.groupby("source")["currency"].unique()
    return publish("fx_rates", frame.reset_index(drop=True), days, keys=sorted(needed),
                   currencies=dg.MetadataValue.text(", ".join(sorted(needed))),
                   sources=dg.MetadataValue.text("; ".join(f"{s}: {', '.join(sorted(c))}" for s, c in sources.items())))
