"""Option books: the option tables per book and day (their VaR/ES are rows of ``var_estimates``).

Positions come from the CSV named by ``options.positions_file`` (format:
:mod:`risk_pipeline.config.options`); none by default, and then both assets succeed with no
rows. Market frames, the daily hedge and the volatility source: :mod:`risk_pipeline.option_books`;
the maths: :mod:`risk_pipeline.risk.options`. Each table is computed by the ``compute`` resource in a task per
block of the run's days (one inline, a block per worker on Dask: :func:`_publish_blocks`), each reading the lake
over its days and the stored days before them that its rows need, and committed once.

- ``option_greeks``: per book and close, one row per position (each option and the hedge of a
  hedged book), per underlying and for the book (``level``), Greeks per unit and in base currency.
- ``option_limit_status``: per book and day, each Greek cap and VaR/ES limit of limits.yaml's
  ``option_books`` (:mod:`risk_pipeline.config.greek_caps`, :mod:`risk_pipeline.risk.options.caps`).
- ``option_pnl``: per book and day t, the hypothetical P&L of the book held at the close of t-1
  (options and hedge) revalued at the close of t, an option expiring in between at its intrinsic value: the
  realized series of the option books' backtests and scores (``var_backtests``, ``forecast_scores``).
- ``option_stress``: per book, day t and scenario of the scenarios file, the P&L of the book held at the
  close of t-1 with every option repriced under the scenario's spot, implied-volatility and FX moves.
- ``option_replay``: per book, day t and historical episode, that book repriced at each close of the
  episode (the moves since the close before it): the worst point and the end (docs/analytics.md).
- ``option_reverse_stress``: per book, day t and scenario, the smallest multiple of the scenario's moves at which
  that book, fully repriced, loses ``stress.option_reverse_var_multiple`` x its 1-day 99% full-revaluation VaR of
  ``var_estimates`` (:mod:`risk_pipeline.risk.options.reverse`; docs/analytics.md).
"""


import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple, Optional

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.config.options import OptionSettings
from risk_pipeline.config.greek_caps import OptionLimits, option_limits
from risk_pipeline.config.limits import DEFAULT_LIMITS_FILE
from risk_pipeline.config.settings import section
from risk_pipeline.defs.chunks import publish_staged
from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.config.scenarios import DEFAULT_SCENARIOS_FILE, load_scenarios
from risk_pipeline.defs.stress import scenario_history
from risk_pipeline.defs.option_config import OptionsConfig
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.risk.stress.scenarios import HistoricalScenario
from risk_pipeline.option_books import (OptionMarket, book_pnl, book_replay, book_reverse_stress, book_stress,
                                        episode_paths, greek_vol_sources, hedge_rows, hedges, held_before, held_rows,
                                        held_vol_sources, load_market, own_history, price_rows,
                                        resolve_option_scenarios, with_sums)
from risk_pipeline.storage.lake import empty_frame, read_window
from risk_pipeline.storage.staging import Staged, stage
from risk_pipeline.risk.options.caps import cap_status_by_day, var_limit_status_by_day
from risk_pipeline.risk.options.var import OptionVarMethod
from risk_pipeline.storage.schemas import table_schema

VAR_LIMIT_METHOD = str(OptionVarMethod.FULL_REVALUATION)  # the VaR/ES the option books' limits bound


def _books(positions) -> list[str]:
    return list(dict.fromkeys(p.book for p in positions))


class _Rows(NamedTuple):
    """An option table's rows on the days ``start..end`` of a row function (``rows(start, end)``), the books of the
    positions read (the keys the rows replace), the historical scenarios skipped, and whether every row is that of a
    run starting earlier (``covered``: :func:`risk_pipeline.option_books.own_history`)."""

    frame: pd.DataFrame
    books: list[str]
    skipped: list[str]
    covered: bool = True


@dataclass(frozen=True)
class _Block:
    """What a task of an option table hands back: its staged rows, the books and the skipped scenarios of its rows."""

    staged: Staged
    books: list[str]
    skipped: list[str]


