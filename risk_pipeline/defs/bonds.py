"""Bond positions: the bond_pnl table per bond book, bond and day.

Positions come from the YAML file named by ``bonds.positions_file`` (format:
:mod:`risk_pipeline.config.bonds`); none by default, and then the asset succeeds with no
rows. Yields come from ``bonds.source`` (csv: ``bonds.csv_path``; yfinance: Yahoo yield
tickers), FX from the bundled ECB rates. The days are the trading days of the prices table
(plus the stored day before the range, for the first day's P&L); a yield series without a
value on one of them is an error naming the series and the date. A bond is priced until the
day before its maturity. Values and P&L: :mod:`risk_pipeline.risk.instruments.bond_pnl`.
"""


import datetime as dt
from typing import Optional

import dagster as dg
import pandas as pd

from risk_pipeline.defs.market_data import prices
from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.config.bonds import BondBook, load_bond_books
from risk_pipeline.risk.instruments.bond_pnl import bond_position_pnl
from risk_pipeline.config.settings import section
from risk_pipeline.sources.ecb_fx import FxRateError, fx_rate
from risk_pipeline.sources.quality import missing_fx_line
from risk_pipeline.defs.portfolios import log_skipped_books, skipped_metadata
from risk_pipeline.sources.yields import make_yield_source, yields_on
from risk_pipeline.storage.lake import empty_frame, read_window
from risk_pipeline.storage.schemas import table_schema

_BONDS = section("bonds")
# stored trading days read before the range: the previous day's price of every bond
PREVIOUS_DAY_LOOKBACK = 1


class BondsConfig(dg.Config):
    """Bond positions and their yields; defaults from the ``bonds`` section of pipeline.yaml."""

    positions_file: Optional[str] = _BONDS["positions_file"]
    source: str = _BONDS["source"]
    csv_path: Optional[str] = _BONDS["csv_path"]


def _book_rows(book: BondBook, calendar: pd.DatetimeIndex, yields: pd.DataFrame, start: dt.date) -> list[pd.DataFrame]:
    """Rows of every bond of ``book`` dated ``start`` or later (``calendar`` includes the day before)."""
    frames = []
    for bond in book.bonds:
        dates = calendar[calendar < pd.Timestamp(bond.maturity)]
        if dates.empty:
            continue
        series = yields_on(yields, bond.yield_series, dates, needed_by=f"bond {bond.name!r} of book {book.name!r}")
        fx = fx_rate(book.base_currency, bond.currency, dates)
        rows = bond_position_pnl(bond.coupon, bond.maturity, bond.frequency, bond.face, series, fx)
        rows = rows.loc[rows["date"] >= pd.Timestamp(start)]
        frames.append(rows.assign(book=book.name, bond=bond.name, currency=bond.currency,
                                  base_currency=book.base_currency, yield_series=bond.yield_series))
    return frames


@lake_asset(
    group_name="bonds",
    deps=[prices],
    description=(
        "Per bond book, bond and trading day: dirty price, value, P&L by full repricing and its duration-convexity "
        "approximation, base-currency P&L with FX and cross terms, DV01, modified duration and convexity."
    ),
)
def bond_pnl(context: dg.AssetExecutionContext, config: BondsConfig) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    columns = table_schema("bond_pnl").columns
    if not config.positions_file:
        return publish("bond_pnl", empty_frame("bond_pnl"), days, keys=[],
                       note=dg.MetadataValue.text("no bond positions configured (bonds.positions_file is null): no rows"))
    books = load_bond_books(config.positions_file)
    calendar = pd.DatetimeIndex(sorted(read_window("prices", start, end, lookback=PREVIOUS_DAY_LOOKBACK)["date"]
                                       .unique()))
    series = sorted({bond.yield_series for book in books for bond in book.bonds})
    frames: list[pd.DataFrame] = []
    skipped: dict[str, str] = {}
    if len(calendar) and series:
        source = make_yield_source(config.source, config.csv_path)
        yields = source.fetch(series, calendar[0].date(), calendar[-1].date())
        for book in books:
            try:
                frames += _book_rows(book, calendar, yields, start)
            except FxRateError as exc:  # a book whose FX is missing fails alone
                if exc.first_missing is None:
                    raise
                skipped[book.name] = missing_fx_line(book.name, exc.currency, exc.first_missing)
        log_skipped_books(context, skipped)
    frame = pd.concat(frames, ignore_index=True)[columns] if frames else empty_frame("bond_pnl")
    return publish("bond_pnl", frame, days, keys=[book.name for book in books if book.name not in skipped], books=dg.MetadataValue.int(len(books)),
                   bonds=dg.MetadataValue.int(len(frame[["book", "bond"]].drop_duplicates())),
                   yield_source=dg.MetadataValue.text(config.source), **skipped_metadata(skipped))
