"""The risk report asset (HTML + JSON + CSV per as-of date).

Which dates get a report: a run over start..end (one day or a 30-year backfill) writes the
report of the last day of the range that has backtests, plus, when ``month_ends`` is on,
of the last such day of every month of the range. A report per day of a long backfill would
be thousands of near-identical pages; any other date is one ``materialize`` of that
partition away.
"""



import dagster as dg
import pandas as pd

from risk_pipeline.defs.backtests import var_backtests
from risk_pipeline.defs.lake_assets import DETAIL_MAX_PARTITIONS, business_days, partition_days, run_result, single_run
from risk_pipeline.defs.scores import var_scores
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.risk_summary import risk_summary
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.report.morning import morning_markdown
from risk_pipeline.report.publish import publish_report
from risk_pipeline.report.summary import (
    OPTIONAL_TABLES,
    ReportSettings,
    report_dates,
)
from risk_pipeline.config.settings import section
from risk_pipeline.storage.lake import stored_days
from risk_pipeline.storage.paths import reports_dir
from risk_pipeline.storage.schemas import TABLES

_REPORT = section("report")
# later stages are inputs when their tables exist (the report shows them if stored)
_OPTIONAL_DEPS = [dg.AssetKey(name) for name in OPTIONAL_TABLES if name in TABLES]


class ReportConfig(dg.Config):
    """Report settings; defaults from the ``report`` section of pipeline.yaml."""

    chart_years: int = int(_REPORT["chart_years"])
    month_ends: bool = bool(_REPORT["month_ends"])
    risk_free: float = float(_REPORT["risk_free"])

    def settings(self) -> ReportSettings:
        return ReportSettings(chart_years=self.chart_years, risk_free=self.risk_free)


def _markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".4g") if len(frame) else "_none_"


@dg.asset(
    partitions_def=business_days,
    backfill_policy=single_run,
    group_name="validation",
    kinds={"html"},
    deps=[var_backtests, var_scores, var_estimates, portfolio_pnl, risk_summary, *_OPTIONAL_DEPS],
    description=(
        "Self-contained HTML risk report (opens offline) with summary.json and CSV exports, under "
        "<data>/reports/<as_of>/, for the last day of the run's range (and month-ends if configured): "
        "P&L vs VaR with breaches, rolling breach counts, traffic lights, backtests, method ranking, "
        "portfolio statistics, latest VaR/ES and the attribution, stress and limit tables when stored."
    ),
)
def risk_report(context: dg.AssetExecutionContext, config: ReportConfig) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    settings = config.settings()
    dates = report_dates(stored_days("var_backtests", first=start, last=end), start, end, config.month_ends)
    if not dates:
        context.log.warning(f"no var_backtests rows between {start} and {end}: no report written")
        return run_result("risk_report", days, {"reports_written": dg.MetadataValue.int(0)})
    written = []
    for as_of in dates:
        written.append(publish_report(as_of, settings, reports_dir()))
    data, files = written[-1]
    summary = data.traffic_light.merge(
        data.ranking[["portfolio", "method", "rank", "score"]], on=["portfolio", "method"], how="left"
    ) if len(data.ranking) else data.traffic_light
    metadata = {
        "as_of": dg.MetadataValue.text(data.as_of.isoformat()),
        "reports_written": dg.MetadataValue.int(len(written)),
        "report_path": dg.MetadataValue.path(str(files.html)),
        "report_url": dg.MetadataValue.url(files.html.as_uri()),
        "summary_json": dg.MetadataValue.path(str(files.summary)),
        "red_zone": dg.MetadataValue.int(len(data.red_zone)),
        "table_versions": dg.MetadataValue.json(data.table_versions),
    }
    alerts = data.morning.alerts if data.morning is not None else ()
    metadata["breaches"] = dg.MetadataValue.int(sum(a.level == "breach" for a in alerts))
    metadata["warnings"] = dg.MetadataValue.int(sum(a.level == "warning" for a in alerts))
    # the verdict table and the chart only in short runs (metadata.DETAIL_MAX_PARTITIONS); the files are linked
    if len(days) <= DETAIL_MAX_PARTITIONS and data.morning is not None:
        metadata["morning"] = dg.MetadataValue.md(
            f"**Official VaR and ES as of {data.as_of}**\n\n" + morning_markdown(data.morning))
    if len(days) <= DETAIL_MAX_PARTITIONS:
        metadata["verdict"] = dg.MetadataValue.md(
            f"**Traffic light, ranking as of {data.as_of}** (99%, 1 day, trailing {data.trailing} days)\n\n"
            + _markdown(summary)
        )
    if files.overview_png:
        metadata["traffic_light_png"] = dg.MetadataValue.path(str(files.overview_png))
        if len(days) <= DETAIL_MAX_PARTITIONS:
            metadata["traffic_light_chart"] = dg.MetadataValue.md(f"![traffic light]({files.overview_uri})")
    return run_result("risk_report", days, metadata)
