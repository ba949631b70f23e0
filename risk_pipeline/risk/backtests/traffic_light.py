"""The Basel traffic-light view of ``var_backtests`` rows: which rows it reads, which are red.

The Basel (1996) traffic light is the backtest of the 1-day VaR at 99% over the trailing 250
trading days (``backtest_window_days``; the shortest stored window is the Basel one); its zones
are those of :func:`risk_pipeline.risk.backtests.coverage.traffic_light_zones` (cumulative
binomial probability of the breach count below 95% green, below 99.99% yellow, else red:
BCBS, "Supervisory framework for the use of backtesting", January 1996, table 2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_pipeline.risk.backtests.coverage import TrafficLight, traffic_light_zones

BASEL_CONFIDENCE = 0.99
BASEL_HORIZON = 1
TRAFFIC_LIGHT_COLUMNS = [
    "portfolio", "method", "backtest_window_days", "n_obs", "n_breaches", "expected_breaches", "traffic_light", "plus_factor",
]  # fmt: skip


def basel_rows(backtests: pd.DataFrame, backtest_window_days: int) -> pd.DataFrame:
    """The traffic-light rows (99%, horizon 1, ``backtest_window_days``) of var_backtests rows."""
    rows = backtests.loc[
        backtests["confidence"].round(10).eq(BASEL_CONFIDENCE)
        & backtests["horizon_days"].eq(BASEL_HORIZON)
        & backtests["backtest_window_days"].eq(backtest_window_days)
        & ~backtests["whole_sample"].astype(bool)
    ]
    return rows.sort_values(["portfolio", "method"])[TRAFFIC_LIGHT_COLUMNS].reset_index(drop=True)


def red_zone_rows(traffic_light: pd.DataFrame) -> pd.DataFrame:
    """Rows of a traffic-light table in the red zone."""
    return traffic_light.loc[traffic_light["traffic_light"].eq(TrafficLight.RED)].reset_index(drop=True)


def window_lengths(backtests: pd.DataFrame) -> list[int]:
    """The distinct trailing ``backtest_window_days`` of var_backtests rows, ascending (the whole-sample
    rows, whose length grows with the as-of date, are not a trailing window)."""
    trailing = backtests.loc[~backtests["whole_sample"].astype(bool), "backtest_window_days"]
    return sorted(int(n) for n in trailing.unique())



def basel_zone_thresholds(n_obs: int, confidence: float = BASEL_CONFIDENCE) -> tuple[int, int]:
    """Fewest breaches in ``n_obs`` days that put a model in the yellow and in the red zone
    (``risk.backtests.coverage.traffic_light_zones``; 5 and 10 for 250 days at 99%)."""
    k = np.arange(n_obs + 2)
    zone, _, _ = traffic_light_zones(k, np.full(k.size, n_obs), 1.0 - confidence)
    return int(k[np.argmax(zone >= 1)]), int(k[np.argmax(zone >= 2)])
