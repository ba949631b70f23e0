"""The lake: one Delta Lake table per table, ``lake/<table>/``, partitioned by calendar year.

Delta Lake (the ``deltalake`` package, delta-rs) gives every table ACID commits, optimistic
concurrency between writers, compaction, vacuum and time travel, readable by DuckDB, Spark,
Trino and Polars, locally or on object storage (docs/storage.md says why Delta and not
Iceberg or hand-managed day files).

A write replaces exactly the rows of the days and keys it names (the portfolios, symbols or bond
books the run computed, ``TableSchema.key_column``), as ONE commit: an overwrite whose predicate
selects those days and keys. Rows of other keys stay as they are; a computed key without rows
on one of the days (a holiday, a window not yet full, a book holding nothing) loses the rows it
had. Its commit carries the first and last day and the keys it replaced in ``custom_metadata``
with a unique commit id (``risk-pipeline lake history`` shows them). A commit
that loses a race with a concurrent writer is retried from the new table state. The frame is cast
to the table's fixed schema before anything is written, so a schema error writes nothing.

The partition column ``year`` lives in the Delta log and the folder names only; every reader
here returns the table's own columns.

The lake is a folder or a bucket (``paths.lake_uri``: ``s3://``, ``gs://``, ``abfss://``, storage
options from the environment, read by delta-rs; on S3 a commit is a conditional put, no locking
provider). DuckDB reads a folder's Parquet files itself; it reads an object store only with its
``httpfs`` extension (a download), so there it reads the table's Arrow dataset, whose files
delta-rs reads.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import ctypes.util
import datetime as dt
import errno
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pa_dataset
from deltalake import ColumnProperties, CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from risk_pipeline.file_version import file_version
from risk_pipeline.storage.paths import is_object_store, lake_uri
from risk_pipeline.storage.schemas import TABLES, TableSchema, table_schema

try:
    _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _LIBC.malloc_trim  # glibc only
except (OSError, AttributeError):
    _LIBC = None

PARTITION_COLUMN = "year"
FIRST_DAY_KEY = "risk_pipeline.first_day"
LAST_DAY_KEY = "risk_pipeline.last_day"
COMMIT_ID_KEY = "risk_pipeline.commit_id"
KEYS_KEY = "risk_pipeline.keys"
COMMIT_ATTEMPTS = 12
DISK_FULL = os.strerror(errno.ENOSPC)  # "No space left on device", also in delta-rs' messages
ROW_GROUP_ROWS = 131_072  # rows per Parquet row group, in every file of the lake


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns written with Parquet's dictionary encoding, in every file of the lake: all but the
    floating-point ones. A column of strings, dates, flags or counts holds few distinct values; a column of
    VaRs, p-values or returns almost none twice, so its dictionary was built and then abandoned for plain
    pages in every file: a fifth to a half of the writer's CPU, and the files larger (docs/storage.md)."""
    return [field.name for field in schema if not pa.types.is_floating(field.type)]


def writer_properties(schema: pa.Schema) -> WriterProperties:
    """delta-rs' settings for the files it writes of a table of ``schema`` (a write, a delete's rewrite, a
    compaction): zstd, row groups of ``ROW_GROUP_ROWS``, the dictionary on :func:`dictionary_columns` only, as
    the staged files (storage/staging.py)."""
    kept = set(dictionary_columns(schema))
    plain = {field.name: ColumnProperties(dictionary_enabled=False) for field in schema if field.name not in kept}
    return WriterProperties(compression="ZSTD", max_row_group_size=ROW_GROUP_ROWS, column_properties=plain)


# a checkpoint of the log every 10 commits (delta-rs' default, 100, let a reader of a table written
# by a year of daily runs parse up to 99 commit files: 13 ms to open a table at 60 versions
# without a checkpoint, 3.4 ms with one at most 10 commits back)
TABLE_CONFIGURATION = {"delta.checkpointInterval": "10"}


class SchemaMismatchError(ValueError):
    """A frame does not carry the columns its table requires."""


class LakeLayoutError(RuntimeError):
    """A table folder holds what this pipeline does not read: the day files of earlier
    versions, or a Delta table using reader features (deletion vectors, column mapping)."""


@dataclass(frozen=True)
class Commit:
    """What one write committed: the table version it made and what it holds of the run's days."""

    table: str
    version: int
    rows: int
    days_with_rows: int


def table_uri(table: str, root: Path | str | None = None) -> str:
    """Where ``table`` is: a folder's path, or an object store URI (``paths.lake_uri``)."""
    return f"{str(root or lake_uri()).rstrip('/')}/{table_schema(table).name}"


_PINNED = threading.local()


@contextlib.contextmanager
def pinned_versions(versions: Mapping[str, int]) -> Iterator[None]:
    """Within the block, this thread reads every table at its version of ``versions`` (a table not
    in it as never written): the lake as it was when those versions were recorded (a published
    report's, ``risk-pipeline report --as-of``)."""
    before = getattr(_PINNED, "versions", None)
    _PINNED.versions = dict(versions)
    try:
        yield
    finally:
        _PINNED.versions = before


