"""The DuckDB catalog ``risk.duckdb``: every lake table as a DuckDB table, at its latest commit.

The catalog is the front door for queries: it opens in any DuckDB client without an extension
(DuckDB's delta extension would have to be downloaded), it holds its rows itself, so it keeps
working when the data folder moves, and it answers in milliseconds (the lake's Parquet files
are organised for writes by year, the catalog's row groups for reads). The Delta tables stay
the truth: the catalog is derived from them and can be rebuilt at any time
(``risk-pipeline lake catalog``).

``refresh_catalog`` brings every catalog table up to its Delta table's latest version: the
table ``lake_versions`` records the version each one shows; the commits after it name the days
they replaced (``lake.FIRST_DAY_KEY`` / ``LAST_DAY_KEY``), and those days are deleted and
re-read from the latest version. A commit without those keys (another writer) or a catalog
behind the Delta log's retention reloads the whole table. Compaction and vacuum commits change
no data and cost nothing.

Refreshes are serialized across processes by an exclusive ``flock`` on ``.catalog.lock``. The
catalog file is updated in place when no other process has it open; when one does (a user's
DuckDB CLI, say), the refresh writes a copy and renames it over the catalog, so an open client
never blocks a run and keeps reading the consistent snapshot it opened.

A refresh attaches the catalog file to one in-memory DuckDB database kept per process and
detaches it when done (about 1 ms) instead of opening a database on it (about 12 ms, as for any
DuckDB database; 16 refreshes in one day's run): between refreshes the file is closed and
unlocked as before.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

import duckdb
from deltalake import DeltaTable

from risk_pipeline.storage import lake, object_store_catalog
from risk_pipeline.storage.paths import catalog_path, is_object_store, lake_uri
from risk_pipeline.storage.schemas import TABLES, TableSchema

VERSIONS_TABLE = "lake_versions"
_ARROW_TO_DUCKDB = {"date32[day]": "DATE", "string": "VARCHAR", "double": "DOUBLE", "int64": "BIGINT", "bool": "BOOLEAN"}
# commits that change no rows
_NO_DATA_CHANGE = {"OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES", "CREATE TABLE"}


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def duckdb_type(arrow_type) -> str:
    """The DuckDB type of a table column's Arrow type."""
    return _ARROW_TO_DUCKDB[str(arrow_type)]


def _create_sql(spec: TableSchema) -> str:
    columns = ", ".join(f'"{f.name}" {duckdb_type(f.type)}' for f in spec.schema)
    return f'CREATE TABLE "{spec.name}" ({columns})'


def _changed_ranges(delta: DeltaTable, since: int) -> list[tuple[dt.date, dt.date]] | None:
    """The day ranges the commits after version ``since`` replaced; None when one of them cannot
    say (a commit of another writer, or history no longer kept): the table must be reloaded."""
    wanted = delta.version() - since
    history = [entry for entry in delta.history(limit=wanted) if int(entry["version"]) > since]
    if len(history) != wanted:
        return None
    ranges = []
    for entry in history:
        if entry.get("operation") in _NO_DATA_CHANGE:
            continue
        first, last = entry.get(lake.FIRST_DAY_KEY), entry.get(lake.LAST_DAY_KEY)
        if first is None or last is None:
            return None
        ranges.append((dt.date.fromisoformat(first), dt.date.fromisoformat(last)))
    return ranges


def _shown_versions(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    con.execute(
        f'CREATE TABLE IF NOT EXISTS "{VERSIONS_TABLE}" '
        "(table_name VARCHAR PRIMARY KEY, version BIGINT, refreshed_at TIMESTAMP WITH TIME ZONE)"
    )
    return dict(con.execute(f'select table_name, version from "{VERSIONS_TABLE}"').fetchall())


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_name, list(column_name order by column_index) from duckdb_columns() "
        "where not internal and database_name = $db and schema_name = 'main' group by table_name", {"db": _ATTACHED}
    ).fetchall()
    return {name: list(columns) for name, columns in rows}


def _insert(con: duckdb.DuckDBPyConnection, spec: TableSchema, delta: DeltaTable,
            first: dt.date | None = None, last: dt.date | None = None) -> None:
    """Insert the rows of ``delta`` dated ``first``..``last`` (None: all), read by DuckDB straight
    from the data files that may hold them (streamed: no copy of the table in memory)."""
    files = lake.data_files(delta, spec, first, last)
    if not files:
        return
    columns = ", ".join(f'"{c}"' for c in spec.columns)
    sql = f'INSERT INTO "{spec.name}" SELECT {columns} FROM read_parquet($files)'
    params: dict[str, object] = {"files": files}
    if first is not None and last is not None:
        sql += f' WHERE "{spec.day_column}" BETWEEN $first AND $last'
        params.update(first=first, last=last)
    con.execute(sql, params)


