"""A day of a delta-hedged option book re-run alone gives the range run's option rows of var_estimates,
var_backtests, forecast_scores and var_scores (best_method included): its delta_only VaR/ES are 0.0, not a
residue of the last bits whose ratios (Z2, McNeil-Frey, FZ0) read those bits as data (docs/methods.md)."""

import numpy as np
import pandas as pd

from risk_pipeline.defs.backtests import var_backtests
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.options import option_greeks, option_pnl
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.scores import forecast_scores, var_scores
from risk_pipeline.defs.var import var_estimates
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

