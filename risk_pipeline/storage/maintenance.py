"""Keeping the lake small and its history readable: compaction, vacuum and time travel.

- **Compaction** (``optimize.compact``) rewrites each year's small files, one per daily run, into
  files of up to 256 MB; a Delta commit that changes no data (the catalog's views then name
  the new files; a reader holding the old catalog still reads the old ones, see Vacuum).
- **Vacuum** deletes the data files no version younger than ``retention_days`` needs (the
  files replaced by later commits or compaction, and those of killed writers), then the log
  entries older than that: any version committed within the retention period stays
  readable, older ones are not. A file is deleted only ``retention_days`` after the commit that
  removed it, so a reader of the DuckDB catalog keeps its snapshot that long after a newer
  catalog replaced it.
- **Time travel**: :func:`table_history` lists a table's commits, :func:`snapshot` reads it as it
  was at a version or a timestamp (``risk-pipeline lake history | snapshot``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
from deltalake.exceptions import DeltaError

from risk_pipeline.storage import lake
from risk_pipeline.storage.schemas import TABLES

TARGET_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Maintained:
    """One table's maintenance: data files before and after, files vacuum deleted, the version."""

    table: str
    files_before: int
    files_after: int
    files_deleted: int
    version: int


def maintain(table: str, retention_days: int, root: Path | None = None) -> Maintained | None:
    """Compact ``table``, then vacuum what no version of the last ``retention_days`` days reads (and
    the files older than that no version names); None when the table was never written."""
    if retention_days < 0:
        raise ValueError(f"retention_days must be >= 0, got {retention_days}")
    delta = lake.open_table(table, root)
    if delta is None:
        return None
    before = len(delta.file_uris())
    delta.optimize.compact(target_size=TARGET_FILE_BYTES,
                           writer_properties=lake.writer_properties(TABLES[table].schema))
    # full: also the files no commit ever named (a killed run's staged files, storage/staging.py)
    deleted = delta.vacuum(retention_hours=24 * retention_days, enforce_retention_duration=False, dry_run=False,
                           full=True)
    if delta.metadata().configuration != {**delta.metadata().configuration, **lake.TABLE_CONFIGURATION}:
        delta.alter.set_table_properties(lake.TABLE_CONFIGURATION)  # a table created before the setting
    delta.create_checkpoint()  # readers start from here; the log before it can then be cleaned up
    delta.cleanup_metadata()
    return Maintained(table, before, len(delta.file_uris()), len(deleted), delta.version())


def maintain_lake(retention_days: int, root: Path | None = None) -> list[Maintained]:
    """:func:`maintain` for every table of the lake."""
    done = (maintain(name, retention_days, root) for name in TABLES)
    return [m for m in done if m is not None]


HISTORY_COLUMNS = ["version", "committed_at", "operation", "first_day", "last_day", "keys", "rows_added",
                   "rows_deleted", "files_added", "files_removed"]


def table_history(table: str, limit: int | None = None, root: Path | None = None) -> pd.DataFrame:
    """One row per commit of ``table``, newest first (columns ``HISTORY_COLUMNS``)."""
    delta = lake.open_table(table, root)
    if delta is None:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    rows = []
    for entry in delta.history(limit=limit):
        metrics = entry.get("operationMetrics") or {}
        rows.append({
            "version": int(entry["version"]),
            "committed_at": pd.Timestamp(entry["timestamp"], unit="ms", tz="UTC"),
            "operation": entry.get("operation"),
            "first_day": entry.get(lake.FIRST_DAY_KEY),
            "last_day": entry.get(lake.LAST_DAY_KEY),
            "keys": entry.get(lake.KEYS_KEY),  # the portfolios, symbols or books replaced (JSON list)
            "rows_added": metrics.get("num_added_rows"),
            "rows_deleted": metrics.get("num_deleted_rows"),
            "files_added": metrics.get("num_added_files"),
            "files_removed": metrics.get("num_removed_files"),
        })
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def snapshot(table: str, version: int | None = None, at: dt.datetime | None = None,
             first: dt.date | None = None, last: dt.date | None = None, root: Path | None = None) -> pa.Table:
    """``table`` as it was at ``version`` or at timestamp ``at`` (the latest commit at or before
    it), optionally only the days ``first``..``last``; an error names a version no longer kept."""
    if (version is None) == (at is None):
        raise ValueError("give exactly one of version and at")
    if (first is None) != (last is None):
        raise ValueError("give both first and last day, or neither")
    history = table_history(table, root=root)
    if not len(history):
        raise ValueError(f"table {table!r} has never been written")
    if at is not None:
        stamp = pd.Timestamp(at).tz_localize("UTC") if pd.Timestamp(at).tzinfo is None else pd.Timestamp(at)
        earlier = history.loc[history["committed_at"] <= stamp, "version"]
        if not len(earlier):
            raise ValueError(f"table {table!r} has no version at {stamp}: its first kept commit is "
                             f"{history['committed_at'].min()}")
        version = int(earlier.max())
    try:
        return lake.read_range(table, first, last, delta=lake.open_table(table, root, version=version))
    except (DeltaError, OSError, duckdb.IOException) as exc:  # not in the log any more, or its files vacuumed
        raise ValueError(f"table {table!r} has no readable version {version} (log kept for versions "
                         f"{history['version'].min()}..{history['version'].max()}): {exc}") from None
