"""VaR/ES estimates asset: every configured method, confidence and horizon per portfolio and day."""


import datetime as dt
from dataclasses import dataclass
from collections.abc import Callable
from functools import partial
from typing import Optional

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.option_config import OptionsConfig
from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.defs.chunks import publish_staged
from risk_pipeline.defs.lake_assets import lake_asset, partition_days
from risk_pipeline.defs.exposures import bond_scenarios, book_exposures, held_values
from risk_pipeline.defs.portfolios import (book_days, held_symbols, histories, log_skipped_books, portfolio_pnl,
                                           record_books, skipped_metadata)
from risk_pipeline.defs.positions import positions
from risk_pipeline.books import Book, build_books
from risk_pipeline.config.options import OptionSettings, load_option_positions
from risk_pipeline.config.portfolios import Portfolio, load_portfolios
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.config.reader import ConfigError
from risk_pipeline.option_books import var_rows
from risk_pipeline.risk import var_es_grid
from risk_pipeline.risk.portfolio import with_amounts
from risk_pipeline.risk.var.held_monte_carlo import held_monte_carlo_grid
from risk_pipeline.risk.var.held_positions import HeldWindows, held_grid, held_windows
from risk_pipeline.risk.var.monte_carlo import mixing_scales_kept_in
from risk_pipeline.risk.var.parameters import MethodSettings, VarParameterError
from risk_pipeline.config.settings import section
from risk_pipeline.storage.lake import empty_frame, stored_days, within_days
from risk_pipeline.storage.mixing_scales import MixingScaleFiles, mixing_scale_folder
from risk_pipeline.storage.staging import Staged, stage

_VAR = section("var")


class VarConfig(dg.Config):
    """VaR/ES settings; defaults from the ``var`` section of pipeline.yaml."""

    methods: list[str] = list(_VAR["methods"])
    confidences: list[float] = [float(c) for c in _VAR["confidences"]]
    horizons: list[int] = [int(h) for h in _VAR["horizons"]]
    estimation_window_days: int = int(_VAR["estimation_window_days"])
    monte_carlo_estimation_window_days: int = int(_VAR["monte_carlo_estimation_window_days"])
    evt_estimation_window_days: int = int(_VAR["evt_estimation_window_days"])
    evt_exceedances: Optional[int] = _VAR["evt_exceedances"]
    ewma_lambda: float = float(_VAR["ewma_lambda"])
    filter: str = str(_VAR["filter"])
    t_dof: str = str(_VAR["t_dof"])
    shrinkage: str = str(_VAR["shrinkage"])
    n_scenarios: int = int(_VAR["n_scenarios"])
    seed: int = int(_VAR["seed"])
    horizon_scaling: str = str(_VAR["horizon_scaling"])
    return_type: str = str(_VAR["return_type"])
    options: OptionsConfig = OptionsConfig()  # the option books, whose VaR/ES are rows of var_estimates too

    def settings(self) -> MethodSettings:
        """Each method's window and parameters (``MethodSettings``) from this run config."""
        return MethodSettings(
            estimation_window_days=self.estimation_window_days,
            monte_carlo_estimation_window_days=self.monte_carlo_estimation_window_days,
            evt_estimation_window_days=self.evt_estimation_window_days, evt_exceedances=self.evt_exceedances,
            ewma_lambda=self.ewma_lambda, filter=self.filter, t_dof=self.t_dof, shrinkage=self.shrinkage,
            n_scenarios=self.n_scenarios, seed=self.seed, horizon_scaling=self.horizon_scaling,
            return_type=self.return_type,
        )


