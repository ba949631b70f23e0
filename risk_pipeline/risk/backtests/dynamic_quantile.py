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
those moment matrices: ``backtest_table`` feeds it prefix-sum differences for every as-of
date at once.
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