def _stage_block(block: list[dt.date], rows: Callable[[dt.date, dt.date], _Rows], table: str, days: list[dt.date],
                 first: dt.date) -> _Block:
    """A task: ``rows`` on the days of ``block`` (of a run from ``first``), written as the table's uncommitted files.
    A day's row reads the stored days before it that its look-back needs, whichever block it falls in; where an
    underlying's EWMA proxy at the block's first close reaches before the block's read (``covered`` false: days
    without its return there), the rows are those of ``first`` to the block's end on the block's days."""
    got = rows(block[0], block[-1])
    if block[0] > first and not got.covered:
        got = rows(first, block[-1])
        dates = pd.to_datetime(got.frame[table_schema(table).day_column])
        got = got._replace(frame=got.frame.loc[(dates >= pd.Timestamp(block[0])).to_numpy()])
    return _Block(stage(table, got.frame, days, got.books), got.books, got.skipped)


def _publish_blocks(compute: Compute, table: str, rows: Callable[[dt.date, dt.date], _Rows], days: list[dt.date],
                    metadata: Callable[[list[_Block]], dict] = lambda blocks: {},
                    weights: Optional[list[float]] = None) -> dg.MaterializeResult:
    """Replace the run's rows of an option table with ``rows`` of each block of its days (:meth:`Compute.spread`: the
    run's days in one task inline, a block per worker on Dask), each a task that reads the lake and stages its rows
    (:func:`_stage_block`), committed once (``publish_staged``) for the books of every block; ``metadata(blocks)``
    the run's own entries; ``weights`` the work of each day, where uneven. The option books are one bundled book: its
    days, not its books, make the tasks."""
    blocks = compute.map(partial(_stage_block, rows=rows, table=table, days=days, first=days[0]),
                         compute.spread(days, weights))
    books = list(dict.fromkeys(book for block in blocks for book in block.books))
    return publish_staged(table, [block.staged for block in blocks], days, books, **metadata(blocks))


def _book_count(blocks: list[_Block]) -> dict:
    return {"books": dg.MetadataValue.int(len({book for block in blocks for book in block.books}))}


def option_var_rows(start: dt.date, end: dt.date, books: list[str]) -> pd.DataFrame:
    """The var_estimates rows of the option books ``books`` on ``start..end``, ``portfolio`` named ``book``."""
    return read_window("var_estimates", start, end, where={"portfolio": list(books)}).rename(
        columns={"portfolio": "book"})


def _unconfigured(table: str, days) -> dg.MaterializeResult:
    """An option table's partitions when no option positions are configured: no rows, and why."""
    return publish(table, empty_frame(table), days, keys=[],
                   note=dg.MetadataValue.text("no option positions configured (options.positions_file is null)"))


@lake_asset(
    group_name="options",
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
    deps=[prices, returns],
    description=(
        "Per option book and close: price, implied volatility and Greeks (delta, gamma, vega, theta, rho) per unit and "
        "in base currency of each position (options and the daily delta hedge), summed per underlying and per book."
    ),
)
def option_greeks(context: dg.AssetExecutionContext, config: OptionsConfig, compute: Compute) -> dg.MaterializeResult:
    _, _, days = partition_days(context)
    settings = config.settings()
    if settings is None:
        return _unconfigured("option_greeks", days)
    source = {"vol_source": dg.MetadataValue.text(settings.vol_source)}
    return _publish_blocks(compute, "option_greeks", partial(_greek_rows, settings=settings), days,
                           lambda blocks: {**_book_count(blocks), **source})


