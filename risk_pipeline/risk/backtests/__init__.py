"""VaR and ES backtests and forecast scores: the public entry point (one import for every individual test).

| test | function | null distribution | module |
| --- | --- | --- | --- |
| Kupiec (1995) proportion of failures | ``kupiec_pof`` | chi2(1) | coverage |
| Christoffersen (1998) independence | ``christoffersen_independence`` | chi2(1) | coverage |
| Christoffersen (1998) conditional coverage | ``conditional_coverage`` | chi2(2) | coverage |
| Basel (1996) traffic light | ``basel_traffic_light`` | Binomial(n, 1-c) | coverage |
| Kupiec (1995) time until first failure | ``kupiec_tuff`` | chi2(1) | coverage |
| Christoffersen & Pelletier (2004) durations | ``christoffersen_pelletier_duration`` | chi2(1) | duration |
| Engle & Manganelli (2004) dynamic quantile | ``dynamic_quantile`` | chi2(rank) | dynamic_quantile |
| Acerbi & Szekely (2014) Z2 | ``acerbi_szekely_z2`` | simulated | expected_shortfall |
| McNeil & Frey (2000) exceedance residuals | ``mcneil_frey`` | bootstrap | expected_shortfall |

Every function returns a frozen dataclass with ``statistic``, ``p_value``,
``insufficient_data`` and ``verdict`` ("pass" / "fail" at 5% / "insufficient_data"); edge
cases give finite numbers (see each docstring), never NaN (shared pieces: ``base``).

The whole-history, every-as-of-date table of these tests is :func:`backtest_table` (``table``);
proper scores and the Model Confidence Set are in ``scoring``; the ranking of a portfolio's
methods by scores, backtests and capital is :func:`rank_methods` (``ranking``).
"""

from risk_pipeline.risk.backtests.base import (
    MIN_EXPECTED_BREACHES,
    SIGNIFICANCE,
    BacktestInputError,
    BacktestOutcome,
    Verdict,
)
from risk_pipeline.risk.backtests.coverage import (
    ConditionalCoverageResult,
    IndependenceResult,
    KupiecResult,
    TrafficLight,
    TrafficLightResult,
    TuffResult,
    basel_traffic_light,
    christoffersen_independence,
    conditional_coverage,
    kupiec_pof,
    kupiec_tuff,
)
from risk_pipeline.risk.backtests.dynamic_quantile import DynamicQuantileResult, dynamic_quantile
from risk_pipeline.risk.backtests.duration import DurationResult, christoffersen_pelletier_duration
from risk_pipeline.risk.backtests.expected_shortfall import McNeilFreyResult, Z2Result, acerbi_szekely_z2, mcneil_frey
from risk_pipeline.risk.backtests.ranking import rank_methods
from risk_pipeline.risk.backtests.table import backtest_table

__all__ = [
    "MIN_EXPECTED_BREACHES",
    "SIGNIFICANCE",
    "BacktestInputError",
    "BacktestOutcome",
    "ConditionalCoverageResult",
    "DurationResult",
    "DynamicQuantileResult",
    "IndependenceResult",
    "KupiecResult",
    "McNeilFreyResult",
    "TrafficLight",
    "TrafficLightResult",
    "TuffResult",
    "Verdict",
    "Z2Result",
    "acerbi_szekely_z2",
    "backtest_table",
    "basel_traffic_light",
    "christoffersen_independence",
    "christoffersen_pelletier_duration",
    "conditional_coverage",
    "dynamic_quantile",
    "kupiec_pof",
    "kupiec_tuff",
    "mcneil_frey",
    "rank_methods",
]
