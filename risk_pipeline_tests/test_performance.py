"""Portfolio performance statistics against hand-computed values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.performance import (
    PerformanceInputError,
    annualized_return,
    annualized_volatility,
    max_drawdown,
    performance_statistics,
    sharpe_ratio,
)


def _series(values):
    return pd.Series(values, index=pd.bdate_range("2021-01-04", periods=len(values)))


def test_max_drawdown_of_a_hand_made_path():
    # wealth 1 -> 1.10 -> 0.88 -> 0.968 -> 1.1616 -> 0.92928 : peaks 1.10 then 1.1616
    r = _series([0.10, -0.20, 0.10, 0.20, -0.20])
    dd = max_drawdown(r)
    # first fall 1 - 0.88/1.10 = 0.2; second fall 1 - 0.92928/1.1616 = 0.2 (tie: the first wins)
    assert dd.max_drawdown == pytest.approx(0.2, abs=1e-15)
    assert dd.peak_date == dt.date(2021, 1, 4) and dd.trough_date == dt.date(2021, 1, 5)
    deeper = _series([0.10, -0.20, 0.10, 0.20, -0.30, -0.10])
    dd = max_drawdown(deeper)
    # peak 1.1616, trough 1.1616 * 0.7 * 0.9 -> fall 1 - 0.63 = 0.37
    assert dd.max_drawdown == pytest.approx(0.37, abs=1e-12)
    assert dd.peak_date == dt.date(2021, 1, 7) and dd.trough_date == dt.date(2021, 1, 11)


def test_a_fall_from_the_start_has_no_peak_date_and_a_rising_path_no_drawdown():
    dd = max_drawdown(_series([-0.5, 0.5]))
    assert dd.max_drawdown == pytest.approx(0.5) and dd.peak_date is None and dd.trough_date == dt.date(2021, 1, 4)
    rising = max_drawdown(_series([0.01, 0.0, 0.02]))
    assert rising.max_drawdown == 0.0 and rising.peak_date is None and rising.trough_date is None
    assert max_drawdown(np.array([0.1, -0.5])).max_drawdown == pytest.approx(0.5)


def test_annualized_volatility_of_a_constant_variance_series():
    # +-1% alternating: sample std = 0.01 * sqrt(n / (n - 1)), times sqrt(252)
    n = 500
    r = np.where(np.arange(n) % 2 == 0, 0.01, -0.01)
    expected = 0.01 * np.sqrt(n / (n - 1)) * np.sqrt(252)
    assert annualized_volatility(r) == pytest.approx(expected, rel=1e-12)
    assert annualized_volatility(r, periods_per_year=12) == pytest.approx(expected / np.sqrt(21), rel=1e-12)


def test_annualized_return_compounds():
    # 252 days of the same daily return compound to exactly one year's growth
    daily = 1.10 ** (1 / 252) - 1
    assert annualized_return(np.full(252, daily)) == pytest.approx(0.10, rel=1e-12)
    assert annualized_return(np.full(126, daily)) == pytest.approx(0.10, rel=1e-12)
    assert annualized_return(np.array([0.21, 0.0])) == pytest.approx(1.21**126 - 1, rel=1e-9)


def test_sharpe_ratio_by_hand():
    r = np.array([0.01, 0.02, -0.01, 0.03])
    mean, std = 0.0125, np.sqrt(((r - 0.0125) ** 2).sum() / 3)
    assert sharpe_ratio(r) == pytest.approx(mean / std * np.sqrt(252), rel=1e-12)
    rf_daily = 1.05 ** (1 / 252) - 1
    assert sharpe_ratio(r, risk_free=0.05) == pytest.approx((mean - rf_daily) / std * np.sqrt(252), rel=1e-12)
    assert sharpe_ratio(np.zeros(10)) == 0.0
    assert sharpe_ratio(np.full(10, 0.001)) == np.inf


def test_statistics_bundle_agrees_with_the_parts():
    rng = np.random.default_rng(3)
    r = _series(rng.normal(0.0005, 0.01, 300))
    stats = performance_statistics(r, risk_free=0.02)
    assert stats.n_days == 300 and stats.start == dt.date(2021, 1, 4)
    assert stats.annualized_volatility == pytest.approx(r.std() * np.sqrt(252), rel=1e-12)
    assert stats.total_return == pytest.approx((1 + r).prod() - 1, rel=1e-12)
    assert stats.sharpe_ratio == sharpe_ratio(r.to_numpy(), 0.02)
    wealth = (1 + r).cumprod()
    assert stats.max_drawdown == pytest.approx(max(0.0, (1 - wealth / np.maximum(wealth.cummax(), 1.0)).max()), rel=1e-12)


@pytest.mark.parametrize(
    "values, message",
    [([0.01, np.nan], "non-finite value at position 1"), ([0.01, -1.0], "100% or more"), ([0.01], "at least 2")],
)
def test_bad_returns_are_named(values, message):
    with pytest.raises(PerformanceInputError, match=message):
        performance_statistics(_series(values))
    with pytest.raises(PerformanceInputError, match="periods_per_year"):
        annualized_return([0.01], periods_per_year=0)
