"""Write the bundled trading books: the positions and trades of two books whose holdings change, derived
by a fixed rule from the bundled closes, as a booking system would export them (docs/positions.md).

- ``monthly_rebalanced``: the 20 US large caps, rebalanced at the close of the first trading day of each
  month to 5% each of USD 1,000,000 in whole shares (floor), fees 5 bp of the traded notional;
- ``momentum_12_1``: at the close of the first trading day of each month, the 5 of the 20 stocks with the
  highest 12-1 momentum (close 21 trading days ago over the close 252 trading days ago, minus 1; ties by
  symbol), USD 200,000 each in whole shares (floor), fees 10 bp; from the first month with 252 days of history.

Trades are done at the day's close (their P&L to the close is zero; actual P&L differs from hypothetical
P&L by the fees). Positions are the units held at every close from the book's first trade.

Output: ``data/trading_books/positions.parquet`` (date, portfolio, symbol, quantity) and
``data/trading_books/trades.parquet`` (date, portfolio, symbol, quantity, price, fees, trade_id), read
by the ``file`` source of ``books_of_record`` in ``data/portfolios.yaml``. Deterministic: run it again
and the files are the same.

Usage: python scripts/write_trading_books.py
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "data"
OUT = DATA / "trading_books"
STOCKS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT", "PEP", "PFE",
          "PG", "RRC", "UNH", "WMT", "XOM"]
CAPITAL = 1_000_000.0
MOMENTUM_LOOKBACK, MOMENTUM_SKIP, MOMENTUM_HOLD = 252, 21, 5
FEES = {"monthly_rebalanced": 0.0005, "momentum_12_1": 0.0010}


def closes() -> pd.DataFrame:
    prices = pd.read_parquet(DATA / "bundled_prices.parquet")
    wide = prices.loc[prices["symbol"].isin(STOCKS)].pivot(index="date", columns="symbol", values="close")
    return wide.loc[:, STOCKS].dropna()


def rebalance_days(dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The first trading day of each month."""
    months = dates.to_period("M")
    return dates[np.r_[True, months[1:] != months[:-1]]]


def targets(close: pd.DataFrame, book: str) -> dict[pd.Timestamp, pd.Series]:
    """Units to hold from each rebalancing day's close."""
    out = {}
    for day in rebalance_days(close.index):
        at = close.index.get_loc(day)
        if book == "monthly_rebalanced":
            chosen = STOCKS
        else:
            if at < MOMENTUM_LOOKBACK:
                continue
            momentum = close.iloc[at - MOMENTUM_SKIP] / close.iloc[at - MOMENTUM_LOOKBACK] - 1.0
            ranked = sorted(STOCKS, key=lambda s: (-momentum[s], s))
            chosen = sorted(ranked[:MOMENTUM_HOLD])
        budget = CAPITAL / len(chosen)
        out[day] = pd.Series({s: float(math.floor(budget / close.at[day, s])) for s in chosen})
    return out


def book_frames(close: pd.DataFrame, book: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    plan = targets(close, book)
    held = pd.Series(dtype=float)
    positions, trades = [], []
    days = close.index[close.index >= min(plan)]
    for day in days:
        if day in plan:
            new = plan[day]
            change = new.reindex(new.index.union(held.index), fill_value=0.0) - held.reindex(
                new.index.union(held.index), fill_value=0.0)
            for number, (symbol, quantity) in enumerate(change[change != 0].items()):
                price = close.at[day, symbol]
                trades.append((day, book, symbol, quantity, price, round(abs(quantity) * price * FEES[book], 2),
                               f"{book}-{day:%Y%m%d}-{number + 1}"))
            held = new
        positions.extend((day, book, symbol, quantity) for symbol, quantity in held.items())
    return (pd.DataFrame(positions, columns=["date", "portfolio", "symbol", "quantity"]),
            pd.DataFrame(trades, columns=["date", "portfolio", "symbol", "quantity", "price", "fees", "trade_id"]))


def main() -> None:
    close = closes()
    frames = [book_frames(close, book) for book in FEES]
    OUT.mkdir(exist_ok=True)
    for index, name in enumerate(("positions", "trades")):
        frame = pd.concat([f[index] for f in frames], ignore_index=True)
        frame["date"] = frame["date"].dt.date
        frame.to_parquet(OUT / f"{name}.parquet", index=False, compression="zstd")
        print(f"wrote {OUT / f'{name}.parquet'}: {len(frame)} rows, {(OUT / f'{name}.parquet').stat().st_size} bytes")


if __name__ == "__main__":
    main()
