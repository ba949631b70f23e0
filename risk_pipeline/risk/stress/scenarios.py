"""Stress scenarios: definitions, calibration from data, and their P&L on a portfolio.

Scenario kinds (the YAML in ``risk_pipeline/config/scenarios.yaml`` is loaded into these by
:mod:`risk_pipeline.config.scenarios`):

- :class:`HistoricalScenario` — a documented window [start, end]. Shocks are not typed in:
  :func:`calibrate_scenario` measures each symbol's cumulative return over the window,
  ``shock_i = prod_{t in window} (1 + r_{i,t}) - 1``, from the data.
- :class:`UniformEquityScenario` — the same shock for every equity.
- :class:`SectorScenario` — a shock per sector (sector map symbol -> sector) and a default
  for symbols of other / unknown sectors.
- :class:`FxScenario` — the base currency moves by ``base_currency_change`` against every
  other currency; foreign positions get FX return ``1 / (1 + change) - 1``.

P&L (positions are base-currency exposures ``E_i`` at the start of the scenario; for a
position quoted in a foreign currency the FX return ``f`` is that currency's move against the
base, zero for base-currency positions):

    pnl    = sum_i E_i [ (1 + k s_i)^+ (1 + k f_i)^+ - 1 ]
    return = pnl / V,            V = portfolio value (default sum_i E_i)

with multiplier ``k = 1`` for the scenario itself (``k`` is used by reverse stress) and
``x^+ = max(x, 0)``: a price cannot fall below zero, so a shock scaled beyond -100% is
capped at -100%. Linear in the equity shock; with an FX shock the product gives the exact
base-currency P&L ``E((1 + r_local)(1 + r_fx) - 1)`` (see :mod:`risk_pipeline.risk.instruments.fx`).

Missing data in a historical window (symbol not yet listed, gaps) is proxied day by day by
``beta_i * r_market`` with ``beta_i = cov(r_i, r_m) / var(r_m)`` over all days of the
supplied history where both are observed (the caller passes history up to the as-of date,
so no look-ahead); with fewer than ``MIN_BETA_OBS`` overlapping days ``beta_i = 1`` (the
market's own move). Without a market series (FX), a missing day counts as no move. Every
proxied symbol is flagged. Source for the beta proxy: the single-index mapping of Jorion,
"Value at Risk" (3rd ed.), ch. 7; for historical stress scenarios in general, BIS/BCBS
"Principles for sound stress testing practices and supervision" (2009).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import numpy as np
import pandas as pd

from risk_pipeline.risk.instruments.fx import fx_return_for_base_change

MIN_BETA_OBS = 60
"""Fewest overlapping observations for a proxy beta; below it the proxy is the market move."""

STRESS_COLUMNS: tuple[str, ...] = ("scenario", "pnl", "simple_return", "proxied")
"""Columns of :func:`stress_table` (the caller adds date and portfolio)."""


class ScenarioType(StrEnum):
    """The kinds of scenario; each value is the ``type`` of the scenarios file and of the stored rows."""

    HISTORICAL = "historical"
    UNIFORM_EQUITY = "uniform_equity"
    SECTOR = "sector"
    FX = "fx"


class StressInputError(ValueError):
    """Stress inputs are malformed (names the scenario / symbol / parameter)."""


@dataclass(frozen=True)
class HistoricalScenario:
    """A historical episode: shocks are the data's cumulative returns over [start, end]."""

    kind: ClassVar[ScenarioType] = ScenarioType.HISTORICAL
    name: str
    description: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class UniformEquityScenario:
    """Every equity moves by ``equity_shock`` (e.g. -0.20); the symbols of ``not_equities`` (bonds) do not move."""

    kind: ClassVar[ScenarioType] = ScenarioType.UNIFORM_EQUITY
    name: str
    description: str
    equity_shock: float
    volatility: float = 0.0  # implied-volatility change of every option (risk.options.stress); equities ignore it
    not_equities: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SectorScenario:
    """Shock per sector; ``sectors`` maps symbol -> sector; others get ``default_shock``."""

    kind: ClassVar[ScenarioType] = ScenarioType.SECTOR
    name: str
    description: str
    sector_shocks: Mapping[str, float]
    default_shock: float
    sectors: Mapping[str, str]
    volatility: float = 0.0  # implied-volatility change of every option (risk.options.stress); equities ignore it


