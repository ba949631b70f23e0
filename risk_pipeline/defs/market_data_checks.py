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
``quality`` section of pipeline.yaml (per run: the launchpad or ``--config-json``).
"""

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipeline.sources import quality
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.lake_assets import checked_days
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.config.settings import section
from risk_pipeline.sources.ecb_fx import MAX_STALENESS_DAYS, load_fx_rates
from risk_pipeline.storage.lake import read_window

_QUALITY = section("quality")
_SEVERITIES = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}
_PREVIEW_ROWS = 20


def _severity(name: str) -> str:
    return str(_QUALITY[name]["severity"])


class SeverityConfig(dg.Config):
    """``severity``: ``error`` (a failure blocks downstream assets) or ``warn`` (shown only)."""

    severity: str

    def result(self, offending: pd.DataFrame, checked: int, days: tuple[dt.date, dt.date],
               description: str | None = None, **extra: object) -> dg.AssetCheckResult:
        """Pass when nothing is offending; ``days``: the first and last day of the range checked;
        ``description``: what the UI shows for the evaluation."""
        if self.severity not in _SEVERITIES:
            raise ValueError(f"quality check severity must be one of {sorted(_SEVERITIES)}, got {self.severity!r}")
        metadata: dict[str, object] = {
            "offending": dg.MetadataValue.int(len(offending)),
            "checked": checked,
            "first_day": dg.MetadataValue.text(days[0].isoformat()),
            "last_day": dg.MetadataValue.text(days[1].isoformat()),
        }
        if len(offending):
            metadata["preview"] = dg.MetadataValue.md(
                offending.head(_PREVIEW_ROWS).to_markdown(index=False, floatfmt=".6g")
            )
        metadata.update(extra)
        return dg.AssetCheckResult(passed=offending.empty, severity=_SEVERITIES[self.severity], metadata=metadata,
                                   description=description)


class NonPositiveConfig(SeverityConfig):
    severity: str = _severity("non_positive_prices")


class MissingDaysConfig(SeverityConfig):
    severity: str = _severity("missing_days")
    min_coverage: float = float(_QUALITY["missing_days"]["min_coverage"])
    lookback: int = int(_QUALITY["missing_days"]["lookback"])


class StaleConfig(SeverityConfig):
    severity: str = _severity("stale_prices")
    max_unchanged_days: int = int(_QUALITY["stale_prices"]["max_unchanged_days"])


class OutlierConfig(SeverityConfig):
    severity: str = _severity("return_outliers")
    window: int = int(_QUALITY["return_outliers"]["window"])
    max_sigmas: float = float(_QUALITY["return_outliers"]["max_sigmas"])


class UnpricedConfig(SeverityConfig):
    severity: str = _severity("unpriced_positions")


class FxCoverageConfig(SeverityConfig):
    """Two severities: a rate missing inside the ECB's coverage, and days before its first fixing."""

    severity: str = _severity("fx_coverage")
    before_first_fixing_severity: str = str(_QUALITY["fx_coverage"]["before_first_fixing_severity"])


def _check(asset, description: str):
    return dg.asset_check(asset=asset, blocking=True, description=description)


@_check(prices, "Every close is a finite number > 0.")
def prices_positive(context: dg.AssetCheckExecutionContext, config: NonPositiveConfig) -> dg.AssetCheckResult:
    start, end, _ = checked_days(context, "prices")
    frame = read_window("prices", start, end)
    return config.result(quality.non_positive_prices(frame), len(frame), (start, end))


@_check(prices, "No symbol lacks a price on a day when most live symbols have one (quality.missing_days).")
def prices_no_missing_days(context: dg.AssetCheckExecutionContext, config: MissingDaysConfig) -> dg.AssetCheckResult:
    start, end, days = checked_days(context, "prices")
    frame = read_window("prices", start, end, lookback=config.lookback)
    return config.result(quality.missing_days(frame, days, config.min_coverage), len(frame), (start, end))


@_check(prices, "No close stays unchanged over more than N consecutive trading days (quality.stale_prices).")
def prices_not_stale(context: dg.AssetCheckExecutionContext, config: StaleConfig) -> dg.AssetCheckResult:
    start, end, days = checked_days(context, "prices")
    frame = read_window("prices", start, end, lookback=config.max_unchanged_days)
    found = quality.stale_prices(frame, days, config.max_unchanged_days)
    return config.result(found, len(frame), (start, end))


@_check(returns, "No return lies beyond k rolling standard deviations of the previous window (quality.return_outliers).")
def returns_within_sigmas(context: dg.AssetCheckExecutionContext, config: OutlierConfig) -> dg.AssetCheckResult:
    start, end, days = checked_days(context, "returns")
    frame = read_window("returns", start, end, lookback=config.window)
    found = quality.return_outliers(frame, days, config.window, config.max_sigmas)
    return config.result(found, len(frame), (start, end))


@_check(prices, "Every symbol a live portfolio holds has prices in the range (quality.unpriced_positions).")
def portfolio_symbols_priced(context: dg.AssetCheckExecutionContext, config: UnpricedConfig) -> dg.AssetCheckResult:
    start, end, _ = checked_days(context, "prices")
    frame = read_window("prices", start, end)
    portfolios = load_portfolios()
    return config.result(quality.unpriced_positions(portfolios, frame), len(portfolios), (start, end))


@_check(prices, "Every foreign-currency position has an FX rate on each day it is priced (quality.fx_gaps); "
                "a book without one is named with its currency and first missing date, and skipped by the P&L.")
def fx_coverage(context: dg.AssetCheckExecutionContext, config: FxCoverageConfig) -> dg.AssetCheckResult:
    start, end, _ = checked_days(context, "prices")
    frame = read_window("prices", start, end)
    gaps = quality.fx_gaps(load_portfolios(), frame, load_fx_rates(), MAX_STALENESS_DAYS)
    missing = gaps.loc[gaps["reason"] == quality.FX_MISSING_RATE]
    before = gaps.loc[gaps["reason"] == quality.FX_BEFORE_FIRST_FIXING]
    summary = {"days_before_first_fixing": dg.MetadataValue.int(len(before))}
    if missing.empty and not before.empty:
        # no hole in the rates: only history before the currency existed, shown at its own severity
        first = before.groupby(["portfolio", "symbol", "currency"])["date"].agg(["min", "max", "size"]).reset_index()
        shown = SeverityConfig(severity=config.before_first_fixing_severity)
        return shown.result(first, len(frame), (start, end), **summary)
    books = quality.books_missing_fx(missing)
    if books:
        summary["books_missing_fx"] = dg.MetadataValue.text("\n".join(books.values()))
    return config.result(missing, len(frame), (start, end), description="\n".join(books.values()) or None, **summary)
