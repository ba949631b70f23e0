"""VaR of options books: full revaluation, delta-gamma-vega and delta-only against closed forms."""

import numpy as np
import pytest

from risk_pipeline.risk.options.pricing import OptionInputError, bsm_greeks, bsm_price
from risk_pipeline.risk.options.var import (OptionBook, OptionVarMethod, Scenarios, days_var_es, historical_scenarios,
                                            horizon_years, options_var_es, scenario_pnl, window_scenarios)
from risk_pipeline.risk.var.historical import historical_var_es
from risk_pipeline.risk.var.tail import tail_var_es

WINDOW = 250
RNG = np.random.default_rng(7)
RETURNS = RNG.standard_t(4, size=(WINDOW, 1)) * 0.012
VOL_CHANGES = RNG.normal(0.0, 0.01, size=(WINDOW, 1)) - 2.0 * RETURNS  # vol up when the market falls
SPOT = np.array([4000.0])


def _book(is_call, strike, years, vol, units, rate=0.03, dividend=0.015):
    n = len(is_call)
    return OptionBook(underlying=np.zeros(n, dtype=int), is_call=np.array(is_call), strike=np.array(strike, float),
                      years=np.array(years, float), vol=np.array(vol, float), units=np.array(units, float),
                      rate=np.full(n, rate), dividend=np.full(n, dividend))


@pytest.mark.parametrize("horizon", [1, 5])
def test_full_revaluation_of_a_linear_position_is_linear_historical_var(horizon):
    scenarios = historical_scenarios(RETURNS, VOL_CHANGES, horizon)
    empty = _book([], [], [], [], [])
    held = np.array([25.0])  # 25 units of the index, value 100,000
    result = options_var_es(empty, SPOT, held, scenarios, horizon / 252, (0.95, 0.99))
    linear = historical_var_es(np.append(RETURNS[:, 0], 0.0), window=WINDOW, confidences=(0.95, 0.99),
                               horizons=(horizon,))
    value = float(SPOT[0] * held[0])
    for method in OptionVarMethod:
        np.testing.assert_allclose(result[method][:, 0], linear.var[WINDOW, :, 0] * value, rtol=1e-12)
        np.testing.assert_allclose(result[method][:, 1], linear.es[WINDOW, :, 0] * value, rtol=1e-12)


def test_synthetic_forward_is_revalued_exactly():
    """Long call + short put at one strike is S e^{-qT} - K e^{-rT} whatever the (common) volatility."""
    years, tau, strike, rate, dividend = 30 / 365, 5 / 252, 4100.0, 0.03, 0.015
    book = _book([True, False], [strike] * 2, [years] * 2, [0.2, 0.2], [100.0, -100.0], rate, dividend)
    scenarios = historical_scenarios(RETURNS, VOL_CHANGES, 5)
    pnl = scenario_pnl(book, SPOT, np.zeros(1), scenarios, tau, OptionVarMethod.FULL_REVALUATION)
    s_k = SPOT[0] * (1 + scenarios.returns[:, 0])
    forward_before = SPOT[0] * np.exp(-dividend * years) - strike * np.exp(-rate * years)
    forward_after = s_k * np.exp(-dividend * (years - tau)) - strike * np.exp(-rate * (years - tau))
    np.testing.assert_allclose(pnl, 100.0 * (forward_after - forward_before), rtol=1e-9, atol=1e-7)


def test_delta_hedged_short_straddle_has_no_delta_var_and_a_large_full_revaluation_var():
    years, vol = 20 / 365, 0.2
    book = _book([True, False], [4000.0] * 2, [years] * 2, [vol] * 2, [-1000.0, -1000.0])
    g = bsm_greeks(book.is_call, 4000.0, book.strike, book.years, book.vol, book.rate, book.dividend)
    hedge = np.array([-(g.delta @ book.units)])  # units of the index bought to be delta-flat
    scenarios = historical_scenarios(RETURNS, VOL_CHANGES, 1)
    result = options_var_es(book, SPOT, hedge, scenarios, 1 / 252, (0.99,))
    premium = float(g.price @ -book.units)
    delta_var = result[OptionVarMethod.DELTA_ONLY][0, 0]
    full_var = result[OptionVarMethod.FULL_REVALUATION][0, 0]
    assert abs(delta_var) < 1e-9 * premium
    assert full_var > 0.1 * premium  # a 99% day costs over a tenth of the premium collected
    # the Taylor expansion sees most of it: gamma and vega are the short straddle's risk
    assert result[OptionVarMethod.DELTA_GAMMA_VEGA][0, 0] == pytest.approx(full_var, rel=0.25)


