"""Shared pieces of the VaR/ES backtests: the result base class, the test level and input checks.

Every backtest in ``risk_pipeline.risk.backtests`` returns a frozen dataclass derived from
:class:`BacktestOutcome` (``statistic``, ``p_value``, ``insufficient_data`` and the derived
``verdict``). Insufficient data never produces NaN or an exception: the statistic is reported
as 0.0 and the p-value as 1.0 ("no evidence against the model") with ``insufficient_data=True``
and ``verdict == "insufficient_data"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.special import chdtrc, erfc

SIGNIFICANCE = 0.05
"""Test level of every ``verdict``: a test fails when its p-value is below 5%."""

MIN_EXPECTED_BREACHES = 1.0
"""Coverage tests (Kupiec, TUFF, traffic light, Z2) need n_obs * p >= 1, i.e. at least one
expected breach (100 observations at 99%, 20 at 95%); below that they are flagged
``insufficient_data``."""


class Verdict(StrEnum):
    """A backtest's verdict; each value is the string stored in the ``verdict`` column."""

    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT_DATA = "insufficient_data"


class BacktestInputError(ValueError):
    """Bad input to a backtest (wrong shape, non-finite values, out-of-range parameters)."""


@dataclass(frozen=True)
class BacktestOutcome:
    """Common fields of every backtest result."""

    statistic: float
    p_value: float
    insufficient_data: bool

    @property
    def verdict(self) -> Verdict:
        """``insufficient_data``, else ``fail`` if ``p_value < SIGNIFICANCE``, else ``pass``."""
        if self.insufficient_data:
            return Verdict.INSUFFICIENT_DATA
        return Verdict.FAIL if self.p_value < SIGNIFICANCE else Verdict.PASS


def chi2_sf(statistic: np.ndarray | float, df: int) -> np.ndarray:
    """P(chi2(df) > statistic); closed forms for df = 1 (erfc(sqrt(x/2))) and df = 2 (exp(-x/2))."""
    x = np.maximum(np.asarray(statistic, dtype=float), 0.0)
    if df == 1:
        return erfc(np.sqrt(x / 2.0))
    if df == 2:
        return np.exp(-x / 2.0)
    return chdtrc(df, x)


def tail_probability(confidence: float) -> float:
    """``p = 1 - confidence`` after checking ``confidence`` lies in (0, 1)."""
    if not isinstance(confidence, (int, float, np.floating)) or not 0.0 < float(confidence) < 1.0:
        raise BacktestInputError(f"confidence must be a number in (0, 1), got {confidence!r}")
    return 1.0 - float(confidence)


def has_coverage_data(n_obs: np.ndarray | int, p: float) -> np.ndarray:
    """True where ``n_obs * p >= MIN_EXPECTED_BREACHES`` (tolerant to rounding of ``1 - c``)."""
    return np.asarray(n_obs, dtype=float) * p >= MIN_EXPECTED_BREACHES - 1e-9


def as_breaches(breaches: object, name: str = "breaches") -> np.ndarray:
    """A 1-D boolean breach indicator from bools or 0/1 numbers; raises on anything else."""
    arr = np.asarray(breaches)
    if arr.ndim != 1:
        raise BacktestInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.number):
        raise BacktestInputError(f"{name} must be booleans or 0/1 numbers, got dtype {arr.dtype}")
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BacktestInputError(f"{name}[{i}] = {arr[i]!r} is not 0/1")
    return arr.astype(bool)


def as_finite(values: object, name: str, length: int | None = None) -> np.ndarray:
    """A 1-D float array with only finite values (and the given length); raises otherwise."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise BacktestInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise BacktestInputError(f"{name} has length {arr.shape[0]}, expected {length}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BacktestInputError(f"{name}[{i}] = {arr[i]!r} is not finite")
    return arr


def as_count(value: object, name: str, minimum: int = 0) -> int:
    """An integer >= ``minimum``; raises otherwise (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise BacktestInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
