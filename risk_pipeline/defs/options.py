"""Option books: the option_greeks and option_var tables per book and day.

Positions come from the CSV named by ``options.positions_file`` (format:
:mod:`risk_pipeline.config.options`); none by default, and then both assets succeed with no
rows. Market frames, the daily hedge and the volatility source: :mod:`risk_pipeline.option_books`;
the maths: :mod:`risk_pipeline.risk.options`.

- ``option_greeks``: per book and close, one row per position (each option and the hedge of a
  hedged book), per underlying and for the book (``level``), Greeks per unit and in base currency.
- ``option_var``: per book and day t, the VaR/ES of the book held at the close of t-1 by full
  revaluation, delta-gamma-vega and delta-only (methods of
  :class:`risk_pipeline.risk.options.var.OptionVarMethod`), from the
  ``options.estimation_window_days`` days of returns and volatility changes before t. It is kept
  beside ``var_estimates`` (same key columns: date, book as portfolio, method, confidence,
  horizon_days) until option books are portfolios of the positions table (docs/methods.md).
"""


import datetime as dt
from typing import Optional

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.config.options import OptionSettings, load_option_positions, option_settings
from risk_pipeline.config.settings import section
from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.option_books import HEDGE_TYPE, OptionMarket, core_book, held, option_market, price_book
from risk_pipeline.risk.options.var import historical_scenarios, horizon_years, options_var_es
from risk_pipeline.storage.lake import empty_frame, read_window
from risk_pipeline.storage.schemas import table_schema

_OPTIONS = section("options")
GREEK_AMOUNTS = ("position_value", "delta_amount", "gamma_amount", "vega_amount", "theta_amount", "rho_amount")
LEVELS = ("position", "underlying", "book")


class OptionsConfig(dg.Config):
    """Option positions and their market data; defaults from the ``options`` section of pipeline.yaml."""

    positions_file: Optional[str] = _OPTIONS["positions_file"]
    delta_hedged_books: list[str] = list(_OPTIONS["delta_hedged_books"] or [])
    vol_source: str = _OPTIONS["vol_source"]
    vol_file: Optional[str] = _OPTIONS["vol_file"]
    ewma_window_days: int = int(_OPTIONS["ewma_window_days"])
    estimation_window_days: int = int(_OPTIONS["estimation_window_days"])
    confidences: list[float] = list(_OPTIONS["confidences"])
    horizons: list[int] = list(_OPTIONS["horizons"])

    def settings(self) -> OptionSettings | None:
        return option_settings({**_OPTIONS, **self.model_dump()})


def _market(settings: OptionSettings, start: dt.date, end: dt.date, lookback: int):
    positions = load_option_positions(settings.positions_file)
    underlyings = sorted({p.underlying for p in positions})
    frames = [read_window(table, start, end, lookback=lookback) for table in ("prices", "returns")]
    priced = frames[0]
    market = option_market(positions, priced, frames[1].loc[frames[1]["symbol"].isin(underlyings)], settings)
    return positions, market


def _levels(frame: pd.DataFrame, book: str, base_currency: str) -> pd.DataFrame:
    """The position rows of one book and close, with their sums per underlying and for the book."""
    by_underlying = frame.groupby("underlying", as_index=False)[list(GREEK_AMOUNTS)].sum().assign(level="underlying")
    whole = frame[list(GREEK_AMOUNTS)].sum().to_frame().T.assign(level="book")
    return pd.concat([frame.assign(level="position"), by_underlying, whole], ignore_index=True).assign(
        book=book, base_currency=base_currency)


