"""Reverse stress of option books: the multiple found reprices, by hand, to the target loss; a book of underlyings
only has the closed form target / |P&L per unit move|; a target out of reach is reported as such."""

import numpy as np
import pytest
from scipy.stats import norm

from risk_pipeline.risk.options.pricing import OptionInputError
from risk_pipeline.risk.options.reverse import reverse_multiples
from risk_pipeline.risk.options.var import OptionBook


def _bsm(is_call, s, k, t, vol, r, q):
    d1 = (np.log(s / k) + (r - q + vol * vol / 2) * t) / (vol * np.sqrt(t))
    d2 = d1 - vol * np.sqrt(t)
    call = s * np.exp(-q * t) * norm.cdf(d1) - k * np.exp(-r * t) * norm.cdf(d2)
    return call if is_call else call - s * np.exp(-q * t) + k * np.exp(-r * t)


# two days: a short strangle on day 0, a short put on day 1; a delta hedge of 3 units on day 0
BOOK = OptionBook(underlying=np.array([0, 0, 0]), is_call=np.array([True, False, False]),
                  strike=np.array([105.0, 95.0, 90.0]), years=np.array([0.08, 0.08, 0.05]),
                  vol=np.array([0.20, 0.24, 0.30]), units=np.array([-100.0, -100.0, -50.0]),
                  rate=np.array([0.02, 0.02, 0.02]), dividend=np.array([0.01, 0.01, 0.01]), day=np.array([0, 0, 1]))
SPOT, LINEAR = np.array([[100.0], [98.0]]), np.array([[3.0], [0.0]])
SHOCKS, DVOL, FX = np.array([[-0.05], [0.04]]), np.array([[0.05], [0.02]]), np.array([[0.0], [-0.01]])


def _loss_by_hand(day, scenario, k):
    s0 = SPOT[day, 0]
    loss = -LINEAR[day, 0] * s0 * ((1 + k * SHOCKS[scenario, 0]) * (1 + k * FX[scenario, 0]) - 1)
    for i in np.flatnonzero(BOOK.day == day):
        args = (BOOK.is_call[i], BOOK.strike[i], BOOK.years[i])
        rest = (BOOK.rate[i], BOOK.dividend[i])
        before = _bsm(args[0], s0, *args[1:], BOOK.vol[i], *rest)
        after = _bsm(args[0], s0 * (1 + k * SHOCKS[scenario, 0]), *args[1:], BOOK.vol[i] + k * DVOL[scenario, 0], *rest)
        loss -= BOOK.units[i] * (after * (1 + k * FX[scenario, 0]) - before)
    return loss


def test_the_book_repriced_by_hand_at_the_multiple_loses_the_target_and_no_smaller_grid_point_does():
    target = np.array([150.0, 40.0])
    multiple, achieved = reverse_multiples(BOOK, SPOT, LINEAR, SHOCKS, DVOL, FX, target, bracket=(0.0, 10.0),
                                           n_grid=41)
    assert np.isfinite(multiple).sum() == 3  # the short put of day 1 gains as the spot rises
    assert max(_loss_by_hand(1, 1, k) for k in np.linspace(0.0, 10.0, 401)) < target[1]
    for d, s in ((0, 0), (0, 1), (1, 0)):
            by_hand = _loss_by_hand(d, s, multiple[d, s])
            assert by_hand == pytest.approx(target[d], abs=1e-6)
            assert achieved[d, s] == pytest.approx(by_hand, abs=1e-9)
            below = np.linspace(0.0, multiple[d, s], 200)[:-1]  # smallest: no earlier crossing
            assert max(_loss_by_hand(d, s, k) for k in below) < target[d]


def test_a_book_of_underlyings_only_has_the_closed_form_multiple():
    none = OptionBook(*(np.array([], dtype=t) for t in (int, bool, float, float, float, float, float, float)))
    spot, units = np.array([[250.0, 40.0]]), np.array([[-20.0, 100.0]])
    shocks = np.array([[0.03, -0.02], [-0.01, 0.01], [0.04, 0.01]])
    zeros = np.zeros_like(shocks)
    target = np.array([700.0])
    multiple, achieved = reverse_multiples(none, spot, units, shocks, zeros, zeros, target)
    per_unit = (spot * units) @ shocks.T  # delta P&L of each scenario at k = 1
    assert per_unit[0, 0] < 0 and per_unit[0, 1] > 0 and per_unit[0, 2] < 0
    assert multiple[0, 0] == pytest.approx(700.0 / abs(per_unit[0, 0]), rel=1e-10)
    assert multiple[0, 2] == pytest.approx(700.0 / abs(per_unit[0, 2]), rel=1e-10)
    assert achieved[0, [0, 2]] == pytest.approx([700.0, 700.0], abs=1e-6)
    assert np.isnan(multiple[0, 1]) and np.isnan(achieved[0, 1])  # the book gains: not reached within the bracket


def test_a_loss_that_saturates_below_the_target_is_not_reached_within_the_bracket():
    put = OptionBook(underlying=np.array([0]), is_call=np.array([False]), strike=np.array([100.0]),
                     years=np.array([0.1]), vol=np.array([0.2]), units=np.array([-1.0]), rate=np.array([0.0]),
                     dividend=np.array([0.0]))
    spot, none = np.array([[100.0]]), np.zeros((1, 1))
    # a short put loses at most its strike less its premium, whatever the fall
    multiple, _ = reverse_multiples(put, spot, none, np.array([[-0.5]]), none, none, np.array([150.0]))
    assert np.isnan(multiple[0, 0])


def test_bad_bracket_and_target_are_named():
    with pytest.raises(OptionInputError, match="bracket"):
        reverse_multiples(BOOK, SPOT, LINEAR, SHOCKS, DVOL, FX, np.array([1.0, 1.0]), bracket=(1.0, 1.0))
    with pytest.raises(OptionInputError, match="target"):
        reverse_multiples(BOOK, SPOT, LINEAR, SHOCKS, DVOL, FX, np.array([1.0, 0.0]))
