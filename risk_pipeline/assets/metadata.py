"""Metadata every asset attaches to its materialization."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd


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
