"""Parametric (normal and Student-t) rolling VaR and ES, and the window moments they use.

Window moments of ``r_{t-W} .. r_{t-1}`` (``d_i = r_i - mean``, ``m_k = mean(d_i^k)``):

    mu = mean(r),  sigma = sqrt(W m_2 / (W - 1))        (sample std, ddof = 1)
    skew = m_3 / m_2^{3/2},  kurt = m_4 / m_2^2 - 3     (moment estimators g1, g2)

Normal (c confidence, z_c = Phi^{-1}(c), phi the standard normal density):

    VaR = -mu + sigma z_c,   ES = -mu + sigma phi(z_c) / (1 - c)

Student-t with nu degrees of freedom scaled to variance sigma^2
(X = mu + sigma sqrt((nu - 2)/nu) T_nu, McNeil, Frey & Embrechts, *Quantitative Risk
Management* (2005), eq. (2.21) and Example 2.19):

    VaR = -mu + sigma s t_c,   ES = -mu + sigma s g_nu(t_c) (nu + t_c^2) / ((nu - 1)(1 - c))
    s = sqrt((nu - 2)/nu), t_c = t_nu^{-1}(c), g_nu the t density.

Degrees of freedom by the method of moments from excess kurtosis, kurt = 6 / (nu - 4):
``nu = 4 + 6 / kurt`` for kurt > 0, bounded to ``[NU_MIN, NU_MAX]``; kurt <= 0 (no fat
tails) gives NU_MAX.  The estimator only yields nu > 4 (finite fourth moment), so NU_MIN
is reached only for kurt >= 6 / (NU_MIN - 4).

Degrees of freedom by maximum likelihood (``dof="mle"``): (mu, s, nu) of the location-scale
t maximizing the window's likelihood, by the ECME algorithm of Liu & Rubin (1995, "ML estimation
of the t distribution using EM and its extensions, ECM and ECME", Statistica Sinica 5),
vectorized over windows: with d_i = (r_i - mu)/s and weights w_i = (nu + 1)/(nu + d_i^2),

    mu <- sum w r / sum w,   s^2 <- mean w (r - mu)^2,
    nu <- argmax of the observed t log-likelihood given mu, s (Newton steps, :func:`_nu_step`),

from the moment estimates, until every window moves by less than
MLE_TOL or after MLE_MAX_ITER steps; nu bounded to [NU_MLE_MIN, NU_MAX] (nu > 2: finite
variance). The variance is sigma^2 = s^2 nu / (nu - 2). Method of moments stays the default:
on the bundled books its FZ0 scores are not worse (docs/methods.md).

Horizons by the square-root-of-time rule (default) or with the mean scaled by h (``horizon_scaling``,
:func:`~risk_pipeline.risk.var.windows.scale_to_horizons`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from risk_pipeline.risk.var.windows import VarEsSurface, rolling_surface, scale_to_horizons

NU_MIN = 4.2
NU_MAX = 100.0
NU_MLE_MIN = 2.1
DOF_ESTIMATORS = ("moments", "mle")
MLE_TOL = 1e-9
MLE_MAX_ITER = 200


@dataclass(frozen=True)
class WindowMoments:
    """Mean, sample std (ddof 1), skewness g1 and excess kurtosis g2 of each window (rows)."""

    mean: np.ndarray
    std: np.ndarray
    skew: np.ndarray
    excess_kurtosis: np.ndarray


def moments_of_rows(samples: np.ndarray) -> WindowMoments:
    """:class:`WindowMoments` of each row of ``samples`` (rows x window), see module doc.

    A constant row has skew and excess kurtosis 0 (and std 0).
    """
    width = samples.shape[-1]
    mean = samples.mean(axis=-1)
    d = samples - mean[..., None]
    d2 = d * d
    m2 = d2.mean(axis=-1)
    m3 = (d2 * d).mean(axis=-1)
    m4 = (d2 * d2).mean(axis=-1)
    flat = m2 <= 0.0
    safe_m2 = np.where(flat, 1.0, m2)
    skew = np.where(flat, 0.0, m3 / safe_m2**1.5)
    kurt = np.where(flat, 0.0, m4 / safe_m2**2 - 3.0)
    return WindowMoments(mean, np.sqrt(m2 * width / (width - 1)), skew, kurt)


def t_dof_from_kurtosis(excess_kurtosis: np.ndarray) -> np.ndarray:
    """Method-of-moments degrees of freedom ``nu = 4 + 6 / kurt`` bounded to [NU_MIN, NU_MAX]."""
    k = np.asarray(excess_kurtosis, dtype=float)
    with np.errstate(divide="ignore"):
        nu = np.where(k > 0.0, 4.0 + 6.0 / np.where(k > 0.0, k, 1.0), NU_MAX)
    return np.clip(nu, NU_MIN, NU_MAX)


def normal_var_es(mu: np.ndarray, sigma: np.ndarray, confidences: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form normal VaR/ES, shape ``mu.shape + (n_conf,)`` (see module doc)."""
    c = np.asarray(confidences, dtype=float)
    z = stats.norm.ppf(c)
    mu, sigma = np.asarray(mu)[..., None], np.asarray(sigma)[..., None]
    return -mu + sigma * z, -mu + sigma * stats.norm.pdf(z) / (1.0 - c)


