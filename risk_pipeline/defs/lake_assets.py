"""What every table asset shares: the business-day partitions, the helpers that turn a run's
partition range into the trading days it covers, and :func:`publish`, which writes the run's
days, refreshes the catalog and describes the result in the Dagster UI (one function, so that
every table is stored the same way)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping

import dagster as dg
import numpy as np
import pandas as pd
from dagster._core.execution.context.metadata_logging import AssetMetadataHandle, OutputMetadataAccumulator

from risk_pipeline.config.settings import section
from risk_pipeline.sources import last_day
from risk_pipeline.storage.catalog import refresh_catalog
from risk_pipeline.storage.lake import Commit, day_counts, latest_day, stored_days, table_uri, write_days
from risk_pipeline.storage.schemas import table_schema

HISTORY_START = "1990-01-02"


def business_days_until(last_day: dt.date | None) -> dg.TimeWindowPartitionsDefinition:
    """Weekday partitions from ``HISTORY_START`` through ``last_day`` (None: through today); today's
    partition exists from midnight UTC, so the after-close schedule can target it."""
    end = None if last_day is None else (last_day + dt.timedelta(days=1)).isoformat()
    return dg.TimeWindowPartitionsDefinition(cron_schedule="0 0 * * 1-5", fmt="%Y-%m-%d", start=HISTORY_START,
                                             end=end, end_offset=1)


# the partitions end where the configured price source's data ends (the bundled snapshot: 2022-12-28;
# a CSV file: its last date; a live source: today), so a complete history has no missing partition
business_days = business_days_until(last_day(section("prices")))

single_run = dg.BackfillPolicy.single_run()

# every table asset: business-day partitions, a range as one run, stored as Parquet
lake_asset = functools.partial(dg.asset, partitions_def=business_days, backfill_policy=single_run, kinds={"parquet"})


def partition_days(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date, list[dt.date]]:
    """First day, last day and every weekday of the run's partition range (one key or many); a
    range starting before the first partition (``HISTORY_START``) is refused before anything is
    read or written (Dagster would refuse it only when recording the materialization, after the
    commit)."""
    window = context.partition_time_window
    start = window.start.date()
    if start < dt.date.fromisoformat(HISTORY_START):
        raise ValueError(f"the run's range starts on {start}, before the first partition {HISTORY_START}: "
                         "nothing was written")
    last = (window.end - dt.timedelta(days=1)).date()
    days = [d.date() for d in pd.bdate_range(start, last)]
    return days[0], days[-1], days


def _run_range(context: dg.AssetCheckExecutionContext) -> tuple[dt.date, dt.date] | None:
    """The first and last day of the run's partition range (one day or a range), from its tags."""
    tags = context.run.tags
    start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    end = tags.get("dagster/asset_partition_range_end") or tags.get("dagster/partition")
    return (dt.date.fromisoformat(start), dt.date.fromisoformat(end)) if start and end else None


def checked_days(context: dg.AssetCheckExecutionContext, table: str) -> tuple[dt.date, dt.date, list[dt.date]]:
    """For an asset check evaluated once per run: first day, last day and every weekday of the run's
    partition range; in a run without one (a check executed alone), the latest stored day of ``table``."""
    bounds = _run_range(context)
    if bounds is None:
        days = stored_days(table)
        if not days:
            raise ValueError(f"nothing to check: the run has no partition and no day of {table} is stored")
        bounds = (days[-1], days[-1])
    days = [d.date() for d in pd.bdate_range(*bounds)]
    if not days:
        raise ValueError(f"nothing to check: the run's range {bounds[0]}..{bounds[1]} holds no weekday")
    return days[0], days[-1], days


def latest_day_of_run(context: dg.AssetCheckExecutionContext, table: str) -> dt.date | None:
    """For an asset check: the latest stored day of ``table`` up to the end of the run's
    partition range (a day or a range, from the run's tags), or overall if the run has none."""
    bounds = _run_range(context)
    if bounds:
        return latest_day(table, bounds[1])
    days = stored_days(table)
    return days[-1] if days else None


# Dagster copies a result's metadata onto the materialization of every partition of the run's range
# (8,607 events per asset in a 30-year run, each serialized and stored twice): in a run of more than
# one day the run's figures (``rows_in_run``, ``run_first_day``...) go to the range's last partition
# only (:func:`run_result`), and every partition keeps what is its own: ``rows``, the entries
# ``per_day`` gives its day, and ``PARTITION_ENTRIES``. The markdown tables (previews, latest
# figures) are attached to runs of at most this many partitions only (they were left out of longer
# runs when every partition carried a copy; some cost a computation a long run need not make).
DETAIL_MAX_PARTITIONS = 31
# on every partition of a range run: the Delta version holding its rows (``lake snapshot --version``)
PARTITION_ENTRIES = ("table_version",)