def _refresh_table(con: duckdb.DuckDBPyConnection, spec: TableSchema, shown: int | None, exists: bool) -> int | None:
    """Bring one catalog table to its Delta table's latest version; the version it now shows."""
    delta = lake.open_table(spec.name)
    if not exists:
        con.execute(_create_sql(spec))
    if delta is None:
        return None
    latest = delta.version()
    if exists and shown == latest:
        return latest
    ranges = _changed_ranges(delta, shown) if exists and shown is not None else None
    if ranges is None:
        con.execute(f'DELETE FROM "{spec.name}"')
        _insert(con, spec, delta)
    else:
        for first, last in ranges:
            day = f'"{spec.day_column}"'
            con.execute(f'DELETE FROM "{spec.name}" WHERE {day} >= ? AND {day} <= ?', [first, last])
            _insert(con, spec, delta, first, last)
    return latest


def _refresh(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    con.execute("BEGIN TRANSACTION")
    shown = _shown_versions(con)
    columns = _columns(con)
    wanted = set(tables)
    for spec in TABLES.values():
        exists = columns.get(spec.name) == list(spec.columns)
        if exists and spec.name not in wanted:
            continue
        if spec.name in columns and not exists:
            con.execute(f'DROP TABLE "{spec.name}"')
        version = _refresh_table(con, spec, shown.get(spec.name), exists)
        if version is not None and version != shown.get(spec.name):
            con.execute(
                f'INSERT OR REPLACE INTO "{VERSIONS_TABLE}" VALUES (?, ?, now())', [spec.name, version]
            )
    con.execute("COMMIT")
    con.execute(f"CHECKPOINT {_ATTACHED}")


# DuckDB's buffer for the refresh's inserts (its default, 80% of RAM, let the insert of a long run's
# var_backtests add 1.6 GB to the run's peak memory; with 512 MB it spills instead: same rows; the
# whole 30-year catalog rebuilds in 9.3 s instead of 8.9 s with 1 GB, peak 0.80 GB instead of 1.28), and
# no cache of the lake files' bytes in the database kept for the process (lake.NO_FILE_CACHE)
REFRESH_CONFIG = {"memory_limit": "512MB", **lake.NO_FILE_CACHE}
# the name of the catalog file in the refreshing database while attached
_ATTACHED = "risk_catalog"


def _refresher(path: Path) -> duckdb.DuckDBPyConnection:
    """A new connection (``cursor``) to the process's database that refreshes the catalog ``path``
    (``lake.kept_database`` with ``REFRESH_CONFIG``). Inserts it spills go to ``<catalog>.tmp``,
    as those of a database opened on the file: a database per catalog, its spill folder set when
    it is created, because DuckDB refuses to set the folder again (even to the same path) once
    something was spilled to it."""
    return lake.kept_database({**REFRESH_CONFIG, "temp_directory": f"{path}.tmp"}).cursor()


def _attach(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Make the catalog file ``path`` the default database of ``con``; ``duckdb.IOException`` when
    another process has it open."""
    con.execute(f"ATTACH $path AS {_ATTACHED}", {"path": str(path)})
    con.execute(f"USE {_ATTACHED}")


@contextmanager
def _detaching(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Detach the catalog file when the block ends (closing and unlocking it), after rolling back
    a transaction a failure left open."""
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):  # no transaction open
            con.execute("ROLLBACK")
        raise
    finally:
        con.execute("USE memory")
        con.execute(f"DETACH {_ATTACHED}")


def refresh_catalog(tables: Iterable[str] | None = None) -> Path | None:
    """Bring ``tables`` (default: every table) of ``risk.duckdb`` to the latest committed version
    of their Delta tables; returns the catalog's path. A writer refreshes the table it committed
    to, which also catches up any commit an earlier, killed writer left unrefreshed. A lake on
    object storage has no catalog file (``object_store_catalog``): nothing to do, None."""
    if is_object_store(lake_uri()):
        return None
    path = catalog_path()
    tables = list(TABLES) if tables is None else list(tables)
    with _exclusive(path.parent / ".catalog.lock"):
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)
        with closing(_refresher(path)) as con:
            try:
                _attach(con, path)
            except (duckdb.IOException, duckdb.ConnectionException):
                # another client has the catalog open: refresh a copy and rename it into place
                copy = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
                shutil.copyfile(path, copy)
                _attach(con, copy)
                with _detaching(con):
                    _refresh(con, tables)
                os.replace(copy, path)
                return path
            with _detaching(con):
                _refresh(con, tables)
    return path


def connect(read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection to the catalog (read-only by default, so it never blocks a run); for a lake on
    object storage, ``object_store_catalog.connect()``."""
    if is_object_store(lake_uri()):
        return object_store_catalog.connect()
    return duckdb.connect(str(catalog_path()), read_only=read_only)