def student_t_var_es(
    mu: np.ndarray, sigma: np.ndarray, nu: np.ndarray, confidences: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form VaR/ES of a Student-t with variance ``sigma^2`` (MFE 2005 eq. 2.21)."""
    c = np.asarray(confidences, dtype=float)
    mu, sigma, nu = (np.asarray(a, dtype=float)[..., None] for a in (mu, sigma, nu))
    t_c = stats.t.ppf(c, nu)
    scale = sigma * np.sqrt((nu - 2.0) / nu)
    es_std = stats.t.pdf(t_c, nu) * (nu + t_c**2) / ((nu - 1.0) * (1.0 - c))
    return -mu + scale * t_c, -mu + scale * es_std


def parametric_normal_var_es(
    returns: np.ndarray, *, window: int, confidences: tuple[float, ...], horizons: tuple[int, ...],
    horizon_scaling: str = "sqrt_time",
) -> VarEsSurface:
    """Rolling normal VaR/ES from window mean and std; horizons by ``horizon_scaling``
    (:func:`~risk_pipeline.risk.var.windows.scale_to_horizons`)."""
    return rolling_surface(normal_window_var_es, returns, window, confidences, horizons,
                           horizon_scaling=horizon_scaling)


def normal_window_var_es(windows: np.ndarray, confidences: tuple[float, ...], horizons: tuple[int, ...],
                         horizon_scaling: str = "sqrt_time") -> tuple[np.ndarray, np.ndarray]:
    """Normal VaR/ES of each window (rows x W) from its mean and std, shape ``(rows, n_conf, n_h)``."""
    mom = moments_of_rows(windows)
    return scale_to_horizons(*normal_var_es(mom.mean, mom.std, confidences), horizons, mom.mean, horizon_scaling)


@dataclass(frozen=True)
class StudentTFit:
    """Location mu, scale s and degrees of freedom nu of a t fit per window (rows)."""

    mu: np.ndarray
    scale: np.ndarray
    nu: np.ndarray

    @property
    def std(self) -> np.ndarray:
        return self.scale * np.sqrt(self.nu / (self.nu - 2.0))


def _nu_step(nu: np.ndarray, q: np.ndarray) -> np.ndarray:
    """nu maximizing the t log-likelihood given mu, s (q = d^2 per row): Newton steps in log nu on

        l(nu) = n [lgamma((nu+1)/2) - lgamma(nu/2) - log(nu)/2] - (nu+1)/2 sum log(1 + q/nu),
        l'  = n/2 [psi((nu+1)/2) - psi(nu/2) - 1/nu] - A/2 + (nu+1)/2 B,
        l'' = n/4 [psi'((nu+1)/2) - psi'(nu/2)] + n/(2 nu^2) + B - (nu+1)/2 C,

    A = sum log(1 + q/nu), B = sum q/(nu (nu + q)), C = sum q (2 nu + q)/(nu (nu + q))^2; a step
    where l is not concave moves log nu by 0.5 uphill."""
    n = q.shape[1]
    x = np.log(nu)
    for _ in range(4):
        v = np.exp(x)[:, None]
        a = np.log1p(q / v).sum(axis=1)
        b = (q / (v * (v + q))).sum(axis=1)
        cc = (q * (2.0 * v + q) / (v * (v + q)) ** 2).sum(axis=1)
        v = v[:, 0]
        d1 = n / 2.0 * (special.digamma((v + 1.0) / 2.0) - special.digamma(v / 2.0) - 1.0 / v) - a / 2.0 + (v + 1.0) / 2.0 * b
        d2 = n / 4.0 * (special.polygamma(1, (v + 1.0) / 2.0) - special.polygamma(1, v / 2.0)) + n / (2.0 * v * v) + b - (v + 1.0) / 2.0 * cc
        g1, g2 = v * d1, v * v * d2 + v * d1  # derivatives in x = log nu
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(g2 < 0.0, -g1 / g2, 0.5 * np.sign(g1))
        x = np.clip(x + np.clip(step, -1.0, 1.0), np.log(NU_MLE_MIN), np.log(NU_MAX))
    return np.exp(x)


def student_t_mle(samples: np.ndarray) -> StudentTFit:
    """Maximum-likelihood t fit of each row of ``samples`` (rows x n) by ECME (module doc)."""
    x = np.asarray(samples, dtype=float)
    mom = moments_of_rows(x)
    mu = mom.mean
    nu = np.clip(t_dof_from_kurtosis(mom.excess_kurtosis), NU_MLE_MIN, NU_MAX)
    s2 = np.maximum(mom.std**2 * (nu - 2.0) / nu, np.finfo(float).tiny)
    active = np.ones(mu.shape, dtype=bool)
    for _ in range(MLE_MAX_ITER):
        if not active.any():
            break
        rows = np.flatnonzero(active)
        xa, m, v, n = x[rows], mu[rows], s2[rows], nu[rows]
        d = xa - m[:, None]
        w = (n[:, None] + 1.0) / (n[:, None] + d * d / v[:, None])
        new_mu = (w * xa).sum(axis=1) / w.sum(axis=1)
        e = xa - new_mu[:, None]
        new_s2 = np.maximum((w * e * e).mean(axis=1), np.finfo(float).tiny)
        new_nu = _nu_step(n, e * e / new_s2[:, None])
        moved = (np.abs(new_mu - m) > MLE_TOL * np.sqrt(v)) | (np.abs(new_s2 - v) > MLE_TOL * v) | (
            np.abs(new_nu - n) > MLE_TOL * n
        )
        mu[rows], s2[rows], nu[rows] = new_mu, new_s2, new_nu
        active[rows] = moved
    return StudentTFit(mu, np.sqrt(s2), nu)


def parametric_t_var_es(
    returns: np.ndarray,
    *,
    window: int,
    confidences: tuple[float, ...],
    horizons: tuple[int, ...],
    dof: str = "moments",
    horizon_scaling: str = "sqrt_time",
) -> VarEsSurface:
    """Rolling Student-t VaR/ES, dof by method of moments (``dof="moments"``) or maximum
    likelihood (``dof="mle"``); horizons by ``horizon_scaling`` (``scale_to_horizons``)."""
    return rolling_surface(student_t_window_var_es, returns, window, confidences, horizons, dof=dof,
                           horizon_scaling=horizon_scaling)


def student_t_window_var_es(windows: np.ndarray, confidences: tuple[float, ...], horizons: tuple[int, ...],
                            dof: str = "moments", horizon_scaling: str = "sqrt_time") -> tuple[np.ndarray, np.ndarray]:
    """Student-t VaR/ES of each window (rows x W), shape ``(rows, n_conf, n_h)``."""
    if dof == "mle":
        fit = student_t_mle(windows)
        mean, std, nu = fit.mu, fit.std, fit.nu
    else:
        mom = moments_of_rows(windows)
        mean, std, nu = mom.mean, mom.std, t_dof_from_kurtosis(mom.excess_kurtosis)
    return scale_to_horizons(*student_t_var_es(mean, std, nu, confidences), horizons, mean, horizon_scaling)
