"""Equity options: pricing, Greeks, volatility surfaces and VaR that sees convexity.

- ``pricing``: Black-Scholes-Merton prices and Greeks per unit (vectorised), cash Greeks per position;
- ``surface``: implied volatility from quotes (interpolated) or the EWMA proxy with a stated skew;
- ``var``: VaR/ES of an options book by full revaluation, delta-gamma-vega and delta-only (one day or many at once).
"""

from risk_pipeline.risk.options.pricing import CashGreeks, Greeks, OptionInputError, bsm_greeks, bsm_price, cash_greeks
from risk_pipeline.risk.options.surface import ewma_atm_vol, proxy_vol, surface_vol
from risk_pipeline.risk.options.var import (OptionBook, OptionVarMethod, Scenarios, days_scenario_pnl, days_var_es,
                                            historical_scenarios, horizon_years, options_var_es, scenario_pnl,
                                            window_scenarios)

__all__ = [
    "CashGreeks", "Greeks", "OptionBook", "OptionInputError", "OptionVarMethod", "Scenarios", "bsm_greeks", "bsm_price",
    "cash_greeks", "days_scenario_pnl", "days_var_es", "ewma_atm_vol", "historical_scenarios", "horizon_years",
    "options_var_es", "proxy_vol", "scenario_pnl", "surface_vol", "window_scenarios",
]
