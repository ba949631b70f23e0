"""The catalog of a lake on object storage (``RISK_PIPELINE_LAKE_URI=s3://...``, docs/deployment.md).

The catalog of a lake in a folder is a DuckDB file (``catalog.py``) read by any DuckDB client.
Over a bucket, DuckDB reads the files only with its ``httpfs`` extension, which it downloads at
first use (no machine here can, and a team may not want a download at run time either). So no
catalog file is kept: :func:`connect` opens an in-memory DuckDB database in which every table is
a view of the Arrow dataset of its latest Delta version, whose files delta-rs reads with the
lake's storage options, and ``lake_versions`` lists those versions. A refresh has nothing to do.

What this costs: each ``connect`` reads every table's Delta log (one listing and the commits
since the last checkpoint per table), and each query reads the Parquet files it needs from the
object store (DuckDB hands its filters on columns to the Arrow scan, which skips row groups by
their statistics, not whole years by the partition folders). The views live in that Python
connection only: the DuckDB command-line client cannot open them. A client that must, installs
``httpfs`` and DuckDB's ``delta`` extension and reads ``delta_scan('s3://...')`` itself.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from risk_pipeline.storage import lake
from risk_pipeline.storage.schemas import TABLES

VERSIONS_TABLE = "lake_versions"


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with every table of the lake as a view of its latest version
    (a table never written: an empty table with its columns) and ``lake_versions``."""
    con = duckdb.connect()
    con.execute(lake.QUIET)
    con.execute(f'CREATE TABLE "{VERSIONS_TABLE}" '
                "(table_name VARCHAR PRIMARY KEY, version BIGINT, refreshed_at TIMESTAMP WITH TIME ZONE)")
    now = dt.datetime.now(dt.timezone.utc)
    for spec in TABLES.values():
        delta = lake.open_table(spec.name)
        if delta is None:
            con.register(f"{spec.name}__dataset", spec.schema.empty_table())
        else:
            con.register(f"{spec.name}__dataset", delta.to_pyarrow_dataset())
            con.execute(f'INSERT INTO "{VERSIONS_TABLE}" VALUES (?, ?, ?)', [spec.name, delta.version(), now])
        columns = ", ".join(f'"{c}"' for c in spec.columns)
        con.execute(f'CREATE VIEW "{spec.name}" AS SELECT {columns} FROM "{spec.name}__dataset"')
    return con
