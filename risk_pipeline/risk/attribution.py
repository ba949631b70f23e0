"""VaR attribution: marginal, component and incremental VaR, and component ES.

Parametric normal VaR with Euler allocation (zero mean, the standard for attribution:
the mean of daily returns is second order and would break the homogeneity that makes the
components add up to the total). With weights ``w`` (fractions of portfolio value, shorts
negative), covariance ``S`` of daily simple returns and ``z_c = Phi^{-1}(c)``:

    sigma_p          = sqrt(w' S w)
    VaR(w)           = z_c sigma_p
    marginal_i       = dVaR / dw_i = z_c (S w)_i / sigma_p
    component_i      = w_i marginal_i                  sum_i component_i = VaR(w)   (Euler)
    incremental_i    = VaR(w) - VaR(w with w_i = 0)
                     = VaR(w) - z_c sqrt(w'Sw - 2 w_i (Sw)_i + w_i^2 S_ii)
    pct_contribution = component_i / VaR(w)

Component ES by Euler allocation on scenarios (historical or Monte Carlo): with scenario
asset returns ``r_s`` (scenarios x assets), portfolio losses ``L_s = -w' r_s``, VaR and the
tail ``T = {s : L_s >= VaR}`` exactly as :func:`risk_pipeline.risk.var.tail.tail_var_es` defines
them,

    component_es_i = -mean_{s in T} w_i r_{s,i}        sum_i component_es_i = ES

Sources: M. Garman (1997) "Taking VaR to pieces", Risk 10(10); W. Hallerbach (2003)
"Decomposing portfolio value-at-risk: a general analysis", J. of Risk 5(2); D. Tasche (1999)
"Risk contributions and performance measurement", TU Munich working paper (Euler allocation
of ES as the conditional tail mean of the position's loss); P. Jorion, "Value at Risk"
(3rd ed., 2007), ch. 7 (marginal, incremental and component VaR).

Everything is in fractions of portfolio value; multiply by the value for amounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy.stats import norm

from risk_pipeline.risk.var.covariance import ledoit_wolf
from risk_pipeline.risk.var.tail import tail_var_es

DECOMPOSITION_COLUMNS: tuple[str, ...] = (
    "date",
    "symbol",
    "weight",
    "marginal_var",
    "component_var",
    "incremental_var",
    "pct_contribution",
    "component_es_historical",
)
"""Columns of :func:`rolling_var_decomposition`, in this order."""


class AttributionInputError(ValueError):
    """Inputs of an attribution function are malformed (names the parameter and symbol)."""


@dataclass(frozen=True)
class VarDecomposition:
    """Parametric-normal VaR of one portfolio on one date and its Euler allocation.

    Arrays are aligned with ``symbols``; ``total_var`` equals ``component_var.sum()``.
    """

    symbols: tuple[str, ...]
    confidence: float
    weights: np.ndarray
    total_var: float
    marginal_var: np.ndarray
    component_var: np.ndarray
    incremental_var: np.ndarray
    pct_contribution: np.ndarray


@dataclass(frozen=True)
class ComponentES:
    """Scenario (historical or Monte Carlo) VaR and ES and the Euler allocation of ES.

    ``component_es`` is aligned with ``symbols`` and sums to ``total_es``; ``n_tail`` is the
    number of scenarios with loss >= VaR.
    """

    symbols: tuple[str, ...]
    confidence: float
    total_var: float
    total_es: float
    component_es: np.ndarray
    n_tail: int


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise AttributionInputError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(confidence)


def _check_weights(weights: np.ndarray, n_assets: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (n_assets,):
        raise AttributionInputError(f"weights must have shape ({n_assets},), got {w.shape}")
    if not np.isfinite(w).all():
        raise AttributionInputError("weights contain NaN or infinite values")
    return w


def _euler_var_arrays(
    cov_w: np.ndarray, w_cov_w: np.ndarray, cov_diag: np.ndarray, w: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Euler VaR pieces from ``S w`` (..., p), ``w'Sw`` (...), ``diag S`` (..., p), ``w`` (p).

    Returns ``(total, marginal, component, incremental, pct)``; the one formula used by the
    single-date and the rolling decomposition.
    """
    sigma = np.sqrt(np.maximum(w_cov_w, 0.0))
    total = z * sigma
    with np.errstate(invalid="ignore", divide="ignore"):
        marginal = z * cov_w / sigma[..., None]
        component = w * marginal
        var_without = z * np.sqrt(np.maximum(w_cov_w[..., None] - 2.0 * w * cov_w + w**2 * cov_diag, 0.0))
        incremental = total[..., None] - var_without
        pct = component / total[..., None]
    return total, marginal, component, incremental, pct


