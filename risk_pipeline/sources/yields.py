"""Yield series for bond positions: a user's CSV or Yahoo Finance yield tickers.

Every yield source returns the same long frame with exactly ``YIELD_COLUMNS``:

=======  ===================================================================
date     datetime64[ns], normalized to midnight, no time zone
series   str, the series name bond positions refer to (``yield_series``)
yield    float64, a decimal annual yield (0.0412 = 4.12%), finite
=======  ===================================================================

sorted by (date, series), one row per (date, series).

- CSV (:class:`CsvYieldSource`): columns ``date, series, yield`` (yields as decimals). Every
  problem raises YieldDataError naming the file and the line number of the row (header = line 1).
- yfinance (:class:`YahooYieldSource`): the series name is the Yahoo ticker, e.g. ``^TNX``
  (10-year Treasury), ``^FVX`` (5-year), ``^TYX`` (30-year), ``^IRX`` (13-week bill). Yahoo
  quotes these yield indices in percent (4.12), so every downloaded close is divided by 100.

A yield outside ``(MIN_YIELD, MAX_YIELD)`` is refused: it is almost surely a percent quote in
a decimal column (4.12 instead of 0.0412).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipeline.file_version import file_version

from .base import PriceDataError, check_date_range, offending_rows, requested_symbols, required_columns, sorted_unique
from .csv_file import read_text_csv
from .yahoo import _download_close

YIELD_COLUMNS = ("date", "series", "yield")
YAHOO_PERCENT_DIVISOR = 100.0
MIN_YIELD, MAX_YIELD = -0.2, 1.0
_MAX_LISTED = 5


class YieldDataError(PriceDataError):
    """Bad or missing yield data; the message names the origin (file/source), series and row or date."""


class UnknownYieldSeriesError(YieldDataError):
    """A requested yield series is not in the source (the message names the origin and the series)."""


def _rows(frame: pd.DataFrame, mask, what: str, origin: str) -> ValueError:
    return offending_rows(frame, mask, what, origin, key="series", value="yield", error=YieldDataError)


def validate_yields(frame: pd.DataFrame, *, origin: str) -> pd.DataFrame:
    """Check a yield frame and return a clean copy in the ``YIELD_COLUMNS`` schema.

    ``origin`` starts every message; rows are named by the frame's index label. Raises
    YieldDataError for: missing columns; no rows; a missing series; an unparsable date; a
    missing, non-numeric or non-finite yield; a yield outside (MIN_YIELD, MAX_YIELD);
    duplicate (date, series) rows.
    """
    raw = required_columns(frame, YIELD_COLUMNS, key="series", value="yield", what="yield", origin=origin,
                           error=YieldDataError)
    dates = raw["date"]
    if not pd.api.types.is_datetime64_dtype(dates.dtype):
        dates = pd.to_datetime(dates, errors="coerce")
    if dates.isna().any():
        raise _rows(raw, dates.isna(), "missing or unparsable date", origin)
    values = pd.to_numeric(raw["yield"], errors="coerce").astype("float64")
    if not np.isfinite(values.to_numpy()).all():
        raise _rows(raw, ~np.isfinite(values.to_numpy()), "missing, non-numeric or non-finite yield", origin)
    out_of_range = (values <= MIN_YIELD) | (values >= MAX_YIELD)
    if out_of_range.any():
        raise _rows(raw, out_of_range, f"yield outside ({MIN_YIELD}, {MAX_YIELD}) (give decimals: 0.0412, "
                    "not 4.12)", origin)
    clean = pd.DataFrame({"date": dates.dt.normalize().astype("datetime64[ns]"),
                          "series": raw["series"].astype(str).str.strip(), "yield": values}, index=raw.index)
    return sorted_unique(clean, "series", origin, YieldDataError)


def read_yield_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a whole yield CSV (``date, series, yield``; decimals)."""
    path = Path(path)
    raw = read_text_csv(path, YieldDataError, "yield", "date,series,yield")
    raw.index = raw.index + 2  # label rows by their line number in the file
    return validate_yields(raw, origin=str(path))


