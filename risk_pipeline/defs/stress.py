"""Stress assets: scenario P&L, reverse stress and historical replay of the positions held each day.

The three tables are one multi-asset (``stress``) sharing one preparation per run
(:func:`stress_inputs`): the books of the run's range
(positions held over each day = those of the previous close), the scenarios of the scenarios
file, and the local returns of every historical window (plus ``proxy_beta_lookback`` days
before it, for proxy betas) read from the lake. A historical scenario is reported on a date
only when its window ended before that date (no look-ahead); one whose window is not stored
in the lake is skipped with a warning and listed in the metadata.
"""


import datetime as dt
from dataclasses import dataclass, replace
from functools import partial
from typing import Optional

import dagster as dg
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.chunks import publish_tables
from risk_pipeline.defs.lake_assets import business_days, partition_days, single_run
from risk_pipeline.defs.portfolios import portfolio_pnl, record_books
from risk_pipeline.defs.positions import positions
from risk_pipeline.books import Book, build_book, currency_returns
from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.config.portfolios import Portfolio, load_portfolios
from risk_pipeline.risk.stress.grid import (
    HeldBook,
    ResolvedScenarios,
    replay_grid,
    resolve_scenarios,
    reverse_stress_grid,
    share_scenarios,
    stress_grid,
)
from risk_pipeline.risk.stress.scenarios import HistoricalScenario, Scenario
from risk_pipeline.config.scenarios import DEFAULT_SCENARIOS_FILE, load_scenarios
from risk_pipeline.config.settings import section
from risk_pipeline.storage.lake import (
    empty_frame,
    open_table,
    read_days,
    read_window,
    stored_days,
    table_uri,
    version_key,
)

_STRESS = section("stress")


class StressConfig(dg.Config):
    """Stress settings; defaults from the ``stress`` section of pipeline.yaml."""

    scenarios_file: Optional[str] = _STRESS["scenarios_file"]
    market_proxy: str = str(_STRESS["market_proxy"])
    proxy_beta_lookback: int = int(_STRESS["proxy_beta_lookback"])
    reverse_target_loss: float = float(_STRESS["reverse_target_loss"])
    reverse_bracket: list[float] = [float(x) for x in _STRESS["reverse_bracket"]]
    reverse_grid_points: int = int(_STRESS["reverse_grid_points"])


@dataclass(frozen=True)
class PortfolioStress:
    """One portfolio's held book over the run's dates and its resolved scenarios."""

    portfolio: Portfolio
    book: HeldBook
    scenarios: ResolvedScenarios


@dataclass(frozen=True)
class StressInputs:
    portfolios: tuple[PortfolioStress, ...]  # those with P&L in the run's range
    portfolio_names: tuple[str, ...]  # every portfolio of the run's configuration
    scenario_types: dict[str, str]
    skipped: tuple[str, ...]


def scenario_history(scenarios: tuple[Scenario, ...], last_day: dt.date, beta_lookback: int
                      ) -> tuple[pd.DataFrame, dict[str, tuple[HistoricalScenario, pd.DatetimeIndex]], list[str]]:
    """Local returns (dates x symbols) over every usable historical window and the days before it.

    Returns the wide frame, per usable scenario its own days (the ``beta_lookback`` stored days
    before the window, then the window) and the scenarios skipped because the lake does not
    cover their window. Scenarios ending on or after ``last_day`` cannot be reported in the run.
    Read once per version of the returns table and set of windows: the stress step and the three
    option stress steps of a day's run ask for the same (a copy of the frame each time).
    """
    delta = open_table("returns")
    windows = tuple((sc.name, sc.start, sc.end) for sc in scenarios if isinstance(sc, HistoricalScenario))
    key = (None if delta is None else version_key(table_uri("returns"), delta), windows, last_day, beta_lookback)
    if key not in _HISTORY:
        while len(_HISTORY) >= 4:  # a day's run asks for two (the options' lookback is longer)
            del _HISTORY[next(iter(_HISTORY))]
        _HISTORY[key] = _scenario_history(scenarios, last_day, beta_lookback)
    wide, usable, skipped = _HISTORY[key]
    return wide.copy(), dict(usable), list(skipped)


_HISTORY: dict[tuple, tuple[pd.DataFrame, dict[str, tuple[HistoricalScenario, pd.DatetimeIndex]], list[str]]] = {}