def open_table(table: str, root: Path | str | None = None,
               version: int | str | dt.datetime | None = None) -> DeltaTable | None:
    """The Delta table of ``table`` (latest version, or as of a version number or timestamp, or
    the version pinned by :func:`pinned_versions`); None while nothing was ever written to it."""
    pinned = getattr(_PINNED, "versions", None)
    if version is None and pinned is not None:
        if table not in pinned:
            return None
        version = pinned[table]
    uri = table_uri(table, root)
    try:
        if is_object_store(uri):
            delta = DeltaTable(uri)
        else:
            path = Path(uri)
            if not (path / "_delta_log").is_dir():
                if not path.is_dir() or not any(path.glob("date=*")):
                    return None  # never written, or its first commit was killed before it committed
                raise LakeLayoutError(
                    f"{path} holds day files of the old lake layout, not a Delta table: rebuild the lake "
                    "with `make clean run` (docs/storage.md, 'Upgrading a day-file lake')"
                )
            delta = DeltaTable(uri) if version is not None else _latest(path)
    except TableNotFoundError:
        return None
    _check_layout(table, uri, delta)
    if version is not None:
        delta.load_as_version(version)
    return delta


_CHECKED: dict[str, tuple] = {}  # per table URI, the last version (version_key) whose layout was found right


def _check_layout(table: str, uri: str, delta: DeltaTable) -> None:
    """Refuse a loaded version whose columns are not the table's (an older schema) or that needs a
    Delta reader feature; checked once per version (a day's run opens tables about 1,000 times)."""
    key = version_key(uri, delta)
    if _CHECKED.get(uri) == key:
        return
    stored = [field.name for field in delta.schema().fields]
    expected = [*table_schema(table).columns, PARTITION_COLUMN]
    if stored != expected:
        raise LakeLayoutError(f"{uri} has the columns {stored}, this version of the pipeline writes {expected}: "
                              "rebuild the lake with `make clean run`")
    if delta.protocol().min_reader_version > 1:
        raise LakeLayoutError(f"{uri}: Delta reader version {delta.protocol().min_reader_version} (deletion "
                              "vectors or column mapping) is not read by this pipeline; it writes reader version 1")
    _CHECKED[uri] = key


_OPENED = threading.local()


def _log_file(path: Path, version: int) -> Path:
    """The commit file of ``version`` in the log of the table at ``path``."""
    return path / "_delta_log" / f"{version:020d}.json"


def _log_entry(path: Path, version: int) -> tuple[int, int, int] | None:
    try:
        return file_version(_log_file(path, version))
    except FileNotFoundError:
        return None


def _latest(path: Path) -> DeltaTable:
    """The latest version of the Delta table at ``path``. Kept open per process and thread and
    brought up to date with ``update_incremental`` (1-4 ms: a listing of the log and the entries
    committed since) when the log holds the entry of the next version (a commit is the creation
    of that file: without it nothing was committed since), instead of reopened (5-20 ms: the log
    since its checkpoint; a day's run reads tables about 170 times). Reopened when the log entry
    of the version it was last seen at is not the same file any more (the table was deleted and
    written anew) or the update fails."""
    opened = _OPENED.__dict__.setdefault("tables", {})
    key = (os.getpid(), str(path))
    held = opened.get(key)  # (table, the version it was seen at, that version's log entry)
    delta = None
    if held is not None and held[2] is not None and _log_entry(path, held[1]) == held[2]:
        delta = held[0]  # a write through it (write_days) may have moved it on since
        if _log_file(path, delta.version() + 1).exists():
            try:
                delta.update_incremental()
            except (DeltaError, OSError):  # the log entries since are gone (cleaned up): read it afresh
                delta = None
    if delta is None:
        delta = DeltaTable(str(path))
    if held is None or held[0] is not delta or held[1] != delta.version():
        opened[key] = (delta, delta.version(), _log_entry(path, delta.version()))
    return delta


def table_version(table: str, root: Path | None = None) -> int | None:
    """The latest committed version of ``table`` (None before its first write)."""
    delta = open_table(table, root)
    return None if delta is None else delta.version()


def calendar_days(column: pd.Series) -> np.ndarray:
    """The calendar day of each value of ``column`` (datetimes, dates or their text; NaT stays NaT) as
    ``datetime64[D]``: the day ``.dt.date`` names (the wall-clock day of a time-zone-aware value),
    without a ``datetime.date`` object per row (a tenth of a second a million rows)."""
    stamps = pd.to_datetime(column)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    return stamps.to_numpy().astype("datetime64[D]")


def day_counts(column: pd.Series) -> dict[dt.date, int]:
    """The number of values of ``column`` (:func:`calendar_days`) on each day holding some."""
    days = calendar_days(column)
    values, counts = np.unique(days[~np.isnat(days)], return_counts=True)
    return {day: int(n) for day, n in zip(values.astype(dt.date), counts)}


