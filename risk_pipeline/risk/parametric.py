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

Horizons by the square-root-of-time rule (:func:`~risk_pipeline.risk.windows.square_root_of_time`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from risk_pipeline.risk.windows import VarEsSurface, full_index, square_root_of_time, trailing_windows

NU_MIN = 4.2
NU_MAX = 100.0


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


def window_moments(returns: np.ndarray, window: int) -> WindowMoments:
    """:class:`WindowMoments` of the trailing windows of a 1-D return array (rows ``window..n-1``)."""
    return moments_of_rows(trailing_windows(returns, window))


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
    returns: np.ndarray, *, window: int, confidences: tuple[float, ...], horizons: tuple[int, ...]
) -> VarEsSurface:
    """Rolling normal VaR/ES from window mean and std, sqrt-of-time for horizons."""
    mom = window_moments(returns, window)
    var, es = square_root_of_time(*normal_var_es(mom.mean, mom.std, confidences), horizons)
    return VarEsSurface(full_index(var, window), full_index(es, window), confidences, horizons)


def parametric_t_var_es(
    returns: np.ndarray, *, window: int, confidences: tuple[float, ...], horizons: tuple[int, ...]
) -> VarEsSurface:
    """Rolling Student-t VaR/ES, dof by method of moments, sqrt-of-time for horizons."""
    mom = window_moments(returns, window)
    nu = t_dof_from_kurtosis(mom.excess_kurtosis)
    var, es = square_root_of_time(*student_t_var_es(mom.mean, mom.std, nu, confidences), horizons)
    return VarEsSurface(full_index(var, window), full_index(es, window), confidences, horizons)
