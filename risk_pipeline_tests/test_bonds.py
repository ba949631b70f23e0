"""Tests of risk_pipeline.risk.instruments.bonds against closed forms, numerical derivatives and generated paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.instruments.bonds import (
    FOREIGN_PNL_COLUMNS,
    PATH_COLUMNS,
    BondInputError,
    FixedRateBond,
    bond_risk,
    cash_flows,
    dirty_price,
    foreign_bond_base_pnl,
    reprice_path,
)


def test_par_bond_closed_forms():
    """Coupon = yield, whole periods: P = 100, D_mod = (1 - (1+y/m)^-mT)/y, DV01 = D_mod P 1e-4,
    D_mac = D_mod (1 + y/m)."""
    y, m, T = 0.05, 2, 10.0
    risk = bond_risk(FixedRateBond(0.05, T, m), y)
    d_mod = (1 - (1 + y / m) ** (-m * T)) / y
    assert risk.dirty_price == pytest.approx(100.0, rel=1e-12)
    assert risk.accrued == pytest.approx(0.0, abs=1e-12)
    assert risk.modified_duration == pytest.approx(d_mod, rel=1e-12)
    assert risk.macaulay_duration == pytest.approx(d_mod * (1 + y / m), rel=1e-12)
    assert risk.dv01 == pytest.approx(d_mod * 100 * 1e-4, rel=1e-12)


def test_zero_coupon_closed_forms_with_fractional_maturity():
    """Zero: P = F (1+y/m)^(-mT), D_mac = T, convexity = T (T + 1/m) / (1 + y/m)^2."""
    y, m, T = 0.04, 2, 7.3
    risk = bond_risk(FixedRateBond(0.0, T, m, face=1000.0), y)
    assert risk.dirty_price == pytest.approx(1000.0 * (1 + y / m) ** (-m * T), rel=1e-12)
    assert risk.macaulay_duration == pytest.approx(T, rel=1e-12)
    assert risk.modified_duration == pytest.approx(T / (1 + y / m), rel=1e-12)
    assert risk.convexity == pytest.approx(T * (T + 1 / m) / (1 + y / m) ** 2, rel=1e-12)


@pytest.mark.parametrize(("coupon", "maturity", "freq", "y"), [(0.06, 9.8, 2, 0.045), (0.03, 3.1, 1, 0.07),
                                                               (0.08, 25.0, 4, 0.02)])
def test_dv01_duration_convexity_match_numerical_derivatives(coupon, maturity, freq, y):
    bond = FixedRateBond(coupon, maturity, freq)
    risk = bond_risk(bond, y)
    h = 1e-5
    up, mid, down = dirty_price(bond, np.array([y + h, y, y - h]))
    assert risk.dv01 == pytest.approx(-(up - down) / (2 * h) * 1e-4, rel=1e-7)
    assert risk.modified_duration == pytest.approx(-(up - down) / (2 * h) / mid, rel=1e-7)
    assert risk.convexity == pytest.approx((up - 2 * mid + down) / h**2 / mid, rel=1e-4)


def test_cash_flows_and_accrued_interest():
    """9.75 years semi-annual: 20 flows, first in 0.25y; half a period accrued (linear accrual)."""
    bond = FixedRateBond(0.06, 9.75, 2)
    times, amounts = cash_flows(bond)
    assert len(times) == 20 and times[0] == pytest.approx(0.25) and times[-1] == pytest.approx(9.75)
    assert amounts[:-1] == pytest.approx(np.full(19, 3.0)) and amounts[-1] == pytest.approx(103.0)
    risk = bond_risk(bond, 0.05)
    assert risk.accrued == pytest.approx(1.5)
    assert risk.dirty_price == pytest.approx(np.sum(amounts * 1.025 ** (-2 * times)))
    assert risk.clean_price == pytest.approx(risk.dirty_price - 1.5)


def _yield_path(n: int = 260, seed: int = 5) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(0.03 + np.cumsum(rng.normal(0, 0.0006, n)), index=pd.bdate_range("2021-01-04", periods=n))


def test_constant_maturity_path_duration_convexity_tracks_full_repricing():
    """Constant maturity: no carry; the 2nd-order approximation errs by O(dy^3), far less than
    the duration-only approximation."""
    bond = FixedRateBond(0.04, 10.0, 2)
    path = reprice_path(bond, _yield_path(), aging=False)
    assert tuple(path.columns) == PATH_COLUMNS
    body = path.iloc[1:]
    np.testing.assert_allclose(body["pnl_carry"], 0.0, atol=1e-12)
    np.testing.assert_allclose(body["pnl_full"], body["pnl_yield"], atol=1e-12)
    dy = np.diff(path["yield"].to_numpy())
    err = np.abs(body["pnl_duration_convexity"].to_numpy() - body["pnl_full"].to_numpy())
    risk_prev = [bond_risk(bond, y) for y in path["yield"].iloc[:-1]]
    dur_only = np.array([-r.modified_duration * r.dirty_price for r in risk_prev]) * dy
    assert err.max() < 1e-3 * np.abs(body["pnl_full"]).max()
    assert err.sum() < 0.2 * np.abs(dur_only - body["pnl_full"].to_numpy()).sum()
    # Taylor remainder: |err| <= max|P'''| |dy|^3 / 6, P''' = -sum t(t+1/m)(t+2/m) CF (1+y/m)^(-mt-3)
    times, amounts = cash_flows(bond)
    y_min = path["yield"].min() - 0.01
    p3 = np.sum(times * (times + 0.5) * (times + 1.0) * amounts * (1 + y_min / 2) ** (-2 * times - 3))
    assert (err <= p3 * np.abs(dy) ** 3 / 6 + 1e-12).all()
    assert (err >= 0.01 * p3 * np.abs(dy) ** 3 / 6).mean() > 0.5  # and it is of that order, not zero


def test_aging_path_carry_coupons_and_telescoping():
    """Flat yield, no coupon in between: P_t = P_0 (1 + y/m)^(m tau) (street convention);
    over a year a semi-annual bond pays two coupons; P&L telescopes to the price change plus coupons."""
    bond = FixedRateBond(0.05, 5.1, 2)
    dates = pd.bdate_range("2021-01-04", periods=261)
    flat = reprice_path(bond, pd.Series(0.04, index=dates))
    tau = (dates - dates[0]).days.to_numpy() / 365.25
    before_coupon = tau < 0.1 - 1e-9
    np.testing.assert_allclose(flat["dirty_price"][before_coupon],
                               flat["dirty_price"].iloc[0] * 1.02 ** (2 * tau[before_coupon]), rtol=1e-12)
    assert flat["coupon_paid"].sum() == pytest.approx(5.0)
    assert (flat["coupon_paid"] > 0).sum() == 2
    np.testing.assert_allclose(flat["pnl_yield"].iloc[1:], 0.0, atol=1e-12)
    path = reprice_path(bond, _yield_path(261))
    total = path["pnl_full"].iloc[1:].sum()
    assert total == pytest.approx(path["dirty_price"].iloc[-1] - path["dirty_price"].iloc[0] + 5.0, rel=1e-12)
    np.testing.assert_allclose(path["pnl_carry"] + path["pnl_yield"], path["pnl_full"], atol=1e-12)
    with pytest.raises(BondInputError, match="maturity"):
        reprice_path(FixedRateBond(0.05, 0.5, 2), _yield_path(261))


def test_foreign_bond_base_pnl_terms_sum_to_revaluation():
    """Base P&L = (P_t + coupon_t) X_t - P_{t-1} X_{t-1} = local + fx + cross terms."""
    bond = FixedRateBond(0.02, 8.0, 1)
    yields = _yield_path(120)
    rng = np.random.default_rng(9)
    fx = pd.Series(1.1 * np.exp(np.cumsum(rng.normal(0, 0.006, 120))), index=yields.index)
    path = reprice_path(bond, yields)
    out = foreign_bond_base_pnl(path, fx)
    assert tuple(out.columns) == FOREIGN_PNL_COLUMNS
    p, c, x = path["dirty_price"].to_numpy(), path["coupon_paid"].to_numpy(), fx.to_numpy()
    expected = (p[1:] + c[1:]) * x[1:] - p[:-1] * x[:-1]
    np.testing.assert_allclose(out["total_pnl_base"].iloc[1:], expected, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(out[["local_term", "fx_term", "cross_term"]].sum(axis=1).iloc[1:], expected,
                               rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(out["fx_term"].iloc[1:], p[:-1] * np.diff(x), rtol=1e-9, atol=1e-12)
    with pytest.raises(BondInputError, match="fx_prices"):
        foreign_bond_base_pnl(path, fx.iloc[:-1])


def test_bad_bond_inputs_name_the_field():
    with pytest.raises(BondInputError, match="frequency"):
        FixedRateBond(0.05, 10, 3)
    with pytest.raises(BondInputError, match="maturity_years"):
        FixedRateBond(0.05, -1, 2)
    assert FixedRateBond.from_maturity_date(0.05, "2031-01-01", "2021-01-01").maturity_years == pytest.approx(
        3652 / 365.25)  # 2024 and 2028 are leap years
