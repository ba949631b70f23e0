"""Desk-level backtesting (MAR32) and a desk's eligibility for the internal models approach.

Per desk, each day's loss L_t = -pnl_t is compared with the desk model's 1-day VaR at 99% and
at 97.5% for that day (forecast from returns up to t-1, amounts on the previous close's
value); an exception is L_t > VaR_t. Exceptions are counted on both the actual and the
hypothetical P&L, and the desk's count is the greater of the two counts over the window
(MAR32.5; the ``Exception 99 Count`` of ActiveViam's FRTB reference implementation, "the max
of Exception 99 (Actual) and Exception 99 (Hypothetical)"): not the days on which either
exceeds. Over the most recent 250 business days, a desk with more than 12 exceptions at 99% or
more than 30 at 97.5% fails backtesting and is not eligible for the internal models approach
(MAR32's desk backtesting requirement); a desk in the red zone of the P&L attribution test is
not eligible either (MAR32.42, :mod:`risk_pipeline.risk.frtb.attribution_test`).

The bank-wide backtest that sets the multiplier's plus factor (MAR33.41, MAR99,
:func:`risk_pipeline.risk.frtb.capital.plus_factor`) is the same exception count at 99%.
"""

from __future__ import annotations

import numpy as np

from risk_pipeline.risk.frtb.capital import BACKTEST_DAYS

DESK_CONFIDENCES = (0.99, 0.975)
DESK_EXCEPTION_LIMITS = {0.99: 12, 0.975: 30}
"""MAR32: a desk with more exceptions than these over 250 days is not eligible."""


def exceptions(losses: np.ndarray, var: np.ndarray) -> np.ndarray:
    """1.0 where loss > VaR, 0.0 where not, NaN where either is unknown."""
    losses, var = np.asarray(losses, float), np.asarray(var, float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(losses) | np.isnan(var), np.nan, (losses > var).astype(float))


def trailing_exceptions(hits: np.ndarray, window: int = BACKTEST_DAYS) -> np.ndarray:
    """Exceptions in the ``window`` days ending at each row (NaN until ``window`` known hits;
    an unknown hit inside the window makes the count NaN)."""
    hits = np.asarray(hits, float)
    out = np.full(len(hits), np.nan)
    if len(hits) >= window:
        out[window - 1:] = np.lib.stride_tricks.sliding_window_view(hits, window).sum(axis=1)
    return out


def desk_exception_counts(hypothetical_losses: np.ndarray, var: np.ndarray, actual_losses: np.ndarray | None = None,
                          window: int = BACKTEST_DAYS) -> np.ndarray:
    """MAR32.5: the desk's exceptions over the ``window`` days ending at each row, the greater of the
    count on the hypothetical losses and the count on the actual losses (the hypothetical count
    when ``actual_losses`` is None: a book without trades, whose actual P&L is its hypothetical
    P&L). NaN until both counts are known."""
    counts = trailing_exceptions(exceptions(hypothetical_losses, var), window)
    if actual_losses is None:
        return counts
    return np.maximum(counts, trailing_exceptions(exceptions(actual_losses, var), window))


def backtest_eligible(exceptions_99: np.ndarray, exceptions_975: np.ndarray) -> np.ndarray:
    """True where both counts are within MAR32's desk limits (NaN counts give False)."""
    e99, e975 = np.asarray(exceptions_99, float), np.asarray(exceptions_975, float)
    return (e99 <= DESK_EXCEPTION_LIMITS[0.99]) & (e975 <= DESK_EXCEPTION_LIMITS[0.975])
