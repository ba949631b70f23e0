"""``var.return_type``: the fitted laws estimated on log returns ln(1 + r), VaR/ES turned back into
fractions of value (VaR = 1 - exp(-VaR_log), exact; ES = 1 - exp(-ES_log), an upper bound by Jensen).
Checked against the lognormal closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from risk_pipeline.risk import var_es_grid
from risk_pipeline.risk.var import VarParameterError

WINDOW = 150


def _returns(seed: int = 5) -> pd.Series:
    rng = np.random.default_rng(seed)
    x = np.expm1(0.0004 + 0.02 * rng.standard_normal(WINDOW + 1))
    return pd.Series(x, index=pd.bdate_range("2019-01-01", periods=x.size))


def _last(method: str, horizons=(1,), **params) -> pd.DataFrame:
    grid = var_es_grid(_returns(), method=method, confidences=[0.99], horizons=horizons, window=WINDOW, **params)
    return grid.loc[grid["date"] == grid["date"].max()].set_index("horizon_days")


@pytest.mark.parametrize("h", [1, 10])
def test_normal_on_log_returns_is_the_lognormal_var_and_bounds_its_es(h):
    x = np.log1p(_returns().to_numpy()[:WINDOW])
    m, s = x.mean() * h, x.std(ddof=1) * np.sqrt(h)  # drift: the h-day log return is N(mu h, sigma^2 h)
    z = stats.norm.ppf(0.01)
    got = _last("parametric_normal", horizons=(h,), return_type="log", horizon_scaling="drift").loc[h]
    q = m + s * z  # the 1% quantile of the h-day log return
    assert got["var"] == pytest.approx(-np.expm1(q), rel=1e-12)
    log_es = -(m - s * stats.norm.pdf(z) / 0.01)
    assert got["es"] == pytest.approx(-np.expm1(-log_es), rel=1e-12)
    # the model's exact ES of the value, E[1 - exp(X) | X < q] for X ~ N(m, s^2), is below it, and close
    exact = 1.0 - np.exp(m + s * s / 2.0) * stats.norm.cdf(z - s) / 0.01
    assert exact < got["es"] < exact + 0.002


def test_simple_is_the_default_and_the_numbers_of_before():
    for method in ("parametric_normal", "parametric_t", "cornish_fisher", "ewma"):
        pd.testing.assert_frame_equal(_last(method, return_type="simple"), _last(method))
        assert not _last(method, return_type="log").equals(_last(method))


def test_methods_on_compounded_samples_and_bad_values_are_named():
    with pytest.raises(VarParameterError, match="return_type"):
        _last("historical", return_type="log")
    with pytest.raises(VarParameterError, match="return_type='levels'"):
        _last("ewma", return_type="levels")
    crash = _returns()
    crash.iloc[3] = -1.0
    with pytest.raises(VarParameterError, match="-100%"):
        var_es_grid(crash, method="parametric_normal", confidences=[0.99], horizons=[1], window=WINDOW,
                    return_type="log")
