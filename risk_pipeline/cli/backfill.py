"""A single-run backfill of a date range, in process, on the persistent Dagster instance.

``risk-pipeline backfill`` runs ``risk_job`` (every asset and check, or a selection) over a
range as one run, in this process, on the instance in ``$DAGSTER_HOME`` when that variable is set
(``make run`` sets it), else on an in-memory instance. On the persistent instance the run is a
real run: its page, logs and lineage are in the UI, and every partition of the range is known as
materialized (so "materialize missing" only asks for days that are). A 30-year range is about
8,600 partitions per asset: the project's event log (``risk_pipeline/instance.py``, configured in
``dagster.yaml``) stores a run's planned partitions as one event and its materializations in
batched transactions, so that the persistent instance costs no more than the in-memory one
(``benchmarks/bench_instance.py``; docs/operations.md).

``chunk_years`` splits the range into consecutive ranges of that many calendar years, run in
date order, one run each: every asset reads the lookback it needs from the lake, so chunk k
continues from what chunk k-1 stored and the tables equal those of one run over the whole
range, while the peak memory is that of one chunk.

What can be known before a run is checked before anything is written (:func:`check_before_run`): the
range lies within the partitions, the asset selection matches assets whose stored tables have this
version's columns, and a CSV price source passes
its own validation and the blocking missing-days rule over the range. A run that fails anyway ends
with one line (:mod:`risk_pipeline.cli.run_log`); Dagster's log is in the file the line names.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from risk_pipeline.cli.run_log import RunFailure, new_log_path, run_failure, stderr_to
from risk_pipeline.storage.lake import open_table
from risk_pipeline.storage.schemas import TABLES

if TYPE_CHECKING:  # Dagster is imported by the functions that run: `risk-pipeline summary` does not pay for it
    import dagster as dg


@dataclass(frozen=True)
class BackfillReport:
    success: bool
    seconds: float
    step_seconds: dict[str, float]  # summed over the chunks
    ranges: tuple[tuple[dt.date, dt.date], ...]  # the runs, in order (the last one failed if not success)
    failure: RunFailure | None = None  # why the last run failed


def chunk_ranges(start: dt.date, end: dt.date, chunk_years: int | None) -> list[tuple[dt.date, dt.date]]:
    """``start..end`` cut at every ``chunk_years``-th 1 January after ``start`` (None: one range)."""
    if start > end:
        raise ValueError(f"backfill start {start} is after end {end}")
    if chunk_years is None:
        return [(start, end)]
    if chunk_years < 1:
        raise ValueError(f"chunk_years must be a positive number of years, got {chunk_years}")
    ranges, first = [], start
    while first <= end:
        last = min(end, dt.date(first.year + chunk_years, 1, 1) - dt.timedelta(days=1))
        ranges.append((first, last))
        first = last + dt.timedelta(days=1)
    return ranges


def check_before_run(start: dt.date, end: dt.date, selection: str = "*",
                     run_config: dict[str, Any] | None = None) -> list[Any]:
    """Raise ValueError naming what is wrong before a run writes anything (module docstring); the
    asset keys of ``selection``."""
    import dagster as dg

    from risk_pipeline.definitions import defs, risk_job
    from risk_pipeline.defs.lake_assets import business_days

    first, last = business_days.start.date(), dt.date.fromisoformat(business_days.get_last_partition_key())
    if start < first or end > last:
        raise ValueError(f"backfill range {start}..{end} is outside the partitions {first}..{last} "
                         "(business days from the fixed start to the price source's last day, or today for a live source)")
    try:
        keys = dg.AssetSelection.from_string(selection).resolve(defs.resolve_asset_graph())
    except dg.DagsterError as exc:  # a syntax error or an unknown asset key
        raise ValueError(f"bad asset selection {selection!r}: {' '.join(str(exc).split())}") from exc
    if not keys:
        raise ValueError(f"the asset selection {selection!r} matches no asset")
    job = defs.resolve_job_def(risk_job.name).get_subset(asset_selection=set(keys))
    try:
        dg.validate_run_config(job, _with_loggers(run_config))
    except dg.DagsterInvalidConfigError as exc:
        raise ValueError("run config: " + "; ".join(" ".join(e.message.split()) for e in exc.errors)) from exc
    for key in keys:  # LakeLayoutError for a stored table of another layout (e.g. an older column set)
        if key.to_user_string() in TABLES:
            open_table(key.to_user_string())
    if dg.AssetKey("prices") in keys:
        _check_csv_prices(start, end, (run_config or {}).get("ops", {}))
        check_bond_instruments(end)
    if keys & {dg.AssetKey("positions"), dg.AssetKey("trades")}:
        _check_books_of_record(start, end, (run_config or {}).get("ops", {}))
    return list(keys)


def _check_books_of_record(start: dt.date, end: dt.date, ops: dict[str, Any]) -> None:
    """The books of record's positions and trades over ``start..end`` checked as the ``positions`` and
    ``trades`` assets check them (every row; a book missing on a trading day), against the instruments
    and trading days of an offline price source (bundled or csv; a live one is checked in the run)."""
    from risk_pipeline.config.positions import load_books_of_record
    from risk_pipeline.defs.market_data import PricesConfig
    from risk_pipeline.defs.positions import record_positions, record_trades
    from risk_pipeline.sources import make_source

    record = load_books_of_record()
    config = PricesConfig(**ops.get("prices", {}).get("config", {}))
    if record.positions is None or config.source not in ("bundled", "csv") or (config.source == "csv"
                                                                                and not config.csv_path):
        return
    source = make_source("csv", path=config.csv_path) if config.source == "csv" else make_source("bundled")
    history = source.fetch(None, start - dt.timedelta(days=15), end)
    before = history.loc[history["date"] < pd.Timestamp(start), "date"]
    history = history.loc[history["date"] >= (before.max() if len(before) else pd.Timestamp(start))]
    known = set(history["symbol"]) if config.source == "csv" else set(source.symbols)
    # each row read and checked once (a history of millions of rows)
    record_positions(record, start, end, history, known_symbols=known)
    if record.trades is not None:
        record_trades(record, start, end, history, known_symbols=known)


def check_bond_instruments(end: dt.date) -> None:
    """The bond instruments the books hold: their settings, and for a yield CSV the whole file and the
    series they name (the prices asset checks every trading day has a yield)."""
    from risk_pipeline.defs.market_data import universe
    from risk_pipeline.config.settings import section
    from risk_pipeline.sources.bond_instruments import configured_instruments, instrument_yields, yield_source

    held = set(universe([]))
    instruments = [i for i in configured_instruments() if i.symbol in held]
    settings = section("bonds")
    if instruments and settings["source"] == "csv":
        instrument_yields(instruments, yield_source("csv", settings["csv_path"]), end)


def _check_csv_prices(start: dt.date, end: dt.date, ops: dict[str, Any]) -> None:
    """A CSV price source: the file's own validation (every row), then the missing-days rule of the
    blocking check ``prices_no_missing_days`` over ``start..end`` when its severity is error."""
    from risk_pipeline.config.last_dates import configured_last_dates
    from risk_pipeline.defs.lake_assets import HISTORY_START
    from risk_pipeline.defs.market_data import PricesConfig, source_symbols, universe
    from risk_pipeline.defs.market_data_checks import MissingDaysConfig
    from risk_pipeline.sources import make_source, quality

    config = PricesConfig(**ops.get("prices", {}).get("config", {}))
    if config.source != "csv":
        return
    if not config.csv_path:
        raise ValueError("prices: source is csv but csv_path is not set (pipeline.yaml prices.csv_path or the run "
                         "config's ops.prices.config.csv_path)")
    source = make_source("csv", path=config.csv_path)
    prices = source.fetch(source_symbols(universe(config.extra_symbols)), dt.date.fromisoformat(HISTORY_START), end)
    rule = MissingDaysConfig(**ops.get("prices_prices_no_missing_days", {}).get("config", {}))
    if rule.severity != "error":
        return
    gaps = quality.missing_days(prices, [d.date() for d in pd.bdate_range(start, end)], rule.min_coverage,
                                configured_last_dates())
    if len(gaps):
        first = gaps.iloc[0]
        raise ValueError(f"{source.path}: {len(gaps)} missing price(s) on days most symbols have one "
                         f"(check prices_no_missing_days), first: symbol {first['symbol']!r} on "
                         f"{first['date']:%Y-%m-%d}")


def backfill(
    start: dt.date,
    end: dt.date,
    *,
    selection: str = "*",
    run_config: dict[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
    chunk_years: int | None = None,
) -> BackfillReport:
    """Materialize ``selection`` (asset selection syntax) over ``start..end``: one run, or one
    run per chunk of ``chunk_years`` calendar years in date order (stops at the first failure).
    :func:`check_before_run` first: ValueError before anything is written.

    ``instance``: where the runs are recorded; by default the persistent instance of
    ``$DAGSTER_HOME`` when that variable is set, else a new in-memory instance per run (one would
    otherwise hold every chunk's events in memory)."""
    import dagster as dg

    from risk_pipeline.instance import ephemeral_instance

    ranges = chunk_ranges(start, end, chunk_years)
    keys = check_before_run(start, end, selection, run_config)
    began = time.perf_counter()
    steps: dict[str, float] = {}
    done = []
    failure = None
    persistent = instance or (dg.DagsterInstance.get() if os.getenv("DAGSTER_HOME") else None)
    try:
        for first, last in ranges:
            result = _run(first, last, keys, run_config, persistent or ephemeral_instance())
            done.append((first, last))
            for event in result.all_events:
                if event.event_type_value == "STEP_SUCCESS":
                    steps[event.step_key] = steps.get(event.step_key, 0.0) + event.event_specific_data.duration_ms / 1000
            failure = run_failure(result)
            if failure is not None:
                break
    finally:
        if persistent is not None and instance is None:
            persistent.dispose()
    return BackfillReport(success=failure is None, seconds=time.perf_counter() - began, step_seconds=steps,
                          ranges=tuple(done), failure=failure)


def _with_loggers(run_config: dict[str, Any] | None) -> dict[str, Any]:
    """The run config, with Dagster's console log at level INFO unless it says otherwise."""
    config = dict(run_config or {})
    config.setdefault("loggers", {"console": {"config": {"log_level": "INFO"}}})
    return config


def _run(start: dt.date, end: dt.date, keys: list[Any], run_config: dict[str, Any] | None,
         instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """One run of ``risk_job`` restricted to the asset ``keys`` over ``start..end``."""
    from risk_pipeline.definitions import defs, risk_job

    tags = {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
        "risk_pipeline/trigger": "risk-pipeline backfill",
    }
    return defs.resolve_job_def(risk_job.name).execute_in_process(
        run_config=_with_loggers(run_config),
        instance=instance,
        tags=tags,
        asset_selection=keys,
        raise_on_error=False,
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    fill = commands.add_parser(
        "backfill",
        help="materialize a date range as one in-process run on the instance of $DAGSTER_HOME "
             "(in memory if unset; see risk_pipeline/cli/backfill.py)",
    )
    fill.add_argument("--start", required=True, type=dt.date.fromisoformat, help="first day, YYYY-MM-DD")
    fill.add_argument("--end", required=True, type=dt.date.fromisoformat, help="last day, YYYY-MM-DD")
    fill.add_argument("--select", default="*", help="asset selection, e.g. 'var_estimates*' (default: everything)")
    fill.add_argument("--config-json", default=None, help="run config as JSON, as for `dagster asset materialize`")
    fill.add_argument("--chunk-years", type=int, default=None,
                      help="one run per this many calendar years, in date order (bounds the memory; same tables)")
    fill.set_defaults(run=backfill_command)


def start_engine(run_config: dict[str, Any] | None) -> None:
    """Start the ``compute`` resource's engine that ``run_config`` chooses (``resources: compute: config:``)
    now, before the definitions load and the checks before the run: on the ``dask`` engine its cluster
    starts in the background (:meth:`risk_pipeline.compute.Compute.start`), so that the workers' start
    and imports overlap the run's process's own instead of its first steps; the run's setup then finds
    it started. A config Dagster would refuse starts nothing here (the run reports it); a backfill refused
    before its run (a range or input checked first) ends once the start under way has ended."""
    from pydantic import ValidationError

    from risk_pipeline.compute import Compute

    try:
        settings = run_config["resources"]["compute"]["config"] if run_config else {}
        compute = Compute(**settings)
    except (KeyError, TypeError, ValidationError):
        return
    compute.start()


def backfill_command(args: argparse.Namespace) -> int:
    # every configuration's checks (scipy.stats, the FRTB settings) imported by this command only
    from risk_pipeline.config.check import check_configuration

    config = json.loads(args.config_json) if args.config_json else None
    start_engine(config)
    check_configuration()
    runs = f"runs of {args.chunk_years} year(s)" if args.chunk_years else "one run"
    home = os.getenv("DAGSTER_HOME")
    where = f"the Dagster instance in {home}" if home else "an in-memory Dagster instance (DAGSTER_HOME is not set)"
    print(f"Backfilling {args.select} over {args.start}..{args.end} as {runs} on {where} ...", flush=True)
    log = new_log_path("backfill")
    with stderr_to(log):
        report = backfill(args.start, args.end, selection=args.select, run_config=config,
                          chunk_years=args.chunk_years)
    if report.failure is not None:
        first, last = report.ranges[-1]
        kept = f"; log: {log}" if log.exists() else ""  # none when nothing was logged, or the disk was full
        print(f"risk-pipeline backfill: {report.failure.line} (run over {first}..{last}{kept})", file=sys.stderr)
        return 2 if report.failure.bad_input else 1
    for step, seconds in sorted(report.step_seconds.items(), key=lambda item: -item[1]):
        print(f"  {step:<45} {seconds:8.1f} s")
    print(f"Backfill succeeded in {report.seconds:.1f} s ({len(report.ranges)} run(s))")
    return 0
