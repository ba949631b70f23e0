"""The DuckDB catalog ``risk.duckdb``: a view of every lake table at its latest commit.

The catalog is the front door for queries: it opens in any DuckDB client without an extension
(DuckDB's delta extension would have to be downloaded) and holds no rows. Each table is a view
selecting the table's columns, in ``schemas.py``'s order and types, from ``read_parquet`` of the
data files of the Delta table's latest committed version (the add actions of its log: reading
them as Parquet is reading that version, since our tables use no reader feature); a table with no
file yet is a view of no rows with the same columns. ``lake_versions`` (``table_name``,
``version``, ``refreshed_at``) records the version each view shows. The Delta tables stay the
truth: the catalog is derived from them and rebuilt at any time (``risk-pipeline lake catalog``),
which is also what to do after the data folder moved, since the views name the files by their
absolute paths.

``refresh_catalog`` writes a whole new catalog after every commit: a new file in the same folder
(its views built from every table's latest version), checkpointed and closed (no WAL), synced to
disk, and renamed over ``risk.duckdb`` in one ``os.replace``. When the catalog is still the file
a refresh wrote (untouched since: the record ``.risk.duckdb.views`` beside it names the file's
identity and a digest of each view's SQL), the new file is a copy of it in which only the views
whose SQL changed (the tables committed since) are replaced: the same views, without binding the
others again (a day's run refreshes about 26 times, from the processes of its lanes in turn: the
record is on disk, not in one process). No reader is ever locked out or
slowed: a reader that opened the old file keeps reading the old snapshot (its files are deleted
by vacuum only ``retention_days`` after a later commit replaced them), a new one opens the new
file. A ``risk.duckdb.wal`` beside the catalog (left by a client that opened it read-write, or by
the catalog of earlier versions, which was updated in place) is deleted before the rename, so no
later open replays it against a file it does not belong to. Refreshes are serialized across
processes by an exclusive ``flock`` on ``.catalog.lock``; what a killed refresh left (its
temporary file and that file's WAL, a record not renamed into place) is deleted by the next one; a
record that does not name the catalog's identity (a refresh killed between the two renames, a
client that wrote into the catalog) is not used: the next refresh writes a new file.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path

import duckdb

from risk_pipeline.file_version import file_version
from risk_pipeline.storage import lake, object_store_catalog
from risk_pipeline.storage.paths import catalog_path, is_object_store, lake_uri
from risk_pipeline.storage.schemas import TABLES, TableSchema

VERSIONS_TABLE = "lake_versions"
_ARROW_TO_DUCKDB = {"date32[day]": "DATE", "string": "VARCHAR", "double": "DOUBLE", "int64": "BIGINT", "bool": "BOOLEAN"}


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


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def view_sql(spec: TableSchema, files: Sequence[str], database: str) -> str:
    """The ``CREATE VIEW`` in ``database`` of table ``spec`` over the data files ``files`` (the
    URIs of one version's add actions): the table's columns in its order and types, not the
    partition column of the folder names; with no file, a view of no rows with the same columns."""
    view = f'{database}."{spec.name}"'
    if not files:
        columns = ", ".join(f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in spec.schema)
        return f"CREATE VIEW {view} AS SELECT {columns} WHERE false"
    columns = ", ".join(f'CAST("{f.name}" AS {duckdb_type(f.type)}) AS "{f.name}"' for f in spec.schema)
    listed = ", ".join(_sql_text(uri) for uri in files)
    return f"CREATE VIEW {view} AS SELECT {columns} FROM read_parquet([{listed}], hive_partitioning = false)"


# the name of the new catalog file in the process's DuckDB database while it is written
_WRITTEN = "risk_catalog"


# per table, the version (``lake.version_key``) whose view SQL was made last and that SQL
_VIEW_SQL: dict[str, tuple[tuple, str]] = {}


def _views() -> dict[str, tuple[str, int | None]]:
    """Each table's ``CREATE VIEW`` of its latest version in the new catalog, and that version
    (None: never written). A table's SQL is made again only when its version changed (the list of
    its data files is the longest part of a refresh that rewrites no view)."""
    views = {}
    for spec in TABLES.values():
        delta = lake.open_table(spec.name)
        if delta is None:
            views[spec.name] = (view_sql(spec, [], _WRITTEN), None)
            continue
        key = lake.version_key(lake.table_uri(spec.name), delta)
        made = _VIEW_SQL.get(spec.name)
        if made is None or made[0] != key:
            made = _VIEW_SQL[spec.name] = (key, view_sql(spec, lake.data_files(delta, spec), _WRITTEN))
        views[spec.name] = (made[1], delta.version())
    return views


def _digest(sql: str) -> str:
    """What tells a view's SQL from another's in the record beside the catalog (its SHA-256)."""
    return hashlib.sha256(sql.encode()).hexdigest()


def _write(path: Path, views: dict[str, tuple[str, int | None]], digests: dict[str, str],
           previous: dict[str, str] | None) -> None:
    """Write at ``path`` a catalog of ``views`` (``digests``: their SQL's), in one transaction, checkpointed
    and closed. With ``previous`` (the digests of the views of the catalog copied at ``path``), only the views
    whose digest differs are replaced and ``lake_versions`` is rewritten; without, ``path`` is a new file. The file is attached
    to the process's DuckDB database (``lake.reader``) rather than opened as a database of its own:
    about 1 ms instead of 12 (much more on a loaded machine), and a day's run refreshes the catalog
    about 26 times."""
    refreshed_at = dt.datetime.now(dt.UTC)
    with closing(lake.reader()) as con:
        # a commit larger than the threshold is checkpointed into the file instead of written to a WAL first:
        # at 0 every commit is, so the transaction's views are written (and synced) once, not twice
        con.execute("SET checkpoint_threshold = '0b'")
        con.execute(f"ATTACH $path AS {_WRITTEN}", {"path": str(path)})
        try:
            con.execute("BEGIN TRANSACTION")
            if previous is None:
                con.execute(f'CREATE TABLE {_WRITTEN}."{VERSIONS_TABLE}" '
                            "(table_name VARCHAR PRIMARY KEY, version BIGINT, refreshed_at TIMESTAMP WITH TIME ZONE)")
            else:
                con.execute(f'DELETE FROM {_WRITTEN}."{VERSIONS_TABLE}"')
                for name in set(previous) - set(views):
                    con.execute(f'DROP VIEW {_WRITTEN}."{name}"')
            for name, (sql, _) in views.items():
                if previous is not None and previous.get(name) == digests[name]:
                    continue
                if previous is not None and name in previous:
                    con.execute(f'DROP VIEW {_WRITTEN}."{name}"')
                con.execute(sql)
            versions = {name: version for name, (_, version) in views.items() if version is not None}
            con.execute(f'INSERT INTO {_WRITTEN}."{VERSIONS_TABLE}" SELECT unnest($names), unnest($versions), $at',
                        {"names": list(versions), "versions": list(versions.values()), "at": refreshed_at})
            con.execute("COMMIT")
            con.execute(f"CHECKPOINT {_WRITTEN}")
        except BaseException:
            with suppress(duckdb.Error):  # no transaction open any more
                con.execute("ROLLBACK")
            raise
        finally:
            con.execute(f"DETACH {_WRITTEN}")


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        return file_version(path)
    except FileNotFoundError:
        return None


def _record_path(path: Path) -> Path:
    """The record of the catalog ``path``: the identity of the file the last refresh wrote and the
    digests of its views."""
    return path.with_name(f".{path.name}.views")


def _views_of_catalog(path: Path) -> dict[str, str] | None:
    """The digests of the views of the catalog at ``path`` if it is still the file a refresh wrote,
    untouched (its identity (inode, size, modification time) the record's, no WAL beside it); else
    None."""
    try:
        record = json.loads(_record_path(path).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if path.with_name(f"{path.name}.wal").exists() or list(record.get("identity", ())) != list(_identity(path) or ()):
        return None
    return record.get("views")


def _write_record(path: Path, digests: dict[str, str]) -> None:
    """Record the identity of the catalog just renamed into place at ``path`` and its views' ``digests``,
    through a temporary file (removed as a refresh's leftover if killed) renamed over the record."""
    record = {"identity": _identity(path), "views": digests}
    written = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.views")
    written.write_text(json.dumps(record))
    os.replace(written, _record_path(path))


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _temporary_files(path: Path) -> list[Path]:
    """The files of refreshes of the catalog ``path``: its temporary copies and their WALs."""
    return sorted(path.parent.glob(f".{path.name}.*.tmp*"))


def refresh_catalog() -> Path | None:
    """Rewrite ``risk.duckdb`` with a view of the latest committed version of every table, as a
    new file renamed into place; returns the catalog's path. Called after every commit, it also
    catches up any commit an earlier, killed writer left unrefreshed. A lake on object storage has
    no catalog file (``object_store_catalog``): nothing to do, None."""
    if is_object_store(lake_uri()):
        return None
    path = catalog_path()
    with _exclusive(path.parent / ".catalog.lock"):
        for leftover in _temporary_files(path):  # of a killed refresh
            leftover.unlink(missing_ok=True)
        written = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        views = _views()
        digests = {name: _digest(sql) for name, (sql, _) in views.items()}
        previous = _views_of_catalog(path)
        try:
            if previous is not None:  # a copy of it with the views that changed replaced
                shutil.copyfile(path, written)
            _write(written, views, digests, previous)
            _fsync(written)
            # a WAL beside the catalog belongs to the file being replaced (or to none): the new file has
            # none, and DuckDB would replay this one into it at the next open, or refuse to open it
            path.with_name(f"{path.name}.wal").unlink(missing_ok=True)
            os.replace(written, path)
            _fsync(path.parent)
            _write_record(path, digests)
        finally:
            for leftover in (written, written.with_name(f"{written.name}.wal")):
                leftover.unlink(missing_ok=True)
    return path


def connect() -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog, as every reader's should be: the catalog is replaced
    by every refresh, so nothing written into it would be kept; for a lake on object storage,
    ``object_store_catalog.connect()``."""
    if is_object_store(lake_uri()):
        return object_store_catalog.connect()
    con = duckdb.connect(str(catalog_path()), read_only=True)
    con.execute(lake.QUIET)
    return con
