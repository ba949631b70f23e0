"""A day of a delta-hedged option book re-run alone gives the range run's option rows of var_estimates,
var_backtests, forecast_scores and var_scores (best_method included): its delta_only VaR/ES are 0.0, not a
residue of the last bits whose ratios (Z2, McNeil-Frey, FZ0) read those bits as data (docs/methods.md). And a
McNeil-Frey window after an expiry eve's residual of 6.6e8 is the test of its own breaches, in the range run and
alone (docs/methods.md, McNeil-Frey on a history holding a huge residual)."""

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.defs.backtests import BacktestConfig, forecast_series, var_backtests
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.options import option_greeks, option_pnl
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.scores import forecast_scores, var_scores
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.risk.backtests import mcneil_frey
from risk_pipeline.risk.backtests.table import DEFAULT_N_SIMS, backtest_observations
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import materialize_range, module_lake, query
from risk_pipeline_tests.test_options_assets import HEADER

START, DAY = "2020-03-02", "2020-10-30"
POSITIONS = HEADER + """hedged,c1,call,SP500,3300,2020-09-18,2020-03-02,-10,100,USD
hedged,p1,put,SP500,2800,2020-09-18,2020-03-02,-10,100,USD
hedged,c2,call,SP500,3700,2020-12-18,2020-09-18,-10,100,USD
hedged,p2,put,SP500,3100,2020-12-18,2020-09-18,-10,100,USD
"""
WINDOWS = [20, 60]
TABLES = {"var_estimates": "date", "var_backtests": "as_of", "forecast_scores": "date", "var_scores": "as_of"}
ASSETS = [prices, returns, portfolio_pnl, option_greeks, option_pnl, var_estimates, var_backtests, forecast_scores,
          var_scores]


def _config(positions: str) -> dict:
    options = {"positions_file": positions, "delta_hedged_books": ["hedged"], "ewma_window_days": 40,
               "estimation_window_days": 60, "horizons": [1, 3]}
    return {"ops": {"prices": {"config": {"extra_symbols": ["SP500"]}},
                    "option_greeks": {"config": options}, "option_pnl": {"config": options},
                    "var_estimates": {"config": {"methods": ["historical"], "confidences": [0.95, 0.99],
                                                 "horizons": [1], "estimation_window_days": 20, "options": options}},
                    "var_backtests": {"config": {"backtest_window_days": WINDOWS}},
                    "var_scores": {"config": {"backtest_window_days": WINDOWS, "mcs_reps": 200}}}}


def _rows(data) -> dict[str, pd.DataFrame]:
    """The option book's rows of each table on DAY, sorted."""
    out = {}
    for table, day in TABLES.items():
        frame = query(data, f"select * from {table} where portfolio = 'hedged' and {day} = '{DAY}'")
        out[table] = frame.sort_values([c for c in frame.columns if frame[c].dtype == object or c in (
            "confidence", "horizon_days", "backtest_window_days", "forecast_date")], ignore_index=True)
    return out


def test_a_day_of_a_hedged_option_book_re_run_alone_gives_the_range_runs_backtests_and_best_method(tmp_path):
    (tmp_path / "options.csv").write_text(POSITIONS)
    config = _config(str(tmp_path / "options.csv"))
    with module_lake(tmp_path, SMALL_PORTFOLIOS):
        data = tmp_path / "data"
        assert materialize_range(START, DAY, config, assets=ASSETS).success
        ranged = _rows(data)
        assert materialize_range(DAY, DAY, config, assets=ASSETS).success
        alone = _rows(data)
    var = ranged["var_estimates"]
    delta = var.loc[var["method"] == "delta_only"]
    assert len(delta) == 4 and (delta[["var_amount", "es_amount"]].to_numpy() == 0.0).all()  # 2 conf x 2 horizons
    assert (var.loc[var["method"] != "delta_only", "var_amount"] > 1.0).all()  # the other methods: real risk
    backtests = ranged["var_backtests"]
    zero = backtests["method"] == "delta_only"
    assert backtests.loc[zero, ["z2_stat", "z2_p", "mcneil_frey_stat", "mcneil_frey_p"]].isna().all().all()
    assert backtests.loc[~zero, ["z2_p", "mcneil_frey_p"]].notna().all().all()
    assert (backtests.loc[zero, "n_breaches"] > 0).all()  # the book loses on some days: breaches of a zero VaR
    scores = ranged["var_scores"]
    delta_scores = scores.loc[scores["method"] == "delta_only"]
    assert len(delta_scores) and delta_scores["mean_fz0_loss"].isna().all() and not delta_scores["compared"].any()
    assert set(delta_scores["not_compared_reason"]) == {"undefined_score"}
    assert delta_scores["mean_tick_loss"].notna().all()
    best = set(scores["best_method"]) - {""}  # empty: no method compared (a 3-day window of 20 days: 6 observations)
    assert best and best <= {"full_revaluation", "delta_gamma_vega"}
    # DQ's regressor is the VaR in USD (1e4): its X'X over a window, a difference of prefix sums over the rows a run
    # reads, keeps about 10 digits (a statistic 3e-6 apart seen); a property of DQ on amounts, not of zero forecasts
    dq = ["dq_stat", "dq_p"]
    np.testing.assert_allclose(alone["var_backtests"][dq], backtests[dq], rtol=1e-4)
    alone["var_backtests"], ranged["var_backtests"] = (f.drop(columns=dq) for f in (alone["var_backtests"], backtests))
    for table, frame in ranged.items():
        assert len(frame), table
        pd.testing.assert_frame_equal(alone[table], frame, check_exact=False, rtol=1e-9, atol=1e-12, obj=table)
    for column in ("best_method", "compared", "in_mcs", "not_compared_reason"):
        assert alone["var_scores"][column].tolist() == scores[column].tolist()
    np.testing.assert_array_equal(alone["var_backtests"]["verdict"], backtests["verdict"])