def within_days(column: pd.Series, first: dt.date, last: dt.date) -> np.ndarray:
    """Whether each value of ``column`` (:func:`calendar_days`) falls on a day ``first``..``last`` (NaT: no)."""
    days = calendar_days(column)
    return (days >= np.datetime64(first, "D")) & (days <= np.datetime64(last, "D"))


def to_arrow(frame: pd.DataFrame, spec: TableSchema, order: np.ndarray | None = None) -> pa.Table:
    """Cast ``frame`` (its rows taken in ``order`` if given) to the table's fixed schema (column
    order and types), naming what is missing or what does not convert. One column is converted
    at a time, so the only copy of the frame made is the Arrow table."""
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise SchemaMismatchError(f"table {spec.name!r}: frame lacks columns {missing}")
    columns = []
    for field in spec.schema:
        column = frame[field.name]
        if order is not None:
            column = column.take(order)
        if pa.types.is_date32(field.type):
            column = calendar_days(column)
        try:
            columns.append(pa.array(column, type=field.type, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SchemaMismatchError(
                f"table {spec.name!r}: column {field.name!r} does not convert to {field.type}: {exc}"
            ) from None
        del column
    return pa.Table.from_arrays(columns, schema=spec.schema)


def _sql_date(day: dt.date) -> str:
    return f"'{day.isoformat()}'"


def days_predicate(day_column: str, days: Sequence[dt.date]) -> str:
    """SQL predicate selecting ``days`` (sorted): a range when they are every weekday between the
    first and the last, otherwise the list. The year bounds let Delta skip other partitions."""
    first, last = days[0], days[-1]
    years = f'"{PARTITION_COLUMN}" >= {first.year} AND "{PARTITION_COLUMN}" <= {last.year}'
    if len(days) == len(pd.bdate_range(first, last)):
        return f'{years} AND "{day_column}" >= {_sql_date(first)} AND "{day_column}" <= {_sql_date(last)}'
    return f'{years} AND "{day_column}" IN ({", ".join(_sql_date(d) for d in days)})'


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def keys_predicate(key_column: str, keys: Sequence[str]) -> str:
    """SQL predicate selecting the rows of ``keys`` (none: no row)."""
    if not keys:
        return "false"
    return f'"{key_column}" IN ({", ".join(_sql_text(k) for k in keys)})'


def checked_arrow(table: str, frame: pd.DataFrame, days: Iterable[dt.date],
                  keys: Iterable[str] | None) -> tuple[pa.Table, list[dt.date], list[str] | None, set[dt.date]]:
    """``frame`` as Arrow in the table's schema and date order, with the sorted days and keys of
    a write of ``table`` and the days holding rows; every row must fall on one of ``days`` and carry
    one of ``keys`` (a table with a key column needs them, one without refuses them): an error names
    the first stray date or key, before anything is written."""
    spec = table_schema(table)
    day_list = sorted(set(days))
    if not day_list:
        raise ValueError(f"table {table!r}: no days to write")
    if (keys is None) != (spec.key_column is None):
        raise ValueError(f"table {table!r}: " + (f"name the {spec.key_column} values the run computed (keys)"
                                                 if keys is None else "has no key column: it is written by whole days"))
    key_list = None if keys is None else sorted(set(keys))
    if key_list is not None and len(frame) and spec.key_column in frame:
        stray_keys = sorted(set(frame[spec.key_column].unique()) - set(key_list), key=str)
        if stray_keys:
            raise ValueError(f"table {table!r}: rows of {spec.key_column} {stray_keys[0]!r} fall outside the "
                             f"{spec.key_column} values being written")
    dates = pd.to_datetime(frame[spec.day_column]).to_numpy().astype("datetime64[D]")
    if np.isnat(dates).any():
        raise ValueError(f"table {table!r}: row {int(np.flatnonzero(np.isnat(dates))[0])} has no {spec.day_column}")
    dated = set(pd.DatetimeIndex(np.unique(dates)).date)
    stray = sorted(dated - set(day_list))
    if stray:
        raise ValueError(f"table {table!r}: rows dated {stray[0]} fall outside the days being written")
    release_freed_memory()  # what the caller freed before the write (a long run's per-series frames)
    in_order = bool((dates[1:] >= dates[:-1]).all())
    arrow = to_arrow(frame, spec, None if in_order else np.argsort(dates, kind="stable"))
    del dates
    return arrow, day_list, key_list, dated


def write_days(
    table: str, frame: pd.DataFrame, days: Iterable[dt.date], root: Path | None = None, *,
    keys: Iterable[str] | None = None,
) -> Commit:
    """Replace the stored rows of ``table`` for every day in ``days`` and, in a table with a key
    column (``TableSchema.key_column``), every key in ``keys`` (the portfolios, symbols or books
    the run computed, with rows or not) with the rows of ``frame``, as one Delta commit (retried
    on a concurrent-commit conflict). The rows of other keys are kept.

    Every row of ``frame`` must fall on one of ``days`` and carry one of ``keys`` (an error names
    the first stray date or key). The whole frame is converted before anything is written, so a
    schema error writes nothing.
    """
    arrow, day_list, key_list, dated = checked_arrow(table, frame, days, keys)
    spec = table_schema(table)
    years = pc.year(arrow[spec.day_column]).cast(pa.int32())
    arrow = arrow.append_column(pa.field(PARTITION_COLUMN, pa.int32()), years)
    metadata = commit_metadata(day_list, key_list)
    predicate = days_predicate(spec.day_column, day_list)
    if key_list is not None:
        predicate = f"{predicate} AND {keys_predicate(spec.key_column, key_list)}"
    uri = table_uri(table, root)
    if not is_object_store(uri):
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        commit_with_retries(table, root, lambda delta: write_deltalake(
            delta if delta is not None else uri,
            arrow,
            partition_by=[PARTITION_COLUMN],
            mode="overwrite",
            predicate=predicate,
            writer_properties=writer_properties(spec.schema),
            commit_properties=CommitProperties(custom_metadata=metadata),
            configuration=TABLE_CONFIGURATION if delta is None else None,
        ))
    except DeltaError as exc:
        if DISK_FULL in str(exc):  # delta-rs does not say where: the table's folder
            raise OSError(errno.ENOSPC, DISK_FULL, uri) from exc
        raise
    version = committed_version(table, root, metadata)
    return Commit(table=table, version=version, rows=arrow.num_rows, days_with_rows=len(dated))


def commit_metadata(day_list: Sequence[dt.date], key_list: Sequence[str] | None) -> dict[str, str]:
    """The ``custom_metadata`` of a commit replacing ``day_list`` (sorted) and ``key_list``: its first
    and last day, the keys and a unique commit id (``risk-pipeline lake history``)."""
    metadata = {
        FIRST_DAY_KEY: day_list[0].isoformat(), LAST_DAY_KEY: day_list[-1].isoformat(), COMMIT_ID_KEY: uuid.uuid4().hex
    }
    if key_list is not None:
        metadata[KEYS_KEY] = json.dumps(list(key_list))
    return metadata


def commit_with_retries(table: str, root: Path | None, attempt: Callable[[DeltaTable | None], object]) -> None:
    """Run ``attempt`` on the latest version of ``table`` (None before its first write); when
    another writer committed a conflicting change first, again from the new state, up to
    ``COMMIT_ATTEMPTS`` times with a growing random pause."""
    for number in range(COMMIT_ATTEMPTS):
        try:
            attempt(open_table(table, root))
            return
        except CommitFailedError:
            if number == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.05, 0.2) * (number + 1))


