"""Each rolling VaR/ES method against a closed form, scipy.stats or a plain-loop reimplementation."""

from __future__ import annotations

import functools
import operator

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from risk_pipeline.risk import VarParameterError, rolling_var_es, var_es_grid
from risk_pipeline.risk.var.cornish_fisher import cornish_fisher_quantile, cornish_fisher_var_es, monotone_cf_parameters
from risk_pipeline.risk.var.covariance import ledoit_wolf, sample_covariance
from risk_pipeline.risk.var.ewma import ewma_variance_paths
from risk_pipeline.risk.var.garch import GARCH_GRID
from risk_pipeline.risk.var.monte_carlo import DOF_GRID, quantize_dof, rolling_mean_covariance
from risk_pipeline.risk.var.parametric import NU_MAX, normal_var_es, student_t_var_es, t_dof_from_kurtosis
from risk_pipeline.risk.var.sorted_tail import sort_tail, sorted_tail_var_es, tail_start
from risk_pipeline.risk.var.tail import tail_var_es
from risk_pipeline.risk.var.windows import compound_returns


def _series(n: int = 600, seed: int = 0, dof: float = 4.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    vol = 0.01 * np.exp(0.5 * np.sin(np.arange(n) / 40.0))
    return pd.Series(rng.standard_t(dof, n) * vol, index=pd.bdate_range("2001-01-01", periods=n))


def _loop_tail(losses: np.ndarray, c: float) -> tuple[float, float]:
    """docs/design.md definition written out: numpy.quantile, then the mean of losses >= it."""
    var = np.quantile(losses, c)
    return var, losses[losses >= var].mean()


def test_sorted_tail_equals_tail_var_es_with_ties() -> None:
    """One sort, several confidences: the same VaR (bit for bit) and ES as tail_var_es, ties included."""
    rng = np.random.default_rng(3)
    for trial in range(100):
        m = int(rng.integers(2, 80))
        x = rng.integers(-3, 4, size=(5, m)).astype(float) if trial % 2 else rng.standard_normal((5, m))
        confidences = (0.5, 0.9, 0.975, 0.99, float(rng.uniform(0.01, 0.99)))
        var, es = sorted_tail_var_es(np.sort(x, axis=-1), confidences)
        for k, c in enumerate(confidences):
            v0, e0 = tail_var_es(x, c)
            np.testing.assert_array_equal(var[:, k], v0)
            np.testing.assert_allclose(es[:, k], e0, rtol=1e-13, atol=0)


def test_sorting_only_the_tail_gives_the_numbers_of_the_full_sort() -> None:
    """``sort_tail`` (a partition, then a sort of the tail) gives ``sorted_tail_var_es`` the VaR and
    ES of the full sort bit for bit, ties at the quantile included, and the full sort's values from
    ``tail_start`` on; 10,000 scenarios as Monte Carlo's, and short samples."""
    rng = np.random.default_rng(8)
    for trial in range(40):
        m = 10_000 if trial < 4 else int(rng.integers(2, 300))
        x = rng.integers(-5, 6, size=(6, m)).astype(float) if trial % 2 else rng.standard_t(3, (6, m))
        confidences = (0.95, 0.99) if trial < 4 else (float(rng.uniform(0.01, 0.99)), 0.99)
        full, tail = np.sort(x, axis=-1), x.copy()
        sort_tail(tail, confidences)
        j = tail_start(m, confidences)
        np.testing.assert_array_equal(tail[:, j:], full[:, j:])
        np.testing.assert_array_equal(np.sort(tail, axis=-1), full)  # a permutation of the sample
        for a, b in zip(sorted_tail_var_es(tail, confidences), sorted_tail_var_es(full, confidences)):
            np.testing.assert_array_equal(a, b)
        if trial == 0:  # the head was left unsorted: the partial path ran
            assert j == 9499 and not np.array_equal(tail, full)


@pytest.mark.parametrize("horizon", [1, 5])
def test_historical_matches_plain_loop(horizon: int) -> None:
    """Window t-W..t-1, overlapping compounded h-day returns, numpy.quantile + tail mean in a loop."""
    r = _series(500)
    window, c = 120, 0.975
    out = rolling_var_es(r, method="historical", confidence=c, window=window, horizon_days=horizon)
    assert out.iloc[:window].isna().all().all() and out.iloc[window:].notna().all().all()
    values = r.to_numpy()
    for t in np.random.default_rng(1).integers(window, len(r), size=25):
        w = values[t - window : t]
        sample = np.array([np.prod(1 + w[k : k + horizon]) - 1 for k in range(window - horizon + 1)])
        var, es = _loop_tail(-sample, c)
        assert out["var"].iloc[t] == pytest.approx(var, rel=1e-12)
        assert out["es"].iloc[t] == pytest.approx(es, rel=1e-12)


@pytest.mark.parametrize("horizon", [2, 3, 10])
def test_compounded_returns_are_the_products_in_order_of_each_window(horizon: int) -> None:
    """R_k = (1 + r_k)(1 + r_{k+1}) ... (1 + r_{k+h-1}) - 1, the factors multiplied left to right: the same
    bits as a plain loop, along the last axis of a 2-D and a transposed (strided) 3-D input."""
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 0.02, (4, 60))
    for values in (x, rng.normal(0.0, 0.02, (60, 3, 2)).T):
        got = compound_returns(values, horizon)
        assert got.shape == values.shape[:-1] + (values.shape[-1] - horizon + 1,)
        for index in np.ndindex(*values.shape[:-1]):
            row = values[index].tolist()
            plain = [functools.reduce(operator.mul, [1.0 + v for v in row[k : k + horizon]]) - 1.0
                     for k in range(len(row) - horizon + 1)]
            np.testing.assert_array_equal(got[index], plain)
    assert compound_returns(x, 1) is x
    with pytest.raises(ValueError, match="hold no"):
        compound_returns(x[:, :horizon - 1], horizon)


