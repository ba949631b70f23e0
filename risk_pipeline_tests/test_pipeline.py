"""The asset graph materialized in process on a temporary data folder.

These tests run Dagster for real (partition ranges as single runs) and read the results back
through the DuckDB catalog a user queries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline_tests.pipeline_helpers import core_assets, fast_run_config, materialize_range, query

START, END = "2020-09-01", "2020-12-31"


@pytest.fixture()
def built(data_dir):
    result = materialize_range(START, END, assets=core_assets())
    assert result.success
    return data_dir


def test_every_table_is_filled_with_the_design_columns(built):
    prices = query(built, "select * from prices")
    assert set(prices["symbol"]) == {"AAPL", "JPM", "XOM", "MSFT", "KO", "SP500"}
    assert prices.groupby("date").size().eq(6).all()
    assert (prices["close"] > 0).all()

    returns = query(built, "select * from returns order by symbol, date")
    aapl = prices.loc[prices["symbol"] == "AAPL"].sort_values("date")
    expected = aapl["close"].pct_change().iloc[1:].to_numpy()
    got = returns.loc[returns["symbol"] == "AAPL", "simple_return"].to_numpy()
    # the first day of the range has no stored previous close, so returns start a day later
    np.testing.assert_allclose(got, expected, rtol=1e-12)

    pnl = query(built, "select * from portfolio_pnl")
    assert set(pnl["portfolio"]) == {"balanced", "held"}
    balanced = pnl.loc[pnl["portfolio"] == "balanced"].set_index("date")["simple_return"]
    wide = returns.pivot(index="date", columns="symbol", values="simple_return")
    manual = (0.4 * wide["AAPL"] + 0.3 * wide["JPM"] + 0.3 * wide["XOM"]).dropna()
    np.testing.assert_allclose(balanced.sort_index().to_numpy(), manual.sort_index().to_numpy(), rtol=1e-12)

    var = query(built, "select * from var_estimates")
    assert set(var["portfolio"]) == {"balanced", "held"}
    assert set(var["confidence"]) == {0.95, 0.99}
    assert (var["var"] > 0).all() and (var["es"] >= var["var"]).all()
    assert not var.duplicated(["date", "portfolio", "method", "confidence", "horizon_days"]).any()

    backtests = query(built, "select * from var_backtests")
    assert set(backtests["portfolio"]) == {"balanced", "held"}
    assert set(backtests["backtest_window_days"]) == {250, 1000}
    assert backtests["traffic_light"].isin(["green", "yellow", "red", "insufficient_data"]).all()


def test_historical_var_is_the_quantile_of_the_previous_window(built):
    pnl = query(built, "select date, simple_return from portfolio_pnl where portfolio = 'balanced' order by date")
    var = query(
        built,
        "select date, var, es, var_amount from var_estimates where portfolio = 'balanced' "
        "and method = 'historical' and confidence = 0.99 order by date",
    )
    losses = -pnl["simple_return"].to_numpy()
    dates = list(pnl["date"])
    row = var.iloc[-1]
    t = dates.index(row["date"])
    window = losses[t - 20 : t]
    expected_var = np.quantile(window, 0.99)
    assert row["var"] == pytest.approx(expected_var, rel=1e-12)
    assert row["es"] == pytest.approx(window[window >= expected_var].mean(), rel=1e-12)
    assert row["var_amount"] == pytest.approx(expected_var * 1_000_000, rel=1e-12)


def test_rematerializing_a_day_gives_the_same_rows_and_no_duplicates(built):
    before = query(built, "select * from var_estimates order by all")
    materialize_range("2020-12-15", "2020-12-15", assets=core_assets())
    after = query(built, "select * from var_estimates order by all")
    pd.testing.assert_frame_equal(before, after)


def test_one_new_day_from_stored_history_equals_the_backfill(data_dir, tmp_path, monkeypatch):
    materialize_range(START, "2020-12-30", assets=core_assets())
    materialize_range("2020-12-31", "2020-12-31", assets=core_assets())
    incremental = query(data_dir, "select * from var_estimates where date = '2020-12-31' order by all")

    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(other))
    materialize_range(START, END, assets=core_assets())
    backfill = query(other, "select * from var_estimates where date = '2020-12-31' order by all")
    assert len(incremental) == 4
    pd.testing.assert_frame_equal(incremental, backfill)


def test_a_holiday_partition_succeeds_empty(data_dir):
    result = materialize_range("2020-12-25", "2020-12-25", assets=core_assets())
    assert result.success
    assert query(data_dir, "select count(*) as n from prices")["n"][0] == 0


ALL_METHODS_CONFIG = fast_run_config(
    estimation_window_days=30,
    methods=["historical", "parametric_normal", "parametric_t", "cornish_fisher", "ewma", "monte_carlo",
             "filtered_historical", "conditional_evt"],
    horizons=[1, 5],
    monte_carlo_estimation_window_days=40,
    evt_estimation_window_days=40,
    n_scenarios=500,
)
# backtest windows shorter than the history: the new day's run reads only their last days
ALL_METHODS_CONFIG["ops"]["var_backtests"] = {"config": {"backtest_window_days": [20, 60]}}


def test_every_method_computes_one_new_day_exactly_as_the_backfill(data_dir, tmp_path, monkeypatch):
    """Each method's estimate and each backtest depends only on its window, so a day computed
    from stored history equals the same day inside a long single-run backfill."""
    materialize_range("2020-06-01", "2020-12-30", ALL_METHODS_CONFIG, assets=core_assets())
    materialize_range("2020-12-31", "2020-12-31", ALL_METHODS_CONFIG, assets=core_assets())
    incremental = query(data_dir, "select * from var_estimates where date = '2020-12-31' order by all")
    backtests = "select * from var_backtests where as_of = '2020-12-31' order by all"
    incremental_backtests = query(data_dir, backtests)

    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(other))
    materialize_range("2020-06-01", "2020-12-31", ALL_METHODS_CONFIG, assets=core_assets())
    backfill = query(other, "select * from var_estimates where date = '2020-12-31' order by all")
    backfill_backtests = query(other, backtests)
    assert len(backfill_backtests) == len(incremental) * 2  # a row per series and window
    assert set(backfill_backtests["backtest_window_days"]) == {20, 60}
    pd.testing.assert_frame_equal(incremental_backtests, backfill_backtests, rtol=1e-10, atol=1e-14)

    assert set(incremental["method"]) == set(ALL_METHODS_CONFIG["ops"]["var_estimates"]["config"]["methods"])
    assert len(incremental) == 8 * 2 * 2 * 2  # methods x confidences x horizons x portfolios
    pd.testing.assert_frame_equal(incremental, backfill, rtol=1e-10, atol=1e-14)
    assert (incremental["es"] >= incremental["var"] - 1e-15).all()


def test_the_summary_prints_var_es_and_verdicts_of_every_portfolio(built, capsys):
    from risk_pipeline.cli import main

    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    var_part, verdict_part = out.split("Backtest verdicts")
    for name in ("balanced", "held"):
        assert name in var_part and name in verdict_part
    assert "VaR99 %" in var_part and "ES95" in var_part
    assert "trailing 1000 and 250 trading days" in verdict_part  # the stored windows
    assert "1000d 95%" in verdict_part and "breaches 250d 99%" in verdict_part and "Basel light" in verdict_part
    # four months of history: every verdict says how few observations its window held
    n_obs = query(built, "select n_obs, verdict from var_backtests where portfolio = 'balanced' and method = 'historical' "
                         "and confidence = 0.99 and horizon_days = 1 and backtest_window_days = 1000 "
                         "and as_of = (select max(as_of) from var_backtests)")
    assert 0 < n_obs["n_obs"][0] < 250
    assert f"{n_obs['verdict'][0]} ({n_obs['n_obs'][0]} obs)" in verdict_part
    assert "Model Confidence Set" not in out  # var_scores is not among the core assets built here
    latest = query(built, "select max(var) * 100 as v from var_estimates where portfolio = 'balanced' "
                          "and confidence = 0.99 and date = (select max(date) from var_estimates)")["v"][0]
    assert f"{latest:.2f}" in var_part
    assert str(built / "risk.duckdb") in out


def test_chunk_ranges_cover_the_range_in_order():
    import datetime as dt

    from risk_pipeline.cli.backfill import chunk_ranges

    d = dt.date
    assert chunk_ranges(d(2019, 10, 1), d(2020, 3, 31), None) == [(d(2019, 10, 1), d(2020, 3, 31))]
    assert chunk_ranges(d(2019, 10, 1), d(2022, 3, 31), 2) == [
        (d(2019, 10, 1), d(2020, 12, 31)), (d(2021, 1, 1), d(2022, 3, 31))]
    assert chunk_ranges(d(2020, 1, 1), d(2020, 1, 1), 1) == [(d(2020, 1, 1), d(2020, 1, 1))]
    with pytest.raises(ValueError, match="chunk_years"):
        chunk_ranges(d(2020, 1, 1), d(2020, 2, 1), 0)
    with pytest.raises(ValueError, match="after end"):
        chunk_ranges(d(2020, 2, 1), d(2020, 1, 1), 1)


def test_a_backfill_in_yearly_chunks_stores_the_same_tables_as_one_run(data_dir, tmp_path, monkeypatch):
    """Each chunk reads its lookback from what the previous chunk stored."""
    import datetime as dt

    from risk_pipeline.cli.backfill import backfill

    config = fast_run_config(horizons=[1, 5])
    config["ops"]["var_backtests"] = {"config": {"backtest_window_days": [20, 60]}}
    selection = " or ".join(f"key:{name}" for name in ("prices", "returns", "portfolio_pnl", "var_estimates",
                                                          "var_backtests"))
    start, end = dt.date(2019, 10, 1), dt.date(2020, 3, 31)
    chunked = backfill(start, end, selection=selection, run_config=config, chunk_years=1)
    assert chunked.success and len(chunked.ranges) == 2
    other = tmp_path / "one_run"
    other.mkdir()
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(other))
    assert backfill(start, end, selection=selection, run_config=config).success
    for table in ("portfolio_pnl", "var_estimates", "var_backtests"):
        sql = f"select * from {table} order by all"
        one, two = query(other, sql), query(data_dir, sql)
        assert len(one) > 0
        pd.testing.assert_frame_equal(two, one, rtol=1e-10, atol=1e-14, obj=table)
    backtests = query(data_dir, "select as_of from var_backtests where as_of >= '2020-01-01' limit 1")
    assert len(backtests) == 1  # the second chunk backtests across the boundary