def var_decomposition(
    covariance: np.ndarray, weights: np.ndarray, symbols: tuple[str, ...], *, confidence: float = 0.99
) -> VarDecomposition:
    """Marginal, component and incremental parametric-normal VaR for covariance ``S``.

    Formulas in the module docstring (Jorion 2007, ch. 7; Hallerbach 2003). A zero-risk
    portfolio (``w'Sw = 0``) gives total 0 and NaN marginal / percent contributions.
    """
    c = _check_confidence(confidence)
    s = np.asarray(covariance, dtype=float)
    p = len(symbols)
    if s.shape != (p, p):
        raise AttributionInputError(f"covariance must have shape ({p}, {p}) for symbols {symbols}, got {s.shape}")
    w = _check_weights(weights, p)
    cov_w = s @ w
    total, marginal, component, incremental, pct = _euler_var_arrays(
        cov_w, np.asarray(w @ cov_w), np.diag(s), w, float(norm.ppf(c))
    )
    return VarDecomposition(
        symbols=tuple(symbols),
        confidence=c,
        weights=w,
        total_var=float(total),
        marginal_var=marginal,
        component_var=component,
        incremental_var=incremental,
        pct_contribution=pct,
    )


def ledoit_wolf_var_decomposition(
    returns: pd.DataFrame, weights: pd.Series, *, confidence: float = 0.99
) -> VarDecomposition:
    """:func:`var_decomposition` with a Ledoit-Wolf (2004) covariance of ``returns``.

    ``returns`` are the lookback window's daily simple returns (rows: dates, columns:
    symbols) and must hold every symbol of ``weights`` without NaN.
    """
    x, w = _aligned(returns, weights)
    return var_decomposition(ledoit_wolf(x).covariance, w, tuple(weights.index), confidence=confidence)


def component_es(scenario_returns: np.ndarray, weights: np.ndarray, symbols: tuple[str, ...], *,
                 confidence: float = 0.99) -> ComponentES:
    """Euler allocation of scenario ES: ``component_es_i = -mean_{L_s >= VaR} w_i r_{s,i}``.

    ``scenario_returns`` is scenarios x assets (historical days or Monte Carlo draws), VaR
    and the tail as in :func:`risk_pipeline.risk.var.tail.tail_var_es` (Tasche 1999).
    """
    c = _check_confidence(confidence)
    r = np.asarray(scenario_returns, dtype=float)
    p = len(symbols)
    if r.ndim != 2 or r.shape[1] != p or r.shape[0] < 1:
        raise AttributionInputError(f"scenario_returns must have shape (n >= 1, {p}), got {r.shape}")
    if not np.isfinite(r).all():
        raise AttributionInputError("scenario_returns contain NaN or infinite values")
    w = _check_weights(weights, p)
    losses = -(r @ w)
    var, es = tail_var_es(losses, c)
    tail = losses >= var
    comp = -(r[tail] * w).mean(axis=0)
    return ComponentES(
        symbols=tuple(symbols),
        confidence=c,
        total_var=float(var),
        total_es=float(es),
        component_es=comp,
        n_tail=int(tail.sum()),
    )


