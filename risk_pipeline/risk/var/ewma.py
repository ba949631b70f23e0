"""RiskMetrics EWMA volatility, run over each trailing window only, and its VaR/ES.

RiskMetrics Technical Document (J.P. Morgan/Reuters, 4th ed. 1996), sec. 5.2: zero mean and

    sigma2_{k+1} = lambda sigma2_k + (1 - lambda) r_k^2,   lambda = 0.94 (daily)

Window-bounded: for date t the recursion runs over the window r_{t-W} .. r_{t-1} only,
seeded with the window's zero-mean variance sigma2_{t-W} = mean(r_{t-W..t-1}^2); after the
W steps sigma2_t is the forecast for day t.  So the estimate at t depends on the window rows
and nothing earlier (a stored lookback of W rows reproduces a full backfill bit for bit:
the recursion is evaluated step by step for all dates at once, in the same order as a plain
per-window loop).

VaR/ES: normal with zero mean, VaR = sigma_t z_c, ES = sigma_t phi(z_c)/(1-c); horizons by the
square-root-of-time rule (:func:`~risk_pipeline.risk.var.windows.square_root_of_time`).
"""

from __future__ import annotations

import numpy as np

from risk_pipeline.risk.var.parametric import normal_var_es
from risk_pipeline.risk.var.windows import VarEsSurface, rolling_surface, square_root_of_time

RISKMETRICS_LAMBDA = 0.94


def ewma_variance_paths(windows: np.ndarray, lam: float = RISKMETRICS_LAMBDA) -> np.ndarray:
    """EWMA variance inside every window (rows x W, e.g. ``trailing_windows``), shape ``(rows, W + 1)``.

    Column m (0..W-1) is the variance forecast for window row m (built from the seed and rows
    before m), column W the forecast for the day the window precedes.  Seed (column 0) = mean
    of the window's squared returns.  The loop runs over the W window positions, vectorized
    across all windows.
    """
    window = windows.shape[-1]
    sq = windows * windows
    paths = np.empty((window + 1, sq.shape[0]))  # position-major: each step writes one contiguous row
    paths[0] = sq.mean(axis=-1)
    if sq.shape[0] == 1:
        # one window (a new day's): the same products and sums on Python floats (IEEE doubles, the same bits),
        # without three NumPy calls per position on arrays of one value
        path, weight = [float(paths[0, 0])], 1.0 - lam
        for value in sq[0].tolist():
            path.append(lam * path[-1] + weight * value)
        paths[:, 0] = path
        return paths.T
    for m in range(window):
        paths[m + 1] = lam * paths[m] + (1.0 - lam) * sq[:, m]
    return paths.T


def ewma_window_var_es(windows: np.ndarray, confidences: tuple[float, ...], horizons: tuple[int, ...],
                       lam: float = RISKMETRICS_LAMBDA) -> tuple[np.ndarray, np.ndarray]:
    """EWMA VaR/ES (zero mean, normal) of each window (rows x W), shape ``(rows, n_conf, n_h)``."""
    sigma = np.sqrt(ewma_variance_paths(windows, lam)[:, -1])
    return square_root_of_time(*normal_var_es(np.zeros_like(sigma), sigma, confidences), horizons)


def ewma_var_es(
    returns: np.ndarray,
    *,
    window: int,
    confidences: tuple[float, ...],
    horizons: tuple[int, ...],
    lam: float = RISKMETRICS_LAMBDA,
) -> VarEsSurface:
    """Rolling RiskMetrics EWMA VaR/ES (zero mean, normal) of a 1-D return array."""
    return rolling_surface(ewma_window_var_es, returns, window, confidences, horizons, lam=lam)
