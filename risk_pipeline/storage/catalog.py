"""The DuckDB catalog ``risk.duckdb``: one view per table over the lake's Parquet files.

The catalog holds no data, only views, so parallel runs never contend for DuckDB's single
writer while they write data: they write Parquet files. Refreshing the views is the only
catalog write; it is serialized across processes by an exclusive ``flock`` on
``.catalog.lock`` and retried while another process (a user's open DuckDB CLI, say) holds
DuckDB's own lock. A glob view sees new day files at query time, so a refresh is needed only
when a table gets its first file.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from risk_pipeline.storage.paths import catalog_path, lake_dir
from risk_pipeline.storage.schemas import TABLES, TableSchema

_ARROW_TO_DUCKDB = {"date32[day]": "DATE", "string": "VARCHAR", "double": "DOUBLE", "int64": "BIGINT", "bool": "BOOLEAN"}


def _glob(spec: TableSchema, lake: Path) -> str:
    return (lake / spec.name / "date=*" / "*.parquet").as_posix().replace("'", "''")


def _view_sql(spec: TableSchema, lake: Path, has_files: bool) -> str:
    columns = ", ".join(f'"{c}"' for c in spec.columns)
    if has_files:
        glob = _glob(spec, lake)
        return (
            f'CREATE OR REPLACE VIEW "{spec.name}" AS SELECT {columns} '
            f"FROM read_parquet('{glob}', hive_partitioning = false, union_by_name = true)"
        )
    typed_nulls = ", ".join(
        f'CAST(NULL AS {_ARROW_TO_DUCKDB[str(f.type)]}) AS "{f.name}"' for f in spec.schema
    )
    return f'CREATE OR REPLACE VIEW "{spec.name}" AS SELECT {typed_nulls} WHERE false'


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _has_files(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    with os.scandir(folder) as days:
        return any(d.name.startswith("date=") and any(Path(d.path).glob("*.parquet")) for d in days)


def _current_views(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, list[str]]]:
    """Each existing view's SQL and column names."""
    sql = dict(con.execute("select view_name, sql from duckdb_views() where not internal").fetchall())
    columns = dict(con.execute(
        "select table_name, list(column_name order by column_index) from duckdb_columns() "
        "where not internal group by table_name"
    ).fetchall())
    return {name: (text, list(columns.get(name, []))) for name, text in sql.items()}


def _up_to_date(current: tuple[str, list[str]] | None, spec: TableSchema, lake: Path, has_files: bool) -> bool:
    """A view needs no refresh when it has the table's columns and already reads the table's glob
    (new day files show up at query time) or, for a table still without files, is the empty view.
    Re-creating a glob view makes DuckDB read every file's schema: seconds for decades of days."""
    if current is None:
        return False
    text, columns = current
    if columns != list(spec.columns):
        return False
    reads_glob = f"'{_glob(spec, lake)}'" in text
    return reads_glob if has_files else "read_parquet" not in text


def refresh_catalog(attempts: int = 20, pause_s: float = 0.5) -> Path:
    """Create or replace every table's view in ``risk.duckdb``; returns the catalog's path."""
    path = catalog_path()
    lake = lake_dir()
    with _exclusive(path.parent / ".catalog.lock"):
        for attempt in range(attempts):
            try:
                with duckdb.connect(str(path)) as con:
                    current = _current_views(con)
                    for spec in TABLES.values():
                        has_files = _has_files(lake / spec.name)
                        if not _up_to_date(current.get(spec.name), spec, lake, has_files):
                            con.execute(_view_sql(spec, lake, has_files))
                return path
            except duckdb.IOException:
                if attempt == attempts - 1:
                    raise
                time.sleep(pause_s)
    return path


def connect(read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection to the catalog (read-only by default, so it never blocks a run)."""
    return duckdb.connect(str(catalog_path()), read_only=read_only)
