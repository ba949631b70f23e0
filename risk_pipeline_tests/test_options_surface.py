"""Volatility surface interpolation and the EWMA proxy against hand computations."""

import numpy as np
import pytest

from risk_pipeline.risk.options.pricing import OptionInputError
from risk_pipeline.risk.options.surface import ewma_atm_vol, proxy_vol, surface_vol
from risk_pipeline.risk.var.ewma import ewma_variance_paths
from risk_pipeline.risk.var.windows import trailing_windows

EXPIRIES = np.array([0.1, 0.1, 0.1, 0.5, 0.5, 0.5])
STRIKES = np.array([90.0, 100.0, 110.0, 90.0, 100.0, 110.0])
VOLS = np.array([0.30, 0.20, 0.18, 0.26, 0.22, 0.20])


def test_on_a_quote_the_surface_returns_the_quote():
    for t, k, v in zip(EXPIRIES, STRIKES, VOLS):
        assert surface_vol(EXPIRIES, STRIKES, VOLS, t, k) == pytest.approx(v, abs=1e-15)


def test_linear_in_strike_and_flat_beyond_the_quoted_strikes():
    assert surface_vol(EXPIRIES, STRIKES, VOLS, 0.1, 95.0) == pytest.approx(0.25)
    assert surface_vol(EXPIRIES, STRIKES, VOLS, 0.1, 50.0) == pytest.approx(0.30)
    assert surface_vol(EXPIRIES, STRIKES, VOLS, 0.5, 200.0) == pytest.approx(0.20)


def test_linear_in_total_variance_between_expiries_flat_outside():
    years = 0.3
    w = np.interp(years, [0.1, 0.5], [0.20**2 * 0.1, 0.22**2 * 0.5])
    assert surface_vol(EXPIRIES, STRIKES, VOLS, years, 100.0) == pytest.approx(np.sqrt(w / years), rel=1e-14)
    assert surface_vol(EXPIRIES, STRIKES, VOLS, 0.01, 100.0) == pytest.approx(0.20)
    assert surface_vol(EXPIRIES, STRIKES, VOLS, 3.0, 100.0) == pytest.approx(0.22)


def test_no_quotes_is_an_error():
    with pytest.raises(OptionInputError, match="no volatility quotes"):
        surface_vol(np.array([]), np.array([]), np.array([]), 0.1, 100.0)


def test_ewma_proxy_is_the_windowed_recursion_annualised():
    returns = np.random.default_rng(3).normal(0, 0.01, 300)
    window = 126
    vol = ewma_atm_vol(returns, window)
    assert np.isnan(vol[: window - 1]).all()
    # by hand for the last close: seeded with the window's mean square, then the recursion over it
    last = returns[-window:]
    variance = np.mean(last**2)
    for r in last:
        variance = 0.94 * variance + 0.06 * r * r
    assert vol[-1] == pytest.approx(np.sqrt(252 * variance), rel=1e-12)
    assert vol[window - 1] == pytest.approx(np.sqrt(252 * ewma_variance_paths(trailing_windows(returns[:window + 1], window))[0, -1]))


def test_proxy_skew_raises_put_wing_vols():
    assert proxy_vol(0.2, 100.0, 90.0, 0.5) == pytest.approx(0.2 - 0.5 * np.log(0.9))
    assert proxy_vol(0.2, 100.0, 100.0, 0.5) == pytest.approx(0.2)
    assert proxy_vol(0.05, 100.0, 200.0, 0.5) == pytest.approx(0.01)  # floored
