"""The default price source: the snapshot shipped in ``data/bundled_prices.parquet``.

20 US large caps and the S&P 500 index (symbol ``SP500``) 1990-01-02..2022-12-28 (8,313
trading days) and 5 US factor ETFs (MTUM, QUAL, SIZE, USMV, VLUE) from 2014-01-02, all in USD:
the datasets of the skfolio package (BSD-3-Clause, see data/LICENSE-skfolio-data.txt and
data/PROVENANCE.md). The file is read and validated once per process (functools.lru_cache);
a fetch then slices the date-sorted table with a binary search, so one day costs microseconds
to a millisecond, not a re-read. On an engine of several workers, ``prices`` reads and validates it in
parts instead (:meth:`BundledSource.file_symbols`, :meth:`BundledSource.fetch_part`): each task the rows
of a share of the file's symbols.
"""

from __future__ import annotations

import datetime
import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import risk_pipeline

from .base import PRICE_COLUMNS, PriceDataError, check_date_range, requested_symbols, unknown_symbols_error, validate_prices

SHIPPED_DATA_DIR = Path(risk_pipeline.__file__).resolve().parents[1] / "data"
BUNDLED_PRICES_FILE = "bundled_prices.parquet"
BUNDLED_DATA_ENV = "RISK_PIPELINE_BUNDLED_DATA"


def bundled_data_dir() -> Path:
    """Folder holding the shipped inputs: ``$RISK_PIPELINE_BUNDLED_DATA`` if set, else ``<repo>/data``.

    Independent of ``RISK_PIPELINE_DATA`` (the lake/catalog folder), so a run writing to a temp
    lake still finds the shipped snapshot next to the package.
    """
    override = os.environ.get(BUNDLED_DATA_ENV)
    return Path(override) if override else SHIPPED_DATA_DIR


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise PriceDataError(f"{path}: bundled price file not found (set {BUNDLED_DATA_ENV} to its folder)")
    frame = pd.read_parquet(path)
    frame["source"] = "bundled"
    return validate_prices(frame, origin=str(path))


def _symbol_column(path: Path) -> pa.ChunkedArray:
    """The file's symbol column alone, read as a dictionary (its distinct symbols once per row group)."""
    return pq.read_table(path, columns=["symbol"], read_dictionary=["symbol"]).column("symbol")


def _file_symbols(path: Path) -> list[str] | None:
    """The symbols of the file at ``path`` from its symbol column read as a dictionary (milliseconds), sorted;
    None where the file could hold a problem a read in parts would name otherwise than the whole read: no
    file, a column missing, no rows, a missing or blank symbol or one with spaces around it, or a symbol or
    currency column that is not text."""
    if not path.is_file():
        return None
    schema = pq.read_schema(path)
    if any(c not in schema.names for c in PRICE_COLUMNS if c != "source") or any(
            not (pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type))
            for c in ("symbol", "currency")):
        return None
    column = _symbol_column(path)
    if len(column) == 0 or column.null_count:
        return None
    symbols = sorted({s for chunk in column.chunks for s in chunk.dictionary.to_pylist()})
    return symbols if all(s and s == s.strip() for s in symbols) else None


@functools.lru_cache(maxsize=4)
def _symbols(path: Path) -> tuple[str, ...]:
    return tuple(sorted(_load(path)["symbol"].unique()))


class BundledSource:
    """Closes from the shipped Parquet snapshot (``data_dir`` defaults to ``bundled_data_dir()``)."""

    name = "bundled"

    def __init__(self, data_dir: str | Path | None = None) -> None:
        self.path = Path(data_dir or bundled_data_dir()).resolve() / BUNDLED_PRICES_FILE

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol in the snapshot, sorted."""
        return _symbols(self.path)

    def last_day(self) -> datetime.date:
        """The snapshot's last date, from its date column alone (milliseconds, not a validated read)."""
        if not self.path.is_file():
            raise PriceDataError(f"{self.path}: bundled price file not found (set {BUNDLED_DATA_ENV} to its folder)")
        return pd.Timestamp(pc.max(pq.read_table(self.path, columns=["date"])["date"]).as_py()).date()

    def file_symbols(self) -> list[str] | None:
        """The file's symbols, sorted, for a read in parts (:meth:`fetch_part`); None when it must be read whole
        (:func:`_file_symbols`): the whole read then names the problem as it always did."""
        return _file_symbols(self.path)

    def fetch_part(self, share: Sequence[str], symbols: Sequence[str], start: datetime.date,
                   end: datetime.date) -> pd.DataFrame:
        """Every row of the file of the ``share`` symbols (of :meth:`file_symbols`) validated as the whole
        read validates them (rows named by their place in the file), then those of ``symbols`` dated
        ``start..end``: a task's part of a read whose parts' shares cover the file's symbols validates every
        row once, and gives the rows of :meth:`fetch`. Each part reads the symbol column, then only its
        symbols' rows (pyarrow's filter). A problem in a part raises PriceDataError naming what the part
        holds: the whole read names the file's first problems (``defs/market_data.prices``)."""
        start_ts, end_ts = check_date_range(start, end)
        column = _symbol_column(self.path)
        rows = np.flatnonzero(pc.is_in(column, value_set=pa.array(list(share), pa.string())).to_numpy(
            zero_copy_only=False))
        frame = pd.read_parquet(self.path, filters=[("symbol", "in", list(share))])
        if len(frame) != len(rows):  # the filter reads the rows the mask finds, in the file's order
            raise PriceDataError(f"{self.path}: the rows of {len(share)} symbols read as {len(frame)}, found at {len(rows)}")
        frame.index = rows
        frame["source"] = "bundled"
        table = validate_prices(frame, origin=str(self.path))
        wanted = table["date"].between(start_ts, end_ts)
        if len(set(symbols)) < len(share):
            wanted &= table["symbol"].isin(list(symbols))
        return table.loc[wanted].reset_index(drop=True)

    def fetch(self, symbols: Sequence[str] | None, start: datetime.date, end: datetime.date) -> pd.DataFrame:
        """Rows dated ``start..end`` inclusive for ``symbols`` (None: all); PriceDataError names unknown symbols."""
        start_ts, end_ts = check_date_range(start, end)
        table = _load(self.path)
        dates = table["date"].to_numpy()
        lo, hi = dates.searchsorted(start_ts.to_datetime64(), "left"), dates.searchsorted(end_ts.to_datetime64(), "right")
        window = table.iloc[lo:hi]
        wanted = requested_symbols(symbols)
        if wanted is not None:
            unknown = set(wanted) - set(self.symbols)
            if unknown:
                raise unknown_symbols_error(sorted(unknown), f"bundled prices {self.path}")
            if len(wanted) < len(self.symbols):  # all of them (a generated universe held whole): no copy
                window = window[window["symbol"].isin(wanted)]
        return window.reset_index(drop=True)