def _aligned(returns: pd.DataFrame, weights: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Returns of the weights' symbols (n x p, float) and the weights as an array."""
    missing = [s for s in weights.index if s not in returns.columns]
    if missing:
        raise AttributionInputError(f"asset_returns has no column for weighted symbol(s) {missing}")
    if weights.index.has_duplicates:
        raise AttributionInputError(f"weights has duplicate symbols {sorted(set(weights.index[weights.index.duplicated()]))}")
    w = _check_weights(weights.to_numpy(dtype=float), len(weights))
    return returns.loc[:, list(weights.index)].to_numpy(dtype=float), w


def _window_sums(cum: np.ndarray, lookback: int) -> np.ndarray:
    """Sums over rows ``t-lookback .. t-1`` for t = lookback .. n from a zero-prefixed cumsum."""
    return cum[lookback:] - cum[:-lookback]


def _rolling_ledoit_wolf(x: np.ndarray, lookback: int) -> np.ndarray:
    """Ledoit-Wolf covariance of every window ``x[t-lookback:t]``, t = lookback..n (stacked).

    The same estimator as :func:`risk_pipeline.risk.var.covariance.ledoit_wolf`, computed from
    cumulative sums so that a 30-year history costs O(n p^2) instead of O(n lookback p^2).
    With ``m`` the window mean, ``a_k = ||r_k||^2`` and ``x_k = r_k - m``:

        S                 = sum r r' / n - m m'
        sum_k ||x_k||^4   = sum a_k^2 - 4 m.(sum a_k r_k) + 2 ||m||^2 sum a_k
                            + 4 m'(sum r_k r_k')m - 3 n ||m||^4
    (the last term collects -4||m||^2 sum r_k.m + n||m||^4 with sum r_k = n m).
    Inputs must be finite; windows are those that end before each row, so the estimate for
    row t never sees row t (no look-ahead).
    """
    n_rows, p = x.shape
    n = float(lookback)
    zero = lambda shape: np.zeros((1, *shape))  # noqa: E731 - prefix row for window differences
    a = np.einsum("ij,ij->i", x, x)
    s1 = _window_sums(np.concatenate([zero((p,)), np.cumsum(x, axis=0)]), lookback)
    s2 = _window_sums(np.concatenate([zero((p, p)), np.cumsum(x[:, :, None] * x[:, None, :], axis=0)]), lookback)
    sa = _window_sums(np.concatenate([zero(()), np.cumsum(a)]), lookback)
    sa2 = _window_sums(np.concatenate([zero(()), np.cumsum(a * a)]), lookback)
    sar = _window_sums(np.concatenate([zero((p,)), np.cumsum(a[:, None] * x, axis=0)]), lookback)

    m = s1 / n
    mm = np.einsum("ti,ti->t", m, m)
    s = s2 / n - m[:, :, None] * m[:, None, :]
    sum_x4 = (
        sa2
        - 4.0 * np.einsum("ti,ti->t", m, sar)
        + 2.0 * mm * sa
        + 4.0 * np.einsum("ti,tij,tj->t", m, s2, m)
        - 3.0 * n * mm**2
    )
    eye = np.eye(p)
    mu = np.trace(s, axis1=1, axis2=2) / p
    s_sq = np.einsum("tij,tij->t", s, s)
    d2 = (s_sq - 2.0 * mu * np.trace(s, axis1=1, axis2=2) + p * mu**2) / p  # ||S - mu I||_F^2 / p
    b2_bar = (sum_x4 - n * s_sq) / (n**2 * p)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(d2 > 0.0, np.minimum(b2_bar, d2) / d2, 0.0)
    delta = np.clip(delta, 0.0, 1.0)
    return delta[:, None, None] * mu[:, None, None] * eye + (1.0 - delta[:, None, None]) * s


def rolling_var_decomposition(
    asset_returns: pd.DataFrame,
    weights: pd.Series | pd.DataFrame,
    *,
    confidence: float = 0.99,
    lookback: int = 756,
) -> pd.DataFrame:
    """Daily VaR decomposition of a portfolio, no look-ahead.

    ``weights`` is either a Series (constant weights by symbol) or a DataFrame of the weights
    held over each day (rows: the dates of ``asset_returns``, columns: symbols; e.g. a
    quantity book's close weights shifted by one day). With per-date weights ``w_t`` the
    window's covariance and scenarios are combined with ``w_t`` (today's positions through
    the window's returns); a date whose ``w_t`` has a NaN produces no rows.

    For every row t of ``asset_returns`` (rows: dates ascending, columns: symbols, daily
    simple returns in the portfolio's base currency) with a complete window, the estimate
    for date t uses rows ``t-lookback .. t-1`` only:

    - ``marginal_var``, ``component_var``, ``incremental_var``, ``pct_contribution``:
      parametric normal Euler allocation (module docstring) on the window's Ledoit-Wolf
      covariance (computed for all dates at once from cumulative sums);
    - ``component_es_historical``: Euler allocation of historical ES over the window's
      scenarios (:func:`component_es`).

    Dates whose window holds a NaN for any weighted symbol (before listing, gaps) produce
    no rows. Output: one row per (date, symbol of ``weights``) with columns
    :data:`DECOMPOSITION_COLUMNS`; ``component_var`` sums to the parametric VaR and
    ``component_es_historical`` to the historical ES of that date (fractions of value).
    """
    c = _check_confidence(confidence)
    if not isinstance(lookback, (int, np.integer)) or lookback < 2:
        raise AttributionInputError(f"lookback must be an integer >= 2, got {lookback!r}")
    if not asset_returns.index.is_monotonic_increasing:
        raise AttributionInputError("asset_returns index (dates) must be sorted ascending")
    x, w_rows = _aligned_weights(asset_returns, weights)
    symbols = list(weights.index if isinstance(weights, pd.Series) else weights.columns)
    p = len(symbols)
    if x.shape[0] <= lookback:
        return _empty_decomposition()

    bad = ~np.isfinite(x)
    x0 = np.where(bad, 0.0, x)
    bad_in_window = _window_sums(np.concatenate([[0], np.cumsum(bad.any(axis=1))]), lookback)[:-1]
    ok = bad_in_window == 0  # rows lookback .. n-1
    ok &= np.isfinite(w_rows[lookback:]).all(axis=1)
    if not ok.any():
        return _empty_decomposition()
    rows = np.flatnonzero(ok) + lookback
    w = w_rows[rows]  # (dates, p): the weights held on each estimated date

    cov = _rolling_ledoit_wolf(x0, lookback)[:-1][ok]  # window for row t is x[t-lookback:t]
    cov_w = np.einsum("tij,tj->ti", cov, w)
    total, marginal, component, incremental, pct = _euler_var_arrays(
        cov_w, np.einsum("ti,ti->t", cov_w, w), np.diagonal(cov, axis1=1, axis2=2), w, float(norm.ppf(c))
    )
    comp_es = _rolling_component_es(x0, w, c, lookback, rows)

    dates = asset_returns.index[rows]
    n_dates = len(rows)
    return pd.DataFrame(
        {
            "date": np.repeat(dates.to_numpy(), p),
            "symbol": np.tile(np.asarray(symbols, dtype=object), n_dates),
            "weight": w.ravel(),
            "marginal_var": marginal.ravel(),
            "component_var": component.ravel(),
            "incremental_var": incremental.ravel(),
            "pct_contribution": pct.ravel(),
            "component_es_historical": comp_es.ravel(),
        },
        columns=list(DECOMPOSITION_COLUMNS),
    )


def _rolling_component_es(x: np.ndarray, w: np.ndarray, confidence: float, lookback: int,
                          rows: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Historical component ES for the windows ``x[t-lookback:t]``, t in ``rows`` (vectorized).

    ``w`` holds the weights of each date of ``rows`` (len(rows) x p). Same definition as
    :func:`component_es` with scenarios ``x[t-lookback:t]`` and weights ``w_t``; the windows
    are strided views, processed in chunks of dates to bound memory.
    """
    windows = sliding_window_view(x, lookback, axis=0)  # window j covers rows j .. j+lookback-1: (., p, lookback)
    out = np.empty((len(rows), w.shape[1]))
    for start in range(0, len(rows), chunk):
        idx = rows[start:start + chunk] - lookback
        wc = w[start:start + chunk]
        pos = windows[idx] * wc[:, :, None]  # position returns w_{t,i} r_{s,i}: (t, p, lookback)
        lw = -pos.sum(axis=1)
        var, _ = tail_var_es(lw, confidence, axis=1)
        tail = lw >= var[:, None]
        out[start:start + chunk] = -np.einsum("tl,tpl->tp", tail, pos) / tail.sum(axis=1)[:, None]
    return out


def _aligned_weights(returns: pd.DataFrame, weights: pd.Series | pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Returns (n x p) and the weights held on every row (n x p, NaN allowed) of ``returns``."""
    if isinstance(weights, pd.Series):
        x, w = _aligned(returns, weights)
        return x, np.tile(w, (x.shape[0], 1))
    if not isinstance(weights, pd.DataFrame):
        raise AttributionInputError(f"weights must be a Series or a DataFrame, got {type(weights).__name__}")
    if not weights.index.equals(returns.index):
        raise AttributionInputError("weights (DataFrame) must have the same dates as asset_returns")
    if weights.columns.has_duplicates:
        raise AttributionInputError(f"weights has duplicate symbols {sorted(set(weights.columns[weights.columns.duplicated()]))}")
    missing = [s for s in weights.columns if s not in returns.columns]
    if missing:
        raise AttributionInputError(f"asset_returns has no column for weighted symbol(s) {missing}")
    w = weights.to_numpy(dtype=float)
    if np.isinf(w).any():
        raise AttributionInputError("weights contain infinite values")
    return returns.loc[:, list(weights.columns)].to_numpy(dtype=float), w


def _empty_decomposition() -> pd.DataFrame:
    frame = pd.DataFrame({col: pd.Series(dtype=float) for col in DECOMPOSITION_COLUMNS})
    frame["date"] = pd.Series(dtype="datetime64[ns]")
    frame["symbol"] = pd.Series(dtype=object)
    return frame
