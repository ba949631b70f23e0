"""A portfolio's own performance statistics from its daily simple returns.

Conventions: ``returns`` are daily simple returns r_t (fractions), in date order, finite;
a year has ``periods_per_year`` trading days (252 by default, the usual equity convention);
``risk_free`` is an annual rate, turned into a per-period rate by compounding
(r_f = (1 + R_f)^(1/periods) - 1).

* Annualized (geometric) return:  (prod_t (1 + r_t))^(periods / n) - 1.
* Annualized volatility:          s * sqrt(periods), s the sample standard deviation (ddof=1)
  of r_t (square-root-of-time scaling, exact for i.i.d. returns).
* Sharpe ratio (Sharpe 1966, "Mutual Fund Performance", J. Business 39; ex-post form of
  Sharpe 1994, "The Sharpe Ratio", J. Portfolio Management 21): mean(r_t - r_f) / s(r_t - r_f)
  * sqrt(periods) (Lo 2002, "The Statistics of Sharpe Ratios", FAJ 58, for the sqrt scaling).
* Maximum drawdown (e.g. Magdon-Ismail & Atiya 2004, "Maximum drawdown", Risk 17): with the
  wealth path W_0 = 1, W_t = prod_{s<=t} (1 + r_s) and its running peak M_t = max_{s<=t} W_s,
  MDD = max_t (1 - W_t / M_t), a positive fraction (0 when wealth never falls); the peak and
  trough dates bracket the worst fall (the peak is None when it is the starting wealth W_0).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

TRADING_DAYS_PER_YEAR = 252


class PerformanceInputError(ValueError):
    """Returns or parameters unusable for performance statistics."""


@dataclass(frozen=True)
class Drawdown:
    """Maximum drawdown (positive fraction) and the dates of its peak and trough."""

    max_drawdown: float
    peak_date: dt.date | None
    trough_date: dt.date | None


@dataclass(frozen=True)
class PerformanceStatistics:
    """The statistics of one return series (definitions in the module docstring)."""

    start: dt.date
    end: dt.date
    n_days: int
    total_return: float
    annualized_return: float
    annualized_volatility: float
    sharpe_ratio: float
    max_drawdown: float
    max_drawdown_peak: dt.date | None
    max_drawdown_trough: dt.date | None


def _values(returns: pd.Series | np.ndarray, minimum: int = 1) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim != 1:
        raise PerformanceInputError(f"returns must be one-dimensional, got shape {r.shape}")
    if r.size < minimum:
        raise PerformanceInputError(f"returns needs at least {minimum} observation(s), got {r.size}")
    if not np.isfinite(r).all():
        raise PerformanceInputError(f"returns has a non-finite value at position {int(np.flatnonzero(~np.isfinite(r))[0])}")
    if (r <= -1.0).any():
        raise PerformanceInputError(f"returns has a loss of 100% or more at position {int(np.flatnonzero(r <= -1.0)[0])}")
    return r


def _periods(periods_per_year: int) -> int:
    if not isinstance(periods_per_year, (int, np.integer)) or periods_per_year < 1:
        raise PerformanceInputError(f"periods_per_year must be a positive integer, got {periods_per_year!r}")
    return int(periods_per_year)


def annualized_return(returns: pd.Series | np.ndarray, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> float:
    """Geometric annualized return (prod(1 + r))^(periods / n) - 1."""
    r = _values(returns)
    log_growth = np.log1p(r).sum()
    return float(np.expm1(log_growth * _periods(periods_per_year) / r.size))


def annualized_volatility(returns: pd.Series | np.ndarray, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> float:
    """Sample standard deviation (ddof=1) times sqrt(periods_per_year)."""
    r = _values(returns, minimum=2)
    return float(r.std(ddof=1) * np.sqrt(_periods(periods_per_year)))


def sharpe_ratio(
    returns: pd.Series | np.ndarray, risk_free: float = 0.0, periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> float:
    """Annualized ex-post Sharpe ratio mean(r - r_f) / std(r - r_f) * sqrt(periods).

    ``risk_free`` is an annual rate (compounded down to one period). A series with zero
    dispersion has no Sharpe ratio: returns 0.0 when its mean excess is 0, else +-inf.
    """
    r = _values(returns, minimum=2)
    periods = _periods(periods_per_year)
    if not np.isfinite(risk_free) or risk_free <= -1.0:
        raise PerformanceInputError(f"risk_free must be a finite annual rate > -1, got {risk_free!r}")
    excess = r - np.expm1(np.log1p(risk_free) / periods)
    mean = excess.mean()
    if np.ptp(excess) == 0.0:
        return 0.0 if mean == 0.0 else float(np.sign(mean) * np.inf)
    return float(mean / excess.std(ddof=1) * np.sqrt(periods))


def max_drawdown(returns: pd.Series | np.ndarray) -> Drawdown:
    """Largest peak-to-trough fall of the wealth path W_t = prod(1 + r) from W_0 = 1.

    Dates come from the Series index when ``returns`` is a Series with a DatetimeIndex.
    """
    r = _values(returns)
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    peaks = np.maximum.accumulate(wealth)
    drawdowns = 1.0 - wealth / peaks
    trough = int(np.argmax(drawdowns))
    depth = float(drawdowns[trough])
    if depth == 0.0:
        return Drawdown(0.0, None, None)
    peak = int(np.argmax(wealth[: trough + 1]))
    dates = returns.index if isinstance(returns, pd.Series) and isinstance(returns.index, pd.DatetimeIndex) else None
    if dates is None:
        return Drawdown(depth, None, None)
    # wealth position k > 0 is the close of return k-1; position 0 is the start (no date)
    return Drawdown(depth, dates[peak - 1].date() if peak > 0 else None, dates[trough - 1].date())


def performance_statistics(
    returns: pd.Series, risk_free: float = 0.0, periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> PerformanceStatistics:
    """All statistics of a daily return Series (DatetimeIndex, sorted, >= 2 observations)."""
    if not isinstance(returns, pd.Series) or not isinstance(returns.index, pd.DatetimeIndex):
        raise PerformanceInputError("returns must be a pandas Series with a DatetimeIndex")
    if not returns.index.is_monotonic_increasing:
        raise PerformanceInputError("returns index must be sorted by date")
    r = _values(returns, minimum=2)
    dd = max_drawdown(returns)
    return PerformanceStatistics(
        start=returns.index[0].date(),
        end=returns.index[-1].date(),
        n_days=int(r.size),
        total_return=float(np.expm1(np.log1p(r).sum())),
        annualized_return=annualized_return(r, periods_per_year),
        annualized_volatility=annualized_volatility(r, periods_per_year),
        sharpe_ratio=sharpe_ratio(r, risk_free, periods_per_year),
        max_drawdown=dd.max_drawdown,
        max_drawdown_peak=dd.peak_date,
        max_drawdown_trough=dd.trough_date,
    )