@dataclass(frozen=True)
class Deletion:
    """The rows of one key a delete removed (or would remove) from a table, and the version made."""

    table: str
    rows: int
    first_day: dt.date | None
    last_day: dt.date | None
    version: int | None  # None: nothing committed (a dry run, or no rows)


def delete_key(table: str, key: str, root: Path | None = None, dry_run: bool = False) -> Deletion:
    """Delete every row of ``table`` whose key column (``TableSchema.key_column``) equals ``key``,
    as one Delta commit carrying the first and last day it changed (``lake history`` shows them);
    ``dry_run`` only counts them."""
    spec = table_schema(table)
    if spec.key_column is None:
        raise ValueError(f"table {table!r} has no key column: its rows belong to no portfolio, symbol or book")
    delta = open_table(table, root)
    files = [] if delta is None else data_files(delta, spec)
    rows, first, last = 0, None, None
    if files:
        day = f'"{spec.day_column}"'
        with reader() as con:
            params: dict[str, object] = {"key": key}
            rows, first, last = con.execute(
                f'select count(*), min({day}), max({day}) from {scan(con, delta, files, params)} '
                f'where "{spec.key_column}" = $key', params).fetchone()
    if not rows or dry_run:
        return Deletion(table, rows, first, last, None)
    metadata = {FIRST_DAY_KEY: first.isoformat(), LAST_DAY_KEY: last.isoformat(), COMMIT_ID_KEY: uuid.uuid4().hex,
                KEYS_KEY: json.dumps([key])}
    predicate = keys_predicate(spec.key_column, [key])
    properties = writer_properties(spec.schema)
    commit_with_retries(table, root, lambda delta: delta.delete(predicate, writer_properties=properties,
                                                    commit_properties=CommitProperties(custom_metadata=metadata)))
    return Deletion(table, rows, first, last, committed_version(table, root, metadata))


def release_freed_memory() -> None:
    """Hand the memory freed by Python objects back to the system: glibc keeps the freed pieces of
    pandas frames in its heap and Arrow keeps its pool, where the other allocator (and the Delta
    writer) cannot reuse them, so a long run's peak would add them up."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def committed_version(table: str, root: Path | None, metadata: dict[str, str]) -> int:
    """The version of the commit carrying ``metadata``'s unique commit id (a concurrent writer may
    have committed after it, so the latest version is not necessarily ours). The latest commit
    is read first: reading 64 costs one log file each (5 ms on a table of the 30-year lake)."""
    delta = open_table(table, root)
    assert delta is not None
    for limit in (1, 64):
        for entry in delta.history(limit=limit):
            if entry.get(COMMIT_ID_KEY) == metadata[COMMIT_ID_KEY]:
                return int(entry["version"])
    raise RuntimeError(f"table {table!r}: commit {metadata[COMMIT_ID_KEY]} not found in the last 64 versions")


def empty_frame(table: str) -> pd.DataFrame:
    """A zero-row frame with the table's columns (day column as datetime64)."""
    spec = table_schema(table)
    frame = spec.schema.empty_table().to_pandas()
    frame[spec.day_column] = pd.to_datetime(frame[spec.day_column]).astype("datetime64[ns]")
    return frame


