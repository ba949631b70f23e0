"""rank_methods: pass quality first, then the capital (mean VaR) needed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.backtests import BacktestInputError
from risk_pipeline.risk.backtests.ranking import RANKING_COLUMNS, rank_methods


def _row(method, conf, h, breaches, expected, p=(0.5, 0.5, 0.5), verdict="pass"):
    return {
        "method": method, "confidence": conf, "horizon_days": h, "as_of": pd.Timestamp("2020-01-02"),
        "backtest_window_days": 250, "n_breaches": breaches, "expected_breaches": expected,
        "kupiec_p": p[0], "christoffersen_p": p[1], "z2_p": p[2], "verdict": verdict,
    }  # fmt: skip


def _backtests():
    rows = []
    for conf, exp in ((0.95, 12.5), (0.99, 2.5)):
        rows.append(_row("ewma", conf, 1, exp, exp))  # right frequency, high capital
        rows.append(_row("historical", conf, 1, exp * 1.04, exp))  # as good, lower capital
        rows.append(_row("parametric_normal", conf, 1, exp * 2, exp, p=(0.001, 0.5, 0.01), verdict="fail"))
        rows.append(_row("monte_carlo", conf, 1, 0, 0.5, verdict="insufficient_data"))
    return pd.DataFrame(rows)


LEVELS = pd.DataFrame(
    {"method": ["ewma", "historical", "parametric_normal", "monte_carlo"], "mean_var": [0.030, 0.025, 0.020, 0.010]}
)


def test_ranking_by_pass_quality_then_capital():
    out = rank_methods(_backtests(), LEVELS)
    assert list(out.columns) == RANKING_COLUMNS
    assert list(out["method"]) == ["historical", "ewma", "parametric_normal", "monte_carlo"]
    assert list(out["rank"]) == [1, 2, 3, 4]
    assert list(out["recommended"]) == [True, False, False, False]
    normal = out.set_index("method").loc["parametric_normal"]
    assert (normal["n_tests"], normal["n_tests_passed"]) == (6, 2)
    assert normal["breach_ratio"] == pytest.approx(2.0)
    assert normal["score"] == pytest.approx(round(2 / 6 - 0.1, 2))
    hist = out.set_index("method").loc["historical"]
    assert hist["breach_ratio"] == pytest.approx(1.04) and hist["score"] == pytest.approx(1.0)
    assert hist["mean_var"] == pytest.approx(0.025)


def test_method_without_sufficient_rows_ranks_last_unscored():
    out = rank_methods(_backtests(), LEVELS).set_index("method")
    mc = out.loc["monte_carlo"]
    assert mc["n_tests"] == 0 and np.isnan(mc["score"]) and not mc["recommended"] and mc["rank"] == 4


def test_breach_ratio_far_from_one_loses_to_lower_pass_count_only_by_its_weight():
    bt = pd.DataFrame(
        [_row("a", 0.99, 1, 2.5, 2.5), _row("a", 0.95, 1, 12.5, 12.5, p=(0.5, 0.01, 0.5), verdict="fail")]
        + [_row("b", 0.99, 1, 0.0, 2.5), _row("b", 0.95, 1, 4.0, 12.5)]
    )
    out = rank_methods(bt, pd.DataFrame({"method": ["a", "b"], "mean_var": [0.02, 0.03]}))
    # a: 5/6 passed, ratio 1 -> 0.83; b: 6/6 passed, ratio 0.267 -> 1 - 0.073 = 0.93
    assert list(out["method"]) == ["b", "a"]
    assert list(out["score"]) == pytest.approx([0.93, 0.83])


def test_bad_inputs():
    with pytest.raises(BacktestInputError, match="z2_p"):
        rank_methods(_backtests().drop(columns="z2_p"), LEVELS)
    with pytest.raises(BacktestInputError, match="historical"):
        rank_methods(_backtests(), LEVELS[LEVELS["method"] != "historical"])
    two_dates = _backtests()
    two_dates.loc[0, "as_of"] = pd.Timestamp("2020-01-03")
    with pytest.raises(BacktestInputError, match="as_of"):
        rank_methods(two_dates, LEVELS)


def _scores(in_mcs: dict[str, list[bool]]) -> pd.DataFrame:
    rows = []
    for method, flags in in_mcs.items():
        for flag in flags:
            rows.append({"method": method, "compared": True, "mcs_computed": True, "in_mcs": flag})
    rows.append({"method": "ewma", "compared": True, "mcs_computed": False, "in_mcs": False})  # no MCS that day
    return pd.DataFrame(rows)


def test_mcs_membership_ranks_before_the_coverage_score_and_the_capital():
    scores = _scores({"ewma": [True, True], "historical": [True, False], "parametric_normal": [True, True]})
    out = rank_methods(_backtests(), LEVELS, scores)
    # in the MCS of both series: parametric_normal (fails coverage) and ewma; then historical
    assert list(out["method"]) == ["ewma", "parametric_normal", "historical", "monte_carlo"]
    ewma = out.set_index("method").loc["ewma"]
    assert (ewma["n_in_mcs"], ewma["n_mcs"], ewma["mcs_share"]) == (2, 2, 1.0)
    assert np.isnan(out.set_index("method").loc["monte_carlo", "mcs_share"])
    # without scores the order is the coverage one
    assert list(rank_methods(_backtests(), LEVELS)["method"]) == ["historical", "ewma", "parametric_normal", "monte_carlo"]
    with pytest.raises(BacktestInputError, match="in_mcs"):
        rank_methods(_backtests(), LEVELS, scores.drop(columns="in_mcs"))
