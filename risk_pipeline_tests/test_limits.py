"""Tests of risk_pipeline.risk.limits: statuses at the thresholds, overall status, pre-trade check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.limits import (
    LIMIT_STATUS_COLUMNS,
    MEASURE_COLUMNS,
    OVERALL_STATUS_COLUMNS,
    PRE_TRADE_COLUMNS,
    Limit,
    LimitInputError,
    LimitsConfig,
    historical_position_var_es,
    evaluate_limits,
    long_measures,
    pre_trade_check,
)

LIMITS = LimitsConfig(
    warning_fraction=0.8,
    portfolios={
        "book": (Limit("var", 1, 0.99, 100.0), Limit("es", 1, 0.99, 200.0), Limit("var", 3, 0.99, 1000.0)),
        "other": (Limit("var", 1, 0.99, 50.0),),
    },
)


def _measures(var1: float, es1: float, var3: float = 10.0, other: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "portfolio": ["book", "book", "book", "other"],
            "measure": ["var", "es", "var", "var"],
            "horizon_days": [1, 1, 3, 1],
            "confidence": [0.99, 0.99, 0.99, 0.99],
            "value": [var1, es1, var3, other],
        }
    ).assign(date=pd.Timestamp("2024-03-01"), source="test")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (79.999, "within_limits"),
        (80.0, "warning"),  # exactly the warning fraction of the limit
        (99.0, "warning"),
        (100.0, "warning"),  # exactly at the limit: not yet a breach
        (100.001, "danger"),
        (float("nan"), "no_data"),
    ],
)
def test_status_at_below_and_above_thresholds(value, expected):
    report = evaluate_limits(_measures(value, 10.0), LIMITS)
    row = report.rows[(report.rows.portfolio == "book") & (report.rows.measure == "var")
                      & (report.rows.horizon_days == 1)].iloc[0]
    assert row["status"] == expected
    if not np.isnan(value):
        assert row["utilization"] == pytest.approx(value / 100.0)


def test_overall_is_worst_status_and_schema_is_fixed():
    report = evaluate_limits(_measures(50.0, 170.0, var3=1200.0), LIMITS)
    assert tuple(report.rows.columns) == LIMIT_STATUS_COLUMNS
    assert tuple(report.overall.columns) == OVERALL_STATUS_COLUMNS
    book = report.overall.set_index("portfolio").loc["book"]
    assert book["status"] == "danger" and book["n_warning"] == 1 and book["n_danger"] == 1
    assert book["max_utilization"] == pytest.approx(1.2)
    assert report.overall.set_index("portfolio").loc["other", "status"] == "within_limits"


def test_a_day_without_prices_gives_no_rows_and_the_fixed_schema():
    """No date to evaluate (a holiday's run: measures but no day of the range) is no rows, not an error."""
    report = evaluate_limits(_measures(50.0, 10.0), LIMITS, dates=pd.DatetimeIndex([]))
    assert report.rows.empty and report.overall.empty
    assert tuple(report.rows.columns) == LIMIT_STATUS_COLUMNS
    assert tuple(report.overall.columns) == OVERALL_STATUS_COLUMNS
    assert report.overall["n_limits"].dtype == np.int64


def test_a_book_without_any_measure_yet_has_no_data_on_every_limit():
    """A book whose history does not fill the window yet has no measure at all (a frame of object
    columns): each of its limits is no_data on each day, nothing raises."""
    days = pd.DatetimeIndex(["2024-03-01", "2024-03-04"])
    report = evaluate_limits(pd.DataFrame(columns=list(MEASURE_COLUMNS)), LIMITS, dates=days, portfolios=["book"])
    assert len(report.rows) == 2 * len(LIMITS.portfolios["book"])
    assert set(report.rows["status"]) == {"no_data"} and set(report.rows["source"]) == {"none"}
    assert list(report.overall["status"]) == ["no_data", "no_data"]


def test_warning_fraction_override_and_missing_measure():
    measures = _measures(60.0, 10.0).iloc[[0, 1, 3]]  # the 3-day limit has no measure
    report = evaluate_limits(measures, LIMITS, warning_fraction=0.5)
    statuses = report.rows.set_index(["portfolio", "measure", "horizon_days"])["status"]
    assert statuses[("book", "var", 1)] == "warning"
    assert statuses[("book", "var", 3)] == "no_data"
    assert report.overall.set_index("portfolio").loc["book", "status"] == "warning"


def test_unknown_portfolio_and_bad_limit_raise():
    with pytest.raises(LimitInputError, match="ghost"):
        evaluate_limits(_measures(1, 1).assign(portfolio="ghost").iloc[:1], LIMITS)
    with pytest.raises(LimitInputError, match="amount"):
        Limit("var", 1, 0.99, -5.0)
    with pytest.raises(LimitInputError, match="measure"):
        Limit("cvar", 1, 0.99, 5.0)


def test_long_measures_from_var_estimates_rows():
    est = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-01"]), "portfolio": ["book", "book"],
                        "confidence": [0.99, 0.95], "horizon_days": [1, 1], "var_amount": [90.0, 1.0],
                        "es_amount": [150.0, 2.0]})
    m = long_measures(est, "var_estimates")
    assert sorted(zip(m.measure, m.confidence, m.value)) == [("es", 0.95, 2.0), ("es", 0.99, 150.0),
                                                             ("var", 0.95, 1.0), ("var", 0.99, 90.0)]
    assert (m["source"] == "var_estimates").all()
    with pytest.raises(LimitInputError, match="es_amount"):
        long_measures(est.drop(columns="es_amount"), "var_estimates")


