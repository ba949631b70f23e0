"""Symbols whose series ends before the others' (``prices.last_dates`` of pipeline.yaml): a delisted
stock, or an index whose only source stops. After its last date a symbol is not live: it has no
rows in ``prices`` (later rows a source gives are dropped), the missing-days rule does not read its
absence as a gap, and a book holding only it has no rows, as before a symbol's first price."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from risk_pipeline.config.reader import ConfigError, check_fields, date, text
from risk_pipeline.config.settings import section, settings_path


def configured_last_dates() -> dict[str, dt.date]:
    """The checked ``prices.last_dates`` list as symbol -> last date (ConfigError names the entry and field)."""
    entries = section("prices").get("last_dates") or []
    where = f"{settings_path()}, section 'prices', field 'last_dates'"
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise ConfigError(f"{where}: must be a list of {{symbol, date}}, e.g. [{{symbol: NASDAQ, date: 2018-12-31}}]")
    ends: dict[str, dt.date] = {}
    for i, entry in enumerate(entries):
        at = f"{where}, entry {i + 1}"
        check_fields(entry, {"symbol", "date"}, {"symbol", "date"}, at)
        symbol = text(entry["symbol"], at, "symbol")
        if symbol in ends:
            raise ConfigError(f"{at}: symbol {symbol!r} is listed twice")
        ends[symbol] = date(entry["date"], at, "date")
    return ends
