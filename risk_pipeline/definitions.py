"""The one Dagster ``Definitions`` object of the project (``workspace.yaml`` points here)."""

from __future__ import annotations

import dagster as dg

from risk_pipeline.assets.backtests import var_backtests
from risk_pipeline.assets.market_data import prices, returns
from risk_pipeline.assets.portfolio import portfolio_pnl
from risk_pipeline.assets.var import var_estimates

all_assets = [prices, returns, portfolio_pnl, var_estimates, var_backtests]

risk_job = dg.define_asset_job("risk_job", selection=dg.AssetSelection.assets(*all_assets))

defs = dg.Definitions(assets=all_assets, jobs=[risk_job])