def test_rows_per_date_and_a_date_without_measures_has_no_data():
    first = _measures(50.0, 170.0, var3=1200.0)
    second = _measures(120.0, 10.0).assign(date=pd.Timestamp("2024-03-04"))
    dates = pd.DatetimeIndex(["2024-03-01", "2024-03-04", "2024-03-05"])
    report = evaluate_limits(pd.concat([first, second]), LIMITS, dates=dates)
    assert len(report.rows) == 3 * 4  # dates x limits of both portfolios
    statuses = report.rows.set_index(["date", "portfolio", "measure", "horizon_days"])["status"]
    assert statuses[(pd.Timestamp("2024-03-01"), "book", "var", 3)] == "danger"
    assert statuses[(pd.Timestamp("2024-03-04"), "book", "var", 1)] == "danger"
    assert statuses[(pd.Timestamp("2024-03-04"), "book", "var", 3)] == "within_limits"
    last = report.rows.loc[report.rows["date"] == dates[-1]]
    assert (last["status"] == "no_data").all() and (last["source"] == "none").all()
    overall = report.overall.set_index(["date", "portfolio"])["status"]
    assert overall[(dates[0], "book")] == "danger" and overall[(dates[-1], "book")] == "no_data"
    with pytest.raises(LimitInputError, match="duplicate"):
        evaluate_limits(pd.concat([first, first]), LIMITS)


def _returns(n: int = 300, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.standard_t(4, size=(n, 3)) * 0.01, columns=["AAA", "BBB", "CCC"],
                        index=pd.bdate_range("2021-01-01", periods=n))


def test_historical_position_var_es_matches_direct_computation():
    """1-day: quantile of -(r @ E); 3-day: overlapping compounded returns built with a loop."""
    rets = _returns()
    e = pd.Series({"AAA": 1000.0, "BBB": -400.0})
    var1, es1 = historical_position_var_es(rets, e, horizon_days=1, confidence=0.99)
    losses = -(rets[["AAA", "BBB"]].to_numpy() @ e.to_numpy())
    assert var1 == pytest.approx(np.quantile(losses, 0.99))
    assert es1 == pytest.approx(losses[losses >= np.quantile(losses, 0.99)].mean())
    r = rets[["AAA", "BBB"]].to_numpy()
    pnl3 = [sum(e.iloc[i] * (np.prod(1 + r[s:s + 3, i]) - 1) for i in range(2)) for s in range(len(r) - 2)]
    var3, _ = historical_position_var_es(rets, e, horizon_days=3, confidence=0.99)
    assert var3 == pytest.approx(np.quantile(-np.array(pnl3), 0.99))


def test_pre_trade_check_before_after_and_breach():
    rets = _returns()
    cfg = LimitsConfig(0.8, {"book": (Limit("var", 1, 0.99, 60.0), Limit("es", 3, 0.99, 200.0))})
    current = pd.Series({"AAA": 1000.0, "BBB": 1000.0})
    small = pre_trade_check(rets, current, pd.Series({"CCC": 10.0}), cfg, portfolio="book", lookback=250)
    assert tuple(small.rows.columns) == PRE_TRADE_COLUMNS
    window = rets.iloc[-250:]
    var_before, _ = historical_position_var_es(window, current, horizon_days=1, confidence=0.99)
    assert small.rows["value_before"].iloc[0] == pytest.approx(var_before)
    after = pd.Series({"AAA": 1000.0, "BBB": 1000.0, "CCC": 10.0})
    assert small.rows["value_after"].iloc[0] == pytest.approx(
        historical_position_var_es(window, after, horizon_days=1, confidence=0.99)[0])
    big = pre_trade_check(rets, current, pd.Series({"AAA": 5000.0}), cfg, portfolio="book", lookback=250)
    assert not big.stays_within_limits and big.status_after == "danger"
    assert (big.rows["value_after"] > big.rows["value_before"]).all()
    hedge = pre_trade_check(rets, current, pd.Series({"AAA": -1000.0, "BBB": -1000.0}), cfg, portfolio="book")
    assert hedge.stays_within_limits and (hedge.rows["value_after"] == 0).all()
    with pytest.raises(LimitInputError, match="ZZZ"):
        pre_trade_check(rets, current, pd.Series({"ZZZ": 1.0}), cfg, portfolio="book")
