"""Risk limits: the limit_status table per portfolio, day and limit, and its asset check.

Measures (limits.yaml: VaR / ES amounts at 1 and 3 days, 99%, by default) are measured by one
method, :data:`risk_pipeline.risk.limits.LIMIT_METHOD`: historical simulation of the positions
held over the day (the exposures of the previous close) on the ``estimation_window_days`` daily
returns before it (:func:`limit_amounts`, which ``risk-pipeline pre-trade`` calls too). Rows and
status rules: :func:`risk_pipeline.risk.limits.evaluate_limits`; the table stores the core's
``value`` as ``measured_amount`` (:data:`STORED_NAMES`), a name that means one thing in every table.
"""


import dataclasses
import datetime as dt
from functools import partial
from typing import Optional

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.books import Book, build_books
from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.defs.chunks import publish_staged
from risk_pipeline.defs.exposures import bond_scenarios
from risk_pipeline.defs.lake_assets import lake_asset, latest_day_of_run, partition_days
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.portfolios import (
    held_symbols, histories, log_skipped_books, record_books, skipped_metadata,
)
from risk_pipeline.defs.positions import positions
from risk_pipeline.config.portfolios import Portfolio, load_portfolios
from risk_pipeline.risk.limits import (
    LIMIT_METHOD, LimitsConfig, LimitStatus, evaluate_limits, long_measures, position_var_es,
)
from risk_pipeline.config.limits import DEFAULT_LIMITS_FILE, load_limits
from risk_pipeline.config.settings import section
from risk_pipeline.storage.lake import empty_frame, read_days
from risk_pipeline.storage.staging import Staged, stage

_LIMITS = section("limits")
STORED_NAMES = {"value": "measured_amount"}
"""Columns of the core's limit rows (risk.limits.LIMIT_STATUS_COLUMNS) -> their limit_status names."""
LATEST_COLUMNS = ["portfolio", "measure", "horizon_days", "measured_amount", "limit_amount", "utilization", "status"]


class LimitsSettings(dg.Config):
    """Limit settings; defaults from the ``limits`` section of pipeline.yaml."""

    limits_file: Optional[str] = _LIMITS["limits_file"]
    estimation_window_days: int = int(_LIMITS["estimation_window_days"])
    warning_fraction: Optional[float] = _LIMITS["warning_fraction"]


def limits_config(limits_file: Optional[str]) -> LimitsConfig:
    """The limits file named in the settings (default: the shipped one)."""
    return load_limits(limits_file or DEFAULT_LIMITS_FILE)


def limit_table(limits: LimitsConfig) -> pd.DataFrame:
    """One row per configured limit: portfolio, measure, horizon_days, confidence, limit_amount."""
    rows = [(name, lim.measure, int(lim.horizon_days), float(lim.confidence), float(lim.amount))
            for name, lims in limits.portfolios.items() for lim in lims]
    return pd.DataFrame(rows, columns=["portfolio", "measure", "horizon_days", "confidence", "limit_amount"])


def limit_amounts(book: Book, dates: pd.DatetimeIndex, wanted: pd.DataFrame, window: int) -> pd.DataFrame:
    """VaR/ES amounts (columns date, portfolio, horizon_days, confidence, var_amount, es_amount) of the
    positions ``book`` holds over each of ``dates`` (the exposures of the previous close), by
    :func:`risk_pipeline.risk.limits.position_var_es` on the ``window`` days of the book's returns
    before each date, for the horizons and confidences of the limits ``wanted``."""
    horizons = tuple(sorted(set(int(h) for h in wanted["horizon_days"])))
    confidences = tuple(sorted(set(float(c) for c in wanted["confidence"])))
    held, _ = book.held()
    columns = list(book.asset_returns.columns)
    scenarios = {columns.index(name): f for name, f in bond_scenarios(book).items()}  # bonds: yield moves repriced
    var, es = position_var_es(book.asset_returns.to_numpy(), held.loc[dates].to_numpy(),
                              book.asset_returns.index.get_indexer(dates), window=window, confidences=confidences,
                              horizons=horizons, scenarios=scenarios)
    grid = pd.MultiIndex.from_product([dates, confidences, horizons], names=["date", "confidence", "horizon_days"])
    return pd.DataFrame({"var_amount": var.ravel(), "es_amount": es.ravel()}, index=grid).reset_index().assign(
        portfolio=book.portfolio.name)


