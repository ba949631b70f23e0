"""Trailing-window helpers shared by every rolling VaR/ES method.

Conventions (docs/design.md, no look-ahead): the estimate for row ``t`` of a series of ``n``
daily returns uses rows ``t - window .. t - 1`` only.  Row ``t`` therefore has an estimate
iff ``t >= window``; rows ``0 .. window - 1`` are NaN.  The helpers below produce, for the
``n - window`` rows that have an estimate, the window each one is built from, and put the
per-row results back on the full index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class VarEsSurface:
    """VaR and ES for every date, confidence and horizon of one rolling run.

    ``var`` and ``es`` have shape ``(n_dates, n_confidences, n_horizons)``; losses positive,
    fractions of value; NaN where the window is not yet full.
    """

    var: np.ndarray
    es: np.ndarray
    confidences: tuple[float, ...]
    horizons: tuple[int, ...]


def trailing_windows(x: np.ndarray, window: int) -> np.ndarray:
    """Read-only view of the trailing windows of ``x`` along its first axis.

    For ``x`` of shape ``(n, ...)`` returns shape ``(n - window, ..., window)``: entry ``j``
    holds rows ``j .. j + window - 1``, the window of date ``t = j + window``.
    """
    return sliding_window_view(x, window, axis=0)[:-1]


def rolling_surface(window_fn, returns: np.ndarray, window: int, confidences: tuple[float, ...],
                    horizons: tuple[int, ...], **params: object) -> VarEsSurface:
    """A method's VaR/ES surface over a 1-D return array: ``window_fn`` (the method's form on a
    matrix of windows, rows x window, returning ``(var, es)`` of shape ``(rows, n_conf, n_h)``)
    applied to the trailing windows, NaN where the window is not yet full."""
    var, es = window_fn(trailing_windows(returns, window), confidences, horizons, **params)
    return VarEsSurface(full_index(var, window), full_index(es, window), confidences, horizons)


def compound_returns(returns: np.ndarray, horizon: int) -> np.ndarray:
    """Overlapping ``horizon``-day compounded returns along the last axis.

    ``R_k = prod_{i=k}^{k+h-1} (1 + r_i) - 1``; the last axis shrinks from ``m`` to
    ``m - h + 1``.  ``horizon == 1`` returns the input unchanged (no ``(1 + r) - 1`` rounding).
    """
    if horizon == 1:
        return returns
    # the products of shifted slices, in the order a product along a sliding window takes its factors
    # ((1 + r_k)(1 + r_{k+1}))(1 + r_{k+2}) ..., so the same numbers; contiguous passes, not a reduction
    # along a short strided axis (three to four times the time)
    m = returns.shape[-1] - horizon + 1
    if m < 1:
        raise ValueError(f"{returns.shape[-1]} returns hold no {horizon}-day return")
    gross = 1.0 + returns
    out = gross[..., :m] * gross[..., 1 : m + 1]
    for i in range(2, horizon):
        out *= gross[..., i : m + i]
    out -= 1.0
    return out


def full_index(rows: np.ndarray, window: int) -> np.ndarray:
    """Put per-row results (shape ``(n - window, ...)``) on the full index, NaN first."""
    out = np.full((rows.shape[0] + window,) + rows.shape[1:], np.nan)
    out[window:] = rows
    return out


HORIZON_SCALINGS = ("sqrt_time", "drift")
"""How a location-scale method turns its 1-day VaR/ES into h days (``scale_to_horizons``)."""


def scale_to_horizons(
    var_1d: np.ndarray, es_1d: np.ndarray, horizons: tuple[int, ...], mean: np.ndarray, scaling: str = "sqrt_time"
) -> tuple[np.ndarray, np.ndarray]:
    """The h-day VaR/ES of a method whose 1-day figures are ``-(mu + sigma q)`` (q the standardized
    quantile or tail mean of its law, mu = ``mean`` the window mean, shape ``var_1d.shape[:-1]``):

    * ``sqrt_time`` (default): the whole 1-day figure times sqrt(h), :func:`square_root_of_time`
      (VaR_h = -sqrt(h) (mu + sigma q): the mean is scaled by sqrt(h), not by h);
    * ``drift``: the mean scaled by h and the dispersion by sqrt(h), as for the sum of h i.i.d.
      daily returns (mean h mu, standard deviation sqrt(h) sigma):

          VaR_h = -(mu h + q sigma sqrt(h)) = -mu h + sqrt(h) (VaR_1 + mu),  ES_h likewise,

      the standardized q of one day kept (exact for the normal; for the t and Cornish-Fisher laws
      the h-day sum's tails are thinner than one day's, so q is kept as an approximation).

    Input shape ``(..., n_conf)``, output ``(..., n_conf, n_horizons)``.
    """
    if scaling == "sqrt_time":
        return square_root_of_time(var_1d, es_1d, horizons)
    if scaling != "drift":
        raise ValueError(f"horizon_scaling={scaling!r} must be one of {HORIZON_SCALINGS}")
    h = np.asarray(horizons, dtype=float)
    mu = np.asarray(mean, dtype=float)[..., None, None]
    return (-mu * h + np.sqrt(h) * (var_1d[..., None] + mu), -mu * h + np.sqrt(h) * (es_1d[..., None] + mu))


def square_root_of_time(
    var_1d: np.ndarray, es_1d: np.ndarray, horizons: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Square-root-of-time rule: ``VaR_h = sqrt(h) VaR_1``, ``ES_h = sqrt(h) ES_1``.

    The whole one-day figure (mean term included) is scaled by ``sqrt(h)``, as in the Basel
    rule (BCBS 1996 amendment; RiskMetrics Technical Document 1996, sec. 6.3); the mean is
    NOT scaled by ``h``.  Input shape ``(..., n_conf)``, output ``(..., n_conf, n_horizons)``.
    """
    root_h = np.sqrt(np.asarray(horizons, dtype=float))
    return var_1d[..., None] * root_h, es_1d[..., None] * root_h


def log_returns(r: np.ndarray) -> np.ndarray:
    """``ln(1 + r)`` of simple returns (fractions of value); ``ValueError`` naming the first position
    of a return of -100% or less, which has no logarithm."""
    bad = r <= -1.0
    if bad.any():
        raise ValueError(f"a return of -100% or less (position {int(np.argmax(bad.ravel()))}) has no logarithm")
    return np.log1p(r)


def losses_from_log(var_x: np.ndarray, es_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """VaR/ES of a log return X turned into losses of value, ``1 - exp(-L)``: the loss of value is
    1 - exp(X), a decreasing function of X, so the VaR is exact (the quantile of a monotone transform)
    and the ES is rounded up, by about Var(X | tail) / 2 (Jensen: 1 - exp is concave)."""
    return -np.expm1(-var_x), -np.expm1(-es_x)
