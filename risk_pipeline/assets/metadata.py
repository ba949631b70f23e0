"""How every asset publishes its rows: write the run's days, refresh the catalog, describe the
result in the Dagster UI (one function, so that every table is stored the same way)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipeline.storage.catalog import refresh_catalog
from risk_pipeline.storage.lake import write_days


def table_metadata(frame: pd.DataFrame, days: list[dt.date], files_written: int, **extra: object) -> dict:
    """Row count, day span and a preview of the latest rows, for the Dagster UI."""
    meta: dict[str, object] = {
        "rows": dg.MetadataValue.int(len(frame)),
        "days_in_range": dg.MetadataValue.int(len(days)),
        "days_with_rows": dg.MetadataValue.int(files_written),
        "first_day": dg.MetadataValue.text(days[0].isoformat()),
        "last_day": dg.MetadataValue.text(days[-1].isoformat()),
    }
    if len(frame):
        meta["preview"] = dg.MetadataValue.md(frame.tail(10).to_markdown(index=False, floatfmt=".6g"))
    meta.update({k: v for k, v in extra.items()})
    return meta


def publish(table: str, frame: pd.DataFrame, days: list[dt.date], **extra: object) -> dg.MaterializeResult:
    """Replace the stored rows of ``table`` for every day of the run (``lake.write_days``), refresh
    the DuckDB views, and return the materialization with ``table_metadata`` plus ``extra``."""
    written = write_days(table, frame, days)
    refresh_catalog()
    return dg.MaterializeResult(asset_key=table, metadata=table_metadata(frame, days, written, **extra))
