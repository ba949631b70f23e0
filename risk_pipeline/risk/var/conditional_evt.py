"""Conditional EVT VaR/ES: a GPD tail on volatility-standardized residuals (McNeil & Frey 2000).

McNeil & Frey (2000), "Estimation of tail-related risk measures for heteroscedastic financial
time series: an extreme value approach", J. Empirical Finance 7(3-4), eqs. (5)-(10).

For date t and its window r_{t-W} .. r_{t-1}, the volatility filter of filtered historical
simulation (:mod:`risk_pipeline.risk.var.filtered_historical`: EWMA by default, or the grid-QMLE
GARCH(1,1); zero mean) gives in-window forecasts sigma_m and the forecast sigma_t. With the
standardized residual losses z_m = -r_m / sigma_m (0 where sigma_m = 0), sorted
z_(1) >= z_(2) >= ...:

    threshold u = z_(k+1),  exceedances y_i = z_(i) - u, i = 1..k   (k = ``n_exceedances``)

A generalized Pareto distribution G_{xi,beta}(y) = 1 - (1 + xi y / beta)^(-1/xi) is fitted to
the y_i by maximum likelihood. Tail estimators for q > 1 - k/W (eqs. (9), (10)):

    z_q  = u + beta/xi (((1 - q) W / k)^(-xi) - 1)          (u + beta log(k / ((1 - q) W)) at xi = 0)
    ES_q = z_q / (1 - xi) + (beta - xi u) / (1 - xi)

    VaR_t = sigma_t z_q,   ES_t = sigma_t ES_q,  horizons by the square-root-of-time rule
    (:func:`~risk_pipeline.risk.var.windows.square_root_of_time`), as the other filtered methods.

Fit (vectorized over all windows): the profile likelihood of Grimshaw (1993, Technometrics 35):
with theta = xi / beta, the MLE of xi given theta is xi(theta) = mean log(1 + theta y_i), and

    l*(theta) = -k log(xi(theta) / theta) - k - k xi(theta)

is maximized over theta > -1/max(y) by a grid in s = log(1 + theta max(y)) refined by bisection
on the sign of its derivative (:func:`fit_gpd`; the test suite checks the fit against
``scipy.stats.genpareto.fit``).

xi is constrained to [XI_MIN, XI_MAX] = [-0.5, 0.5] (constrained MLE): below -0.5 the GPD
likelihood is irregular and unbounded as xi -> -inf (Smith 1985, Biometrika 72); at xi >= 1
the ES is infinite and at xi >= 0.5 the residuals would have infinite variance, which
contradicts residuals standardized to unit variance by the filter. So ES is always finite
(ES_q <= 2 z_q + 2 beta) and no row is NaN; a window whose unconstrained MLE lies outside
gets the boundary value. A window whose k largest residual losses all equal the threshold
(no spread) gets beta = 0, i.e. VaR = ES = sigma_t u.

Defaults: ``n_exceedances`` = W // 8 (12.5% of the window). McNeil & Frey (2000, sec. 3) find
k = 100 of W = 1000 (10%) a good compromise of bias and variance for 95%-99.5% quantiles; a
slightly larger share puts the threshold below the 90% quantile, so every confidence >= 90%
lies in the fitted tail (the estimators need q > 1 - k/W). The pipeline's window
(``var.evt_estimation_window_days``) is 756 days (three years, the Monte Carlo window): 94 exceedances.
"""

from __future__ import annotations

import numpy as np

from risk_pipeline.risk.var.ewma import RISKMETRICS_LAMBDA
from risk_pipeline.risk.var.filtered_historical import volatility_paths
from risk_pipeline.risk.var.windows import VarEsSurface, rolling_surface, square_root_of_time

