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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from risk_pipeline.storage.paths import catalog_path, lake_dir
from risk_pipeline.storage.schemas import TABLES, TableSchema

_ARROW_TO_DUCKDB = {"date32[day]": "DATE", "string": "VARCHAR", "double": "DOUBLE", "int64": "BIGINT", "bool": "BOOLEAN"}


def _view_sql(spec: TableSchema, lake: Path) -> str:
    folder = lake / spec.name
    columns = ", ".join(f'"{c}"' for c in spec.columns)
    if any(folder.glob("date=*/*.parquet")):
        glob = (folder / "date=*" / "*.parquet").as_posix().replace("'", "''")
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


def refresh_catalog(attempts: int = 20, pause_s: float = 0.5) -> Path:
    """Create or replace every table's view in ``risk.duckdb``; returns the catalog's path."""
    path = catalog_path()
    lake = lake_dir()
    with _exclusive(path.parent / ".catalog.lock"):
        for attempt in range(attempts):
            try:
                with duckdb.connect(str(path)) as con:
                    for spec in TABLES.values():
                        con.execute(_view_sql(spec, lake))
                return path
            except duckdb.IOException:
                if attempt == attempts - 1:
                    raise
                time.sleep(pause_s)
    return path


def connect(read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection to the catalog (read-only by default, so it never blocks a run)."""
    return duckdb.connect(str(catalog_path()), read_only=read_only)
