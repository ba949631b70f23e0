"""From option positions and stored market data to the frames the options core takes.

One place turns (positions, closes and returns of the underlyings, implied volatilities) into the
book held at each close (options priced with their Greeks, and the delta hedge of a hedged book)
and into the scenario windows of its VaR, so that ``option_greeks`` and the option books' ``var_estimates`` see the
same book (formulas: :mod:`risk_pipeline.risk.options`).

- A position is held at every close from ``opened`` until the day before ``expiry``; years to
  expiry at a close are ACT/365 calendar days.
- Implied volatility (``options.vol_source``; files: :mod:`risk_pipeline.config.implied_vols`):
  ``ewma_proxy`` (the EWMA volatility of the underlying with the stated skew of
  :func:`risk_pipeline.risk.options.surface.proxy_vol`), ``file`` (quotes date, underlying, expiry,
  strike, implied_vol interpolated by :func:`risk_pipeline.risk.options.surface.surface_vol`) or
  ``atm_file`` (at-the-money levels, e.g. the VIX: per day and underlying the file's level where it
  has one, the EWMA proxy elsewhere, with the same skew and flat in expiry). Each row says its
  source (``vol_source``: ``ewma_proxy``, ``file`` or the file's series, e.g. ``vix``; a book-day
  over several joins them, ``ewma_proxy+vix``). The volatility scenarios are the daily changes of
  each underlying's at-the-money volatility (the proxy, the surface at 30 days and the close's
  spot, or the file's level; a change between a day of the file and a day of the proxy is the
  proxy's own change, not the jump between the two), applied to every option on it. Likewise a
  day's P&L values an option at both closes with one source: the file's where both have it, else
  the proxy (:func:`book_pnl`).
- A delta-hedged book (``options.delta_hedged_books``) holds, at each close, ``-(net delta)``
  units of each underlying: the rule of a desk rebalancing its hedge daily at the close.
- Rates per currency and dividend yields per underlying are constants of pipeline.yaml.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipeline.config.implied_vols import read_vol_file
from risk_pipeline.config.options import OptionPosition, OptionSettings, load_option_positions
from risk_pipeline.config.reader import ConfigError
from risk_pipeline.risk.options.pricing import DAYS_PER_YEAR, bsm_greeks, cash_greeks
from risk_pipeline.risk.options.surface import ewma_atm_vol, proxy_vol, surface_vol
from risk_pipeline.risk.options.reverse import reverse_multiples
from risk_pipeline.risk.options.stress import stress_pnl
from risk_pipeline.risk.options.var import OptionBook, days_var_es, horizon_years, window_scenarios
from risk_pipeline.risk.stress.grid import episode_returns
from risk_pipeline.risk.sums import group_sums
from risk_pipeline.risk.stress.scenarios import HistoricalScenario, scenario_shocks
from risk_pipeline.sources.ecb_fx import fx_rate, rates_version
from risk_pipeline.books import currency_returns
from risk_pipeline.file_version import file_version
from risk_pipeline.storage.lake import open_table, read_days, read_window, table_uri, version_key

ATM_TENOR_YEARS = 30 / DAYS_PER_YEAR
HEDGE_TYPE = "underlying"
GREEK_AMOUNTS = ("position_value", "delta_amount", "gamma_amount", "vega_amount", "theta_amount", "rho_amount")


@dataclass(frozen=True)
class OptionMarket:
    """Closes, returns, at-the-money volatility, its daily change and its source (``vol_source`` of the rows priced
    with it) of the underlyings (dates x underlyings), the quotes of a surface, the at-the-money levels of the
    volatility file (every date of the file x underlyings; None without one) and, with those levels, the EWMA
    proxy's at-the-money volatility on every date (None without them)."""

    spot: pd.DataFrame
    returns: pd.DataFrame
    atm_vol: pd.DataFrame
    atm_change: pd.DataFrame
    vol_source: pd.DataFrame
    settings: OptionSettings
    quotes: pd.DataFrame | None
    levels: pd.DataFrame | None
    proxy_atm: pd.DataFrame | None = None

    def on_proxy(self) -> OptionMarket:
        """This market with the EWMA proxy on every date (the at-the-money file's levels set aside): the one source
        of a P&L whose two closes do not both have a level (:func:`book_pnl`)."""
        proxy = self.proxy_atm
        return replace(self, atm_vol=proxy, atm_change=proxy.diff(), levels=None, proxy_atm=None,
                       vol_source=pd.DataFrame("ewma_proxy", index=proxy.index, columns=proxy.columns))

    def vol(self, day: pd.Timestamp, position: OptionPosition, years: float) -> float:
        """The position's implied volatility at the close of ``day`` from the quotes; ConfigError when there is none."""
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
    """The market frames of the positions' underlyings (each priced in ``prices``) from the long ``prices`` and
    ``returns`` tables; ConfigError for a position in another currency than its underlying's."""
    quoted = prices.drop_duplicates("symbol", keep="last").set_index("symbol")["currency"]
    for position in positions:
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
    quotes = read_vol_file(settings.vol_file, "file") if settings.vol_source == "file" else None
    levels = _atm_levels(settings) if settings.vol_source == "atm_file" else None
    if quotes is None:
        atm = pd.DataFrame({u: _proxy_atm(wide[u], settings.ewma_window_days) for u in underlyings}, index=spot.index)
        change = atm.diff()
        source = pd.DataFrame("ewma_proxy", index=spot.index, columns=underlyings)
    else:
        atm = pd.DataFrame({u: [_surface_atm(quotes, day, u, spot.at[day, u]) for day in spot.index]
                            for u in underlyings}, index=spot.index)
        change, source = atm.diff(), pd.DataFrame("file", index=spot.index, columns=underlyings)
    proxy = atm if levels is not None else None
    if levels is not None:  # the file's level where it has one, the proxy elsewhere; a change within one source
        level = levels["implied_vol"].reindex(index=spot.index, columns=underlyings)
        quoted = level.notna()
        atm, change = level.where(quoted, atm), level.diff().where(quoted & quoted.shift(fill_value=False), change)
        source = levels["series"].reindex(index=spot.index, columns=underlyings).where(quoted, source)
    return OptionMarket(spot=spot, returns=wide, atm_vol=atm, atm_change=change, vol_source=source, settings=settings,
                        quotes=quotes, levels=levels, proxy_atm=proxy)