EXPIRY_START, EXPIRY_DAY = "2019-09-23", "2020-03-23"
EXPIRY_POSITIONS = HEADER + """hedged,c1,call,SP500,3520,2020-02-21,2019-09-23,-10,100,USD
hedged,p1,put,SP500,3100,2020-02-21,2019-09-23,-10,100,USD
hedged,c2,call,SP500,3450,2020-04-17,2020-02-21,-10,100,USD
hedged,p2,put,SP500,3250,2020-04-17,2020-02-21,-10,100,USD
"""


def test_mcneil_frey_after_an_expiry_eve_is_the_test_of_the_windows_own_breaches_range_or_alone(tmp_path):
    """The 3-day forecast of 2020-02-20 is of options expiring the next day, 4% and 8% out of the money: its
    ES - VaR is 8e-5 USD, while its loss (the book as managed: the strangle written on 2020-02-21, then the
    fall of 2020-02-24) is 49,842 USD, a McNeil-Frey residual of 6.6e8. The 20-day window of 2020-03-23 holds
    the 5 breaches after it; its statistic was the difference of prefix sums of squares of 4e17 (1.98, p 0.04,
    in both runs), and is now the test of its own 5 breaches (2.17, p 0.006), range run or day alone."""
    (tmp_path / "options.csv").write_text(EXPIRY_POSITIONS)
    config = _config(str(tmp_path / "options.csv"))
    config["ops"] = {name: ops for name, ops in config["ops"].items() if name != "var_scores"}
    config["ops"]["var_backtests"] = {"config": {"backtest_window_days": [20]}}
    assets = [prices, returns, portfolio_pnl, option_greeks, option_pnl, var_estimates, var_backtests]
    keys = ["method", "confidence", "horizon_days"]
    columns = keys + ["n_breaches", "mcneil_frey_stat", "mcneil_frey_p"]
    row = f"portfolio = 'hedged' and as_of = '{EXPIRY_DAY}'"
    with module_lake(tmp_path, SMALL_PORTFOLIOS):
        data = tmp_path / "data"
        assert materialize_range(EXPIRY_START, EXPIRY_DAY, config, assets=assets).success
        ranged = query(data, f"select * from var_backtests where {row}").sort_values(keys, ignore_index=True)
        series = next(s for s in forecast_series(pd.Timestamp(EXPIRY_DAY).date(), pd.Timestamp(EXPIRY_DAY).date(), 200,
                                                 ["hedged"]) if s.keys[1:] == ("full_revaluation", 0.95, 3))
        assert materialize_range(EXPIRY_DAY, EXPIRY_DAY, config, assets=assets).success
        alone = query(data, f"select * from var_backtests where {row}").sort_values(keys, ignore_index=True)
    obs = backtest_observations(series.realized, series.forecasts, 3, series.day_number_offset, amounts=True)
    eve = obs.dates == pd.Timestamp("2020-02-20")
    assert 0.0 < (obs.es - obs.var)[eve][0] < 1e-3 and obs.loss[eve][0] > 1e4  # a residual above 1e7
    last = series.realized.index.get_loc(pd.Timestamp(EXPIRY_DAY))
    window = (obs.end_pos > last - 20) & (obs.end_pos <= last)
    assert not window[eve][0]
    own = mcneil_frey(obs.loss[window], obs.var[window], obs.es[window], n_boot=DEFAULT_N_SIMS, seed=BacktestConfig().seed,
                      keys=obs.keys[window])
    stored = ranged.loc[(ranged["method"] == "full_revaluation") & (ranged["horizon_days"] == 3) & (ranged["confidence"] == 0.95)]
    assert stored["n_breaches"].item() == own.n_exceedances == 5
    assert stored["mcneil_frey_stat"].item() == pytest.approx(own.statistic, rel=1e-12)
    assert stored["mcneil_frey_p"].item() == own.p_value
    pd.testing.assert_frame_equal(alone[columns], ranged[columns], check_exact=False, rtol=1e-9)
