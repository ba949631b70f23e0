"""From option positions and stored market data to the frames the options core takes.

One place turns (positions, closes and returns of the underlyings, implied volatilities) into the
book held at each close (options priced with their Greeks, and the delta hedge of a hedged book)
and into the scenario windows of its VaR, so that ``option_greeks`` and ``option_var`` see the
same book (formulas: :mod:`risk_pipeline.risk.options`).

- A position is held at every close from ``opened`` until the day before ``expiry``; years to
  expiry at a close are ACT/365 calendar days.
- Implied volatility (``options.vol_source``): ``ewma_proxy`` (the EWMA volatility of the
  underlying with the stated skew of :func:`risk_pipeline.risk.options.surface.proxy_vol`) or
  ``file`` (quotes date, underlying, expiry, strike, implied_vol in a CSV or Parquet file,
  interpolated by :func:`risk_pipeline.risk.options.surface.surface_vol`). The volatility
  scenarios are the daily changes of each underlying's at-the-money volatility (the proxy, or
  the surface at 30 days and the close's spot), applied to every option on it.
- A delta-hedged book (``options.delta_hedged_books``) holds, at each close, ``-(net delta)``
  units of each underlying: the rule of a desk rebalancing its hedge daily at the close.
- Rates per currency and dividend yields per underlying are constants of pipeline.yaml.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipeline.config.options import OptionPosition, OptionSettings, unknown_underlying_error
from risk_pipeline.config.reader import ConfigError
from risk_pipeline.risk.options.pricing import DAYS_PER_YEAR, bsm_greeks, cash_greeks
from risk_pipeline.risk.options.surface import ewma_atm_vol, proxy_vol, surface_vol
from risk_pipeline.risk.options.var import OptionBook
from risk_pipeline.sources.ecb_fx import fx_rate

ATM_TENOR_YEARS = 30 / DAYS_PER_YEAR
QUOTE_COLUMNS = ("date", "underlying", "expiry", "strike", "implied_vol")
HEDGE_TYPE = "underlying"


def read_quotes(path: str | Path) -> pd.DataFrame:
    """Implied-volatility quotes of a CSV or Parquet file; ConfigError names the file, row and field."""
    file = Path(path)
    try:
        frame = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file)
    except FileNotFoundError:
        raise ConfigError(f"{file}: implied volatility file not found") from None
    missing = [c for c in QUOTE_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"{file}, row 1: missing column {missing[0]!r} (columns: {', '.join(QUOTE_COLUMNS)})")
    frame = frame[list(QUOTE_COLUMNS)].copy()
    for column in ("date", "expiry"):
        frame[column] = pd.to_datetime(frame[column], errors="coerce")
    frame["strike"] = pd.to_numeric(frame["strike"], errors="coerce")
    frame["implied_vol"] = pd.to_numeric(frame["implied_vol"], errors="coerce")
    bad = frame[["date", "expiry", "strike", "implied_vol"]].isna() | (frame[["strike", "implied_vol"]] <= 0).reindex(
        columns=["date", "expiry", "strike", "implied_vol"], fill_value=False)
    bad["expiry"] |= frame["expiry"] <= frame["date"]
    if bad.to_numpy().any():
        row, field = next((i, c) for i, r in bad.iterrows() for c in bad.columns if r[c])
        raise ConfigError(f"{file}, row {row + 2}: field {field!r}: invalid value {frame.loc[row, field]!r}")
    return frame


@dataclass(frozen=True)
class OptionMarket:
    """Closes, returns and at-the-money volatility of the underlyings (dates x underlyings), and the quotes."""

    spot: pd.DataFrame
    returns: pd.DataFrame
    atm_vol: pd.DataFrame
    settings: OptionSettings
    quotes: pd.DataFrame | None

    def vol(self, day: pd.Timestamp, position: OptionPosition, years: float) -> float:
        """The position's implied volatility at the close of ``day``; ConfigError when there is none."""
        spot = self.spot.at[day, position.underlying]
        if self.quotes is None:
            atm = self.atm_vol.at[day, position.underlying]
            if not np.isfinite(atm):
                raise _missing_vol(self.settings, position, day, "the EWMA proxy needs "
                                   f"{self.settings.ewma_window_days} returns of the underlying before it")
            return float(proxy_vol(atm, spot, position.strike, self.settings.skew))
        day_quotes = self._quotes(day, position.underlying)
        if day_quotes.empty:
            raise _missing_vol(self.settings, position, day, f"no quote in {self.settings.vol_file}")
        return surface_vol(_years(day_quotes["expiry"], day), day_quotes["strike"], day_quotes["implied_vol"], years,
                           position.strike)

    def _quotes(self, day: pd.Timestamp, underlying: str) -> pd.DataFrame:
        quotes = self.quotes
        return quotes.loc[(quotes["date"] == day) & (quotes["underlying"] == underlying)]


