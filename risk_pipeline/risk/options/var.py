"""VaR and ES of a book of options and underlyings: full revaluation, delta-gamma-vega, delta-only.

Scenarios (historical simulation, Hull, *Risk Management and Financial Institutions*, ch. 13-14):
over the estimation window of daily simple returns ``r_i`` and daily changes of implied
volatility ``ds_i`` (volatility points as decimals) of every underlying, the ``h``-day
scenario ``k`` is the overlapping window's compounded return and summed volatility change

    R_k = prod_{i=k}^{k+h-1} (1 + r_i) - 1,      dsigma_k = sum_{i=k}^{k+h-1} ds_i

(the same windows as :mod:`risk_pipeline.risk.var.historical`). Applied to the book held at
the close of t-1 (spot ``S``, each option's volatility ``sigma``, years to expiry ``T``) with
the horizon's time ``tau`` passing:

    S_k = S (1 + R_k),   sigma_k = max(sigma + dsigma_k, VOL_FLOOR),   T_k = max(T - tau, 0)

Profit of each method, summed over the options (``units`` = quantity x multiplier x FX to
base) and the linear holdings of the underlyings (``linear_units`` x ``S`` x ``R_k``):

- ``full_revaluation``: ``units (V(S_k, sigma_k, T_k) - V(S, sigma, T))``, every option
  repriced by :func:`risk_pipeline.risk.options.pricing.bsm_price`; an option expiring inside
  the horizon (``T <= tau``) is worth its intrinsic payoff at ``S_k``.
- ``delta_gamma_vega``: the second-order Taylor expansion at the close of t-1,
  ``units (delta dS + gamma dS^2 / 2 + vega dsigma + theta tau)``, ``dS = S R_k``
  (J.P. Morgan/Reuters, *RiskMetrics Technical Document* 1996, sec. 6.3; Hull ch. 14.6).
  It sees gamma, misses higher orders and the jump to the payoff at expiry.
- ``delta_only``: ``units delta dS``, the linear view every other VaR method of the pipeline
  takes; a delta-hedged book has none.

Losses are ``-profit``; VaR and ES are :func:`risk_pipeline.risk.var.tail.tail_var_es` of the
scenario losses (amounts in base currency), 0.0 within the rounding of the book's revaluation
(:mod:`risk_pipeline.risk.var.rounding`: a delta-hedged book's ``delta_only`` P&L is zero in exact
arithmetic, its floats a residue of the last bits). The underlying's dividend yield and the rate are
held at their t-1 values; FX is held at t-1 (the options' FX risk is left to the linear engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from risk_pipeline.risk.options.pricing import DAYS_PER_YEAR, OptionInputError, bsm_greeks, bsm_price
from risk_pipeline.risk.var.rounding import rounding_tolerance, zero_rounding_residue
from risk_pipeline.risk.var.tail import tail_var_es
from risk_pipeline.risk.var.windows import compound_returns

def horizon_years(horizon_days: int) -> float:
    """Calendar time of ``horizon_days`` business days in years (ACT/365): five business days are a week."""
    return horizon_days * 7.0 / 5.0 / DAYS_PER_YEAR


VOL_FLOOR = 0.01
"""Lowest volatility a scenario can reach (1%): a volatility drop larger than the level leaves 1%."""


class OptionVarMethod(StrEnum):
    """How a scenario's P&L is computed (module doc); the values are the strings stored."""

    FULL_REVALUATION = "full_revaluation"
    DELTA_GAMMA_VEGA = "delta_gamma_vega"
    DELTA_ONLY = "delta_only"


