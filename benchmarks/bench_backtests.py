"""Time backtest_table over a 30-year backfill (8,313 as-of dates) against a naive per-date loop.

Run: .venv/bin/python benchmarks/bench_backtests.py
Prints the time of one backtest_table call per (confidence, horizon) for every as-of date,
the projected time of the naive baseline (the individual tests re-run on each date's
trailing windows; timed on a sample of dates and extrapolated) and the pipeline projection for
5 portfolios x 7 methods x 2 confidences x 4 horizons.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.stats import norm

from risk_pipeline.risk import backtests
from risk_pipeline.risk.backtests.table import backtest_observations, backtest_table

N_DAYS = 8313
HORIZONS = (1, 5, 10, 20)
CONFIDENCES = (0.95, 0.99)
WINDOWS = (250, 1000)  # the pipeline's default backtests.windows


def synthetic_history(n: int = N_DAYS, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    r, s2 = np.empty(n), 1e-4
    for t in range(n):
        r[t] = np.sqrt(s2) * rng.standard_t(5) * np.sqrt(3 / 5)
        s2 = 1e-6 + 0.08 * r[t] ** 2 + 0.9 * s2
    return pd.Series(r, index=pd.bdate_range("1990-01-02", periods=n))


def normal_forecasts(returns: pd.Series, conf: float, h: int) -> pd.DataFrame:
    sigma = returns.rolling(250).std().shift(1) * np.sqrt(h)
    z = norm.ppf(conf)
    return pd.DataFrame({"var": sigma * z, "es": sigma * norm.pdf(z) / (1 - conf)})


def naive_row(obs, conf: float, e: int, window: int) -> None:
    """Every test on the observations of one trailing window ending at observation e (h = 1)."""
    s = max(0, e - window)
    loss, var, es, keys = obs.loss[s:e], obs.var[s:e], obs.es[s:e], obs.keys[s:e]
    hits = loss > var
    backtests.kupiec_pof(hits, conf), backtests.christoffersen_independence(hits), backtests.conditional_coverage(hits, conf)
    backtests.kupiec_tuff(hits, conf), backtests.christoffersen_pelletier_duration(hits), backtests.dynamic_quantile(hits, var, conf)
    backtests.basel_traffic_light(int(hits.sum()), hits.size, conf)
    backtests.acerbi_szekely_z2(loss, var, es, conf, keys=keys), backtests.mcneil_frey(loss, var, es, keys=keys)


def main() -> None:
    returns = synthetic_history()
    dates = returns.index
    total = 0.0
    times = {}
    print(f"backtest_table, {N_DAYS} as-of dates x windows {WINDOWS} days, n_sims=1000")
    for conf in CONFIDENCES:
        for h in HORIZONS:
            fc = normal_forecasts(returns, conf, h)
            backtest_table(returns, fc, confidence=conf, horizon_days=h, as_of=dates[:300], windows=WINDOWS)  # warm-up
            t0 = time.perf_counter()
            table = backtest_table(returns, fc, confidence=conf, horizon_days=h, as_of=dates, windows=WINDOWS)
            dt = time.perf_counter() - t0
            total += dt
            times[(conf, h)] = dt
            print(f"  c={conf} h={h:>2}: {dt:6.3f} s  ({len(table)} rows)")
    fc = normal_forecasts(returns, 0.99, 1)
    obs = backtest_observations(returns, fc, 1)
    sample = np.linspace(250, obs.loss.size, 20).astype(int)
    t0 = time.perf_counter()
    for e in sample:
        for window in WINDOWS:
            naive_row(obs, 0.99, int(e), window)
    naive = (time.perf_counter() - t0) / sample.size * N_DAYS
    print(f"one portfolio x method (2 confidences x 4 horizons): {total:.2f} s")
    print(f"pipeline projection, 5 portfolios x 7 methods: {35 * total:.1f} s")
    print(f"naive per-date loop (c=0.99, h=1, projected from {sample.size} dates): {naive:.0f} s")
    print(f"speed-up of backtest_table vs naive (c=0.99, h=1): ~{naive / times[(0.99, 1)]:.0f}x")


if __name__ == "__main__":
    main()
