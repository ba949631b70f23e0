"""Positions and trades of the books of record, read from where the booking system leaves them
(``config.positions.RecordSource``) and validated row by row.

Formats (docs/positions.md):

- positions: ``portfolio, symbol, quantity[, currency]`` (quantity: units held at the close,
  negative = short, 0 = the position was closed; currency: the instrument's price currency, by
  default the one its prices are quoted in);
- trades: ``portfolio, symbol, quantity, price[, fees][, currency][, trade_id]`` (quantity: units
  bought, negative = sold; price and fees in the instrument's currency, fees >= 0, default 0);
- a drop folder holds one file per business day, ``positions_YYYY-MM-DD.csv`` (or ``.parquet``;
  ``trades_YYYY-MM-DD...`` for trades), dated by its name; a file or a SQL query has a ``date``
  column besides.

Every problem is a :class:`PositionDataError`, one line naming the file (or query), the row (CSV:
its line, the header being line 1; Parquet and SQL: the 1-based row) and the field.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipeline.config.positions import RecordSource
from risk_pipeline.file_version import file_version
from risk_pipeline.sources.csv_file import read_text_csv
from risk_pipeline.sources.ecb_fx import fx_currencies

POSITION_COLUMNS = ("date", "portfolio", "symbol", "quantity", "currency")
TRADE_COLUMNS = ("date", "portfolio", "symbol", "quantity", "price", "fees", "currency", "trade_id")
_REQUIRED = {"positions": ("portfolio", "symbol", "quantity"), "trades": ("portfolio", "symbol", "quantity", "price")}
_FILE_NAME = re.compile(r"(positions|trades)_(\d{4}-\d{2}-\d{2})\.(csv|parquet)")
# the columns that say where a row was read: its file (or query), and the row there as a unit
# (CSV: "line", the header being line 1; otherwise "row") and a number (text only in a message:
# a history of millions of rows holds no label per row)
_ORIGIN, _UNIT, _ROW = "origin", "row_unit", "row_number"


class PositionDataError(ValueError):
    """Bad positions or trades; the message names the file (or query), the row and the field."""


def day_file_name(kind: str, day: dt.date) -> str:
    """The drop folder's file of ``kind`` (positions or trades) for ``day``, CSV form."""
    return f"{kind}_{day.isoformat()}.csv"


def _labelled(frame: pd.DataFrame, origin: str, unit: str, first: int) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame[_ORIGIN] = pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), categories=[origin])
    frame[_UNIT] = pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), categories=[unit])
    frame[_ROW] = np.arange(first, first + len(frame))
    return frame


def row_origin(row: pd.Series) -> str:
    """Where a row of :func:`read_raw` or :func:`validate` was read: ``<file or query>, line 3``."""
    return f"{row[_ORIGIN]}, {row[_UNIT]} {row[_ROW]}"


@functools.lru_cache(maxsize=64)
def _read_file(path: Path, version: tuple[int, int, int]) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow's errors have no common base
            raise PositionDataError(f"{path}: not a readable Parquet file ({exc})") from None
        if "date" in frame.columns and frame["date"].dtype == object:  # a date32 column: datetime.date objects
            try:
                frame["date"] = pd.to_datetime(frame["date"])
            except (TypeError, ValueError):
                pass  # validate names the row that is not a date
        return _labelled(frame, str(path), "row", 1)
    return _labelled(read_text_csv(path, PositionDataError, "positions", "portfolio,symbol,quantity"), str(path),
                     "line", 2)


def read_file(path: Path) -> pd.DataFrame:
    """One CSV or Parquet file as read (column names lower-case), each row labelled with its origin;
    re-read only when the file changes."""
    try:
        version = file_version(path)
    except FileNotFoundError:
        raise PositionDataError(f"{path}: file not found") from None
    return _read_file(path, version)


def folder_files(folder: Path, kind: str) -> dict[dt.date, Path]:
    """The drop folder's files of ``kind`` by the day in their name (a day with both a CSV and a
    Parquet file is an error naming both)."""
    if not folder.is_dir():
        raise PositionDataError(f"{folder}: drop folder not found")
    files: dict[dt.date, Path] = {}
    for path in sorted(folder.iterdir()):
        found = _FILE_NAME.fullmatch(path.name)
        if not found or found.group(1) != kind:
            continue
        try:
            day = dt.date.fromisoformat(found.group(2))
        except ValueError:
            raise PositionDataError(f"{path}: the file name's date {found.group(2)!r} is not a date") from None
        if day.weekday() >= 5:
            raise PositionDataError(f"{path}: field 'date': {day} (the file name's) is not a business day "
                                    "(Saturday or Sunday)")
        if day in files:
            raise PositionDataError(f"{path}: a second file for {day} besides {files[day].name}")
        files[day] = path
    return files


