"""Implied volatility as data: a surface interpolated per underlying and day, and the proxy used without one.

**Surface from quotes** (:func:`surface_vol`). For one underlying and day, quotes are
``(expiry in years T_j, strike K, implied vol)``. An option at ``(T, K)`` gets:

1. per quoted expiry ``T_j``: the vol at ``K`` interpolated linearly in strike between the two
   nearest quoted strikes, flat beyond the lowest and highest strike (no extrapolated slope);
2. across expiries: linear in *total variance* ``w = sigma^2 T`` between the two quoted expiries
   around ``T``, ``sigma(T) = sqrt(w(T) / T)`` (total variance linear in time is what a
   calendar-arbitrage-free surface is at least; Gatheral, *The Volatility Surface*, 2006, ch. 3),
   flat in volatility before the first and after the last expiry.

**Proxy** (:func:`proxy_vol`) where no quotes exist (the bundled demonstration): the
RiskMetrics EWMA volatility of the underlying's daily returns (lambda 0.94, window-bounded as in
:mod:`risk_pipeline.risk.var.ewma`), annualised with sqrt(252), flat in expiry, with a stated
linear skew in log-moneyness ``sigma(K) = max(sigma_atm - skew ln(K/S), VOL_FLOOR)`` (skew 0.5:
a 10% out-of-the-money put carries about 5 volatility points more than the at-the-money
option, roughly the S&P 500's). It is realised, not implied, volatility: no variance premium, no
term structure; rows priced with it say ``vol_source = ewma_proxy``.

**An at-the-money level** (the VIX, ``options.vol_source: atm_file``) takes the proxy's place where
it exists: :func:`proxy_vol` with ``atm_vol`` = the level, the same skew, flat in expiry.
"""

from __future__ import annotations

import numpy as np

from risk_pipeline.risk.options.pricing import OptionInputError
from risk_pipeline.risk.options.var import VOL_FLOOR
from risk_pipeline.risk.var.ewma import RISKMETRICS_LAMBDA, ewma_variance_paths
from risk_pipeline.risk.var.windows import trailing_windows

TRADING_DAYS_PER_YEAR = 252


def ewma_atm_vol(returns: np.ndarray, window: int, lam: float = RISKMETRICS_LAMBDA) -> np.ndarray:
    """Annualised EWMA volatility at each close from the ``window`` returns up to and including it.

    Entry ``i`` uses ``returns[i - window + 1 .. i]``; the first ``window - 1`` entries are NaN.
    """
    returns = np.asarray(returns, dtype=float)
    out = np.full(len(returns), np.nan)
    if len(returns) >= window:
        variance = ewma_variance_paths(trailing_windows(np.append(returns, 0.0), window), lam)[:, -1]
        out[window - 1:] = np.sqrt(TRADING_DAYS_PER_YEAR * variance)
    return out


def proxy_vol(atm_vol, spot, strike, skew: float) -> np.ndarray:
    """``max(atm_vol - skew ln(strike / spot), VOL_FLOOR)`` (module doc)."""
    return np.maximum(np.asarray(atm_vol, dtype=float) - skew * np.log(np.asarray(strike) / np.asarray(spot)),
                      VOL_FLOOR)


def _in_strike(strikes: np.ndarray, vols: np.ndarray, strike: float) -> float:
    order = np.argsort(strikes)
    return float(np.interp(strike, strikes[order], vols[order]))  # flat beyond the ends


def surface_vol(expiries: np.ndarray, strikes: np.ndarray, vols: np.ndarray, years: float, strike: float) -> float:
    """Vol at ``(years, strike)`` from one day's quotes of one underlying (module doc)."""
    expiries, strikes, vols = (np.asarray(x, dtype=float) for x in (expiries, strikes, vols))
    if len(vols) == 0:
        raise OptionInputError("no volatility quotes")
    if not (np.all(vols > 0) and np.all(expiries > 0)):
        raise OptionInputError("volatility quotes must have vol > 0 and an expiry after the day")
    pillars = np.unique(expiries)
    smile = np.array([_in_strike(strikes[expiries == t], vols[expiries == t], strike) for t in pillars])
    if years <= pillars[0]:
        return float(smile[0])
    if years >= pillars[-1]:
        return float(smile[-1])
    total_variance = np.interp(years, pillars, smile * smile * pillars)
    return float(np.sqrt(total_variance / years))
