"""Rolling VaR/ES for every method: the one entry point the pipeline calls.

``rolling_var_es`` (one confidence and horizon, a frame on the returns' index) and
``var_es_grid`` (many confidences and horizons, long format) both call
:func:`var_es_surface`, which validates the configuration and the data, then runs the
method once for all confidences and horizons (fits, simulations and sorts are shared), so
the two give identical numbers.

No look-ahead and window-bounded: the estimate for date t uses only the rows
t - window .. t - 1 (and, for monte_carlo, the weights held on t); it is NaN until the
window is full.  Losses positive, fractions of value; horizon h gives the h-day VaR/ES.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from risk_pipeline.risk.var.conditional_evt import conditional_evt_var_es
from risk_pipeline.risk.var.cornish_fisher import cornish_fisher_rolling_var_es
from risk_pipeline.risk.var.ewma import ewma_var_es
from risk_pipeline.risk.var.filtered_historical import filtered_historical_var_es
from risk_pipeline.risk.var.historical import historical_var_es
from risk_pipeline.risk.var.monte_carlo import monte_carlo_var_es
from risk_pipeline.risk.var.parametric import parametric_normal_var_es, parametric_t_var_es
from risk_pipeline.risk.var.parameters import METHODS, VarParameterError, validate_var_params
from risk_pipeline.risk.var.windows import VarEsSurface, log_returns, losses_from_log

__all__ = ["METHODS", "VarParameterError", "validate_var_params", "rolling_var_es", "var_es_grid", "var_es_surface"]

_UNIVARIATE = {
    "historical": historical_var_es,
    "parametric_normal": parametric_normal_var_es,
    "parametric_t": parametric_t_var_es,
    "cornish_fisher": cornish_fisher_rolling_var_es,
    "ewma": ewma_var_es,
    "filtered_historical": filtered_historical_var_es,
    "conditional_evt": conditional_evt_var_es,
}
GRID_COLUMNS = ("date", "confidence", "horizon_days", "var", "es")


def _check_index(index: pd.Index) -> None:
    if not isinstance(index, pd.DatetimeIndex):
        raise VarParameterError(f"returns must have a DatetimeIndex, got {type(index).__name__}")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise VarParameterError("returns index must be sorted ascending without duplicate dates")


def _finite_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = frame.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise VarParameterError(f"{name} has a missing or non-finite value at date {frame.index[row]}, column {frame.columns[col]!r}")
    return values


def _monte_carlo_inputs(returns: object, weights: object) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(returns, pd.DataFrame):
        raise VarParameterError("returns must be a DataFrame of asset returns (dates x symbols) for method='monte_carlo'")
    if weights is None:
        raise VarParameterError("weights is required for method='monte_carlo'")
    symbols = returns.columns
    if isinstance(weights, pd.Series):
        missing = symbols.difference(weights.index)
        extra = weights.index.difference(symbols)
        if len(missing) or len(extra):
            raise VarParameterError(f"weights symbols do not match returns columns: missing {list(missing)}, extra {list(extra)}")
        w = _finite_values(weights.reindex(symbols).to_frame().T, "weights")
        w = np.broadcast_to(w, returns.shape)
    elif isinstance(weights, pd.DataFrame):
        if not weights.index.equals(returns.index):
            raise VarParameterError("weights (DataFrame) must have the same index as returns")
        missing = symbols.difference(weights.columns)
        extra = weights.columns.difference(symbols)
        if len(missing) or len(extra):
            raise VarParameterError(f"weights symbols do not match returns columns: missing {list(missing)}, extra {list(extra)}")
        w = _finite_values(weights[symbols], "weights")
    else:
        raise VarParameterError(f"weights must be a pandas Series or DataFrame, got {type(weights).__name__}")
    return _finite_values(returns, "returns"), w


def var_es_surface(
    returns: pd.Series | pd.DataFrame,
    *,
    method: str,
    confidences: tuple[float, ...],
    horizons: tuple[int, ...],
    window: int,
    weights: pd.Series | pd.DataFrame | None = None,
    **params: Any,
) -> VarEsSurface:
    """Validate, then compute VaR/ES for all dates x confidences x horizons of one method."""
    confidences = tuple(sorted(set(float(c) for c in confidences)))
    horizons = tuple(sorted(set(horizons)))
    if not confidences:
        raise VarParameterError("confidences must not be empty")
    if not horizons:
        raise VarParameterError("horizons must not be empty")
    for c in confidences:
        for h in horizons:
            validate_var_params(method, c, window, h, n_obs=len(returns), **params)
    _check_index(returns.index)
    if method == "monte_carlo":
        x, w = _monte_carlo_inputs(returns, weights)
        return monte_carlo_var_es(x, w, window=window, confidences=confidences, horizons=horizons, **params)
    if not isinstance(returns, pd.Series):
        raise VarParameterError(f"returns must be a pandas Series for method={method!r}")
    if weights is not None:
        raise VarParameterError(f"weights is only used by method='monte_carlo', not method={method!r}")
    r = _finite_values(returns.to_frame(), "returns")[:, 0]
    if params.pop("return_type", "simple") == "simple":
        return _UNIVARIATE[method](r, window=window, confidences=confidences, horizons=horizons, **params)
    return _on_log_returns(returns.index, r, method, window, confidences, horizons, params)


def _on_log_returns(index: pd.Index, r: np.ndarray, method: str, window: int, confidences: tuple[float, ...],
                    horizons: tuple[int, ...], params: dict[str, Any]) -> VarEsSurface:
    """The method fitted to the log returns x = ln(1 + r), its losses turned back into fractions of value.

    The method's VaR_x and ES_x are losses of the (h-day) log return X; the loss of value is
    1 - exp(X), a decreasing function of X, so

        VaR = 1 - exp(-VaR_x)   (exact: the quantile of a monotone transform),
        ES  = 1 - exp(-ES_x)    (>= the model's E[1 - exp(X) | tail] by Jensen: 1 - exp is concave),

    i.e. the ES is rounded up, by about Var(X | tail) / 2.
    """
    if (r <= -1.0).any():
        raise VarParameterError(f"return_type='log': a return of -100% or less on {index[np.argmax(r <= -1.0)]} "
                                "has no logarithm")
    surface = _UNIVARIATE[method](log_returns(r), window=window, confidences=confidences, horizons=horizons, **params)
    return VarEsSurface(*losses_from_log(surface.var, surface.es), surface.confidences, surface.horizons)


def rolling_var_es(
    returns: pd.Series | pd.DataFrame,
    *,
    method: str,
    confidence: float,
    window: int,
    horizon_days: int = 1,
    weights: pd.Series | pd.DataFrame | None = None,
    **params: object,
) -> pd.DataFrame:
    """Rolling ``horizon_days``-day VaR/ES at ``confidence``: float columns ``var``, ``es`` on ``returns.index``.

    ``returns``: Series of daily simple returns (DatetimeIndex, sorted), or for monte_carlo a
    DataFrame (dates x symbols) with ``weights`` (Series by symbol, or DataFrame of the weights
    held on each date).  Method parameters: parametric_t ``dof``; ewma ``lam``; filtered_historical ``filter``,
    ``lam``; monte_carlo ``n_scenarios``, ``seed``, ``shrinkage``.  Raises VarParameterError.
    """
    validate_var_params(method, confidence, window, horizon_days, n_obs=len(returns), **params)
    surface = var_es_surface(
        returns, method=method, confidences=(confidence,), horizons=(horizon_days,), window=window, weights=weights, **params
    )
    return pd.DataFrame({"var": surface.var[:, 0, 0], "es": surface.es[:, 0, 0]}, index=returns.index)


def var_es_grid(
    returns: pd.Series | pd.DataFrame,
    *,
    method: str,
    confidences: tuple[float, ...] | list[float],
    horizons: tuple[int, ...] | list[int],
    window: int,
    weights: pd.Series | pd.DataFrame | None = None,
    **params: object,
) -> pd.DataFrame:
    """Long-format VaR/ES for every confidence and horizon, columns ``GRID_COLUMNS``.

    Rows whose window is not yet full (NaN var) are dropped; sorted by date, confidence,
    horizon_days.  Same numbers as :func:`rolling_var_es` for each (confidence, horizon).
    """
    surface = var_es_surface(
        returns, method=method, confidences=tuple(confidences), horizons=tuple(horizons), window=window, weights=weights, **params
    )
    n_dates, n_conf, n_h = surface.var.shape
    frame = pd.DataFrame(
        {
            "date": np.repeat(returns.index.to_numpy(), n_conf * n_h),
            "confidence": np.tile(np.repeat(np.asarray(surface.confidences), n_h), n_dates),
            "horizon_days": np.tile(np.asarray(surface.horizons, dtype=np.int64), n_dates * n_conf),
            "var": surface.var.ravel(),
            "es": surface.es.ravel(),
        }
    )
    return frame[frame["var"].notna()].reset_index(drop=True)
