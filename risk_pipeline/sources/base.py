"""The price-source interface and the one validation every source's output goes through.

Every source returns the same long frame with exactly ``PRICE_COLUMNS``:

=========  ====================================================================
date       datetime64[ns], normalized to midnight, no time zone
symbol     str
close      float64, finite and > 0 (adjusted close where the source adjusts)
currency   3-letter upper-case code of the close, e.g. "USD"
source     where the row came from: "bundled", "csv:<file name>", "yfinance"
=========  ====================================================================

sorted by (date, symbol), one row per (date, symbol), index 0..n-1.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

PRICE_COLUMNS = ("date", "symbol", "close", "currency", "source")
_MAX_LISTED = 5  # offending rows quoted in one error message


class PriceDataError(ValueError):
    """Bad or missing price data; the message names the origin (file/source), symbol and row or date."""


@runtime_checkable
class PriceSource(Protocol):
    """Anything that serves daily closes as the long ``PRICE_COLUMNS`` frame."""

    name: str

    def fetch(self, symbols: Sequence[str] | None, start: datetime.date, end: datetime.date) -> pd.DataFrame:
        """Closes for ``symbols`` (None: every symbol the source has) dated ``start..end`` inclusive.

        Raises PriceDataError naming any requested symbol the source does not have.
        A range without any trading day gives an empty frame with the same columns and dtypes.
        """
        ...


def empty_prices() -> pd.DataFrame:
    """A zero-row frame with the ``PRICE_COLUMNS`` schema (a range with no trading day)."""
    return pd.DataFrame(
        {
            "date": pd.Series([], dtype="datetime64[ns]"),
            "symbol": pd.Series([], dtype=str),
            "close": pd.Series([], dtype="float64"),
            "currency": pd.Series([], dtype=str),
            "source": pd.Series([], dtype=str),
        }
    )


def check_date_range(start: datetime.date, end: datetime.date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``start``/``end`` as normalized Timestamps; ValueError naming both when start > end."""
    start_ts, end_ts = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if start_ts > end_ts:
        raise ValueError(f"start {start_ts:%Y-%m-%d} is after end {end_ts:%Y-%m-%d}")
    return start_ts, end_ts


def requested_symbols(symbols: Sequence[str] | str | None) -> list[str] | None:
    """The requested symbols without repeats, in order; a bare string is one symbol; None stays None."""
    if symbols is None:
        return None
    if isinstance(symbols, str):
        symbols = [symbols]
    return list(dict.fromkeys(symbols))


def unknown_symbols_error(unknown: Sequence[str], origin: str) -> PriceDataError:
    return PriceDataError(f"{origin}: unknown symbol(s) {', '.join(sorted(unknown))}")


def offending_rows(frame: pd.DataFrame, mask, what: str, origin: str, *, key: str, value: str,
                   error: type[ValueError]) -> ValueError:
    """An ``error`` listing the first offending rows of a long frame (index label, ``key``, date, ``value``)."""
    bad = frame.loc[np.asarray(mask)]
    shown = "; ".join(f"row {label} ({key} {row.get(key)!r}, date {row.get('date')!r}, {value} {row.get(value)!r})"
                      for label, row in bad.head(_MAX_LISTED).iterrows())
    more = f" and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
    return error(f"{origin}: {what} in {shown}{more}")


def required_columns(frame: pd.DataFrame, columns: Sequence[str], *, key: str, value: str, what: str, origin: str,
                     error: type[ValueError]) -> pd.DataFrame:
    """The ``columns`` of a long frame (``what`` rows keyed by ``key``), after checking that none is
    missing, that there are rows and that no row lacks its ``key``; ``error`` names ``origin``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise error(f"{origin}: missing column(s) {', '.join(missing)} (need {', '.join(columns)})")
    if frame.empty:
        raise error(f"{origin}: no {what} rows")
    raw = frame.loc[:, list(columns)]
    blank = elementwise(raw[key], lambda keys: keys.isna() | (keys.astype(str).str.strip() == ""))
    if blank.any():
        raise offending_rows(raw, blank, f"missing {key}", origin, key=key, value=value, error=error)
    return raw


def elementwise(values: pd.Series, function: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``function(values)`` for a ``function`` of each value alone (a string's strip, a pattern's match),
    evaluated on the distinct values only and spread back to the rows: a long frame of a few thousand
    symbols (and one or two currencies) repeated over every day costs a pass over its distinct values,
    not over its rows. A missing value is given to ``function`` as such."""
    at, distinct = pd.factorize(values, use_na_sentinel=False)
    done = function(pd.Series(distinct, dtype=values.dtype))
    return pd.Series(done.array.take(at), index=values.index)