def table_metadata(frame: pd.DataFrame, days: list[dt.date], commit: Commit, **extra: object) -> dict:
    """The run's row count and day span, the Delta table version written and a preview of the latest
    rows, for the Dagster UI (without the preview and other markdown tables in runs of more than
    ``DETAIL_MAX_PARTITIONS`` days)."""
    meta: dict[str, object] = {
        "rows_in_run": dg.MetadataValue.int(commit.rows),
        "days_in_run": dg.MetadataValue.int(len(days)),
        "days_with_rows_in_run": dg.MetadataValue.int(commit.days_with_rows),
        "run_first_day": dg.MetadataValue.text(days[0].isoformat()),
        "run_last_day": dg.MetadataValue.text(days[-1].isoformat()),
        "table_version": dg.MetadataValue.int(commit.version),
        "table_path": dg.MetadataValue.path(table_uri(commit.table)),
    }
    if len(frame) and len(days) <= DETAIL_MAX_PARTITIONS:
        meta["preview"] = dg.MetadataValue.md(frame.tail(10).to_markdown(index=False, floatfmt=".6g"))
    meta.update(extra)
    if len(days) > DETAIL_MAX_PARTITIONS:
        return {k: v for k, v in meta.items() if not isinstance(v, dg.MarkdownMetadataValue)}
    return meta


def day_rows(table: str, frame: pd.DataFrame) -> dict[dt.date, int]:
    """The number of rows of ``frame`` (rows of ``table``) on each day holding some."""
    return day_counts(frame[table_schema(table).day_column])


def partition_metadata(table: str, counts: Mapping[dt.date, int], days: list[dt.date],
                       per_day: Mapping[dt.date, Mapping[str, object]] | None = None) -> None:
    """Give the materialization of each partition (day) of the running asset ``table`` its own
    metadata: its row count, ``rows`` (``counts``: rows per day, 0 for a day not in it), and ``per_day``'s entries of that day (numbers Dagster plots
    across partitions on the asset's page)."""
    _add_partition_metadata(table, {day: {"rows": dg.MetadataValue.int(int(counts.get(day, 0))),
                                          **(per_day or {}).get(day, {})} for day in days})


def _add_partition_metadata(table: str, entries: Mapping[dt.date, Mapping[str, object]]) -> None:
    """Add ``entries`` to the materialization of each of their days (partitions) of the running
    asset ``table``. Dagster's ``add_asset_metadata(partition_key=...)`` does this one partition per
    call, but each call lists the run's whole range and copies what was added before: 48 s per asset
    for the 8,607 days of a 30-year run. The same partition-scoped entries go into the step's
    metadata accumulator (what that method updates) in one step: milliseconds."""
    step = dg.AssetExecutionContext.get().get_step_execution_context()
    key = dg.AssetKey(table)
    accumulated = dict(step._metadata_accumulator.per_output_metadata)  # noqa: SLF001 - what add_asset_metadata updates
    for day, added in entries.items():
        handle = AssetMetadataHandle(asset_key=key, partition_key=day.isoformat())
        accumulated[handle] = {**accumulated.get(handle, {}), **added}
    step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=accumulated)  # noqa: SLF001


def run_result(table: str, days: list[dt.date], metadata: Mapping[str, object]) -> dg.MaterializeResult:
    """The materialization of the running asset ``table`` over ``days``, described by ``metadata``:
    on its partition in a one-day run; in a range run on the range's last partition (the latest
    materialization, which the asset's page shows), every other partition keeping only
    ``PARTITION_ENTRIES`` besides its own entries (``partition_metadata``)."""
    if len(days) <= 1:
        return dg.MaterializeResult(asset_key=table, metadata=metadata)
    _add_partition_metadata(table, {days[-1]: {k: v for k, v in metadata.items() if k not in PARTITION_ENTRIES}})
    return dg.MaterializeResult(asset_key=table, metadata={k: v for k, v in metadata.items() if k in PARTITION_ENTRIES})


def numbers_per_day(frame: pd.DataFrame, day_column: str, key_column: str, value: str
                    ) -> dict[dt.date, dict[str, object]]:
    """``{day: {"<value>.<key>": number}}`` of the finite ``value`` cells of ``frame``, one per day and
    key (e.g. each book's official VaR), for ``publish``'s ``per_day``."""
    numbers = pd.to_numeric(frame[value], errors="coerce")
    rows = frame.loc[np.isfinite(numbers)]
    per_day: dict[dt.date, dict[str, object]] = {}
    for day, key, number in zip(pd.to_datetime(rows[day_column]).dt.date, rows[key_column], numbers[rows.index]):
        per_day.setdefault(day, {})[f"{value}.{key}"] = dg.MetadataValue.float(float(number))
    return per_day


def publish(table: str, frame: pd.DataFrame, days: list[dt.date], keys: Iterable[str] | None = None,
            per_day: Mapping[dt.date, Mapping[str, object]] | None = None, **extra: object) -> dg.MaterializeResult:
    """Replace the stored rows of ``table`` for every day of the run and every key it computed
    (``keys``: the portfolios, symbols or books of the run's configuration, with rows or not; None
    for a table without a key column) in one Delta commit (``lake.write_days``), bring the DuckDB
    catalog up to it, and return the materialization with ``table_metadata`` plus ``extra``; each
    partition's materialization also has its own ``rows`` and the entries ``per_day`` gives its day."""
    commit = write_days(table, frame, days, keys=keys)
    refresh_catalog()
    partition_metadata(table, day_rows(table, frame), days, per_day)
    return run_result(table, days, table_metadata(frame, days, commit, **extra))
