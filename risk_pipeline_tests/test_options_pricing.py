"""Black-Scholes-Merton prices and Greeks against QuantLib, put-call parity, finite differences."""

import datetime as dt

import numpy as np
import pytest

from risk_pipeline.risk.options.pricing import OptionInputError, bsm_greeks, bsm_price, cash_greeks

ql = pytest.importorskip("QuantLib")

TODAY = dt.date(2021, 3, 15)
CASES = [  # (is_call, spot, strike, days, vol, rate, dividend)
    (True, 100.0, 100.0, 30, 0.20, 0.01, 0.015),
    (False, 100.0, 100.0, 30, 0.20, 0.01, 0.015),
    (True, 3900.0, 4200.0, 7, 0.35, 0.045, 0.013),
    (False, 3900.0, 3500.0, 1, 0.60, 0.0, 0.0),
    (True, 50.0, 30.0, 365, 0.15, -0.005, 0.03),
    (False, 50.0, 80.0, 730, 0.45, 0.05, 0.0),
    (True, 120.0, 80.0, 3, 0.10, 0.02, 0.02),
]


def _quantlib(is_call, spot, strike, days, vol, rate, dividend):
    today = ql.Date(TODAY.day, TODAY.month, TODAY.year)
    ql.Settings.instance().evaluationDate = today
    counter = ql.Actual365Fixed()
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, dividend, counter)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rate, counter)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, counter)))
    option = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike),
                              ql.EuropeanExercise(today + days))
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option


@pytest.mark.parametrize("case", CASES)
def test_price_and_greeks_match_quantlib(case):
    is_call, spot, strike, days, vol, rate, dividend = case
    reference = _quantlib(*case)
    mine = bsm_greeks(is_call, spot, strike, days / 365.0, vol, rate, dividend)
    for name, expected in (("price", reference.NPV()), ("delta", reference.delta()), ("gamma", reference.gamma()),
                           ("vega", reference.vega()), ("theta", reference.theta()), ("rho", reference.rho())):
        assert float(getattr(mine, name)) == pytest.approx(expected, rel=1e-8, abs=1e-8), name
    assert float(bsm_price(is_call, spot, strike, days / 365.0, vol, rate, dividend)) == pytest.approx(
        reference.NPV(), rel=1e-8, abs=1e-8)


def test_vectorised_book_matches_one_at_a_time():
    columns = [np.array(c) for c in zip(*CASES)]
    is_call, spot, strike, days, vol, rate, dividend = columns
    book = bsm_greeks(is_call, spot, strike, days / 365.0, vol, rate, dividend)
    for i, case in enumerate(CASES):
        assert book.price[i] == pytest.approx(_quantlib(*case).NPV(), rel=1e-8, abs=1e-8)
        assert book.theta[i] == pytest.approx(_quantlib(*case).theta(), rel=1e-8, abs=1e-8)


@pytest.mark.parametrize("strike", [60.0, 95.0, 100.0, 140.0])
@pytest.mark.parametrize("years", [1 / 365, 0.1, 2.0])
def test_put_call_parity(strike, years):
    spot, vol, rate, dividend = 100.0, 0.3, 0.03, 0.01
    call = bsm_greeks(True, spot, strike, years, vol, rate, dividend)
    put = bsm_greeks(False, spot, strike, years, vol, rate, dividend)
    forward_value = spot * np.exp(-dividend * years) - strike * np.exp(-rate * years)
    assert call.price - put.price == pytest.approx(forward_value, abs=1e-10)
    assert call.delta - put.delta == pytest.approx(np.exp(-dividend * years), abs=1e-12)
    assert call.gamma == pytest.approx(put.gamma, rel=1e-12)
    assert call.vega == pytest.approx(put.vega, rel=1e-12)
    assert call.rho - put.rho == pytest.approx(strike * years * np.exp(-rate * years), rel=1e-10)


