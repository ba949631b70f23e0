"""Bond instruments' closes: a constant-maturity bond priced from its yield series, a symbol of the
prices table like a stock, so every book, VaR method, backtest, limit, stress and report holds it.

``bonds.instruments`` of pipeline.yaml (:class:`risk_pipeline.config.bonds.BondInstrument`) declares
each: a symbol, its yield series (of the ``bonds`` yield source: a CSV ``date, series, yield`` or
Yahoo yield tickers), its tenor, coupon frequency and currency. Its close is the value of USD 100
(in the instrument's currency) put into the par bond of that tenor on the series' first date and
rolled at par every day of the series (:func:`risk_pipeline.risk.instruments.bonds.rolled_par_bond_returns`:
full repricing, coupons included, a total-return index):

    close_t = 100 prod_{s <= t} (1 + r_s),    close = 100 on the series' first date,

so the stored close-to-close return of the symbol is the bond's full-repricing return over the
day, and its FX in a book's base currency is the currency's, as for any symbol. The close of a day
depends on the series from its first date only, never on the run's range. It has a close on each
trading day of the other prices (a market holiday: none), or, when the books hold no other symbol,
on each date of its series. A trading day inside the series' dates without a yield is an error
naming the yield file, the series, the instrument and the date; before the series' first date the
instrument has no close (a symbol not yet live).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from risk_pipeline.config.bonds import BondInstrument, bond_instruments
from risk_pipeline.config.settings import section, settings_path
from risk_pipeline.risk.instruments.bonds import rolled_par_bond_returns
from risk_pipeline.sources.yields import (CsvYieldSource, UnknownYieldSeriesError, YahooYieldSource, make_yield_source,
                                          yields_on)
from risk_pipeline.storage.paths import REPO_ROOT

SOURCE_NAME = "yield_repricing"
HISTORY_START = dt.date(1990, 1, 2)
"""The yields a source is asked for start here (the partitions' first day): the closes are the same
for every run's range."""


def configured_instruments() -> tuple[BondInstrument, ...]:
    """The checked ``bonds.instruments`` of the settings (ConfigError names the instrument and field)."""
    return bond_instruments(section("bonds").get("instruments"), f"{settings_path()}, section 'bonds'")


def yield_source(kind: str, csv_path: str | None) -> CsvYieldSource | YahooYieldSource:
    """The ``bonds`` section's yield source; a relative ``csv_path`` is relative to the repository."""
    path = None if csv_path is None else str(Path(csv_path) if Path(csv_path).is_absolute() else REPO_ROOT / csv_path)
    return make_yield_source(kind, path)


def instrument_yields(instruments: Sequence[BondInstrument], source: CsvYieldSource | YahooYieldSource,
                      end: dt.date) -> pd.DataFrame:
    """The yields of ``instruments``' series from HISTORY_START to ``end``; YieldDataError names a bad row
    of the file, and an unknown series with the instruments that name it."""
    try:
        return source.fetch(sorted({i.yield_series for i in instruments}), HISTORY_START, end)
    except UnknownYieldSeriesError as exc:
        asked = ", ".join(f"{i.symbol}: {i.yield_series}" for i in instruments)
        raise UnknownYieldSeriesError(f"{exc} (bonds.instruments, field 'yield_series': {asked})") from None


def bond_instrument_prices(instruments: Sequence[BondInstrument], source: CsvYieldSource | YahooYieldSource,
                           days: Sequence[dt.date] | None, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Long price rows (``date, symbol, close, currency, source``) of ``instruments`` on ``days`` (the
    trading days of the other prices; None: the dates of the yield series) from ``start`` to ``end``
    (module docstring)."""
    columns = ["date", "symbol", "close", "currency", "source"]
    if not instruments or (days is not None and not len(days)):
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else object) for c in columns})
    origin = str(getattr(source, "path", source.name))
    yields = instrument_yields(instruments, source, end)
    wanted = pd.DatetimeIndex(pd.to_datetime(sorted(set(days if days is not None else yields["date"]))))
    wanted = wanted[(wanted >= pd.Timestamp(start)) & (wanted <= pd.Timestamp(end))]
    frames = []
    for instrument in instruments:
        series = yields.loc[yields["series"] == instrument.yield_series].set_index("date")["yield"].sort_index()
        on = wanted[wanted >= series.index[0]] if len(series) else wanted[:0]
        if not len(on):
            continue
        # every day of the range from the series' first date needs a yield (named if missing)
        yields_on(yields, instrument.yield_series, on, needed_by=f"bond instrument {instrument.symbol!r}, {origin}")
        total = rolled_par_bond_returns(series, instrument.tenor_years, instrument.frequency)
        close = 100.0 * (1.0 + total["total_return"].fillna(0.0)).cumprod()
        close.index = pd.DatetimeIndex(total["date"])
        frames.append(pd.DataFrame({"date": on, "symbol": instrument.symbol, "close": close.reindex(on).to_numpy(),
                                    "currency": instrument.currency, "source": SOURCE_NAME}))
    if not frames:
        return bond_instrument_prices((), source, (), start, end)
    return pd.concat(frames, ignore_index=True)[columns]
