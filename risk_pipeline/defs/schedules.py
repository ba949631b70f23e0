"""The jobs and schedules: ``risk_job`` (every asset and check, what ``risk-pipeline backfill`` runs over a
range); after the market close, the day's partition of the whole graph; every week, the lake's
compaction and vacuum.

The daily schedule: after the market close, materialize that day's partition of the whole graph.

Time and time zone come from the ``schedule`` section of pipeline.yaml (cron ``30 18 * * 1-5``
in ``America/New_York`` by default: 18:30 New York time, Monday to Friday). Each tick asks for
one run of ``daily_risk_job`` (every asset and check) on the newest business-day partition
whose date is not after the tick's local date; a tick after the last partition (the price source's
data ends there: the bundled snapshot, a CSV file not yet extended) is skipped, with the reason. That run is "what the new day makes stale":

- prices, returns, portfolio P&L and VaR estimates of the new day depend only on that day and
  a lookback of stored earlier days, so nothing already stored changes;
- the backtests as of the new day cover the whole history up to it, which is exactly the new
  day's var_backtests partition; earlier as-of dates are unaffected by a later day.

So the new day's partition of every asset is the complete set of stale partitions. The run key
is the partition key: a schedule restarted after downtime never runs a day twice. Days missed
while the daemon was down are backfilled from the UI or CLI (README, "Backfills").
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipeline.config.settings import section
from risk_pipeline.defs.lake_assets import business_days
from risk_pipeline.forked_lanes import forked_lanes_executor
from risk_pipeline.storage.catalog import refresh_catalog
from risk_pipeline.storage.maintenance import maintain_lake

_SCHEDULE = section("schedule")

risk_job = dg.define_asset_job("risk_job", selection=dg.AssetSelection.all(),
                               description="Every asset and check (`risk-pipeline backfill` runs it over a range).")

daily_risk_job = dg.define_asset_job(
    "daily_risk_job",
    selection=dg.AssetSelection.all(),
    # one business day is small: a process per step costs more than its steps; two lanes forked once
    # from the run's process take both cores (risk_pipeline/forked_lanes.py)
    executor_def=forked_lanes_executor,
    description="Every asset and data-quality check for one business day (the daily schedule's job).",
)


def newest_business_day(local_date: dt.date) -> dt.date:
    """The newest Monday-to-Friday date on or before ``local_date``."""
    return pd.bdate_range(end=local_date, periods=1)[0].date()


@dg.schedule(
    job=daily_risk_job,
    cron_schedule=str(_SCHEDULE["cron"]),
    execution_timezone=str(_SCHEDULE["timezone"]),
    description="After the close: the newest business day's partition of every asset and check.",
)
def daily_after_close(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    # scheduled_execution_time is in the schedule's execution time zone
    day = newest_business_day(context.scheduled_execution_time.date())
    key = day.isoformat()
    last = business_days.get_last_partition_key()
    if last is not None and key > last:  # a source that ends (the bundled snapshot, a CSV file) has no new day
        return dg.SkipReason(f"no partition {key}: the price source's data ends on {last}")
    return dg.RunRequest(run_key=key, partition_key=key, tags={"risk_pipeline/trigger": "daily_after_close"})


@dg.op(description="Compact every lake table and vacuum what no version of the retention period reads.")
def maintain_lake_tables(context) -> None:
    retention = int(section("lake")["retention_days"])
    for done in maintain_lake(retention):
        context.log.info(f"{done.table}: files {done.files_before} -> {done.files_after}, "
                         f"vacuumed {done.files_deleted}, version {done.version}")
    refresh_catalog()


@dg.job(description="Weekly lake upkeep: compaction (one file per year again) and vacuum (retention_days).")
def lake_maintenance_job() -> None:
    maintain_lake_tables()


weekly_lake_maintenance = dg.ScheduleDefinition(
    name="weekly_lake_maintenance",
    job=lake_maintenance_job,
    cron_schedule="0 6 * * 6",
    execution_timezone=str(_SCHEDULE["timezone"]),
    description="Saturday 06:00: compact and vacuum the lake while no daily run writes.",
)
