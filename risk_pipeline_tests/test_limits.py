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
    evaluate_limits,
    long_measures,
    position_var_es,
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
    ).assign(date=pd.Timestamp("2024-03-01"), method="test")


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
    assert set(report.rows["status"]) == {"no_data"} and set(report.rows["method"]) == {"none"}
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
    assert (m["method"] == "var_estimates").all()
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
    assert (last["status"] == "no_data").all() and (last["method"] == "none").all()
    overall = report.overall.set_index(["date", "portfolio"])["status"]
    assert overall[(dates[0], "book")] == "danger" and overall[(dates[-1], "book")] == "no_data"
    with pytest.raises(LimitInputError, match="duplicate"):
        evaluate_limits(pd.concat([first, first]), LIMITS)


def _returns(n: int = 300, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.standard_t(4, size=(n, 3)) * 0.01, columns=["AAA", "BBB", "CCC"],
                        index=pd.bdate_range("2021-01-01", periods=n))


def _direct(window: pd.DataFrame, exposures: pd.Series, horizon: int, confidence: float) -> tuple[float, float]:
    """Historical simulation with loops: overlapping compounded h-day returns per asset, P&L of the exposures."""
    r = window[list(exposures.index)].to_numpy()
    pnl = np.array([sum(exposures.iloc[i] * (np.prod(1 + r[s:s + horizon, i]) - 1) for i in range(r.shape[1]))
                    for s in range(len(r) - horizon + 1)])
    var = np.quantile(-pnl, confidence)
    return var, (-pnl)[-pnl >= var].mean()


def test_position_var_es_is_the_historical_simulation_of_each_day_s_window():
    """Each row: the exposures it holds on the ``window`` returns before its end; NaN when the window is not
    full, or holds a NaN return of a held symbol (a NaN return of a symbol not held does not matter)."""
    rets = _returns()
    held = pd.DataFrame({"AAA": [1000.0, 1000.0, 0.0, 500.0, 1.0], "BBB": [-400.0, -400.0, 300.0, 200.0, 1.0],
                         "CCC": [0.0, 0.0, 0.0, 0.0, 1.0]})
    ends = np.array([300, 120, 250, 99, 150])
    r = rets.to_numpy().copy()
    r[110, 2] = np.nan  # CCC, in the windows of rows 1 (20..119, CCC not held) and 4 (50..149, held)
    var, es = position_var_es(r, held.to_numpy(), ends, window=100, confidences=(0.95, 0.99), horizons=(1, 3))
    for row in range(3):
        window = rets.iloc[ends[row] - 100:ends[row]]
        for k, h in enumerate((1, 3)):
            for j, c in enumerate((0.95, 0.99)):
                expected = _direct(window, held.iloc[row, :2], h, c)
                assert (var[row, j, k], es[row, j, k]) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(var[3:]).all() and np.isnan(es[3:]).all()


def test_pre_trade_check_before_after_and_breach():
    rets = _returns()
    cfg = LimitsConfig(0.8, {"book": (Limit("var", 1, 0.99, 60.0), Limit("es", 3, 0.99, 200.0))})
    current = pd.Series({"AAA": 1000.0, "BBB": 1000.0})
    small = pre_trade_check(rets, current, pd.Series({"CCC": 10.0}), cfg, portfolio="book", lookback=250)
    assert tuple(small.rows.columns) == PRE_TRADE_COLUMNS
    window = rets.iloc[-250:]
    assert small.rows["value_before"].iloc[0] == pytest.approx(_direct(window, current, 1, 0.99)[0], rel=1e-12)
    after = pd.Series({"AAA": 1000.0, "BBB": 1000.0, "CCC": 10.0})
    assert small.rows["value_after"].iloc[0] == pytest.approx(_direct(window, after, 1, 0.99)[0], rel=1e-12)
    assert small.rows["value_after"].iloc[1] == pytest.approx(_direct(window, after, 3, 0.99)[1], rel=1e-12)
    big = pre_trade_check(rets, current, pd.Series({"AAA": 5000.0}), cfg, portfolio="book", lookback=250)
    assert not big.stays_within_limits and big.status_after == "danger"
    assert (big.rows["value_after"] > big.rows["value_before"]).all()
    hedge = pre_trade_check(rets, current, pd.Series({"AAA": -1000.0, "BBB": -1000.0}), cfg, portfolio="book")
    assert hedge.stays_within_limits and (hedge.rows["value_after"] == 0).all()
    with pytest.raises(LimitInputError, match="ZZZ"):
        pre_trade_check(rets, current, pd.Series({"ZZZ": 1.0}), cfg, portfolio="book")


