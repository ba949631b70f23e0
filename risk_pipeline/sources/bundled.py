"""The default price source: the snapshot shipped in ``data/bundled_prices.parquet``.

20 US large caps and the S&P 500 index (symbol ``SP500``) 1990-01-02..2022-12-28 (8,313
trading days) and 5 US factor ETFs (MTUM, QUAL, SIZE, USMV, VLUE) from 2014-01-02, all in USD:
the datasets of the skfolio package (BSD-3-Clause, see data/LICENSE-skfolio-data.txt and
data/PROVENANCE.md). The file is read and validated once per process (functools.lru_cache);
a fetch then slices the date-sorted table with a binary search, so one day costs microseconds
to a millisecond, not a re-read.
"""

from __future__ import annotations

import datetime
import functools
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

import risk_pipeline

from .base import PriceDataError, check_date_range, requested_symbols, unknown_symbols_error, validate_prices

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
