"""forecast_scores and var_scores materialized in process: a new day equals the backfill."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.defs.scores import FAMILY_KEYS, score_matrices
from risk_pipeline.risk.backtests.scoring import fz0_loss, tick_loss
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, CORE_ASSET_NAMES, fast_run_config, materialize_range, query

SCORE_ASSETS = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys}
                <= set(CORE_ASSET_NAMES) | {"forecast_scores", "var_scores"}]
CONFIG = fast_run_config(estimation_window_days=30, methods=["historical", "parametric_normal", "ewma", "filtered_historical"],
                         horizons=[1, 5])
CONFIG["ops"]["var_backtests"] = {"config": {"backtest_window_days": [20, 60]}}
CONFIG["ops"]["var_scores"] = {"config": {"backtest_window_days": [20, 60], "mcs_reps": 200}}


def test_scores_of_one_new_day_equal_the_backfill_and_the_closed_forms(data_dir, tmp_path, monkeypatch):
    materialize_range("2020-06-01", "2020-12-30", CONFIG, assets=SCORE_ASSETS)
    materialize_range("2020-12-31", "2020-12-31", CONFIG, assets=SCORE_ASSETS)
    sql = "select * from var_scores where as_of = '2020-12-31' order by all"
    incremental = query(data_dir, sql)
    incremental_forecasts = query(data_dir, "select * from forecast_scores where date = '2020-12-31' order by all")

    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(other))
    materialize_range("2020-06-01", "2020-12-31", CONFIG, assets=SCORE_ASSETS)
    backfill = query(other, sql)
    pd.testing.assert_frame_equal(incremental_forecasts,
                                  query(other, "select * from forecast_scores where date = '2020-12-31' order by all"))
    pd.testing.assert_frame_equal(incremental, backfill, rtol=1e-9, atol=1e-12)
    assert set(backfill["backtest_window_days"]) == {20, 60}
    # 2020-12-31 is a month end and the run's last day: an MCS wherever methods are compared
    assert (backfill["mcs_computed"] == backfill.groupby(["portfolio", "confidence", "horizon_days",
                                                          "backtest_window_days"])["compared"].transform("any")).all()
    assert not backfill.loc[backfill["horizon_days"].eq(5) & backfill["backtest_window_days"].eq(20), "compared"].any()
    one_day = backfill.loc[backfill["horizon_days"].eq(1) & backfill["backtest_window_days"].eq(60)]
    assert one_day["compared"].all() and one_day.groupby(["portfolio", "confidence"])["in_mcs"].any().all()

    # a mid-month day of the backfill: means and DM, no MCS
    mid = query(other, "select * from var_scores where as_of = '2020-12-15'")
    assert len(mid) and not mid["mcs_computed"].any() and mid["mcs_p"].isna().all()

    # the stored scores are the closed forms of the stored forecasts and realized losses
    scores = query(other, "select * from forecast_scores where horizon_days = 1")
    pnl = query(other, "select date, portfolio, simple_return from portfolio_pnl")
    merged = scores.merge(pnl, on=["date", "portfolio"])
    assert (merged["date"] == merged["forecast_date"]).all()
    np.testing.assert_allclose(merged["loss"], -merged["simple_return"], rtol=1e-12)
    np.testing.assert_allclose(merged["tick_loss"], tick_loss(merged["loss"], merged["var"], merged["confidence"].iloc[0])
                               if merged["confidence"].nunique() == 1 else
                               [tick_loss(x, v, c) for x, v, c in zip(merged["loss"], merged["var"], merged["confidence"])])
    np.testing.assert_allclose(merged["fz0_loss"], [fz0_loss(x, v, e, c) for x, v, e, c in
                                                     zip(merged["loss"], merged["var"], merged["es"], merged["confidence"])])
    window = scores.loc[scores["portfolio"].eq("balanced") & scores["confidence"].eq(0.99)
                        & scores["method"].eq("ewma") & (scores["date"] <= "2020-12-31")].sort_values("date").tail(60)
    row = backfill.loc[backfill["portfolio"].eq("balanced") & backfill["confidence"].eq(0.99)
                       & backfill["method"].eq("ewma") & backfill["horizon_days"].eq(1)
                       & backfill["backtest_window_days"].eq(60)].iloc[0]
    assert row["n_obs"] == 60
    np.testing.assert_allclose(row["mean_fz0_loss"], window["fz0_loss"].mean(), rtol=1e-12)


def test_the_summary_prints_the_mcs_verdict_of_every_book(data_dir, capsys):
    from risk_pipeline.cli import main

    materialize_range("2020-06-01", "2020-12-31", CONFIG, assets=SCORE_ASSETS)
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    part = out.split("Model Confidence Set")[1]
    assert "in the 90% MCS (best first)" in part and "worse" in part and "left out" in part
    assert "balanced" in part and "held" in part and "2020-12-31" in part
    rows = [line.split() for line in part.splitlines() if line.split()[:1] in (["balanced"], ["held"])]
    assert rows and all(row[3:5] == ["60", "60"] and row[-1] == "-" for row in rows)  # days, obs; nothing left out


def _scores_frame(seed=2):
    """forecast_scores rows of two families, rows shuffled, a method missing on some dates."""
    rng = np.random.default_rng(seed)
    rows = []
    for portfolio, h in (("p1", 1), ("p2", 5)):
        for i, day in enumerate(pd.bdate_range("2020-01-01", periods=40)):
            for method in ("zeta", "alpha", "mid"):
                if method == "mid" and i < 7:
                    continue
                rows.append({"date": day + pd.offsets.BDay(h - 1), "forecast_date": day.date(), "portfolio": portfolio,
                             "method": method, "confidence": 0.99, "horizon_days": h,
                             "tick_loss": rng.random(), "fz0_loss": rng.normal()})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_score_matrices_equal_the_pivots_of_each_family():
    scores = _scores_frame()
    families = list(score_matrices(scores))
    groups = list(scores.groupby(FAMILY_KEYS, sort=True))
    assert [k for k, *_ in families] == [k for k, _ in groups]
    for (_, fz0, tick, end_day), (_, group) in zip(families, groups):
        expected_fz0 = group.pivot(index="forecast_date", columns="method", values="fz0_loss").sort_index()
        expected_tick = group.pivot(index="forecast_date", columns="method", values="tick_loss")
        expected_tick = expected_tick.reindex(expected_fz0.index)
        pd.testing.assert_frame_equal(fz0, expected_fz0, check_names=False, check_exact=True)
        pd.testing.assert_frame_equal(tick, expected_tick, check_names=False, check_exact=True)
        first = group.groupby("forecast_date")["date"].first().reindex(expected_fz0.index)
        np.testing.assert_array_equal(end_day, first.to_numpy())
    assert fz0["mid"].isna().sum() == 7


def test_score_matrices_name_the_family_of_a_score_stored_twice():
    scores = _scores_frame()
    twice = pd.concat([scores, scores.iloc[[5]]], ignore_index=True)
    family = twice.iloc[5]
    with pytest.raises(ValueError, match=f"'portfolio': '{family['portfolio']}'.*stored twice"):
        list(score_matrices(twice))