@pytest.mark.parametrize("is_call", [True, False])
def test_greeks_are_the_derivatives_of_the_price(is_call):
    spot, strike, years, vol, rate, dividend = 100.0, 105.0, 0.25, 0.25, 0.02, 0.01
    g = bsm_greeks(is_call, spot, strike, years, vol, rate, dividend)

    def price(**kw):
        args = dict(spot=spot, strike=strike, years=years, vol=vol, rate=rate, dividend=dividend) | kw
        return float(bsm_price(is_call, **args))

    hs, hv, ht, hr = 1e-3, 1e-5, 1e-6, 1e-6
    assert g.delta == pytest.approx((price(spot=spot + hs) - price(spot=spot - hs)) / (2 * hs), rel=1e-7)
    assert g.gamma == pytest.approx((price(spot=spot + hs) - 2 * price() + price(spot=spot - hs)) / hs**2, rel=1e-4)
    assert g.vega == pytest.approx((price(vol=vol + hv) - price(vol=vol - hv)) / (2 * hv), rel=1e-7)
    assert g.theta == pytest.approx(-(price(years=years + ht) - price(years=years - ht)) / (2 * ht), rel=1e-6)
    assert g.rho == pytest.approx((price(rate=rate + hr) - price(rate=rate - hr)) / (2 * hr), rel=1e-6)


def test_expired_option_is_its_intrinsic_payoff():
    spots = np.array([90.0, 100.0, 110.0])
    call = bsm_greeks(True, spots, 100.0, 0.0, 0.2)
    put = bsm_greeks(False, spots, 100.0, -0.01, 0.2)
    np.testing.assert_array_equal(call.price, [0.0, 0.0, 10.0])
    np.testing.assert_array_equal(put.price, [10.0, 0.0, 0.0])
    np.testing.assert_array_equal(call.delta, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(put.delta, [-1.0, -0.5, 0.0])
    np.testing.assert_array_equal(call.gamma + call.vega + call.theta + call.rho, 0.0)


def test_cash_greeks_scale_per_unit_greeks_to_the_position():
    g = bsm_greeks(True, 4000.0, 4100.0, 20 / 365, 0.18, 0.03, 0.015)
    units, fx = -10 * 100.0, 0.9  # short 10 contracts of multiplier 100, reported in EUR
    cash = cash_greeks(g, 4000.0, units, fx)
    bumped = bsm_price(True, 4040.0, 4100.0, 20 / 365, 0.18, 0.03, 0.015)
    # gamma_amount: the change of delta_amount for +1% (first order, checked by the finite difference)
    delta_up = bsm_greeks(True, 4000.0 * 1.0001, 4100.0, 20 / 365, 0.18, 0.03, 0.015).delta * 4000.0 * units * fx
    assert cash.gamma_amount == pytest.approx((delta_up - cash.delta_amount) * 100, rel=1e-3)
    assert cash.delta_amount == pytest.approx(g.delta * 4000 * units * fx)
    assert (bumped - g.price) * units * fx == pytest.approx(cash.delta_amount / 100 + cash.gamma_amount / 200, rel=1e-2)
    assert cash.vega_amount == pytest.approx(
        (bsm_price(True, 4000.0, 4100.0, 20 / 365, 0.19, 0.03, 0.015) - g.price) * units * fx, rel=1e-2)
    assert cash.theta_amount == pytest.approx(
        (bsm_price(True, 4000.0, 4100.0, 19 / 365, 0.18, 0.03, 0.015) - g.price) * units * fx, rel=2e-2)


@pytest.mark.parametrize("field, kwargs", [("strike", dict(strike=-1.0)), ("spot", dict(spot=0.0)),
                                            ("vol", dict(vol=np.nan))])
def test_bad_inputs_name_the_parameter(field, kwargs):
    args = dict(spot=100.0, strike=100.0, years=0.1, vol=0.2) | kwargs
    with pytest.raises(OptionInputError, match=field):
        bsm_price(True, **args)
