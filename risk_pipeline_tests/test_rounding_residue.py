"""A VaR/ES within the rounding of the book's revaluation is 0.0 (risk.var.rounding): books whose scenario P&L is
exactly zero in exact arithmetic but not in floats (a delta-hedged option book seen by delta_only, a linear book whose
positions cancel), by every engine that makes amounts; other numbers unchanged bit for bit."""

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.options.pricing import bsm_greeks
from risk_pipeline.risk.options.var import (OptionBook, OptionVarMethod, days_scenario_pnl, days_var_es,
                                            historical_scenarios)
from risk_pipeline.risk.var import var_es_grid
from risk_pipeline.risk.var.held_monte_carlo import held_monte_carlo_grid
from risk_pipeline.risk.var.held_positions import WINDOW_METHODS, held_grid, held_windows
from risk_pipeline.risk.var.rounding import ROUNDING_MULTIPLE, rounding_tolerance, zero_rounding_residue
from risk_pipeline.risk.var.tail import tail_var_es

RNG = np.random.default_rng(21)
WINDOW = 250
RETURNS = RNG.standard_t(4, size=(WINDOW, 1)) * 0.012
VOL_CHANGES = RNG.normal(0.0, 0.01, size=(WINDOW, 1))


def test_the_tolerance_is_the_documented_multiple_of_n_eps_and_the_gross_exposure():
    assert rounding_tolerance(1e6, 3) == ROUNDING_MULTIPLE * 3 * 2.0**-52 * 1e6
    assert rounding_tolerance(-1e6, 0) == rounding_tolerance(1e6, 1)  # |G|, and one term at least
    values = np.array([-3e-17, 3e-17, 0.0, -0.0, 1e-3, -1e-3, np.nan])
    out = zero_rounding_residue(values, 1e-9)
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.0, 0.0, 1e-3, -1e-3, np.nan])
    assert not np.signbit(out[:4]).any()  # 0.0, never -0.0


def _strangle_days(spots):
    """A short strangle per day, hedged to delta zero with the Greeks the engine computes: the delta-only P&L of a
    scenario, units delta dS + hedge dS, is exactly 0 in exact arithmetic."""
    n = len(spots)
    book = OptionBook(underlying=np.zeros(2 * n, dtype=int), is_call=np.tile([True, False], n),
                      strike=np.repeat(spots, 2) * np.tile([1.05, 0.95], n), years=np.full(2 * n, 25 / 365),
                      vol=np.full(2 * n, 0.19), units=np.full(2 * n, -1000.0), rate=np.full(2 * n, 0.02),
                      dividend=np.full(2 * n, 0.015), day=np.repeat(np.arange(n), 2))
    g = bsm_greeks(book.is_call, np.repeat(spots, 2), book.strike, book.years, book.vol, book.rate, book.dividend)
    hedge = -np.add.reduceat(g.delta * book.units, np.arange(0, 2 * n, 2))[:, None]
    return book, np.asarray(spots, float)[:, None], hedge


def test_a_delta_hedged_books_delta_only_var_is_exactly_zero_and_its_other_methods_unchanged():
    spots = np.array([3829.25, 4000.0, 4123.7, 3333.3, 2901.1])
    book, spot, hedge = _strangle_days(spots)
    scenarios = historical_scenarios(RETURNS, VOL_CHANGES, 1)
    returns = np.broadcast_to(scenarios.returns, (len(spots),) + scenarios.returns.shape)
    changes = np.broadcast_to(scenarios.vol_changes, returns.shape)
    result = days_var_es(book, spot, hedge, returns, changes, 1 / 252, (0.95, 0.99))
    gross = 2 * 1000.0 * spots + np.abs(hedge[:, 0]) * spots
    tolerance = rounding_tolerance(gross, 3)
    for method in OptionVarMethod:
        raw = -days_scenario_pnl(book, spot, hedge, returns, changes, 1 / 252, method)
        expected = np.stack([np.stack(tail_var_es(raw, c, axis=-1), axis=-1) for c in (0.95, 0.99)], axis=1)
        if method is OptionVarMethod.DELTA_ONLY:
            # the floats leave a residue of the last bits (what was stored), far under the tolerance
            assert (expected != 0.0).any() and (np.abs(expected) < 1e-3 * tolerance[:, None, None]).all()
            assert (result[method] == 0.0).all() and not np.signbit(result[method]).any()
        else:  # a real risk: the numbers of the tail, bit for bit
            assert (np.abs(expected) > 1e6 * tolerance[:, None, None]).all()
            np.testing.assert_array_equal(result[method], expected)