def test_parametric_normal_against_scipy() -> None:
    """VaR = -mu + sigma z_c; ES checked by integrating the normal quantile over (c, 1)."""
    r = _series(400)
    window, c, t = 250, 0.99, 333
    out = rolling_var_es(r, method="parametric_normal", confidence=c, window=window, horizon_days=1)
    w = r.to_numpy()[t - window : t]
    dist = stats.norm(w.mean(), w.std(ddof=1))
    es_expected = integrate.quad(lambda u: -dist.ppf(1 - u), c, 1)[0] / (1 - c)
    assert out["var"].iloc[t] == pytest.approx(-dist.ppf(1 - c), rel=1e-12)
    assert out["es"].iloc[t] == pytest.approx(es_expected, rel=1e-7)
    out10 = rolling_var_es(r, method="parametric_normal", confidence=c, window=window, horizon_days=10)
    np.testing.assert_allclose(out10.to_numpy(), out.to_numpy() * np.sqrt(10))


@pytest.mark.parametrize("nu", [4.5, 7.0, 30.0])
def test_student_t_closed_form_against_numerical_integration(nu: float) -> None:
    """MFE (2.21) ES vs E[L | L >= VaR] integrated over scipy.stats.t scaled to variance sigma^2."""
    mu, sigma, c = 0.0004, 0.013, 0.975
    var, es = student_t_var_es(np.array(mu), np.array(sigma), np.array(nu), (c,))
    dist = stats.t(nu, loc=-mu, scale=sigma * np.sqrt((nu - 2) / nu))  # the loss distribution
    v = dist.ppf(c)
    es_num = integrate.quad(lambda x: x * dist.pdf(x), v, np.inf)[0] / (1 - c)
    assert var[0] == pytest.approx(v, rel=1e-10)
    assert es[0] == pytest.approx(es_num, rel=1e-7)


def test_parametric_t_fits_dof_by_method_of_moments() -> None:
    """nu = 4 + 6 / g2 with g2 = scipy.stats.kurtosis (biased) of the window; sigma = std ddof 1."""
    r = _series(700, dof=5.0)
    window, c, t = 500, 0.99, 640
    out = rolling_var_es(r, method="parametric_t", confidence=c, window=window)
    w = r.to_numpy()[t - window : t]
    k = stats.kurtosis(w)
    nu = np.clip(4 + 6 / k, 4.2, NU_MAX) if k > 0 else NU_MAX
    expected = -w.mean() + w.std(ddof=1) * np.sqrt((nu - 2) / nu) * stats.t.ppf(c, nu)
    assert out["var"].iloc[t] == pytest.approx(expected, rel=1e-9)
    assert t_dof_from_kurtosis(np.array([-0.5, 0.0]))[0] == NU_MAX