@lake_asset(
    group_name="limits",
    deps=[prices, returns, positions],
    description=(
        "Per portfolio, day and limit of limits.yaml: the VaR/ES amount of the positions held over the day "
        f"(measured_amount, by method {LIMIT_METHOD}: historical simulation of the exposures of the previous close "
        "on the estimation window's returns), the limit_amount, utilization = measured_amount / limit_amount and "
        "status within_limits / warning (>= warning_fraction of the limit) / danger (above it) / no_data."
    ),
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def limit_status(context: dg.AssetExecutionContext, config: LimitsSettings, compute: Compute) -> dg.MaterializeResult:
    """The books (portfolios, then books of record) in one task inline and in a task per worker on Dask
    (``compute.spread``: two halves of the books balance better than tasks of two books dealt in turn, the books
    of record, the heaviest, coming last; one new day reads its instruments once, not once per chunk): each task reads its
    instruments' prices and returns (and its positions), measures and evaluates its limits and stages its rows
    (:func:`_stage_limits`); one commit (defs/chunks.py)."""
    start, end, days = partition_days(context)
    limits = limits_config(config.limits_file)
    fraction = config.warning_fraction if config.warning_fraction is not None else limits.warning_fraction
    items: list[Portfolio | str] = [*load_portfolios(), *load_books_of_record().books]
    chunks = compute.map(partial(_stage_limits, start=start, end=end, days=days, limits=limits, fraction=fraction,
                                 window=config.estimation_window_days), compute.spread(items))
    keys: list[str] = []
    unlimited: list[str] = []
    skipped: dict[str, str] = {}
    statuses: dict[dt.date, tuple[int, int]] = {}
    for chunk in chunks:
        keys += chunk.keys
        unlimited += chunk.unlimited
        skipped.update(chunk.skipped)
        for day, (danger, warning) in chunk.statuses.items():
            before = statuses.get(day, (0, 0))
            statuses[day] = (before[0] + danger, before[1] + warning)
    log_skipped_books(context, skipped)
    if unlimited:
        context.log.warning(f"no limits configured for portfolio(s) {unlimited}: not checked")
    extra = {"unlimited_portfolios": dg.MetadataValue.text(", ".join(unlimited))} if unlimited else {}
    # each partition: its limits breached and at warning level, which Dagster plots across partitions
    per_day = {day: {"limits_breached": dg.MetadataValue.int(danger), "limits_at_warning": dg.MetadataValue.int(warning)}
               for day, (danger, warning) in sorted(statuses.items())}
    return publish_staged("limit_status", [chunk.staged for chunk in chunks], days, keys, metadata=_latest_status,
                          per_day=per_day, method=LIMIT_METHOD, **extra, **skipped_metadata(skipped))


@dataclasses.dataclass(frozen=True)
class StagedLimits:
    """What a task of limit_status hands back: its staged rows, the books it computed (the keys it replaces),
    those without a limit configured, its books skipped for want of an FX rate (each one line), and per day
    with rows its limits in danger and at warning."""

    staged: Staged
    keys: list[str]
    unlimited: list[str]
    skipped: dict[str, str]
    statuses: dict[dt.date, tuple[int, int]]


def _stage_limits(chunk: list[Portfolio | str], start: dt.date, end: dt.date, days: list[dt.date],
                  limits: LimitsConfig, fraction: Optional[float], window: int) -> StagedLimits:
    """A task: the limit_status rows on ``start``..``end`` of a chunk of portfolios and books of record (names),
    each book built from the stored rows of its own instruments (and positions) over the range and the
    ``window`` + 1 stored days before it (the window of the first day, and the day before it: FX returns),
    written as the table's uncommitted files."""
    portfolios = [item for item in chunk if isinstance(item, Portfolio)]
    names = [item for item in chunk if isinstance(item, str)]
    # one read of the prices and returns of every instrument the chunk's books hold (each book takes its own)
    symbols = {s for p in portfolios for s in p.symbols} | set(held_symbols(start, end, names) if names else [])
    price_rows, return_rows = histories(start, end, sorted(symbols), lookback=window + 1)
    books: list[Book] = []
    skipped: dict[str, str] = {}
    if portfolios:
        books, skipped = build_books(portfolios, price_rows, return_rows)
    recorded: list[Book] = []
    recorded_names: list[str] = []
    if names:
        # the books of record: the stored positions of each previous close (days without them: no row)
        with_positions, recorded_names, recorded_skipped = record_books(start, end, price_rows, return_rows,
                                                                        with_trades=False, names=names)
        recorded = [book for book, _ in with_positions]
        skipped.update(recorded_skipped)
    table = limit_table(limits)
    unlimited: list[str] = []
    measured: list[tuple[Portfolio, pd.DatetimeIndex, pd.DataFrame]] = []
    for book in books + recorded:
        portfolio = book.portfolio
        if book.exposures.empty:
            continue
        wanted = table.loc[table["portfolio"] == portfolio.name]
        if wanted.empty:
            unlimited.append(portfolio.name)
            continue
        in_range = book.exposures.index.date >= start
        if portfolio.name in recorded_names:
            in_range &= book.values.shift(1).notna().to_numpy()
        dates = book.exposures.index[np.asarray(in_range)]
        if dates.empty:
            continue  # no P&L day in the range (a holiday, a book before its first price or positions)
        measured.append((portfolio, dates, limit_amounts(book, dates, wanted, window)))
    frame = _evaluated(measured, limits, fraction)
    keys = [book.portfolio.name for book in books] + recorded_names
    return StagedLimits(stage("limit_status", frame, days, keys), keys, unlimited, skipped, _status_counts(frame))


def _status_counts(frame: pd.DataFrame) -> dict[dt.date, tuple[int, int]]:
    """Per day of ``frame`` (limit_status rows) its limits in danger and at warning."""
    counts = pd.crosstab(frame["date"].dt.date, frame["status"]).reindex(
        columns=[LimitStatus.DANGER, LimitStatus.WARNING], fill_value=0)
    return {day: (int(danger), int(warning))
            for day, danger, warning in zip(counts.index, counts[LimitStatus.DANGER], counts[LimitStatus.WARNING])}


def _latest_status(latest: pd.DataFrame) -> dict[str, object]:
    """The metadata of the run's last day with rows: each limit's measure, amount and status."""
    if latest.empty:
        return {}
    return {"latest_status": dg.MetadataValue.md(latest[LATEST_COLUMNS].to_markdown(index=False, floatfmt=".4g"))}


def _evaluated(measured: list[tuple[Portfolio, pd.DatetimeIndex, pd.DataFrame]], limits: LimitsConfig,
               fraction: Optional[float]) -> pd.DataFrame:
    """The limit_status rows of each book's amounts (:func:`limit_amounts`) on its days: the books measured on the
    same days evaluated together (one :func:`evaluate_limits`, not one per book: the same rows), the rows in the
    order of ``measured`` and of the days."""
    groups: dict[bytes, list[int]] = {}
    for i, (_, dates, _) in enumerate(measured):
        groups.setdefault(dates.asi8.tobytes(), []).append(i)
    frames = []
    for members in groups.values():
        currencies = {measured[i][0].name: measured[i][0].base_currency for i in members}
        amounts = pd.concat([measured[i][2] for i in members], ignore_index=True)
        report = evaluate_limits(long_measures(amounts, LIMIT_METHOD), limits, fraction, dates=measured[members[0]][1],
                                 portfolios=list(currencies))
        rows = report.rows.rename(columns=STORED_NAMES)
        frames.append(rows.assign(base_currency=rows["portfolio"].map(currencies)))
    if not frames:
        return empty_frame("limit_status")
    frame = pd.concat(frames, ignore_index=True)
    rank = frame["portfolio"].map({portfolio.name: i for i, (portfolio, _, _) in enumerate(measured)}).to_numpy()
    return frame.iloc[np.lexsort((frame["date"].to_numpy(), rank))].reset_index(drop=True)


@dg.asset_check(
    asset=limit_status,
    description=(
        "Limits on the latest day of the run: fails with severity WARN when some limit is at warning level, "
        "ERROR when some limit is breached (danger); metadata lists the offending portfolios."
    ),
)
def limits_respected(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    day = latest_day_of_run(context, "limit_status")
    if day is None:
        return dg.AssetCheckResult(passed=True, metadata={"note": "limit_status has no stored day"})
    rows = read_days("limit_status", [day])
    by_status = {s: sorted(set(rows.loc[rows["status"] == s, "portfolio"])) for s in ("danger", "warning", "no_data")}
    offending = rows.loc[rows["status"].isin(["danger", "warning"]), LATEST_COLUMNS]
    metadata = {
        "date": dg.MetadataValue.text(day.isoformat()),
        "danger_portfolios": dg.MetadataValue.json(by_status["danger"]),
        "warning_portfolios": dg.MetadataValue.json(by_status["warning"]),
        "no_data_portfolios": dg.MetadataValue.json(by_status["no_data"]),
    }
    if len(offending):
        metadata["offending_limits"] = dg.MetadataValue.md(offending.to_markdown(index=False, floatfmt=".4g"))
    if by_status["danger"]:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata)
    if by_status["warning"]:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)
    return dg.AssetCheckResult(passed=True, metadata=metadata)