def _in_order(days: np.ndarray, at: np.ndarray) -> bool:
    """Whether rows of ``days`` (int64) and ``at`` (the codes of their keys in sorted order) are sorted by
    (day, key) with no pair twice."""
    later, same = days[1:] > days[:-1], days[1:] == days[:-1]
    return bool(np.all(later | (same & (at[1:] > at[:-1]))))


def sorted_unique(clean: pd.DataFrame, key: str, origin: str, error: type[ValueError]) -> pd.DataFrame:
    """``clean`` sorted by (date, ``key``); ``error`` names the first rows that repeat a (date, ``key``) pair.
    A frame already in that order with no pair twice (a source's file in date order) is only checked
    so, on the dates' integers and the keys' codes in sorted order, not sorted again."""
    days = clean["date"].to_numpy("datetime64[ns]").view("int64")
    at = pd.factorize(clean[key], sort=True, use_na_sentinel=False)[0]
    if _in_order(days, at):
        return clean.reset_index(drop=True)
    duplicated = clean.duplicated(subset=["date", key], keep=False)
    if duplicated.any():
        dups = clean.loc[duplicated].head(2 * _MAX_LISTED)
        listed = "; ".join(f"{s} on {d:%Y-%m-%d} (row {i})" for i, s, d in zip(dups.index, dups[key], dups["date"]))
        raise error(f"{origin}: duplicate (date, {key}) rows: {listed}")
    return clean.sort_values(["date", key], ignore_index=True)


def _rows(frame: pd.DataFrame, mask: pd.Series, what: str, origin: str) -> ValueError:
    return offending_rows(frame, mask, what, origin, key="symbol", value="close", error=PriceDataError)


def validate_prices(frame: pd.DataFrame, *, origin: str) -> pd.DataFrame:
    """Check a price frame and return a clean copy in the ``PRICE_COLUMNS`` schema.

    ``origin`` (a file path or source name) starts every error message. Rows are named by the
    frame's index label (CsvSource indexes rows by their line number in the file).
    Raises PriceDataError for: an empty frame; missing columns; a missing symbol; a date that
    does not parse; a missing, non-numeric, non-finite, zero or negative close; a currency that
    is not three upper-case letters; a symbol quoted in two currencies; duplicate (date, symbol)
    rows. Extra columns are dropped; the result is sorted by (date, symbol) with a fresh index.
    """
    if not isinstance(frame, pd.DataFrame):
        raise PriceDataError(f"{origin}: expected a DataFrame, got {type(frame).__name__}")
    raw = required_columns(frame, PRICE_COLUMNS, key="symbol", value="close", what="price", origin=origin,
                           error=PriceDataError)

    dates = raw["date"]
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(dates.dtype):
        dates = pd.to_datetime(dates, errors="coerce")
    bad_date = dates.isna()
    if bad_date.any():
        raise _rows(raw, bad_date, "missing or unparsable date", origin)

    close = pd.to_numeric(raw["close"], errors="coerce").astype("float64")
    bad_close = ~np.isfinite(close.to_numpy()) | (close.to_numpy() <= 0)
    if bad_close.any():
        raise _rows(raw, pd.Series(bad_close, index=raw.index), "missing, non-finite or non-positive close", origin)

    currency = elementwise(raw["currency"], lambda codes: codes.astype(str))
    bad_currency = ~elementwise(currency, lambda codes: codes.str.fullmatch(r"[A-Z]{3}"))
    if bad_currency.any():
        bad = raw.loc[bad_currency].head(_MAX_LISTED)
        listed = "; ".join(f"row {i} (symbol {s!r}, currency {c!r})" for i, s, c in
                           zip(bad.index, bad["symbol"], bad["currency"]))
        raise PriceDataError(f"{origin}: currency must be a 3-letter upper-case code in {listed}")

    clean = pd.DataFrame(
        {
            "date": dates.dt.normalize().astype("datetime64[ns]"),
            "symbol": elementwise(raw["symbol"], lambda symbols: symbols.astype(str).str.strip()),
            "close": close,
            "currency": currency,
            "source": raw["source"].astype(str),
        },
        index=raw.index,
    )
    symbol_at, symbols = pd.factorize(clean["symbol"])
    currency_at, currencies = pd.factorize(clean["currency"])
    quoted = np.zeros((len(symbols), len(currencies)), dtype=bool)
    quoted[symbol_at, currency_at] = True
    if (quoted.sum(axis=1) > 1).any():
        currencies = clean.groupby("symbol")["currency"].nunique()
        mixed = currencies.index[currencies > 1]
        raise PriceDataError(f"{origin}: symbol(s) quoted in more than one currency: {', '.join(mixed)}")

    return sorted_unique(clean, "symbol", origin, PriceDataError)
