"""Backtests and scores of a zero forecast (a VaR/ES within the rounding of the book's revaluation, risk.var.rounding):
coverage counts it (a loss above a zero VaR is a breach); the ES tests (Z2, McNeil-Frey) of a window holding it and
its FZ0 score are null; the comparison leaves its method out instead of ranking it; every other number is the one
the same series gives without it."""

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.backtests.ranking import rank_methods
from risk_pipeline.risk.backtests.scoring import McsSettings, compare_methods, forecast_score_columns
from risk_pipeline.risk.backtests.table import backtest_table

DATES = pd.bdate_range("2019-01-01", periods=420)
RNG = np.random.default_rng(11)
RETURNS = pd.Series(RNG.standard_t(4, DATES.size) * 0.01, index=DATES)
ES_TESTS = ["z2_stat", "z2_p", "mcneil_frey_stat", "mcneil_frey_p"]
ZERO_AT = 300  # the day whose forecast is zero


def _forecasts(zero: bool) -> pd.DataFrame:
    vol = 0.01 * (1 + 0.3 * np.sin(np.arange(DATES.size) / 20))
    frame = pd.DataFrame({"var": 2.6 * vol, "es": 3.1 * vol}, index=DATES)
    if zero:
        frame.iloc[ZERO_AT] = 0.0
    return frame


def test_a_zero_forecast_is_a_breach_and_the_es_tests_of_its_windows_are_null_the_others_unchanged():
    as_of = DATES[[250, 299, 300, 350, 419]]
    kwargs = dict(confidence=0.99, horizon_days=1, as_of=as_of, windows=(50, 250), seed=4, n_sims=300)
    before = backtest_table(RETURNS, _forecasts(False), **kwargs)
    after = backtest_table(RETURNS, _forecasts(True), **kwargs)
    days = DATES.get_indexer(after["as_of"])
    holding = (days >= ZERO_AT) & (days - after["backtest_window_days"].to_numpy() < ZERO_AT)
    assert holding.sum() == 4 and (~holding).sum() == 6  # as of 300 and 350 both windows, as of 419 the 250 days
    assert after.loc[holding, ES_TESTS].isna().all().all()
    assert after.loc[~holding, ES_TESTS].notna().all().all()
    # windows without the zero forecast: the same rows, to rounding (window sums are differences of prefix sums over
    # every row, and the duration test's Newton run solves every window at once); with it, the ES tests aside, the
    # coverage columns count the day as a breach (its loss is positive)
    pd.testing.assert_frame_equal(after.loc[~holding], before.loc[~holding], check_exact=False, rtol=1e-9, atol=0)
    assert -RETURNS.iloc[ZERO_AT] > 0 and -RETURNS.iloc[ZERO_AT] < _forecasts(False)["var"].iloc[ZERO_AT]
    np.testing.assert_array_equal(after.loc[holding, "n_breaches"], before.loc[holding, "n_breaches"] + 1)
    assert after.loc[holding, "kupiec_p"].notna().all() and (after.loc[holding, "verdict"] != "").all()


def test_the_fz0_score_of_a_zero_forecast_is_null_its_tick_loss_kept_and_its_method_not_ranked():
    columns = [forecast_score_columns(RETURNS, _forecasts(zero), confidence=0.99, horizon_days=1)
               for zero in (False, True)]
    fz0 = pd.DataFrame({"plain": columns[0]["fz0_loss"], "zero": columns[1]["fz0_loss"],
                        "wide": forecast_score_columns(RETURNS, _forecasts(False) * 1.4, confidence=0.99,
                                                       horizon_days=1)["fz0_loss"]})
    tick = pd.DataFrame({"plain": columns[0]["tick_loss"], "zero": columns[1]["tick_loss"],
                         "wide": forecast_score_columns(RETURNS, _forecasts(False) * 1.4, confidence=0.99,
                                                        horizon_days=1)["tick_loss"]})
    loss = -RETURNS.iloc[ZERO_AT]
    assert np.isnan(fz0.loc[ZERO_AT, "zero"]) and fz0.drop(index=ZERO_AT)["zero"].equals(
        fz0.drop(index=ZERO_AT)["plain"])
    assert tick.loc[ZERO_AT, "zero"] == pytest.approx((1 - 0.01) * loss, rel=1e-15)  # (1{loss > 0} - alpha) loss
    end_pos = np.arange(DATES.size)
    as_of_pos = np.array([299, 300, 419])
    kwargs = dict(mcs_as_of=np.ones(3, bool), backtest_window_days=(100, 250), mcs=McsSettings(reps=200))
    out = compare_methods(fz0, tick, end_pos, as_of_pos, **kwargs).set_index(["as_of", "backtest_window_days",
                                                                               "method"])
    without = compare_methods(fz0.drop(columns="zero"), tick.drop(columns="zero"), end_pos, as_of_pos,
                              **kwargs).set_index(["as_of", "backtest_window_days", "method"])
    for (a, days, method), row in out.iterrows():
        holds = as_of_pos[a] >= ZERO_AT > as_of_pos[a] - days
        if method == "zero" and holds:  # null, left out, its tick loss over all its observations
            assert np.isnan(row["mean_fz0_loss"]) and not row["compared"] and not row["in_mcs"]
            assert row["not_compared_reason"] == "undefined_score" and np.isnan(row["dm_p"])
            assert row["n_obs"] == days and row["mean_tick_loss"] == pytest.approx(
                tick["zero"].iloc[as_of_pos[a] - days + 1: as_of_pos[a] + 1].mean(), rel=1e-12)
            continue
        if method == "zero":
            assert row["compared"] and row["mean_fz0_loss"] == pytest.approx(out.loc[(a, days, "plain"),
                                                                                     "mean_fz0_loss"], rel=1e-12)
            continue
        if holds:  # the other methods: what a comparison without the zero forecast's method gives
            other = without.loc[(a, days, method)]
            assert row["best_method"] == other["best_method"] and row["compared"] == other["compared"]
            assert row["in_mcs"] == other["in_mcs"] and row["comparison_obs"] == other["comparison_obs"]
            for c in ("mean_fz0_loss", "mean_tick_loss", "fz0_diff_to_best", "dm_stat", "dm_p"):
                assert row[c] == pytest.approx(other[c], rel=1e-9, abs=1e-12)
    assert set(out.xs("zero", level="method")["not_compared_reason"]) == {"undefined_score", ""}


def test_the_ranking_counts_a_null_z2_as_no_test_not_as_a_failed_one():
    rows = pd.DataFrame([
        {"method": m, "n_breaches": 3, "expected_breaches": 2.5, "kupiec_p": 0.6, "christoffersen_p": 0.7,
         "z2_p": z2, "verdict": "pass"} for m, z2 in (("a", 0.4), ("b", np.nan))])
    out = rank_methods(rows, pd.DataFrame({"method": ["a", "b"], "mean_var": [1.0, 1.0]})).set_index("method")
    assert (out.loc["a", "n_tests"], out.loc["a", "n_tests_passed"]) == (3, 3)
    assert (out.loc["b", "n_tests"], out.loc["b", "n_tests_passed"]) == (2, 2)
    assert out.loc["a", "score"] == out.loc["b", "score"]  # a null test is not a failed one