@dataclass(frozen=True)
class OptionBook:
    """Options held at the close of t-1, one entry per option (arrays of equal length), of one day or many.

    ``underlying`` indexes the columns of the scenario and spot arrays; ``units`` =
    quantity x contract multiplier x FX (base currency per unit of the option's currency);
    ``years`` to expiry from the close of t-1; ``vol`` the option's implied volatility then.
    """

    underlying: np.ndarray
    is_call: np.ndarray
    strike: np.ndarray
    years: np.ndarray
    vol: np.ndarray
    units: np.ndarray
    rate: np.ndarray
    dividend: np.ndarray
    day: np.ndarray | None = None  # for many days at once: the day (row of the day arrays) of each option

    def __post_init__(self) -> None:
        n = len(self.underlying)
        if self.day is None:
            object.__setattr__(self, "day", np.zeros(n, dtype=int))
        for name in ("is_call", "strike", "years", "vol", "units", "rate", "dividend", "day"):
            if len(getattr(self, name)) != n:
                raise OptionInputError(f"{name} has {len(getattr(self, name))} entries for {n} options")


@dataclass(frozen=True)
class Scenarios:
    """``h``-day scenarios (rows) per underlying (columns): simple returns and volatility changes."""

    returns: np.ndarray
    vol_changes: np.ndarray
    horizon_days: int


def historical_scenarios(daily_returns: np.ndarray, daily_vol_changes: np.ndarray, horizon_days: int) -> Scenarios:
    """Overlapping ``horizon_days`` scenarios of a window (rows = days, columns = underlyings; module doc)."""
    returns = np.asarray(daily_returns, dtype=float)
    changes = np.asarray(daily_vol_changes, dtype=float)
    if returns.ndim != 2 or returns.shape != changes.shape:
        raise OptionInputError(f"daily returns {returns.shape} and volatility changes {changes.shape} must be "
                               "equal (days x underlyings) arrays")
    if not 1 <= horizon_days <= len(returns):
        raise OptionInputError(f"horizon_days must be in [1, {len(returns)}] (the window), got {horizon_days!r}")
    if not (np.isfinite(returns).all() and np.isfinite(changes).all()):
        raise OptionInputError("the scenario window holds a missing return or volatility change")
    compounded = compound_returns(returns.T, horizon_days).T
    summed = sliding_window_view(changes, horizon_days, axis=0).sum(axis=-1)
    return Scenarios(returns=compounded, vol_changes=summed, horizon_days=horizon_days)


def days_scenario_pnl(book: OptionBook, spot: np.ndarray, linear_units: np.ndarray, returns: np.ndarray,
                      vol_changes: np.ndarray, horizon_years: float, method: OptionVarMethod) -> np.ndarray:
    """Profit of one book on many days in each of its day's scenarios (module doc), shape ``(n_days, n_scenarios)``.

    ``book.day`` says which day each option belongs to; ``spot`` and ``linear_units`` (units held
    outright times FX to base) are ``(n_days, n_underlyings)`` at the close of t-1; ``returns``
    and ``vol_changes`` ``(n_days, n_scenarios, n_underlyings)``; ``horizon_years`` the time passing.
    """
    spot = np.asarray(spot, dtype=float)
    moves = returns * spot[:, None, :]  # dS per day, scenario and underlying
    profit = np.einsum("dsu,du->ds", moves, np.asarray(linear_units, dtype=float))
    if len(book.underlying) == 0:
        return profit
    day, under = np.asarray(book.day, dtype=int), book.underlying
    s0, ds, dvol = spot[day, under], moves[day, :, under], vol_changes[day, :, under]  # (n,), (n, scenarios)
    call, strike, years, vol, rate, dividend = (x[:, None] for x in (book.is_call, book.strike, book.years, book.vol,
                                                                     book.rate, book.dividend))
    if method is OptionVarMethod.FULL_REVALUATION:
        before = bsm_price(call, s0[:, None], strike, years, vol, rate, dividend)
        after = bsm_price(call, s0[:, None] + ds, strike, np.maximum(years - horizon_years, 0.0),
                          np.maximum(vol + dvol, VOL_FLOOR), rate, dividend)
        change = after - before
    else:
        g = bsm_greeks(call, s0[:, None], strike, years, vol, rate, dividend)
        change = g.delta * ds
        if method is OptionVarMethod.DELTA_GAMMA_VEGA:
            change = change + 0.5 * g.gamma * ds * ds + g.vega * dvol + g.theta * horizon_years
    order = np.argsort(day, kind="stable")
    days, starts = np.unique(day[order], return_index=True)
    profit[days] += np.add.reduceat(change[order] * book.units[order, None], starts, axis=0)
    return profit


