"""Where prices come from: every source returns the same validated long frame (see ``base``).

``make_source(kind, **options)`` builds one from configuration (Dagster run config or YAML):

=============  =======================================  ===========================
kind           class                                    options
=============  =======================================  ===========================
``bundled``    ``bundled.BundledSource`` (default)      ``data_dir`` (optional)
``csv``        ``csv_file.CsvSource``                   ``path`` (required)
``yfinance``   ``yahoo.YahooSource`` (needs network)    ``currency_map`` (optional)
``moex``       ``moex.MoexSource`` (needs network)      ``boards`` (optional)
=============  =======================================  ===========================

The ``prices`` asset also takes the held symbols listed in ``prices.moex_symbols`` from MOEX
besides the selected source (a rouble desk's local book next to the bundled US stocks).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from .base import PRICE_COLUMNS, PriceDataError, PriceSource, validate_prices
from .bundled import BundledSource
from .csv_file import CsvSource
from .moex import MoexSource
from .yahoo import YahooSource

SOURCE_KINDS: dict[str, tuple[type, frozenset[str], frozenset[str]]] = {
    # kind: (class, required options, optional options)
    "bundled": (BundledSource, frozenset(), frozenset({"data_dir"})),
    "csv": (CsvSource, frozenset({"path"}), frozenset()),
    "yfinance": (YahooSource, frozenset(), frozenset({"currency_map"})),
    "moex": (MoexSource, frozenset(), frozenset({"boards"})),
}


def make_source(kind: str = "bundled", **options: Any) -> PriceSource:
    """The price source named ``kind`` built with ``options``; ValueError names an unknown kind or option."""
    if kind not in SOURCE_KINDS:
        raise ValueError(f"unknown price source kind {kind!r} (choose from {', '.join(SOURCE_KINDS)})")
    cls, required, optional = SOURCE_KINDS[kind]
    unknown = set(options) - required - optional
    if unknown:
        raise ValueError(f"price source {kind!r}: unknown option(s) {', '.join(sorted(unknown))} "
                         f"(allowed: {', '.join(sorted(required | optional)) or 'none'})")
    missing = required - set(options)
    if missing:
        raise ValueError(f"price source {kind!r}: missing option(s) {', '.join(sorted(missing))}")
    return cls(**options)


def last_day(prices: Mapping[str, Any]) -> datetime.date | None:
    """The last day of the price source that ``prices`` (pipeline.yaml's section) configures: the
    bundled snapshot's or the CSV file's last date; None for a live source (yfinance, moex, or MOEX
    symbols beside another source) or a CSV without a path (its run names that error)."""
    if prices.get("moex_symbols") or prices["source"] not in ("bundled", "csv"):
        return None
    if prices["source"] == "csv":
        return CsvSource(prices["csv_path"]).last_day() if prices.get("csv_path") else None
    return BundledSource().last_day()


__all__ = [
    "PRICE_COLUMNS",
    "BundledSource",
    "CsvSource",
    "MoexSource",
    "PriceDataError",
    "PriceSource",
    "YahooSource",
    "last_day",
    "make_source",
    "validate_prices",
]