def _scenario_history(scenarios: tuple[Scenario, ...], last_day: dt.date, beta_lookback: int
                      ) -> tuple[pd.DataFrame, dict[str, tuple[HistoricalScenario, pd.DatetimeIndex]], list[str]]:
    stored = stored_days("returns")
    usable: dict[str, tuple[HistoricalScenario, pd.DatetimeIndex]] = {}
    skipped: list[str] = []
    wanted: set[dt.date] = set()
    for sc in scenarios:
        if not isinstance(sc, HistoricalScenario) or sc.end >= last_day:
            continue
        if not stored or stored[0] > sc.start or stored[-1] < sc.end:
            skipped.append(sc.name)
            continue
        # at least the day before the window: FX returns of its first day are measured from it
        before = [d for d in stored if d < sc.start][-max(beta_lookback, 1):]
        own = before + [d for d in stored if sc.start <= d <= sc.end]
        wanted.update(own)
        usable[sc.name] = (sc, pd.DatetimeIndex(own))
    long = read_days("returns", sorted(wanted), columns=["symbol", "simple_return"])  # 28 years: no other column
    wide = long.pivot(index="date", columns="symbol", values="simple_return").sort_index()
    return wide, usable, skipped


def stress_inputs(config: StressConfig, start: dt.date, end: dt.date, log=None) -> StressInputs:
    """Books, resolved scenarios and episodes of every portfolio over the run's range."""
    scenarios = load_scenarios(config.scenarios_file or DEFAULT_SCENARIOS_FILE)
    history, usable, skipped = scenario_history(scenarios, end, config.proxy_beta_lookback)
    if skipped and log is not None:
        log.warning(f"historical scenario(s) {skipped} skipped: their window is not stored in the lake "
                    "(materialize prices and returns over it first)")
    price_history = read_window("prices", start, end, lookback=1)
    return_history = read_window("returns", start, end, lookback=1)
    pnl = read_window("portfolio_pnl", start, end)
    portfolios = load_portfolios()
    # the books of record: the positions stored for each previous close (one skipped for want of an FX rate
    # has no P&L: portfolio_pnl names it)
    recorded, recorded_names, _ = record_books(start, end, price_history, return_history, with_trades=False)

    def pnl_dates(name: str) -> pd.DatetimeIndex:
        # sorted as an index, not as Python Timestamps (a 30-year range's days, once per book)
        return pd.DatetimeIndex(pnl.loc[pnl["portfolio"] == name, "date"].unique()).sort_values()

    held = []
    for portfolio in portfolios:
        dates = pnl_dates(portfolio.name)
        if len(dates):  # a book without P&L in the range is not built (no price yet, or no FX rate)
            held.append(_held_book(build_book(portfolio, price_history, return_history), dates))
    for book, _ in recorded:
        dates = pnl_dates(book.portfolio.name)
        if len(dates):
            held.append(_held_book(book, dates))
    out = _resolve(held, scenarios, usable, history, config)
    names = {sc.name: sc.kind.value for sc in scenarios}
    return StressInputs(tuple(out), tuple(p.name for p in portfolios) + tuple(recorded_names), names, tuple(skipped))


def _held_book(book: Book, dates: pd.DatetimeIndex) -> tuple[Portfolio, HeldBook]:
    """The positions ``book`` holds over each of ``dates`` (those of the previous close)."""
    exposures, values = book.held()
    base = book.portfolio.base_currency
    currency_of = {s: (c or base) for s, c in book.currencies.items()}
    return book.portfolio, HeldBook(exposures.reindex(dates), values.reindex(dates), currency_of, base)


def _resolve(held: list[tuple[Portfolio, HeldBook]], scenarios: tuple[Scenario, ...],
             usable: dict[str, tuple[HistoricalScenario, pd.DatetimeIndex]], history: pd.DataFrame,
             config: StressConfig) -> list[PortfolioStress]:
    """Every book's scenarios, each calibrated once per base currency over the union of the books'
    positions (:func:`resolve_scenarios` on a book without dates, from each usable historical scenario's
    stored local returns and the FX returns of the foreign currencies) and shared (:func:`share_scenarios`)."""
    unions: list[HeldBook] = []  # per base currency (and symbol currencies that agree), the union of the books
    member = []
    for _, book in held:
        for i, union in enumerate(unions):
            if union.base_currency == book.base_currency and all(
                    union.currency_of.get(s, c) == c for s, c in book.currency_of.items()):
                unions[i] = _union(union, book)
                break
        else:
            i = len(unions)
            unions.append(_union(None, book))
        member.append(i)
    shared = []
    for union in unions:
        foreign = sorted({c for c in union.currency_of.values() if c != union.base_currency})
        local = history.reindex(columns=sorted(set(history.columns) | set(union.exposures.columns)
                                               | {config.market_proxy}))
        windows = {name: (local.reindex(days), currency_returns(union.base_currency, foreign, days) if foreign else None)
                   for name, (_, days) in usable.items()}
        shared.append(resolve_scenarios(union, scenarios, windows, market=config.market_proxy))
    return [PortfolioStress(portfolio, book, share_scenarios(book, scenarios, shared[i]))
            for (portfolio, book), i in zip(held, member)]


