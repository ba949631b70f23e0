"""Liquidity-adjusted expected shortfall: the cascade over liquidity horizons (MAR33.4).

Basel Framework MAR33.4 (in force 2023-01-01): with base horizon T = 10 days, ES at 97.5%
and the liquidity horizons LH_1..LH_5 = 10, 20, 40, 60, 120 days,

    ES = sqrt( ES_T(P)^2 + sum_{j>=2} ( ES_T(P, j) * sqrt((LH_j - LH_{j-1}) / T) )^2 )

where ES_T(P) shocks every risk factor of the portfolio P over T days and ES_T(P, j) shocks,
over the same T days, only the risk factors whose liquidity horizon is at least LH_j (the
others held at their current values). Each factor's horizon is one of LH_1..LH_5 (MAR33.12
assigns it by category; the categories are configuration: risk_pipeline/config/frtb.yaml).
"""

from __future__ import annotations

import numpy as np

BASE_HORIZON_DAYS = 10
"""T of MAR33.4: the base horizon of every ES of the cascade."""
ES_CONFIDENCE = 0.975
"""MAR33.2(1): a 97.5th percentile, one-tailed expected shortfall."""
LIQUIDITY_HORIZONS = (10, 20, 40, 60, 120)
"""LH_1..LH_5 of MAR33.4, days."""


def check_horizon(days: int) -> int:
    """``days`` if it is one of ``LIQUIDITY_HORIZONS``, else ValueError naming it."""
    if days not in LIQUIDITY_HORIZONS:
        raise ValueError(f"liquidity horizon {days!r} is not one of MAR33.4's {list(LIQUIDITY_HORIZONS)} days")
    return days


def cascade_weights(base_horizon: int = BASE_HORIZON_DAYS) -> np.ndarray:
    """sqrt((LH_j - LH_{j-1}) / T) for j = 1..5, with LH_0 := 0 so that the j = 1 weight is
    sqrt(LH_1 / T) = 1 (the ES_T(P) term of MAR33.4)."""
    lh = np.asarray(LIQUIDITY_HORIZONS, dtype=float)
    return np.sqrt(np.diff(lh, prepend=0.0) / base_horizon)


def liquidity_adjusted_es(es_by_horizon: np.ndarray) -> np.ndarray:
    """MAR33.4 cascade of ``es_by_horizon[..., j]`` = ES_T(P, j+1) for j = 0..4 (index 0 is
    ES_T(P), every factor shocked); NaN propagates. Returns the liquidity-adjusted ES."""
    es = np.asarray(es_by_horizon, dtype=float)
    if es.shape[-1] != len(LIQUIDITY_HORIZONS):
        raise ValueError(f"es_by_horizon needs {len(LIQUIDITY_HORIZONS)} values on its last axis, got {es.shape[-1]}")
    return np.sqrt(np.sum((es * cascade_weights()) ** 2, axis=-1))