def test_limits_and_the_var_engine_agree_at_one_day_and_differ_at_three_by_their_h_day_conventions():
    """docs/methods.md, "Limits' historical_positions and the engine's historical": the same positions,
    window and empirical tail; at 1 day the same number to rounding (the engine works on P/S and sums
    the instruments in another order), at h days the limits compound each instrument's return (positions
    held fixed) and the engine compounds the per-unit P&L (its value rebalanced daily). 9 instruments:
    numpy's pairwise sum runs 8 accumulators from 8 terms on, so the orders differ."""
    from risk_pipeline.risk.var.held_positions import held_var_es_grid

    rng = np.random.default_rng(7)
    symbols = [f"S{i}" for i in range(9)]
    dates = pd.bdate_range("2020-01-01", periods=160)
    rets = pd.DataFrame(rng.normal(0.0, 0.015, (160, 9)), index=dates, columns=symbols)
    days = dates[120:]
    exposures = pd.DataFrame(rng.normal(0.0, 1000.0, (len(days), 9)), index=days, columns=symbols)
    values = exposures.sum(axis=1).abs() + 2000.0  # S = V: a long value, amounts = VaR(x) V
    window, conf = 100, (0.95, 0.99)
    grid = held_var_es_grid(exposures, values, rets, method="historical", confidences=conf, horizons=(1, 3),
                            window=window).set_index(["date", "confidence", "horizon_days"])
    var, es = position_var_es(rets.to_numpy(), exposures.to_numpy(), rets.index.get_indexer(days), window=window,
                              confidences=conf, horizons=(1, 3))
    r = rets.to_numpy()
    for d, day in enumerate(days):
        past = r[120 + d - window:120 + d]
        x = past @ exposures.iloc[d].to_numpy() / values.iloc[d]
        for j, c in enumerate(conf):
            engine = grid.loc[(day, c)]
            np.testing.assert_allclose(var[d, j, 0], engine.loc[1, "var_amount"], rtol=1e-13, atol=0)
            np.testing.assert_allclose(es[d, j, 0], engine.loc[1, "es_amount"], rtol=1e-13, atol=0)
            # 3 days, the engine: the compounded per-unit P&L times the value held
            rebalanced = -(x[:-2] + 1) * (x[1:-1] + 1) * (x[2:] + 1) + 1
            q = np.quantile(rebalanced, c)
            np.testing.assert_allclose(engine.loc[3, "var_amount"], q * values.iloc[d], rtol=1e-10)
            np.testing.assert_allclose(engine.loc[3, "es_amount"], rebalanced[rebalanced >= q].mean() * values.iloc[d],
                                       rtol=1e-10)
            # 3 days, the limits: each instrument's compounded return on the positions held (_direct)
            expected = _direct(pd.DataFrame(past), exposures.iloc[d].reset_index(drop=True), 3, c)
            assert (var[d, j, 1], es[d, j, 1]) == pytest.approx(expected, rel=1e-12)
    assert not np.allclose(var[:, :, 1], grid.xs(3, level="horizon_days")["var_amount"].to_numpy().reshape(
        len(days), len(conf)), rtol=1e-3)


def test_books_measured_on_the_same_days_are_evaluated_together_to_the_same_rows():
    """limit_status evaluates the books measured on the same days in one evaluate_limits: the rows, their types
    and their order (the books as measured, then the days, then each book's limits) are those of one evaluation
    per book, whatever days each book has (a book starting later, a book of record without positions one day)."""
    from risk_pipeline.config.portfolios import Portfolio, Position
    from risk_pipeline.defs.limits import STORED_NAMES, _evaluated
    from risk_pipeline.risk.limits import LIMIT_METHOD, Limit, LimitsConfig, evaluate_limits, long_measures

    rng = np.random.default_rng(3)
    days = pd.bdate_range("2022-03-01", periods=6)
    books = {"b": (days, "USD"), "a": (days, "EUR"), "late": (days[3:], "USD"), "c": (days, "USD"),
             "gaps": (days[[0, 2, 5]], "GBP")}
    limits = LimitsConfig(0.8, {name: (Limit("var", 1, 0.99, 100.0), Limit("es", 1, 0.99, 120.0),
                                       Limit("var", 3, 0.99, 150.0)) for name in books})
    measured, expected = [], []
    for name, (dates, currency) in books.items():
        grid = pd.MultiIndex.from_product([dates, (0.99,), (1, 3)], names=["date", "confidence", "horizon_days"])
        amounts = pd.DataFrame({"var_amount": rng.uniform(50, 160, len(grid)), "es_amount": rng.uniform(60, 200, len(grid))},
                               index=grid).reset_index().assign(portfolio=name)
        amounts.loc[1, "var_amount"] = np.nan  # a measure without data: no_data
        portfolio = Portfolio(name, currency, (Position("X", quantity=1.0),))
        measured.append((portfolio, pd.DatetimeIndex(dates), amounts))
        report = evaluate_limits(long_measures(amounts, LIMIT_METHOD), limits, 0.8, dates=pd.DatetimeIndex(dates),
                                 portfolios=[name])
        expected.append(report.rows.rename(columns=STORED_NAMES).assign(base_currency=currency))
    together = _evaluated(measured, limits, 0.8)
    pd.testing.assert_frame_equal(together, pd.concat(expected, ignore_index=True), check_exact=True)
    assert list(dict.fromkeys(together["portfolio"])) == list(books)