def _cancelling_book(n_days=300):
    """Three instruments with the same returns, held 0.1, 0.2 and -0.3 of a notional: P(s) = 0.1 r + 0.2 r - 0.3 r is
    0 in exact arithmetic, not in floats (0.1 + 0.2 != 0.3); beside it the same book without the short."""
    dates = pd.bdate_range("2021-01-04", periods=n_days)
    r = RNG.normal(0.0, 0.01, n_days)
    returns = pd.DataFrame({"A": r, "B": r, "C": r}, index=dates)
    days = dates[WINDOW:]
    hedged = pd.DataFrame([[0.1e6, 0.2e6, -0.3e6]] * len(days), index=days, columns=list("ABC"))
    return returns, hedged


@pytest.mark.parametrize("method", ["historical", "parametric_normal", "filtered_historical"])
def test_a_linear_book_whose_positions_cancel_has_a_zero_var(method):
    returns, hedged = _cancelling_book()
    values = hedged.sum(axis=1)
    held = held_windows(hedged, values, returns, WINDOW)
    assert (np.abs(held.x) > 0).any()  # the floats' residue: x is not 0 on every day
    grid = held_grid(held, method=method, confidences=(0.99,), horizons=(1, 3))
    assert len(grid) and (grid[["var_amount", "es_amount"]].to_numpy() == 0.0).all()
    assert grid[["var", "es"]].isna().all().all()  # the value is 0: the scale is the gross exposure
    # a long book of the same instruments: its numbers are the method's on its window, unchanged
    long_book = hedged.abs()
    held_long = held_windows(long_book, long_book.sum(axis=1), returns, WINDOW)
    grid_long = held_grid(held_long, method=method, confidences=(0.99,), horizons=(1, 3))
    var, es = WINDOW_METHODS[method](held_long.x, (0.99,), (1, 3))  # the method's window form, before the rule
    np.testing.assert_array_equal(grid_long["var"], var.ravel())
    np.testing.assert_array_equal(grid_long["es"], es.ravel())
    assert (grid_long["var_amount"] > 1e3).all()


def test_monte_carlo_applies_the_rule_to_the_weights_gross_exposure():
    """Monte Carlo's shrunk covariance does not see the cancellation of identical instruments (its VaR of the book
    above is the model's, not a residue); the rule still holds for its forecasts: a VaR under n eps sum |w_i| times
    the multiple (returns of 1e-15) is 0, one of ordinary returns is kept."""
    returns, _ = _cancelling_book(400)
    distinct = returns + RNG.normal(0.0, 0.01, returns.shape)
    weights = pd.Series([0.1, 0.2, -0.3], index=list("ABC"))
    kwargs = dict(method="monte_carlo", confidences=(0.99,), horizons=(1,), window=WINDOW, weights=weights,
                  n_scenarios=2000, seed=3)
    real = var_es_grid(distinct, **kwargs)
    assert (real["var"] > 1e-3).all()
    tiny = var_es_grid(distinct * 1e-15, **kwargs)  # a VaR of about 1e-17, under 1024 x 3 x eps x 0.6 = 4e-13
    assert len(tiny) and (tiny[["var", "es"]].to_numpy() == 0.0).all()
    held = held_monte_carlo_grid(pd.DataFrame([[0.1e6, 0.2e6, -0.3e6]] * 150, index=returns.index[WINDOW:WINDOW + 150],
                                              columns=list("ABC")), pd.Series(0.0, index=returns.index), distinct * 1e-15,
                                 window=WINDOW, confidences=(0.99,), horizons=(1,), n_scenarios=2000, seed=3)
    assert len(held) and (held[["var_amount", "es_amount"]].to_numpy() == 0.0).all()
