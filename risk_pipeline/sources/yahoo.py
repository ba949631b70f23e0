"""Live prices and FX from Yahoo Finance through the ``yfinance`` package (needs network access).

Not used by default (no machine running the tests reaches Yahoo); select it with
``make_source("yfinance")``. Each symbol is downloaded on its own with
``yfinance.download(symbol, auto_adjust=True)`` (closes adjusted for splits and dividends) and
its currency is taken, in this order, from the ticker's metadata
(``yfinance.Ticker(symbol).fast_info["currency"]``), the configured ``currency_map``, or USD.
Quotes in minor units (GBp, ZAc, ILA) are converted to the major unit (GBP, ZAR, ILS).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping, Sequence

import pandas as pd

from .base import PriceDataError, check_date_range, requested_symbols, validate_prices

log = logging.getLogger(__name__)

SOURCE_NAME = "yfinance"
MINOR_UNITS = {"GBp": ("GBP", 100.0), "GBX": ("GBP", 100.0), "ZAc": ("ZAR", 100.0), "ILA": ("ILS", 100.0)}


def _download_close(ticker: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Adjusted closes of one Yahoo ticker dated start..end inclusive (NaN rows dropped; may be empty).

    ``yfinance.download`` returns columns ``MultiIndex[(Price, Ticker)]`` (e.g. ("Close", "AAPL"))
    or flat columns with ``multi_level_index=False``; its ``end`` is exclusive, hence ``end + 1 day``.
    """
    import yfinance

    raw = yfinance.download(
        ticker,
        start=f"{start:%Y-%m-%d}",
        end=f"{end + pd.Timedelta(days=1):%Y-%m-%d}",
        auto_adjust=True,
        actions=False,
        progress=False,
        threads=False,
        multi_level_index=True,
    )
    if raw is None or raw.empty:
        return pd.Series([], dtype="float64", index=pd.DatetimeIndex([], dtype="datetime64[ns]"))
    if isinstance(raw.columns, pd.MultiIndex):
        close = raw.xs("Close", axis=1, level=0)
        close = close[ticker.upper()] if ticker.upper() in close.columns else close.iloc[:, 0]
    else:
        close = raw["Close"]
    index = pd.DatetimeIndex(close.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    close = pd.Series(close.to_numpy(dtype="float64"), index=index.normalize().astype("datetime64[ns]"))
    return close.dropna()


def _metadata_currency(ticker: str) -> str | None:
    """Currency Yahoo reports for ``ticker``, or None when the metadata call fails."""
    import yfinance

    try:
        currency = yfinance.Ticker(ticker).fast_info["currency"]
    except Exception as exc:  # network, rate limit, missing field: fall back to the configured map
        log.warning("yfinance: no currency metadata for %s (%s); using the configured map or USD", ticker, exc)
        return None
    return str(currency) if currency else None


class YahooSource:
    """Adjusted daily closes downloaded from Yahoo Finance, symbol by symbol.

    ``currency_map`` maps a symbol to its currency for when Yahoo's metadata is unavailable.
    ``symbols=None`` is refused (Yahoo has no list of "all symbols"); a symbol whose download
    comes back empty (unknown ticker, or no trading day in the range) raises PriceDataError
    naming it.
    """

    name = SOURCE_NAME

    def __init__(self, currency_map: Mapping[str, str] | None = None) -> None:
        self.currency_map = dict(currency_map or {})

    def _currency(self, symbol: str) -> str:
        return _metadata_currency(symbol) or self.currency_map.get(symbol) or "USD"

    def fetch(self, symbols: Sequence[str] | None, start: datetime.date, end: datetime.date) -> pd.DataFrame:
        start_ts, end_ts = check_date_range(start, end)
        wanted = requested_symbols(symbols)
        if not wanted:
            raise PriceDataError("yfinance: list the symbols to download (symbols=None or empty is not supported)")
        frames = []
        for symbol in wanted:
            close = _download_close(symbol, start_ts, end_ts)
            if close.empty:
                raise PriceDataError(
                    f"yfinance: empty download for symbol {symbol} over {start_ts:%Y-%m-%d}..{end_ts:%Y-%m-%d} "
                    "(unknown ticker, no trading day in range, or Yahoo unreachable)"
                )
            reported = self._currency(symbol)
            currency, divisor = MINOR_UNITS.get(reported, (reported, 1.0))
            frames.append(pd.DataFrame({"date": close.index, "symbol": symbol, "close": close.to_numpy() / divisor,
                                        "currency": currency, "source": SOURCE_NAME}))
        return validate_prices(pd.concat(frames, ignore_index=True), origin=SOURCE_NAME)


def fetch_yahoo_fx(base: str, quote_currency: str, start: datetime.date, end: datetime.date) -> pd.Series:
    """Live FX: the price in ``base`` of one unit of ``quote_currency`` per day (same meaning as ``ecb_fx.fx_rate``).

    Downloads the Yahoo ticker ``f"{quote_currency}{base}=X"`` (e.g. "EURUSD=X" = USD per EUR).
    Returns float64 indexed by date, named ``"<base>_per_<quote>"``; PriceDataError names the
    ticker when the download is empty or a rate is not positive.
    """
    if base == quote_currency:
        raise ValueError(f"base and quote_currency are both {base}: the rate is 1 by definition")
    start_ts, end_ts = check_date_range(start, end)
    ticker = f"{quote_currency}{base}=X"
    rates = _download_close(ticker, start_ts, end_ts)
    if rates.empty:
        raise PriceDataError(f"yfinance: empty download for FX ticker {ticker} over {start_ts:%Y-%m-%d}..{end_ts:%Y-%m-%d}")
    bad = rates[~(rates > 0)]
    if not bad.empty:
        raise PriceDataError(f"yfinance: non-positive rate for FX ticker {ticker} on {bad.index[0]:%Y-%m-%d}")
    return rates.rename(f"{base}_per_{quote_currency}")
