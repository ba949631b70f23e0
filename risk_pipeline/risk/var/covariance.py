"""Covariance estimators for the numerical core.

Ledoit-Wolf shrinkage towards a scaled identity:

    S      sample covariance (divisor n, returns demeaned)
    mu     = trace(S) / p,          F = mu * I
    d2     = ||S - F||_F^2 / p
    b2_bar = (1 / n^2) * sum_k ||x_k x_k' - S||_F^2 / p
    b2     = min(b2_bar, d2)
    delta  = b2 / d2                (shrinkage intensity in [0, 1])
    Sigma  = delta * F + (1 - delta) * S

Source: O. Ledoit and M. Wolf (2004), "A well-conditioned estimator for large-dimensional
covariance matrices", J. Multivariate Analysis 88(2), 365-411, Lemma 3.2 and eq. (14).
This is the estimator scikit-learn's ``sklearn.covariance.ledoit_wolf`` implements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShrunkCovariance:
    """A covariance matrix and the shrinkage intensity that produced it."""

    covariance: np.ndarray
    shrinkage: float


def sample_covariance(returns: np.ndarray) -> np.ndarray:
    """Sample covariance with divisor n of the columns of ``returns`` (n x p), demeaned."""
    x = np.asarray(returns, dtype=float)
    x = x - x.mean(axis=0)
    return x.T @ x / x.shape[0]


def ledoit_wolf(returns: np.ndarray) -> ShrunkCovariance:
    """Ledoit-Wolf (2004) shrinkage covariance of the columns of ``returns`` (n x p)."""
    x = np.asarray(returns, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"returns must be a 2-D array with at least 2 rows, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("returns contain NaN or infinite values")
    n, p = x.shape
    x = x - x.mean(axis=0)
    s = x.T @ x / n
    mu = np.trace(s) / p
    f = mu * np.eye(p)
    d2 = np.sum((s - f) ** 2) / p
    if d2 == 0.0:
        return ShrunkCovariance(covariance=s, shrinkage=0.0)
    # sum_k ||x_k x_k' - S||_F^2 = sum_k ||x_k||^4 - n ||S||_F^2
    sq_norms = np.sum(x**2, axis=1)
    b2_bar = (np.sum(sq_norms**2) - n * np.sum(s**2)) / (n**2 * p)
    b2 = min(b2_bar, d2)
    delta = b2 / d2
    return ShrunkCovariance(covariance=delta * f + (1.0 - delta) * s, shrinkage=float(delta))
