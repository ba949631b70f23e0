"""Data-quality asset checks on prices, returns and portfolio holdings.

Each check is evaluated once per run, over the run's partition range (one day or a whole
backfill): it reads the stored rows it needs (plus a lookback) from the lake, calls a rule of
``risk_pipeline.sources.quality`` and names the range checked in its metadata (``first_day``,
``last_day``); the offending rows carry their dates. The checks are not partitioned: a range run
evaluates a check once, and Dagster stores that evaluation with no partition, so per-day check
statuses would exist only for single-day runs (docs/operations.md).

Every check is ``blocking``: a failure with severity ERROR stops the assets downstream of the
checked one in the same run; a failure with severity WARN is shown in the UI (and the run's log)
and lets the run go on. Thresholds and severities come from the
``quality`` section of pipeline.yaml (per run: the launchpad or ``--config-json``). The rules of
severity error already ran on the rows before they were committed (the audit of
``defs.quality_rules``, which refuses the commit), so after a commit these checks report what is
stored.
"""

import dagster as dg
import pandas as pd

from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.defs.lake_assets import checked_days
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.quality_rules import (
    RULES, SEVERITIES, FxCoverageConfig, MissingDaysConfig, NonPositiveConfig, OutlierConfig, SeverityConfig,
    StaleConfig, UnpricedConfig, stored_findings,
)

_PREVIEW_ROWS = 20


def _evaluate(context: dg.AssetCheckExecutionContext, name: str, config: SeverityConfig,
              compute: Compute | None = None) -> dg.AssetCheckResult:
    """Rule ``name`` on the stored rows of the run's range (and its lookback). It fails on the
    offending rows that are problems now: none at severity ``info``; at ``warn``, for a rule whose
    findings are dated (``Rule.dated_by``), those of the run's last day; else all. The others are
    findings reported in the metadata (``offending``: every row found, ``failing``: those that fail)
    and the description, with the number of items checked and the range checked. A rule judging each
    symbol on its own rows runs in tasks of symbols on ``compute`` (``quality_rules.stored_findings``)."""
    start, end, days = checked_days(context, RULES[name].table)
    found = stored_findings(name, config, start, end, days, compute)
    offending, dated_by = found.offending, RULES[name].dated_by
    failing = offending
    if found.severity == "info":
        failing = offending.iloc[:0]
    elif found.severity == "warn" and dated_by is not None:
        failing = offending.loc[pd.to_datetime(offending[dated_by]) == pd.Timestamp(end)]
    metadata: dict[str, object] = {
        "offending": dg.MetadataValue.int(len(offending)),
        "failing": dg.MetadataValue.int(len(failing)),
        "checked": found.checked,
        "first_day": dg.MetadataValue.text(start.isoformat()),
        "last_day": dg.MetadataValue.text(end.isoformat()),
    }
    if len(offending):
        metadata["preview"] = dg.MetadataValue.md(
            offending.head(_PREVIEW_ROWS).to_markdown(index=False, floatfmt=".6g")
        )
    metadata.update(found.extra)
    description = found.description
    if failing.empty and len(offending):
        reported = (f"severity {found.severity}" if found.severity == "info" else
                    f"none on the run's last day {end.isoformat()}")
        description = (f"{len(offending)} finding(s) reported, not failed ({reported}): see preview"
                       + (f"\n{description}" if description else ""))
    return dg.AssetCheckResult(passed=failing.empty, severity=SEVERITIES[found.severity], metadata=metadata,
                               description=description)


def _check(asset, description: str):
    # the compute resource: inline unless a run's config says otherwise (risk_pipeline/compute.py)
    return dg.asset_check(asset=asset, blocking=True, description=description,
                          resource_defs={"compute": DEFAULT_COMPUTE})


@_check(prices, "Every close is a finite number > 0.")
def prices_positive(context: dg.AssetCheckExecutionContext, config: NonPositiveConfig,
                    compute: Compute) -> dg.AssetCheckResult:
    return _evaluate(context, "prices_positive", config, compute)


@_check(prices, "No symbol lacks a price on a day when most live symbols have one (quality.missing_days).")
def prices_no_missing_days(context: dg.AssetCheckExecutionContext, config: MissingDaysConfig,
                           compute: Compute) -> dg.AssetCheckResult:
    return _evaluate(context, "prices_no_missing_days", config, compute)


@_check(prices, "No close stays unchanged over more than N consecutive trading days (quality.stale_prices).")
def prices_not_stale(context: dg.AssetCheckExecutionContext, config: StaleConfig,
                     compute: Compute) -> dg.AssetCheckResult:
    return _evaluate(context, "prices_not_stale", config, compute)


@_check(returns, "No return lies beyond k rolling standard deviations of the previous window (quality.return_outliers).")
def returns_within_sigmas(context: dg.AssetCheckExecutionContext, config: OutlierConfig,
                          compute: Compute) -> dg.AssetCheckResult:
    return _evaluate(context, "returns_within_sigmas", config, compute)


@_check(prices, "Every symbol a live portfolio holds has prices in the range (quality.unpriced_positions).")
def portfolio_symbols_priced(context: dg.AssetCheckExecutionContext, config: UnpricedConfig,
                             compute: Compute) -> dg.AssetCheckResult:
    return _evaluate(context, "portfolio_symbols_priced", config, compute)


@_check(prices, "Every foreign-currency position has an FX rate on each day it is priced (quality.fx_gaps); "
                "a book without one is named with its currency and first missing date, and skipped by the P&L.")
def fx_coverage(context: dg.AssetCheckExecutionContext, config: FxCoverageConfig,
                compute: Compute) -> dg.AssetCheckResult:
    return _evaluate(context, "fx_coverage", config, compute)
