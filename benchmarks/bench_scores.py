"""Time the score comparison (means, DM, MCS) and the two new estimators over a 30-year history.

Run: .venv/bin/python benchmarks/bench_scores.py
Prints, for one (portfolio, confidence, horizon 1) family of 8 methods over 8,313 days and the
windows 250 and 1000: the time of ``compare_methods`` as of every day (MCS as of the ~400
month-ends), the projected time of a naive baseline (a plain per-date DM loop on every as-of
date, ``arch.bootstrap.MCS`` per month-end; both timed on a sample of dates and
extrapolated), their ratio, and the time of ``conditional_evt`` (W = 756) and of
``parametric_t`` with ``dof="mle"`` (W = 252) on one series.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.stats import norm

from risk_pipeline.risk import rolling_var_es
from risk_pipeline.risk.backtests.scoring import McsSettings, compare_methods, fz0_loss, newey_west_lag, tick_loss

N_DAYS = 8313
WINDOWS = (250, 1000)
SCALES = (0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.4)  # eight methods: the true volatility, mis-scaled


def synthetic(n: int = N_DAYS, seed: int = 0) -> tuple[pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    r, s2, sig = np.empty(n), 1e-4, np.empty(n)
    for t in range(n):
        sig[t] = np.sqrt(s2)
        r[t] = sig[t] * rng.standard_t(5) * np.sqrt(3 / 5)
        s2 = 1e-6 + 0.08 * r[t] ** 2 + 0.9 * s2
    return pd.Series(r, index=pd.bdate_range("1990-01-02", periods=n)), sig


def family(returns: pd.Series, sigma: np.ndarray, confidence: float = 0.99):
    z = norm.ppf(confidence)
    loss = -returns.to_numpy()
    fz0, tick = {}, {}
    for k, scale in enumerate(SCALES):
        var, es = scale * sigma * z, scale * sigma * norm.pdf(z) / (1 - confidence)
        fz0[f"m{k}"] = fz0_loss(loss, var, es, confidence)
        tick[f"m{k}"] = tick_loss(loss, var, confidence)
    return pd.DataFrame(fz0, index=returns.index), pd.DataFrame(tick, index=returns.index)


def naive_dm(window: np.ndarray) -> np.ndarray:
    best = window.mean(axis=0).argmin()
    d = window - window[:, [best]]
    n = d.shape[0]
    lag = int(newey_west_lag(n))
    e = d - d.mean(axis=0)
    v = (e * e).sum(axis=0) / n
    for lo in range(1, lag + 1):
        v += 2 * (1 - lo / (lag + 1)) * (e[lo:] * e[:-lo]).sum(axis=0) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return d.mean(axis=0) / np.sqrt(v / n)


def main() -> None:
    from arch.bootstrap import MCS

    returns, sigma = synthetic()
    fz0, tick = family(returns, sigma)
    pos = np.arange(N_DAYS)
    month = returns.index.year * 12 + returns.index.month
    month_end = np.r_[month[1:] != month[:-1], True]
    settings = McsSettings(size=0.1, reps=1000, seed=0)

    t0 = time.perf_counter()
    out = compare_methods(fz0, tick, pos, pos, month_end, WINDOWS, settings)
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    compare_methods(fz0, tick, pos, pos, np.zeros(N_DAYS, bool), WINDOWS, settings)
    no_mcs = time.perf_counter() - t0
    print(f"compare_methods, 8 methods, {N_DAYS} as-of dates x {len(WINDOWS)} windows: {fast:.2f} s "
          f"({no_mcs:.2f} s of it means and DM, {fast - no_mcs:.2f} s MCS on {month_end.sum()} month-ends); "
          f"{len(out)} rows")

    x = fz0.to_numpy()
    sample = np.arange(1000, N_DAYS, 400)
    t0 = time.perf_counter()
    for a in sample:
        for n in WINDOWS:
            naive_dm(x[a - n + 1 : a + 1])
    dm_naive = (time.perf_counter() - t0) / sample.size * N_DAYS
    ends = np.flatnonzero(month_end)[::40]
    t0 = time.perf_counter()
    for a in ends:
        for n in WINDOWS:
            lo = max(0, a - n + 1)
            mcs = MCS(x[lo : a + 1], size=0.1, reps=1000, block_size=int(np.sqrt(a + 1 - lo)), method="R", seed=0)
            mcs.compute()
    mcs_naive = (time.perf_counter() - t0) / ends.size * month_end.sum()
    naive = dm_naive + mcs_naive
    print(f"naive baseline (projected): DM loop {dm_naive:.1f} s + arch MCS per month-end {mcs_naive:.1f} s = "
          f"{naive:.1f} s; ratio {naive / fast:.1f}x")
    print(f"MCS as of every day instead of month-ends: about {(fast - no_mcs) * N_DAYS / month_end.sum():.0f} s "
          "for this family")

    for method, params, window in (("conditional_evt", {}, 756), ("parametric_t", {"dof": "mle"}, 252),
                                   ("parametric_t", {}, 252), ("filtered_historical", {}, 252)):
        t0 = time.perf_counter()
        rolling_var_es(returns, method=method, confidence=0.99, window=window, **params)
        label = f"{method} {params or ''}".strip()
        print(f"{label:<40} one series of {N_DAYS} days: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
