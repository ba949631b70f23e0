"""The Parquet lake: ``lake/<table>/date=YYYY-MM-DD/part.parquet``, one file per table and day.

Writes are atomic and idempotent. Each day's rows go to a temporary file in the day's folder
(``.tmp`` suffix, invisible to the ``*.parquet`` globs of the catalog) which is then renamed
over ``part.parquet`` with ``os.replace``: a reader sees the old file or the new one, never a
half-written one, and re-materializing a day replaces that day instead of appending to it.
A day in the written range that has no rows (a holiday, or a window not yet full) loses any
file it had, so re-running a range reproduces it exactly.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from risk_pipeline.storage.paths import lake_dir
from risk_pipeline.storage.schemas import TableSchema, table_schema

PART_FILE = "part.parquet"


class SchemaMismatchError(ValueError):
    """A frame does not carry the columns its table requires."""


def _day_folder(root: Path, table: str, day: dt.date) -> Path:
    return root / table / f"date={day.isoformat()}"


def to_arrow(frame: pd.DataFrame, spec: TableSchema) -> pa.Table:
    """Cast ``frame`` to the table's fixed schema (column order and types), naming what is missing."""
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise SchemaMismatchError(f"table {spec.name!r}: frame lacks columns {missing}")
    out = frame.loc[:, spec.columns].copy()
    for field in spec.schema:
        if pa.types.is_date32(field.type):
            out[field.name] = pd.to_datetime(out[field.name]).dt.date
    return pa.Table.from_pandas(out, schema=spec.schema, preserve_index=False)


def write_days(table: str, frame: pd.DataFrame, days: Iterable[dt.date], root: Path | None = None) -> int:
    """Replace the stored rows of ``table`` for every day in ``days`` with the rows of ``frame``.

    Every row of ``frame`` must fall on one of ``days`` (an error names the first stray date).
    The whole frame is converted before the first file is touched, so a schema error writes
    nothing. Returns the number of files written.
    """
    spec = table_schema(table)
    root = root or lake_dir()
    day_list = sorted(set(days))
    keys = pd.to_datetime(frame[spec.day_column]).dt.date if len(frame) else pd.Series([], dtype=object)
    stray = sorted(set(keys) - set(day_list))
    if stray:
        raise ValueError(f"table {table!r}: rows dated {stray[0]} fall outside the days being written")
    order = np.argsort(keys.to_numpy(), kind="stable")
    arrow = to_arrow(frame.iloc[order], spec)
    sorted_keys = keys.to_numpy()[order]
    # contiguous, zero-copy slices per day of the sorted table
    bounds: dict[dt.date, tuple[int, int]] = {}
    if len(sorted_keys):
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], len(sorted_keys)]
        bounds = {sorted_keys[a]: (int(a), int(b - a)) for a, b in zip(starts, ends)}
    written = 0
    for day in day_list:
        folder = _day_folder(root, table, day)
        if day not in bounds:
            _remove_day(folder)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        _clear_temporaries(folder)
        tmp = folder / f".{uuid.uuid4().hex}.parquet.tmp"
        pq.write_table(arrow.slice(*bounds[day]), tmp, compression="zstd")
        os.replace(tmp, folder / PART_FILE)
        written += 1
    return written


def _clear_temporaries(folder: Path) -> None:
    for leftover in folder.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def _remove_day(folder: Path) -> None:
    if not folder.exists():
        return
    (folder / PART_FILE).unlink(missing_ok=True)
    _clear_temporaries(folder)
    try:
        folder.rmdir()
    except OSError:
        pass


def stored_days(table: str, root: Path | None = None) -> list[dt.date]:
    """The sorted days for which ``table`` has a file."""
    base = (root or lake_dir()) / table
    if not base.exists():
        return []
    days = []
    with os.scandir(base) as entries:
        for entry in entries:
            if entry.name.startswith("date=") and os.path.exists(os.path.join(entry.path, PART_FILE)):
                days.append(dt.date.fromisoformat(entry.name[5:]))
    return sorted(days)


def empty_frame(table: str) -> pd.DataFrame:
    """A zero-row frame with the table's columns (day column as datetime64)."""
    spec = table_schema(table)
    frame = spec.schema.empty_table().to_pandas()
    frame[spec.day_column] = pd.to_datetime(frame[spec.day_column]).astype("datetime64[ns]")
    return frame


def read_days(
    table: str, days: Sequence[dt.date], root: Path | None = None, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The rows of ``table`` stored for ``days`` (days without a file contribute nothing);
    ``columns`` reads only those columns (the day column is always included)."""
    spec = table_schema(table)
    root = root or lake_dir()
    wanted = list(spec.columns) if columns is None else [c for c in spec.columns if c in set(columns) | {spec.day_column}]
    unknown = sorted(set(columns or ()) - set(spec.columns))
    if unknown:
        raise SchemaMismatchError(f"table {table!r} has no columns {unknown}")
    schema = pa.schema([spec.schema.field(c) for c in wanted])
    files = [str(_day_folder(root, table, d) / PART_FILE) for d in days]
    files = [f for f in files if os.path.exists(f)]
    if not files:
        return empty_frame(table)[wanted]
    with duckdb.connect() as con:
        selected = ", ".join(f'"{c}"' for c in wanted)
        arrow = con.sql(f"SELECT {selected} FROM read_parquet($files)", params={"files": files}).to_arrow_table()
    frame = arrow.cast(schema).to_pandas()
    frame[spec.day_column] = pd.to_datetime(frame[spec.day_column]).astype("datetime64[ns]")
    return frame


def query_days(table: str, days: Sequence[dt.date], sql: str, root: Path | None = None) -> pd.DataFrame:
    """Run DuckDB ``sql`` over the stored day files of ``table`` for ``days``, exposed to the
    query as the relation ``days_of`` (aggregates read only the columns they name)."""
    root = root or lake_dir()
    files = [str(_day_folder(root, table, d) / PART_FILE) for d in days]
    files = [f for f in files if os.path.exists(f)]
    spec = table_schema(table)
    with duckdb.connect() as con:
        if files:
            con.read_parquet(files).create_view("days_of")
        else:
            con.from_arrow(spec.schema.empty_table()).create_view("days_of")
        return con.sql(sql).df()


def read_window(
    table: str,
    start: dt.date,
    end: dt.date,
    lookback: int = 0,
    root: Path | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rows of ``table`` dated ``start``..``end`` plus the ``lookback`` stored days before ``start``
    (``columns`` as in :func:`read_days`).

    The lookback counts stored days (trading days), not calendar days, so a rolling window of
    N observations needs ``lookback=N`` whatever the holidays. The cost depends on the window,
    not on how much history is stored (beyond listing the table's day folders).
    """
    days = stored_days(table, root)
    before = [d for d in days if d < start]
    inside = [d for d in days if start <= d <= end]
    chosen = (before[-lookback:] if lookback > 0 else []) + inside
    return read_days(table, chosen, root, columns)
