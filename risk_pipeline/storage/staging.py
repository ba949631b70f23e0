"""A table's rows written by many processes, committed by one.

A heavy asset's tasks (``risk_pipeline/compute.py``), each computing a chunk of books, write
their rows as Parquet files into the table's folder (``<table>/year=<year>/part-<uuid>.parquet``,
one file per calendar year of the chunk) with :func:`stage`, and hand back only what the commit
needs (:class:`Staged`: each file's path, size, row count and statistics, the days holding rows,
the rows of the chunk's last day for the run's metadata). The run's process then commits every
chunk's files in ONE Delta transaction (:func:`commit_staged`) that also removes the stored rows
the run replaces: the same (day, key) replacement as ``lake.write_days``, so no process ever
holds more than one chunk of a table.

A stored file holding rows of the days and keys replaced is removed in that transaction; a file
holding some of them and other rows is rewritten without them first (one file at a time). A
staged file is invisible until the commit names it: readers read the files of the Delta log
only. The files of a run killed before its commit (or of a commit attempt that lost a race and
was retried) are never committed, and are deleted by ``risk-pipeline lake maintain``'s vacuum,
which removes every file the log does not name once it is older than the retention
(``storage/maintenance.py``).
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import math
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema
from deltalake.exceptions import DeltaError
from deltalake.transaction import AddAction, CommitProperties, RemoveAction, create_table_with_add_actions

from risk_pipeline.storage import lake
from risk_pipeline.storage.paths import is_object_store
from risk_pipeline.storage.schemas import TableSchema, table_schema


@dataclass(frozen=True)
class StagedFile:
    """One written, not yet committed Parquet file of a table (``path`` relative to the table's root)."""

    path: str
    size: int
    year: int
    rows: int
    stats: str  # the Delta log's statistics of the file (JSON)


@dataclass(frozen=True)
class Staged:
    """What a task wrote of a table: its files, its row count, the rows of each day holding some and
    the rows of its last day (for the run's metadata: each partition's rows, previews, latest figures)."""

    table: str
    files: tuple[StagedFile, ...]
    rows: int
    day_rows: dict[dt.date, int]
    latest: pd.DataFrame


def _filesystem(uri: str) -> tuple[pa_fs.FileSystem, str]:
    """The Arrow file system of the table at ``uri`` and the prefix of a path relative to its root."""
    if is_object_store(uri):
        from deltalake.fs import DeltaStorageHandler

        return pa_fs.PyFileSystem(DeltaStorageHandler(uri)), ""
    return pa_fs.LocalFileSystem(), uri.rstrip("/") + "/"


def _stats(part: pa.Table) -> str:
    """The Delta statistics of a file of ``part``'s rows: its row count, and each column's null count
    and least and greatest value (NaN left out), as delta-rs writes them. Every column with a value
    needs its bounds: delta-rs' Arrow dataset (a lake on object storage) turns missing bounds into a
    guarantee that no row matches a filter on that column."""
    low, high = {}, {}
    for name in part.column_names:
        bounds = pc.min_max(part[name])
        if not bounds["min"].is_valid:
            continue  # every value null (or NaN): no bounds
        least, greatest = bounds["min"].as_py(), bounds["max"].as_py()
        if isinstance(least, float) and not (math.isfinite(least) and math.isfinite(greatest)):
            continue
        low[name], high[name] = (v.isoformat() if isinstance(v, dt.date) else v for v in (least, greatest))
    return json.dumps({"numRecords": part.num_rows, "minValues": low, "maxValues": high,
                       "nullCount": {name: part[name].null_count for name in part.column_names}})


def _write_file(arrow: pa.Table, spec: TableSchema, year: int, uri: str) -> StagedFile:
    """``arrow`` (rows of ``year``) as a new Parquet file in the table's ``year=`` folder."""
    fs, prefix = _filesystem(uri)
    path = f"{lake.PARTITION_COLUMN}={year}/part-{uuid.uuid4().hex}.zstd.parquet"
    if prefix:  # a folder (an object store has no folders to create)
        fs.create_dir(prefix + path.rsplit("/", 1)[0], recursive=True)
    try:
        pq.write_table(arrow, prefix + path, filesystem=fs, compression="zstd", row_group_size=lake.ROW_GROUP_ROWS,
                       use_dictionary=lake.dictionary_columns(arrow.schema))
    except OSError as exc:
        if lake.DISK_FULL in str(exc):
            raise OSError(errno.ENOSPC, lake.DISK_FULL, uri) from exc
        raise
    size = fs.get_file_info(prefix + path).size
    return StagedFile(path=path, size=size, year=year, rows=arrow.num_rows, stats=_stats(arrow))


def _by_year(arrow: pa.Table, spec: TableSchema) -> Iterable[tuple[int, pa.Table]]:
    """The rows of each year: slices (no copies) of ``arrow``, which ``lake.checked_arrow`` put in date order."""
    years = pc.year(arrow[spec.day_column]).to_numpy(zero_copy_only=False)
    held = np.unique(years)
    bounds = np.searchsorted(years, np.append(held, held[-1] + 1) if held.size else held)
    for year, first, after in zip(held, bounds[:-1], bounds[1:]):
        yield int(year), arrow.slice(int(first), int(after - first))


def stage(table: str, frame: pd.DataFrame, days: Iterable[dt.date], keys: Iterable[str] | None,
          root: Path | str | None = None) -> Staged:
    """Write ``frame`` (rows of ``table`` on ``days``, of ``keys``: checked as ``lake.write_days``
    checks them) as uncommitted Parquet files of the table, one per year, for :func:`commit_staged`."""
    spec = table_schema(table)
    arrow, _, _, _ = lake.checked_arrow(table, frame, days, keys)
    uri = lake.table_uri(table, root)
    files = tuple(_write_file(part, spec, year, uri) for year, part in _by_year(arrow, spec))
    last = frame[spec.day_column].max() if len(frame) else None
    latest = frame.loc[frame[spec.day_column] == last] if last is not None else frame.iloc[:0]
    staged = Staged(table=table, files=files, rows=arrow.num_rows, day_rows=lake.day_counts(frame[spec.day_column]),
                    latest=latest.reset_index(drop=True))
    del arrow
    lake.release_freed_memory()
    return staged


def _replaced_rows(spec: TableSchema, day_list: Sequence[dt.date], key_list: Sequence[str] | None) -> pc.Expression:
    """The rows a commit of ``day_list`` and ``key_list`` replaces."""
    day = pc.field(spec.day_column)
    selected = pc.is_in(day, pa.array(day_list, pa.date32()))
    if key_list is not None:
        selected = selected & pc.is_in(pc.field(spec.key_column), pa.array(list(key_list), pa.string()))
    return selected


def _replacing(delta: DeltaTable, spec: TableSchema, day_list: Sequence[dt.date], key_list: Sequence[str] | None,
               uri: str) -> list[AddAction | RemoveAction]:
    """The actions that take the rows of ``day_list`` and ``key_list`` out of the loaded version: a
    remove for every file holding some of them, and an add of the file rewritten without them for
    a file that also holds other rows (read and written one file at a time)."""
    files = pa.table(delta.get_add_actions(flatten=True))
    first, last = day_list[0], day_list[-1]
    low, high = f"min.{spec.day_column}", f"max.{spec.day_column}"
    if low in files.column_names:  # files without statistics may hold any day
        may = pc.and_(pc.less_equal(files[low], pa.scalar(last, pa.date32())),
                      pc.greater_equal(files[high], pa.scalar(first, pa.date32()))).fill_null(True)
    else:
        may = pa.array(np.ones(files.num_rows, dtype=bool))
    fs, prefix = _filesystem(uri)
    replaced = _replaced_rows(spec, day_list, key_list)
    now = int(time.time() * 1000)
    actions: list[AddAction | RemoveAction] = []
    for row in files.filter(may).to_pylist():
        path, year = row["path"], row[f"partition.{lake.PARTITION_COLUMN}"]
        stored = pq.read_table(prefix + path, filesystem=fs).select(spec.columns).cast(spec.schema)
        if not stored.filter(replaced).num_rows:
            continue
        kept = stored.filter(~replaced)
        actions.append(RemoveAction(path=path, data_change=True, deletion_timestamp=now, size=row["size_bytes"],
                                    partition_values={lake.PARTITION_COLUMN: str(year)}))
        if kept.num_rows:
            actions.append(_add(_write_file(kept, spec, int(year), uri), now))
        del stored, kept
    return actions


def _add(file: StagedFile, now: int) -> AddAction:
    return AddAction(path=file.path, size=file.size, partition_values={lake.PARTITION_COLUMN: str(file.year)},
                     modification_time=now, data_change=True, stats=file.stats)


def commit_staged(table: str, staged: Sequence[Staged], days: Iterable[dt.date], keys: Iterable[str] | None = None,
                  root: Path | str | None = None) -> lake.Commit:
    """Replace the stored rows of ``table`` for every day in ``days`` and every key in ``keys`` with
    the rows of the ``staged`` files, as one Delta commit (retried from the new state when a
    concurrent writer committed first), as ``lake.write_days`` does with a frame."""
    spec = table_schema(table)
    day_list = sorted(set(days))
    if not day_list:
        raise ValueError(f"table {table!r}: no days to write")
    key_list = None if keys is None else sorted(set(keys))
    metadata = lake.commit_metadata(day_list, key_list)
    uri = lake.table_uri(table, root)
    now = int(time.time() * 1000)
    adds = [_add(file, now) for chunk in staged for file in chunk.files]
    schema = Schema.from_arrow(spec.schema.append(pa.field(lake.PARTITION_COLUMN, pa.int32())))
    properties = CommitProperties(custom_metadata=metadata)

    def attempt(delta: DeltaTable | None) -> None:
        if delta is None:
            create_table_with_add_actions(uri, schema, adds, mode="error", partition_by=[lake.PARTITION_COLUMN],
                                          configuration=lake.TABLE_CONFIGURATION, commit_properties=properties)
        else:
            delta.create_write_transaction([*_replacing(delta, spec, day_list, key_list, uri), *adds], mode="append",
                                           schema=schema, partition_by=[lake.PARTITION_COLUMN],
                                           commit_properties=properties)

    try:
        lake.commit_with_retries(table, root, attempt)
    except DeltaError as exc:
        if lake.DISK_FULL in str(exc):
            raise OSError(errno.ENOSPC, lake.DISK_FULL, uri) from exc
        raise
    return lake.Commit(table=table, version=lake.committed_version(table, root, metadata),
                       rows=sum(chunk.rows for chunk in staged),
                       days_with_rows=len(frozenset().union(*(chunk.day_rows for chunk in staged))))
