"""Business-day partitions shared by every asset, and the helpers that turn a run's
partition range into the trading days it covers."""

from __future__ import annotations

import datetime as dt
import functools

import dagster as dg
import pandas as pd

from risk_pipeline.storage.lake import stored_days

HISTORY_START = "1990-01-02"

business_days = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * 1-5",
    fmt="%Y-%m-%d",
    start=HISTORY_START,
    # today's partition exists from midnight UTC, so the after-close schedule can target it
    end_offset=1,
)

single_run = dg.BackfillPolicy.single_run()

# every table asset: business-day partitions, a range as one run, stored as Parquet
lake_asset = functools.partial(dg.asset, partitions_def=business_days, backfill_policy=single_run, kinds={"parquet"})


def partition_days(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date, list[dt.date]]:
    """First day, last day and every weekday of the run's partition range (one key or many)."""
    window = context.partition_time_window
    start = window.start.date()
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
    days = stored_days(table)
    bounds = _run_range(context)
    if bounds:
        days = [d for d in days if d <= bounds[1]]
    return days[-1] if days else None