def portfolio_forecasts(config: VarConfig, book: Book, start: dt.date, recorded: bool = False) -> pd.DataFrame:
    """Every configured method's VaR/ES rows for one book over its P&L days from ``start`` on.

    Each day t is forecast for the positions held at the close of t-1 (``defs.exposures``): the
    single-series methods revalue them under the base-currency returns of the window's days
    (:mod:`risk_pipeline.risk.var.held_positions`, one revalued window matrix per window length,
    shared by the methods), reading only the window before each day, so a new day gives the
    numbers of a backfill. Monte Carlo simulates the same positions (as weights of the held
    value) over the book's P&L days; it reads them all: its rolling covariances are prefix sums,
    whose last bits depend on the first row (and its window is the longest by default). For a book
    of record (``recorded``: its positions are known from the run's range only) Monte Carlo
    simulates, for each day, the instruments held at the previous close
    (:func:`risk_pipeline.risk.var.held_monte_carlo.held_monte_carlo_grid`)."""
    dates = book_days(book)
    days = dates[dates >= pd.Timestamp(start)]
    settings = config.settings()
    exposures, values = book_exposures(book, days), held_values(book, days)
    scenarios = bond_scenarios(book)  # bond instruments: their yield moves applied to the bond held
    windows: dict[int, HeldWindows] = {}
    frames, labels = [], []
    # Monte Carlo's mixing scales from the data folder's files, computed once for every process and day
    with mixing_scales_kept_in(MixingScaleFiles(mixing_scale_folder())):
        for method in config.methods:
            window = settings.window_for(method)
            params = settings.params_for(method)
            if method == "monte_carlo" and recorded:
                grid = held_monte_carlo_grid(exposures, values, book.asset_returns, window=window,
                                             confidences=config.confidences, horizons=config.horizons, **params)
            elif method == "monte_carlo":
                if len(dates) <= window:
                    continue  # not one full window yet (early history, or a book that starts later)
                weights = book_exposures(book, dates).div(held_values(book, dates), axis=0)
                grid = var_es_grid(book.asset_returns.reindex(dates), method=method, confidences=config.confidences,
                                   horizons=config.horizons, window=window, weights=weights, **params)
                grid = with_amounts(grid, book.values)
            else:
                if window not in windows:
                    windows[window] = held_windows(exposures, values, book.asset_returns, window, scenarios)
                grid = held_grid(windows[window], method=method, confidences=config.confidences, horizons=config.horizons,
                                 **params)
            if len(grid):
                frames.append(grid)
                labels.append((method, window))
    if not frames:
        return empty_frame("var_estimates")
    out = pd.concat(frames, ignore_index=True)
    # each method's name and window set once on the book's rows, not on a copy of each method's grid
    lengths = [len(frame) for frame in frames]
    out["method"] = np.repeat(np.array([method for method, _ in labels], dtype=object), lengths)
    out["estimation_window_days"] = np.repeat(np.array([window for _, window in labels], dtype=np.int64), lengths)
    out["portfolio"] = book.portfolio.name
    out["base_currency"] = book.portfolio.base_currency
    return out


def short_windows(config: VarConfig, portfolio: Portfolio, dates: pd.DatetimeIndex, start: dt.date,
                  first_pnl_day: dt.date) -> list[str]:
    """The methods without a full estimation window on the book's last P&L day of the range (``dates``: the
    book's P&L days, :func:`~risk_pipeline.defs.portfolios.book_days`), each as a
    sentence naming the book, the method and the window setting (none when the book has no P&L day in
    the range). When the book's P&L starts on the lake's first P&L day (``first_pnl_day``), the
    history is cut by where the lake starts, not by the book's data: a ``VarParameterError``
    instead (a backfill from an earlier date gives the window). A book whose data starts later (a
    younger symbol, a currency not yet quoted) has no estimate until its window fills
    (docs/design.md, "Short history")."""
    if dates.empty or dates.max() < pd.Timestamp(start):
        return []
    settings = config.settings()
    last, first = dates.max().date(), dates.min().date()
    n_before = int((dates < dates.max()).sum())  # P&L days before the range's last P&L day
    short = [
        f"portfolio {portfolio.name!r}: method {method} needs {setting}={window} trading days of P&L before a "
        f"forecast, but its P&L has {n_before} before {last} (from {first})"
        for method in config.methods
        for window, setting in [(settings.window_for(method), settings.window_setting(method))]
        if window > n_before
    ]
    if short and first <= first_pnl_day:
        raise VarParameterError(f"{short[0]}: its P&L starts with the lake, so backfill prices and returns from an "
                                "earlier start, or shorten the window")
    return short


