"""Benchmark of the rolling VaR/ES engine (risk_pipeline.risk.var.rolling).

Part 1 - historical VaR+ES on 500 series x 2,500 days, window 252, c = 0.99:
  vectorized ``rolling_var_es(method="historical")`` (one call per series, VaR and ES together)
  vs the naive ``pandas.Series.rolling(window).apply(np.quantile ..., raw=True)`` for VaR and
  the same for ES (tail mean of losses >= the quantile), both shifted one day (no look-ahead).
  The naive side runs on a subset of the series and is scaled up to 500 (printed).
Part 2 - ``var_es_grid`` for every method on the realistic case: the 20 bundled US stocks
  (data/bundled_prices.parquet; synthetic t returns if absent), 8,313 days, equal weights,
  window 756, confidences 0.95/0.99, horizons 1/3/5/10, monte_carlo 10,000 scenarios.

Run:  .venv/bin/python benchmarks/bench_rolling_var.py [--naive-series 25]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipeline.risk import METHODS, rolling_var_es, var_es_grid

N_SERIES, N_DAYS, WINDOW, CONFIDENCE = 500, 2_500, 252, 0.99
GRID = dict(confidences=[0.95, 0.99], horizons=[1, 3, 5, 10], window=756)
PRICES = Path(__file__).resolve().parents[1] / "data" / "bundled_prices.parquet"


def naive_historical(returns: pd.Series, window: int, c: float) -> pd.DataFrame:
    losses = -returns
    var = losses.rolling(window).apply(lambda w: np.quantile(w, c), raw=True)
    es = losses.rolling(window).apply(lambda w: w[w >= np.quantile(w, c)].mean(), raw=True)
    return pd.DataFrame({"var": var.shift(1), "es": es.shift(1)})


def part1(naive_series: int) -> None:
    rng = np.random.default_rng(0)
    index = pd.bdate_range("2010-01-01", periods=N_DAYS)
    data = rng.standard_t(4, size=(N_DAYS, N_SERIES)) * 0.01
    series = [pd.Series(data[:, i], index=index) for i in range(N_SERIES)]

    rolling_var_es(series[0], method="historical", confidence=CONFIDENCE, window=WINDOW)  # warm-up
    start = time.perf_counter()
    fast = [rolling_var_es(s, method="historical", confidence=CONFIDENCE, window=WINDOW) for s in series]
    t_fast = time.perf_counter() - start

    start = time.perf_counter()
    naive = [naive_historical(s, WINDOW, CONFIDENCE) for s in series[:naive_series]]
    t_naive_subset = time.perf_counter() - start
    t_naive = t_naive_subset * N_SERIES / naive_series

    diff = max(float(np.nanmax(np.abs(f.to_numpy() - n.to_numpy()))) for f, n in zip(fast, naive))
    nan_match = all(f.isna().equals(n.isna()) for f, n in zip(fast, naive))
    print(f"Part 1: historical VaR+ES, {N_SERIES} series x {N_DAYS} days, window {WINDOW}, c={CONFIDENCE}")
    print(f"  rolling_var_es (vectorized), all {N_SERIES} series : {t_fast:8.2f} s")
    print(f"  naive pandas rolling.apply, {naive_series} series       : {t_naive_subset:8.2f} s")
    print(f"  naive scaled to {N_SERIES} series (x{N_SERIES / naive_series:.0f})        : {t_naive:8.2f} s")
    print(f"  speed-up                                   : {t_naive / t_fast:8.1f} x   (target >= 50 x)")
    print(f"  max |vectorized - naive| over {naive_series} series    : {diff:.3e}   NaN pattern equal: {nan_match}")


def realistic_returns() -> tuple[pd.DataFrame, str]:
    if PRICES.exists():
        prices = pd.read_parquet(PRICES).pivot(index="date", columns="symbol", values="close")
        stocks = [s for s in prices.columns if prices[s].notna().all() and s != "SP500"][:20]
        returns = prices[stocks].pct_change().iloc[1:]
        return returns, f"bundled prices ({len(stocks)} stocks, {returns.index[0].date()}..{returns.index[-1].date()})"
    rng = np.random.default_rng(1)
    n, p = 8_313, 20
    x = 0.6 * rng.standard_t(4, size=(n, 1)) * 0.01 + rng.standard_t(5, size=(n, p)) * 0.01
    return pd.DataFrame(x, index=pd.bdate_range("1990-01-02", periods=n), columns=[f"S{i}" for i in range(p)]), "synthetic t"


def part2() -> None:
    returns, label = realistic_returns()
    n_assets = returns.shape[1]
    books = {
        "equal_weight": pd.Series(1.0 / n_assets, index=returns.columns),
        "tilted": pd.Series(np.linspace(2.0, 0.5, n_assets) / np.linspace(2.0, 0.5, n_assets).sum(), index=returns.columns),
    }
    print(f"\nPart 2 (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}): var_es_grid per method, {label}, {len(returns)} days,")
    print(f"  window {GRID['window']}, confidences {GRID['confidences']}, horizons {GRID['horizons']}, monte_carlo 10,000 scenarios")
    totals = {}
    print(f"  {'method':20s} " + " ".join(f"{name:>13s}" for name in books))
    seconds = {name: {} for name in books}
    for name, weights in books.items():
        portfolio = returns @ weights
        for method in METHODS:
            start = time.perf_counter()
            if method == "monte_carlo":
                grid = var_es_grid(returns, method=method, weights=weights, n_scenarios=10_000, **GRID)
            else:
                grid = var_es_grid(portfolio, method=method, **GRID)
            seconds[name][method] = time.perf_counter() - start
            assert (grid["es"] >= grid["var"]).all() and len(grid) == (len(returns) - GRID["window"]) * 8
        totals[name] = sum(seconds[name].values())
    for method in METHODS:
        print(f"  {method:20s} " + " ".join(f"{seconds[name][method]:11.2f} s" for name in books))
    print(f"  {'total':20s} " + " ".join(f"{totals[name]:11.2f} s" for name in books))
    first, second = totals.values()
    print("  (the second portfolio reuses the cached chi-square draws of monte_carlo)")
    print(f"  projected var_estimates for 5 portfolios: {first:.1f} + 4 x {second:.1f} = {first + 4 * second:.1f} s (target < 60 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--naive-series", type=int, default=25, help="series run through the naive baseline")
    args = parser.parse_args()
    part1(args.naive_series)
    part2()


if __name__ == "__main__":
    main()