XI_MIN, XI_MAX = -0.5, 0.5
MIN_EXCEEDANCES = 5
DEFAULT_TAIL_SHARE = 8  # n_exceedances = window // 8
_S_RANGE = (np.log(1e-6), np.log(1.0 + 1e4))  # s = log(1 + theta max(y)): -1 + 1e-6 <= theta max(y) <= 1e4
_GRID_POINTS = 41
_BISECTION_STEPS = 56
_ROWS_PER_BLOCK = 1024  # windows per block: the grid evaluation holds rows x 41 x k values


def default_exceedances(window: int) -> int:
    """The default number of exceedances for a window: ``window // 8`` (module doc)."""
    return window // DEFAULT_TAIL_SHARE


def _theta(s: np.ndarray, y_max: np.ndarray) -> np.ndarray:
    return np.expm1(s) / y_max


def _xi(s: np.ndarray, y: np.ndarray, y_max: np.ndarray) -> np.ndarray:
    """xi(theta) = mean log(1 + theta y) per window (s: windows, or windows x points)."""
    theta = _theta(s, y_max if s.ndim == 1 else y_max[:, None])
    return np.log1p(theta[..., None] * (y if s.ndim == 1 else y[:, None, :])).mean(axis=-1)


def _rising(s: np.ndarray, y: np.ndarray, y_max: np.ndarray) -> np.ndarray:
    """Whether l*(theta) increases at s: the sign of dl*/dtheta / k = 1/theta - xi'(1 + 1/xi),
    xi' = mean(y / (1 + theta y)); at theta = 0 its limit m2/(2 m1) - m1 (m_j = mean y^j)."""
    theta = _theta(s, y_max)
    ty = theta[:, None] * y
    xi = np.log1p(ty).mean(axis=-1)
    slope = (y / (1.0 + ty)).mean(axis=-1)
    m1, m2 = y.mean(axis=-1), (y * y).mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(theta != 0.0, 1.0 / theta - slope * (1.0 + 1.0 / xi), m2 / (2.0 * m1) - m1)
    return g > 0.0