def scenario_pnl(book: OptionBook, spot: np.ndarray, linear_units: np.ndarray, scenarios: Scenarios,
                 horizon_years: float, method: OptionVarMethod) -> np.ndarray:
    """Profit of a book of one day in each scenario, shape ``(n_scenarios,)`` (:func:`days_scenario_pnl`)."""
    return days_scenario_pnl(book, np.asarray(spot, dtype=float)[None], np.asarray(linear_units, dtype=float)[None],
                             scenarios.returns[None], scenarios.vol_changes[None], horizon_years, method)[0]


def days_var_es(book: OptionBook, spot: np.ndarray, linear_units: np.ndarray, returns: np.ndarray,
                vol_changes: np.ndarray, horizon_years: float,
                confidences: tuple[float, ...]) -> dict[OptionVarMethod, np.ndarray]:
    """VaR and ES amounts per method and day: ``{method: array (n_days, n_conf, 2)}``, last axis (var, es); an amount
    within the rounding of the book's revaluation (:func:`book_rounding_tolerance`) is 0.0."""
    tolerance = book_rounding_tolerance(book, spot, linear_units)[:, None, None]
    out = {}
    for method in OptionVarMethod:
        losses = -days_scenario_pnl(book, spot, linear_units, returns, vol_changes, horizon_years, method)
        values = np.stack([np.stack(tail_var_es(losses, c, axis=-1), axis=-1) for c in confidences], axis=1)
        out[method] = zero_rounding_residue(values, tolerance)
    return out


def book_rounding_tolerance(book: OptionBook, spot: np.ndarray, linear_units: np.ndarray) -> np.ndarray:
    """Per day, the amount under which a VaR/ES of the book is a rounding residue, stored as 0
    (:mod:`risk_pipeline.risk.var.rounding`): n = the options and the underlyings held outright, G = the sum of
    ``|units| x spot`` over both (the notional each term of a scenario's P&L is computed at)."""
    spot = np.asarray(spot, dtype=float)
    linear = np.abs(np.asarray(linear_units, dtype=float))
    day = np.asarray(book.day, dtype=int)
    option_notional = np.bincount(day, weights=np.abs(book.units) * spot[day, book.underlying],
                                  minlength=len(spot))
    gross = option_notional + (linear * spot).sum(axis=1)
    n_positions = np.bincount(day, minlength=len(spot)) + (linear > 0.0).sum(axis=1)
    return rounding_tolerance(gross, n_positions)


def options_var_es(book: OptionBook, spot: np.ndarray, linear_units: np.ndarray, scenarios: Scenarios,
                   horizon_years: float, confidences: tuple[float, ...]) -> dict[OptionVarMethod, np.ndarray]:
    """VaR and ES amounts of a book of one day per method: ``{method: array (n_conf, 2)}``, columns (var, es)."""
    result = days_var_es(book, np.asarray(spot, dtype=float)[None], np.asarray(linear_units, dtype=float)[None],
                         scenarios.returns[None], scenarios.vol_changes[None], horizon_years, confidences)
    return {method: values[0] for method, values in result.items()}


def window_scenarios(daily_returns: np.ndarray, daily_vol_changes: np.ndarray, window: int,
                     horizon_days: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``horizon_days`` scenarios of every trailing ``window`` of days (rows = days, columns = underlyings).

    Returns ``(returns, vol_changes)`` of shape ``(n - window + 1, window - horizon_days + 1, n_underlyings)``:
    entry ``k`` is :func:`historical_scenarios` of rows ``k .. k + window - 1``; NaN where a window has a gap.
    """
    returns = np.asarray(daily_returns, dtype=float)
    changes = np.asarray(daily_vol_changes, dtype=float)
    windows = sliding_window_view(returns, window, axis=0)  # (n - window + 1, n_und, window)
    compounded = np.moveaxis(compound_returns(windows, horizon_days), -1, 1)
    summed = np.moveaxis(sliding_window_view(sliding_window_view(changes, window, axis=0), horizon_days, axis=-1)
                         .sum(axis=-1), -1, 1)
    return compounded, summed
