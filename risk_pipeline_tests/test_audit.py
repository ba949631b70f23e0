"""Write-audit-publish: rows that fail a blocking quality rule are never committed. A failed audit,
a bad CSV or a range before the first partition leaves ``prices`` at its previous version, and
nothing downstream runs."""

from __future__ import annotations

import pandas as pd
import pytest

from risk_pipeline.definitions import defs
from risk_pipeline.storage import lake
from risk_pipeline_tests.pipeline_helpers import core_assets, materialize_range
from risk_pipeline_tests.test_quality_checks import _bundled_csv, _csv_config, _materialized

START, END = "2021-02-01", "2021-03-31"
GRAPH = list(defs.assets) + list(defs.asset_checks)
TABLES = ("prices", "returns", "portfolio_pnl", "var_estimates", "var_backtests")


@pytest.fixture()
def clean_lake(data_dir):
    """The core tables of a clean run of the bundled prices over the range; their versions."""
    materialize_range(START, END, assets=core_assets())
    return {t: lake.table_version(t) for t in TABLES}


def _failure(result) -> str:
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "prices"
    error = failure.event_specific_data.error
    return (error.cause or error).message


def _rerun_with_csv(tmp_path, mutate):
    csv = tmp_path / "prices.csv"
    _bundled_csv(csv, mutate)
    return materialize_range(START, END, _csv_config(csv), assets=GRAPH, raise_on_error=False)


def test_a_csv_missing_a_day_is_refused_before_the_commit(clean_lake, tmp_path):
    stored = lake.read_range("prices").to_pandas()
    result = _rerun_with_csv(tmp_path, lambda f: f.loc[~((f["symbol"] == "JPM") & (f["date"] == "2021-03-10"))])
    assert not result.success and _materialized(result) == set()
    message = _failure(result)
    assert "prices_no_missing_days: 1 offending row(s)" in message and "date=2021-03-10, symbol=JPM" in message
    assert {t: lake.table_version(t) for t in TABLES} == clean_lake
    pd.testing.assert_frame_equal(lake.read_range("prices").to_pandas(), stored)


def test_a_csv_without_a_held_symbol_in_the_range_is_refused_before_the_commit(clean_lake, tmp_path):
    result = _rerun_with_csv(tmp_path, lambda f: f.loc[(f["symbol"] != "KO") | (f["date"] < START)])
    assert not result.success and _materialized(result) == set()
    assert "portfolio_symbols_priced: 1 offending row(s), the first portfolio=held, symbol=KO" in _failure(result)
    assert {t: lake.table_version(t) for t in TABLES} == clean_lake


def test_a_csv_with_a_non_positive_close_writes_nothing(clean_lake, tmp_path):
    result = _rerun_with_csv(tmp_path, lambda f: f.assign(close=f["close"].mask(
        (f["symbol"] == "XOM") & (f["date"] == "2021-03-03"), 0.0)))
    assert not result.success and _materialized(result) == set()
    assert "XOM" in _failure(result)
    assert {t: lake.table_version(t) for t in TABLES} == clean_lake


def test_a_range_before_the_first_partition_is_refused_before_any_write(clean_lake):
    result = materialize_range("1985-01-02", "1990-01-31", assets=core_assets(), raise_on_error=False)
    assert not result.success and _materialized(result) == set()
    assert "starts on 1985-01-02, before the first partition 1990-01-02" in _failure(result)
    assert {t: lake.table_version(t) for t in TABLES} == clean_lake
