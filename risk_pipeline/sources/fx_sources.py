"""Second FX sources: rates for a currency after the ECB stopped quoting it, or that it never quoted.

Every second source returns quotes as the long frame ``FX_QUOTE_COLUMNS``:

=========  ====================================================================
date       datetime64[ns], normalized to midnight
currency   3-letter code of the quoted currency, e.g. "RUB"
per        3-letter code of the currency the rate is per, e.g. "USD"
rate       float64 > 0: units of ``currency`` for one unit of ``per`` (USD/RUB 80.1 is RUB, USD, 80.1)
source     "csv:<file name>" or "moex:USD000UTSTOM"
=========  ====================================================================

sorted by (date, currency), one row per (date, currency). ``ecb_fx`` turns them into units per
EUR with the ECB's rate of ``per`` (the pipeline's one convention) and uses them only where the
ECB has no rate (``ecb_fx.load_fx_rates``).

- ``csv`` (:func:`read_fx_csv`): the file a user keeps offline, columns ``date, currency, per,
  rate``; every problem names the file and the line of the row (header = line 1).
- ``moex``: USD/RUB from the Moscow Exchange's currency market (``USD000UTSTOM`` on board
  ``CETS``, closes in RUB per USD), through ``apimoex`` (needs network).
- ``yfinance``: USD/RUB from Yahoo Finance (ticker ``USDRUB=X``, RUB per USD; needs network).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .base import PriceDataError, check_date_range, offending_rows, required_columns, sorted_unique
from .csv_file import read_text_csv
from .moex import CURRENCY as MOEX_CURRENCY
from .moex import USD_RUB_SECURITY, board_closes
from .yahoo import fetch_yahoo_fx

FX_QUOTE_COLUMNS = ("date", "currency", "per", "rate", "source")
SECOND_SOURCE_KINDS = ("csv", "moex", "yfinance")


def _rows(frame: pd.DataFrame, mask, what: str, origin: str) -> ValueError:
    return offending_rows(frame, mask, what, origin, key="currency", value="rate", error=PriceDataError)


def validate_fx_quotes(frame: pd.DataFrame, *, origin: str) -> pd.DataFrame:
    """Check a quote frame and return a clean copy in the ``FX_QUOTE_COLUMNS`` schema.

    PriceDataError names ``origin`` and the rows for: missing columns; no rows; a missing
    currency; an unparsable date; a currency or ``per`` that is not 3 upper-case letters, or a
    currency quoted per itself; a missing, non-finite or non-positive rate; duplicate (date,
    currency) rows.
    """
    raw = required_columns(frame, FX_QUOTE_COLUMNS, key="currency", value="rate", what="FX rate", origin=origin,
                           error=PriceDataError)
    dates = pd.to_datetime(raw["date"], errors="coerce")
    if dates.isna().any():
        raise _rows(raw, dates.isna(), "missing or unparsable date", origin)
    currency, per = raw["currency"].astype(str).str.strip(), raw["per"].astype(str).str.strip()
    bad_code = ~currency.str.fullmatch(r"[A-Z]{3}") | ~per.str.fullmatch(r"[A-Z]{3}") | (currency == per)
    if bad_code.any():
        raise _rows(raw, bad_code, "currency and per must be two different 3-letter upper-case codes", origin)
    rate = pd.to_numeric(raw["rate"], errors="coerce").astype("float64")
    bad_rate = ~(np.isfinite(rate.to_numpy()) & (rate.to_numpy() > 0))
    if bad_rate.any():
        raise _rows(raw, bad_rate, "missing, non-finite or non-positive rate", origin)
    clean = pd.DataFrame({"date": dates.dt.normalize().astype("datetime64[ns]"), "currency": currency, "per": per,
                          "rate": rate, "source": raw["source"].astype(str)}, index=raw.index)
    return sorted_unique(clean, "currency", origin, PriceDataError)


def read_fx_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a whole FX CSV (``date, currency, per, rate``), source ``csv:<file name>``."""
    path = Path(path).expanduser().resolve()
    raw = read_text_csv(path, PriceDataError, "FX rate", "date,currency,per,rate")
    raw["source"] = f"csv:{path.name}"
    raw.index = raw.index + 2  # label rows by their line number in the file
    return validate_fx_quotes(raw, origin=str(path))


def moex_usd_rub(start: datetime.date, end: datetime.date) -> pd.DataFrame:
    """RUB per USD from MOEX (``USD000UTSTOM`` closes on ``CETS``) dated start..end, as FX quotes."""
    start_ts, end_ts = check_date_range(start, end)
    close = board_closes(USD_RUB_SECURITY, "CETS", start_ts, end_ts)
    frame = pd.DataFrame({"date": close.index, "currency": MOEX_CURRENCY, "per": "USD", "rate": close.to_numpy(),
                          "source": f"moex:{USD_RUB_SECURITY}"})
    return validate_fx_quotes(frame, origin=f"moex {USD_RUB_SECURITY}")


def yahoo_usd_rub(start: datetime.date, end: datetime.date) -> pd.DataFrame:
    """RUB per USD from Yahoo Finance (``USDRUB=X``) dated start..end, as FX quotes."""
    rates = fetch_yahoo_fx("RUB", "USD", start, end)
    frame = pd.DataFrame({"date": rates.index, "currency": "RUB", "per": "USD", "rate": rates.to_numpy(),
                          "source": "yfinance:USDRUB=X"})
    return validate_fx_quotes(frame, origin="yfinance USDRUB=X")


# the live second sources: RUB per USD after the ECB's last RUB fixing
LIVE_USD_RUB = {"moex": moex_usd_rub, "yfinance": yahoo_usd_rub}