@dataclass(frozen=True)
class FxScenario:
    """The base currency moves by ``base_currency_change`` (+0.10: base +10% vs all others)."""

    kind: ClassVar[ScenarioType] = ScenarioType.FX
    name: str
    description: str
    base_currency_change: float
    volatility: float = 0.0  # implied-volatility change of every option (risk.options.stress); equities ignore it


Scenario = HistoricalScenario | UniformEquityScenario | SectorScenario | FxScenario


@dataclass(frozen=True)
class CalibratedScenario:
    """Shocks measured over a historical window.

    ``shocks``, ``proxied`` and ``proxy_beta`` are indexed by symbol; ``proxy_beta`` is NaN
    for symbols with full data in the window; ``n_days`` counts the window's trading days.
    """

    start: dt.date
    end: dt.date
    n_days: int
    shocks: pd.Series
    proxied: pd.Series
    proxy_beta: pd.Series


@dataclass(frozen=True)
class ScenarioShocks:
    """A scenario resolved for a portfolio: equity shocks by symbol (local-currency
    returns), FX returns by foreign currency (vs the base), and the proxied names."""

    scenario: str
    equity: pd.Series
    fx: pd.Series
    proxied: tuple[str, ...]


@dataclass(frozen=True)
class StressResult:
    """Portfolio P&L (base currency) and return under one scenario."""

    scenario: str
    pnl: float
    simple_return: float
    proxied: bool


def _as_date(value) -> dt.date:
    return pd.Timestamp(value).date()


