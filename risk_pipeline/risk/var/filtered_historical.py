"""Filtered historical simulation (FHS): volatility-rescaled historical VaR and ES.

Barone-Adesi, Giannopoulos & Vosper (1999), "VaR without correlations for portfolios of
derivative securities", J. Futures Markets 19(5); Hull & White (1998), "Incorporating
volatility updating into the historical simulation method for VaR", J. Risk 1(1).

For date t and its window r_{t-W} .. r_{t-1}, a volatility filter run over the window only
gives in-window forecasts sigma_m and the forecast sigma_t for day t:

    e_m = r_m / sigma_m          (standardized residuals)
    r~_m = e_m sigma_t           (residuals rescaled to today's volatility)

VaR/ES are the empirical ones of the rescaled returns r~ (the docs/design.md definition, see
:mod:`risk_pipeline.risk.var.historical`); horizon h uses the W - h + 1 overlapping h-day
compounded rescaled returns prod(1 + r~) - 1 (no square-root-of-time).

Filters (param ``filter``): ``"ewma"`` (default; RiskMetrics, seeded and window-bounded as in
:mod:`risk_pipeline.risk.var.ewma`, param ``lam``) or ``"garch"`` (variance-targeted GARCH(1,1)
with the grid-QMLE fit of :mod:`risk_pipeline.risk.var.garch`).
"""

from __future__ import annotations

import numpy as np

from risk_pipeline.risk.var.ewma import RISKMETRICS_LAMBDA, ewma_variance_paths
from risk_pipeline.risk.var.garch import garch_variance_paths
from risk_pipeline.risk.var.historical import empirical_window_var_es
from risk_pipeline.risk.var.windows import VarEsSurface, rolling_surface

FILTERS = ("ewma", "garch")


def volatility_paths(windows: np.ndarray, filter: str, lam: float) -> np.ndarray:
    """sigma of every window's (rows x W) in-window days and of the forecast day (the last
    column), under the volatility filter ``filter`` (EWMA with decay ``lam``, or GARCH(1,1)
    fitted per window); also the filter of ``conditional_evt``."""
    paths = ewma_variance_paths(windows, lam) if filter == "ewma" else garch_variance_paths(windows)
    return np.sqrt(paths)


def filtered_historical_window_var_es(windows: np.ndarray, confidences: tuple[float, ...], horizons: tuple[int, ...],
                                      filter: str = "ewma", lam: float = RISKMETRICS_LAMBDA,
                                      ) -> tuple[np.ndarray, np.ndarray]:
    """FHS VaR/ES of each window (rows x W), shape ``(rows, n_conf, n_h)`` (module doc)."""
    sigma = volatility_paths(windows, filter, lam)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(sigma[:, :-1] > 0.0, sigma[:, -1:] / sigma[:, :-1], 1.0)
    return empirical_window_var_es(windows * ratio, confidences, horizons)


def filtered_historical_var_es(
    returns: np.ndarray,
    *,
    window: int,
    confidences: tuple[float, ...],
    horizons: tuple[int, ...],
    filter: str = "ewma",
    lam: float = RISKMETRICS_LAMBDA,
) -> VarEsSurface:
    """Rolling FHS VaR/ES of a 1-D array of daily simple returns (see module doc)."""
    return rolling_surface(filtered_historical_window_var_es, returns, window, confidences, horizons,
                           filter=filter, lam=lam)