def _years(expiry, day: pd.Timestamp) -> np.ndarray:
    return (pd.to_datetime(expiry) - day).dt.days.to_numpy() / DAYS_PER_YEAR


def _missing_vol(settings: OptionSettings, position: OptionPosition, day: pd.Timestamp, why: str) -> ConfigError:
    return ConfigError(f"{settings.positions_file}, row {position.row}: field 'underlying': missing volatility "
                       f"for {position.underlying!r} on {day.date()} ({why})")


def option_market(positions: tuple[OptionPosition, ...], prices: pd.DataFrame, returns: pd.DataFrame,
                  settings: OptionSettings) -> OptionMarket:
    """The market frames of the positions' underlyings from the long ``prices`` and ``returns`` tables."""
    known = set(prices["symbol"])
    quoted = prices.drop_duplicates("symbol", keep="last").set_index("symbol")["currency"]
    for position in positions:
        if position.underlying not in known:
            raise unknown_underlying_error(settings.positions_file, position, known)
        if position.currency != quoted[position.underlying]:
            raise ConfigError(f"{settings.positions_file}, row {position.row}: field 'currency': {position.currency} is "
                              f"not the currency of {position.underlying!r} ({quoted[position.underlying]}): an option "
                              "is struck in its underlying's currency (no quanto options)")
    underlyings = sorted({p.underlying for p in positions})
    spot = prices.pivot(index="date", columns="symbol", values="close").reindex(columns=underlyings)
    spot.index = pd.DatetimeIndex(spot.index)
    wide = returns.pivot(index="date", columns="symbol", values="simple_return").reindex(columns=underlyings)
    wide.index = pd.DatetimeIndex(wide.index)
    wide = wide.reindex(spot.index)
    quotes = read_quotes(settings.vol_file) if settings.vol_source == "file" else None
    if quotes is None:
        atm = pd.DataFrame({u: _proxy_atm(wide[u], settings.ewma_window_days) for u in underlyings}, index=spot.index)
    else:
        atm = pd.DataFrame({u: [_surface_atm(quotes, day, u, spot.at[day, u]) for day in spot.index]
                            for u in underlyings}, index=spot.index)
    return OptionMarket(spot=spot, returns=wide, atm_vol=atm, settings=settings, quotes=quotes)


def _proxy_atm(returns: pd.Series, window: int) -> np.ndarray:
    """EWMA volatility over the underlying's own return days (NaN where it has none)."""
    out = pd.Series(np.nan, index=returns.index)
    known = returns.dropna()
    out.loc[known.index] = ewma_atm_vol(known.to_numpy(), window)
    return out.to_numpy()


def _surface_atm(quotes: pd.DataFrame, day: pd.Timestamp, underlying: str, spot: float) -> float:
    rows = quotes.loc[(quotes["date"] == day) & (quotes["underlying"] == underlying)]
    if rows.empty or not np.isfinite(spot):
        return np.nan
    return surface_vol(_years(rows["expiry"], day), rows["strike"], rows["implied_vol"], ATM_TENOR_YEARS, spot)


def held(positions: tuple[OptionPosition, ...], book: str, day: dt.date) -> list[OptionPosition]:
    """The options ``book`` holds at the close of ``day``."""
    return [p for p in positions if p.book == book and p.opened <= day < p.expiry]


