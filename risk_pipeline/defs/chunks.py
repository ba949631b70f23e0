"""A heavy asset's table computed in tasks of a chunk of books and committed once: each task (run
by the ``compute`` resource, risk_pipeline/compute.py) computes its books' rows and writes them as
Parquet files of the table; the run commits every task's files in one Delta transaction
(risk_pipeline/storage/staging.py) and refreshes the catalog, as :func:`lake_assets.publish` does
with a frame. The run's process holds the description of the files and the rows of each chunk's
last day (the metadata's preview and latest figures), never the table's rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import dagster as dg
import pandas as pd

from risk_pipeline.compute import Compute
from risk_pipeline.defs.lake_assets import partition_metadata, run_result, table_metadata
from risk_pipeline.storage.catalog import refresh_catalog
from risk_pipeline.storage.schemas import table_schema
from risk_pipeline.storage.staging import Staged, commit_staged, stage


def _stage_chunk(chunk: list[Any], rows: Callable[[list[Any]], pd.DataFrame], table: str, days: list[dt.date],
                 keys: list[str] | None) -> Staged:
    """A task: the rows of ``chunk`` written as the table's uncommitted files."""
    return stage(table, rows(chunk), days, keys)


def publish_chunks(compute: Compute, table: str, rows: Callable[[list[Any]], pd.DataFrame], items: Sequence[Any],
                   days: list[dt.date], keys: list[str] | None,
                   metadata: Callable[[pd.DataFrame], dict[str, object]] | None = None,
                   weight: Callable[[Any], float] | None = None, **extra: object) -> dg.MaterializeResult:
    """Replace the stored rows of ``table`` for every day of the run and every key of ``keys`` with
    ``rows(chunk)`` of every chunk of ``items`` (a picklable function returning the chunk's rows on
    ``days``), in one Delta commit; ``metadata(latest)`` adds the metadata computed from the rows of
    the run's last day with rows (``latest``); each partition's materialization has its own ``rows``.
    ``weight(item)``: an item's expected cost, the chunks handed out heaviest first (:meth:`Compute.map`)."""
    chunks = compute.chunks(items)
    weights = None if weight is None else [sum(weight(item) for item in chunk) for chunk in chunks]
    staged = compute.map(partial(_stage_chunk, rows=rows, table=table, days=days, keys=keys), chunks, weights)
    return publish_staged(table, staged, days, keys, metadata, **extra)


def publish_tables(compute: Compute, tables: Mapping[str, Callable[[list[Any]], pd.DataFrame]], items: Sequence[Any],
                   days: list[dt.date], keys: list[str] | None, **extra: object) -> Iterator[dg.MaterializeResult]:
    """:func:`publish_chunks` of several tables of the same ``items`` (a multi-asset's, each table's ``rows``), in
    the order of ``tables``: each chunk is sent to the workers once for all the tables, and each table is
    committed and its materialization returned as soon as its tasks are done, while the workers compute the next
    tables' (:meth:`Compute.each`)."""
    functions = [partial(_stage_chunk, rows=rows, table=table, days=days, keys=keys) for table, rows in tables.items()]
    for table, staged in zip(tables, compute.each(functions, compute.chunks(items))):
        yield publish_staged(table, staged, days, keys, **extra)


def publish_staged(table: str, staged: Sequence[Staged], days: list[dt.date], keys: list[str] | None,
                   metadata: Callable[[pd.DataFrame], dict[str, object]] | None = None, sort_latest: bool = False,
                   per_day: Mapping[dt.date, Mapping[str, object]] | None = None,
                   **extra: object) -> dg.MaterializeResult:
    """Commit the ``staged`` files of ``table`` (``storage.staging.stage``: chunks of books, or blocks
    of days) as the run's rows of ``days`` and ``keys``, in one Delta commit, and return the
    materialization as :func:`publish_chunks` does; ``sort_latest``: the preview's rows of the last day
    in the order of the key (``prices``, whose rows a commit of one frame holds so), not the chunks';
    ``per_day``: each partition's own entries besides its rows (``lake_assets.publish``'s)."""
    commit = commit_staged(table, staged, days, keys)
    refresh_catalog()
    counts: dict[dt.date, int] = {}
    for chunk in staged:
        for day, n in chunk.day_rows.items():
            counts[day] = counts.get(day, 0) + n
    partition_metadata(table, counts, days, per_day)
    day = table_schema(table).day_column
    ends = [chunk.latest for chunk in staged if len(chunk.latest)]
    latest = pd.concat(ends, ignore_index=True) if ends else pd.DataFrame()
    if len(latest):
        latest = latest.loc[latest[day] == latest[day].max()].reset_index(drop=True)
        if sort_latest:
            latest = latest.sort_values(table_schema(table).key_column, ignore_index=True)
    more = metadata(latest) if metadata is not None else {}
    return run_result(table, days, table_metadata(latest, days, commit, **more, **extra))