def _atm_levels(settings: OptionSettings) -> pd.DataFrame:
    """The at-the-money levels of the volatility file and their series (columns: (field, underlying); rows: dates)."""
    rows = read_vol_file(settings.vol_file, "atm_file")
    levels = rows.pivot(index="date", columns="underlying", values=["implied_vol", "series"])
    return levels.astype({c: float for c in levels.columns if c[0] == "implied_vol"})


def vol_sources(market: OptionMarket, dates: pd.DatetimeIndex, underlyings) -> np.ndarray:
    """The volatility source of each (close, underlying): ``ewma_proxy``, ``file`` or the series of the at-the-money
    file (``vix``)."""
    return market.vol_source.to_numpy()[market.spot.index.get_indexer(dates),
                                        market.spot.columns.get_indexer(underlyings)]


def joined_sources(labels: pd.Series, keys) -> pd.Series:
    """Per group of ``keys``: its distinct sources, sorted, joined by ``+`` (``ewma_proxy+vix``); vectorised: a bit per
    source, one text per combination."""
    names = sorted(set(labels))
    has = pd.DataFrame({n: labels.to_numpy() == n for n in names}, index=labels.index).groupby(keys).any()
    code = has.to_numpy().astype(np.int64) @ (1 << np.arange(len(names), dtype=np.int64))
    text = {c: "+".join(n for i, n in enumerate(names) if c >> i & 1) for c in set(code.tolist())}
    return pd.Series([text[c] for c in code.tolist()], index=has.index, dtype=object)


def book_vol_sources(market: OptionMarket, priced: pd.DataFrame) -> pd.Series:
    """Per (close, book) of the ``priced`` options: the sources of the volatilities of its underlyings at the close
    (:func:`joined_sources`)."""
    labels = pd.Series(vol_sources(market, pd.DatetimeIndex(priced["date"]), priced["underlying"]), index=priced.index)
    return joined_sources(labels, [priced["date"], priced["book"]])


def greek_vol_sources(market: OptionMarket, frame: pd.DataFrame, priced: pd.DataFrame) -> np.ndarray:
    """The ``vol_source`` of each row of ``frame`` (:func:`with_sums` of ``priced`` and the hedges): its underlying's
    at its close, or for a book-level row its book's (:func:`book_vol_sources`)."""
    dates, on = pd.DatetimeIndex(frame["date"]), frame["underlying"].notna().to_numpy()
    out = np.empty(len(frame), dtype=object)
    out[on] = vol_sources(market, dates[on], frame.loc[on, "underlying"])
    out[~on] = book_vol_sources(market, priced).reindex(list(zip(dates[~on], frame.loc[~on, "book"]))).to_numpy()
    return out


def held_vol_sources(market: OptionMarket, priced: pd.DataFrame, held: pd.DatetimeIndex,
                     targets: pd.DatetimeIndex) -> pd.Series:
    """The sources of one book's volatilities at each close of ``held`` (:func:`book_vol_sources`), indexed by the
    next days ``targets`` its stress, replay and reverse-stress rows are reported on."""
    return pd.Series(book_vol_sources(market, priced).droplevel("book").reindex(held).to_numpy(), index=targets)


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


