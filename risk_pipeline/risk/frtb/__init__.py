"""FRTB internal models approach (Basel Framework MAR32-MAR33): liquidity-adjusted and stressed
expected shortfall, IMES, IMCC and the capital charge C_A, desk backtesting and the P&L
attribution test. Pure functions; docs/frtb.md has the formulas and the choices made.

Out of scope: non-modellable risk factors (the stressed expected shortfall SES, MAR33.16-33.17)
and the default risk charge (MAR33.18-33.39); the standardised approach for ineligible desks.
"""

from risk_pipeline.risk.frtb.attribution_test import (
    KS_GREEN_BELOW, KS_RED_ABOVE, PLA_DAYS, SPEARMAN_GREEN_MIN, SPEARMAN_RED_BELOW, factor_model_pnl, pla_zone,
    rolling_ks, rolling_spearman,
)
from risk_pipeline.risk.frtb.capital import (
    BACKTEST_DAYS, CAPITAL_AVERAGE_DAYS, MULTIPLIER, RHO, PlusFactor, capital_charge, imcc, imes, plus_factor,
    plus_factor_zones, plus_factors,
)
from risk_pipeline.risk.frtb.desk_backtest import (
    DESK_CONFIDENCES, DESK_EXCEPTION_LIMITS, backtest_eligible, desk_exception_counts, exceptions, trailing_exceptions,
)
from risk_pipeline.risk.frtb.expected_shortfall import (
    CLASS_ALL, ES_COLUMNS, OBSERVATION_DAYS, StressSearch, book_es, select_stress_window,
)
from risk_pipeline.risk.frtb.liquidity import (
    BASE_HORIZON_DAYS, ES_CONFIDENCE, LIQUIDITY_HORIZONS, cascade_weights, check_horizon, liquidity_adjusted_es,
)
from risk_pipeline.risk.frtb.scenarios import RISK_CLASSES, FactorBook, Shock, scenario_growth, shock, ten_day_returns

__all__ = [
    "BACKTEST_DAYS", "BASE_HORIZON_DAYS", "CAPITAL_AVERAGE_DAYS", "CLASS_ALL", "DESK_CONFIDENCES",
    "DESK_EXCEPTION_LIMITS", "ES_COLUMNS", "ES_CONFIDENCE", "KS_GREEN_BELOW", "KS_RED_ABOVE", "LIQUIDITY_HORIZONS",
    "MULTIPLIER", "OBSERVATION_DAYS", "PLA_DAYS", "RHO", "RISK_CLASSES", "SPEARMAN_GREEN_MIN", "SPEARMAN_RED_BELOW",
    "FactorBook", "PlusFactor", "Shock", "StressSearch", "backtest_eligible", "book_es", "capital_charge",
    "cascade_weights", "check_horizon", "desk_exception_counts", "exceptions", "factor_model_pnl", "imcc", "imes", "liquidity_adjusted_es",
    "pla_zone", "plus_factor", "plus_factor_zones", "plus_factors", "rolling_ks", "rolling_spearman", "scenario_growth", "select_stress_window", "shock",
    "ten_day_returns", "trailing_exceptions",
]
