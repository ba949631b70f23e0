"""How every asset publishes its rows: write the run's days, refresh the catalog, describe the
result in the Dagster UI (one function, so that every table is stored the same way)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipeline.storage.catalog import refresh_catalog
from risk_pipeline.storage.lake import Commit, table_path, write_days

# Dagster copies a range run's metadata onto the materialization of every partition of the range.
# The markdown tables (previews, latest figures) describe the last days of the run: in runs of more
# partitions than this they are left out, since they would be wrong on every other partition and
# cost the event log up to 4 kB more per partition (a 30-year run: 103,000 materializations).
DETAIL_MAX_PARTITIONS = 31


def table_metadata(frame: pd.DataFrame, days: list[dt.date], commit: Commit, **extra: object) -> dict:
    """Row count, day span, the Delta table version written and a preview of the latest rows, for
    the Dagster UI (without the preview and other markdown tables in runs of more than
    ``DETAIL_MAX_PARTITIONS`` days)."""
    meta: dict[str, object] = {
        "rows": dg.MetadataValue.int(len(frame)),
        "days_in_range": dg.MetadataValue.int(len(days)),
        "days_with_rows": dg.MetadataValue.int(commit.days_with_rows),
        "table_version": dg.MetadataValue.int(commit.version),
        "table_path": dg.MetadataValue.path(str(table_path(commit.table))),
        "first_day": dg.MetadataValue.text(days[0].isoformat()),
        "last_day": dg.MetadataValue.text(days[-1].isoformat()),
    }
    if len(frame) and len(days) <= DETAIL_MAX_PARTITIONS:
        meta["preview"] = dg.MetadataValue.md(frame.tail(10).to_markdown(index=False, floatfmt=".6g"))
    meta.update(extra)
    if len(days) > DETAIL_MAX_PARTITIONS:
        return {k: v for k, v in meta.items() if not isinstance(v, dg.MarkdownMetadataValue)}
    return meta


def publish(table: str, frame: pd.DataFrame, days: list[dt.date], **extra: object) -> dg.MaterializeResult:
    """Replace the stored rows of ``table`` for every day of the run in one Delta commit
    (``lake.write_days``), bring the DuckDB catalog up to it, and return the materialization
    with ``table_metadata`` plus ``extra``."""
    commit = write_days(table, frame, days)
    refresh_catalog([table])
    return dg.MaterializeResult(asset_key=table, metadata=table_metadata(frame, days, commit, **extra))
