"""Every regulatory threshold the pipeline applies, at each side of its boundary: just below, at
and just above, with the values written out here from the regulation (not read from the code's
constants, so a threshold changed in the code fails a test).

Sources: Basel Framework MAR32 (desk backtesting and the P&L attribution test: the Spearman
correlation metric is MAR32.38, the Kolmogorov-Smirnov metric MAR32.41), MAR33 (capital: m_c =
1.5 + plus factor), MAR99 (the plus-factor table of the bank-wide backtest); Basel Committee,
"Supervisory framework for the use of backtesting" (January 1996), Table 2 (the traffic light of
``var_backtests``). The project's own thresholds (the 5% test level of the verdicts, the limit
statuses) are tested the same way with the document that sets them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from risk_pipeline.risk.backtests.base import BacktestOutcome
from risk_pipeline.risk.backtests.coverage import basel_traffic_light
from risk_pipeline.risk.backtests.traffic_light import basel_zone_thresholds
from risk_pipeline.risk.frtb import backtest_eligible, capital_charge, pla_zone, plus_factor, trailing_exceptions
from risk_pipeline.risk.limits import classify

STEP = 1e-3  # "just below / just above" a threshold


@pytest.mark.parametrize("spearman, ks, zone", [
    # MAR32.42 green: Spearman above 0.80 and KS below 0.09 (both strict)
    (0.80 + STEP, 0.05, "green"), (0.80, 0.05, "amber"), (0.80 - STEP, 0.05, "amber"),
    (0.95, 0.09 - STEP, "green"), (0.95, 0.09, "amber"), (0.95, 0.09 + STEP, "amber"),
    # red: Spearman below 0.70 or KS above 0.12 (strict): at either threshold the desk is amber
    (0.70 + STEP, 0.05, "amber"), (0.70, 0.05, "amber"), (0.70 - STEP, 0.05, "red"),
    (0.95, 0.12 - STEP, "amber"), (0.95, 0.12, "amber"), (0.95, 0.12 + STEP, "red"),
    # either metric alone is enough for red; both are needed for green
    (0.70 - STEP, 0.09 - STEP, "red"), (0.80 + STEP, 0.12 + STEP, "red"),
])
def test_pla_zones_at_each_side_of_the_spearman_and_ks_thresholds(spearman, ks, zone):
    """MAR32.42 (the metrics: Spearman correlation MAR32.38, Kolmogorov-Smirnov MAR32.41): green
    when Spearman > 0.80 and KS < 0.09, red when Spearman < 0.70 or KS > 0.12, amber otherwise."""
    assert pla_zone(np.array([spearman]), np.array([ks]))[0] == zone


@pytest.mark.parametrize("e99, e975, eligible", [
    (11, 0, True), (12, 0, True), (13, 0, False),
    (0, 29, True), (0, 30, True), (0, 31, False),
    (12, 30, True), (13, 31, False),
])
def test_desk_backtesting_limits_at_each_side(e99, e975, eligible):
    """MAR32 desk backtesting: a desk with more than 12 exceptions at 99% or more than 30 at 97.5%
    over the most recent 250 business days is not eligible for the internal models approach."""
    assert bool(backtest_eligible(np.array([e99]), np.array([e975]))[0]) is eligible


def test_desk_exceptions_are_counted_over_the_most_recent_250_days():
    """MAR32: the exception count covers 250 business days: an exception 250 days before the
    count's day is out of the window, 249 days before is in."""
    hits = np.zeros(400)
    hits[100] = 1.0
    counts = trailing_exceptions(hits)
    assert counts[100 + 249] == 1  # the window ending 249 days later still holds it
    assert counts[100 + 250] == 0  # one day later it has left
    assert np.isnan(counts[248]) and counts[249] == 1  # no count before 250 known days


@pytest.mark.parametrize("k, zone, plus", [
    (0, "green", 0.0), (4, "green", 0.0), (5, "amber", 0.20), (6, "amber", 0.26), (7, "amber", 0.33),
    (8, "amber", 0.38), (9, "amber", 0.42), (10, "red", 0.50), (11, "red", 0.50),
])
def test_bank_multiplier_is_1_5_plus_the_mar99_plus_factor(k, zone, plus):
    """MAR33 / MAR99 table of the bank-wide backtest (99% VaR, 250 days): green 0-4 exceptions, amber
    5-9 with plus factors 0.20, 0.26, 0.33, 0.38, 0.42, red 10 or more with 0.50; m_c = 1.5 + plus
    factor multiplies the 60-day average IMCC in C_A = max(IMCC, m_c x average)."""
    result = plus_factor(k)
    assert (result.zone, result.plus_factor) == (zone, plus)
    imcc = np.full(60, 100.0)
    _, charge = capital_charge(imcc, np.full(60, 1.5 + result.plus_factor))
    assert charge[-1] == pytest.approx(100.0 * (1.5 + plus), rel=1e-12)


