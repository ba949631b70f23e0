"""Reverse stress testing: how severe must a scenario be to cause a given loss?

For a scenario with loss function ``loss(k)`` (the portfolio loss when every shock of the
scenario is scaled by ``k``; linear or not), find the smallest multiplier ``k`` in the
bracket ``[k_lo, k_hi]`` (default [0, 10]) with ``loss(k) >= target``:

1. evaluate ``loss`` on ``n_grid`` equally spaced points of the bracket; the first point
   whose loss reaches the target brackets the first crossing with the point before it;
2. bisect that sub-interval until its width is below ``tol`` (absolute, in k) and report the
   upper end (so ``achieved_loss >= target_loss``, up to the function's own continuity).

If no grid point reaches the target the scenario is infeasible in the bracket
(``feasible = False``, ``multiplier = NaN``): e.g. a scenario in which this portfolio gains.
A loss function that crosses the target and comes back between two grid points can be
missed; raise ``n_grid`` for strongly non-monotone P&L. For a linear portfolio,
``loss(k) = k loss(1)`` and the answer is ``target / loss(1)``.

Source: the bisection method (e.g. Press et al., "Numerical Recipes", 3rd ed., sec. 9.1);
reverse stress testing as in BCBS "Principles for sound stress testing practices and
supervision" (2009), principle 9, and Grundke (2011), "Reverse stress tests with bottom-up
approaches", J. of Risk Model Validation 5(1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipeline.risk.stress.scenarios import ScenarioShocks, StressInputError, results_frame, scenario_pnl_function

REVERSE_STRESS_COLUMNS: tuple[str, ...] = ("scenario", "target_loss", "multiplier", "feasible", "achieved_loss",
                                           "iterations")
"""Columns of :func:`reverse_stress_table` (the caller adds date and portfolio)."""


@dataclass(frozen=True)
class MultiplierSolution:
    """Smallest ``k`` in the bracket with ``loss(k) >= target`` (NaN when infeasible)."""

    multiplier: float
    feasible: bool
    achieved_loss: float
    iterations: int


@dataclass(frozen=True)
class ReverseStressResult:
    """Reverse stress of one scenario; ``target_loss`` and ``achieved_loss`` in base currency."""

    scenario: str
    target_loss: float
    multiplier: float
    feasible: bool
    achieved_loss: float
    iterations: int


def solve_multiplier(
    loss: Callable[[float], float],
    target_loss: float,
    *,
    bracket: tuple[float, float] = (0.0, 10.0),
    n_grid: int = 41,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> MultiplierSolution:
    """Grid scan then bisection (module docstring). ``iterations`` counts bisection steps."""
    lo_k, hi_k = map(float, bracket)
    if not hi_k > lo_k:
        raise StressInputError(f"bracket must be (low, high) with high > low, got {bracket!r}")
    if n_grid < 2:
        raise StressInputError(f"n_grid must be >= 2, got {n_grid!r}")
    if not np.isfinite(target_loss):
        raise StressInputError(f"target_loss must be finite, got {target_loss!r}")
    grid = np.linspace(lo_k, hi_k, n_grid)
    values = np.array([loss(k) for k in grid], dtype=float)
    reached = np.flatnonzero(values >= target_loss)
    if reached.size == 0:
        return MultiplierSolution(multiplier=float("nan"), feasible=False, achieved_loss=float("nan"), iterations=0)
    j = int(reached[0])
    if j == 0:
        return MultiplierSolution(multiplier=float(grid[0]), feasible=True, achieved_loss=float(values[0]),
                                  iterations=0)
    lo, hi, hi_loss = float(grid[j - 1]), float(grid[j]), float(values[j])
    iterations = 0
    while hi - lo > tol and iterations < max_iter:
        mid = 0.5 * (lo + hi)
        mid_loss = float(loss(mid))
        if mid_loss >= target_loss:
            hi, hi_loss = mid, mid_loss
        else:
            lo = mid
        iterations += 1
    return MultiplierSolution(multiplier=hi, feasible=True, achieved_loss=hi_loss, iterations=iterations)


def reverse_stress(
    exposures: pd.Series,
    shocks: ScenarioShocks,
    *,
    target_loss_fraction: float = 0.10,
    portfolio_value: float | None = None,
    currency_of: Mapping[str, str] | None = None,
    base_currency: str | None = None,
    bracket: tuple[float, float] = (0.0, 10.0),
    n_grid: int = 41,
) -> ReverseStressResult:
    """Multiplier of the scenario's shocks that loses ``target_loss_fraction`` of the value.

    The loss function is ``-pnl(k)`` of :func:`risk_pipeline.risk.stress.scenarios.scenario_pnl_function`
    (linear in equity shocks, with FX the exact product, shocks capped at -100%). Target
    amount = fraction x portfolio value (default: sum of exposures).
    """
    if not 0.0 < target_loss_fraction:
        raise StressInputError(f"target_loss_fraction must be > 0, got {target_loss_fraction!r}")
    value = float(exposures.sum()) if portfolio_value is None else float(portfolio_value)
    if value <= 0.0:
        raise StressInputError(f"portfolio value must be > 0 for a loss target, got {value!r}")
    pnl = scenario_pnl_function(exposures, shocks, currency_of=currency_of, base_currency=base_currency)
    target = target_loss_fraction * value
    sol = solve_multiplier(lambda k: -pnl(k), target, bracket=bracket, n_grid=n_grid)
    return ReverseStressResult(scenario=shocks.scenario, target_loss=target, multiplier=sol.multiplier,
                               feasible=sol.feasible, achieved_loss=sol.achieved_loss, iterations=sol.iterations)


def reverse_stress_table(results: list[ReverseStressResult]) -> pd.DataFrame:
    """Rows of :data:`REVERSE_STRESS_COLUMNS` from reverse-stress results."""
    return results_frame(results, {"scenario": ("scenario", object), "target_loss": ("target_loss", float),
                                   "multiplier": ("multiplier", float), "feasible": ("feasible", bool),
                                   "achieved_loss": ("achieved_loss", float), "iterations": ("iterations", "int64")})
