"""Instruments other than a stock's price: fixed-coupon bonds and currency conversion.

- ``bonds``: price from yield, DV01, durations, convexity, repricing along a yield path, a foreign
  bond's yield + FX Taylor terms;
- ``bond_pnl``: one bond position's daily value, P&L and risk in local and base currency;
- ``fx``: cross rates from ECB fixings, base-currency returns, the local / FX / cross split of P&L.
"""

from risk_pipeline.risk.instruments.bond_pnl import bond_position_pnl
from risk_pipeline.risk.instruments.bonds import (BondInputError, BondRisk, FixedRateBond, ForeignBondTaylor, bond_risk,
                                                  dirty_price, foreign_bond_taylor, reprice_path)
from risk_pipeline.risk.instruments.fx import FxInputError, FxPnl, pnl_decomposition, to_base_returns

__all__ = [
    "BondInputError", "BondRisk", "FixedRateBond", "ForeignBondTaylor", "FxInputError", "FxPnl", "bond_position_pnl",
    "bond_risk", "dirty_price", "foreign_bond_taylor", "pnl_decomposition", "reprice_path", "to_base_returns",
]
