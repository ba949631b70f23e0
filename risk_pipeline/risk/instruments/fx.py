"""Currency conversion of prices, returns and P&L (pure; no files).

Quote convention (ECB euro reference rates): ``rate[X]`` = units of currency X per 1 EUR,
e.g. ``rate["USD"] = 1.0856`` means 1 EUR = 1.0856 USD; ``rate["EUR"] = 1``. The price of
1 unit of X in base currency B is the cross rate

    price_B(X) = rate[B] / rate[X]                (units of B per 1 unit of X)

so 1 USD costs 1 / 1.0856 EUR for a EUR base, and 1 EUR costs 1.0856 USD for a USD base.
An FX return ``r_fx`` is the simple return of ``price_B(X)``: positive when X appreciates
against the base currency.

A position worth ``E`` (in base currency) at the start of the day, in an asset with local
return ``r_l`` quoted in X, returns in base currency

    1 + r_B = (1 + r_l)(1 + r_fx)
    pnl_B   = E r_l  +  E r_fx  +  E r_l r_fx      (local, FX and cross terms; exact)

Source: the ECB reference-rate convention (ecb.europa.eu, "Euro foreign exchange
reference rates"); the decomposition is the standard multiplicative split of a foreign
asset's return, e.g. Jorion, "Value at Risk" (3rd ed.), ch. 7 (currency risk mapping).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


class FxInputError(ValueError):
    """FX inputs are malformed (names the currency / parameter)."""


@dataclass(frozen=True)
class FxPnl:
    """Exact split of base-currency P&L: ``total = local + fx + cross`` (same shape each)."""

    local: pd.Series | pd.DataFrame | float
    fx: pd.Series | pd.DataFrame | float
    cross: pd.Series | pd.DataFrame | float
    total: pd.Series | pd.DataFrame | float


def to_base_returns(local_returns: pd.DataFrame | pd.Series, fx_returns: pd.DataFrame | pd.Series):
    """Base-currency simple returns ``(1 + r_local)(1 + r_fx) - 1``.

    ``fx_returns`` is either aligned with ``local_returns`` (same index and columns, e.g. each
    symbol's currency return) or, for a DataFrame of local returns, a Series indexed by date
    (one currency for every column). Index/column labels are aligned by pandas; a date missing
    from ``fx_returns`` gives NaN, never a silent zero.
    """
    if isinstance(local_returns, pd.DataFrame) and isinstance(fx_returns, pd.Series):
        growth = (1.0 + local_returns).mul(1.0 + fx_returns, axis=0)
    else:
        growth = (1.0 + local_returns) * (1.0 + fx_returns)
    return growth - 1.0


def pnl_decomposition(exposure, local_return, fx_return) -> FxPnl:
    """Split base-currency P&L of exposure ``E`` into local, FX and cross terms (module docstring).

    Arguments broadcast like numpy / pandas arithmetic (scalars, Series or DataFrames).
    """
    local = exposure * local_return
    fx = exposure * fx_return
    cross = exposure * local_return * fx_return
    return FxPnl(local=local, fx=fx, cross=cross, total=local + fx + cross)


def base_prices(ecb_rates: pd.DataFrame, base: str) -> pd.DataFrame:
    """Price in ``base`` of one unit of every currency: ``rate[base] / rate[X]``.

    ``ecb_rates``: rows dates, columns currency codes, values units of currency per 1 EUR
    (the ECB convention). A ``EUR`` column (all ones) is added if absent. Missing rates stay
    NaN. The returned frame has one column per currency including ``base`` (all ones).
    """
    rates = ecb_rates.astype(float)
    if "EUR" not in rates.columns:
        rates = rates.assign(EUR=1.0)
    if base not in rates.columns:
        raise FxInputError(f"base currency {base!r} not among the ECB rate columns {sorted(rates.columns)}")
    bad = [c for c in rates.columns if (rates[c] <= 0).any()]
    if bad:
        raise FxInputError(f"non-positive ECB rates for currency {bad}")
    return rates.rdiv(rates[base], axis=0)


def align_to_dates(prices: pd.DataFrame, dates: pd.DatetimeIndex, *, max_stale_days: int = 5) -> pd.DataFrame:
    """FX prices on a trading calendar: the last fixing at or before each date.

    ECB fixings follow the TARGET calendar, equities the exchange calendar; a date without
    a fixing takes the latest earlier one if it is at most ``max_stale_days`` calendar days
    old, else NaN (so a long gap is visible, not silently carried).
    """
    src = prices.sort_index()
    pos = src.index.searchsorted(dates, side="right") - 1
    picked = src.to_numpy(dtype=float)[np.maximum(pos, 0)].copy()
    fixed_on = src.index.to_numpy()[np.maximum(pos, 0)]
    stale = (pos < 0) | ((np.asarray(dates, dtype="datetime64[ns]") - fixed_on) > np.timedelta64(max_stale_days, "D"))
    picked[stale] = np.nan
    return pd.DataFrame(picked, index=dates, columns=src.columns)


def currency_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple returns of base-currency FX prices (first row dropped; NaN stays NaN)."""
    return (prices / prices.shift(1) - 1.0).iloc[1:]


def fx_return_for_base_change(base_change: float) -> float:
    """FX return of every foreign currency when the base currency moves by ``base_change``.

    ``base_change = +0.10`` (base appreciates 10% against X, i.e. X costs 1/1.10 as much in
    base) gives ``1 / 1.10 - 1 = -9.09%``.
    """
    if base_change <= -1.0:
        raise FxInputError(f"base_currency_change must be > -1, got {base_change!r}")
    return 1.0 / (1.0 + base_change) - 1.0