def _range_predicate(day_column: str, first: dt.date, last: dt.date) -> str:
    return (f'"{PARTITION_COLUMN}" >= {first.year} AND "{PARTITION_COLUMN}" <= {last.year} AND '
            f'"{day_column}" >= {_sql_date(first)} AND "{day_column}" <= {_sql_date(last)}')


def data_files(delta: DeltaTable, spec: TableSchema, first: dt.date | None = None, last: dt.date | None = None) -> list[str]:
    """The data files of the loaded version that may hold rows dated ``first``..``last`` (the
    partition values and the file statistics in the Delta log rule out the others), in the log's
    order. Reading them as Parquet is reading the table: our tables use no reader feature (deletion
    vectors, column mapping), which :func:`open_table` checks."""
    if first is None or last is None:
        return delta.file_uris()
    index = _file_index(delta, spec)
    if index is None:
        return delta.file_uris(file_pruning_predicate=_range_predicate(spec.day_column, first, last))
    uris, years, lows, highs = index
    low, high = np.datetime64(first, "D"), np.datetime64(last, "D")
    # a comparison with an unknown year or bound (NaN, NaT) is false: such a file is kept
    kept = ~((years < first.year) | (years > last.year) | (highs < low) | (lows > high))
    return [uri for uri, keep in zip(uris, kept) if keep]


_FILE_INDEX: dict[str, tuple[tuple, tuple | None]] = {}  # per table URI: the version (version_key) and its index


def _file_index(delta: DeltaTable, spec: TableSchema) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
    """The loaded version's data files (URIs) with each one's year (partition value) and least and
    greatest day (statistics; NaN and NaT where the log has none), made once per version: delta-rs'
    pruning by a predicate parses and evaluates it at each call (1.5 ms, about 200 reads a day), the
    same selection from these arrays takes microseconds. None where the add actions and the URIs do
    not line up (then delta-rs prunes)."""
    root = delta.table_uri.rstrip("/")
    uri = root.removeprefix("file://")
    key = version_key(uri, delta)
    if key[2] is None and not is_object_store(uri):  # a folder whose log entry is not found under this name
        return None
    held = _FILE_INDEX.get(uri)
    if held is None or held[0] != key:
        actions = pa.table(delta.get_add_actions(flatten=True))
        uris = delta.file_uris()
        paths = actions.column("path").to_pylist() if actions.num_rows else []
        low, high, year = f"min.{spec.day_column}", f"max.{spec.day_column}", f"partition.{PARTITION_COLUMN}"
        if (len(uris) != len(paths) or any(not u.endswith(f"/{p}") for u, p in zip(uris, paths))
                or not {low, high, year} <= set(actions.column_names)):
            index = None
        else:
            index = (uris, actions.column(year).cast(pa.float64()).to_numpy(zero_copy_only=False),
                     actions.column(low).to_numpy(zero_copy_only=False).astype("datetime64[D]"),
                     actions.column(high).to_numpy(zero_copy_only=False).astype("datetime64[D]"))
        held = _FILE_INDEX[uri] = (key, index)
    return held[1]


NO_FILE_CACHE = {"enable_external_file_cache": False}
# DuckDB draws a progress bar on the process's stdout for a query longer than 2 s (a read of 30 years on a busy
# machine): never in the middle of the CLI's tables or a run's log (a connection's setting, which its cursors take)
QUIET = "set enable_progress_bar = false"
_KEPT: dict[tuple, duckdb.DuckDBPyConnection] = {}


def kept_database(config: dict[str, object]) -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB database with ``config``, created at its first use (a
    forked child creates its own): opening a database costs about 12 ms, as much as a small read,
    a cursor of it 0.2 ms."""
    key = (os.getpid(), tuple(sorted(config.items())))
    if key not in _KEPT:
        _KEPT[key] = duckdb.connect(config=config)
        _KEPT[key].execute(QUIET)
    return _KEPT[key]


def scan(con: duckdb.DuckDBPyConnection, delta: DeltaTable, files: list[str], params: dict[str, object]) -> str:
    """The DuckDB relation that reads the rows of ``files`` (:func:`data_files` of ``delta``, not
    empty): ``read_parquet($files)`` of a folder's files (sets ``params["files"]``); in an object
    store, the Arrow dataset of those files of the loaded version, read through delta-rs and
    registered on ``con``: DuckDB reads ``s3://`` only with its ``httpfs`` extension."""
    if not is_object_store(files[0]):
        params["files"] = files
        return "read_parquet($files)"
    dataset = delta.to_pyarrow_dataset()
    root, wanted = delta.table_uri.rstrip("/"), set(files)
    fragments = [f for f in dataset.get_fragments() if f"{root}/{f.path}" in wanted]
    if len(fragments) == len(wanted):  # else (a path spelled otherwise) every file: the query's conditions select
        dataset = pa_dataset.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)
    name = f"lake_scan_{uuid.uuid4().hex}"
    con.register(name, dataset)
    return name