def test_cornish_fisher_is_normal_without_skew_and_kurtosis() -> None:
    mu, sigma = np.array([0.001, -0.002]), np.array([0.01, 0.03])
    cf = cornish_fisher_var_es(mu, sigma, np.zeros(2), np.zeros(2), (0.95, 0.99))
    normal = normal_var_es(mu, sigma, (0.95, 0.99))
    np.testing.assert_allclose(cf[0], normal[0], rtol=1e-13)
    np.testing.assert_allclose(cf[1], normal[1], rtol=1e-13)


@pytest.mark.parametrize(("skew", "kurt"), [(-0.6, 2.0), (0.3, 1.0), (-1.2, 6.0)])
def test_cornish_fisher_es_is_tail_average_of_cf_quantile(skew: float, kurt: float) -> None:
    """Closed-form ES = -(mu + sigma/p int_0^p q(u) du), checked with scipy quad; VaR = -(mu + sigma q(p))."""
    s, k = monotone_cf_parameters(np.array(skew), np.array(kurt))
    assert (s, k) == (skew, kurt)  # these points are inside Maillard's domain
    mu, sigma, c = 0.0005, 0.012, 0.975
    p = 1 - c
    var, es = cornish_fisher_var_es(np.array(mu), np.array(sigma), np.array(skew), np.array(kurt), (c,))
    integral = integrate.quad(lambda u: cornish_fisher_quantile(u, skew, kurt), 0, p, limit=200)[0]
    assert var[0] == pytest.approx(-(mu + sigma * cornish_fisher_quantile(p, skew, kurt)), rel=1e-12)
    assert es[0] == pytest.approx(-(mu + sigma * integral / p), rel=1e-6)


def test_cornish_fisher_clipping_makes_the_quantile_monotone() -> None:
    """After clipping, q(u) is non-decreasing on a fine grid and ES >= VaR, even for extreme moments."""
    rng = np.random.default_rng(5)
    skew, kurt = rng.uniform(-4, 4, 400), rng.uniform(-2, 40, 400)
    s, k = monotone_cf_parameters(skew, kurt)
    u = np.linspace(1e-6, 1 - 1e-6, 4001)[:, None]
    assert np.all(np.diff(cornish_fisher_quantile(u, s, k), axis=0) >= -1e-12)
    var, es = cornish_fisher_var_es(np.zeros(400), np.ones(400), skew, kurt, (0.95, 0.99))
    assert np.all(es >= var) and np.all(var[:, 1] >= var[:, 0])
    # and unclipped, such a point is not monotone (the failure the guard exists for)
    assert np.any(np.diff(cornish_fisher_quantile(u, np.array([2.0]), np.array([1.0])), axis=0) < 0)


def test_ewma_matches_plain_python_recursion() -> None:
    """sigma2 seeded with mean(r^2) of the window, then sigma2 = lam sigma2 + (1-lam) r^2 over the window."""
    r = _series(400)
    window, lam, c = 150, 0.97, 0.99
    out = rolling_var_es(r, method="ewma", confidence=c, window=window, horizon_days=5, lam=lam)
    values = r.to_numpy()
    for t in (150, 151, 277, 399):
        w = values[t - window : t]
        s2 = sum(x * x for x in w) / window
        for x in w:
            s2 = lam * s2 + (1 - lam) * x * x
        z = stats.norm.ppf(c)
        assert out["var"].iloc[t] == pytest.approx(np.sqrt(5 * s2) * z, rel=1e-12)
        assert out["es"].iloc[t] == pytest.approx(np.sqrt(5 * s2) * stats.norm.pdf(z) / (1 - c), rel=1e-12)


def _fhs_loop(w: np.ndarray, sigma2: list[float], c: float, horizon: int) -> tuple[float, float]:
    rescaled = w / np.sqrt(sigma2[:-1]) * np.sqrt(sigma2[-1])
    sample = np.array([np.prod(1 + rescaled[k : k + horizon]) - 1 for k in range(len(w) - horizon + 1)])
    return _loop_tail(-sample, c)


def test_filtered_historical_ewma_matches_loop() -> None:
    r = _series(420)
    window, c, horizon = 200, 0.975, 3
    out = rolling_var_es(r, method="filtered_historical", confidence=c, window=window, horizon_days=horizon)
    values = r.to_numpy()
    for t in (200, 311, 419):
        w = values[t - window : t]
        sigma2 = [np.mean(w * w)]
        for x in w:
            sigma2.append(0.94 * sigma2[-1] + 0.06 * x * x)
        var, es = _fhs_loop(w, sigma2, c, horizon)
        assert out["var"].iloc[t] == pytest.approx(var, rel=1e-10)
        assert out["es"].iloc[t] == pytest.approx(es, rel=1e-10)


