"""Daily value, P&L and risk of one bond position along its yield path, in local and base currency.

Built from :mod:`risk_pipeline.risk.instruments.bonds` (formulas and sources there). For a bond of face
``F`` held, with yields ``y_t`` (decimal) and ``X_t`` = price in base currency of one unit of
the bond's currency (1 for a bond in the base currency), per date ``t`` of the path:

    value_local_t    = P(T_t, y_t)                 dirty value of the position (aging maturity T_t)
    dirty_price_t    = 100 P / F                   quote per 100 face
    pnl_local_t      = P_t + coupon_t - P_{t-1}    full repricing (local currency)
    pnl_carry_t      = P(T_t, y_{t-1}) + coupon_t - P_{t-1}   time passing at an unchanged yield (local)
    pnl_approx_t     = pnl_carry_t - D_mod P dy + 0.5 C P dy^2  carry plus the duration-convexity
                       approximation of the yield move, D_mod and C at (T_t, y_{t-1}) (local);
                       pnl_local - pnl_approx is the approximation's error, O(dy^3)
    value_base_t     = P_t X_t
    pnl_local_base_t = pnl_local_t X_{t-1}         local term (base)
    pnl_fx_t         = P_{t-1} (X_t - X_{t-1})     FX term (base)
    pnl_cross_t      = pnl_local_t (X_t - X_{t-1}) cross term (base)
    pnl_base_t       = (P_t + coupon_t) X_t - P_{t-1} X_{t-1} = the sum of the three terms
    dv01_t           = -dP/dy * 1e-4               position value change for a 1bp fall (local)
    modified_duration, convexity                   at (T_t, y_t)

P&L columns are NaN on the first date of the path (no previous day).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from risk_pipeline.risk.instruments.bonds import (
    FixedRateBond,
    price_and_derivatives,  # vectorized over (maturity, yield) pairs: risk per date without a loop
    foreign_bond_base_pnl,
    reprice_path,
)

POSITION_COLUMNS: tuple[str, ...] = (
    "date", "dirty_price", "value_local", "value_base", "pnl_local", "pnl_approx", "pnl_fx", "pnl_cross", "pnl_base",
    "dv01", "modified_duration", "convexity", "yield", "coupon_local", "fx_rate", "pnl_local_base", "pnl_carry",
)
"""Columns of :func:`bond_position_pnl`."""


def bond_position_pnl(coupon: float, maturity: dt.date, frequency: int, face: float, yields: pd.Series,
                      fx_prices: pd.Series) -> pd.DataFrame:
    """Value, P&L and risk of a held bond along ``yields`` (decimal, ascending dates before
    ``maturity``) with FX prices ``fx_prices`` (base per unit of the bond's currency, a value on
    every date of ``yields``). Formulas in the module docstring; columns :data:`POSITION_COLUMNS`."""
    bond = FixedRateBond.from_maturity_date(coupon, maturity, yields.index[0], frequency, face)
    path = reprice_path(bond, yields, aging=True)
    base = foreign_bond_base_pnl(path, fx_prices)
    price, dp, d2p, _, _ = price_and_derivatives(bond, path["maturity_years"].to_numpy(), path["yield"].to_numpy())
    fx = fx_prices.reindex(pd.DatetimeIndex(path["date"])).to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "date": path["date"],
            "dirty_price": path["dirty_price"] * (100.0 / face),
            "value_local": path["dirty_price"],
            "value_base": path["dirty_price"].to_numpy() * fx,
            "pnl_local": path["pnl_full"],
            "pnl_approx": path["pnl_carry"] + path["pnl_duration_convexity"],
            "pnl_fx": base["fx_term"],
            "pnl_cross": base["cross_term"],
            "pnl_base": base["total_pnl_base"],
            "dv01": -dp * 1e-4,
            "modified_duration": -dp / price,
            "convexity": d2p / price,
            "yield": path["yield"],
            "coupon_local": path["coupon_paid"],
            "fx_rate": fx,
            "pnl_local_base": base["local_term"],
            "pnl_carry": path["pnl_carry"],
        },
        columns=list(POSITION_COLUMNS),
    )
