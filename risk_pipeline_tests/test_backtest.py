"""Frequency backtests: Kupiec POF/TUFF, Christoffersen, conditional coverage, Basel traffic light."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from risk_pipeline.risk.backtests import (
    BacktestInputError,
    basel_traffic_light,
    christoffersen_independence,
    conditional_coverage,
    kupiec_pof,
    kupiec_tuff,
)
from risk_pipeline.risk.backtests.coverage import traffic_light_zones


def _hits(n: int, days: list[int]) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[days] = True
    return out


def _xlogx(n: float, d: float) -> float:
    return 0.0 if n == 0 else n * math.log(n / d)


# ------------------------------------------------------------------ Kupiec POF


def test_kupiec_250_obs_5_breaches_by_hand():
    res = kupiec_pof(_hits(250, [3, 70, 71, 150, 249]), 0.99)
    by_hand = -2 * (245 * math.log(0.99) + 5 * math.log(0.01) - 245 * math.log(245 / 250) - 5 * math.log(5 / 250))
    assert res.statistic == pytest.approx(by_hand, rel=1e-12)
    assert res.statistic == pytest.approx(1.9568, abs=1e-4)
    assert res.p_value == pytest.approx(stats.chi2.sf(by_hand, 1), rel=1e-10)
    assert (res.n_obs, res.n_breaches, res.breach_rate) == (250, 5, 0.02)
    assert res.expected_breaches == pytest.approx(2.5)
    assert res.verdict == "pass"


def test_kupiec_rejects_too_many_breaches():
    res = kupiec_pof(_hits(250, list(range(0, 250, 20))), 0.99)  # 13 breaches, 2.5 expected
    assert res.p_value < 1e-4 and res.verdict == "fail"


@pytest.mark.parametrize("n", [1, 50, 250, 1000])
def test_kupiec_zero_and_all_breaches_closed_forms(n):
    p = 0.01
    none = kupiec_pof(np.zeros(n, bool), 0.99)
    every = kupiec_pof(np.ones(n, bool), 0.99)
    assert none.statistic == pytest.approx(-2 * n * math.log(1 - p), rel=1e-12)
    assert every.statistic == pytest.approx(-2 * n * math.log(p), rel=1e-12)
    assert np.isfinite([none.p_value, every.p_value]).all()


def test_kupiec_empty_and_too_few_observations():
    empty = kupiec_pof(np.zeros(0, bool), 0.99)
    assert (empty.statistic, empty.p_value, empty.verdict) == (0.0, 1.0, "insufficient_data")
    assert kupiec_pof(np.zeros(99, bool), 0.99).insufficient_data
    assert not kupiec_pof(np.zeros(100, bool), 0.99).insufficient_data
    assert kupiec_pof(np.zeros(19, bool), 0.95).insufficient_data
    assert not kupiec_pof(np.zeros(20, bool), 0.95).insufficient_data


def test_kupiec_accepts_0_1_numbers_and_rejects_bad_input():
    assert kupiec_pof([0, 1, 0, 0], 0.9).n_breaches == 1
    with pytest.raises(BacktestInputError, match=r"breaches\[1\]"):
        kupiec_pof([0, 2, 0], 0.99)
    with pytest.raises(BacktestInputError, match="confidence"):
        kupiec_pof([0, 1], 1.0)
    with pytest.raises(BacktestInputError, match="1-D"):
        kupiec_pof(np.zeros((2, 2)), 0.99)


# ------------------------------------------------------------------ Christoffersen


def _independence_by_loop(hits: np.ndarray) -> float:
    n = {(0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 0}
    for t in range(1, len(hits)):
        n[(int(hits[t - 1]), int(hits[t]))] += 1
    n00, n01, n10, n11 = n[(0, 0)], n[(0, 1)], n[(1, 0)], n[(1, 1)]
    total = n00 + n01 + n10 + n11
    ll1 = _xlogx(n00, n00 + n01) + _xlogx(n01, n00 + n01) + _xlogx(n10, n10 + n11) + _xlogx(n11, n10 + n11)
    ll0 = _xlogx(n00 + n10, total) + _xlogx(n01 + n11, total)
    return 2 * (ll1 - ll0)


@pytest.mark.parametrize("seed", range(6))
def test_christoffersen_matches_explicit_transition_counting(seed):
    rng = np.random.default_rng(seed)
    hits = rng.random(300) < 0.03
    hits[100:104] = True  # a cluster
    res = christoffersen_independence(hits)
    assert res.statistic == pytest.approx(_independence_by_loop(hits), rel=1e-10, abs=1e-12)
    assert res.p_value == pytest.approx(stats.chi2.sf(res.statistic, 1), rel=1e-10)
    assert res.n00 + res.n01 + res.n10 + res.n11 == 299


def test_christoffersen_hand_counts():
    # 0 0 1 1 0 0 0 1 0 0: n00=4, n01=2, n10=2, n11=1
    res = christoffersen_independence(_hits(10, [2, 3, 7]))
    assert (res.n00, res.n01, res.n10, res.n11) == (4, 2, 2, 1)
    assert res.pi01 == pytest.approx(2 / 6) and res.pi11 == pytest.approx(1 / 3)
    assert res.statistic == pytest.approx(_independence_by_loop(_hits(10, [2, 3, 7])))


def test_christoffersen_clustered_breaches_rejected():
    hits = np.zeros(500, bool)
    for start in (50, 200, 350):
        hits[start : start + 4] = True
    assert christoffersen_independence(hits).verdict == "fail"


def test_christoffersen_edge_cases_are_finite():
    none = christoffersen_independence(np.zeros(250, bool))
    assert (none.statistic, none.p_value, none.verdict) == (0.0, 1.0, "pass")
    every = christoffersen_independence(np.ones(250, bool))
    assert every.statistic == 0.0 and every.p_value == 1.0
    last_only = christoffersen_independence(_hits(250, [249]))  # no transition out of a breach
    assert (last_only.n10, last_only.n11, last_only.pi11) == (0, 0, 0.0)
    assert last_only.statistic == pytest.approx(_independence_by_loop(_hits(250, [249])), abs=1e-12)
    assert np.isfinite(last_only.p_value)
    single = christoffersen_independence(np.ones(1, bool))
    assert single.insufficient_data and single.verdict == "insufficient_data" and single.p_value == 1.0


def test_conditional_coverage_is_sum_with_two_degrees_of_freedom():
    hits = _hits(250, [10, 11, 12, 100, 180, 181])
    cc = conditional_coverage(hits, 0.99)
    pof, ind = kupiec_pof(hits, 0.99), christoffersen_independence(hits)
    assert cc.statistic == pytest.approx(pof.statistic + ind.statistic, rel=1e-12)
    assert cc.p_value == pytest.approx(stats.chi2.sf(cc.statistic, 2), rel=1e-10)
    assert conditional_coverage(np.zeros(1, bool), 0.99).insufficient_data


# ------------------------------------------------------------------ Basel traffic light

# Basel Committee (1996), Table 2: 250 observations at 99%.
BASEL_TABLE = [
    (0, "green", 0.00, 8.11),
    (1, "green", 0.00, 28.58),
    (2, "green", 0.00, 54.32),
    (3, "green", 0.00, 75.81),
    (4, "green", 0.00, 89.22),
    (5, "yellow", 0.40, 95.88),
    (6, "yellow", 0.50, 98.63),
    (7, "yellow", 0.65, 99.60),
    (8, "yellow", 0.75, 99.89),
    (9, "yellow", 0.85, 99.97),
    (10, "red", 1.00, 99.99),
    (11, "red", 1.00, 100.00),
    (15, "red", 1.00, 100.00),
]


@pytest.mark.parametrize(("k", "zone", "plus", "cum_pct"), BASEL_TABLE)
def test_traffic_light_reproduces_published_basel_table(k, zone, plus, cum_pct):
    res = basel_traffic_light(k, 250, 0.99)
    assert res.zone == zone
    assert res.plus_factor == pytest.approx(plus, abs=1e-12)
    assert round(100 * res.cumulative_probability, 2) == pytest.approx(cum_pct, abs=1e-9)
    assert res.p_value == pytest.approx(stats.binom.sf(k - 1, 250, 0.01), rel=1e-9)


@pytest.mark.parametrize(("n", "conf"), [(250, 0.95), (500, 0.99), (1000, 0.975), (120, 0.99)])
def test_traffic_light_other_sizes_use_binomial_cutoffs(n, conf):
    p = 1 - conf
    zones = [basel_traffic_light(k, n, conf) for k in range(n // 4)]
    for k, res in enumerate(zones):
        cdf = stats.binom.cdf(k, n, p)
        expected = "green" if cdf < 0.95 else ("red" if cdf >= 0.9999 else "yellow")
        assert res.zone == expected, k
        if res.zone == "yellow":
            assert 0.40 <= res.plus_factor <= 0.85
    plus = [z.plus_factor for z in zones]
    assert plus == sorted(plus)  # more exceptions never lower the plus factor
    assert {z.zone for z in zones} == {"green", "yellow", "red"}


def test_traffic_light_zones_of_many_windows_equal_each_window_alone():
    # a backtest table's thousands of windows are evaluated once per distinct (breaches, observations)
    # pair: every zone, plus factor and probability is the one of that window alone, bit for bit
    rng = np.random.default_rng(7)
    n = rng.choice([25, 100, 250, 999, 1000], 500)
    k = rng.binomial(n, 0.02)
    for p in (0.01, 0.05):
        zone, plus, cdf = traffic_light_zones(k, n, p)
        alone = [traffic_light_zones(k[i : i + 1], n[i : i + 1], p) for i in range(n.size)]
        assert zone.tolist() == [int(a[0][0]) for a in alone]
        assert plus.tolist() == [float(a[1][0]) for a in alone]
        assert cdf.tolist() == [float(a[2][0]) for a in alone]
        assert cdf.tolist() == pytest.approx(stats.binom.cdf(k, n, p).tolist(), rel=1e-9)


def test_traffic_light_too_few_observations_and_bad_input():
    res = basel_traffic_light(0, 50, 0.99)
    assert (res.zone, res.plus_factor, res.verdict) == ("insufficient_data", 0.0, "insufficient_data")
    with pytest.raises(BacktestInputError, match="n_breaches"):
        basel_traffic_light(11, 10, 0.99)
    with pytest.raises(BacktestInputError, match="n_obs"):
        basel_traffic_light(1, -3, 0.99)


# ------------------------------------------------------------------ TUFF


def test_tuff_by_hand():
    p, v = 0.01, 11
    res = kupiec_tuff(_hits(250, [10, 100]), 0.99)
    by_hand = -2 * math.log(p * (1 - p) ** (v - 1)) + 2 * math.log((1 / v) * (1 - 1 / v) ** (v - 1))
    assert res.first_breach == 11 and not res.censored
    assert res.statistic == pytest.approx(by_hand, rel=1e-12)
    assert res.p_value == pytest.approx(stats.chi2.sf(by_hand, 1), rel=1e-10)


def test_tuff_first_day_breach_and_censored_sample():
    first_day = kupiec_tuff(_hits(250, [0]), 0.99)
    assert first_day.statistic == pytest.approx(-2 * math.log(0.01), rel=1e-12)
    assert first_day.verdict == "fail"
    none = kupiec_tuff(np.zeros(250, bool), 0.99)
    assert none.censored and none.first_breach == 0
    assert none.statistic == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-12)
    late = kupiec_tuff(_hits(250, [99]), 0.99)  # first breach exactly when expected: LR ~ 0
    assert late.statistic < 0.5 and late.verdict == "pass"
    empty = kupiec_tuff(np.zeros(0, bool), 0.99)
    assert (empty.statistic, empty.p_value, empty.insufficient_data) == (0.0, 1.0, True)