@dataclass(frozen=True)
class HeldBook:
    """A book at one close: its options priced (``frame``, one row per option) and the hedge per underlying."""

    frame: pd.DataFrame
    hedge: pd.DataFrame  # per underlying held outright: quantity (units of the underlying) and fx_rate to base

    def linear_units(self, underlyings: list[str]) -> np.ndarray:
        """Units of each of ``underlyings`` held outright, times FX to base (the core's ``linear_units``)."""
        return (self.hedge["quantity"] * self.hedge["fx_rate"]).reindex(underlyings).fillna(0.0).to_numpy()


def price_book(market: OptionMarket, positions: list[OptionPosition], book: str, day: pd.Timestamp) -> HeldBook:
    """Price, per-unit and cash Greeks of each held option at the close of ``day``; the hedge of a hedged book.

    The hedge is in the underlying's units: ``-(sum of delta x quantity x multiplier)`` per underlying
    (the options on one underlying share a currency; their FX converts it)."""
    settings = market.settings
    years = np.array([(p.expiry - day.date()).days / DAYS_PER_YEAR for p in positions])
    vols = np.array([market.vol(day, p, t) for p, t in zip(positions, years)])
    spot = np.array([market.spot.at[day, p.underlying] for p in positions])
    fx = {c: float(fx_rate(settings.base_currency, c, [day]).iloc[0]) for c in {p.currency for p in positions}}
    units = np.array([p.quantity * p.multiplier for p in positions])
    fx_of = np.array([fx[p.currency] for p in positions])
    rates = np.array([settings.rates.get(p.currency, 0.0) for p in positions])
    dividends = np.array([settings.dividend_yields.get(p.underlying, 0.0) for p in positions])
    greeks = bsm_greeks(np.array([p.is_call for p in positions]), spot, np.array([p.strike for p in positions]), years,
                        vols, rates, dividends)
    cash = cash_greeks(greeks, spot, units, fx_of)
    frame = pd.DataFrame({
        "option": [p.option for p in positions], "option_type": [p.option_type for p in positions],
        "underlying": [p.underlying for p in positions], "strike": [p.strike for p in positions],
        "expiry": [p.expiry for p in positions], "quantity": [p.quantity for p in positions],
        "contract_multiplier": [p.multiplier for p in positions], "currency": [p.currency for p in positions],
        "spot": spot, "implied_vol": vols, "years_to_expiry": years, "interest_rate": rates, "dividend_yield": dividends,
        "fx_rate": fx_of, "units_base": units * fx_of, "is_call": [p.is_call for p in positions],
        "option_price": greeks.price, "position_value": greeks.price * units * fx_of,
        "delta": greeks.delta, "gamma": greeks.gamma, "vega": greeks.vega, "theta": greeks.theta, "rho": greeks.rho,
        "delta_amount": cash.delta_amount, "gamma_amount": cash.gamma_amount, "vega_amount": cash.vega_amount,
        "theta_amount": cash.theta_amount, "rho_amount": cash.rho_amount,
    })
    hedge = pd.DataFrame({"quantity": 0.0, "fx_rate": 1.0}, index=pd.Index([], name="underlying"))
    if book in settings.delta_hedged_books and len(frame):
        exposure = frame["delta"] * frame["quantity"] * frame["contract_multiplier"]
        hedge = pd.DataFrame({"quantity": -exposure.groupby(frame["underlying"]).sum(),
                              "fx_rate": frame.groupby("underlying")["fx_rate"].first()})
    return HeldBook(frame=frame, hedge=hedge)


def core_book(held_book: HeldBook, underlyings: list[str]) -> OptionBook:
    """The core's view of a priced book (units in base currency, underlyings as column indices)."""
    frame = held_book.frame
    return OptionBook(underlying=np.array([underlyings.index(u) for u in frame["underlying"]], dtype=int),
                      is_call=frame["is_call"].to_numpy(bool), strike=frame["strike"].to_numpy(float),
                      years=frame["years_to_expiry"].to_numpy(float), vol=frame["implied_vol"].to_numpy(float),
                      units=frame["units_base"].to_numpy(float), rate=frame["interest_rate"].to_numpy(float),
                      dividend=frame["dividend_yield"].to_numpy(float))