def reader() -> duckdb.DuckDBPyConnection:
    """A new connection (``cursor``) to the process's database that reads the lake's Parquet files
    (:func:`kept_database`; the catalog's refresh also writes its new file through it); one per
    call, so threads do not share a connection. DuckDB's cache
    of the files' bytes is off (``NO_FILE_CACHE``): in a database kept for the process it would
    hold every file a long run reads (the OS caches them anyway)."""
    return kept_database(NO_FILE_CACHE).cursor()


def _select(delta: DeltaTable | None, spec: TableSchema, columns: Sequence[str], first: dt.date | None = None,
            last: dt.date | None = None, days: Sequence[dt.date] | None = None,
            where: Mapping[str, object] | None = None) -> pa.Table:
    """``columns`` of the rows dated ``first``..``last`` (None: all), and among ``days`` if given,
    whose columns equal the values of ``where``, in the table's types, read by DuckDB from the
    files that may hold them."""
    schema = pa.schema([spec.schema.field(c) for c in columns])
    files = [] if delta is None else data_files(delta, spec, first, last)
    if not files:
        return schema.empty_table()
    day = f'"{spec.day_column}"'
    conditions, params = [], {}
    if first is not None and last is not None:
        conditions.append(f"{day} between $first and $last")
        params.update(first=first, last=last)
    if days is not None:
        conditions.append(f"{day} in (select unnest($days::DATE[]))")
        params["days"] = list(days)
    for i, (column, value) in enumerate((where or {}).items()):
        if isinstance(value, (list, tuple)):  # any of the values
            conditions.append(f'"{column}" in (select unnest($value_{i}))')
            params[f"value_{i}"] = list(value)
        else:
            conditions.append(f'"{column}" = $value_{i}')
            params[f"value_{i}"] = value
    selected = ", ".join(f'"{c}"' for c in columns)
    with reader() as con:
        sql = f"select {selected} from {scan(con, delta, files, params)}" + (
            f" where {' and '.join(conditions)}" if conditions else "")
        return con.sql(sql, params=params).to_arrow_table().cast(schema)


# per table version (version_key): the range of days read (dt.date.min..dt.date.max: every day) and
# the sorted days with rows in it
_DAYS_CACHE: dict[tuple, tuple[dt.date, dt.date, list[dt.date]]] = {}
_EVERY_DAY = (dt.date.min, dt.date.max)


def version_key(uri: str, delta: DeltaTable) -> tuple[str, int, tuple[int, int, int] | None]:
    """What identifies the loaded version of the table at ``uri``, for a cache of what is read from it:
    the URI, the version and its log entry (a table written anew has another log entry at the same
    version; not known in an object store: None)."""
    return uri, delta.version(), None if is_object_store(uri) else _log_entry(Path(uri), delta.version())


def stored_days(table: str, root: Path | None = None, *, first: dt.date | None = None,
                last: dt.date | None = None) -> list[dt.date]:
    """The sorted days on which ``table`` has rows; with ``first`` or ``last``, only those from
    ``first`` or up to ``last``, read from the files that may hold them (on the 30-year lake, reading
    every file's days costs 10-110 ms a table, most of it their footers). Cached per table version
    and its log entry, with the range read: a wider range reads only the days outside it. A version
    after a cached one, from commits of this module (each names its first and last day: no row
    outside them was written or deleted), reads the days of those ranges only."""
    delta = open_table(table, root)
    if delta is None:
        return []
    uri = table_uri(table, root)
    key = version_key(uri, delta)
    spec = table_schema(table)
    wanted = (first or dt.date.min, last or dt.date.max)
    if wanted[0] > wanted[1]:
        return []
    held = _DAYS_CACHE.get(key) or _days_after_commits(delta, spec, key)
    if held is None:
        held = (*wanted, _scanned_days(delta, spec, *_bounds(wanted)))
    elif wanted[0] < held[0] or wanted[1] > held[1]:
        low, high, days = held
        if wanted[0] < low:
            days = _scanned_days(delta, spec, *_bounds((wanted[0], low - dt.timedelta(days=1)))) + days
        if wanted[1] > high:
            days = days + _scanned_days(delta, spec, *_bounds((high + dt.timedelta(days=1), wanted[1])))
        held = (min(low, wanted[0]), max(high, wanted[1]), days)
    if _DAYS_CACHE.get(key) is not held:
        _DAYS_CACHE[key] = held
        for older in [k for k in _DAYS_CACHE if k[0] == uri and k[1] < key[1]]:
            del _DAYS_CACHE[older]
    if wanted == _EVERY_DAY or wanted == held[:2]:
        return held[2]
    return held[2][bisect.bisect_left(held[2], wanted[0]) : bisect.bisect_right(held[2], wanted[1])]  # sorted days


