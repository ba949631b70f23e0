"""Write ``data/example_yields.csv``: a SYNTHETIC daily 10-year yield series, not market data.

No package on the registries this project installs from ships daily US Treasury yields (the ones
found are API clients that need network: FRED, the Treasury's Fiscal Data; ``arch``'s bundled
``default`` is monthly Moody's AAA/BAA, ``statsmodels``' ``macrodata`` quarterly). So the bond
path is demonstrated on a documented stand-in, generated here deterministically (seed 20260101)
on the bundled trading days (1990-01-02..2022-12-28, data/bundled_prices.parquet):

    y_t = y_{t-1} + kappa (theta_t - y_{t-1}) dt + sigma_t sqrt(dt) eps_t,   dt = 1/252,

a Vasicek (1977) short-rate-style mean reversion (kappa 0.5 a year) to a level theta_t falling
linearly from 8% (1990) to 2% (2022) (the broad path of the 10-year US yield over those years),
with a daily volatility sigma_t sqrt(dt) of 6 bp scaled by a slow GARCH-like factor
(sqrt(0.2 + 0.8 s_t), s_t an EWMA of squared shocks, so calm and stormy periods alternate), and
Student-t(5) shocks scaled to unit variance (fat tails). Series name ``US10Y_EXAMPLE``; yields
as decimals. Licence: the project's (it is generated here).

Real yields in the same format: FRED's DGS10 (the 10-year constant-maturity Treasury yield,
public domain) exported to ``date, series, yield`` in decimals, or ``bonds.source: yfinance``
(``^TNX``); docs/methods.md, *Bonds*.

    .venv/bin/python scripts/write_example_yields.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SERIES = "US10Y_EXAMPLE"
SEED = 20260101


def example_yields(dates: pd.DatetimeIndex) -> pd.Series:
    """The synthetic series of the module docstring on ``dates``."""
    rng = np.random.default_rng(SEED)
    n = len(dates)
    dt = 1.0 / 252
    theta = np.linspace(0.08, 0.02, n)
    shocks = rng.standard_t(5, n) / np.sqrt(5.0 / 3.0)
    y = np.empty(n)
    y[0] = 0.079
    state = 1.0
    for t in range(1, n):
        state = 0.99 * state + 0.01 * shocks[t - 1] ** 2
        vol = 0.0006 * np.sqrt(0.2 + 0.8 * state)
        y[t] = y[t - 1] + 0.5 * (theta[t] - y[t - 1]) * dt + vol * shocks[t]
    return pd.Series(np.round(y, 6), index=dates, name=SERIES)


def main() -> None:
    dates = pd.DatetimeIndex(sorted(pd.read_parquet(ROOT / "data" / "bundled_prices.parquet",
                                                    columns=["date"])["date"].unique()))
    series = example_yields(dates)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "series": SERIES, "yield": series.to_numpy()})
    frame.to_csv(ROOT / "data" / "example_yields.csv", index=False, float_format="%.6f")


if __name__ == "__main__":
    main()