def test_the_stored_multiplier_is_1_5_plus_the_plus_factor_of_the_day(monkeypatch):
    """MAR33 / MAR99 through frtb_capital's rows with the shipped frtb.yaml: the bank-wide exception
    count of each day (4, 5, 9, 10: each side of the amber and red boundaries) sets the day's
    multiplier 1.5 + plus factor, and C_A = multiplier x the 60-day average of a constant IMCC."""
    from risk_pipeline.config.frtb import load_frtb_config
    from risk_pipeline.defs.frtb import capital_rows
    from risk_pipeline.risk.frtb import CLASS_ALL, RISK_CLASSES

    monkeypatch.delenv("RISK_PIPELINE_FRTB", raising=False)
    settings = load_frtb_config()
    dates = pd.bdate_range("2021-01-04", periods=64)
    es = pd.DataFrame([{"date": d, "risk_class": c, "imes": 100.0} for d in dates for c in (CLASS_ALL, *RISK_CLASSES)])
    counts = np.r_[np.zeros(60), 4, 5, 9, 10]
    desk = pd.DataFrame({"date": dates, "exceptions_99": counts, "backtest_zone": None})
    rows = capital_rows(settings, es, desk).set_index("exceptions_99").iloc[-4:]
    imcc = 0.5 * 100.0 + 0.5 * 100.0 * len(RISK_CLASSES)  # rho = 0.5 (MAR33.15)
    expected = {4: 1.5, 5: 1.70, 9: 1.92, 10: 2.00}
    for k, multiplier in expected.items():
        assert rows.loc[k, "capital_multiplier"] == pytest.approx(multiplier, abs=1e-12), k
        assert rows.loc[k, "capital_charge"] == pytest.approx(multiplier * imcc, rel=1e-12), k


def test_the_capital_charge_is_the_spot_imcc_once_it_exceeds_the_multiplied_average():
    """MAR33: C_A = max(IMCC_{t-1}, m_c x IMCC_avg) on each side of the switch (m_c = 1.5)."""
    for spot, expected in ((149.0, 150.0), (150.0, 150.0), (151.0, 151.0)):
        # 59 days at 100 and the spot day: the average includes the spot
        imcc = np.r_[np.full(59, 100.0), spot]
        average, charge = capital_charge(imcc, np.full(60, 1.5))
        assert average[-1] == pytest.approx((5900.0 + spot) / 60)
        assert charge[-1] == pytest.approx(max(spot, 1.5 * (5900.0 + spot) / 60))
    high = np.r_[np.full(59, 100.0), 200.0]
    assert capital_charge(high, np.full(60, 1.5))[1][-1] == 200.0  # 200 > 1.5 x 101.67


@pytest.mark.parametrize("k, zone, plus", [
    (0, "green", 0.0), (4, "green", 0.0), (5, "yellow", 0.40), (6, "yellow", 0.50), (7, "yellow", 0.65),
    (8, "yellow", 0.75), (9, "yellow", 0.85), (10, "red", 1.00), (11, "red", 1.00),
])
def test_the_1996_traffic_light_of_var_backtests_at_each_zone_boundary(k, zone, plus):
    """Basel Committee (1996), Table 2 (99% VaR, 250 observations): green 0-4 exceptions, yellow 5-9
    with plus factors 0.40, 0.50, 0.65, 0.75, 0.85, red 10 or more with 1.00; the zones are the
    cumulative binomial probabilities below 95% and from 99.99% (para. 30 and Table 1)."""
    result = basel_traffic_light(k, 250, 0.99)
    assert (result.zone, result.plus_factor) == (zone, pytest.approx(plus, abs=1e-12))
    assert result.cumulative_probability == pytest.approx(stats.binom.cdf(k, 250, 0.01), rel=1e-12)
    assert basel_zone_thresholds(250) == (5, 10)


