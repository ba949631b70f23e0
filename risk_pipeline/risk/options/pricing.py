"""European options on a stock or index paying a continuous dividend yield: Black-Scholes-Merton.

An option of type ``w`` (+1 call, -1 put) on an underlying at spot ``S`` with strike ``K``,
``T`` years to expiry, volatility ``sigma``, continuously compounded rate ``r`` and dividend
yield ``q`` (Merton 1973):

    d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt(T)),   d2 = d1 - sigma sqrt(T)
    price = w (S e^{-qT} N(w d1) - K e^{-rT} N(w d2))
    delta = dV/dS      = w e^{-qT} N(w d1)
    gamma = d2V/dS2    = e^{-qT} phi(d1) / (S sigma sqrt(T))
    vega  = dV/dsigma  = S e^{-qT} phi(d1) sqrt(T)                      per 1.00 of volatility
    theta = dV/dt      = -S e^{-qT} phi(d1) sigma / (2 sqrt(T))
                         - w r K e^{-rT} N(w d2) + w q S e^{-qT} N(w d1)   per year of calendar time
    rho   = dV/dr      = w K T e^{-rT} N(w d2)                             per 1.00 of rate

(J. Hull, *Options, Futures, and Other Derivatives*, ch. 17 and 19; the same conventions as
QuantLib's ``AnalyticEuropeanEngine``, against which ``risk_pipeline_tests/test_options_pricing.py``
checks every number to 1e-8). At or after expiry (``T <= 0``) the value is the intrinsic payoff
``max(w (S - K), 0)``, delta the payoff's slope (0 or w; at the money w/2 by convention of the
mid-point), every other Greek 0. ``N`` is :func:`scipy.special.ndtr` (accurate in the tails,
unlike ``1 - N(-x)``). All inputs broadcast: one call prices a whole book under a whole set of
scenarios. Time is ACT/365: ``T = (expiry - as-of date) in calendar days / 365``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

DAYS_PER_YEAR = 365.0
_SQRT_2PI = np.sqrt(2.0 * np.pi)


class OptionInputError(ValueError):
    """Option inputs are malformed (names the parameter)."""


@dataclass(frozen=True)
class Greeks:
    """Price and Greeks per unit of underlying (arrays of the broadcast shape; units in the module doc)."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    rho: np.ndarray


def _sign(is_call) -> np.ndarray:
    return np.where(np.asarray(is_call, dtype=bool), 1.0, -1.0)


def _check(spot, strike, vol) -> None:
    for label, value in (("spot", spot), ("strike", strike)):
        if not np.all(np.asarray(value) > 0):
            raise OptionInputError(f"{label} must be > 0 and finite, got {np.asarray(value).min()!r}")
    if not np.all(np.asarray(vol) > 0):
        raise OptionInputError(f"vol must be > 0 and finite, got {np.asarray(vol).min()!r}")


def _d1_d2(spot, strike, years, vol, rate, dividend):
    live = years > 0
    t = np.where(live, years, 1.0)  # placeholder where expired: those entries are replaced below
    sd = vol * np.sqrt(t)
    d1 = (np.log(spot / strike) + (rate - dividend + 0.5 * vol * vol) * t) / sd
    return live, t, d1, d1 - sd


def bsm_price(is_call, spot, strike, years, vol, rate=0.0, dividend=0.0) -> np.ndarray:
    """Black-Scholes-Merton price per unit (module doc); the intrinsic payoff where ``years <= 0``."""
    spot, strike, years, vol = (np.asarray(x, dtype=float) for x in (spot, strike, years, vol))
    _check(spot, strike, vol)
    w = _sign(is_call)
    live, t, d1, d2 = _d1_d2(spot, strike, years, vol, rate, dividend)
    value = w * (spot * np.exp(-dividend * t) * ndtr(w * d1) - strike * np.exp(-rate * t) * ndtr(w * d2))
    return np.where(live, value, np.maximum(w * (spot - strike), 0.0))


def bsm_greeks(is_call, spot, strike, years, vol, rate=0.0, dividend=0.0) -> Greeks:
    """Price, delta, gamma, vega, theta and rho per unit (module doc), broadcast over the inputs."""
    spot, strike, years, vol = (np.asarray(x, dtype=float) for x in (spot, strike, years, vol))
    _check(spot, strike, vol)
    w = _sign(is_call)
    live, t, d1, d2 = _d1_d2(spot, strike, years, vol, rate, dividend)
    sqrt_t = np.sqrt(t)
    carry, discount = np.exp(-dividend * t), np.exp(-rate * t)
    n1, n2 = ndtr(w * d1), ndtr(w * d2)
    density = np.exp(-0.5 * d1 * d1) / _SQRT_2PI
    price = w * (spot * carry * n1 - strike * discount * n2)
    delta = w * carry * n1
    gamma = carry * density / (spot * vol * sqrt_t)
    vega = spot * carry * density * sqrt_t
    theta = -spot * carry * density * vol / (2.0 * sqrt_t) - w * rate * strike * discount * n2 \
        + w * dividend * spot * carry * n1
    rho = w * strike * t * discount * n2
    payoff = np.maximum(w * (spot - strike), 0.0)
    slope = np.where(spot == strike, 0.5 * w, np.where(w * (spot - strike) > 0, w, 0.0))
    zero = np.zeros_like(price)
    return Greeks(price=np.where(live, price, payoff), delta=np.where(live, delta, slope),
                  gamma=np.where(live, gamma, zero), vega=np.where(live, vega, zero),
                  theta=np.where(live, theta, zero), rho=np.where(live, rho, zero))


@dataclass(frozen=True)
class CashGreeks:
    """Greeks of a position in base currency, for the move a desk quotes them for.

    ``units`` = quantity x contract multiplier (underlying units), ``fx`` = base currency per
    unit of the option's currency:

        delta_amount = delta S units fx           base-currency exposure to the underlying (P&L of a +100% move, first order)
        gamma_amount = gamma S^2 units fx / 100   change of delta_amount for a +1% move of the underlying
        vega_amount  = vega units fx / 100        P&L of +1 volatility point (0.01)
        theta_amount = theta units fx / 365       P&L of one calendar day passing
        rho_amount   = rho units fx / 10_000      P&L of +1 basis point of the rate
    """

    delta_amount: np.ndarray
    gamma_amount: np.ndarray
    vega_amount: np.ndarray
    theta_amount: np.ndarray
    rho_amount: np.ndarray


def cash_greeks(greeks: Greeks, spot, units, fx=1.0) -> CashGreeks:
    """Per-unit ``greeks`` of options on an underlying at ``spot`` scaled to positions (class doc)."""
    scale = np.asarray(units, dtype=float) * fx
    spot = np.asarray(spot, dtype=float)
    return CashGreeks(delta_amount=greeks.delta * spot * scale, gamma_amount=greeks.gamma * spot * spot * scale / 100.0,
                      vega_amount=greeks.vega * scale / 100.0, theta_amount=greeks.theta * scale / DAYS_PER_YEAR,
                      rho_amount=greeks.rho * scale / 10_000.0)