def _bisect(predicate, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shrink [lo, hi] around the point where ``predicate`` turns from True to False."""
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        left = predicate(mid)
        lo, hi = np.where(left, mid, lo), np.where(left, hi, mid)
    return lo, hi


def fit_gpd(exceedances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Constrained ML fit of a GPD to each row of ``exceedances`` (rows x k, values >= 0).

    Returns ``(xi, beta)`` per row (module doc). Steps, vectorized over rows, in s = log(1 +
    theta max(y)): the feasible interval [s_a, s_b] where XI_MIN <= xi(theta) <= XI_MAX (xi is
    increasing in theta: bisection); the best of ``_GRID_POINTS`` points of the profile
    likelihood in it; then bisection on the sign of its derivative between the neighbours of
    that point (a derivative pointing out of the bracket keeps the bracket's end: the
    constrained optimum). Sign decisions make the result reproducible to rounding. A row of
    zeros gives xi = 0, beta = 0.
    """
    y = np.asarray(exceedances, dtype=float)
    y_max = y.max(axis=-1)
    flat = y_max <= 0.0
    y_max = np.where(flat, 1.0, y_max)
    rows = y.shape[0]
    s_min, s_max = np.full(rows, _S_RANGE[0]), np.full(rows, _S_RANGE[1])
    s_a = np.where(_xi(s_min, y, y_max) >= XI_MIN, s_min,
                   _bisect(lambda s: _xi(s, y, y_max) < XI_MIN, s_min, s_max)[1])
    s_b = np.where(_xi(s_max, y, y_max) <= XI_MAX, s_max,
                   _bisect(lambda s: _xi(s, y, y_max) <= XI_MAX, s_min, s_max)[0])
    grid = s_a[:, None] + (s_b - s_a)[:, None] * np.linspace(0.0, 1.0, _GRID_POINTS)
    theta = _theta(grid, y_max[:, None])
    xi = _xi(grid, y, y_max)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(theta != 0.0, xi / theta, y.mean(axis=-1)[:, None])  # xi/theta -> mean(y) at 0
        profile = np.where(ratio > 0.0, -np.log(ratio) - xi, -np.inf)
    best = profile.argmax(axis=1)
    at = np.arange(rows)
    left = grid[at, np.maximum(best - 1, 0)]
    right = grid[at, np.minimum(best + 1, _GRID_POINTS - 1)]
    up_left, up_right = _rising(left, y, y_max), _rising(right, y, y_max)
    lo, hi = _bisect(lambda s: _rising(s, y, y_max), left, right)
    s = np.where(~up_left, left, np.where(up_right, right, 0.5 * (lo + hi)))
    xi = np.clip(_xi(s, y, y_max), XI_MIN, XI_MAX)
    theta = _theta(s, y_max)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(theta != 0.0, xi / theta, y.mean(axis=-1))
    return np.where(flat, 0.0, xi), np.where(flat, 0.0, beta)


def gpd_tail_var_es(
    u: np.ndarray, xi: np.ndarray, beta: np.ndarray, tail_share: float, confidences: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """McNeil-Frey tail quantile and ES (eqs. (9), (10)) of the standardized losses, shape ``u.shape + (n_conf,)``.

    ``tail_share`` = k / W; every confidence q must satisfy 1 - q < k / W.
    """
    q = np.asarray(confidences, dtype=float)
    u, xi, beta = (np.asarray(a, dtype=float)[..., None] for a in (u, xi, beta))
    ratio = (1.0 - q) / tail_share
    small = np.abs(xi) < 1e-8
    safe_xi = np.where(small, 1.0, xi)
    z = np.where(small, u - beta * np.log(ratio), u + beta / safe_xi * (ratio ** (-safe_xi) - 1.0))
    es = (z + beta - xi * u) / (1.0 - xi)
    return z, es


def conditional_evt_window_var_es(
    windows: np.ndarray,
    confidences: tuple[float, ...],
    horizons: tuple[int, ...],
    filter: str = "ewma",
    lam: float = RISKMETRICS_LAMBDA,
    n_exceedances: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Conditional-EVT VaR/ES of each window (rows x W), shape ``(rows, n_conf, n_h)`` (module doc)."""
    window = windows.shape[-1]
    k = default_exceedances(window) if n_exceedances is None else n_exceedances
    sigma = volatility_paths(windows, filter, lam)
    n_rows = sigma.shape[0]
    var = np.empty((n_rows, len(confidences)))
    es = np.empty_like(var)
    for start in range(0, n_rows, _ROWS_PER_BLOCK):
        rows = slice(start, start + _ROWS_PER_BLOCK)
        s_in = sigma[rows, :-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(s_in > 0.0, -windows[rows] / np.where(s_in > 0.0, s_in, 1.0), 0.0)
        top = -np.partition(-z, k, axis=1)[:, : k + 1]  # the k + 1 largest, unordered
        top.sort(axis=1)
        u = top[:, 0]
        xi, beta = fit_gpd(top[:, 1:] - u[:, None])
        z_q, es_q = gpd_tail_var_es(u, xi, beta, k / window, confidences)
        var[rows] = sigma[rows, -1:] * z_q
        es[rows] = sigma[rows, -1:] * es_q
    return square_root_of_time(var, es, horizons)


def conditional_evt_var_es(
    returns: np.ndarray,
    *,
    window: int,
    confidences: tuple[float, ...],
    horizons: tuple[int, ...],
    filter: str = "ewma",
    lam: float = RISKMETRICS_LAMBDA,
    n_exceedances: int | None = None,
) -> VarEsSurface:
    """Rolling conditional-EVT VaR/ES of a 1-D array of daily simple returns (see module doc)."""
    return rolling_surface(conditional_evt_window_var_es, returns, window, confidences, horizons,
                           filter=filter, lam=lam, n_exceedances=n_exceedances)
