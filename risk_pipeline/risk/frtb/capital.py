"""Capital for modellable risk factors: IMCC and the aggregate charge C_A (MAR33.15, MAR33.41),
with the multiplier's plus factor from the bank-wide backtest (MAR33.41; the table of MAR99).

MAR33.5(2): the stressed ES of a set of risk factors is scaled by the ratio of the current ES
of the full set to that of the reduced set, floored at 1 (a reduced set that shows more current
risk than the full one, e.g. one that leaves a hedge out, does not lower the stressed ES; the
same floor as the EU's transposition, CRR Art. 325bb: UES = PES_RS * max(PES_FC / PES_RC, 1)),

    IMES = ES_{R,S} * max(ES_{F,C} / ES_{R,C}, 1)

MAR33.15: with IMCC(C) the unconstrained IMES (all risk classes together) and IMCC(C_i) the
IMES of risk class i alone (equity, FX, interest rates ...),

    IMCC = rho * IMCC(C) + (1 - rho) * sum_i IMCC(C_i),        rho = 0.5

MAR33.41 (no stressed-expected-shortfall term here: non-modellable risk factors are out of
scope, SES = 0):

    C_A = max( IMCC_{t-1},  m_c * IMCC_avg ),   IMCC_avg = mean of the last 60 business days,
    m_c = 1.5 + plus factor

Plus factor (the backtesting table of MAR99, Table 2, that MAR33 refers to; 99% VaR, 250 business days,
the bank-wide exceptions): green zone 0-4 exceptions 0; amber 5, 6, 7, 8, 9 exceptions
0.20, 0.26, 0.33, 0.38, 0.42; red 10 or more 0.50.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_pipeline.risk.backtests.coverage import traffic_light_zones

RHO = 0.5
"""MAR33.15: weight of the unconstrained IMCC(C)."""
MULTIPLIER = 1.5
"""MAR33.41: m_c before the plus factor."""
CAPITAL_AVERAGE_DAYS = 60
"""MAR33.41: IMCC_avg is the average over the preceding 60 business days."""
BACKTEST_DAYS = 250
"""MAR32, MAR99: exceptions counted over the most recent 250 business days."""
BANK_BACKTEST_CONFIDENCE = 0.99
ZONE_NAMES = ("green", "amber", "red")
"""FRTB names of the three zones (the 1996 framework's "yellow" is "amber" in MAR)."""
_AMBER_PLUS = {5: 0.20, 6: 0.26, 7: 0.33, 8: 0.38, 9: 0.42}
_RED_PLUS = 0.50


def imes(es_reduced_stressed: np.ndarray, es_full_current: np.ndarray, es_reduced_current: np.ndarray) -> np.ndarray:
    """MAR33.5(2): IMES = ES_{R,S} * max(ES_{F,C} / ES_{R,C}, 1) (NaN where ES_{R,C} is 0 or NaN,
    or ES_{F,C} is NaN)."""
    r_c = np.asarray(es_reduced_current, dtype=float)
    f_c = np.asarray(es_full_current, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isnan(f_c), np.nan, np.fmax(f_c / r_c, 1.0))
        return np.where(r_c > 0, np.asarray(es_reduced_stressed) * ratio, np.nan)


def imcc(unconstrained: np.ndarray, by_class: np.ndarray, rho: float = RHO) -> np.ndarray:
    """MAR33.15: rho * IMCC(C) + (1 - rho) * sum_i IMCC(C_i); ``by_class`` has the classes on its
    last axis (a class the bank does not hold contributes 0)."""
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho must be in [0, 1], got {rho!r}")
    return rho * np.asarray(unconstrained, dtype=float) + (1.0 - rho) * np.sum(by_class, axis=-1)


@dataclass(frozen=True)
class PlusFactor:
    """Backtesting zone (``ZONE_NAMES``) and plus factor of an exception count over 250 days at 99%."""

    exceptions: int
    zone: str
    plus_factor: float


def plus_factor(exceptions: int, n_obs: int = BACKTEST_DAYS) -> PlusFactor:
    """Zone and plus factor of ``exceptions`` in ``n_obs`` = 250 days of 99% VaR (module docstring).

    The zone is the binomial traffic light of :func:`risk_pipeline.risk.backtests.coverage.traffic_light_zones`
    (green while P(X <= k) < 95%, red once >= 99.99%, X ~ Bin(250, 1%)): 0-4, 5-9, 10+ exceptions.
    """
    if n_obs != BACKTEST_DAYS:
        raise ValueError(f"the MAR plus-factor table is for {BACKTEST_DAYS} observations, got n_obs={n_obs}")
    k = int(exceptions)
    if not 0 <= k <= n_obs:
        raise ValueError(f"exceptions must be in [0, {n_obs}], got {exceptions!r}")
    zone, _, _ = traffic_light_zones(np.array([k]), np.array([n_obs]), 1.0 - BANK_BACKTEST_CONFIDENCE)
    z = int(zone[0])
    plus = 0.0 if z == 0 else _RED_PLUS if z == 2 else _AMBER_PLUS[k]
    return PlusFactor(k, ZONE_NAMES[z], plus)


def plus_factors(exceptions: np.ndarray) -> np.ndarray:
    """The :func:`plus_factor` of each exception count of ``exceptions`` (floats; NaN: unknown, NaN out),
    evaluated once per distinct count: a 30-year series holds some 8,600 days' counts, a dozen distinct."""
    return _of_each_count(exceptions, "plus_factor", np.nan, float)


def plus_factor_zones(exceptions: np.ndarray) -> np.ndarray:
    """The :func:`plus_factor` zone of each exception count of ``exceptions`` (floats; NaN: unknown, None out), as
    objects, evaluated once per distinct count (:func:`plus_factors`)."""
    return _of_each_count(exceptions, "zone", None, object)


def _of_each_count(exceptions: np.ndarray, field: str, unknown: object, dtype: type) -> np.ndarray:
    """``field`` of the :func:`plus_factor` of each count of ``exceptions`` (``unknown`` where NaN)."""
    counts = np.asarray(exceptions, dtype=float)
    out: np.ndarray = np.full(counts.shape, unknown, dtype=dtype)
    known = np.isfinite(counts)
    distinct, at = np.unique(counts[known], return_inverse=True)
    out[known] = np.array([getattr(plus_factor(int(k)), field) for k in distinct], dtype=dtype)[at]
    return out


def capital_charge(imcc_series: np.ndarray, multiplier: np.ndarray, average_days: int = CAPITAL_AVERAGE_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """MAR33.41 without SES: C_A[t] = max(IMCC[t], m_c[t] * mean(IMCC[t-average_days+1 .. t])).

    ``imcc_series`` is the daily IMCC in date order, IMCC[t] the one known for day t (built from the
    close of t-1: the IMCC_{t-1} of MAR33.41); ``multiplier`` m_c on the same dates. Returns
    ``(imcc_avg, c_a)``, NaN until ``average_days`` values exist or where one of them is NaN.
    """
    x = np.asarray(imcc_series, dtype=float)
    m = np.asarray(multiplier, dtype=float)
    avg = np.full(x.shape, np.nan)
    if len(x) >= average_days:
        windows = np.lib.stride_tricks.sliding_window_view(x, average_days)
        avg[average_days - 1:] = windows.mean(axis=-1)
    return avg, np.maximum(x, m * avg)