def test_filtered_historical_garch_matches_loop_grid_qmle() -> None:
    """Variance-targeted GARCH(1,1), (alpha, beta) = argmax Gaussian QMLE over GARCH_GRID, per window."""
    r = _series(330, seed=4)
    window, c = 250, 0.99
    out = rolling_var_es(r, method="filtered_historical", confidence=c, window=window, filter="garch")
    values = r.to_numpy()
    for t in (250, 329):
        w = values[t - window : t]
        v = np.mean(w * w)
        best = None
        for alpha, beta in GARCH_GRID:
            s2, path, ll = v, [], 0.0
            for x in w:
                path.append(s2)
                ll -= 0.5 * (np.log(s2) + x * x / s2)
                s2 = (1 - alpha - beta) * v + alpha * x * x + beta * s2
            if best is None or ll > best[0]:
                best = (ll, path + [s2])
        var, es = _fhs_loop(w, best[1], c, 1)
        assert out["var"].iloc[t] == pytest.approx(var, rel=1e-9)
        assert out["es"].iloc[t] == pytest.approx(es, rel=1e-9)


def test_rolling_covariance_matches_covariance_module() -> None:
    """Cumsum-based window covariances equal sample_covariance / ledoit_wolf on each window."""
    x = np.random.default_rng(8).standard_t(5, size=(300, 6)) * 0.01
    window = 90
    mean_s, cov_s = rolling_mean_covariance(x, window, "none")
    mean_l, cov_l = rolling_mean_covariance(x, window, "ledoit_wolf")
    for j in (0, 57, 209):
        w = x[j : j + window]
        np.testing.assert_allclose(mean_s[j], w.mean(axis=0), rtol=1e-10)
        np.testing.assert_allclose(cov_s[j], sample_covariance(w), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(cov_l[j], ledoit_wolf(w).covariance, rtol=1e-9, atol=1e-15)


def _one_asset_frame(n: int = 400, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"A": rng.standard_t(5, n) * 0.01}, index=pd.bdate_range("2010-01-01", periods=n))


def test_monte_carlo_one_asset_within_sampling_error_of_analytic_t() -> None:
    """One asset, weight 1: MC VaR/ES ~ the Student-t closed form with the window's mean, std (ddof 0)
    and the grid-rounded method-of-moments dof, within a few sampling standard errors."""
    frame = _one_asset_frame()
    window, c, n_sims = 300, 0.99, 40_000
    out = rolling_var_es(
        frame, method="monte_carlo", confidence=c, window=window, weights=pd.Series({"A": 1.0}), n_scenarios=n_sims
    )
    for t in (300, 350, 399):
        w = frame["A"].to_numpy()[t - window : t]
        nu = DOF_GRID[quantize_dof(t_dof_from_kurtosis(np.array(stats.kurtosis(w))))]
        var, es = student_t_var_es(np.array(w.mean()), np.array(w.std()), np.array(nu), (c,))
        assert out["var"].iloc[t] == pytest.approx(var[0], rel=0.04)
        assert out["es"].iloc[t] == pytest.approx(es[0], rel=0.05)


def test_monte_carlo_reproducible_by_seed_and_weights_forms_agree() -> None:
    rng = np.random.default_rng(11)
    n, window = 260, 200
    frame = pd.DataFrame(rng.standard_t(6, size=(n, 3)) * 0.01, index=pd.bdate_range("2015-01-01", periods=n), columns=list("XYZ"))
    weights = pd.Series({"X": 0.5, "Y": 0.3, "Z": 0.2})
    kwargs = dict(method="monte_carlo", confidence=0.99, window=window, horizon_days=5, n_scenarios=1000)
    first = rolling_var_es(frame, weights=weights, seed=7, **kwargs)
    again = rolling_var_es(frame, weights=weights, seed=7, **kwargs)
    other = rolling_var_es(frame, weights=weights, seed=8, **kwargs)
    daily = rolling_var_es(frame, weights=pd.DataFrame([weights] * n, index=frame.index), seed=7, **kwargs)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["var"].iloc[window:], other["var"].iloc[window:])
    np.testing.assert_allclose(daily.to_numpy(), first.to_numpy(), rtol=1e-12)
    # weights held on each date: doubling them on one date doubles (approximately) only that date's VaR
    changed = pd.DataFrame([weights] * n, index=frame.index)
    changed.iloc[230] *= 2
    moved = rolling_var_es(frame, weights=changed, seed=7, **kwargs)
    np.testing.assert_allclose(moved["var"].drop(frame.index[230]), first["var"].drop(frame.index[230]))
    assert moved["var"].iloc[230] > 1.8 * first["var"].iloc[230]