def held_rows(positions: tuple[OptionPosition, ...], calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per (close of ``calendar``, position held at it), in date order: ``date`` and ``position``
    (index into ``positions``)."""
    days = calendar.to_numpy()
    first = np.searchsorted(days, pd.to_datetime([p.opened for p in positions]).to_numpy())
    stop = np.searchsorted(days, pd.to_datetime([p.expiry for p in positions]).to_numpy())
    counts = np.maximum(stop - first, 0)
    position = np.repeat(np.arange(len(positions)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    day = np.repeat(first, counts) + offsets
    order = np.lexsort((position, day))
    return pd.DataFrame({"date": calendar[day[order]], "position": position[order]})


def price_rows(market: OptionMarket, positions: tuple[OptionPosition, ...], rows: pd.DataFrame) -> pd.DataFrame:
    """Price, per-unit and cash Greeks of each held (date, position) of ``rows`` at that close, vectorised.

    With the EWMA proxy, a row whose underlying has fewer than ``ewma_window_days`` stored returns up to
    the day (the start of its history or of the lake) is left out: short history, as for VaR. With
    quotes, a row without one is an error (missing volatility)."""
    settings = market.settings
    if market.quotes is None:
        day_index = market.spot.index.get_indexer(pd.DatetimeIndex(rows["date"]))
        column = market.spot.columns.get_indexer([positions[i].underlying for i in rows["position"]])
        rows = rows.loc[np.isfinite(market.atm_vol.to_numpy()[day_index, column])]
    chosen = [positions[i] for i in rows["position"]]
    attribute = lambda name: np.array([getattr(p, name) for p in chosen])  # noqa: E731
    dates = pd.DatetimeIndex(rows["date"])
    underlying, strike, currency = attribute("underlying"), attribute("strike").astype(float), attribute("currency")
    day_index = market.spot.index.get_indexer(dates)
    column = market.spot.columns.get_indexer(underlying)
    spot = market.spot.to_numpy()[day_index, column]
    years = (pd.to_datetime(attribute("expiry")) - dates).days.to_numpy() / DAYS_PER_YEAR
    if market.quotes is None:
        vols = proxy_vol(market.atm_vol.to_numpy()[day_index, column], spot, strike, settings.skew)
    else:
        vols = np.array([market.vol(day, p, t) for day, p, t in zip(dates, chosen, years)])
    fx = fx_to_base(settings, currency, dates)
    quantity, multiplier = attribute("quantity").astype(float), attribute("multiplier").astype(float)
    units = quantity * multiplier
    rates = np.array([settings.rates.get(c, 0.0) for c in currency])
    dividends = np.array([settings.dividend_yields.get(u, 0.0) for u in underlying])
    is_call = attribute("option_type") == "call"
    greeks = bsm_greeks(is_call, spot, strike, years, vols, rates, dividends)
    cash = cash_greeks(greeks, spot, units, fx)
    return pd.DataFrame(index=rows.index, data={
        "date": dates, "book": attribute("book"), "option": attribute("option"), "option_type": attribute("option_type"),
        "underlying": underlying, "strike": strike, "expiry": attribute("expiry"), "quantity": quantity,
        "contract_multiplier": multiplier, "currency": currency, "spot": spot, "implied_vol": vols,
        "vol_source": vol_sources(market, dates, underlying),
        "years_to_expiry": years, "interest_rate": rates, "dividend_yield": dividends, "fx_rate": fx,
        "is_call": is_call, "option_price": greeks.price, "position_value": greeks.price * units * fx,
        "delta": greeks.delta, "gamma": greeks.gamma, "vega": greeks.vega, "theta": greeks.theta, "rho": greeks.rho,
        "delta_amount": cash.delta_amount, "gamma_amount": cash.gamma_amount, "vega_amount": cash.vega_amount,
        "theta_amount": cash.theta_amount, "rho_amount": cash.rho_amount,
    })


def fx_to_base(settings: OptionSettings, currency: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    """Base currency per unit of each row's ``currency`` at the close of its date (1 for the base currency)."""
    fx = np.ones(len(currency))
    for code in set(currency) - {settings.base_currency}:
        mask = currency == code
        fx[mask] = fx_rate(settings.base_currency, code, dates[mask]).to_numpy()
    return fx


def book_pnl(market: OptionMarket, positions: tuple[OptionPosition, ...], held: pd.DataFrame, priced: pd.DataFrame,
             hedge: pd.DataFrame, target_of: pd.Series) -> pd.DataFrame:
    """Hypothetical P&L of each book held at a close (``held``: :func:`held_rows` at those closes, ``priced``: their
    :func:`price_rows`, ``hedge``: their :func:`hedges`) revalued at the next close ``target_of[close]``, FX included
    (rows: date = the next close, book, hypothetical_pnl, n_options, n_expired, vol_source: the sources its options
    were valued with, :func:`joined_sources`).

    An option alive at the next close is repriced there by :func:`price_rows` (its spot, implied volatility and
    time to expiry then); one whose expiry is on or before the next close (no longer held then, :func:`held_rows`)
    pays its intrinsic value at the next close's spot. Both ends of an option's P&L are valued with one source
    (same-model revaluation): its source at both closes, or, when the two closes' sources differ (the at-the-money
    file has a level at one of them only: its first or last day, a gap), the EWMA proxy at both, so that a change
    of source is no P&L. The hedge's units are revalued at the next close's spot. A book-day with a position not
    priced at either close (no spot or volatility) has a NaN P&L."""
    rows = held.loc[priced.index]
    after = pd.DatetimeIndex(target_of.reindex(pd.DatetimeIndex(rows["date"])).to_numpy())
    expiry = pd.to_datetime([positions[i].expiry for i in rows["position"]])
    expired = np.asarray(expiry <= after)
    used = priced["vol_source"].to_numpy(object).copy()
    switched = ~expired & (used != vol_sources(market, after, priced["underlying"]))
    value_before = priced["position_value"].copy()
    value_after = pd.Series(np.nan, index=rows.index)
    kept = ~expired & ~switched
    value_after.loc[kept] = _values(market, positions, rows.loc[kept].assign(date=after[kept]))
    if switched.any():
        proxy = market.on_proxy()
        value_before.loc[switched] = _values(proxy, positions, rows.loc[switched])
        value_after.loc[switched] = _values(proxy, positions, rows.loc[switched].assign(date=after[switched]))
        used[switched] = "ewma_proxy"
    ended = priced.loc[expired]
    spot = _spots(market, after[expired], ended["underlying"])
    payoff = np.maximum(np.where(ended["is_call"], spot - ended["strike"], ended["strike"] - spot), 0.0)
    value_after.loc[ended.index] = payoff * ended["quantity"] * ended["contract_multiplier"] * \
        fx_to_base(market.settings, ended["currency"].to_numpy(), after[expired])
    options = pd.DataFrame({"date": priced["date"], "book": priced["book"],
                            "pnl": value_after - value_before, "n_expired": expired.astype(int)})
    if len(hedge):
        close = pd.DatetimeIndex(hedge["date"])
        next_close = pd.DatetimeIndex(target_of.reindex(close).to_numpy())
        currency_of = {p.underlying: p.currency for p in positions}
        fx_after = fx_to_base(market.settings, hedge["underlying"].map(currency_of).to_numpy(), next_close)
        hedge_pnl = hedge["quantity"].to_numpy() * (_spots(market, next_close, hedge["underlying"]) * fx_after
                                                    - _spots(market, close, hedge["underlying"]) * hedge["fx_rate"].to_numpy())
        options = pd.concat([options, pd.DataFrame({"date": hedge["date"], "book": hedge["book"], "pnl": hedge_pnl,
                                                    "n_expired": 0})], ignore_index=True)
    keys = [options["date"], options["book"]]
    groups = options["pnl"].groupby(keys)
    # the compensated sum whatever the other rows (pandas' own sum rounds by the frame's layout: risk.sums)
    frame = pd.DataFrame({"hypothetical_pnl": pd.Series(group_sums(options["pnl"], groups.ngroup(), groups.ngroups),
                                                        index=groups.size().index),
                          "missing": options["pnl"].isna().groupby(keys).any(),
                          "n_expired": options["n_expired"].groupby(keys).sum()})
    frame["n_options"] = priced.groupby(["date", "book"]).size().reindex(frame.index).fillna(0).astype(int)
    frame.loc[frame["missing"], "hypothetical_pnl"] = np.nan
    frame = frame.reset_index()
    frame["vol_source"] = joined_sources(pd.Series(used, index=priced.index), [priced["date"], priced["book"]]).reindex(
        list(zip(frame["date"], frame["book"]))).to_numpy()
    frame["date"] = target_of.reindex(pd.DatetimeIndex(frame["date"])).to_numpy()
    return frame[["date", "book", "hypothetical_pnl", "n_options", "n_expired", "vol_source"]]


def _values(market: OptionMarket, positions: tuple[OptionPosition, ...], rows: pd.DataFrame) -> pd.Series:
    """The ``position_value`` of each held (date, position) of ``rows`` (:func:`price_rows`), NaN where not priced."""
    return price_rows(market, positions, rows)["position_value"].reindex(rows.index)


def _spots(market: OptionMarket, dates: pd.DatetimeIndex, underlyings) -> np.ndarray:
    return market.spot.to_numpy()[market.spot.index.get_indexer(dates), market.spot.columns.get_indexer(underlyings)]


def hedges(priced: pd.DataFrame, hedged_books: tuple[str, ...]) -> pd.DataFrame:
    """The daily delta hedge of each hedged book: per date, book and underlying, ``quantity`` =
    -(sum of delta x quantity x contract_multiplier) units of the underlying and the options' ``fx_rate``
    (the options on one underlying share its currency)."""
    rows = priced.loc[priced["book"].isin(hedged_books)]
    exposure = (rows["delta"] * rows["quantity"] * rows["contract_multiplier"]).rename("quantity")
    keys = [rows["date"], rows["book"], rows["underlying"]]
    return pd.concat([-exposure.groupby(keys).sum(), rows["fx_rate"].groupby(keys).first()], axis=1).reset_index()


def load_market(settings: OptionSettings, start: dt.date, end: dt.date, lookback: int):
    """The positions whose underlying is priced over ``start..end`` and ``lookback`` stored days before, and the
    market frames of their underlyings (prices and returns tables). An underlying that is no priced symbol
    stops ``risk-pipeline backfill`` before its run (:func:`risk_pipeline.config.options.check_option_positions`);
    in a run its positions have no rows, as a symbol before its first price."""
    frames = [read_window(table, start, end, lookback=lookback) for table in ("prices", "returns")]
    priced = set(frames[0]["symbol"])
    positions = tuple(p for p in load_option_positions(settings.positions_file) if p.underlying in priced)
    underlyings = sorted({p.underlying for p in positions})
    market = option_market(positions, frames[0], frames[1].loc[frames[1]["symbol"].isin(underlyings)], settings)
    return positions, market


def held_before(settings: OptionSettings, start: dt.date, end: dt.date, lookback: int):
    """The positions, their market, each day of the range with a previous close (``targets``), those closes, the
    options priced at them and the hedges held over the next day: the book each day's figures are of.

    Kept for the process per version of what it reads (:func:`_read_version`): option_pnl and the three option
    stress steps of a day's run ask for the same book (their callers change none of it)."""
    version = _read_version(settings)
    if version is None:
        return _held_before(settings, start, end, lookback)
    key = (version, start, end, lookback)
    if key not in _HELD:
        while len(_HELD) >= 2:  # a run asks for one book (a range run's options steps too)
            del _HELD[next(iter(_HELD))]
        _HELD[key] = _held_before(settings, start, end, lookback)
    return _HELD[key]


_HELD: dict[tuple, tuple] = {}


def _read_version(settings: OptionSettings) -> tuple | None:
    """What :func:`held_before` reads, as it is: the settings, the versions of the prices and returns tables, of the
    positions and volatility files and of the FX rates; None when a file is missing (its reader names it)."""
    tables = []
    for table in ("prices", "returns"):
        delta = open_table(table)
        tables.append(None if delta is None else version_key(table_uri(table), delta))
    try:
        files = tuple(None if f is None else file_version(Path(f)) for f in (settings.positions_file, settings.vol_file))
    except OSError:
        return None
    return repr(settings), tuple(tables), files, rates_version()


def _held_before(settings: OptionSettings, start: dt.date, end: dt.date, lookback: int):
    positions, market = load_market(settings, start, end, lookback=lookback)
    calendar = market.spot.index
    targets = calendar[(calendar >= pd.Timestamp(start))]
    targets = targets[calendar.get_indexer(targets) >= 1]
    previous = calendar[calendar.get_indexer(targets) - 1]
    priced = price_rows(market, positions, held_rows(positions, previous))
    return positions, market, targets, previous, priced, hedges(priced, settings.delta_hedged_books)



def own_history(market: OptionMarket, closes: pd.DatetimeIndex) -> bool:
    """Whether the at-the-money volatility of every underlying at the first of ``closes``, and so at each later close,
    is what any longer read of the stored days would give: each underlying has its ``ewma_window_days`` returns of
    the EWMA proxy read on or before that close (the proxy's window starts inside the read), or the volatilities
    are quoted (no proxy). False where an underlying has days without a return in the read's look-back (stored days
    of the table, not its own): a read reaching further back would give its proxy there a longer history."""
    if market.quotes is not None or not len(closes):
        return True
    known = market.returns.loc[:closes[0]].notna().sum()
    return bool((known >= market.settings.ewma_window_days).all())

def with_sums(positions: pd.DataFrame) -> pd.DataFrame:
    """The position rows (options and hedges) with their sums per underlying and per book, per close."""
    amounts = list(GREEK_AMOUNTS)
    by_underlying = positions.groupby(["date", "book", "underlying"], as_index=False)[amounts].sum()
    whole = positions.groupby(["date", "book"], as_index=False)[amounts].sum()
    return pd.concat([positions.assign(level="position"), by_underlying.assign(level="underlying"),
                      whole.assign(level="book")], ignore_index=True)


def hedge_rows(market: OptionMarket, hedge: pd.DataFrame) -> pd.DataFrame:
    """The hedge of each hedged book and close as a position in the underlying (delta 1, no other Greek)."""
    spot = market.spot.to_numpy()[market.spot.index.get_indexer(pd.DatetimeIndex(hedge["date"])),
                                  market.spot.columns.get_indexer(hedge["underlying"])]
    value = hedge["quantity"].to_numpy() * spot * hedge["fx_rate"].to_numpy()
    return hedge.assign(option=hedge["underlying"] + ".hedge", option_type=HEDGE_TYPE, contract_multiplier=1.0,
                        spot=spot, option_price=spot, position_value=value, delta=1.0, gamma=0.0, vega=0.0, theta=0.0,
                        rho=0.0, delta_amount=value, gamma_amount=0.0, vega_amount=0.0, theta_amount=0.0,
                        rho_amount=0.0)


def held_arrays(market: OptionMarket, priced: pd.DataFrame, hedge: pd.DataFrame, held_at: pd.DatetimeIndex,
                underlyings: list[str]) -> tuple[np.ndarray, np.ndarray, OptionBook]:
    """The book held at each close of ``held_at`` as the options core takes it: spots and hedge units x FX
    ``(closes, underlyings)``, and the options (``day``: the close's row) of ``priced`` at those closes."""
    spot = market.spot.loc[held_at, underlyings].to_numpy()
    linear = (hedge.assign(units=hedge["quantity"] * hedge["fx_rate"])
              .pivot_table(index="date", columns="underlying", values="units", aggfunc="sum")
              .reindex(index=held_at, columns=underlyings).fillna(0.0).to_numpy()) if len(hedge) else \
        np.zeros((len(held_at), len(underlyings)))
    rows = priced.loc[priced["date"].isin(held_at)]
    book = OptionBook(underlying=np.array([underlyings.index(u) for u in rows["underlying"]], dtype=int),
                      is_call=rows["is_call"].to_numpy(bool), strike=rows["strike"].to_numpy(float),
                      years=rows["years_to_expiry"].to_numpy(float), vol=rows["implied_vol"].to_numpy(float),
                      units=(rows["quantity"] * rows["contract_multiplier"] * rows["fx_rate"]).to_numpy(float),
                      rate=rows["interest_rate"].to_numpy(float), dividend=rows["dividend_yield"].to_numpy(float),
                      day=held_at.get_indexer(pd.DatetimeIndex(rows["date"])))
    return spot, linear, book


VAR_CHUNK_DAYS = 1000  # days of scenario windows built at once (bounds the memory of a long backfill)


def book_var(market: OptionMarket, priced: pd.DataFrame, hedge: pd.DataFrame, closes: pd.DatetimeIndex,
             window: int, confidences: tuple[float, ...], horizons: tuple[int, ...]) -> pd.DataFrame:
    """VaR/ES of one book held at each of ``closes`` (rows: close, method, confidence, horizon_days, var_amount,
    es_amount, n_options; ``priced`` and ``hedge`` at those closes) from the ``window`` days of returns and
    at-the-money volatility changes up to the close: the forecast for the next day. A close whose window has a
    gap (short history) or without an option has no row."""
    calendar = market.spot.index
    underlyings = sorted(set(priced["underlying"]))
    returns = market.returns[underlyings].to_numpy()
    changes = market.atm_change[underlyings].to_numpy()
    ends = calendar.get_indexer(closes)
    previous = calendar[ends]
    keep = ends - window + 1 >= 0
    frames = []
    for first in range(0, len(closes), VAR_CHUNK_DAYS):
        chunk = np.arange(first, min(first + VAR_CHUNK_DAYS, len(closes)))
        chunk = chunk[keep[chunk]]
        if not len(chunk):
            continue
        low, high = ends[chunk[0]] - window + 1, ends[chunk[-1]] + 1
        held_at = previous[chunk]  # not ``closes``: the loop's bound (a reassigned ``closes`` ended it after one chunk)
        spot, linear, book = held_arrays(market, priced, hedge, held_at, underlyings)
        n_options = np.bincount(book.day, minlength=len(chunk))
        for h in horizons:
            scenario_returns, scenario_changes = window_scenarios(returns[low:high], changes[low:high], window, h)
            offsets = ends[chunk] - window + 1 - low
            scenario_returns, scenario_changes = scenario_returns[offsets], scenario_changes[offsets]
            complete = np.isfinite(scenario_returns).all(axis=(1, 2)) & np.isfinite(scenario_changes).all(axis=(1, 2))
            result = days_var_es(book, spot, linear, np.nan_to_num(scenario_returns), np.nan_to_num(scenario_changes),
                                 horizon_years(h), confidences)
            for method, values in result.items():
                for k, c in enumerate(confidences):
                    frames.append(pd.DataFrame({
                        "close": previous[chunk], "method": str(method), "confidence": c, "horizon_days": h,
                        "var_amount": values[:, k, 0], "es_amount": values[:, k, 1], "n_options": n_options,
                    }).loc[complete & (n_options > 0)])
    columns = ["close", "method", "confidence", "horizon_days", "var_amount", "es_amount", "n_options"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def var_rows(settings: OptionSettings, start: dt.date, end: dt.date, window: int, confidences: tuple[float, ...],
             horizons: tuple[int, ...]) -> pd.DataFrame:
    """The ``var_estimates`` rows of every option book on the days ``start..end``: per day t, method, confidence and
    horizon the VaR/ES amounts of the book held at the close of t-1 (:func:`book_var`, the ``window`` days before t),
    ``portfolio`` the book's name; ``var`` and ``es`` (fractions of value) empty: an option book has no value scale
    (docs/methods.md, section Options)."""
    positions, market, targets, previous, priced, hedge = held_before(settings, start, end,
                                                                       window + settings.ewma_window_days + 2)
    target_of = dict(zip(previous, targets))
    frames = []
    for book in dict.fromkeys(p.book for p in positions):
        own = priced.loc[priced["book"] == book]
        if own.empty:
            continue
        rows = book_var(market, own, hedge.loc[hedge["book"] == book], previous, window, confidences, horizons)
        frames.append(rows.assign(date=pd.DatetimeIndex(rows["close"].map(target_of)), portfolio=book,
                                  estimation_window_days=window, var=np.nan, es=np.nan,
                                  base_currency=settings.base_currency).drop(columns=["close", "n_options"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@dataclass(frozen=True)
class OptionScenarios:
    """Stress scenarios resolved for the underlyings (columns) of the option books: spot shocks (simple returns),
    implied-volatility changes and FX returns of each underlying's currency against the base (rows: scenarios);
    per scenario its type, whether some move was proxied or not measured (``proxied``), and the last day of its
    window (historical: reported only on later days; NaT for the hypothetical ones)."""

    spot: pd.DataFrame
    vol: pd.DataFrame
    fx: pd.DataFrame
    kind: pd.Series
    proxied: pd.Series
    window_end: pd.Series


def atm_changes(market: OptionMarket, underlying: str, returns: pd.Series, start: dt.date, end: dt.date) -> pd.Series:
    """Change of ``underlying``'s at-the-money volatility from the last close before ``start`` to each close of the
    window ``start..end``: the levels of the at-the-money file when it has every one of those closes, else the proxy
    from ``returns`` (the stored days up to ``end`` with enough before ``start``) or the quoted surface at 30 days and
    the close's spot; NaN where either is not known."""
    window = returns.index[(returns.index >= pd.Timestamp(start)) & (returns.index <= pd.Timestamp(end))]
    before = returns.index[returns.index < pd.Timestamp(start)]
    if not len(before):
        return pd.Series(np.nan, index=window)
    days = before[-1:].append(window)
    levels = None if market.levels is None else market.levels["implied_vol"].get(underlying)
    if levels is not None and levels.reindex(days).notna().all():  # the window inside the file: its levels
        atm = levels.reindex(days)
    elif market.quotes is None:
        width = market.settings.ewma_window_days
        known = returns.loc[:days[-1]].dropna()
        first = known.index[known.index <= days[0]]
        known = known.loc[first[-width]:] if len(first) >= width else known  # the returns the closes' windows hold
        atm = pd.Series(ewma_atm_vol(known.to_numpy(), width), index=known.index)
        atm = atm.reindex(days)
    else:
        closes = read_days("prices", [d.date() for d in days], where={"symbol": underlying})
        spot = pd.Series(closes["close"].to_numpy(), index=pd.DatetimeIndex(closes["date"]))
        atm = pd.Series([_surface_atm(market.quotes, d, underlying, spot.get(d, np.nan)) for d in days], index=days)
    return atm.iloc[1:] - atm.iloc[0]


def episode_paths(market: OptionMarket, scenario: HistoricalScenario, days: pd.DatetimeIndex, history: pd.DataFrame,
                  currency_of: dict, market_proxy: str) -> OptionScenarios:
    """A historical window as one scenario per close of it: the moves from the close before the window to that
    close (compounded local returns, missing days proxied by beta x the market as in the stress; the change of
    at-the-money volatility; the compounded FX returns of the underlying's currency against the base)."""
    underlyings = list(market.spot.columns)
    base = market.settings.base_currency
    local = history.reindex(index=days, columns=sorted(set(underlyings) | {market_proxy}))
    moves = episode_returns(scenario.name, scenario.start, scenario.end, local, None, {u: base for u in underlyings},
                            base, market=market_proxy)
    window = moves.returns.index
    spot = (1.0 + moves.returns[underlyings]).cumprod() - 1.0
    foreign = sorted({currency_of[u] for u in underlyings} - {base})
    currencies = (1.0 + currency_returns(base, foreign, days).reindex(window).fillna(0.0)).cumprod() - 1.0 \
        if foreign else pd.DataFrame(index=window)
    fx = pd.DataFrame({u: currencies[currency_of[u]] if currency_of[u] != base else 0.0 for u in underlyings},
                      index=window)
    vol = pd.DataFrame({u: atm_changes(market, u, local[u], scenario.start, scenario.end).reindex(window)
                        for u in underlyings})
    proxied = bool(moves.proxied) or bool(vol.isna().to_numpy().any())
    return OptionScenarios(spot=spot, vol=vol.fillna(0.0), fx=fx, kind=pd.Series("historical", index=window),
                           proxied=pd.Series(proxied, index=window),
                           window_end=pd.Series(pd.Timestamp(scenario.end), index=window))


def resolve_option_scenarios(market: OptionMarket, scenarios, history: pd.DataFrame, usable: dict, currency_of: dict,
                             market_proxy: str) -> OptionScenarios:
    """The scenarios of the scenarios file (historical ones: those of ``usable``, name -> (scenario, its stored days),
    with the stored local ``history`` of returns) as moves of the underlyings (:class:`OptionScenarios`)."""
    underlyings = list(market.spot.columns)
    base = market.settings.base_currency
    foreign = sorted({currency_of[u] for u in underlyings} - {base})
    rows = []
    for scenario in scenarios:
        if isinstance(scenario, HistoricalScenario):
            if scenario.name not in usable:
                continue
            days = usable[scenario.name][1]
            local = history.reindex(index=days, columns=sorted(set(underlyings) | {market_proxy}))
            shocks = scenario_shocks(scenario, underlyings, foreign_currencies=foreign, asset_returns=local,
                                     fx_returns=currency_returns(base, foreign, days) if foreign else None,
                                     market=market_proxy)
            vol = pd.Series({u: atm_changes(market, u, local[u], scenario.start, scenario.end).iloc[-1]
                             for u in underlyings})
            end = pd.Timestamp(scenario.end)
        else:
            shocks = scenario_shocks(scenario, underlyings, foreign_currencies=foreign)
            vol, end = pd.Series(scenario.volatility, index=underlyings), pd.NaT
        fx = pd.Series({u: float(shocks.fx.get(currency_of[u], 0.0)) for u in underlyings})
        rows.append((scenario.name, scenario.kind.value, shocks.equity.reindex(underlyings).to_numpy(float),
                     vol.fillna(0.0).to_numpy(float), fx.to_numpy(float),
                     bool(shocks.proxied) or bool(vol.isna().any()), end))
    names = [r[0] for r in rows]

    def frame(i: int) -> pd.DataFrame:
        return pd.DataFrame(np.array([r[i] for r in rows]).reshape(len(rows), len(underlyings)), index=names,
                            columns=underlyings)

    return OptionScenarios(spot=frame(2), vol=frame(3), fx=frame(4), kind=pd.Series([r[1] for r in rows], index=names),
                           proxied=pd.Series([r[5] for r in rows], index=names, dtype=bool),
                           window_end=pd.Series([r[6] for r in rows], index=names, dtype="datetime64[ns]"))


def book_stress(market: OptionMarket, priced: pd.DataFrame, hedge: pd.DataFrame, closes: pd.DatetimeIndex,
                targets: pd.DatetimeIndex, scenarios: OptionScenarios) -> pd.DataFrame:
    """Profit of one book held at each of ``closes`` under each scenario, reported on the next day ``targets``
    (rows: date, scenario, scenario_type, pnl, proxied, n_options); a historical scenario only on the days after its
    window, a day without an option has no row."""
    underlyings = sorted(set(priced["underlying"]))
    spot, linear, book = held_arrays(market, priced, hedge, closes, underlyings)
    profit = stress_pnl(book, spot, linear, *(getattr(scenarios, f)[underlyings].to_numpy() for f in ("spot", "vol",
                                                                                                       "fx")))
    return _scenario_rows(targets, scenarios, book, pnl=profit.ravel())


def _scenario_rows(targets: pd.DatetimeIndex, scenarios: OptionScenarios, book: OptionBook, **values) -> pd.DataFrame:
    """A row per day of ``targets`` and scenario (date, scenario, scenario_type, ``values`` (raveled day-major),
    proxied, n_options): a historical scenario only on the days after its window, a day without an option none."""
    n_days, names = len(targets), scenarios.spot.index
    n_options = np.bincount(book.day, minlength=n_days)
    frame = pd.DataFrame({"date": np.repeat(targets.to_numpy(), len(names)), "scenario": np.tile(names, n_days),
                          "scenario_type": np.tile(scenarios.kind.to_numpy(), n_days), **values,
                          "proxied": np.tile(scenarios.proxied.to_numpy(), n_days),
                          "n_options": np.repeat(n_options, len(names))})
    window_end = np.tile(scenarios.window_end.to_numpy(), n_days)
    reported = pd.isna(window_end) | (window_end < frame["date"].to_numpy())
    return frame.loc[reported & (frame["n_options"] > 0).to_numpy()].reset_index(drop=True)


def book_reverse_stress(market: OptionMarket, priced: pd.DataFrame, hedge: pd.DataFrame, closes: pd.DatetimeIndex,
                        targets: pd.DatetimeIndex, scenarios: OptionScenarios, target_loss: np.ndarray,
                        bracket: tuple[float, float], n_grid: int) -> pd.DataFrame:
    """The smallest multiple of each scenario at which one book held at each of ``closes`` loses ``target_loss``
    of that close (:func:`risk_pipeline.risk.options.reverse.reverse_multiples`), reported on the next day
    ``targets`` (rows: date, scenario, scenario_type, target_loss, multiplier, feasible, achieved_loss, proxied,
    n_options; multiplier and achieved_loss null where not reached); the days and scenarios of :func:`book_stress`."""
    underlyings = sorted(set(priced["underlying"]))
    spot, linear, book = held_arrays(market, priced, hedge, closes, underlyings)
    shocks, vol, fx = (getattr(scenarios, f)[underlyings].to_numpy() for f in ("spot", "vol", "fx"))
    multiple, achieved = reverse_multiples(book, spot, linear, shocks, vol, fx, target_loss, bracket=bracket,
                                           n_grid=n_grid)
    return _scenario_rows(targets, scenarios, book, target_loss=np.repeat(target_loss, len(scenarios.spot.index)),
                          multiplier=multiple.ravel(), feasible=np.isfinite(multiple.ravel()),
                          achieved_loss=achieved.ravel())


def book_replay(market: OptionMarket, priced: pd.DataFrame, hedge: pd.DataFrame, closes: pd.DatetimeIndex,
                targets: pd.DatetimeIndex, episode: str, path: OptionScenarios) -> pd.DataFrame:
    """The book held at each of ``closes`` repriced at each close of a historical episode (``path``: the moves from
    before the episode to that close, :func:`episode_paths`), reported on the next day ``targets`` after the
    episode (rows: date, episode, worst_date, worst_cum_pnl, final_cum_pnl, n_days, proxied, n_options)."""
    underlyings = sorted(set(priced["underlying"]))
    reported = targets > path.window_end.iloc[0]
    closes, targets = closes[reported], targets[reported]
    spot, linear, book = held_arrays(market, priced, hedge, closes, underlyings)
    profit = stress_pnl(book, spot, linear, *(getattr(path, f)[underlyings].to_numpy() for f in ("spot", "vol", "fx")))
    n_options = np.bincount(book.day, minlength=len(closes))
    worst = np.argmin(profit, axis=1) if profit.size else np.zeros(len(closes), dtype=int)
    frame = pd.DataFrame({"date": targets, "episode": episode, "worst_date": path.spot.index[worst] if len(closes)
                          else pd.DatetimeIndex([]), "worst_cum_pnl": profit[np.arange(len(closes)), worst],
                          "final_cum_pnl": profit[:, -1], "n_days": np.int64(len(path.spot)),
                          "proxied": bool(path.proxied.iloc[0]), "n_options": n_options})
    return frame.loc[frame["n_options"] > 0].reset_index(drop=True)