def test_delta_gamma_vega_error_is_third_order_in_the_underlying_move():
    """Without a volatility change the expansion misses only third-order terms; delta-only misses gamma.
    (With one it also misses vanna and volga, second-order cross terms: docs/methods.md.)"""
    book = _book([True, False, True], [3900.0, 4100.0, 4500.0], [0.1, 0.3, 1.0], [0.22, 0.18, 0.16],
                 [50.0, -80.0, 30.0])

    def errors(scale):
        moves = Scenarios(returns=RETURNS[:20] * scale, vol_changes=np.zeros((20, 1)), horizon_days=1)
        full = scenario_pnl(book, SPOT, np.zeros(1), moves, 0.0, OptionVarMethod.FULL_REVALUATION)
        taylor = scenario_pnl(book, SPOT, np.zeros(1), moves, 0.0, OptionVarMethod.DELTA_GAMMA_VEGA)
        first = scenario_pnl(book, SPOT, np.zeros(1), moves, 0.0, OptionVarMethod.DELTA_ONLY)
        return np.max(np.abs(full - taylor)), np.max(np.abs(full - first))

    (taylor_big, first_big), (taylor_small, first_small) = errors(0.1), errors(0.01)
    assert taylor_big / taylor_small > 500  # ten times smaller moves, a thousand times smaller error
    assert 50 < first_big / first_small < 200  # delta-only misses gamma, a second-order term
    assert taylor_small < 0.1 * first_small


def test_an_option_expiring_inside_the_horizon_is_worth_its_payoff():
    book = _book([True, False], [4000.0, 3950.0], [2 / 365, 1 / 365], [0.3, 0.3], [10.0, -10.0])
    scenarios = historical_scenarios(RETURNS, VOL_CHANGES, 5)
    tau = horizon_years(5)  # five business days (a calendar week) pass: both options expire inside the horizon
    pnl = scenario_pnl(book, SPOT, np.zeros(1), scenarios, tau, OptionVarMethod.FULL_REVALUATION)
    s_k = SPOT[0] * (1 + scenarios.returns[:, 0])
    before = bsm_price(book.is_call, SPOT[0], book.strike, book.years, book.vol, book.rate, book.dividend)
    payoff = 10.0 * np.maximum(s_k - 4000.0, 0) - 10.0 * np.maximum(3950.0 - s_k, 0)
    np.testing.assert_allclose(pnl, payoff - before @ book.units, rtol=1e-12, atol=1e-9)
    losses = -pnl
    var, es = tail_var_es(losses, 0.99)
    result = options_var_es(book, SPOT, np.zeros(1), scenarios, tau, (0.99,))
    assert result[OptionVarMethod.FULL_REVALUATION][0] == pytest.approx([float(var), float(es)])


def test_historical_scenarios_sum_volatility_changes_over_the_horizon():
    levels = np.array([[0.20], [0.22], [0.25], [0.21], [0.30]])
    returns = np.array([[0.01], [-0.02], [0.03], [0.0]])
    scenarios = historical_scenarios(returns, np.diff(levels, axis=0), 2)
    np.testing.assert_allclose(scenarios.vol_changes[:, 0], levels[2:, 0] - levels[:-2, 0])
    np.testing.assert_allclose(scenarios.returns[:, 0], [1.01 * 0.98 - 1, 0.98 * 1.03 - 1, 1.03 - 1])


def test_a_gap_in_the_window_is_an_error():
    returns = RETURNS.copy()
    returns[3, 0] = np.nan
    with pytest.raises(OptionInputError, match="missing"):
        historical_scenarios(returns, VOL_CHANGES, 1)


def test_many_days_at_once_equal_one_day_at_a_time():
    rng = np.random.default_rng(5)
    daily = rng.normal(0, 0.01, size=(80, 2))
    changes = rng.normal(0, 0.005, size=(80, 2))
    window, horizon = 40, 3
    returns, vol_changes = window_scenarios(daily, changes, window, horizon)
    spots = np.array([[100.0, 50.0], [101.0, 49.0], [99.0, 51.0]])
    linear = np.array([[5.0, 0.0], [0.0, -3.0], [1.0, 1.0]])
    days = [0, 10, 40]  # windows ending at rows 39, 49 and 79
    book = OptionBook(underlying=np.array([0, 1, 0, 1]), is_call=np.array([True, False, False, True]),
                      strike=np.array([100.0, 50.0, 95.0, 55.0]), years=np.array([0.1, 0.2, 0.05, 0.3]),
                      vol=np.array([0.2, 0.3, 0.25, 0.35]), units=np.array([10.0, -20.0, 5.0, 7.0]),
                      rate=np.full(4, 0.01), dividend=np.zeros(4), day=np.array([0, 1, 2, 2]))
    batched = days_var_es(book, spots, linear, returns[days], vol_changes[days], horizon_years(horizon), (0.99,))
    for k, start in enumerate(days):
        one = historical_scenarios(daily[start:start + window], changes[start:start + window], horizon)
        np.testing.assert_array_equal(returns[start], one.returns)
        np.testing.assert_allclose(vol_changes[start], one.vol_changes, rtol=1e-12, atol=1e-15)
        mask = book.day == k
        single = OptionBook(*(getattr(book, f)[mask] for f in ("underlying", "is_call", "strike", "years", "vol",
                                                                "units", "rate", "dividend")))
        expected = options_var_es(single, spots[k], linear[k], one, horizon_years(horizon), (0.99,))
        for method in OptionVarMethod:
            np.testing.assert_allclose(batched[method][k], expected[method], rtol=1e-10)
