"""Risk limits: the limit_status table per portfolio, day and limit, and its asset check.

Measures (limits.yaml: VaR / ES amounts at 1 and 3 days, 99%, by default) are historical VaR
and ES of the realized P&L (the portfolio_pnl returns, ``estimation_window_days`` days, amounts on the
previous close's value), the definitions var_estimates uses: rows that var_estimates already
holds (method historical, same estimation window, horizon and confidence) are taken from it
(``measure_source = var_estimates``), the others computed with the same core function
(``measure_source = computed``). Rows and status rules: :func:`risk_pipeline.risk.limits.evaluate_limits`;
the table stores the core's ``value`` and ``source`` as ``measured_amount`` and ``measure_source``
(:data:`STORED_NAMES`), names that mean one thing in every table.
"""


from typing import Optional

import dagster as dg
import pandas as pd

from risk_pipeline.defs.lake_assets import lake_asset, latest_day_of_run, partition_days, publish
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.risk import var_es_grid
from risk_pipeline.risk.limits import LimitsConfig, long_measures
from risk_pipeline.risk.portfolio import with_amounts
from risk_pipeline.risk.limits import evaluate_limits
from risk_pipeline.config.limits import DEFAULT_LIMITS_FILE, load_limits
from risk_pipeline.config.settings import section
from risk_pipeline.storage.lake import empty_frame, read_days, read_window

_LIMITS = section("limits")
STORED_NAMES = {"value": "measured_amount", "source": "measure_source"}
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


def _computed_amounts(pnl: pd.DataFrame, wanted: pd.DataFrame, estimation_window_days: int) -> pd.DataFrame:
    """Historical VaR/ES amounts of one portfolio's realized returns for its limits' horizons and confidences."""
    series = pnl.set_index("date")["simple_return"].sort_index()
    grid = var_es_grid(series, method="historical", confidences=sorted(set(wanted["confidence"])),
                       horizons=sorted(set(wanted["horizon_days"])), window=estimation_window_days)
    return with_amounts(grid, pnl.set_index("date")["value"]).assign(portfolio=pnl["portfolio"].iloc[0])


@lake_asset(
    group_name="limits",
    deps=[portfolio_pnl, var_estimates],
    description=(
        "Per portfolio, day and limit of limits.yaml: measured VaR/ES amount (historical, realized P&L), the "
        "limit_amount, utilization = measured_amount / limit_amount and status within_limits / warning "
        "(>= warning_fraction of the limit) / danger (above it) / no_data."
    ),
)
def limit_status(context: dg.AssetExecutionContext, config: LimitsSettings) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    limits = limits_config(config.limits_file)
    fraction = config.warning_fraction if config.warning_fraction is not None else limits.warning_fraction
    table = limit_table(limits)
    lookback = config.estimation_window_days + int(table["horizon_days"].max()) + 1 if len(table) else 0
    pnl_history = read_window("portfolio_pnl", start, end, lookback=lookback)
    stored = read_window("var_estimates", start, end)
    stored = stored.loc[(stored["method"] == "historical") & (stored["estimation_window_days"] == config.estimation_window_days)]
    frames, unlimited = [], []
    for portfolio in load_portfolios():
        pnl = pnl_history.loc[pnl_history["portfolio"] == portfolio.name]
        if pnl.empty:
            continue
        wanted = table.loc[table["portfolio"] == portfolio.name]
        if wanted.empty:
            unlimited.append(portfolio.name)
            continue
        measures = pd.concat([long_measures(stored.loc[stored["portfolio"] == portfolio.name], "var_estimates"),
                              long_measures(_computed_amounts(pnl, wanted, config.estimation_window_days), "computed")],
                             ignore_index=True)
        measures["confidence"] = measures["confidence"].round(10)
        measures = measures.drop_duplicates(["date", "measure", "horizon_days", "confidence"], keep="first")
        dates = pd.DatetimeIndex(sorted(pnl["date"].unique()))
        report = evaluate_limits(measures, limits, fraction, dates=dates[dates.date >= start])
        frames.append(report.rows.rename(columns=STORED_NAMES).assign(base_currency=portfolio.base_currency))
    if unlimited:
        context.log.warning(f"no limits configured for portfolio(s) {unlimited}: not checked")
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("limit_status")
    extra = {"unlimited_portfolios": dg.MetadataValue.text(", ".join(unlimited))} if unlimited else {}
    latest = frame.loc[frame["date"] == frame["date"].max()] if len(frame) else frame
    if len(latest):
        extra["latest_status"] = dg.MetadataValue.md(latest[LATEST_COLUMNS].to_markdown(index=False, floatfmt=".4g"))
    return publish("limit_status", frame, days, **extra)


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
