"""What a reader of the catalog sees, checked against the Delta tables (for test_catalog_readers.py and
test_catalog_faults.py).

A reader's observation of the catalog is, per table, the version ``lake_versions`` says its view shows
(None: never written), its number of rows and the sum of the hashes of its rows. ``lake_fingerprint``
computes the same of the Delta table at that version read by ``deltalake`` itself (not through the
catalog's views, nor DuckDB's Parquet reader): equal for every table means the reader saw exactly the
versions the catalog names, no row of another version and no row missing.

Run as a module, it is a reader in its own process, appending one JSON line per observation (or per
failed open or query) to a file until a stop file exists; it then makes one last observation, begun
after the stop:

    python -m risk_pipeline_tests.catalog_snapshots held|poll <catalog> <out.jsonl> <stop file>

``held`` keeps one read-only connection opened at its start and queries it in a loop; ``poll`` opens the
catalog read-only every 0.2 s, observes and closes it.
"""

from __future__ import annotations

import json
import sys
import time
from functools import cache
from pathlib import Path

import duckdb
from deltalake import DeltaTable

from risk_pipeline.storage.catalog import duckdb_type
from risk_pipeline.storage.schemas import TABLES

Observation = dict[str, list]  # table -> [version or None, rows, sum of row hashes as text or None]


def _digest(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str | None]:
    rows, digest = con.execute(f"select count(*), sum(hash(t)) from {relation} t").fetchone()
    return rows, None if digest is None else str(digest)


def observe(con: duckdb.DuckDBPyConnection) -> Observation:
    """Every table of the catalog ``con`` is connected to, as described in the module docstring."""
    versions = dict(con.execute("select table_name, version from lake_versions").fetchall())
    return {name: [versions.get(name), *_digest(con, f'"{name}"')] for name in TABLES}


@cache
def lake_fingerprint(lake_dir: str, table: str, version: int | None) -> list:
    """[version, rows, sum of row hashes] of the Delta table ``table`` at ``version``, read by deltalake."""
    if version is None:
        return [None, 0, None]
    spec = TABLES[table]
    rows = DeltaTable(str(Path(lake_dir) / table), version=version).to_pyarrow_table(columns=list(spec.columns))
    with duckdb.connect() as con:
        con.register("version_rows", rows)
        return [version, *_digest(con, "version_rows")]


def mismatches(observation: Observation, lake_dir: Path) -> list[str]:
    """The tables whose rows in ``observation`` are not those of the Delta version it names."""
    return [f"{name}: catalog {seen} != lake {lake_fingerprint(str(lake_dir), name, seen[0])}"
            for name, seen in observation.items() if seen != lake_fingerprint(str(lake_dir), name, seen[0])]


def wrong_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The views whose columns (names, order, types) are not the table's of schemas.py."""
    wrong = []
    for name, spec in TABLES.items():
        shown = [(row[0], row[1]) for row in con.execute(f'describe "{name}"').fetchall()]
        wanted = [(f.name, duckdb_type(f.type)) for f in spec.schema]
        if shown != wanted:
            wrong.append(f"{name}: {shown} != {wanted}")
    return wrong


def _read(mode: str, catalog: str, out: Path, stop: Path) -> None:
    held = duckdb.connect(catalog, read_only=True) if mode == "held" else None
    with out.open("a") as log:
        while True:
            stopping = stop.exists()
            began = time.time()
            try:
                con = held or duckdb.connect(catalog, read_only=True)
                try:
                    record = {"at": began, "seen": observe(con)}
                finally:
                    if con is not held:
                        con.close()
            except duckdb.Error as exc:
                record = {"at": began, "error": f"{type(exc).__name__}: {exc}"}
            log.write(json.dumps(record) + "\n")
            log.flush()
            if stopping:
                return
            time.sleep(0.2 if mode == "poll" else 0.05)


if __name__ == "__main__":
    _read(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