def _greek_rows(start: dt.date, end: dt.date, settings: OptionSettings) -> _Rows:
    """option_greeks' rows of the closes ``start..end``."""
    positions, market = load_market(settings, start, end, lookback=settings.ewma_window_days + 1)
    calendar = market.spot.index[market.spot.index >= pd.Timestamp(start)]
    priced = price_rows(market, positions, held_rows(positions, calendar))
    if priced.empty:  # no trading day in the range, nothing held, or short history only
        frame = empty_frame("option_greeks")
    else:
        rows = pd.concat([priced, hedge_rows(market, hedges(priced, settings.delta_hedged_books))], ignore_index=True)
        frame = with_sums(rows).assign(base_currency=settings.base_currency)
        frame["vol_source"] = greek_vol_sources(market, frame, priced)
        frame["date"] = pd.DatetimeIndex(frame["date"]).date
        frame = frame.sort_values(["date", "book", "level", "underlying", "option"], kind="stable")
        frame = frame.reindex(columns=table_schema("option_greeks").columns)
    return _Rows(frame, _books(positions), [], own_history(market, calendar[:1]))


@lake_asset(
    group_name="options",
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
    deps=[prices, returns],
    description=(
        "Per option book and day: hypothetical P&L in base currency of the book held at the previous close (options "
        "and the delta hedge) revalued at the day's close, an option expiring in between paying its intrinsic value."
    ),
)
def option_pnl(context: dg.AssetExecutionContext, config: OptionsConfig, compute: Compute) -> dg.MaterializeResult:
    _, _, days = partition_days(context)
    settings = config.settings()
    if settings is None:
        return _unconfigured("option_pnl", days)
    return _publish_blocks(compute, "option_pnl", partial(_pnl_rows, settings=settings), days, _book_count)


def _pnl_rows(start: dt.date, end: dt.date, settings: OptionSettings) -> _Rows:
    """option_pnl's rows of the days ``start..end``."""
    positions, market, targets, previous, priced, hedge = held_before(settings, start, end,
                                                                        settings.ewma_window_days + 2)
    if priced.empty:
        frame = empty_frame("option_pnl")
    else:
        rows = book_pnl(market, positions, held_rows(positions, previous), priced, hedge,
                        pd.Series(targets, index=previous))
        frame = rows.assign(date=pd.DatetimeIndex(rows["date"]).date, base_currency=settings.base_currency)
        frame = frame.sort_values(["date", "book"], kind="stable")[table_schema("option_pnl").columns]
    return _Rows(frame, _books(positions), [], own_history(market, previous[:1]))


_STRESS = section("stress")


class OptionStressConfig(OptionsConfig):
    """The option settings and the scenarios (defaults from the ``stress`` section of pipeline.yaml)."""

    scenarios_file: Optional[str] = _STRESS["scenarios_file"]
    market_proxy: str = str(_STRESS["market_proxy"])
    proxy_beta_lookback: int = int(_STRESS["proxy_beta_lookback"])


@dataclass(frozen=True)
class _StressInputs:
    """What option_stress, option_replay and option_reverse_stress start from: the books held at the close before
    each day of the range (:func:`_held_before`), the scenarios of the scenarios file, the stored returns of the
    historical windows usable up to the range's end (with enough days before each for the proxy betas and the EWMA
    volatility), those windows, the skipped ones and the currency of each underlying."""

    positions: list
    market: OptionMarket
    targets: pd.DatetimeIndex
    previous: pd.DatetimeIndex
    priced: pd.DataFrame
    hedge: pd.DataFrame
    scenarios: tuple
    history: pd.DataFrame
    usable: dict
    skipped: list
    currency_of: dict

    def books(self):
        """Each book with options held, its priced options and hedges, its closes and their next days."""
        for book in _books(self.positions):
            own = self.priced.loc[self.priced["book"] == book]
            if own.empty:
                continue
            held = pd.DatetimeIndex(sorted(set(own["date"])))
            yield book, own, self.hedge.loc[self.hedge["book"] == book], held, self.targets[self.previous.get_indexer(held)]

    def rows(self, frame: pd.DataFrame) -> _Rows:
        """``frame`` (rows of the range) with the books, the skipped scenarios and whether the range's read covers it."""
        return _Rows(frame, _books(self.positions), self.skipped, own_history(self.market, self.previous[:1]))