def fill_with_beta_proxy(
    window: pd.DataFrame, history: pd.DataFrame, market: str | None
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Fill NaN returns of ``window`` with ``beta_i * r_market`` (module docstring).

    Returns ``(filled, proxied, beta)``: ``proxied`` (bool by column) marks columns with any
    filled day, ``beta`` is the proxy beta (NaN where nothing was filled). With
    ``market=None`` missing days are filled with 0.
    """
    missing = window.isna()
    proxied = missing.any(axis=0)
    beta = pd.Series(np.nan, index=window.columns)
    if not proxied.any():
        return window, proxied, beta
    if market is None:
        beta[proxied] = 0.0
        return window.fillna(0.0), proxied, beta
    if market not in history.columns or market not in window.columns:
        raise StressInputError(f"market proxy column {market!r} not in asset_returns")
    r_m = window[market]
    if r_m.isna().any():
        gaps = list(window.index[r_m.isna()][:3])
        raise StressInputError(f"market proxy {market!r} has no return on {gaps} of the window; cannot proxy")
    hist_m = history[market]
    for sym in proxied.index[proxied]:
        both = history[sym].notna() & hist_m.notna()
        if both.sum() >= MIN_BETA_OBS:
            x, y = hist_m[both].to_numpy(), history.loc[both, sym].to_numpy()
            beta[sym] = float(np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1))
        else:
            beta[sym] = 1.0
    proxy = pd.DataFrame(np.outer(r_m.to_numpy(), beta.fillna(0.0).to_numpy()), index=window.index,
                         columns=window.columns)
    return window.where(~missing, proxy), proxied, beta


def episode_window(asset_returns: pd.DataFrame, start, end) -> pd.DataFrame:
    """Rows of ``asset_returns`` dated in [start, end], after checking the data covers the window.

    The data's last date must be on or after ``end`` (no scenario from an unfinished episode)
    and the window must hold at least one trading day.
    """
    start_d, end_d = _as_date(start), _as_date(end)
    if end_d < start_d:
        raise StressInputError(f"window end {end_d} is before start {start_d}")
    last = None if len(asset_returns.index) == 0 else _as_date(asset_returns.index.max())
    if last is None or last < end_d:
        raise StressInputError(f"asset_returns do not cover the window {start_d}..{end_d} (data ends {last})")
    window = asset_returns.loc[pd.Timestamp(start_d):pd.Timestamp(end_d)]
    if window.empty:
        raise StressInputError(
            f"no trading days in the window {start_d}..{end_d}: asset_returns must span the window on the "
            "market's calendar (symbols without data there are NaN and get proxied)"
        )
    return window


def calibrate_scenario(
    asset_returns: pd.DataFrame, start, end, *, market: str | None = "SP500"
) -> CalibratedScenario:
    """Per-symbol cumulative return ``prod(1 + r) - 1`` over the window [start, end].

    ``asset_returns``: rows trading dates (ascending), columns symbols, daily simple returns;
    the whole history up to the as-of date (used for proxy betas). The window is validated
    by :func:`episode_window`. Missing days are proxied (module docstring) and flagged.
    """
    window = episode_window(asset_returns, start, end)
    filled, proxied, beta = fill_with_beta_proxy(window, asset_returns, market)
    shocks = (1.0 + filled).prod(axis=0) - 1.0
    return CalibratedScenario(start=_as_date(start), end=_as_date(end), n_days=len(window), shocks=shocks,
                              proxied=proxied, proxy_beta=beta)


def available_scenarios(scenarios: Sequence[Scenario], last_data_date) -> tuple[Scenario, ...]:
    """Scenarios usable with data up to ``last_data_date``: hypothetical ones always,
    historical ones whose window ended on or before it (no look-ahead in a backfill)."""
    last = _as_date(last_data_date)
    return tuple(s for s in scenarios if not isinstance(s, HistoricalScenario) or s.end <= last)


def scenario_shocks(
    scenario: Scenario,
    symbols: Sequence[str],
    *,
    foreign_currencies: Sequence[str] = (),
    asset_returns: pd.DataFrame | None = None,
    fx_returns: pd.DataFrame | None = None,
    market: str | None = "SP500",
) -> ScenarioShocks:
    """Resolve ``scenario`` into shocks for ``symbols`` and ``foreign_currencies``.

    Historical scenarios need ``asset_returns`` (returns of the symbols plus the market column
    for proxies, on the market's calendar: rows for every trading day of the window, NaN for
    a symbol not yet listed) and, if there are foreign currencies, ``fx_returns``
    (columns currency, the currency's simple return against the base); both calibrated by
    :func:`calibrate_scenario` (FX without proxy: a missing fixing is no move).
    Hypothetical scenarios leave FX unchanged unless they are FX scenarios, and vice versa.
    For a multi-currency book pass either local returns with ``foreign_currencies`` and
    ``fx_returns`` (the FX move is then applied to the positions by :func:`apply_scenario`
    with ``currency_of``), or base-currency returns and no foreign currencies -- not both, which
    would count the FX move twice.
    """
    symbols = list(symbols)
    currencies = list(foreign_currencies)
    zero_fx = pd.Series(0.0, index=currencies, dtype=float)
    if isinstance(scenario, HistoricalScenario):
        if asset_returns is None:
            raise StressInputError(f"scenario {scenario.name!r}: historical scenarios need asset_returns")
        missing = [s for s in symbols if s not in asset_returns.columns]
        if missing:
            raise StressInputError(f"scenario {scenario.name!r}: asset_returns has no column for {missing}")
        cols = symbols + ([market] if market is not None and market not in symbols else [])
        cal = calibrate_scenario(asset_returns.loc[:, cols], scenario.start, scenario.end, market=market)
        equity = cal.shocks[symbols]
        proxied = [s for s in symbols if cal.proxied[s]]
        fx = zero_fx
        if currencies:
            if fx_returns is None or any(c not in fx_returns.columns for c in currencies):
                raise StressInputError(f"scenario {scenario.name!r}: fx_returns must hold columns {currencies}")
            fx_cal = calibrate_scenario(fx_returns.loc[:, currencies], scenario.start, scenario.end, market=None)
            fx = fx_cal.shocks
            proxied += [c for c in currencies if fx_cal.proxied[c]]
        return ScenarioShocks(scenario.name, equity.astype(float), fx.astype(float), tuple(proxied))
    if isinstance(scenario, UniformEquityScenario):
        equity = pd.Series([0.0 if s in scenario.not_equities else float(scenario.equity_shock) for s in symbols],
                           index=symbols, dtype=float)
        return ScenarioShocks(scenario.name, equity, zero_fx, ())
    if isinstance(scenario, SectorScenario):
        values = [scenario.sector_shocks.get(scenario.sectors.get(s, ""), scenario.default_shock) for s in symbols]
        return ScenarioShocks(scenario.name, pd.Series(values, index=symbols, dtype=float), zero_fx, ())
    if isinstance(scenario, FxScenario):
        fx = pd.Series(fx_return_for_base_change(scenario.base_currency_change), index=currencies, dtype=float)
        return ScenarioShocks(scenario.name, pd.Series(0.0, index=symbols, dtype=float), fx, ())
    raise StressInputError(f"unknown scenario type {type(scenario).__name__}")


def fx_per_position(exposures: pd.Series, shocks: ScenarioShocks, currency_of: Mapping[str, str] | None,
                     base_currency: str | None) -> np.ndarray:
    """FX return applied to each position (0 for base-currency positions)."""
    if currency_of is None:
        return np.zeros(len(exposures))
    out = np.zeros(len(exposures))
    for j, sym in enumerate(exposures.index):
        ccy = currency_of.get(sym)
        if ccy is None:
            raise StressInputError(f"no currency for position {sym!r}")
        if ccy == base_currency:
            continue
        if ccy not in shocks.fx.index:
            raise StressInputError(f"scenario {shocks.scenario!r} has no FX shock for {ccy!r} (position {sym!r})")
        out[j] = shocks.fx[ccy]
    return out


def scenario_pnl_function(
    exposures: pd.Series,
    shocks: ScenarioShocks,
    *,
    currency_of: Mapping[str, str] | None = None,
    base_currency: str | None = None,
):
    """``pnl(k)``: portfolio P&L with every shock of the scenario scaled by ``k``.

    ``exposures``: base-currency value by symbol (shorts negative). ``currency_of`` maps each
    symbol to its currency (None: all positions in the base currency). Formula in the module
    docstring; the returned callable is what :mod:`risk_pipeline.risk.stress.reverse` solves.
    """
    missing = [s for s in exposures.index if s not in shocks.equity.index]
    if missing:
        raise StressInputError(f"scenario {shocks.scenario!r} has no equity shock for {missing}")
    e = exposures.to_numpy(dtype=float)
    if not np.isfinite(e).all():
        raise StressInputError("exposures contain NaN or infinite values")
    s = shocks.equity[exposures.index].to_numpy(dtype=float)
    f = fx_per_position(exposures, shocks, currency_of, base_currency)

    def pnl(k: float) -> float:
        local = np.maximum(1.0 + k * s, 0.0)
        fx = np.maximum(1.0 + k * f, 0.0)
        return float(np.sum(e * (local * fx - 1.0)))

    return pnl


def _value(exposures: pd.Series, portfolio_value: float | None) -> float:
    return float(exposures.sum()) if portfolio_value is None else float(portfolio_value)


def apply_scenario(
    exposures: pd.Series,
    shocks: ScenarioShocks,
    *,
    currency_of: Mapping[str, str] | None = None,
    base_currency: str | None = None,
    portfolio_value: float | None = None,
) -> StressResult:
    """P&L and return of the positions under ``shocks`` (module docstring).

    ``return`` = pnl / portfolio value (``portfolio_value`` or the sum of exposures); NaN if
    that value is 0 (e.g. a dollar-neutral book).
    """
    pnl = scenario_pnl_function(exposures, shocks, currency_of=currency_of, base_currency=base_currency)(1.0)
    value = _value(exposures, portfolio_value)
    ret = pnl / value if value != 0.0 else float("nan")
    proxied = any(s in shocks.proxied for s in exposures.index) or (
        currency_of is not None and any(currency_of.get(s) in shocks.proxied for s in exposures.index)
    )
    return StressResult(scenario=shocks.scenario, pnl=pnl, simple_return=ret, proxied=bool(proxied))


def results_frame(results: Sequence[object], columns: dict[str, tuple[str, object]]) -> pd.DataFrame:
    """One row per result dataclass: ``columns`` maps each column, in order, to the attribute
    it reads and its dtype (so an empty list still gives the typed, fixed schema)."""
    return pd.DataFrame(
        {name: pd.Series([getattr(r, attr) for r in results], dtype=dtype) for name, (attr, dtype) in columns.items()},
        columns=list(columns),
    )


def stress_table(results: Sequence[StressResult]) -> pd.DataFrame:
    """Rows of :data:`STRESS_COLUMNS` (scenario, pnl, simple_return, proxied) from stress results."""
    return results_frame(results, {"scenario": ("scenario", object), "pnl": ("pnl", float),
                                   "simple_return": ("simple_return", float), "proxied": ("proxied", bool)})