def _query(source: RecordSource) -> pd.DataFrame:
    if source.kind == "duckdb":
        import duckdb

        if not source.path.is_file():
            raise PositionDataError(f"{source.path}: DuckDB database not found")
        try:
            with duckdb.connect(str(source.path), read_only=True) as connection:
                frame = connection.execute(source.query).df()
        except duckdb.Error as exc:
            raise PositionDataError(f"{source.origin}: {' '.join(str(exc).split())}") from None
    else:
        import psycopg

        try:
            with psycopg.connect(source.dsn) as connection, connection.cursor() as cursor:
                cursor.execute(source.query)
                frame = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
        except psycopg.Error as exc:
            raise PositionDataError(f"{source.origin}: {' '.join(str(exc).split())}") from None
    return _labelled(frame, source.origin, "row", 1)


def read_raw(source: RecordSource, kind: str, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """The rows of ``kind`` the source holds (dated ``start..end`` for a drop folder; every row
    otherwise, filtered after validation), unvalidated, with their origin."""
    if source.kind == "folder":
        frames = []
        for day, path in folder_files(source.path, kind).items():
            if (start is None or day >= start) and (end is None or day <= end):
                frame = read_file(path)
                if "date" in frame.columns:
                    frame = frame.drop(columns="date")
                frames.append(frame.assign(date=day.isoformat()))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["date", _ORIGIN, _UNIT, _ROW])
    frame = read_file(source.path) if source.kind == "file" else _query(source)
    if "date" not in frame.columns:
        raise PositionDataError(f"{source.origin}: missing column date (a {source.kind} source dates its rows)")
    return frame


def _first(frame: pd.DataFrame, mask: np.ndarray, field: str, problem: str) -> PositionDataError:
    """The error of the first row of ``mask``: its file, row and field, and how many rows share it."""
    rows = np.flatnonzero(mask)
    row = frame.iloc[rows[0]]
    value = row.get(field)
    more = f" ({len(rows) - 1} more such row{'s' * (len(rows) > 2)})" if len(rows) > 1 else ""
    return PositionDataError(f"{row_origin(row)}: field {field!r}: {problem.format(value=value)}{more}")