def _bounds(days: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date] | tuple[()]:
    """The arguments of :func:`_scanned_days` reading the days of ``days``: none for every day."""
    return () if days == _EVERY_DAY else days


def _scanned_days(delta: DeltaTable, spec: TableSchema, first: dt.date | None = None,
                  last: dt.date | None = None) -> list[dt.date]:
    """The sorted days with rows in the loaded version (only those of ``first``..``last`` if given)."""
    files = data_files(delta, spec, first, last)
    if not files:
        return []
    day = f'"{spec.day_column}"'
    params: dict[str, object] = {}
    with reader() as con:
        sql = f"select distinct {day} from {scan(con, delta, files, params)}"
        if first is not None and last is not None:
            sql += f" where {day} between $first and $last"
            params.update(first=first, last=last)
        return [row[0] for row in con.execute(sql + " order by 1", params).fetchall()]


def _days_after_commits(delta: DeltaTable, spec: TableSchema,
                        key: tuple) -> tuple[dt.date, dt.date, list[dt.date]] | None:
    """The days of version ``key[1]`` in the range read of the latest cached version of the same table
    before it (and that range), when that version's log entry is unchanged and every commit since is
    one of this module's (``commit_metadata``: its first and last day); else None (read them anew)."""
    uri, version, entry = key
    cached = [k for k in _DAYS_CACHE if k[0] == uri and k[1] < version]
    if entry is None or not cached:
        return None
    _, since, since_entry = max(cached, key=lambda k: k[1])
    if since_entry is None or _log_entry(Path(uri), since) != since_entry:
        return None
    commits = delta.history(limit=version - since)
    if sorted(int(c.get("version", -1)) for c in commits) != list(range(since + 1, version + 1)):
        return None
    ranges = []
    for commit in commits:
        if FIRST_DAY_KEY not in commit or LAST_DAY_KEY not in commit:
            return None  # not a write or delete of this module (a compaction, another writer)
        ranges.append((dt.date.fromisoformat(commit[FIRST_DAY_KEY]), dt.date.fromisoformat(commit[LAST_DAY_KEY])))
    held = _DAYS_CACHE.get((uri, since, since_entry))
    if held is None:  # dropped by another thread meanwhile
        return None
    low, high, before = held
    days = {d for d in before if not any(a <= d <= b for a, b in ranges)}
    for first, last in ranges:
        if max(first, low) <= min(last, high):
            days.update(_scanned_days(delta, spec, max(first, low), min(last, high)))
    return low, high, sorted(days)


LATEST_DAY_LOOKBACK = dt.timedelta(days=366)  # where latest_day looks first: about the year files of as_of and before


def latest_day(table: str, as_of: dt.date, root: Path | None = None) -> dt.date | None:
    """The latest day up to ``as_of`` on which ``table`` has rows (None: none, or not a table): the
    latest in the files that may hold the ``LATEST_DAY_LOOKBACK`` before ``as_of`` (one or two year
    files), else, when those have none, the latest of :func:`stored_days`. A table written since its days
    were cached by other than this module's commits makes :func:`stored_days` read every file (25-70 ms a
    table of the 30-year lake)."""
    delta = open_table(table, root) if table in TABLES else None
    if delta is None:
        return None
    spec = table_schema(table)
    first = as_of - LATEST_DAY_LOOKBACK
    files = data_files(delta, spec, first, as_of)
    if files:
        day = f'"{spec.day_column}"'
        with reader() as con:
            params: dict[str, object] = {"first": first, "last": as_of}
            found = con.execute(f"select max({day}) from {scan(con, delta, files, params)} "
                                f"where {day} between $first and $last", params).fetchone()[0]
        if found is not None:
            return found
    days = stored_days(table, root, last=as_of)
    return days[-1] if days else None