def _select(table: pd.DataFrame, series: Sequence[str], start: datetime.date, end: datetime.date,
            origin: str) -> pd.DataFrame:
    start_ts, end_ts = check_date_range(start, end)
    wanted = requested_symbols(series) or []
    unknown = sorted(set(wanted) - set(table["series"].unique()))  # a few names, not a string per row
    if unknown:
        raise UnknownYieldSeriesError(f"{origin}: unknown yield series {', '.join(unknown)}")
    mask = table["date"].between(start_ts, end_ts) & table["series"].isin(wanted)
    return table.loc[mask].reset_index(drop=True)


@functools.lru_cache(maxsize=4)
def _read_cached(path: Path, version: tuple[int, int, int]) -> pd.DataFrame:
    return read_yield_csv(path)


class CsvYieldSource:
    """Yields from a user's CSV file, read and validated once per version of the file (its inode,
    size and modification time: five steps of a day's run read it)."""

    name = "csv"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()

    def fetch(self, series: Sequence[str], start: datetime.date, end: datetime.date) -> pd.DataFrame:
        """Rows of ``series`` dated ``start..end`` inclusive; YieldDataError names unknown series."""
        try:
            version = file_version(self.path)
        except OSError:
            read_yield_csv(self.path)  # names the file that cannot be read
            raise
        table = _read_cached(self.path, version)
        return _select(table, series, start, end, str(self.path))


class YahooYieldSource:
    """Yahoo Finance yield indices (``^TNX`` ...), downloaded ticker by ticker; percent quotes / 100."""

    name = "yfinance"

    def fetch(self, series: Sequence[str], start: datetime.date, end: datetime.date) -> pd.DataFrame:
        """Decimal yields of ``series`` (Yahoo tickers) dated ``start..end``; an empty download names the ticker."""
        start_ts, end_ts = check_date_range(start, end)
        frames = []
        for ticker in requested_symbols(series) or []:
            close = _download_close(ticker, start_ts, end_ts)
            if close.empty:
                raise YieldDataError(f"yfinance: empty download for yield ticker {ticker} over "
                                     f"{start_ts:%Y-%m-%d}..{end_ts:%Y-%m-%d} (unknown ticker or Yahoo unreachable)")
            frames.append(pd.DataFrame({"date": close.index, "series": ticker,
                                        "yield": close.to_numpy() / YAHOO_PERCENT_DIVISOR}))
        if not frames:
            raise YieldDataError("yfinance: list the yield tickers to download")
        return validate_yields(pd.concat(frames, ignore_index=True), origin="yfinance")


def make_yield_source(kind: str, csv_path: str | None = None) -> CsvYieldSource | YahooYieldSource:
    """``csv`` (needs ``csv_path``) or ``yfinance``; ValueError names a bad kind or a missing path."""
    if kind == "csv":
        if not csv_path:
            raise ValueError("yield source 'csv' needs csv_path (the file with date, series, yield)")
        return CsvYieldSource(csv_path)
    if kind == "yfinance":
        return YahooYieldSource()
    raise ValueError(f"unknown yield source kind {kind!r} (choose from csv, yfinance)")


def yields_on(frame: pd.DataFrame, series: str, dates: pd.DatetimeIndex, *, needed_by: str = "") -> pd.Series:
    """The decimal yields of ``series`` on exactly ``dates`` (float64 indexed by date).

    Raises YieldDataError naming the series and the first dates without a value.
    """
    values = frame.loc[frame["series"] == series].set_index("date")["yield"]
    missing = pd.DatetimeIndex(dates).difference(values.index)
    if len(missing):
        listed = ", ".join(f"{d:%Y-%m-%d}" for d in missing[:_MAX_LISTED])
        more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        who = f" (needed by {needed_by})" if needed_by else ""
        raise YieldDataError(f"yield series {series!r} has no value on {listed}{more}{who}")
    return values.reindex(pd.DatetimeIndex(dates)).rename(series)
