"""Equity options: pricing, Greeks, volatility surfaces and VaR that sees convexity.

- ``pricing``: Black-Scholes-Merton prices and Greeks per unit (vectorised), cash Greeks per position;
- ``var``: VaR/ES of an options book by full revaluation, delta-gamma-vega and delta-only.
"""

from risk_pipeline.risk.options.pricing import CashGreeks, Greeks, OptionInputError, bsm_greeks, bsm_price, cash_greeks
from risk_pipeline.risk.options.var import (OptionBook, OptionVarMethod, Scenarios, historical_scenarios, horizon_years,
                                            options_var_es, scenario_pnl)

__all__ = [
    "CashGreeks", "Greeks", "OptionBook", "OptionInputError", "OptionVarMethod", "Scenarios", "bsm_greeks", "bsm_price",
    "cash_greeks", "historical_scenarios", "horizon_years", "options_var_es", "scenario_pnl",
]
