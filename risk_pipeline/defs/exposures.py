"""The positions a forecast is made for: for each forecast day t, the base-currency value of each
instrument held at the close of t-1, and the book's value at that close.

The VaR engine (:func:`risk_pipeline.risk.var.held_positions.held_var_es_grid`) and Monte Carlo
read the positions held through these two functions only. They read the book's frames: a book of
the portfolios file (:func:`risk_pipeline.books.build_book`: constant weights rebalanced to the
notional at each close, or constant quantities valued at each close), or a book of record
(:func:`risk_pipeline.defs.portfolios.record_book`: the quantities of the ``positions`` table at
each close times that close's price and FX, the frames ``portfolio_pnl`` values it with; NaN on
the days without stored positions, which have no forecast the day after).

A bond instrument the book holds is revalued by :func:`bond_scenarios`: its yield moves applied to the
bond held, with its currency's FX moves, rather than its past returns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_pipeline.books import Book, currency_returns
from risk_pipeline.config.settings import section
from risk_pipeline.risk.instruments.bonds import DAYS_PER_YEAR, rolled_par_bond_scenarios
from risk_pipeline.risk.var.held_positions import ScenarioReturns
from risk_pipeline.sources.bond_instruments import configured_instruments, instrument_yields, yield_source


def book_exposures(book: Book, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Forecast days x the book's instruments: the value in base currency of each position held at
    the close before each day (NaN where that close is unknown)."""
    return book.exposures.shift(1).reindex(days)


def held_values(book: Book, days: pd.DatetimeIndex) -> pd.Series:
    """The book's value at the close before each forecast day (the value the forecast is a fraction of)."""
    return book.values.shift(1).reindex(days)


def bond_scenarios(book: Book) -> dict[str, ScenarioReturns]:
    """The scenario returns (base currency) of each bond instrument of the book, for
    :func:`risk_pipeline.risk.var.held_positions.held_windows`: on the book's calendar (its returns'
    dates), scenario s of forecast day t is the bond held at the close of t-1 (the par bond at that
    close's yield) repriced under day s's yield move over day s's time, times day s's FX move
    ``(1 + R_t(s)) (1 + r_fx(s)) - 1`` (:func:`risk_pipeline.risk.instruments.bonds.rolled_par_bond_scenarios`);
    NaN where a yield or rate is missing (no forecast that day)."""
    held = [i for i in configured_instruments() if i.symbol in book.asset_returns.columns]
    if not held:
        return {}
    dates = pd.DatetimeIndex(book.asset_returns.index)
    settings = section("bonds")
    yields = instrument_yields(held, yield_source(settings["source"], settings["csv_path"]), dates[-1].date())
    tau = np.concatenate([[np.nan], np.diff(dates.to_numpy()).astype("timedelta64[D]").astype(float)]) / DAYS_PER_YEAR
    out: dict[str, ScenarioReturns] = {}
    for instrument in held:
        level = (yields.loc[yields["series"] == instrument.yield_series].set_index("date")["yield"]
                 .reindex(dates).to_numpy())
        fx = currency_returns(book.portfolio.base_currency, [instrument.currency], dates)[instrument.currency]
        fx = fx.to_numpy()

        def scenario_returns(rows: np.ndarray, window: int, level=level, fx=fx, instrument=instrument) -> np.ndarray:
            local = rolled_par_bond_scenarios(level, tau, rows, window, instrument.tenor_years, instrument.frequency)
            return (1.0 + local) * (1.0 + fx[rows[:, None] + np.arange(-window, 0)]) - 1.0

        out[instrument.symbol] = scenario_returns
    return out