def test_the_traffic_light_cut_offs_are_95_and_99_99_percent_cumulative_probability():
    """Basel (1996) Table 1: 4 exceptions have P(X <= 4) = 89.2% (green), 5 have 95.9% (yellow);
    9 have 99.97% (yellow), 10 have 99.99% and more (red); X ~ Bin(250, 1%). The same cut-offs
    set the zones of other windows, e.g. 500 days at 99%."""
    cdf = stats.binom.cdf(np.arange(12), 250, 0.01)
    assert cdf[4] < 0.95 <= cdf[5] and cdf[9] < 0.9999 <= cdf[10]
    green_max = int(np.flatnonzero(stats.binom.cdf(np.arange(40), 500, 0.01) < 0.95)[-1])
    red_min = int(np.flatnonzero(stats.binom.cdf(np.arange(40), 500, 0.01) >= 0.9999)[0])
    assert basel_traffic_light(green_max, 500, 0.99).zone == "green"
    assert basel_traffic_light(green_max + 1, 500, 0.99).zone == "yellow"
    assert basel_traffic_light(red_min - 1, 500, 0.99).zone == "yellow"
    assert basel_traffic_light(red_min, 500, 0.99).zone == "red"


def test_coverage_tests_need_one_expected_breach():
    """docs/methods.md (backtests): coverage tests need n_obs x (1 - c) >= 1 expected breach: 100
    observations at 99% (20 at 95%) are enough, one fewer is insufficient_data."""
    assert basel_traffic_light(0, 100, 0.99).zone == "green"
    assert basel_traffic_light(0, 99, 0.99).zone == "insufficient_data"
    assert basel_traffic_light(0, 20, 0.95).zone == "green"
    assert basel_traffic_light(0, 19, 0.95).zone == "insufficient_data"


@pytest.mark.parametrize("p, verdict", [(0.05 - STEP, "fail"), (0.05, "pass"), (0.05 + STEP, "pass")])
def test_a_test_fails_below_the_5_percent_level(p, verdict):
    """docs/methods.md: a test rejects (verdict fail) when its p-value is below 5%."""
    assert BacktestOutcome(statistic=1.0, p_value=p, insufficient_data=False).verdict == verdict


@pytest.mark.parametrize("value, status", [
    (79_999.0, "within_limits"), (80_000.0, "warning"), (80_001.0, "warning"),
    (99_999.0, "warning"), (100_000.0, "warning"), (100_001.0, "danger"), (np.nan, "no_data"),
])
def test_limit_status_at_each_side_of_the_warning_level_and_the_limit(value, status):
    """risk_pipeline/config/limits.yaml: danger when the measure is strictly above the limit,
    warning from warning_fraction (80%) of it, exactly at the limit still a warning."""
    assert classify(np.array([value]), np.array([100_000.0]), 0.8)[0] == status


def test_a_method_is_in_the_model_confidence_set_while_its_p_value_exceeds_the_size():
    """Hansen, Lunde and Nason (2011), "The Model Confidence Set", Econometrica 79: the set keeps the
    methods whose MCS p-value exceeds its size; pipeline.yaml's size 0.10 is the "90% MCS" the
    summary and the report name. A method's membership at each side of its own p-value."""
    from risk_pipeline.config.settings import section
    from risk_pipeline.risk.backtests.scoring import McsSettings, compare_methods

    assert float(section("scores")["mcs_size"]) == 0.10 and McsSettings().size == 0.10
    rng = np.random.default_rng(3)
    n = 60
    base = rng.normal(1.0, 0.3, n)
    fz0 = pd.DataFrame({"a": base, "b": base + rng.normal(0.05, 0.2, n), "c": base + rng.normal(0.3, 0.2, n)})

    def members(size: float) -> pd.Series:
        out = compare_methods(fz0, 0.1 * fz0, np.arange(n), np.array([n - 1]), np.array([True]), (n,),
                              McsSettings(size=size, reps=500))
        return out.set_index("method")[["mcs_p", "in_mcs"]]

    p = members(0.10).loc["b", "mcs_p"]
    assert 0.0 < p < 1.0
    assert bool(members(p - STEP).loc["b", "in_mcs"]) is True
    assert bool(members(p).loc["b", "in_mcs"]) is False  # at its p-value the method leaves the set
    assert bool(members(p + STEP).loc["b", "in_mcs"]) is False
    assert members(p + STEP).loc["a", "in_mcs"]  # the best method (p = 1) always stays
