"""Historical 10-day scenarios of a book's risk factors and the P&L of its positions under them.

A position p holds a base-currency exposure e_p (its value at the previous close) in an asset
with local return r^L_p and, when the asset's currency differs from the book's base
currency, the FX return r^X_p of that currency against the base (risk_pipeline.risk.instruments.fx). Its
risk factors are the asset's price (class ``equity``) and that FX rate (class ``fx``). Over
the base horizon T = 10 days (MAR33.4) the scenarios are the overlapping T-day compounded
returns of the observation window, R_k = prod_{i=k}^{k+T-1} (1 + r_i) - 1
(:func:`risk_pipeline.risk.var.windows.compound_returns`, as the historical VaR uses; MAR33.4
allows overlapping T-day observations), so a window of W daily returns gives W - T + 1
scenarios. A position's P&L in scenario k when only the factors of a subset are shocked
(the others held at their current values, MAR33.4):

    pnl_{p,k} = e_p * ( (1 + s^L_p R^L_{p,k}) (1 + s^X_p R^X_{p,k}) - 1 ),   s in {0, 1}

(full revaluation of the position: exact for equities and FX spot). Losses L = -sum_p pnl_p.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipeline.risk.frtb.liquidity import BASE_HORIZON_DAYS, check_horizon
from risk_pipeline.risk.var.windows import compound_returns

RISK_CLASSES = ("equity", "fx")
"""Risk classes of the factors a book of equities holds (MAR33.15 sums IMCC over classes)."""


@dataclass(frozen=True)
class FactorBook:
    """A desk (or the bank) as the FRTB core sees it, on its trading days (rows, sorted).

    ``exposures``: dates x positions, base-currency exposure held over each day (the previous
    close's value, ``Book.held()``); ``equity_returns`` / ``fx_returns``: dates x positions,
    each day's local return of the position's asset and FX return of its currency against the
    base (0.0 when the currency is the base); ``equity_horizon`` / ``fx_horizon``: each
    position's liquidity horizon of its price and of its FX rate (days, MAR33.12);
    ``equity_reduced`` / ``fx_reduced``: whether the factor belongs to the reduced set (MAR33.5).
    """

    exposures: pd.DataFrame
    equity_returns: pd.DataFrame
    fx_returns: pd.DataFrame
    equity_horizon: np.ndarray
    fx_horizon: np.ndarray
    equity_reduced: np.ndarray
    fx_reduced: np.ndarray

    def __post_init__(self) -> None:
        n = self.exposures.shape[1]
        for name in ("equity_returns", "fx_returns"):
            frame = getattr(self, name)
            if not frame.index.equals(self.exposures.index) or frame.shape[1] != n:
                raise ValueError(f"FactorBook.{name} must have the exposures' dates and {n} position columns")
        for name in ("equity_horizon", "fx_horizon", "equity_reduced", "fx_reduced"):
            if np.shape(getattr(self, name)) != (n,):
                raise ValueError(f"FactorBook.{name} needs one value per position ({n})")
        for days in (*self.equity_horizon, *self.fx_horizon):
            check_horizon(int(days))


@dataclass(frozen=True)
class Shock:
    """Which factors a scenario set shocks: per position, its price (``equity``) and its FX rate (``fx``)."""

    equity: np.ndarray
    fx: np.ndarray


def shock(book: FactorBook, *, min_horizon: int, risk_class: str | None = None, reduced: bool = False) -> Shock:
    """The factors with liquidity horizon >= ``min_horizon`` (MAR33.4's ES_T(P, j)), of one risk
    class (MAR33.15's IMCC(C_i)) or all, of the reduced set only or the full set (MAR33.5)."""
    if risk_class is not None and risk_class not in RISK_CLASSES:
        raise ValueError(f"unknown risk class {risk_class!r} (known: {list(RISK_CLASSES)})")
    equity = (np.asarray(book.equity_horizon) >= min_horizon) & (risk_class in (None, "equity"))
    fx = (np.asarray(book.fx_horizon) >= min_horizon) & (risk_class in (None, "fx"))
    if reduced:
        equity, fx = equity & np.asarray(book.equity_reduced, bool), fx & np.asarray(book.fx_reduced, bool)
    return Shock(equity, fx)


def ten_day_returns(daily: pd.DataFrame, horizon: int = BASE_HORIZON_DAYS) -> np.ndarray:
    """Overlapping ``horizon``-day compounded returns of each column: row k compounds daily rows
    k .. k + horizon - 1 (shape ``(n - horizon + 1, columns)``; NaN where a daily return is NaN).
    Fewer than ``horizon`` days (a book's first days) hold no scenario: shape ``(0, columns)``."""
    if len(daily) < horizon:
        return np.empty((0, daily.shape[1]))
    return compound_returns(daily.to_numpy(dtype=float).T, horizon).T


def scenario_growth(equity_10d: np.ndarray, fx_10d: np.ndarray, s: Shock) -> np.ndarray:
    """Per scenario and position, (1 + s^L R^L)(1 + s^X R^X) - 1: the position's return when the
    factors of ``s`` move as in the scenario (module docstring)."""
    return (1.0 + equity_10d * s.equity) * (1.0 + fx_10d * s.fx) - 1.0
