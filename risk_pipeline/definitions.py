"""The one Dagster ``Definitions`` object of the project (``workspace.yaml`` points here).

Every asset and asset check lives in a module of ``risk_pipeline.assets``; listing the
module in ``ASSET_MODULES`` is all it takes to add it to the graph.
"""

import dagster as dg

import risk_pipeline.dagster_warnings  # noqa: F401 - before the assets load: their intended preview/beta warnings
from risk_pipeline.assets import (
    attribution, backtests, bonds, frtb, limits, market_data, portfolio, quality, report, scores, stress, var,
)
from risk_pipeline.schedules import daily_after_close, daily_risk_job, lake_maintenance_job, weekly_lake_maintenance

ASSET_MODULES = [
    market_data, portfolio, var, backtests, scores, quality, report, attribution, stress, limits, bonds, frtb,
]

all_assets = dg.load_assets_from_modules(ASSET_MODULES)
all_checks = dg.load_asset_checks_from_modules(ASSET_MODULES)

risk_job = dg.define_asset_job("risk_job", selection=dg.AssetSelection.all())

# Dagster's default executor, with one process for all the steps of a run by default instead of one
# process per step: every step process imports the project again (seconds each), which made a UI
# backfill several times slower than `risk-pipeline backfill` (benchmarks/bench_ui_backfill.py).
# `execution: config: multiprocess:` in a run's config still selects a process per step.
in_process_by_default = dg.ExecutorDefinition(
    name="in_process_or_multiprocess",
    config_schema=dg.Field(dg.multi_or_in_process_executor.config_schema.as_field().config_type,
                           default_value={"in_process": {}}),
    executor_creation_fn=dg.multi_or_in_process_executor.executor_creation_fn,
    requirements=dg.multi_or_in_process_executor.get_requirements,
    description="Dagster's multi_or_in_process_executor, in process unless the run's config says multiprocess.",
)

defs = dg.Definitions(
    assets=all_assets, asset_checks=all_checks, jobs=[risk_job, daily_risk_job, lake_maintenance_job],
    schedules=[daily_after_close, weekly_lake_maintenance], executor=in_process_by_default,
)
