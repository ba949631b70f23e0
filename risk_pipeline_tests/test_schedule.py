"""The daily after-close schedule: which partition each tick asks for, and that the run works."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import dagster as dg
import pandas as pd
import pytest

from risk_pipeline.definitions import defs
from risk_pipeline.instance import ephemeral_instance
from risk_pipeline.defs.lake_assets import business_days_until
from risk_pipeline.sources import last_day
from risk_pipeline.sources.bundled import BundledSource
from risk_pipeline.defs.schedules import daily_after_close, daily_risk_job, newest_business_day
from risk_pipeline.config.settings import section
from risk_pipeline_tests.pipeline_helpers import fast_run_config, materialize_range, query

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def _tick(when: dt.datetime) -> dg.RunRequest:
    context = dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def())
    result = daily_after_close.evaluate_tick(context)
    assert len(result.run_requests) == 1
    return result.run_requests[0]


def test_schedule_time_and_zone_come_from_the_configuration():
    configured = section("schedule")
    assert daily_after_close.cron_schedule == configured["cron"] == "30 18 * * 1-5"
    assert daily_after_close.execution_timezone == configured["timezone"] == "America/New_York"
    assert daily_after_close.job_name == daily_risk_job.name


@pytest.mark.parametrize(
    "local, expected",
    [
        (dt.datetime(2022, 3, 7, 18, 30), "2022-03-07"),   # a Monday evening: Monday's partition
        (dt.datetime(2022, 3, 11, 18, 30), "2022-03-11"),  # Friday
        (dt.datetime(2022, 3, 12, 18, 30), "2022-03-11"),  # a manual Saturday tick: Friday
        (dt.datetime(2022, 11, 7, 18, 30), "2022-11-07"),  # the day after the DST change
    ],
)
def test_each_tick_targets_the_newest_business_day_of_its_local_date(local, expected):
    # 18:30 in New York is already the next day in UTC for part of the year: the local date counts
    request = _tick(local.replace(tzinfo=NEW_YORK))
    assert request.partition_key == expected
    assert request.run_key == expected


@pytest.mark.parametrize(
    "local",
    [
        dt.datetime(2022, 3, 7, 18, 30),   # a Monday's tick in winter: 23:30 UTC
        dt.datetime(2022, 7, 8, 18, 30),   # a Friday's tick in summer: 22:30 UTC
        dt.datetime(2022, 11, 7, 18, 30),  # the day after the DST change
        dt.datetime(2026, 12, 6, 20, 5),   # a Sunday evening, already Monday in UTC: Friday targeted
        None,                              # now
    ],
)
def test_the_targeted_partition_of_a_live_source_exists_the_same_evening(local):
    # a live source's partitions run through UTC's date (today's exists from midnight UTC, never after
    # New York's date): the partition a tick targets, New York's newest business day, always exists
    when = dt.datetime.now(NEW_YORK) if local is None else local.replace(tzinfo=NEW_YORK)
    keys = business_days_until(None).get_partition_keys(current_time=when)
    assert newest_business_day(when.date()).isoformat() in keys
    assert keys[-1] == newest_business_day(when.astimezone(dt.timezone.utc).date()).isoformat()


def test_the_partitions_end_on_the_bundled_snapshots_last_day_and_later_ticks_are_skipped():
    partitions = defs.resolve_job_def(daily_risk_job.name).partitions_def
    keys = partitions.get_partition_keys()
    last = BundledSource().fetch(None, dt.date(2022, 12, 1), dt.date(2023, 12, 31))["date"].max().date()
    assert keys[-1] == last.isoformat() == "2022-12-28"
    assert len(keys) == len(pd.bdate_range("1990-01-02", last)) == 8607
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2022, 12, 29, 18, 30, tzinfo=NEW_YORK),
                                        repository_def=defs.get_repository_def())
    result = daily_after_close.evaluate_tick(context)
    assert not result.run_requests
    assert result.skip_message == "no partition 2022-12-29: the price source's data ends on 2022-12-28"


def test_a_csv_sources_partitions_end_on_its_last_date(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("date,symbol,close\n2021-03-01,A,10\n2021-03-04,A,11\n2021-03-03,A,12\n")
    partitions = business_days_until(last_day({"source": "csv", "csv_path": str(path)}))
    assert partitions.get_last_partition_key() == "2021-03-04"
    assert last_day({"source": "csv", "csv_path": str(path), "moex_symbols": ["SBER"]}) is None  # live beside it
    assert last_day({"source": "yfinance"}) is None


def test_newest_business_day_matches_the_weekday_calendar():
    start = dt.date(2023, 12, 20)
    for offset in range(30):
        day = start + dt.timedelta(days=offset)
        expected = day - dt.timedelta(days=max(0, day.weekday() - 4))
        assert newest_business_day(day) == expected


def test_the_job_covers_every_asset_and_check_of_the_graph():
    graph = defs.get_repository_def().asset_graph
    assert daily_risk_job.selection.resolve(graph) == set(graph.materializable_asset_keys)
    assert daily_risk_job.selection.resolve_checks(graph) == set(graph.asset_check_keys)
    assert len(graph.asset_check_keys) >= 6


def test_a_scheduled_run_materializes_that_day(data_dir):
    config = fast_run_config()
    # a short stored history first: a schedule runs on a filled lake
    assert materialize_range("2021-02-01", "2021-03-04", config).success
    request = _tick(dt.datetime(2021, 3, 5, 18, 30, tzinfo=NEW_YORK))
    with ephemeral_instance() as instance:
        result = defs.resolve_job_def(daily_risk_job.name).execute_in_process(
            partition_key=request.partition_key, run_config=config, instance=instance
        )
    assert result.success
    stored = query(data_dir, "select max(date) as d, count(distinct date) as n from var_estimates")
    assert pd.Timestamp(stored["d"].iloc[0]) == pd.Timestamp("2021-03-05")
    checked = {e.check_name for e in result.get_asset_check_evaluations()}
    assert {"prices_positive", "prices_no_missing_days", "returns_within_sigmas"} <= checked
    # a one-day run keeps the markdown tables a long range leaves out (metadata.DETAIL_MAX_PARTITIONS)
    assert "verdict" in result.asset_materializations_for_node("risk_report")[-1].metadata
    assert "preview" in result.asset_materializations_for_node("var_estimates")[-1].metadata