def _stress_inputs(config: OptionStressConfig, settings: OptionSettings, start: dt.date, end: dt.date) -> _StressInputs:
    positions, market, targets, previous, priced, hedge = held_before(settings, start, end,
                                                                        settings.ewma_window_days + 2)
    scenarios = load_scenarios(config.scenarios_file or DEFAULT_SCENARIOS_FILE)
    history, usable, skipped = scenario_history(scenarios, end, max(config.proxy_beta_lookback,
                                                                     settings.ewma_window_days + 1))
    return _StressInputs(positions, market, targets, previous, priced, hedge, scenarios, history, usable, skipped,
                         {p.underlying: p.currency for p in positions})


def _skipped(blocks: list[_Block]) -> dict:
    """The historical scenarios the run skips: the last block's (it ends with the run; an earlier block leaves out
    the windows ending after it, which are not reported on its days)."""
    skipped = blocks[-1].skipped
    return {"skipped_scenarios": dg.MetadataValue.text(", ".join(skipped))} if skipped else {}


@lake_asset(
    group_name="options",
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
    deps=[prices, returns],
    description=(
        "Per option book, day and stress scenario of the scenarios file: P&L in base currency of the book held at the "
        "previous close with every option repriced under the scenario's spot, implied-volatility and FX moves."
    ),
)
def option_stress(context: dg.AssetExecutionContext, config: OptionStressConfig, compute: Compute
                  ) -> dg.MaterializeResult:
    _, _, days = partition_days(context)
    settings = config.settings()
    if settings is None:
        return _unconfigured("option_stress", days)
    return _publish_blocks(compute, "option_stress", partial(_stress_rows, config=config, settings=settings), days,
                           _skipped)


def _stress_rows(start: dt.date, end: dt.date, config: OptionStressConfig, settings: OptionSettings) -> _Rows:
    """option_stress' rows of the days ``start..end``."""
    inputs = _stress_inputs(config, settings, start, end)
    resolved = resolve_option_scenarios(inputs.market, inputs.scenarios, inputs.history, inputs.usable,
                                        inputs.currency_of, config.market_proxy)
    frames = []
    for book, own, hedge, held, targets in inputs.books():
        rows = book_stress(inputs.market, own, hedge, held, targets, resolved)
        sources = held_vol_sources(inputs.market, own, held, targets)
        frames.append(rows.assign(book=book, base_currency=settings.base_currency, vol_source=rows["date"].map(sources)))
    columns = table_schema("option_stress").columns
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("option_stress")
    return inputs.rows(frame.assign(date=pd.DatetimeIndex(frame["date"]).date)[columns])


@lake_asset(
    group_name="options",
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
    deps=[prices, returns],
    description=(
        "Per option book, day and historical episode of the scenarios file: the book held at the previous close "
        "repriced at each close of the episode (spot, at-the-money volatility and FX moves since before it): its "
        "worst point and its end."
    ),
)
def option_replay(context: dg.AssetExecutionContext, config: OptionStressConfig, compute: Compute
                  ) -> dg.MaterializeResult:
    _, _, days = partition_days(context)
    settings = config.settings()
    if settings is None:
        return _unconfigured("option_replay", days)
    return _publish_blocks(compute, "option_replay", partial(_replay_rows, config=config, settings=settings), days,
                           _skipped, _replay_weights(config, days))


REPLAY_DAY_WEIGHT = 10.0
"""A day's work in option_replay besides its episodes', in closes of an episode repriced (the held book, its rows)."""


def _replay_weights(config: OptionStressConfig, days: list[dt.date]) -> list[float]:
    """The work of each day of option_replay: the closes of the historical episodes of the scenarios file ended
    before it (each repriced at every close of each), and its own; for blocks of even work (rows unchanged)."""
    episodes = [sc for sc in load_scenarios(config.scenarios_file or DEFAULT_SCENARIOS_FILE)
                if isinstance(sc, HistoricalScenario)]
    ends = np.array([np.datetime64(sc.end) for sc in episodes], dtype="datetime64[D]")
    closes = np.array([len(pd.bdate_range(sc.start, sc.end)) for sc in episodes], dtype=float)
    order = np.argsort(ends, kind="stable")
    reported = np.searchsorted(ends[order], np.array(days, dtype="datetime64[D]"), side="left")
    return (REPLAY_DAY_WEIGHT + np.concatenate([[0.0], np.cumsum(closes[order])])[reported]).tolist()


