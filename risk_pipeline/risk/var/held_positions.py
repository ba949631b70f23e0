"""VaR/ES of the positions held: historical revaluation of the current portfolio (Basel MAR33).

The forecast for day t is the risk of the positions held at the close of t-1, whatever the book
held before. With ``V_i(t-1)`` the base-currency value of instrument i at the close of t-1 and
``r_i(s)`` its simple return over day s in base currency (FX included,
:func:`risk_pipeline.risk.instruments.fx.to_base_returns`), the hypothetical P&L those positions
would have made on each day s of the estimation window is

    P_t(s) = sum_i V_i(t-1) r_i(s),      s = t-W .. t-1,

and the method (historical, filtered historical, conditional EVT, Cornish-Fisher, normal, t,
EWMA: the window form of each module, the same code the 1-D rolling path runs) is applied to
the window of

    x_t(s) = P_t(s) / S(t-1),

the P&L per unit of the scale S(t-1): the book's value V(t-1) when V(t-1) >= MIN_NET_SHARE x
G(t-1), with G(t-1) = sum_i |V_i(t-1)| the gross exposure; otherwise (a value near zero or
negative: a hedged or short book) the gross exposure G(t-1). Amounts are VaR_t(x) S(t-1), the
primary figure; the fraction of value ``var`` is VaR_t(x) where S = V and NaN where S = G (a
fraction of a value near zero or below is not a risk measure); a VaR/ES whose amount is within the
rounding of the revaluation (``ROUNDING_MULTIPLE n eps G(t-1)``, :mod:`risk_pipeline.risk.var.rounding`:
positions that cancel) is 0.0. Each forecast day has its own
series (its own positions), so the engine builds a (days x W) matrix and runs the method on
its rows at once.

Source: BCBS, *Minimum capital requirements for market risk* (2019), MAR33.4: the expected
shortfall ES_T(P) is that of the portfolio with positions P = (p_i) (those held) under the
historical shocks of its risk factors; the "historical simulation of the current portfolio" of
J. Hull, *Risk Management and Financial Institutions*, ch. 13 (today's positions revalued under
each past day's percentage changes of the market variables). A book with constant weights w_i on
a capital N (V_i = w_i N, V = N) gives x_t(s) = sum_i w_i r_i(s), its own rebalanced return: the
same numbers as the 1-D path on the book's return series (tested); a book whose positions
change differs from its own realized P&L series, which mixes the positions of other days.

An h-day horizon compounds x (the positions' value rebalanced daily, as each method compounds a
return); the limits' :func:`risk_pipeline.risk.limits.position_var_es` revalues the same positions
but holds them fixed over the h days: the same 1-day number up to rounding, different h-day ones
(docs/methods.md, "Limits' historical_positions and the engine's historical").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from risk_pipeline.risk.var.conditional_evt import conditional_evt_window_var_es
from risk_pipeline.risk.var.cornish_fisher import cornish_fisher_window_var_es
from risk_pipeline.risk.var.ewma import ewma_window_var_es
from risk_pipeline.risk.var.filtered_historical import filtered_historical_window_var_es
from risk_pipeline.risk.var.historical import empirical_window_var_es
from risk_pipeline.risk.var.parameters import VarParameterError, validate_var_params
from risk_pipeline.risk.var.parametric import normal_window_var_es, student_t_window_var_es
from risk_pipeline.risk.var.rounding import rounding_tolerance, zero_rounding_residue
from risk_pipeline.risk.var.windows import log_returns, losses_from_log

WINDOW_METHODS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "historical": empirical_window_var_es,
    "parametric_normal": normal_window_var_es,
    "parametric_t": student_t_window_var_es,
    "cornish_fisher": cornish_fisher_window_var_es,
    "ewma": ewma_window_var_es,
    "filtered_historical": filtered_historical_window_var_es,
    "conditional_evt": conditional_evt_window_var_es,
}
"""The methods that revalue the held positions' window (Monte Carlo simulates the positions itself)."""
MIN_NET_SHARE = 0.05
"""The value must be at least this share of the gross exposure (leverage at most 20) to scale by it."""
HELD_COLUMNS = ("date", "confidence", "horizon_days", "var", "es", "var_amount", "es_amount")
_CHUNK_ELEMENTS = 4_000_000  # days x window x instruments gathered at once (~32 MB)


