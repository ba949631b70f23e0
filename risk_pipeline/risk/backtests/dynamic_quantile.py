"""Engle & Manganelli (2004) dynamic quantile (DQ) test of VaR breaches.

Hit_t = I_t - p. Regress Hit_t, t = K+1..T, on X_t = [1, Hit_{t-1}, ..., Hit_{t-K}, VaR_t]
(K = n_lags). Under correct conditional coverage every coefficient is zero and

    DQ = Hit' X (X'X)^+ X' Hit / (p (1 - p))  ~  chi2(rank X)

(= beta' X'X beta / (p(1-p)) with the OLS beta; the pseudo-inverse keeps it defined when X
is rank deficient, e.g. without breaches the lag columns equal -p and are collinear with the
constant, and the degrees of freedom are then the numerical rank of X'X).

Source: R. Engle and S. Manganelli (2004), "CAViaR: conditional autoregressive value at
risk by regression quantiles", J. Business & Economic Statistics 22(4), 367-381, section 6.

The statistic depends on the sample only through X'X and X'Hit, so ``dq_statistic`` takes
those moment matrices: ``backtest_table`` feeds them, prefix-sum differences for every as-of
date at once, to ``dq_statistic_stacked`` (a Cholesky solve of the equilibrated X'X wherever it is
provably of full rank, ``dq_statistic`` elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import chdtrc

from risk_pipeline.risk.backtests.base import (
    BacktestOutcome,
    as_breaches,
    as_count,
    as_finite,
    tail_probability,
)

_RANK_TOL = 1e-10  # eigenvalues below this fraction of the largest count as zero


@dataclass(frozen=True)
class DynamicQuantileResult(BacktestOutcome):
    """DQ test: statistic ~ chi2(df) with df the rank of the regressor matrix."""

    n_obs: int
    n_regression_rows: int
    n_lags: int
    df: int


def dq_rows(hits: np.ndarray, var: np.ndarray, p: float | np.ndarray, n_lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Regressors X (T x (n_lags + 2)) and regressand Hit for every day t of the sample.

    Rows t < n_lags lack lags and are zero-filled; callers use only rows t >= first day + n_lags. ``p``: one,
    or one per day.
    """
    hit = hits.astype(float) - p
    x = np.zeros((hit.size, n_lags + 2))
    x[:, 0] = 1.0
    for lag in range(1, n_lags + 1):
        x[lag:, lag] = hit[:-lag]
    x[:, -1] = var
    return x, hit


