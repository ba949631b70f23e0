"""Options: full revaluations per second, and the cost of a new day with a 1,000-option book beside a linear book.

1. The core: every option of a book repriced (Black-Scholes-Merton, vectorised) under every scenario of a
   252-day window, ``risk_pipeline.risk.options.var.days_scenario_pnl``; prints revaluations per second.
2. One new day (``--day``) of ``option_greeks``, the option books' rows of ``var_estimates`` (its option task,
   ``defs.var.OptionBooksTask``: three methods, 2 confidences, horizons 1, 3, 5), ``option_stress`` (every scenario of scenarios.yaml) and ``option_replay`` in-process on a copy of the ``prices`` and ``returns`` tables of ``--data`` (a lake built by
   ``make run``), for (a) the bundled book (two options and the hedge) and (b) a generated book of 1,000
   options (puts and calls at 80-120% of the spot on the S&P 500 index and the 20 stocks, expiries 1 to 60
   days, half of the books delta-hedged); beside them, (c) the linear book's one-day historical VaR of the
   same window (``risk.var.historical``) for 21 positions. Prints the step seconds and the load average.

    .venv/bin/python benchmarks/bench_options.py --data data --day 2022-12-28
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipeline.risk.options.var import OptionBook, OptionVarMethod, days_scenario_pnl, horizon_years

REPO = Path(__file__).resolve().parents[1]


def revaluations_per_second(n_options: int = 1000, n_scenarios: int = 252, repeat: int = 3) -> float:
    rng = np.random.default_rng(1)
    book = OptionBook(underlying=rng.integers(0, 21, n_options), is_call=rng.random(n_options) < 0.5,
                      strike=rng.uniform(80, 120, n_options), years=rng.uniform(1, 60, n_options) / 365,
                      vol=rng.uniform(0.1, 0.5, n_options), units=rng.normal(0, 100, n_options),
                      rate=np.full(n_options, 0.02), dividend=np.full(n_options, 0.01))
    spot = np.full((1, 21), 100.0)
    returns = rng.normal(0, 0.015, (1, n_scenarios, 21))
    changes = rng.normal(0, 0.01, (1, n_scenarios, 21))
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        days_scenario_pnl(book, spot, np.zeros((1, 21)), returns, changes, horizon_years(1),
                          OptionVarMethod.FULL_REVALUATION)
        best = min(best, time.perf_counter() - start)
    return n_options * n_scenarios / best


def generated_book(prices: pd.DataFrame, day: pd.Timestamp, n_options: int = 1000) -> pd.DataFrame:
    closes = prices.loc[(pd.to_datetime(prices["date"]) == day) & prices["currency"].eq("USD")].set_index("symbol")["close"]
    closes = closes.loc[~closes.index.str.startswith("CASH_")]  # options on the USD stocks and the index
    rng = np.random.default_rng(2)
    symbols = rng.choice(closes.index, n_options)
    strikes = (closes[symbols].to_numpy() * rng.uniform(0.8, 1.2, n_options)).round(2)
    expiry = [(day + pd.Timedelta(days=int(d))).date() for d in rng.integers(1, 61, n_options)]
    return pd.DataFrame({"book": [f"gen_{i % 4}" for i in range(n_options)], "option": [f"o{i}" for i in range(n_options)],
                         "option_type": rng.choice(["call", "put"], n_options), "underlying": symbols, "strike": strikes,
                         "expiry": expiry, "opened": (day - pd.Timedelta(days=30)).date(),
                         "quantity": rng.integers(-20, 21, n_options) | 1, "multiplier": 100, "currency": "USD"})


def one_day(folder: Path, positions: Path, hedged: list[str], day: str, repeat: int = 3) -> dict[str, float]:
    """The best of ``repeat`` in-process runs of each asset for ``day`` (the first pays the imports)."""
    import dagster as dg

    from risk_pipeline.defs.option_config import OptionsConfig
    from risk_pipeline.defs.options import option_greeks, option_replay, option_stress
    from risk_pipeline.defs.var import OptionBooksTask

    os.environ["RISK_PIPELINE_DATA"] = str(folder)
    config = {"positions_file": str(positions), "delta_hedged_books": hedged}
    seconds = {}
    for asset in (option_greeks, option_stress, option_replay):
        name = asset.key.path[-1]
        for _ in range(repeat):
            start = time.perf_counter()
            dg.materialize([asset], run_config={"ops": {name: {"config": config}}}, partition_key=day)
            seconds[name] = min(seconds.get(name, np.inf), time.perf_counter() - start)
    options = OptionsConfig(**config)
    task = OptionBooksTask(options.settings(), options.estimation_window_days, tuple(options.confidences),
                           tuple(options.horizons))  # the option books' rows var_estimates adds to its own
    when = pd.Timestamp(day).date()
    for _ in range(repeat):
        start = time.perf_counter()
        task.rows(when, when)
        seconds["option_var"] = min(seconds.get("option_var", np.inf), time.perf_counter() - start)
    return seconds


def linear_var_seconds(returns: pd.DataFrame, day: pd.Timestamp, repeat: int = 3) -> float:
    from risk_pipeline.risk.var.historical import historical_var_es

    wide = returns.pivot(index="date", columns="symbol", values="simple_return")
    wide = wide.loc[pd.to_datetime(wide.index) < day].tail(253).dropna(axis=1)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        book_returns = wide.to_numpy() @ np.full(wide.shape[1], 1.0 / wide.shape[1])
        historical_var_es(book_returns, window=252, confidences=(0.95, 0.99), horizons=(1, 3, 5))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / "data"), help="a data folder holding the 30-year lake")
    parser.add_argument("--day", default="2022-12-28")
    args = parser.parse_args()
    print(f"full revaluations per second (1,000 options x 252 scenarios): {revaluations_per_second():,.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        for table in ("prices", "returns"):
            shutil.copytree(Path(args.data) / "lake" / table, folder / "lake" / table)
        os.environ["RISK_PIPELINE_DATA"] = str(folder)
        from risk_pipeline.storage.lake import read_window

        day = pd.Timestamp(args.day)
        prices = read_window("prices", day.date(), day.date())
        book = generated_book(prices, day)
        generated = Path(tmp) / "generated.csv"
        book.to_csv(generated, index=False)
        bundled = one_day(folder, REPO / "data" / "option_positions.csv", ["spx_short_strangles"], args.day)
        thousand = one_day(folder, generated, ["gen_0", "gen_1"], args.day)
        linear = linear_var_seconds(read_window("returns", day.date(), day.date(), lookback=260), day)
    print(f"one new day ({args.day}), best of 3 in-process runs of each asset (Dagster's run included), load average {os.getloadavg()[0]:.1f}:")
    for label, seconds in (("bundled book (2 options + hedge)", bundled), ("1,000 options, 21 underlyings", thousand)):
        print(f"  {label:<34} option_greeks {seconds['option_greeks']:.2f} s, option VaR rows {seconds['option_var']:.2f} s, "
              f"option_stress {seconds['option_stress']:.2f} s, option_replay {seconds['option_replay']:.2f} s")
    print(f"  linear book, historical VaR of its 252-day window (core only): {linear * 1000:.1f} ms")
    print(f"  added by the 1,000-option book over the bundled one: "
          f"{sum(thousand.values()) - sum(bundled.values()):.2f} s")


if __name__ == "__main__":
    main()
