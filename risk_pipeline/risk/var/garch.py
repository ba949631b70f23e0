"""GARCH(1,1) volatility fitted inside each trailing window (vectorized grid QMLE).

Model (Bollerslev 1986, J. Econometrics 31), zero mean, variance targeting (Engle & Mezrich
1996, "GARCH for groups", Risk 9(8)):

    sigma2_{k+1} = omega + alpha r_k^2 + beta sigma2_k,   omega = (1 - alpha - beta) v,
    v = mean of the window's squared returns (also the seed sigma2 of the first window row).

Fit: a full numerical MLE per window (8,000+ windows per series) is not feasible inside the
time budget, so (alpha, beta) is chosen per window by maximizing the Gaussian
quasi-log-likelihood  -1/2 sum_m (log sigma2_m + r_m^2 / sigma2_m)  over the fixed grid
``GARCH_GRID`` (alpha in ALPHAS x persistence alpha + beta in PERSISTENCES), evaluated for
all windows and grid points at once.  Like the EWMA filter it uses the window rows only.
"""

from __future__ import annotations

import numpy as np


ALPHAS = (0.03, 0.06, 0.10, 0.15)
PERSISTENCES = (0.93, 0.96, 0.98, 0.995)
GARCH_GRID = tuple((a, p - a) for a in ALPHAS for p in PERSISTENCES)


def _run(sq: np.ndarray, seed: np.ndarray, alpha: np.ndarray, beta: np.ndarray, keep_path: bool):
    """Run the recursion over the window positions; returns (path or None, quasi-log-likelihood)."""
    window = sq.shape[1]
    omega = (1.0 - alpha - beta) * seed
    s2 = np.broadcast_to(seed, omega.shape).copy()
    path = np.empty((window + 1,) + s2.shape) if keep_path else None
    loglik = np.zeros(s2.shape)
    for m in range(window):
        if path is not None:
            path[m] = s2
        loglik -= 0.5 * (np.log(s2) + sq[:, m] / s2)
        s2 = omega + alpha * sq[:, m] + beta * s2
    if path is not None:
        path[window] = s2
    return path, loglik


def garch_variance_paths(windows: np.ndarray) -> np.ndarray:
    """GARCH(1,1) variance inside every window (rows x W), shape ``(rows, W + 1)``.

    Same layout as :func:`risk_pipeline.risk.var.ewma.ewma_variance_paths`: columns 0..W-1 the
    in-window forecasts, column W the forecast for the day the window precedes.  (alpha, beta)
    per window from the grid QMLE of the module doc.
    """
    sq = windows * windows
    seed = np.maximum(sq.mean(axis=-1), np.finfo(float).tiny)
    grid = np.asarray(GARCH_GRID)
    _, loglik = _run(sq, seed, grid[:, :1], grid[:, 1:], keep_path=False)
    best = grid[np.argmax(loglik, axis=0)]
    path, _ = _run(sq, seed, best[:, 0], best[:, 1], keep_path=True)
    return path.T