@dataclass(frozen=True)
class OptionBooksTask:
    """A task of var_estimates: the rows of every option book (:func:`risk_pipeline.option_books.var_rows`: full
    revaluation, delta-gamma-vega and delta-only with the options section's window, confidences and horizons)."""

    settings: OptionSettings
    window: int
    confidences: tuple[float, ...]
    horizons: tuple[int, ...]

    def rows(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        frame = var_rows(self.settings, start, end, self.window, self.confidences, self.horizons)
        return frame if len(frame) else empty_frame("var_estimates")


def option_book_names(settings: OptionSettings | None, portfolios: list[str]) -> list[str]:
    """The option books of the positions file (none without one); a book named as a portfolio is an error: their
    rows would share var_estimates' key."""
    names = list(dict.fromkeys(p.book for p in load_option_positions(settings.positions_file))) if settings else []
    clash = sorted(set(names) & set(portfolios))
    if clash:
        raise ConfigError(f"{settings.positions_file}: option book {clash[0]!r} is also a portfolio's name; "
                          "rename one (both are rows of var_estimates)")
    return names


@lake_asset(
    group_name="risk",
    deps=[portfolio_pnl, prices, returns, positions],
    description=(
        "VaR and ES per portfolio, day, method, confidence and horizon: the forecast for day t of the "
        "positions held at the close of t-1, revalued under the returns of the window up to t-1. Fractions "
        "of value and base-currency amounts; each option book's full-revaluation, delta-gamma-vega and delta-only "
        "VaR/ES in amounts only."
    ),
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def var_estimates(context: dg.AssetExecutionContext, config: VarConfig, compute: Compute) -> dg.MaterializeResult:
    """Each chunk of books (portfolios, books of record), and the option books, is a task of the ``compute``
    engine that reads its books' positions and their instruments' prices and returns, builds the
    books and writes their rows (:func:`_stage_books`): the run's process holds the books' names
    and the staged files' descriptions, a worker one chunk's books (docs/performance.md)."""
    start, end, days = partition_days(context)
    settings = config.settings()
    settings.validate(config.methods, config.confidences, config.horizons)
    price_days = stored_days("prices")
    first_pnl_day = price_days[1] if len(price_days) > 1 else end  # the first stored day has no previous close
    portfolios, recorded_names = load_portfolios(), list(load_books_of_record().books)
    items: list[Portfolio | str | OptionBooksTask] = [*portfolios, *recorded_names]
    option_settings = config.options.settings()
    option_books = option_book_names(option_settings, [p.name for p in portfolios] + recorded_names)
    options = OptionBooksTask(option_settings, config.options.estimation_window_days,
                              tuple(config.options.confidences), tuple(config.options.horizons)) if option_books else None
    planned = var_tasks(compute, items, days, config.methods, options)
    run = partial(_stage_books, config=config, first_pnl_day=first_pnl_day, option_books=option_books)
    results = heaviest_first(compute, run, [task for _, tasks in planned for task in tasks])
    chunks: list[StagedBooks] = []
    for chunk, tasks in planned:
        got, results = results[:len(tasks)], results[len(tasks):]
        if set().union(*(g.skipped for g in got)) & set().union(*(g.keys for g in got)):
            # a book skipped on one block's days (an FX rate missing) and computed on another's: the chunk in
            # one task of the range, skipped as the run of one block skips it (the blocks' files are not committed)
            got = compute.map(run, [VarTask(chunk, days)])
        chunks += got
    keys, short, skipped = [], [], {}
    for chunk in chunks:
        keys += [key for key in chunk.keys if key not in keys]  # a chunk's books, once per block of years
        short += chunk.short
        for book, line in chunk.skipped.items():  # a book skipped in every block: its first block's line
            skipped.setdefault(book, line)
    log_skipped_books(context, skipped)
    extra = conventions(config)
    if short:
        context.log.warning("no estimate until the window fills: " + "; ".join(short))
        extra["short_history"] = dg.MetadataValue.json(short)
    # the books computed: a book skipped for want of an FX rate keeps what is stored
    return publish_staged("var_estimates", [chunk.staged for chunk in chunks], days, keys + option_books,
                          metadata=partial(_latest_summary, end=end), **extra, **skipped_metadata(skipped))


WHOLE_RANGE_METHODS = ("monte_carlo",)


@dataclass(frozen=True)
class VarTask:
    """A task of var_estimates: the forecasts on ``days`` of the books of ``chunk`` by ``methods`` (None: every
    configured method), with the sentences of its books without a full window when ``short``."""

    chunk: list[Portfolio | str | OptionBooksTask]
    days: list[dt.date]
    methods: Optional[tuple[str, ...]] = None
    short: bool = True


def var_tasks(compute: Compute, items: list[Portfolio | str | OptionBooksTask], days: list[dt.date],
              methods: list[str], options: OptionBooksTask | None = None,
              ) -> list[tuple[list[Portfolio | str | OptionBooksTask], list[VarTask]]]:
    """Each chunk of ``items`` (:meth:`Compute.chunks`) and its tasks, then the option books (``options``) as a
    chunk and a task of the range of their own (the heaviest task, handed out first by :func:`heaviest_first`:
    bundled with a chunk of portfolios, it made the last task to end a heavier one). A chunk's tasks: one task
    of the run's ``days`` when they are one block of years (:meth:`Compute.blocks`); else a task per block for
    the portfolios' methods whose
    forecast of a day reads only the window before it, and one task of the range for the rest, whose last bits
    depend on the days read, so that every row is that of one task of the range to the last bit: the methods of
    ``WHOLE_RANGE_METHODS`` (monte_carlo's window sums are differences of prefix sums over the rows read), the
    books of record (a day's value and revalued P&L are sums over the instruments the book holds on the days
    read, in frames whose layout depends on them) and the option books (their at-the-money volatility is an EWMA
    started before the range's first day)."""
    own: list[tuple[list[Portfolio | str | OptionBooksTask], list[VarTask]]] = (
        [([options], [VarTask([options], days)])] if options is not None else [])
    blocks = compute.blocks(days)
    if len(blocks) == 1:
        return [(chunk, [VarTask(chunk, days)]) for chunk in compute.chunks(items)] + own
    by_window = tuple(m for m in methods if m not in WHOLE_RANGE_METHODS)
    whole_methods = tuple(m for m in methods if m in WHOLE_RANGE_METHODS)
    planned = []
    for chunk in compute.chunks(items):
        portfolios = [item for item in chunk if isinstance(item, Portfolio)]
        others = [item for item in chunk if not isinstance(item, Portfolio)]
        tasks = [VarTask(portfolios, block, by_window, short=block is blocks[-1] and not whole_methods)
                 for block in blocks if portfolios and by_window]
        if portfolios and whole_methods:
            tasks.append(VarTask(portfolios, days, whole_methods))
        if others:
            tasks.append(VarTask(others, days))
        planned.append((chunk, tasks))
    return planned + own


@dataclass(frozen=True)
class StagedBooks:
    """What a task of var_estimates hands back: its staged rows, the books it computed (the keys it
    replaces), the sentences of its books without a full window, and its books skipped for want of an
    FX rate (each one line)."""

    staged: Staged
    keys: list[str]
    short: list[str]
    skipped: dict[str, str]


def heaviest_first(compute: Compute, run: Callable[[VarTask], StagedBooks], tasks: list[VarTask]) -> list[StagedBooks]:
    """``run`` of every task on ``compute``, the heaviest handed out first, so that on Dask the workers finish
    together instead of one computing a heavy task last while the others wait: the task holding the option books
    (their full revaluation costs several chunks of portfolios at 1,000 x 20 x 50), then the tasks holding books of
    record (their Monte Carlo simulates each day the instruments held the day before: two cost about two chunks of
    portfolios in ``make run``'s backfill, where, chunked last, they ended the step alone), then the chunks of
    portfolios, each group in the order of ``tasks``. The results in the order of ``tasks``, the same as in any order."""

    def weight(task: VarTask) -> int:
        if any(isinstance(item, OptionBooksTask) for item in task.chunk):
            return 2
        return 1 if any(isinstance(item, str) for item in task.chunk) else 0

    return compute.map(run, tasks, weights=[weight(task) for task in tasks])


def _stage_books(task: VarTask, config: VarConfig, first_pnl_day: dt.date, option_books: list[str]) -> StagedBooks:
    """A task: the forecasts on ``task.days`` of a chunk of portfolios, books of record (names) and the option books
    (``option_books``), each book built from the stored rows of its own instruments and positions only (the days
    and the longest window before them), written as var_estimates' uncommitted files."""
    chunk, days, start, end = task.chunk, task.days, task.days[0], task.days[-1]
    methods = config if task.methods is None else config.model_copy(update={"methods": list(task.methods)})
    # the read reaches back the longest window of every method, as one task of the range reads
    lookback = max(config.settings().window_for(m) for m in config.methods) + 1
    # one more stored day of prices than of P&L: the positions held on the first P&L day
    read = partial(histories, start, end, lookback=lookback + 1)
    portfolios = [item for item in chunk if isinstance(item, Portfolio)]
    names = [item for item in chunk if isinstance(item, str)]
    frames, keys, short = [], [], []
    books, skipped = build_books(portfolios, *read(sorted({s for p in portfolios for s in p.symbols})))
    for book in books:
        keys.append(book.portfolio.name)
        dates = book_days(book)
        if dates.empty:
            continue
        if task.short:
            short += short_windows(config, book.portfolio, dates, start, first_pnl_day)
        frames.append(portfolio_forecasts(methods, book, start))
    del books
    if names:
        # the stored positions of each previous close, revalued over the window of their instruments'
        # stored returns (a new book has estimates from its second day)
        recorded, recorded_names, recorded_skipped = record_books(
            start, end, *read(held_symbols(start, end, names, with_trades=False)), with_trades=False, names=names)
        skipped.update(recorded_skipped)
        keys += recorded_names
        frames += [portfolio_forecasts(methods, book, start, recorded=True) for book, _ in recorded]
        del recorded
    options = [item for item in chunk if isinstance(item, OptionBooksTask)]
    frames += [item.rows(start, end) for item in options]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("var_estimates")
    frames.clear()  # a chunk's rows are held once, not twice, while they are written
    frame = frame.loc[within_days(frame["date"], start, end)]
    return StagedBooks(stage("var_estimates", frame, days, keys + (option_books if options else [])), keys, short,
                       skipped)


def conventions(config: VarConfig) -> dict[str, object]:
    """The conventions of the stored numbers, stated in the materialization's metadata (docs/methods.md)."""
    scaling = {
        "sqrt_time": "sqrt_time: the h-day VaR/ES of parametric_normal, parametric_t and cornish_fisher is the "
                     "1-day figure times sqrt(h), its mean term included",
        "drift": "drift: the h-day VaR/ES of parametric_normal, parametric_t and cornish_fisher is "
                 "-(mu h + q sigma sqrt(h)), the mean scaled by h and the dispersion by sqrt(h)",
    }[config.horizon_scaling]
    returns = {
        "simple": "simple: every method is estimated on the portfolio's daily simple returns",
        "log": "log: parametric_normal, parametric_t, cornish_fisher, ewma and conditional_evt are fitted to the "
               "log returns ln(1 + r), VaR = 1 - exp(-VaR_log), ES = 1 - exp(-ES_log); historical, "
               "filtered_historical and monte_carlo on simple returns",
    }[config.return_type]
    return {"horizon_scaling": dg.MetadataValue.text(
        scaling + "; ewma and conditional_evt (zero mean) by sqrt(h); historical and filtered_historical from "
        "overlapping h-day compounded returns; monte_carlo from simulated h-day paths"),
        "return_type": dg.MetadataValue.text(returns)}


def _latest_summary(frame: pd.DataFrame, end: dt.date) -> dict[str, object]:
    if frame.empty:
        return {}
    latest = frame.loc[frame["date"] == frame["date"].max()]
    table = latest.loc[latest["horizon_days"] == latest["horizon_days"].min(),
                       ["portfolio", "method", "confidence", "var", "es", "var_amount", "es_amount"]]
    return {"latest_var_es": dg.MetadataValue.md(table.to_markdown(index=False, floatfmt=".4g"))}
