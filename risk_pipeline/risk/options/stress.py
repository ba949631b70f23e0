"""Stress of a book of options and underlyings: every option repriced under a scenario's shocks.

A scenario moves each underlying ``u`` by the simple return ``s_u`` (its local price), its
implied volatility by ``dsigma_u`` (volatility points as decimals, added to every option on it)
and its currency against the base by ``f_u`` (zero for the base currency), instantly (no time
passes: the stress of the book held at the close of t-1, as ``stress_results``). Profit in base
currency, per day and scenario, summed over the options (``units`` = quantity x multiplier x
FX to base at t-1) and the linear holdings of the underlyings (``linear_units`` units x FX):

    option:   units ((1 + f)^+ V(S (1 + s)^+, max(sigma + dsigma, VOL_FLOOR), T) - V(S, sigma, T))
    holding:  linear_units S ((1 + s)^+ (1 + f)^+ - 1)

``V`` is :func:`risk_pipeline.risk.options.pricing.bsm_price` (full revaluation: gamma, vega and
the smile of the book as priced; the scenario's volatility change is parallel), ``x^+ = max(x, 0)``
as in :mod:`risk_pipeline.risk.stress.scenarios` (a price cannot fall below zero; the spot is kept
at a millionth of itself so that the pricer stays defined: the options' values are then their
payoffs at zero). Rate and dividend yield are held.
"""

from __future__ import annotations

import numpy as np

from risk_pipeline.risk.options.pricing import OptionInputError, bsm_price
from risk_pipeline.risk.options.var import VOL_FLOOR, OptionBook

MIN_SPOT_FRACTION = 1e-6
"""The lowest fraction of its spot an underlying reaches in a scenario (a -100% shock)."""


def stress_pnl(book: OptionBook, spot: np.ndarray, linear_units: np.ndarray, spot_shocks: np.ndarray,
               vol_changes: np.ndarray, fx_returns: np.ndarray) -> np.ndarray:
    """Profit of the book of each day under each scenario (module doc), shape ``(n_days, n_scenarios)``.

    ``spot`` and ``linear_units``: ``(n_days, n_underlyings)`` at the close of t-1; ``spot_shocks``,
    ``vol_changes`` and ``fx_returns``: ``(n_scenarios, n_underlyings)``; ``book.day`` the day of each option.
    """
    spot = np.asarray(spot, dtype=float)
    shocks, dvol, fx = (np.asarray(x, dtype=float) for x in (spot_shocks, vol_changes, fx_returns))
    if not (shocks.shape == dvol.shape == fx.shape and shocks.ndim == 2 and shocks.shape[1] == spot.shape[1]):
        raise OptionInputError(f"spot shocks {shocks.shape}, volatility changes {dvol.shape} and FX returns {fx.shape} "
                               f"must be (scenarios x {spot.shape[1]} underlyings) arrays")
    profit = np.einsum("du,su->ds", spot * np.asarray(linear_units, dtype=float), holding_growth(shocks, fx))
    if len(book.underlying) == 0:
        return profit
    day, under = np.asarray(book.day, dtype=int), book.underlying
    change = option_changes(book, np.arange(len(under))[:, None], spot[day, under][:, None], shocks[:, under].T,
                            dvol[:, under].T, fx[:, under].T)  # (options, scenarios)
    np.add.at(profit, day, change)
    return profit


def holding_growth(spot_shock: np.ndarray, fx_return: np.ndarray) -> np.ndarray:
    """Profit per unit of base-currency value held in an underlying under the moves (the module doc's holding line)."""
    return np.maximum(1.0 + spot_shock, 0.0) * np.maximum(1.0 + fx_return, 0.0) - 1.0


def option_changes(book: OptionBook, option: np.ndarray, s0: np.ndarray, spot_shock: np.ndarray,
                   vol_change: np.ndarray, fx_return: np.ndarray) -> np.ndarray:
    """Profit in base currency of the options ``option`` (indices into ``book``) under the moves (the module doc's
    option line), elementwise over the broadcast shape of the arguments; ``s0`` the spot of each at t-1."""
    call, strike, years, vol, rate, dividend, units = (np.asarray(x)[option] for x in (
        book.is_call, book.strike, book.years, book.vol, book.rate, book.dividend, book.units))
    before = bsm_price(call, s0, strike, years, vol, rate, dividend)
    after = bsm_price(call, s0 * np.maximum(1.0 + spot_shock, MIN_SPOT_FRACTION), strike, years,
                      np.maximum(vol + vol_change, VOL_FLOOR), rate, dividend)
    return (after * np.maximum(1.0 + fx_return, 0.0) - before) * units
