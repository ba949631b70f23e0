"""The one Dagster ``Definitions`` object of the project (``workspace.yaml`` points here).

Every asset and asset check lives in a module of ``risk_pipeline.assets``; listing the
module in ``ASSET_MODULES`` is all it takes to add it to the graph.
"""

import dagster as dg

from risk_pipeline.assets import (
    attribution, backtests, bonds, limits, market_data, portfolio, quality, report, scores, stress, var,
)
from risk_pipeline.schedules import daily_after_close, daily_risk_job

ASSET_MODULES = [market_data, portfolio, var, backtests, scores, quality, report, attribution, stress, limits, bonds]

all_assets = dg.load_assets_from_modules(ASSET_MODULES)
all_checks = dg.load_asset_checks_from_modules(ASSET_MODULES)

risk_job = dg.define_asset_job("risk_job", selection=dg.AssetSelection.all())

defs = dg.Definitions(
    assets=all_assets, asset_checks=all_checks, jobs=[risk_job, daily_risk_job], schedules=[daily_after_close]
)