def _union(union: HeldBook | None, book: HeldBook) -> HeldBook:
    """A book without dates holding the positions of ``union`` and ``book`` (same base currency)."""
    currency_of = dict(book.currency_of) if union is None else {**union.currency_of, **book.currency_of}
    no_dates = pd.DatetimeIndex([])
    return HeldBook(pd.DataFrame(columns=sorted(currency_of), index=no_dates, dtype=float),
                    pd.Series(index=no_dates, dtype=float), currency_of, book.base_currency)


def _stress_rows(ps: PortfolioStress, inputs: StressInputs, config: StressConfig) -> pd.DataFrame:
    table = stress_grid(ps.book, ps.scenarios.shocks, ps.scenarios.available)
    table.insert(1, "portfolio", ps.portfolio.name)
    return table.assign(scenario_type=table["scenario"].map(inputs.scenario_types),
                        base_currency=ps.portfolio.base_currency)


def _reverse_rows(ps: PortfolioStress, inputs: StressInputs, config: StressConfig) -> pd.DataFrame:
    table = reverse_stress_grid(ps.book, ps.scenarios.shocks, ps.scenarios.available, target_loss_fraction=config.reverse_target_loss,
                                bracket=tuple(config.reverse_bracket), n_grid=config.reverse_grid_points)
    table.insert(1, "portfolio", ps.portfolio.name)
    return table.assign(target_loss_fraction=config.reverse_target_loss, base_currency=ps.portfolio.base_currency)


def _replay_rows(ps: PortfolioStress, inputs: StressInputs, config: StressConfig) -> pd.DataFrame:
    table = replay_grid(ps.book, ps.scenarios.episodes, ps.scenarios.episodes_available)
    table.insert(1, "portfolio", ps.portfolio.name)
    return table.assign(base_currency=ps.portfolio.base_currency)


def _shared(inputs: StressInputs) -> StressInputs:
    """What every portfolio's task needs of ``inputs`` (not the other portfolios: each task is sent
    to its worker with its own)."""
    return replace(inputs, portfolios=())


_DEPS = [portfolio_pnl, prices, returns, positions]
_TABLES = {
    "stress_results": (_stress_rows, (
        "Per portfolio, day and scenario of the scenarios file: P&L (base currency) and return of the "
        "positions held that day. Historical scenarios are calibrated on the stored returns of their "
        "window and reported only after it ended; proxied = some position had no data in the window.")),
    "reverse_stress": (_reverse_rows, (
        "Per portfolio, day and scenario: the multiplier of the scenario's shocks that loses "
        "reverse_target_loss of the held value (grid scan + bisection on reverse_bracket); "
        "feasible=false and no multiplier where no multiplier in the bracket reaches the target.")),
    "historical_replay": (_replay_rows, (
        "Per portfolio, day and historical episode: the positions held that day run buy-and-hold through "
        "the episode's daily returns; the worst point of the cumulative P&L path, its date and the final return.")),
}


@dg.multi_asset(
    name="stress",
    specs=[dg.AssetSpec(name, deps=_DEPS, description=text, group_name="stress", kinds={"parquet"})
           for name, (_, text) in _TABLES.items()],
    partitions_def=business_days,
    backfill_policy=single_run,
    can_subset=True,
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def stress(context: dg.AssetExecutionContext, config: StressConfig, compute: Compute):
    """The three stress tables from one preparation (books, scenario calibration, episodes),
    so the historical windows are read and calibrated once per run; each table can also be
    materialized alone. Each chunk of portfolios is a task of the ``compute`` engine for each table, which
    writes its rows; a table is committed while the workers compute the next tables' (defs/chunks.py
    ``publish_tables``)."""
    start, end, days = partition_days(context)
    inputs = stress_inputs(config, start, end, context.log)
    extra = {"skipped_scenarios": dg.MetadataValue.text(", ".join(inputs.skipped))} if inputs.skipped else {}
    tables = {table: partial(_chunk_rows, table=table, inputs=_shared(inputs), config=config, start=start, end=end)
              for table in sorted(key.to_user_string() for key in context.selected_asset_keys)}
    yield from publish_tables(compute, tables, inputs.portfolios, days, keys=inputs.portfolio_names, **extra)


def _chunk_rows(chunk: list[PortfolioStress], table: str, inputs: StressInputs, config: StressConfig,
                start: dt.date, end: dt.date) -> pd.DataFrame:
    """A task: the rows of ``table`` of a chunk of portfolios on ``start``..``end``."""
    frames = [_TABLES[table][0](ps, inputs, config) for ps in chunk]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame(table)
    return frame.loc[pd.to_datetime(frame["date"]).dt.date.between(start, end)]