def _blank(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values):
        return values.isna().to_numpy()
    return (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()


def _numbers(frame: pd.DataFrame, field: str, default: float | None = None) -> pd.Series:
    """The column as floats; a missing value (without ``default``) or a non-numeric one is an error."""
    if field not in frame.columns:
        return pd.Series(default, index=frame.index, dtype=float)
    raw = frame[field]
    blank = _blank(raw)
    if default is None and blank.any():
        raise _first(frame, blank, field, "missing")
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        numbers = raw.astype(float)
    else:
        numbers = pd.to_numeric(raw.astype(str).str.strip().where(~blank), errors="coerce")
    bad = ~blank & ~np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        raise _first(frame, bad, field, "{value!r} is not a finite number")
    return numbers.fillna(default) if default is not None else numbers.astype(float)


def _dates(frame: pd.DataFrame) -> pd.Series:
    """The ``date`` column parsed (ISO dates, or datetimes at midnight); an error names the first bad row."""
    column = frame["date"]
    if pd.api.types.is_datetime64_any_dtype(column):
        dates = column.dt.tz_localize(None) if column.dt.tz is not None else column
        dates = dates.astype("datetime64[ns]")
    else:
        dates = pd.to_datetime(column.astype(str).str.strip().str[:10], format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        raise _first(frame.reset_index(drop=True), bad, "date", "{value!r} is not a date YYYY-MM-DD")
    return dates.dt.normalize()


def validate(raw: pd.DataFrame, kind: str, books: Collection[str],
             known_symbols: Collection[str] | None = None) -> pd.DataFrame:
    """The records of ``raw`` (from :func:`read_raw`) checked row by row, as the long frame of
    ``POSITION_COLUMNS`` or ``TRADE_COLUMNS`` (date as datetime64, currency None where not given)
    plus the ``origin``, ``row_unit`` and ``row_number`` of each row (:func:`row_origin`). ``books``: the books of record (a row of any
    other book is an error); ``known_symbols``, when given, the instruments the price source has."""
    missing = [c for c in ("date", *_REQUIRED[kind]) if c not in raw.columns]
    if missing and len(raw):
        raise PositionDataError(f"{raw[_ORIGIN].iloc[0]}: missing column(s) {', '.join(missing)} "
                                f"(need {', '.join(_REQUIRED[kind])})")
    columns = POSITION_COLUMNS if kind == "positions" else TRADE_COLUMNS
    if raw.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=float if c in ("quantity", "price", "fees") else object)
                              for c in (*columns, _ORIGIN, _UNIT, _ROW)})
        return empty.assign(date=pd.Series(dtype="datetime64[ns]"))
    frame = raw.reset_index(drop=True)
    dates = _dates(frame)
    weekend = (dates.dt.dayofweek >= 5).to_numpy()
    if weekend.any():
        raise _first(frame, weekend, "date", "{value} is not a business day (Saturday or Sunday)")
    for field in ("portfolio", "symbol"):
        blank = _blank(frame[field])
        if blank.any():
            raise _first(frame, blank, field, "missing")
    portfolio = frame["portfolio"].astype(str).str.strip()
    unknown = ~portfolio.isin(set(books)).to_numpy()
    if unknown.any():
        raise _first(frame, unknown, "portfolio", "unknown book {value!r} (not a book of record of the portfolios file)")
    symbol = frame["symbol"].astype(str).str.strip()
    if known_symbols is not None:
        unknown = ~symbol.isin(set(known_symbols)).to_numpy()
        if unknown.any():
            raise _first(frame, unknown, "symbol", "unknown instrument {value!r} (not in the price source)")
    out = pd.DataFrame({"date": dates, "portfolio": portfolio, "symbol": symbol,
                        "quantity": _numbers(frame, "quantity")})
    if kind == "trades":
        out["price"] = _numbers(frame, "price")
        bad = (out["price"] <= 0).to_numpy()
        if bad.any():
            raise _first(frame, bad, "price", "{value!r} is not a positive price")
        out["fees"] = _numbers(frame, "fees", default=0.0)
        bad = (out["fees"] < 0).to_numpy()
        if bad.any():
            raise _first(frame, bad, "fees", "{value!r} is negative (fees are costs, >= 0)")
    given = frame["currency"] if "currency" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    blank = _blank(given)
    code = given.astype(str).str.strip().where(~blank, None)
    bad = ~blank & ~code.isin(fx_currencies()).to_numpy()
    if bad.any():
        raise _first(frame, bad, "currency", "unknown currency {value!r}")
    out["currency"] = code
    if kind == "trades":
        ids = frame["trade_id"] if "trade_id" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        out["trade_id"] = ids.astype(str).str.strip().where(~_blank(ids), None)
    else:
        repeated = out.duplicated(["date", "portfolio", "symbol"], keep="first").to_numpy()
        if repeated.any():
            raise _first(frame, repeated, "symbol",
                         "{value!r} repeated: a second row of the same book and instrument on the same day")
    out[_ORIGIN] = frame[_ORIGIN].array  # categorical: one byte a row
    out[_UNIT] = frame[_UNIT].array
    out[_ROW] = frame[_ROW].to_numpy()
    return out.loc[:, [*columns, _ORIGIN, _UNIT, _ROW]]


def load_records(source: RecordSource, kind: str, books: Collection[str], start: dt.date | None = None,
                 end: dt.date | None = None, known_symbols: Collection[str] | None = None) -> pd.DataFrame:
    """The validated records of ``kind`` dated ``start..end`` (None: unbounded) (:func:`validate`); the
    rows of a history file or query outside the range are checked for their date only."""
    raw = read_raw(source, kind, start, end)
    if source.kind != "folder" and len(raw) and (start is not None or end is not None):
        dates = _dates(raw)
        inside = np.ones(len(raw), dtype=bool)
        if start is not None:
            inside &= (dates >= pd.Timestamp(start)).to_numpy()
        if end is not None:
            inside &= (dates <= pd.Timestamp(end)).to_numpy()
        raw = raw.loc[inside]
    frame = validate(raw, kind, books, known_symbols)
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= (frame["date"] >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (frame["date"] <= pd.Timestamp(end)).to_numpy()
    return frame.loc[keep].reset_index(drop=True)


def record_symbols(source: RecordSource | None, kind: str) -> set[str]:
    """Every instrument the source's rows of ``kind`` name (unvalidated: the prices of a book of
    record's instruments are loaded before its rows are checked)."""
    if source is None:
        return set()
    raw = read_raw(source, kind)
    if "symbol" not in raw.columns:
        return set()
    names = pd.Series(raw["symbol"].dropna().unique()).astype(str).str.strip()  # each distinct name once
    return set(names[names != ""])
