"""A user's price file: CSV with columns ``date, symbol, close`` and optionally ``currency``.

One row per (date, symbol); ``currency`` defaults to USD when the column is absent (an empty
cell in a present column is an error). Dates in one consistent format (ISO ``YYYY-MM-DD``
recommended). Every problem raises PriceDataError naming the file and the line number of the
offending row (the header is line 1, the first data row line 2).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from risk_pipeline.file_version import file_version

from .base import PriceDataError, check_date_range, requested_symbols, unknown_symbols_error, validate_prices

DEFAULT_CURRENCY = "USD"
_REQUIRED = ("date", "symbol", "close")


def read_text_csv(path: Path, error: type[ValueError], what: str, header: str) -> pd.DataFrame:
    """A user's CSV as text cells with lower-case column names; ``error`` names the file (and the
    row pandas' parser stops at) for a missing, empty, unparsable or non-UTF-8 file."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except pd.errors.EmptyDataError:
        raise error(f"{path}: file is empty (expected a header {header})") from None
    except pd.errors.ParserError as exc:
        raise error(f"{path}: unparsable CSV at {_parser_error_row(exc)}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file ({exc})") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    return raw


def read_price_csv(path: Path) -> pd.DataFrame:
    """Read and validate the whole file (PRICE_COLUMNS frame, source ``csv:<file name>``)."""
    raw = read_text_csv(path, PriceDataError, "price", "date,symbol,close[,currency]")
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        raise PriceDataError(f"{path}: missing column(s) {', '.join(missing)} (header has {', '.join(raw.columns)})")
    if "currency" not in raw.columns:
        raw["currency"] = DEFAULT_CURRENCY
    raw["source"] = f"csv:{path.name}"
    raw.index = raw.index + 2  # label rows by their line number in the file
    return validate_prices(raw, origin=str(path))


def _parser_error_row(exc: pd.errors.ParserError) -> str:
    """The file line pandas' C parser complains about ("line N" is 1-based, "row N" 0-based)."""
    found = re.search(r"\b(line|row) (\d+)", str(exc))
    if found is None:
        return "unknown row"
    return f"row {int(found.group(2)) + (found.group(1) == 'row')}"


@functools.lru_cache(maxsize=8)
def _read_cached(path: Path, version: tuple[int, int, int]) -> pd.DataFrame:
    return read_price_csv(path)


class CsvSource:
    """Closes from a CSV file; re-read only when the file changes (path and file_version key the cache)."""

    name = "csv"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()

    def _table(self) -> pd.DataFrame:
        try:
            version = file_version(self.path)
        except FileNotFoundError:
            raise PriceDataError(f"{self.path}: price file not found") from None
        return _read_cached(self.path, version)

    def last_day(self) -> datetime.date:
        """The file's last date (the validated file, read once per content as for ``fetch``)."""
        return self._table()["date"].max().date()

    def fetch(self, symbols: Sequence[str] | None, start: datetime.date, end: datetime.date) -> pd.DataFrame:
        """Rows dated ``start..end`` inclusive for ``symbols`` (None: all); PriceDataError names unknown symbols."""
        start_ts, end_ts = check_date_range(start, end)
        table = self._table()
        wanted = requested_symbols(symbols)
        if wanted is not None:
            unknown = set(wanted) - set(table["symbol"])
            if unknown:
                raise unknown_symbols_error(sorted(unknown), str(self.path))
        mask = table["date"].between(start_ts, end_ts)
        if wanted is not None:
            mask &= table["symbol"].isin(wanted)
        return table.loc[mask].reset_index(drop=True)
