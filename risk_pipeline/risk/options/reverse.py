"""Reverse stress of a book of options and underlyings: the smallest multiple of a scenario that loses a target.

The scenario's moves (spot shocks ``s``, implied-volatility changes ``dsigma`` and FX returns ``f`` of
:mod:`risk_pipeline.risk.options.stress`) are scaled together by ``k``; ``loss(k)`` is minus the profit of the
book fully repriced under ``(k s, k dsigma, k f)`` (:func:`~risk_pipeline.risk.options.stress.stress_pnl`: the
floors on spot, volatility and FX hold). For each day and scenario, the smallest ``k`` in the bracket
``[k_lo, k_hi]`` with ``loss(k) = target``:

1. ``loss`` on ``n_grid`` equally spaced points of the bracket (all days and scenarios at once); the first
   point whose loss reaches the target brackets the first crossing with the point before it;
2. Chandrupatla's bracketing method, a safeguarded inverse-quadratic root finder of Brent's family
   (:func:`scipy.optimize.elementwise.find_root`, every day and scenario at once) on that sub-interval, to
   ``XTOL`` in ``k``; the loss there equals the target to the precision of the pricer. (A scalar
   :func:`scipy.optimize.brentq` per day and scenario gave the same roots but took 161 s for the bundled
   book's 30 years, 62,890 rows.)

No grid point reaching the target: not reached within the bracket (``multiplier`` and ``achieved_loss``
NaN, ``feasible`` False), e.g. a scenario under which the book gains, or whose loss saturates (a short put
loses at most its strike). A loss that crosses the target and comes back between two grid points can be
missed. For a book of underlyings only, ``loss(k) = k loss(1)`` while ``k s > -1``: ``k = target / loss(1)``.

Source: Chandrupatla, "A new hybrid quadratic/bisection algorithm for finding the zero of a nonlinear
function without using derivatives", Advances in Engineering Software 28 (1997) 145-149; reverse stress testing as
in BCBS "Principles for sound stress testing practices and supervision" (2009), principle 9.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize.elementwise import find_root

from risk_pipeline.risk.options.pricing import OptionInputError
from risk_pipeline.risk.options.stress import holding_growth, option_changes, stress_pnl
from risk_pipeline.risk.options.var import OptionBook

XTOL = 1e-13
"""Absolute tolerance of the root finder on the multiple."""


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
    first = np.argmax(reached, axis=0)  # the first grid point reaching the target (0 where none does)
    found = reached.any(axis=0)
    at_start = found & (first == 0)
    multiple[at_start], achieved[at_start] = grid[0], losses[0][at_start]
    day, scenario = np.nonzero(found & (first > 0))
    if len(day):
        loss = _pair_loss(book, np.asarray(spot, float), np.asarray(linear_units, float), moves, day, scenario)
        j = first[day, scenario]
        root = find_root(lambda k, pair: loss(k, pair) - target[day[pair.astype(int)]], (grid[j - 1], grid[j]),
                         args=(np.arange(len(day)),), tolerances={"xatol": XTOL, "xrtol": 0.0})
        if not np.all(root.success):  # a valid bracket of a continuous loss always converges
            raise ArithmeticError(f"reverse stress: the root finder did not converge for {np.sum(~root.success)} "
                                  "day(s) and scenario(s)")
        multiple[day, scenario] = root.x
        achieved[day, scenario] = loss(root.x, np.arange(len(day)))
    return multiple, achieved


def _pair_loss(book: OptionBook, spot: np.ndarray, linear_units: np.ndarray, moves: list[np.ndarray],
               day: np.ndarray, scenario: np.ndarray):
    """``loss(k, pair)``: the loss of the book of ``day[pair]`` under ``k`` x the moves of ``scenario[pair]``,
    elementwise (each pair its own day and options)."""
    shocks, dvol, fx = moves
    option_day = np.asarray(book.day, dtype=int)
    order = np.argsort(option_day, kind="stable")
    starts = np.searchsorted(option_day[order], day)
    counts = np.bincount(option_day, minlength=spot.shape[0])[day]

    def loss(k: np.ndarray, pair: np.ndarray) -> np.ndarray:
        k, pair = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(pair).astype(int))
        k, pair = k.ravel(), pair.ravel()
        d, s = day[pair], scenario[pair]
        held = (spot[d] * linear_units[d] * holding_growth(k[:, None] * shocks[s], k[:, None] * fx[s])).sum(axis=1)
        n = counts[pair]
        owner = np.repeat(np.arange(len(pair)), n)
        option = order[np.repeat(starts[pair], n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)]
        u, kk, ss = book.underlying[option], k[owner], s[owner]
        change = option_changes(book, option, spot[d[owner], u], kk * shocks[ss, u], kk * dvol[ss, u], kk * fx[ss, u])
        return -(held + np.bincount(owner, change, minlength=len(pair)))

    return loss
