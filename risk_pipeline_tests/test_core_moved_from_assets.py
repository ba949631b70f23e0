"""What the assets used to compute themselves, now in the core: each against a hand computation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.backtests import TrafficLight, Verdict, kupiec_pof
from risk_pipeline.risk.backtests.traffic_light import TRAFFIC_LIGHT_COLUMNS, basel_rows, red_zone_rows, window_lengths
from risk_pipeline.risk.limits import LimitStatus, classify
from risk_pipeline.risk.portfolio import with_amounts
from risk_pipeline.risk.stress import HeldBook, HistoricalScenario, ScenarioType, UniformEquityScenario, resolve_scenarios
from risk_pipeline.risk.var import METHODS, var_es_grid
from risk_pipeline.risk.var.parameters import METHOD_PARAMS, Method, MethodSettings

SETTINGS = MethodSettings(estimation_window_days=30, monte_carlo_estimation_window_days=60, evt_estimation_window_days=80,
                          evt_exceedances=None, ewma_lambda=0.9, filter="ewma", t_dof="mle", shrinkage="none",
                          n_scenarios=500, seed=3, horizon_scaling="drift", return_type="log")


def test_amounts_are_the_fraction_times_the_previous_close_value():
    dates = pd.bdate_range("2024-01-01", periods=4)
    values = pd.Series([100.0, 110.0, 90.0, 95.0], index=dates)
    estimates = pd.DataFrame({"date": dates[[1, 3, 3]], "var": [0.1, 0.2, 0.3], "es": [0.2, 0.4, 0.5]})
    out = with_amounts(estimates, values.iloc[::-1])  # the order of the values does not matter
    np.testing.assert_allclose(out["var_amount"], [0.1 * 100.0, 0.2 * 90.0, 0.3 * 90.0])
    np.testing.assert_allclose(out["es_amount"], [0.2 * 100.0, 0.4 * 90.0, 0.5 * 90.0])
    first = with_amounts(estimates.assign(date=dates[[0, 1, 2]]), values)
    assert np.isnan(first["var_amount"].iloc[0])  # no previous close: no amount


def test_each_method_gets_its_window_and_exactly_the_parameters_it_accepts():
    assert {m: SETTINGS.window_for(m) for m in ("historical", "monte_carlo", "conditional_evt")} == {
        "historical": 30, "monte_carlo": 60, "conditional_evt": 80}
    assert SETTINGS.params_for("ewma") == {"lam": 0.9, "return_type": "log"}
    assert SETTINGS.params_for("parametric_t") == {"dof": "mle", "horizon_scaling": "drift", "return_type": "log"}
    assert SETTINGS.params_for("monte_carlo") == {"n_scenarios": 500, "seed": 3, "shrinkage": "none"}
    for method in METHODS:
        assert set(SETTINGS.params_for(method)) == set(METHOD_PARAMS[method])
    rng = np.random.default_rng(0)
    returns = pd.Series(rng.normal(0, 0.01, 120), index=pd.bdate_range("2024-01-01", periods=120))
    for method in set(METHODS) - {Method.MONTE_CARLO}:  # every parameter set is accepted by its method
        grid = var_es_grid(returns, method=method, confidences=(0.99,), horizons=(1,),
                           window=SETTINGS.window_for(method), **SETTINGS.params_for(method))
        assert len(grid) == 120 - SETTINGS.window_for(method)
    SETTINGS.validate(list(METHODS), [0.95, 0.99], [1, 10])
    assert SETTINGS.window_setting("conditional_evt") == "evt_estimation_window_days"
    with pytest.raises(ValueError, match="confidence=1.5"):
        SETTINGS.validate(["conditional_evt"], [1.5], [1])


def test_a_historical_scenario_is_reported_only_after_its_window_and_only_when_stored():
    dates = pd.bdate_range("2020-03-10", periods=6)
    book = HeldBook(pd.DataFrame({"AAA": 100.0, "BBB": 50.0}, index=dates), pd.Series(150.0, index=dates),
                    {"AAA": "USD", "BBB": "USD"}, "USD")
    crash = HistoricalScenario("crash", "x", dt.date(2020, 3, 2), dt.date(2020, 3, 12))
    unstored = HistoricalScenario("unstored", "x", dt.date(1987, 10, 1), dt.date(1987, 10, 30))
    down = UniformEquityScenario("down", "x", -0.2)
    days = pd.bdate_range("2020-02-03", "2020-03-12")
    local = pd.DataFrame({"AAA": 0.01, "BBB": -0.02, "SP500": 0.0}, index=days)
    resolved = resolve_scenarios(book, [crash, unstored, down], {"crash": (local, None)}, market="SP500")
    assert [s.scenario for s in resolved.shocks] == ["crash", "down"]
    assert resolved.available[:, 0].tolist() == [False, False, False, True, True, True]  # dates after 2020-03-12
    assert resolved.available[:, 1].all()
    in_window = local.loc["2020-03-02":"2020-03-12"]
    np.testing.assert_allclose(resolved.shocks[0].equity[["AAA", "BBB"]], (1 + in_window).prod()[["AAA", "BBB"]] - 1)
    assert [e.name for e in resolved.episodes] == ["crash"]
    assert resolved.episodes_available[:, 0].tolist() == resolved.available[:, 0].tolist()
    assert {crash.kind, down.kind} == {ScenarioType.HISTORICAL, ScenarioType.UNIFORM_EQUITY}


def test_the_traffic_light_view_selects_99_percent_one_day_rows_of_one_window_and_their_red_ones():
    rows = pd.DataFrame([
        (p, m, c, h, n, "red" if (p, m) == ("a", "ewma") else "green")
        for p in ("a", "b") for m in ("ewma", "historical") for c in (0.95, 0.99) for h in (1, 10) for n in (250, 1000)
    ], columns=["portfolio", "method", "confidence", "horizon_days", "backtest_window_days", "traffic_light"])
    rows = rows.assign(n_obs=250, n_breaches=3, expected_breaches=2.5, plus_factor=0.0, whole_sample=False)
    # whole-sample rows of a 250-day history: not a trailing window, nor the Basel one, though as long
    whole = rows.loc[rows["backtest_window_days"].eq(1000)].assign(backtest_window_days=250, whole_sample=True,
                                                                   traffic_light="red")
    rows = pd.concat([rows, whole], ignore_index=True)
    assert window_lengths(rows) == [250, 1000]
    lights = basel_rows(rows, 250)
    assert list(lights.columns) == TRAFFIC_LIGHT_COLUMNS and len(lights) == 4  # 2 portfolios x 2 methods
    assert red_zone_rows(lights)[["portfolio", "method"]].values.tolist() == [["a", "ewma"]]


def test_the_enums_are_the_stored_strings():
    assert list(METHODS) == ["historical", "parametric_normal", "parametric_t", "cornish_fisher", "ewma", "monte_carlo",
                             "filtered_historical", "conditional_evt"]
    assert kupiec_pof(np.arange(300) % 100 == 0, 0.99).verdict == "pass" == Verdict.PASS  # 3 breaches, 3 expected
    assert kupiec_pof(np.zeros(300, dtype=bool), 0.99).verdict == "fail"  # none: too few (LR 6.0, p 0.014)
    assert [t.value for t in TrafficLight] == ["green", "yellow", "red", "insufficient_data"]
    status = classify(np.array([np.nan, 1.0, 8.5, 11.0]), np.full(4, 10.0), 0.8)
    assert status.tolist() == ["no_data", "within_limits", "warning", "danger"]
    assert [LimitStatus(s) for s in status] == list(LimitStatus)