def _replay_rows(start: dt.date, end: dt.date, config: OptionStressConfig, settings: OptionSettings) -> _Rows:
    """option_replay's rows of the days ``start..end``: each book (its closes and volatility sources found once)
    repriced along each episode's path."""
    inputs = _stress_inputs(config, settings, start, end)
    paths = {name: episode_paths(inputs.market, scenario, own_days, inputs.history, inputs.currency_of,
                                 config.market_proxy) for name, (scenario, own_days) in inputs.usable.items()}
    frames = []
    for book, own, hedge, held, targets in inputs.books():
        sources = held_vol_sources(inputs.market, own, held, targets)
        for name, path in paths.items():
            rows = book_replay(inputs.market, own, hedge, held, targets, name, path)
            frames.append(rows.assign(book=book, base_currency=settings.base_currency,
                                      vol_source=rows["date"].map(sources)))
    columns = table_schema("option_replay").columns
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("option_replay")
    frame = frame.assign(date=pd.DatetimeIndex(frame["date"]).date,
                         worst_date=pd.DatetimeIndex(frame["worst_date"]).date)[columns]
    return inputs.rows(frame.sort_values(["date", "book", "episode"], kind="stable", ignore_index=True))


class OptionReverseConfig(OptionStressConfig):
    """The option stress settings, the reverse stress's target and its bracket (``stress`` section of pipeline.yaml)."""

    option_reverse_var_multiple: float = float(_STRESS["option_reverse_var_multiple"])
    reverse_bracket: list[float] = [float(x) for x in _STRESS["reverse_bracket"]]
    reverse_grid_points: int = int(_STRESS["reverse_grid_points"])


REVERSE_TARGET_VAR = {"method": VAR_LIMIT_METHOD, "confidence": 0.99, "horizon_days": 1}
"""The var_estimates row of an option book whose var_amount, times option_reverse_var_multiple, is the reverse stress's target loss."""


@lake_asset(
    group_name="options",
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
    deps=[var_estimates],
    description=(
        "Per option book, day and stress scenario: the smallest multiple of the scenario's spot, implied-volatility "
        "and FX moves at which the book held at the previous close, fully repriced, loses option_reverse_var_multiple "
        "x its 1-day 99% full-revaluation VaR (grid scan + bracketing root finder on reverse_bracket), or not reached."
    ),
)
def option_reverse_stress(context: dg.AssetExecutionContext, config: OptionReverseConfig, compute: Compute
                          ) -> dg.MaterializeResult:
    _, _, days = partition_days(context)
    settings = config.settings()
    if settings is None:
        return _unconfigured("option_reverse_stress", days)
    if not config.option_reverse_var_multiple > 0:
        raise ValueError(f"stress.option_reverse_var_multiple must be > 0, got {config.option_reverse_var_multiple!r}")
    return _publish_blocks(compute, "option_reverse_stress", partial(_reverse_rows, config=config, settings=settings),
                           days, _skipped)


