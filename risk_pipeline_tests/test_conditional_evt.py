"""conditional_evt: the GPD fit against scipy and simulated data, the tail formulas, the edge rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from risk_pipeline.risk import VarParameterError, rolling_var_es
from risk_pipeline.risk.var.conditional_evt import XI_MAX, default_exceedances, fit_gpd, gpd_tail_var_es


def _garch_t(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    r, s2 = np.empty(n), 1e-4
    for t in range(n):
        r[t] = np.sqrt(s2) * rng.standard_t(4) * np.sqrt(0.5)
        s2 = 2e-6 + 0.08 * r[t] ** 2 + 0.9 * s2
    return pd.Series(r, index=pd.bdate_range("2005-01-03", periods=n))


def _gpd_loglik(y, xi, beta):
    return stats.genpareto.logpdf(y, xi, scale=beta).sum()


def _window_exceedances(returns: np.ndarray, t: int, window: int, k: int) -> tuple[float, np.ndarray, float]:
    """Plain per-window loop: EWMA filter over the window, residual losses, threshold, exceedances."""
    r = returns[t - window : t]
    s2 = [np.mean(r**2)]
    for x in r:
        s2.append(0.94 * s2[-1] + 0.06 * x * x)
    z = sorted((-r / np.sqrt(s2[:-1])).tolist(), reverse=True)
    u = z[k]
    return u, np.array(z[:k]) - u, float(np.sqrt(s2[-1]))


def test_the_fit_is_the_scipy_mle_on_sampled_windows():
    returns = _garch_t().to_numpy()
    window, k = 500, 60
    rows = []
    for t in range(window, returns.size, 97):
        _, y, _ = _window_exceedances(returns, t, window, k)
        rows.append(y)
    y = np.array(rows)
    xi, beta = fit_gpd(y)
    for i in range(len(y)):
        c, _, scale = stats.genpareto.fit(y[i], floc=0)
        assert _gpd_loglik(y[i], xi[i], beta[i]) >= _gpd_loglik(y[i], c, scale) - 1e-6
        if -0.5 < c < XI_MAX:
            assert xi[i] == pytest.approx(c, abs=2e-3) and beta[i] == pytest.approx(scale, rel=2e-3)


def test_the_fit_recovers_simulated_gpd_parameters_within_sampling_error():
    xi0, beta0, n, reps = 0.25, 0.7, 2000, 40
    y = stats.genpareto.rvs(xi0, scale=beta0, size=(reps, n), random_state=np.random.default_rng(3))
    xi, beta = fit_gpd(y)
    sd_xi = (1 + xi0) / np.sqrt(n)  # asymptotic sd of the MLE of xi (Smith 1985)
    assert np.all(np.abs(xi - xi0) < 4 * sd_xi)
    assert abs(xi.mean() - xi0) < 3 * sd_xi / np.sqrt(reps)
    sd_log_beta = np.sqrt(2 * (1 + xi0) / n)
    assert abs(np.log(beta).mean() - np.log(beta0)) < 3 * sd_log_beta / np.sqrt(reps) + 0.01


def test_var_es_equal_the_mcneil_frey_formulas_on_a_plain_loop():
    returns = _garch_t(seed=4)
    window, k = 400, 50
    out = rolling_var_es(returns, method="conditional_evt", confidence=0.99, window=window, n_exceedances=k)
    for t in (window, 777, returns.size - 1):
        u, y, sigma = _window_exceedances(returns.to_numpy(), t, window, k)
        c, _, beta = stats.genpareto.fit(y, floc=0)
        ratio = 0.01 * window / k
        z = u + beta / c * (ratio ** (-c) - 1)
        es = z / (1 - c) + (beta - c * u) / (1 - c)
        assert out["var"].iloc[t] == pytest.approx(sigma * z, rel=1e-3)
        assert out["es"].iloc[t] == pytest.approx(sigma * es, rel=1e-3)
    ten = rolling_var_es(returns, method="conditional_evt", confidence=0.99, window=window, horizon_days=10,
                         n_exceedances=k)
    np.testing.assert_allclose(ten.to_numpy()[window:], np.sqrt(10) * out.to_numpy()[window:], rtol=1e-12)


def test_an_infinite_mean_tail_is_capped_and_never_nan():
    y = stats.genpareto.rvs(1.5, size=(3, 300), random_state=np.random.default_rng(1))
    xi, beta = fit_gpd(y)
    np.testing.assert_allclose(xi, XI_MAX)
    z, es = gpd_tail_var_es(np.zeros(3), xi, beta, 0.1, (0.99,))
    assert np.isfinite(es).all() and (es > z).all()
    xi0, beta0 = fit_gpd(np.zeros((1, 20)))  # no spread above the threshold
    assert (xi0[0], beta0[0]) == (0.0, 0.0)
    rng = np.random.default_rng(2)
    wild = pd.Series(rng.standard_cauchy(400) * 0.01, index=pd.bdate_range("2010-01-01", periods=400))
    frame = rolling_var_es(wild, method="conditional_evt", confidence=0.99, window=200)
    assert np.isfinite(frame.to_numpy()[200:]).all() and (frame["es"] >= frame["var"]).iloc[200:].all()


def test_bad_parameters_name_themselves():
    returns = _garch_t(n=300)
    assert default_exceedances(756) == 94
    with pytest.raises(VarParameterError, match="n_exceedances"):
        rolling_var_es(returns, method="conditional_evt", confidence=0.99, window=100, n_exceedances=2)
    with pytest.raises(VarParameterError, match="not in the GPD tail"):
        rolling_var_es(returns, method="conditional_evt", confidence=0.9, window=100, n_exceedances=8)
    with pytest.raises(VarParameterError, match="filter"):
        rolling_var_es(returns, method="conditional_evt", confidence=0.99, window=100, filter="x")
