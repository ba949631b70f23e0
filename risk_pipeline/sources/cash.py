"""Cash instruments: one unit of a currency, a symbol of the prices table whose close is 1 in that
currency on every trading day of the other prices (``source`` ``cash``).

``prices.cash`` of pipeline.yaml lists each cash symbol with its currency (``{symbol: CASH_EUR, currency: EUR}``). Its
local return is 0 every day, so in a book of another base currency its base-currency return is the
currency's FX move alone (:func:`risk_pipeline.risk.instruments.fx.to_base_returns`:
``(1 + 0)(1 + r_fx) - 1``): a book holding only ``CASH_EUR`` in USD is the EUR/USD rate risked and
backtested on its own. Its close never changes by construction, so the stale-prices rule skips it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pandas as pd

from risk_pipeline.config.reader import ConfigError
from risk_pipeline.config.settings import section, settings_path
from risk_pipeline.sources.ecb_fx import fx_currencies

SOURCE_NAME = "cash"


def configured_cash() -> dict[str, str]:
    """The checked ``prices.cash`` list as symbol -> currency (ConfigError names the entry and field)."""
    entries = section("prices").get("cash") or []
    where = f"{settings_path()}, section 'prices', field 'cash'"
    shape = "must be a list of {symbol, currency}, e.g. [{symbol: CASH_EUR, currency: EUR}]"
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) and set(e) == {"symbol", "currency"}
                                                for e in entries):
        raise ConfigError(f"{where}: {shape}")
    known = fx_currencies()
    cash: dict[str, str] = {}
    for entry in entries:
        symbol, currency = str(entry["symbol"]), str(entry["currency"])
        if currency not in known:
            raise ConfigError(f"{where}: {symbol!r}: currency {currency!r} has no FX rate (known: {sorted(known)})")
        if symbol in cash:
            raise ConfigError(f"{where}: {symbol!r} is listed twice")
        cash[symbol] = currency
    return cash


def cash_prices(cash: Mapping[str, str], days: Sequence[dt.date]) -> pd.DataFrame:
    """Long price rows (``date, symbol, close, currency, source``) of the ``cash`` symbols: close 1 on ``days``."""
    dates = pd.DatetimeIndex(pd.to_datetime(sorted(set(days))))
    frames = [pd.DataFrame({"date": dates, "symbol": symbol, "close": 1.0, "currency": currency,
                            "source": SOURCE_NAME}) for symbol, currency in cash.items()]
    columns = ["date", "symbol", "close", "currency", "source"]
    if not frames or not len(dates):
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else object) for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]
