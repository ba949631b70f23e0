"""Monte Carlo VaR/ES of the positions held at the close of t-1, for a book whose positions change.

The model and simulation are :func:`risk_pipeline.risk.var.monte_carlo.monte_carlo_var_es`'s
(a multivariate t fitted on the window's base-currency returns of the instruments, common random
numbers keyed by the seed); what changes is what is simulated. For forecast day t:

* the instruments are those held at the close of t-1 (``V_i(t-1)`` not 0): the covariance, its
  Ledoit-Wolf target and the draws are over them alone, so a day's numbers do not depend on
  what else the book held on other days of the run;
* the weights are ``w_i = V_i(t-1) / S(t-1)``, with the scale S of
  :func:`risk_pipeline.risk.var.held_positions.held_scale` (the book's value, or its gross
  exposure when the value is under ``MIN_NET_SHARE`` of it), so the simulated return is the
  P&L of the held positions per unit of S, daily rebalanced to w over an h-day path as for
  any book;
* amounts are VaR x S; the fraction of value is VaR where S is the value, NaN where it is the
  gross exposure (as :func:`~risk_pipeline.risk.var.held_positions.held_grid`); a VaR within the
  rounding of the revaluation is 0.0 (``monte_carlo_var_es``: the weights' ``sum |w_i|`` is G / S).

Consecutive forecast days holding the same instruments are simulated in one call (its window
statistics are prefix sums over the run's rows, as for a book of the portfolios file: the last
bits of a day depend on the first row of its run). A day whose window misses a return of an
instrument it holds has no forecast. A book with constant weights on constant instruments gives
the numbers of :func:`~risk_pipeline.risk.var.rolling.var_es_grid` with those weights on the same
rows (tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from risk_pipeline.risk.var.held_positions import HELD_COLUMNS, held_scale
from risk_pipeline.risk.var.monte_carlo import monte_carlo_var_es
from risk_pipeline.risk.var.parameters import VarParameterError, validate_var_params


def _runs(held: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """Indices of the forecast days split into runs of consecutive rows holding the same instruments."""
    if not len(rows):
        return []
    same = (held[1:] == held[:-1]).all(axis=1) & (np.diff(rows) == 1)
    return np.split(np.arange(len(rows)), np.flatnonzero(~same) + 1)


def held_monte_carlo_grid(exposures: pd.DataFrame, values: pd.Series, asset_returns: pd.DataFrame, *, window: int,
                          confidences: tuple[float, ...] | list[float], horizons: tuple[int, ...] | list[int],
                          **params: Any) -> pd.DataFrame:
    """Long-format Monte Carlo VaR/ES of the held positions (columns ``HELD_COLUMNS``, sorted by date,
    confidence, horizon; module doc). ``exposures``: forecast days t x instruments, ``V_i(t-1)`` in
    base currency; ``values``: ``V(t-1)``; ``asset_returns``: dates x the same instruments,
    base-currency simple returns holding every forecast day and the ``window`` days before the first.
    ``params``: monte_carlo's ``n_scenarios``, ``seed``, ``shrinkage``."""
    confidences = tuple(sorted(set(float(c) for c in confidences)))
    horizons = tuple(sorted(set(int(h) for h in horizons)))
    for c in confidences:
        for h in horizons:
            validate_var_params("monte_carlo", c, window, h, **params)
    if list(exposures.columns) != list(asset_returns.columns):
        raise VarParameterError("exposures and asset_returns must have the same instrument columns in the same order")
    rows = asset_returns.index.get_indexer(exposures.index)
    if (rows < 0).any():
        raise VarParameterError(f"asset_returns has no row for the forecast day {exposures.index[rows < 0][0].date()}")
    v = exposures.to_numpy(dtype=float)
    value = values.reindex(exposures.index).to_numpy(dtype=float)
    scale, by_value = held_scale(np.nan_to_num(v), value)
    returns = asset_returns.to_numpy(dtype=float)
    known = (rows >= window) & np.isfinite(v).all(axis=1) & np.isfinite(scale) & (scale > 0.0)
    held = v != 0.0
    for d in np.flatnonzero(known):  # the window of each held instrument's returns is complete
        known[d] = np.isfinite(returns[rows[d] - window: rows[d]][:, held[d]]).all()
    days = np.flatnonzero(known)
    n_cells = len(confidences) * len(horizons)
    var = np.empty((len(days), len(confidences), len(horizons)))
    es = np.empty_like(var)
    for run in _runs(held[days], rows[days]):
        first, last = rows[days[run[0]]], rows[days[run[-1]]]
        columns = held[days[run[0]]]
        block = np.nan_to_num(returns[first - window: last + 1][:, columns])  # the last row is not read
        weights = np.empty_like(block)
        weights[window:] = v[days[run]][:, columns] / scale[days[run], None]
        weights[:window] = weights[window]  # rows before the first day are windows only
        surface = monte_carlo_var_es(block, weights, window=window, confidences=confidences, horizons=horizons,
                                     **params)
        var[run], es[run] = surface.var[window:], surface.es[window:]
    fraction = np.repeat(np.where(by_value[days], 1.0, np.nan), n_cells)
    amount = np.repeat(scale[days], n_cells)
    var_flat, es_flat = var.ravel(), es.ravel()
    return pd.DataFrame({
        "date": np.repeat(exposures.index[days].to_numpy(), n_cells),
        "confidence": np.tile(np.repeat(np.asarray(confidences), len(horizons)), len(days)),
        "horizon_days": np.tile(np.asarray(horizons, dtype=np.int64), len(days) * len(confidences)),
        "var": var_flat * fraction,
        "es": es_flat * fraction,
        "var_amount": var_flat * amount,
        "es_amount": es_flat * amount,
    }, columns=list(HELD_COLUMNS))