def dq_statistic(xx: np.ndarray, xy: np.ndarray, p: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DQ statistic and degrees of freedom from stacks of X'X (N x k x k) and X'Hit (N x k); ``p`` one or one per stack."""
    eigval, eigvec = np.linalg.eigh(xx)
    proj = np.einsum("nij,ni->nj", eigvec, xy)
    keep = eigval > _RANK_TOL * np.maximum(eigval[:, -1:], 0.0)
    keep &= eigval > 0.0
    quad = np.where(keep, proj * proj / np.where(keep, eigval, 1.0), 0.0).sum(axis=1)
    return np.maximum(quad / (p * (1.0 - p)), 0.0), keep.sum(axis=1)


_CHOLESKY_MARGIN = 10.0  # the full-rank proof must hold with this factor to spare over _RANK_TOL
_CHOLESKY_COND_MAX = 1e6  # and the scaled X'X's condition bound below this: its quadratic form within ~1e-10


def dq_statistic_stacked(xx: np.ndarray, xy: np.ndarray, p: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dq_statistic` of a large stack (every window of a run): the same statistic, taken by a Cholesky
    solve vectorised over the stack wherever X'X is provably of full rank under ``dq_statistic``'s rule, by
    ``dq_statistic`` (an eigendecomposition per matrix, some 2 microseconds each) elsewhere.

    With D = diag(X'X)^(1/2), A = D^-1 X'X D^-1 = L L' (Cholesky) and z = L^-1 D^-1 X'Hit,

        Hit' X (X'X)^-1 X' Hit = z'z,   df = k,

    valid where X'X is nonsingular with every eigenvalue kept by ``dq_statistic``'s rank rule
    (lambda > _RANK_TOL lambda_max). That is proved, not assumed: (X'X)^-1 = M'M with M = L^-1 D^-1, so
    lambda_min(X'X) >= 1 / ||M||_F^2, and lambda_max(X'X) <= trace X'X; a matrix is solved here only if
    the bound exceeds the rule by ``_CHOLESKY_MARGIN`` (an eigendecomposition's rounding, some 1e-16
    lambda_max, cannot then drop an eigenvalue) and A's condition bound k ||L^-1||_F^2 stays below
    ``_CHOLESKY_COND_MAX``. On the equilibrated A the solve is the more accurate of the two: against exact
    rational arithmetic of the same moments its error is at rounding level where the eigendecomposition
    of the unscaled X'X (condition numbers of 1e8-1e9 in the bundled books) loses up to 1e-7. Rank-deficient
    windows (no breaches: the lag columns are collinear with the constant) and those whose A is
    ill-conditioned go to ``dq_statistic`` unchanged; an option book's VaR^2 of 1e10 beside the hits' 1
    alone does not make A ill-conditioned (the equilibration takes the scale out).
    Source of the bounds: G. H. Golub and C. F. Van Loan, Matrix Computations (4th ed., 2013), 2.3 and 4.2.
    """
    with np.errstate(all="ignore"):  # a matrix that is not solved here may overflow; dq_statistic takes it
        return _stacked(xx, xy, p)


def _stacked(xx: np.ndarray, xy: np.ndarray, p: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, k = xy.shape
    # entry (i, j) of every matrix as one contiguous vector over the stack: the loops below stream memory
    a = np.ascontiguousarray(np.moveaxis(xx, 0, -1))  # (k, k, n)
    diag = np.array([a[i, i] for i in range(k)])
    solvable = (diag > 0.0).all(axis=0)
    scale = np.sqrt(np.where(solvable, diag, 1.0))
    a /= scale[:, None, :]
    a /= scale[None, :, :]
    lower = a  # L in place of A: entry (i, j) of A is read once, just before L's takes its place
    for j in range(k):  # A = L L', column by column over the whole stack
        pivot = a[j, j] - sum(lower[j, m] ** 2 for m in range(j))
        solvable &= pivot > 0.0
        lower[j, j] = np.sqrt(np.where(solvable, pivot, 1.0))
        for i in range(j + 1, k):
            lower[i, j] = (a[i, j] - sum(lower[i, m] * lower[j, m] for m in range(j))) / lower[j, j]
    inverse = np.empty_like(a)  # L^-1, by forward substitution (the upper triangles of L and L^-1 are never read)
    for j in range(k):
        inverse[j, j] = 1.0 / lower[j, j]
        for i in range(j + 1, k):
            inverse[i, j] = -sum(lower[i, m] * inverse[m, j] for m in range(j, i)) / lower[i, i]
    inverse_norm = sum(inverse[i, j] ** 2 for i in range(k) for j in range(i + 1))  # ||L^-1||_F^2 >= ||A^-1||_2
    # ||L^-1 D^-1||_F^2 >= ||(X'X)^-1||_2 = 1 / lambda_min(X'X)
    unscaled_norm = sum((inverse[i, j] / scale[j]) ** 2 for i in range(k) for j in range(i + 1))
    solvable &= 1.0 / unscaled_norm > _CHOLESKY_MARGIN * _RANK_TOL * diag.sum(axis=0)
    solvable &= k * inverse_norm < _CHOLESKY_COND_MAX
    b = xy.T / scale
    quad = sum(sum(inverse[i, j] * b[j] for j in range(i + 1)) ** 2 for i in range(k))  # z'z, z = L^-1 D^-1 X'Hit
    stat = np.maximum(quad / (p * (1.0 - p)), 0.0)
    df = np.full(n, k)
    rest = np.flatnonzero(~solvable)
    if rest.size:
        stat[rest], df[rest] = dq_statistic(xx[rest], xy[rest], p if np.ndim(p) == 0 else np.asarray(p)[rest])
    return stat, df


def dq_p_value(stat: np.ndarray, df: np.ndarray) -> np.ndarray:
    """chi2(df) survival function, 1.0 where df = 0."""
    return np.where(df > 0, chdtrc(np.maximum(df, 1), stat), 1.0)


def dynamic_quantile(breaches: object, var: object, confidence: float, n_lags: int = 4) -> DynamicQuantileResult:
    """Engle & Manganelli (2004) DQ test; formula and source in the module docstring.

    ``breaches`` and ``var`` are aligned per day (the VaR forecast of that day).
    Edge rules: with no more regression rows (T - n_lags) than regressors (n_lags + 2)
    -> statistic 0, p 1, ``insufficient_data``; rank-deficient regressors (no or only
    breaches, constant VaR) -> pseudo-inverse and df = numerical rank (finite, never NaN).
    """
    p = tail_probability(confidence)
    hits = as_breaches(breaches)
    v = as_finite(var, "var", hits.size)
    k_lags = as_count(n_lags, "n_lags")
    x, y = dq_rows(hits, v, p, k_lags)
    x, y = x[k_lags:], y[k_lags:]
    rows, k = x.shape
    stat, df = dq_statistic((x.T @ x)[None], (x.T @ y)[None], p)
    enough = rows > k
    value = float(stat[0]) if enough else 0.0
    return DynamicQuantileResult(
        statistic=value,
        p_value=float(dq_p_value(stat, df)[0]) if enough else 1.0,
        insufficient_data=not enough,
        n_obs=hits.size,
        n_regression_rows=rows,
        n_lags=k_lags,
        df=int(df[0]),
    )