def held_scale(exposures: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scale S(t-1) of each forecast day (module doc) and whether it is the book's value."""
    gross = np.abs(exposures).sum(axis=1)
    by_value = values >= MIN_NET_SHARE * gross
    return np.where(by_value, values, gross), by_value


def _revalued(exposures: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """sum_i V_i r_i over the last axis (exposures broadcast against returns): an instrument held
    (V_i not 0) whose return is missing gives NaN, one not held contributes 0; summed as
    ``risk.portfolio.pnl_from_exposures`` sums a day's P&L, so the same inputs give the same bits."""
    with np.errstate(invalid="ignore"):  # 0 x inf of an instrument not held: set to 0 below
        terms = exposures * returns
    np.copyto(terms, 0.0, where=exposures == 0.0)  # in place: one array of the broadcast shape, not three
    return terms.sum(axis=-1)


def held_pnl_windows(exposures: np.ndarray, rows: np.ndarray, returns: np.ndarray, window: int) -> np.ndarray:
    """P_t(s) of the module doc, shape (days, window): row d revalues ``exposures[d]`` under the
    ``window`` rows of ``returns`` before row ``rows[d]``. Days that all hold the same exposures
    (a book of constant weights) share one revalued series, read through its trailing windows."""
    n_days, n_inst = exposures.shape
    if n_days and (exposures == exposures[:1]).all():
        series = _revalued(exposures[0], returns)
        return sliding_window_view(series, window)[rows - window]
    out = np.empty((n_days, window))
    offsets = np.arange(-window, 0)
    step = max(1, _CHUNK_ELEMENTS // max(window * n_inst, 1))
    for start in range(0, n_days, step):
        block = slice(start, start + step)
        # (chunk, window, instruments) in C order: each day's sum runs over its contiguous instruments
        out[block] = _revalued(exposures[block][:, None, :], returns[rows[block, None] + offsets])
    return out


@dataclass(frozen=True)
class HeldWindows:
    """The revalued windows of a book's forecast days, shared by every method of one window length:
    ``x`` (days x window) the P&L per unit of ``scale`` (days with a full window only), ``by_value``
    whether the scale is the book's value, ``tolerance`` the amount under which a forecast is 0.0."""

    dates: pd.DatetimeIndex
    x: np.ndarray
    scale: np.ndarray
    by_value: np.ndarray
    tolerance: np.ndarray  # the amount under which a forecast is a rounding residue (held_tolerance)


ScenarioReturns = Callable[[np.ndarray, int], np.ndarray]
"""``f(rows, window)``: an instrument's base-currency scenario returns, shape (len(rows), window), for the
forecast days at ``rows`` of the returns calendar: scenario k of row r is the window's day r - window + k."""


def held_windows(exposures: pd.DataFrame, values: pd.Series, asset_returns: pd.DataFrame, window: int,
                 scenarios: Mapping[str, ScenarioReturns] | None = None) -> HeldWindows:
    """The :class:`HeldWindows` of the forecast days of ``exposures`` (module doc).

    ``exposures``: forecast days t x instruments, ``V_i(t-1)`` in base currency; ``values``: the
    book's value ``V(t-1)`` on the same days; ``asset_returns``: dates x instruments (the same
    columns), base-currency simple returns holding every forecast day and the ``window`` days
    before the first. A day without a full window (a held instrument's return missing, an
    unknown exposure or value) is left out. ``scenarios``: for an instrument repriced under each
    past day's risk-factor moves (a bond instrument: its yield move applied to the bond held at t-1,
    :func:`risk_pipeline.risk.instruments.bonds.rolled_par_bond_scenarios`), its scenario returns in
    place of its past returns: ``P_t(s) = sum_i V_i(t-1) r_i(t, s)``.
    """
    if list(exposures.columns) != list(asset_returns.columns):
        raise VarParameterError("exposures and asset_returns must have the same instrument columns in the same order")
    if not exposures.index.isin(asset_returns.index).all():
        missing = exposures.index[~exposures.index.isin(asset_returns.index)][0]
        raise VarParameterError(f"asset_returns has no row for the forecast day {missing.date()}")
    rows = asset_returns.index.get_indexer(exposures.index)
    keep = rows >= window
    v = exposures.to_numpy(dtype=float)[keep]
    value = values.reindex(exposures.index).to_numpy(dtype=float)[keep]
    repriced = [(asset_returns.columns.get_loc(name), f) for name, f in (scenarios or {}).items()
                if name in asset_returns.columns]
    others = v.copy()
    others[:, [j for j, _ in repriced]] = 0.0
    pnl = held_pnl_windows(others, rows[keep], asset_returns.to_numpy(dtype=float), window)
    for j, scenario_returns in repriced:  # as _revalued: NaN where a held instrument's scenario is missing
        held = (v[:, j] != 0.0)[:, None]
        pnl = pnl + np.where(held, v[:, j, None] * np.where(held, scenario_returns(rows[keep], window), 0.0), 0.0)
    scale, by_value = held_scale(v, value)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = pnl / scale[:, None]
    ok = np.isfinite(x).all(axis=1) & np.isfinite(scale) & (scale > 0.0)
    return HeldWindows(exposures.index[keep][ok], x[ok], scale[ok], by_value[ok], held_tolerance(v)[ok])


def held_tolerance(exposures: np.ndarray) -> np.ndarray:
    """Per forecast day (rows of ``exposures``, ``V_i(t-1)``), the amount at or under which a VaR/ES is a rounding
    residue of the revaluation, stored as 0.0 (:mod:`risk_pipeline.risk.var.rounding`: n the instruments held, G
    their gross exposure ``sum_i |V_i(t-1)|``)."""
    held = np.nan_to_num(np.abs(exposures))
    return rounding_tolerance(held.sum(axis=1), (held > 0.0).sum(axis=1))


def held_grid(held: HeldWindows, *, method: str, confidences: tuple[float, ...] | list[float],
              horizons: tuple[int, ...] | list[int], **params: Any) -> pd.DataFrame:
    """Long-format VaR/ES of the held positions (columns ``HELD_COLUMNS``, sorted by date,
    confidence, horizon): ``method`` on each row of ``held.x``; amounts times the scale, fractions
    of value where the scale is the value (module doc); 0.0 where the amount is within ``held.tolerance``."""
    if method not in WINDOW_METHODS:
        raise VarParameterError(f"method={method!r} does not revalue held positions; expected one of {tuple(WINDOW_METHODS)}")
    confidences = tuple(sorted(set(float(c) for c in confidences)))
    horizons = tuple(sorted(set(int(h) for h in horizons)))
    window = held.x.shape[1]
    for c in confidences:
        for h in horizons:
            validate_var_params(method, c, window, h, **params)
    if not len(held.dates):
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else float) for c in HELD_COLUMNS})
    if params.pop("return_type", "simple") == "log":  # the method on ln(1 + x), its losses back in value
        try:
            x = log_returns(held.x)
        except ValueError:
            raise VarParameterError("return_type='log': a revalued window loses 100% or more of the scale, "
                                    "which has no logarithm") from None
        var, es = losses_from_log(*WINDOW_METHODS[method](x, confidences, horizons, **params))
    else:
        var, es = WINDOW_METHODS[method](held.x, confidences, horizons, **params)
    n_conf, n_h = len(confidences), len(horizons)
    per_row = n_conf * n_h
    fraction = np.repeat(np.where(held.by_value, 1.0, np.nan), per_row)
    amount = np.repeat(held.scale, per_row)
    # a forecast within the revaluation's rounding is 0 (its amount at most the tolerance: x times the scale)
    tolerance = np.repeat(held.tolerance / held.scale, per_row)
    var, es = zero_rounding_residue(var.ravel(), tolerance), zero_rounding_residue(es.ravel(), tolerance)
    return pd.DataFrame({
        "date": np.repeat(held.dates.to_numpy(), per_row),
        "confidence": np.tile(np.repeat(np.asarray(confidences), n_h), len(held.dates)),
        "horizon_days": np.tile(np.asarray(horizons, dtype=np.int64), len(held.dates) * n_conf),
        "var": var * fraction,
        "es": es * fraction,
        "var_amount": var * amount,
        "es_amount": es * amount,
    })


def held_var_es_grid(
    exposures: pd.DataFrame,
    values: pd.Series,
    asset_returns: pd.DataFrame,
    *,
    method: str,
    confidences: tuple[float, ...] | list[float],
    horizons: tuple[int, ...] | list[int],
    window: int,
    **params: Any,
) -> pd.DataFrame:
    """:func:`held_grid` of :func:`held_windows`: one method on one book (arguments of both)."""
    return held_grid(held_windows(exposures, values, asset_returns, window), method=method, confidences=confidences,
                     horizons=horizons, **params)
