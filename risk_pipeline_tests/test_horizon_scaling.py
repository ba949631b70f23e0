"""The horizon convention of the location-scale methods (``var.horizon_scaling``): the default
``sqrt_time`` scales the whole 1-day VaR/ES by sqrt(h) (today's stored numbers); ``drift`` gives
-(mu h + q sigma sqrt(h)). Checked against the closed forms recomputed from the window with numpy
and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from risk_pipeline.risk import var_es_grid
from risk_pipeline.risk.var import VarParameterError

WINDOW, HORIZONS = 120, (1, 5, 10)


def _returns(seed: int = 3, drift: float = -0.002) -> pd.Series:
    rng = np.random.default_rng(seed)
    x = drift + 0.012 * rng.standard_t(5, size=WINDOW + 1)
    return pd.Series(x, index=pd.bdate_range("2020-01-01", periods=x.size))


def _last(method: str, confidence: float, **params) -> pd.DataFrame:
    grid = var_es_grid(_returns(), method=method, confidences=[confidence], horizons=HORIZONS, window=WINDOW, **params)
    return grid.loc[grid["date"] == grid["date"].max()].set_index("horizon_days")


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_normal_drift_is_minus_mu_h_plus_z_sigma_root_h(confidence):
    window = _returns().to_numpy()[:WINDOW]
    mu, sigma, z = window.mean(), window.std(ddof=1), stats.norm.ppf(confidence)
    got = _last("parametric_normal", confidence, horizon_scaling="drift")
    for h in HORIZONS:
        assert got.loc[h, "var"] == pytest.approx(-(mu * h) + z * sigma * np.sqrt(h), rel=1e-12)
        tail = stats.norm.pdf(z) / (1.0 - confidence)
        assert got.loc[h, "es"] == pytest.approx(-(mu * h) + tail * sigma * np.sqrt(h), rel=1e-12)


def test_student_t_drift_against_scipy():
    window = _returns().to_numpy()[:WINDOW]
    mu, sigma = window.mean(), window.std(ddof=1)
    nu = float(np.clip(4.0 + 6.0 / stats.kurtosis(window, bias=True), 4.2, 100.0))
    q = stats.t.ppf(0.99, nu) * np.sqrt((nu - 2.0) / nu)
    got = _last("parametric_t", 0.99, horizon_scaling="drift")
    for h in HORIZONS:
        assert got.loc[h, "var"] == pytest.approx(-(mu * h) + q * sigma * np.sqrt(h), rel=1e-10)


@pytest.mark.parametrize("method", ["parametric_normal", "parametric_t", "cornish_fisher"])
def test_default_is_the_whole_one_day_figure_times_root_h_and_one_day_is_the_same_either_way(method):
    default, drift = _last(method, 0.99), _last(method, 0.99, horizon_scaling="drift")
    mu = _returns().to_numpy()[:WINDOW].mean()
    for h in HORIZONS:
        assert default.loc[h, "var"] == pytest.approx(np.sqrt(h) * default.loc[1, "var"], rel=1e-13)
        assert default.loc[h, "es"] == pytest.approx(np.sqrt(h) * default.loc[1, "es"], rel=1e-13)
        # drift: -mu h + sqrt(h) (VaR_1 + mu); the two agree at h = 1 and differ by (sqrt(h) - h) mu
        assert drift.loc[h, "var"] == pytest.approx(-mu * h + np.sqrt(h) * (default.loc[1, "var"] + mu), rel=1e-12)
        assert drift.loc[h, "var"] - default.loc[h, "var"] == pytest.approx((np.sqrt(h) - h) * mu, rel=1e-9, abs=1e-15)
    assert drift.loc[1, "var"] == default.loc[1, "var"]


def test_an_unknown_scaling_or_one_given_to_a_method_without_it_is_named():
    with pytest.raises(VarParameterError, match="horizon_scaling='linear'"):
        _last("parametric_normal", 0.99, horizon_scaling="linear")
    with pytest.raises(VarParameterError, match="horizon_scaling"):
        _last("historical", 0.99, horizon_scaling="drift")
