"""Reverse stress of a book of options and underlyings: the smallest multiple of a scenario that loses a target.

The scenario's moves (spot shocks ``s``, implied-volatility changes ``dsigma`` and FX returns ``f`` of
:mod:`risk_pipeline.risk.options.stress`) are scaled together by ``k``; ``loss(k)`` is minus the profit of the
book fully repriced under ``(k s, k dsigma, k f)`` (:func:`~risk_pipeline.risk.options.stress.stress_pnl`: the
floors on spot, volatility and FX hold). For each day and scenario, the smallest ``k`` in the bracket
``[k_lo, k_hi]`` with ``loss(k) = target``:

1. ``loss`` on ``n_grid`` equally spaced points of the bracket (all days and scenarios at once); the first
   point whose loss reaches the target brackets the first crossing with the point before it;
2. Brent's method (:func:`scipy.optimize.brentq`) on that sub-interval, to ``XTOL`` in ``k``; the loss there
   equals the target to the precision of the pricer.

No grid point reaching the target: not reached within the bracket (``multiplier`` and ``achieved_loss``
NaN, ``feasible`` False), e.g. a scenario under which the book gains, or whose loss saturates (a short put
loses at most its strike). A loss that crosses the target and comes back between two grid points can be
missed. For a book of underlyings only, ``loss(k) = k loss(1)`` while ``k s > -1``: ``k = target / loss(1)``.

Source: Brent, "Algorithms for Minimization without Derivatives" (1973), ch. 4; reverse stress testing as
in BCBS "Principles for sound stress testing practices and supervision" (2009), principle 9.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.optimize import brentq

from risk_pipeline.risk.options.pricing import OptionInputError
from risk_pipeline.risk.options.stress import stress_pnl
from risk_pipeline.risk.options.var import OptionBook

XTOL = 1e-13
"""Absolute tolerance of Brent's method on the multiple."""


def _one_day(book: OptionBook, day: int) -> OptionBook:
    keep = np.asarray(book.day) == day
    fields = ("underlying", "is_call", "strike", "years", "vol", "units", "rate", "dividend")
    return replace(book, **{f: np.asarray(getattr(book, f))[keep] for f in fields}, day=np.zeros(int(keep.sum()), int))


def reverse_multiples(book: OptionBook, spot: np.ndarray, linear_units: np.ndarray, spot_shocks: np.ndarray,
                      vol_changes: np.ndarray, fx_returns: np.ndarray, target_loss: np.ndarray, *,
                      bracket: tuple[float, float] = (0.0, 10.0),
                      n_grid: int = 41) -> tuple[np.ndarray, np.ndarray]:
    """The multiple of each scenario at which the book of each day loses ``target_loss`` of that day, and the
    loss there (module doc), each of shape ``(n_days, n_scenarios)``; NaN where not reached within the bracket.

    Arrays as :func:`~risk_pipeline.risk.options.stress.stress_pnl`; ``target_loss``: ``(n_days,)``, > 0.
    """
    lo, hi = map(float, bracket)
    if not hi > lo:
        raise OptionInputError(f"reverse stress bracket must be (low, high) with high > low, got {bracket!r}")
    if n_grid < 2:
        raise OptionInputError(f"reverse stress grid points must be >= 2, got {n_grid!r}")
    target = np.asarray(target_loss, dtype=float)
    if not (np.all(np.isfinite(target)) and np.all(target > 0.0)):
        raise OptionInputError("reverse stress target losses must be finite and > 0")
    moves = [np.asarray(x, dtype=float) for x in (spot_shocks, vol_changes, fx_returns)]
    grid = np.linspace(lo, hi, n_grid)
    losses = np.stack([-stress_pnl(book, spot, linear_units, *(k * m for m in moves)) for k in grid])
    reached = losses >= target[None, :, None]  # (grid, days, scenarios)
    multiple = np.full(losses.shape[1:], np.nan)
    achieved = np.full(losses.shape[1:], np.nan)
    for d, s in zip(*np.nonzero(reached.any(axis=0))):
        j = int(np.argmax(reached[:, d, s]))
        if j == 0:
            multiple[d, s], achieved[d, s] = grid[0], losses[0, d, s]
            continue
        own, held, linear = _one_day(book, d), spot[d:d + 1], np.asarray(linear_units)[d:d + 1]
        scenario = [m[s:s + 1] for m in moves]

        def loss(k: float) -> float:
            return float(-stress_pnl(own, held, linear, *(k * m for m in scenario))[0, 0])

        root = brentq(lambda k: loss(k) - target[d], grid[j - 1], grid[j], xtol=XTOL)
        multiple[d, s], achieved[d, s] = root, loss(root)
    return multiple, achieved
