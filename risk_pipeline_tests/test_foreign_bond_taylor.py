"""A rouble book's US Treasury: dV_RUB = -S P D dy + P dS to first order, against a full revaluation.

The full revaluation is V = S P(y), P repriced from its cash flows (``bonds.dirty_price``). The
test checks the orders of the expansion's errors as the move shrinks: the first-order error falls
with the square of the move, the second-order one with its cube, so neither can be right by chance.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from risk_pipeline.risk.instruments import FixedRateBond, bond_risk, dirty_price, foreign_bond_taylor
from risk_pipeline.risk.instruments.bonds import BondInputError

# the 1 7/8% Treasury of February 2032 seen on 2022-03-01, USD/RUB then and at the end of March 2022
BOND = FixedRateBond.from_maturity_date(0.01875, dt.date(2032, 2, 15), dt.date(2022, 3, 1), frequency=2)
Y0, S0 = 0.0172, 103.5
DY, DS = 0.0062, 84.09 - 103.5
FACE_HELD = 1_000_000.0


def full_revaluation(dy: float, ds: float) -> float:
    p0, p1 = dirty_price(BOND, Y0), dirty_price(BOND, Y0 + dy)
    return float(((S0 + ds) * p1 - S0 * p0) * FACE_HELD / BOND.face)


def test_first_order_terms_are_the_partial_derivatives_of_the_full_revaluation():
    terms = foreign_bond_taylor(bond_risk(BOND, Y0), S0, DY, DS, face=BOND.face, held_face=FACE_HELD)
    eps = 1e-6  # central differences of V = S P(y)
    dv_dy = (full_revaluation(eps, 0.0) - full_revaluation(-eps, 0.0)) / (2 * eps)
    dv_ds = (full_revaluation(0.0, eps) - full_revaluation(0.0, -eps)) / (2 * eps)
    assert terms.yield_term == pytest.approx(dv_dy * DY, rel=1e-7)
    assert terms.fx_term == pytest.approx(dv_ds * DS, rel=1e-7)
    assert terms.first_order == terms.yield_term + terms.fx_term


def test_the_expansion_errors_shrink_with_the_square_and_the_cube_of_the_move():
    risk = bond_risk(BOND, Y0)
    first, second = [], []
    for h in (1.0, 0.5, 0.25, 0.125):
        full = full_revaluation(h * DY, h * DS)
        terms = foreign_bond_taylor(risk, S0, h * DY, h * DS, face=BOND.face, held_face=FACE_HELD)
        first.append(full - terms.first_order)
        second.append(full - terms.second_order)
    first_ratios = np.array(first[:-1]) / np.array(first[1:])
    second_ratios = np.array(second[:-1]) / np.array(second[1:])
    np.testing.assert_allclose(first_ratios, 4.0, rtol=0.1)
    np.testing.assert_allclose(second_ratios, 8.0, rtol=0.1)
    # March 2022's move (+62 bp, RUB +19%): the first order misses the cross term, ~5% of the change;
    # the second order is within 0.2%
    full = full_revaluation(DY, DS)
    assert abs(first[0]) < 0.06 * abs(full) and abs(second[0]) < 0.002 * abs(full)


def test_a_non_positive_fx_price_is_named():
    with pytest.raises(BondInputError, match="fx_price must be > 0"):
        foreign_bond_taylor(bond_risk(BOND, Y0), 0.0, DY, DS)
