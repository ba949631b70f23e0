"""Rolling Cornish-Fisher (modified) VaR and ES.

Cornish-Fisher quantile of the standardized return at tail probability u, with window
skewness S and excess kurtosis K (Zangari 1996, RiskMetrics Monitor Q4; Favre & Galeano
2002, J. Alternative Investments 5(2)), z = Phi^{-1}(u):

    q(u) = z + (z^2 - 1) S/6 + (z^3 - 3z) K/24 - (2 z^3 - 5z) S^2/36

    VaR_c = -(mu + sigma q(p)),  p = 1 - c

ES is the exact tail average of this quantile function, ES_c = -(mu + sigma/p int_0^p q(u) du).
With ``M_k = E[Z^k 1{Z < z_p}]`` (M_0 = p, M_1 = -phi(z_p), M_2 = p - z_p phi(z_p),
M_3 = -(z_p^2 + 2) phi(z_p)):

    int_0^p q(u) du = M_1 + (M_2 - M_0) S/6 + (M_3 - 3 M_1) K/24 - (2 M_3 - 5 M_1) S^2/36

(the "numerical tail average of the CF quantile function" evaluated in closed form; with
S = K = 0 it is the normal ES).

Domain of validity (Maillard 2012, "A user's guide to the Cornish Fisher expansion",
SSRN 1997178): q is monotone in z iff q'(z) = a z^2 + b z + c >= 0 for all z, with
a = K/8 - S^2/6, b = S/3, c = 1 - K/8 + 5 S^2/36, i.e. K in [0, 8] and, writing x = S^2,
A x^2 + B x + C <= 0 with A = 5/54, B = 7/9 - 11K/72, C = -(K/2)(1 - K/8).  Outside it the
"quantile" is not monotone (VaR can fall with confidence, ES < VaR).  Guard: K is clipped to
[0, 8], then |S| to the largest value allowed at that K (the positive root of the quadratic
in x, capped at 3K/4 so a >= 0).  The clipped (S, K) are used for both VaR and ES.

Horizons by the square-root-of-time rule (default) or with the mean scaled by h (``horizon_scaling``,
:func:`~risk_pipeline.risk.var.windows.scale_to_horizons`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from risk_pipeline.risk.var.parametric import moments_of_rows
from risk_pipeline.risk.var.windows import VarEsSurface, rolling_surface, scale_to_horizons

KURTOSIS_MAX = 8.0


def monotone_cf_parameters(skew: np.ndarray, excess_kurtosis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip (S, K) into Maillard's (2012) domain where the CF quantile is monotone."""
    k = np.clip(np.asarray(excess_kurtosis, dtype=float), 0.0, KURTOSIS_MAX)
    a_q, b_q, c_q = 5.0 / 54.0, 7.0 / 9.0 - 11.0 * k / 72.0, -(k / 2.0) * (1.0 - k / 8.0)
    x_max = (-b_q + np.sqrt(np.maximum(b_q * b_q - 4.0 * a_q * c_q, 0.0))) / (2.0 * a_q)
    s_max = np.sqrt(np.clip(np.minimum(x_max, 0.75 * k), 0.0, None))
    return np.clip(np.asarray(skew, dtype=float), -s_max, s_max), k


def cornish_fisher_quantile(u: np.ndarray, skew: np.ndarray, excess_kurtosis: np.ndarray) -> np.ndarray:
    """The CF quantile function q(u) of the standardized variable (no clipping)."""
    z = stats.norm.ppf(u)
    s, k = skew, excess_kurtosis
    return z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36


def cornish_fisher_var_es(
    mu: np.ndarray, sigma: np.ndarray, skew: np.ndarray, excess_kurtosis: np.ndarray, confidences: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Modified VaR and CF tail-average ES, shape ``mu.shape + (n_conf,)``; (S, K) clipped first."""
    s, k = (a[..., None] for a in monotone_cf_parameters(skew, excess_kurtosis))
    mu, sigma = np.asarray(mu)[..., None], np.asarray(sigma)[..., None]
    p = 1.0 - np.asarray(confidences, dtype=float)
    z = stats.norm.ppf(p)
    phi = stats.norm.pdf(z)
    m0, m1, m2, m3 = p, -phi, p - z * phi, -(z**2 + 2.0) * phi
    q = cornish_fisher_quantile(p, s, k)
    tail_mean = (m1 + (m2 - m0) * s / 6 + (m3 - 3 * m1) * k / 24 - (2 * m3 - 5 * m1) * s**2 / 36) / p
    return -(mu + sigma * q), -(mu + sigma * tail_mean)


def cornish_fisher_rolling_var_es(
    returns: np.ndarray, *, window: int, confidences: tuple[float, ...], horizons: tuple[int, ...],
    horizon_scaling: str = "sqrt_time",
) -> VarEsSurface:
    """Rolling CF VaR/ES from window mean, std (ddof 1), skewness and excess kurtosis; horizons by
    ``horizon_scaling`` (``scale_to_horizons``)."""
    return rolling_surface(cornish_fisher_window_var_es, returns, window, confidences, horizons,
                           horizon_scaling=horizon_scaling)


def cornish_fisher_window_var_es(windows: np.ndarray, confidences: tuple[float, ...], horizons: tuple[int, ...],
                                 horizon_scaling: str = "sqrt_time") -> tuple[np.ndarray, np.ndarray]:
    """CF VaR/ES of each window (rows x W), shape ``(rows, n_conf, n_h)``; horizons by ``horizon_scaling``."""
    mom = moments_of_rows(windows)
    var_1d, es_1d = cornish_fisher_var_es(mom.mean, mom.std, mom.skew, mom.excess_kurtosis, confidences)
    return scale_to_horizons(var_1d, es_1d, horizons, mom.mean, horizon_scaling)