def _hedge_rows(market: OptionMarket, hedge: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    spot = market.spot.loc[day, hedge.index].to_numpy()
    value = hedge["quantity"].to_numpy() * spot * hedge["fx_rate"].to_numpy()
    return pd.DataFrame({"option": [f"{u}.hedge" for u in hedge.index], "option_type": HEDGE_TYPE,
                         "underlying": hedge.index, "quantity": hedge["quantity"].to_numpy(), "contract_multiplier": 1.0,
                         "spot": spot, "fx_rate": hedge["fx_rate"].to_numpy(), "option_price": spot,
                         "position_value": value, "delta": 1.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0, "rho": 0.0,
                         "delta_amount": value, "gamma_amount": 0.0, "vega_amount": 0.0, "theta_amount": 0.0,
                         "rho_amount": 0.0})


def _books(positions) -> list[str]:
    return list(dict.fromkeys(p.book for p in positions))


@lake_asset(
    group_name="options",
    deps=[prices, returns],
    description=(
        "Per option book and close: price, implied volatility and Greeks (delta, gamma, vega, theta, rho) per unit and "
        "in base currency of each position (options and the daily delta hedge), summed per underlying and per book."
    ),
)
def option_greeks(context: dg.AssetExecutionContext, config: OptionsConfig) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    settings = config.settings()
    if settings is None:
        return publish("option_greeks", empty_frame("option_greeks"), days, keys=[],
                       note=dg.MetadataValue.text("no option positions configured (options.positions_file is null)"))
    positions, market = _market(settings, start, end, lookback=settings.ewma_window_days + 1)
    frames = []
    for day in market.spot.index[market.spot.index >= pd.Timestamp(start)]:
        for book in _books(positions):
            options = held(positions, book, day.date())
            if not options:
                continue
            priced = price_book(market, options, book, day)
            frame = pd.concat([priced.frame, _hedge_rows(market, priced.hedge, day)], ignore_index=True)
            frames.append(_levels(frame, book, settings.base_currency).assign(date=day.date(),
                                                                               vol_source=settings.vol_source))
    columns = table_schema("option_greeks").columns
    frame = pd.concat(frames, ignore_index=True).reindex(columns=columns) if frames else empty_frame("option_greeks")
    return publish("option_greeks", frame, days, keys=_books(positions), books=dg.MetadataValue.int(len(_books(positions))),
                   vol_source=dg.MetadataValue.text(settings.vol_source))


def book_var_rows(market: OptionMarket, positions, book: str, day: pd.Timestamp, previous: pd.Timestamp,
                  window: int, confidences: tuple[float, ...], horizons: tuple[int, ...]) -> pd.DataFrame | None:
    """VaR/ES rows of ``book`` for ``day`` from its book at the close of ``previous`` (None: no options or short history)."""
    options = held(positions, book, previous.date())
    if not options:
        return None
    underlyings = sorted({p.underlying for p in options})
    past = market.returns.loc[market.returns.index <= previous, underlyings].tail(window)
    vol_changes = market.atm_vol[underlyings].diff().reindex(past.index)
    if len(past) < window or past.isna().any(axis=None) or vol_changes.isna().any(axis=None):
        return None
    priced = price_book(market, options, book, previous)
    core = core_book(priced, underlyings)
    spot = market.spot.loc[previous, underlyings].to_numpy()
    rows = []
    for h in horizons:
        scenarios = historical_scenarios(past.to_numpy(), vol_changes.to_numpy(), h)
        result = options_var_es(core, spot, priced.linear_units(underlyings), scenarios, horizon_years(h), confidences)
        for method, values in result.items():
            rows += [{"method": str(method), "confidence": c, "horizon_days": h, "var_amount": v, "es_amount": e}
                     for c, (v, e) in zip(confidences, values)]
    return pd.DataFrame(rows).assign(date=day.date(), book=book, estimation_window_days=window,
                                     n_options=len(options), vol_source=market.settings.vol_source)


@lake_asset(
    group_name="options",
    deps=[prices, returns],
    description=(
        "Per option book, day, method (full_revaluation, delta_gamma_vega, delta_only), confidence and horizon: VaR and "
        "ES in base currency of the book held at the previous close, from historical returns and volatility changes."
    ),
)
def option_var(context: dg.AssetExecutionContext, config: OptionsConfig) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    settings = config.settings()
    if settings is None:
        return publish("option_var", empty_frame("option_var"), days, keys=[],
                       note=dg.MetadataValue.text("no option positions configured (options.positions_file is null)"))
    window = config.estimation_window_days
    positions, market = _market(settings, start, end, lookback=window + settings.ewma_window_days + 2)
    calendar = market.spot.index
    frames = []
    for i in np.flatnonzero(calendar >= pd.Timestamp(start)):
        if i == 0:
            continue
        for book in _books(positions):
            rows = book_var_rows(market, positions, book, calendar[i], calendar[i - 1], window,
                                 tuple(config.confidences), tuple(config.horizons))
            if rows is not None:
                frames.append(rows.assign(base_currency=settings.base_currency))
    columns = table_schema("option_var").columns
    frame = pd.concat(frames, ignore_index=True)[columns] if frames else empty_frame("option_var")
    return publish("option_var", frame, days, keys=_books(positions), books=dg.MetadataValue.int(len(_books(positions))),
                   vol_source=dg.MetadataValue.text(settings.vol_source))