@pytest.mark.parametrize("method", ["historical", "cornish_fisher", "filtered_historical", "monte_carlo"])
def test_grid_equals_rolling_var_es(method: str) -> None:
    """var_es_grid and rolling_var_es give identical numbers for each (confidence, horizon)."""
    rng = np.random.default_rng(12)
    n, window = 300, 150
    index = pd.bdate_range("2012-01-02", periods=n)
    frame = pd.DataFrame(rng.standard_t(5, size=(n, 2)) * 0.01, index=index, columns=["P", "Q"])
    weights = pd.Series({"P": 0.6, "Q": 0.4})
    returns, extra = (frame, {"weights": weights, "n_scenarios": 500}) if method == "monte_carlo" else (frame @ weights, {})
    grid = var_es_grid(returns, method=method, confidences=[0.95, 0.99], horizons=[1, 3, 10], window=window, **extra)
    assert list(grid.columns) == ["date", "confidence", "horizon_days", "var", "es"]
    assert len(grid) == (n - window) * 6
    for c in (0.95, 0.99):
        for h in (1, 3, 10):
            single = rolling_var_es(returns, method=method, confidence=c, window=window, horizon_days=h, **extra).dropna()
            part = grid[(grid.confidence == c) & (grid.horizon_days == h)].set_index("date")
            np.testing.assert_array_equal(part["var"].to_numpy(), single["var"].to_numpy())
            np.testing.assert_array_equal(part["es"].to_numpy(), single["es"].to_numpy())


def test_parametric_t_mle_is_scipys_t_fit_on_sampled_windows() -> None:
    """dof="mle": (mu, s, nu) maximize the window's t likelihood (scipy.stats.t.fit as reference)."""
    r = _series(700, seed=4, dof=4.0)
    window, c = 250, 0.99
    out = rolling_var_es(r, method="parametric_t", confidence=c, window=window, dof="mle")
    for t in (window, 431, 699):
        w = r.iloc[t - window : t].to_numpy()
        nu, loc, scale = stats.t.fit(w)
        nu_fit, loc_fit, scale_fit = stats.t.fit(w, nu, loc=loc, scale=scale)  # polished start
        # our VaR is -loc + scale t_c at the MLE: compare at scipy's optimum, whose likelihood it must match
        expected = -loc_fit + scale_fit * stats.t.ppf(c, nu_fit)
        assert out["var"].iloc[t] == pytest.approx(expected, rel=2e-3)
    with pytest.raises(VarParameterError, match="dof"):
        rolling_var_es(r, method="parametric_t", confidence=c, window=window, dof="kurtosis")


def test_student_t_mle_likelihood_is_at_least_scipys() -> None:
    from risk_pipeline.risk.var.parametric import student_t_mle

    rng = np.random.default_rng(8)
    samples = rng.standard_t(5, size=(6, 400)) * 0.02 + 0.001
    fit = student_t_mle(samples)
    for i, x in enumerate(samples):
        nu, loc, scale = stats.t.fit(x)
        ours = stats.t.logpdf(x, fit.nu[i], fit.mu[i], fit.scale[i]).sum()
        assert ours >= stats.t.logpdf(x, nu, loc, scale).sum() - 1e-6
        assert fit.nu[i] == pytest.approx(nu, rel=1e-3)
    np.testing.assert_allclose(fit.std, fit.scale * np.sqrt(fit.nu / (fit.nu - 2)))


@pytest.mark.parametrize("lam", [0.94, 0.5])
def test_ewma_paths_of_one_window_equal_its_row_among_many_bit_for_bit(lam):
    """A new day's single window takes the recursion on Python floats: the same bits as its row in the
    vectorized recursion over many windows (fat tails, a zero window, one and many positions)."""
    rng = np.random.default_rng(5)
    for width in (1, 7, 252, 756):
        windows = rng.standard_t(3, (6, width)) * 0.01
        windows[2] = 0.0
        many = ewma_variance_paths(windows, lam)
        for row in range(windows.shape[0]):
            assert ewma_variance_paths(windows[row : row + 1], lam).tobytes() == many[row : row + 1].tobytes()
