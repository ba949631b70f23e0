"""VaR and ES backtests: the public entry point (one import for every individual test).

| test | function | null distribution | module |
| --- | --- | --- | --- |
| Kupiec (1995) proportion of failures | ``kupiec_pof`` | chi2(1) | coverage_backtest |
| Christoffersen (1998) independence | ``christoffersen_independence`` | chi2(1) | coverage_backtest |
| Christoffersen (1998) conditional coverage | ``conditional_coverage`` | chi2(2) | coverage_backtest |
| Basel (1996) traffic light | ``basel_traffic_light`` | Binomial(n, 1-c) | coverage_backtest |
| Kupiec (1995) time until first failure | ``kupiec_tuff`` | chi2(1) | coverage_backtest |
| Christoffersen & Pelletier (2004) durations | ``christoffersen_pelletier_duration`` | chi2(1) | duration_backtest |
| Engle & Manganelli (2004) dynamic quantile | ``dynamic_quantile`` | chi2(rank) | dq_backtest |
| Acerbi & Szekely (2014) Z2 | ``acerbi_szekely_z2`` | simulated | es_backtest |
| McNeil & Frey (2000) exceedance residuals | ``mcneil_frey`` | bootstrap | es_backtest |

Every function returns a frozen dataclass with ``statistic``, ``p_value``,
``insufficient_data`` and ``verdict`` ("pass" / "fail" at 5% / "insufficient_data"); edge
cases give finite numbers (see each docstring), never NaN. The whole-history, every-as-of-date
table is ``risk_pipeline.risk.backtest_table.backtest_table``.
"""

from risk_pipeline.risk.backtest_base import (
    MIN_EXPECTED_BREACHES,
    SIGNIFICANCE,
    BacktestInputError,
    BacktestOutcome,
)
from risk_pipeline.risk.coverage_backtest import (
    ConditionalCoverageResult,
    IndependenceResult,
    KupiecResult,
    TrafficLightResult,
    TuffResult,
    basel_traffic_light,
    christoffersen_independence,
    conditional_coverage,
    kupiec_pof,
    kupiec_tuff,
)
from risk_pipeline.risk.dq_backtest import DynamicQuantileResult, dynamic_quantile
from risk_pipeline.risk.duration_backtest import DurationResult, christoffersen_pelletier_duration
from risk_pipeline.risk.es_backtest import McNeilFreyResult, Z2Result, acerbi_szekely_z2, mcneil_frey

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
    "TrafficLightResult",
    "TuffResult",
    "Z2Result",
    "acerbi_szekely_z2",
    "basel_traffic_light",
    "christoffersen_independence",
    "christoffersen_pelletier_duration",
    "conditional_coverage",
    "dynamic_quantile",
    "kupiec_pof",
    "kupiec_tuff",
    "mcneil_frey",
]
