"""Portfolio value, P&L and simple return from position exposures and asset returns.

For exposures ``E_{i,t}`` (base-currency value of position i at the close of day t), portfolio
value ``V_t`` at that close and asset returns in base currency ``r_{i,t}`` over day t:

    pnl_t    = sum_i E_{i,t-1} * r_{i,t}
    simple_return_t = pnl_t / V_{t-1}

This aggregates simple returns, which is exact (docs/design.md: log returns are not additive
across assets). Two kinds of book use it:

* by quantity q_i (buy and hold): E_{i,t} = q_i * P_{i,t} * X_{i,t} with X the price of one
  unit of the asset's currency in base currency, V_t = sum_i E_{i,t}, so that
  pnl_t = V_t - V_{t-1} exactly;
* by weight w_i on a capital N (constant mix, rebalanced at each close): E_{i,t} = w_i * N and
  V_t = N, so simple_return_t = sum_i w_i r_{i,t}.

Source: the standard portfolio accounting identity, e.g. Jorion, "Value at Risk", 3rd ed.,
ch. 7 (portfolio returns as exposure-weighted asset returns).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

PNL_COLUMNS = ("date", "value", "pnl", "simple_return")


def pnl_from_exposures(exposures: pd.DataFrame, values: pd.Series, base_returns: pd.DataFrame,
                       sum_rows: Callable[[np.ndarray], np.ndarray] = lambda a: a.sum(axis=1)) -> pd.DataFrame:
    """Daily P&L of a book (see module docstring).

    ``exposures``: dates x symbols, base-currency exposure at each close; ``values``: the book's
    value at each close (same dates); ``base_returns``: dates x symbols, simple returns in base
    currency. A day gets a row only when the previous day's exposures and value and every
    held symbol's return for the day are known. ``sum_rows``: the sum of each row of the day's
    contributions (``risk.sums.row_sums`` for a book of record, whose columns vary with the range).
    Returns columns ``PNL_COLUMNS``.
    """
    dates, prev_exposure, prev_value, rets, known = _pnl_inputs(exposures, values, base_returns)
    held = prev_exposure != 0.0
    # a position with zero exposure contributes nothing even if its return is missing
    contrib = np.where(held, prev_exposure * np.where(held, rets, 0.0), 0.0)
    pnl = sum_rows(contrib)
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = pnl / prev_value
    out = pd.DataFrame(
        {"date": dates, "value": values.reindex(dates).to_numpy(), "pnl": pnl, "simple_return": ret}
    )
    return out.loc[known].reset_index(drop=True)


def pnl_days(exposures: pd.DataFrame, values: pd.Series, base_returns: pd.DataFrame) -> pd.DatetimeIndex:
    """The dates of the rows of :func:`pnl_from_exposures` (those with a P&L), without computing it."""
    dates, *_, known = _pnl_inputs(exposures, values, base_returns)
    return pd.DatetimeIndex(dates[known])


def _pnl_inputs(exposures: pd.DataFrame, values: pd.Series, base_returns: pd.DataFrame
                ) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The common dates of :func:`pnl_from_exposures`' inputs, the previous close's exposures and value, the
    day's returns on them, and the dates with a P&L (every held position's return and the value known)."""
    missing = sorted(set(exposures.columns) - set(base_returns.columns))
    if missing:
        raise ValueError(f"no returns for symbols {missing}")
    dates = exposures.index.intersection(base_returns.index).sort_values()
    exposures = exposures.reindex(dates)
    prev_exposure = exposures.shift(1).to_numpy()
    prev_value = values.reindex(dates).shift(1).to_numpy()
    rets = base_returns.reindex(index=dates, columns=exposures.columns).to_numpy()
    held = prev_exposure != 0.0
    known = ~np.isnan(prev_exposure).any(axis=1) & ~np.isnan(np.where(held, rets, 0.0)).any(axis=1)
    known &= np.isfinite(prev_value) & (prev_value != 0.0)
    return dates, prev_exposure, prev_value, rets, known


def with_amounts(estimates: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """``estimates`` (columns ``date``, ``var``, ``es``: losses as fractions of value) with
    ``var_amount`` and ``es_amount`` in base currency:

        var_amount_t = var_t * V_{t-1},   es_amount_t = es_t * V_{t-1}

    with ``values`` the book's value at each close (a Series by date): the forecast for day t is
    a fraction of the value held over the day, that of the previous close (docs/design.md).
    """
    previous = values.sort_index().shift(1).reindex(estimates["date"]).to_numpy()
    return estimates.assign(var_amount=estimates["var"].to_numpy() * previous,
                            es_amount=estimates["es"].to_numpy() * previous)


def trades_pnl(quantity: np.ndarray, price: np.ndarray, fees: np.ndarray, close: np.ndarray,
               fx: np.ndarray) -> np.ndarray:
    """P&L in base currency of each trade of a day from its price to the day's close, net of fees:

        trade_pnl_k = (q_k * (P_t - p_k) - f_k) * X_t

    with q_k the units bought (negative = sold), p_k the trade price and f_k the fees, both in the
    instrument's currency, P_t the instrument's close and X_t the price in base currency of one unit
    of its currency at the close. Actual P&L = hypothetical P&L + the day's sum of these (the
    hypothetical P&L holds the previous close's positions unchanged; docs/positions.md). Arrays of
    one entry per trade."""
    return (np.asarray(quantity) * (np.asarray(close) - np.asarray(price)) - np.asarray(fees)) * np.asarray(fx)
