"""Option books under stress: each option repriced under the scenario's spot, volatility and FX moves, against
Black-Scholes-Merton written out here with scipy's normal distribution (an independent closed form)."""

import numpy as np
import pytest
from scipy.stats import norm

from risk_pipeline.risk.options.pricing import OptionInputError
from risk_pipeline.risk.options.stress import stress_pnl
from risk_pipeline.risk.options.var import OptionBook


def _closed_form(is_call, s, k, t, vol, r, q):
    d1 = (np.log(s / k) + (r - q + vol * vol / 2) * t) / (vol * np.sqrt(t))
    d2 = d1 - vol * np.sqrt(t)
    call = s * np.exp(-q * t) * norm.cdf(d1) - k * np.exp(-r * t) * norm.cdf(d2)
    return call if is_call else call - s * np.exp(-q * t) + k * np.exp(-r * t)  # put by parity


def _book(**overrides):
    values = dict(underlying=np.array([0, 0, 1]), is_call=np.array([True, False, True]),
                  strike=np.array([4200.0, 3800.0, 150.0]), years=np.array([30 / 365, 30 / 365, 0.5]),
                  vol=np.array([0.18, 0.24, 0.30]), units=np.array([-1000.0, -1000.0, 500.0 * 0.9]),
                  rate=np.array([0.02, 0.02, 0.01]), dividend=np.array([0.015, 0.015, 0.0]))
    return OptionBook(**{**values, **overrides})


def test_every_option_is_repriced_under_the_spot_volatility_and_fx_shocks():
    spot, hedge = np.array([[4000.0, 140.0]]), np.array([[120.0, -30.0 * 0.9]])
    shocks = np.array([[-0.20, -0.05], [0.10, 0.0], [0.0, 0.0]])
    dvol = np.array([[0.15, 0.05], [-0.05, 0.0], [0.0, 0.10]])
    fx = np.array([[0.0, -0.08], [0.0, 0.0], [0.0, 0.02]])  # the second underlying's currency against the base
    book = _book()
    profit = stress_pnl(book, spot, hedge, shocks, dvol, fx)[0]
    for j in range(3):
        expected = 0.0
        for i in range(3):
            u = book.underlying[i]
            args = (book.is_call[i], book.strike[i], book.years[i])
            rest = (book.rate[i], book.dividend[i])
            before = _closed_form(args[0], spot[0, u], *args[1:], book.vol[i], *rest)
            after = _closed_form(args[0], spot[0, u] * (1 + shocks[j, u]), *args[1:], book.vol[i] + dvol[j, u], *rest)
            expected += book.units[i] * (after * (1 + fx[j, u]) - before)
        expected += sum(hedge[0, u] * spot[0, u] * ((1 + shocks[j, u]) * (1 + fx[j, u]) - 1) for u in range(2))
        assert profit[j] == pytest.approx(expected, rel=1e-10, abs=1e-8)
    assert profit[2] != 0.0  # a volatility and FX move alone changes the value


def test_a_short_straddle_loses_under_a_volatility_rise_alone_and_the_floor_holds_a_large_fall():
    book = OptionBook(underlying=np.array([0, 0]), is_call=np.array([True, False]), strike=np.array([100.0, 100.0]),
                      years=np.array([0.1, 0.1]), vol=np.array([0.2, 0.2]), units=np.array([-1.0, -1.0]),
                      rate=np.array([0.0, 0.0]), dividend=np.array([0.0, 0.0]))
    spot, none = np.array([[100.0]]), np.zeros((1, 1))
    rise, fall = (stress_pnl(book, spot, none, none, np.array([[dv]]), none)[0, 0] for dv in (0.10, -0.5))
    straddle = lambda vol: _closed_form(True, 100.0, 100.0, 0.1, vol, 0, 0) * 2  # noqa: E731 (at the money, r = q = 0)
    assert rise == pytest.approx(straddle(0.2) - straddle(0.3), rel=1e-12) and rise < 0
    assert fall == pytest.approx(straddle(0.2) - straddle(0.01), rel=1e-12)  # floored at 1%
    crash = stress_pnl(book, spot, none, np.array([[-1.5]]), none, none)[0, 0]  # beyond -100%: the spot at ~0
    assert crash == pytest.approx(straddle(0.2) - (100.0 - 100.0 * 1e-6), rel=1e-12)  # the put pays K - S_min


def test_shapes_that_do_not_match_are_named():
    with pytest.raises(OptionInputError, match="volatility changes"):
        stress_pnl(_book(), np.array([[4000.0, 140.0]]), np.zeros((1, 2)), np.zeros((2, 2)), np.zeros((2, 1)),
                   np.zeros((2, 2)))
