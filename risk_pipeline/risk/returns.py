"""Close-to-close returns per symbol.

For consecutive observations of one symbol at closes P_{t-1} (previous trading day on which
it has a price) and P_t:

    simple_return_t = P_t / P_{t-1} - 1
    log_return_t    = ln(P_t / P_{t-1})

A return spanning more than ``max_gap_days`` calendar days (a suspended or missing series)
is not computed: a stale price must not masquerade as one day's move. The first observation
of a symbol has no return. Source: Campbell, Lo & MacKinlay (1997), The Econometrics of
Financial Markets, ch. 1.4.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RETURN_COLUMNS = ("date", "symbol", "simple_return", "log_return", "currency")


def close_to_close_returns(prices: pd.DataFrame, max_gap_days: int = 10) -> pd.DataFrame:
    """Returns of a long price frame (date, symbol, close, currency); columns ``RETURN_COLUMNS``."""
    if max_gap_days < 1:
        raise ValueError(f"max_gap_days must be >= 1, got {max_gap_days}")
    frame = prices.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
    same_symbol = frame["symbol"].eq(frame["symbol"].shift(1))
    changed = same_symbol & frame["currency"].ne(frame["currency"].shift(1))
    if changed.any():
        row = frame.loc[changed.idxmax()]
        raise ValueError(
            f"symbol {row['symbol']!r} changes currency on {pd.Timestamp(row['date']).date()}: "
            "returns across a currency change are undefined"
        )
    gap = (frame["date"] - frame["date"].shift(1)).dt.days
    usable = same_symbol & (gap <= max_gap_days)
    ratio = frame["close"].to_numpy() / frame["close"].shift(1).to_numpy()
    out = pd.DataFrame(
        {
            "date": frame["date"],
            "symbol": frame["symbol"],
            "simple_return": ratio - 1.0,
            "log_return": np.log(ratio),
            "currency": frame["currency"],
        }
    )
    return out.loc[usable].sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)