def _wanted(spec: TableSchema, columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        return list(spec.columns)
    unknown = sorted(set(columns) - set(spec.columns))
    if unknown:
        raise SchemaMismatchError(f"table {spec.name!r} has no columns {unknown}")
    return [c for c in spec.columns if c in set(columns) | {spec.day_column}]


def _frame(arrow: pa.Table, spec: TableSchema, by_day: bool = True) -> pd.DataFrame:
    """``arrow`` as pandas, its day column as datetime64[ns] straight from Arrow's days (not through a
    ``datetime.date`` object per row: a quarter of a large read's time), sorted by day unless ``by_day``
    is False."""
    frame = arrow.drop_columns([spec.day_column]).to_pandas()
    days = arrow.column(spec.day_column).to_numpy().astype("datetime64[ns]")
    frame.insert(arrow.column_names.index(spec.day_column), spec.day_column, days)
    return frame.sort_values(spec.day_column, kind="stable", ignore_index=True) if by_day else frame


def read_days(
    table: str, days: Sequence[dt.date], root: Path | None = None, columns: Sequence[str] | None = None,
    where: Mapping[str, object] | None = None, by_day: bool = True,
) -> pd.DataFrame:
    """The rows of ``table`` stored for ``days`` (days without rows contribute nothing), in day
    order (stable); ``columns`` reads only those columns (the day column is always included); ``where``
    only the rows whose columns equal its values, or one of them for a list (filtered by DuckDB as it
    reads the files); ``by_day`` False: in the order read, for a caller that orders them itself (a
    sort of a large read's every column costs more than the caller's of each series)."""
    spec = table_schema(table)
    wanted = _wanted(spec, columns)
    _wanted(spec, list(where or {}))  # an unknown column is named
    if not len(days):
        return empty_frame(table)[wanted]
    ordered = sorted(days)
    return _frame(_select(open_table(table, root), spec, wanted, ordered[0], ordered[-1], ordered, where), spec,
                  by_day)


def read_range(table: str, first: dt.date | None = None, last: dt.date | None = None,
               delta: DeltaTable | None = None, root: Path | None = None) -> pa.Table:
    """The rows of ``table`` dated ``first``..``last`` (both None: every row) as Arrow with the
    table's schema, from ``delta`` (a loaded version) or the latest version."""
    spec = table_schema(table)
    return _select(delta if delta is not None else open_table(table, root), spec, spec.columns, first, last)


def query_days(table: str, days: Sequence[dt.date], sql: str, root: Path | None = None,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Run DuckDB ``sql`` over the rows of ``table`` stored for ``days``, exposed to the query as
    the relation ``days_of`` (with only ``columns`` and the day column if given)."""
    spec = table_schema(table)
    wanted = _wanted(spec, columns)
    ordered = sorted(days)
    rows = (_select(open_table(table, root), spec, wanted, ordered[0], ordered[-1], ordered)
            if ordered else pa.schema([spec.schema.field(c) for c in wanted]).empty_table())
    with reader() as con:
        con.register("days_of", rows)
        return con.sql(sql).df()


# distinct_values' lists, the latest few: (version_key, column, the days) -> the values
_DISTINCT: dict[tuple, pd.Series] = {}
_DISTINCT_KEPT = 8


def distinct_values(table: str, days: Sequence[dt.date], column: str, root: Path | None = None) -> pd.Series:
    """The sorted distinct values of ``column`` in the stored rows of ``table`` on ``days`` (a read of the
    column, as :func:`query_days`), kept for the table's version and the days: the run's process lists the
    symbols of ``prices``' window once for ``returns`` and the checks of ``prices`` on the engine
    (``quality_rules.stored_findings``) where they read the same window (a backfill from the first day),
    not once each (docs/performance.md)."""
    delta = open_table(table, root)
    ordered = tuple(sorted(days))

    def read() -> pd.Series:
        return query_days(table, ordered, f"select distinct {column} from days_of order by {column}", root,
                          columns=[column])[column]

    if delta is None or not ordered:
        return read()
    key = (version_key(table_uri(table, root), delta), column, ordered)
    if key not in _DISTINCT:
        if len(_DISTINCT) >= _DISTINCT_KEPT:
            del _DISTINCT[next(iter(_DISTINCT))]
        _DISTINCT[key] = read()
    return _DISTINCT[key]


def read_window(
    table: str,
    start: dt.date,
    end: dt.date,
    lookback: int = 0,
    root: Path | None = None,
    columns: Sequence[str] | None = None,
    where: Mapping[str, object] | None = None,
    by_day: bool = True,
) -> pd.DataFrame:
    """Rows of ``table`` dated ``start``..``end`` plus the ``lookback`` stored days before ``start``
    (``columns``, ``where`` and ``by_day`` as in :func:`read_days`).

    The lookback counts stored days (trading days), not calendar days, so a rolling window of
    N observations needs ``lookback=N`` whatever the holidays. The rows read depend on the
    window, not on how much history is stored (Delta skips the years outside it).
    """
    return read_days(table, window_days(table, start, end, lookback, root), root, columns, where, by_day)


def window_days(table: str, start: dt.date, end: dt.date, lookback: int = 0, root: Path | None = None) -> list[dt.date]:
    """The stored days of ``table`` that :func:`read_window` reads: ``start``..``end`` and the ``lookback``
    stored days before ``start``."""
    # the stored days from a span before start long enough to hold the lookback (doubled until it does)
    span = lookback * 7 // 5 + 10 if lookback > 0 else 0  # a trading day a weekday, and some holidays
    while True:
        first = start - dt.timedelta(days=span) if span < (start - dt.date.min).days else None
        days = stored_days(table, root, first=first, last=end)
        if (lookback <= 0 or first is None or sum(1 for d in days if d < start) >= lookback
                or not _files_before(table, root, first)):
            break
        span *= 2
    before = [d for d in days if d < start]
    inside = [d for d in days if start <= d <= end]
    return (before[-lookback:] if lookback > 0 else []) + inside


def _files_before(table: str, root: Path | None, day: dt.date) -> bool:
    """Whether the latest version of ``table`` has files that may hold rows dated before ``day``."""
    delta = open_table(table, root)
    return delta is not None and bool(data_files(delta, table_schema(table), dt.date.min, day - dt.timedelta(days=1)))
