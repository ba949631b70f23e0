"""Weekdays without prices: every asset and check of the graph on a holiday and before a book's first
price, as the daily job runs them (one partition), on the shipped portfolios and limits (six books,
one from 2014, one in EUR, one the S&P 500 index alone). The weekdays after the bundled data ends are
no partitions (test_schedule.py); a live source's day without prices yet is such an empty day.

Two lakes per module, the whole graph over 2022-11-01..2022-12-28 (a range holding two holidays) and
over 2013-12-02..2013-12-30, then one single-partition run per day under test."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from risk_pipeline.definitions import defs
from risk_pipeline.instance import ephemeral_instance
from risk_pipeline.defs.schedules import daily_risk_job
from risk_pipeline.sources.bundled import BundledSource
from risk_pipeline.storage.schemas import TABLES, table_schema
from risk_pipeline_tests.pipeline_helpers import (
    ALL_ASSETS, fast_run_config, materialize_range, module_lake, query, shipped_portfolios,
)

CONFIG = fast_run_config(estimation_window_days=10)
CONFIG["ops"]["limit_status"] = {"config": {"estimation_window_days": 10}}
ASSET_KEYS = {key.to_user_string() for asset in ALL_ASSETS for key in asset.keys}

# every weekday of 2022 without a bundled close (New Year fell on a Saturday and was not observed):
# MLK, Presidents, Good Friday, Memorial, Juneteenth (observed), Independence, Labor, Thanksgiving,
# Christmas (observed), and the two days after the snapshot ends (2022-12-28)
HOLIDAYS_2022 = ["2022-01-17", "2022-02-21", "2022-04-15", "2022-05-30", "2022-06-20", "2022-07-04", "2022-09-05",
                 "2022-11-24", "2022-12-26"]
AFTER_THE_DATA = ["2022-12-29", "2022-12-30"]


def _day_column(table: str) -> str:
    return table_schema(table).day_column


def _lake(tmp_path_factory, start: str, end: str):
    root = tmp_path_factory.mktemp("empty_days")
    (root / "data").mkdir()
    with module_lake(root, shipped_portfolios()):
        assert materialize_range(start, end, CONFIG).success
        yield root / "data"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """The whole graph over a range holding two of the holidays and the end of the data."""
    yield from _lake(tmp_path_factory, "2022-11-01", "2022-12-28")


@pytest.fixture(scope="module")
def lake_2013(tmp_path_factory):
    """The whole graph over the month before the factor ETFs' first price."""
    yield from _lake(tmp_path_factory, "2013-12-02", "2013-12-30")


def _run_one_day(day: str, instance: dg.DagsterInstance):
    """The day's partition of the daily job (every asset and check), as the schedule launches it:
    the run succeeds, every asset (risk_report included) materializes the day's partition and
    every check is evaluated. Returns the rows each table asset wrote (its ``rows`` metadata)."""
    result = defs.resolve_job_def(daily_risk_job.name).execute_in_process(
        partition_key=day, run_config=CONFIG, instance=instance, raise_on_error=False)
    failures = [e.step_key for e in result.all_events if e.is_step_failure]
    assert result.success, f"{day}: failed steps {failures}"
    events = [m for m in result.get_asset_materialization_events() if m.partition == day]
    assert {m.asset_key.to_user_string() for m in events} == ASSET_KEYS
    evaluated = {e.asset_check_key for e in result.get_asset_check_evaluations()}
    assert evaluated == set(defs.get_repository_def().asset_graph.asset_check_keys)
    return {m.asset_key.to_user_string(): m.materialization.metadata for m in events}


@pytest.fixture(scope="module")
def instance():
    """In memory: Dagster's test instance (a SQLite file per run, a sync per event) spent 2-3 times the
    run's own time recording it."""
    with ephemeral_instance() as instance:
        yield instance


def test_the_calendar_under_test_is_every_weekday_without_prices():
    bundled = pd.DatetimeIndex(BundledSource().fetch(["AAPL"], dt.date(2022, 1, 1), dt.date(2022, 12, 31))["date"])
    weekdays = pd.bdate_range("2022-01-01", "2022-12-31")
    assert [d.date().isoformat() for d in weekdays.difference(bundled)] == HOLIDAYS_2022 + AFTER_THE_DATA


@pytest.mark.parametrize("day", HOLIDAYS_2022)
def test_a_weekday_without_prices_is_an_empty_successful_partition_of_every_asset(lake, instance, day):
    metadata = _run_one_day(day, instance)
    for table in TABLES:
        assert metadata[table]["rows"].value == 0, table
        on_day = query(lake, f"select count(*) as n from {table} where {_day_column(table)} = '{day}'")["n"][0]
        assert on_day == 0, table
    assert metadata["risk_report"]["reports_written"].value == 0  # no backtest as of a day without prices


def test_the_holidays_inside_the_seeded_range_have_no_rows_and_the_days_around_them_do(lake):
    around = {"2022-11-23", "2022-11-25", "2022-12-23", "2022-12-27", "2022-12-28"}
    for table in ("prices", "returns", "portfolio_pnl", "limit_status", "var_estimates", "var_backtests"):
        days = set(query(lake, f"select distinct {_day_column(table)} as d from {table}")["d"].dt.date.astype(str))
        assert not days & {"2022-11-24", "2022-12-26", "2022-12-29", "2022-12-30"}, table
        assert around <= days, table


def test_the_day_before_a_books_first_price_and_its_first_days(lake_2013, instance):
    lake = lake_2013
    """factor_etf's ETFs are priced from 2014-01-02: on 2013-12-31 the other books are risked as
    usual and factor_etf has no row in any table; from its first price on, its P&L follows."""
    for day in ("2013-12-31", "2014-01-02", "2014-01-03"):
        _run_one_day(day, instance)
    for table in TABLES:
        if "portfolio" in table_schema(table).columns:
            books = query(lake, f"select distinct portfolio from {table} where {_day_column(table)} = '2013-12-31'")
            assert "factor_etf" not in set(books["portfolio"]), table
    books = set(query(lake, "select distinct portfolio from var_estimates where date = '2013-12-31'")["portfolio"])
    # the YAML books, and the bundled books of record (their stored positions, revalued)
    assert books == {"equal_weight_20", "concentrated", "long_short", "eur_us_stocks", "sp500_index", "ust10y",
                     "eur_ust10y", "nasdaq_index", "eurusd", "monthly_rebalanced", "momentum_12_1"}
    pnl = query(lake, "select date from portfolio_pnl where portfolio = 'factor_etf' order by date")
    assert list(pnl["date"].dt.date.astype(str)) == ["2014-01-03"]  # the first price has no previous close
    statuses = query(lake, "select distinct status from limit_status where portfolio = 'factor_etf'")
    assert set(statuses["status"]) == {"no_data"}  # no full window yet: stated, not an error
