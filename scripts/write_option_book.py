"""Write the bundled options book, ``data/option_positions.csv``, from the bundled S&P 500 closes.

The rule (deterministic, from ``data/bundled_prices.parquet`` only), book ``spx_short_strangles``:

* every month, on the first trading day on or after the month's third Friday (the monthly
  expiry), sell a one-month strangle on the S&P 500 index (``SP500``) expiring on the next
  month's third Friday: 10 puts struck at 95% and 10 calls at 105% of that day's close, strikes
  rounded to the nearest 5 index points, contract multiplier 100, USD;
* the strangle is held until the close before its expiry, so the book always holds one;
* the book is delta-hedged daily at the close in the index itself (``options.delta_hedged_books``
  of pipeline.yaml), a rule the pipeline applies, not a row of this file.

    .venv/bin/python scripts/write_option_book.py
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT / "data" / "bundled_prices.parquet"
TARGET = ROOT / "data" / "option_positions.csv"
BOOK, UNDERLYING, CONTRACTS, MULTIPLIER, WIDTH, TICK = "spx_short_strangles", "SP500", 10, 100, 0.05, 5.0


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def strangles(closes: pd.Series) -> pd.DataFrame:
    """The book's rows (module doc) from the index closes (a date-indexed series)."""
    days = closes.index
    rows = []
    for month in pd.period_range(days[0], days[-1], freq="M"):
        opened = days[days.date >= third_friday(month.year, month.month)]
        if opened.empty or opened[0].to_period("M") != month:
            continue
        following = month + 1
        expiry = third_friday(following.year, following.month)
        spot = float(closes.loc[opened[0]])
        for option_type, moneyness in (("put", 1 - WIDTH), ("call", 1 + WIDTH)):
            strike = round(spot * moneyness / TICK) * TICK
            rows.append({"book": BOOK, "option": f"{expiry:%Y-%m}_{option_type[0]}{strike:g}", "option_type": option_type,
                         "underlying": UNDERLYING, "strike": strike, "expiry": expiry.isoformat(),
                         "opened": opened[0].date().isoformat(), "quantity": -CONTRACTS, "multiplier": MULTIPLIER,
                         "currency": "USD"})
    return pd.DataFrame(rows)


def main() -> None:
    prices = pd.read_parquet(PRICES)
    closes = prices.loc[prices["symbol"] == UNDERLYING].set_index("date")["close"].sort_index()
    closes.index = pd.DatetimeIndex(closes.index)
    book = strangles(closes)
    book.to_csv(TARGET, index=False)
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(book)} options, {book['opened'].min()}..{book['expiry'].max()}")


if __name__ == "__main__":
    main()