def _reverse_rows(start: dt.date, end: dt.date, config: OptionReverseConfig, settings: OptionSettings) -> _Rows:
    """option_reverse_stress' rows of the days ``start..end``."""
    inputs = _stress_inputs(config, settings, start, end)
    resolved = resolve_option_scenarios(inputs.market, inputs.scenarios, inputs.history, inputs.usable,
                                        inputs.currency_of, config.market_proxy)
    var = option_var_rows(start, end, _books(inputs.positions))
    var = var.loc[(var[list(REVERSE_TARGET_VAR)] == pd.Series(REVERSE_TARGET_VAR)).all(axis=1)]
    frames = []
    for book, own, hedge, held, targets in inputs.books():
        amounts = pd.Series(var.loc[var["book"] == book, "var_amount"].to_numpy(),
                            index=pd.DatetimeIndex(var.loc[var["book"] == book, "date"]))
        target_loss = config.option_reverse_var_multiple * amounts.reindex(targets).to_numpy()
        kept = np.isfinite(target_loss) & (target_loss > 0)  # a day without the VaR (short history), or a VaR of 0: no row
        if kept.any():
            rows = book_reverse_stress(inputs.market, own, hedge, held[kept], targets[kept], resolved,
                                       target_loss[kept], tuple(config.reverse_bracket), config.reverse_grid_points)
            sources = held_vol_sources(inputs.market, own, held, targets)
            frames.append(rows.assign(book=book, base_currency=settings.base_currency,
                                      vol_source=rows["date"].map(sources), target_var_multiple=config.option_reverse_var_multiple))
    columns = table_schema("option_reverse_stress").columns
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("option_reverse_stress")
    return inputs.rows(frame.assign(date=pd.DatetimeIndex(frame["date"]).date)[columns])


class OptionLimitsConfig(dg.Config):
    """The limits file holding the option books' caps (``option_books:``); default pipeline.yaml's limits.limits_file."""

    limits_file: Optional[str] = section("limits")["limits_file"]


def status_rows(greeks: pd.DataFrame, var: pd.DataFrame, limits: OptionLimits, book: str) -> pd.DataFrame:
    """The caps and VaR/ES limits of ``book`` on each day of its option_greeks rows ``greeks`` (its var_estimates rows
    ``var``), per day: the caps, then the limits."""
    days = pd.DatetimeIndex(sorted(set(pd.DatetimeIndex(greeks["date"]))))
    caps = cap_status_by_day(greeks, limits.books[book], limits.warning_fraction, limits.events, days,
                             limits.event_window_days, limits.event_factor).rename(columns={"greek": "measure"})
    measured = var_limit_status_by_day(var.loc[var["method"] == VAR_LIMIT_METHOD], limits.var_limits[book],
                                       limits.warning_fraction, days).assign(level="book", method=VAR_LIMIT_METHOD,
                                                                              event="")
    frame = pd.concat([caps, measured], ignore_index=True).sort_values("date", kind="stable", ignore_index=True)
    return frame.assign(date=frame["date"].dt.date, book=book)


@lake_asset(
    group_name="options",
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
    deps=[option_greeks, var_estimates],
    description=(
        "Per option book and day: each Greek cap of limits.yaml's option_books (tightened before an event of the "
        "calendar) and each VaR/ES limit on the book's full-revaluation var_estimates, with utilization and status."
    ),
)
def option_limit_status(context: dg.AssetExecutionContext, config: OptionLimitsConfig, compute: Compute
                        ) -> dg.MaterializeResult:
    _, _, days = partition_days(context)
    limits = option_limits(config.limits_file or DEFAULT_LIMITS_FILE)
    books = sorted(limits.books) if limits else []
    return _publish_blocks(compute, "option_limit_status", partial(_limit_rows, limits=limits, books=books), days,
                           lambda blocks: {"books": dg.MetadataValue.int(len(books))})


def _limit_rows(start: dt.date, end: dt.date, limits: OptionLimits | None, books: list[str]) -> _Rows:
    """option_limit_status' rows of the days ``start..end``: each book's every day at once (a loop per day cost 77 s
    of the 30-year backfill)."""
    frames = []
    if books:
        greeks = read_window("option_greeks", start, end)
        var = option_var_rows(start, end, books)
        for book in books:
            rows = greeks.loc[greeks["book"] == book]
            if len(rows):
                frames.append(status_rows(rows, var.loc[var["book"] == book], limits, book))
    columns = table_schema("option_limit_status").columns
    frame = (pd.concat(frames, ignore_index=True).sort_values(["date", "book"], kind="stable")[columns] if frames
             else empty_frame("option_limit_status"))
    return _Rows(frame, books, [])
