"""Business-day partitions shared by every asset, and the helpers that turn a run's
partition range into the trading days it covers."""

from __future__ import annotations

import datetime as dt
import functools

import dagster as dg
import pandas as pd

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
