"""Portfolio P&L asset: value, P&L and return per portfolio and day in base currency."""


import dagster as dg
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.books import build_book
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.risk.portfolio import pnl_from_exposures
from risk_pipeline.storage.lake import read_window

# stored days read before the range: the previous close of every position
PREVIOUS_CLOSE_LOOKBACK = 1


@lake_asset(
    group_name="portfolios",
    deps=[prices, returns],
    description="Per portfolio and day: closing value, P&L and simple return in the portfolio's base currency.",
)
def portfolio_pnl(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    price_history = read_window("prices", start, end, lookback=PREVIOUS_CLOSE_LOOKBACK)
    return_history = read_window("returns", start, end, lookback=PREVIOUS_CLOSE_LOOKBACK)
    frames = []
    portfolios = load_portfolios()
    for portfolio in portfolios:
        book = build_book(portfolio, price_history, return_history)
        pnl = pnl_from_exposures(book.exposures, book.values, book.asset_returns)
        pnl.insert(1, "portfolio", portfolio.name)
        pnl.insert(2, "base_currency", portfolio.base_currency)
        frames.append(pnl)
    frame = pd.concat(frames, ignore_index=True)
    frames.clear()  # a long run's rows are held once, not twice, while they are written
    frame = frame.loc[frame["date"].dt.date.between(start, end)]
    return publish("portfolio_pnl", frame, days, keys=[p.name for p in portfolios], portfolios=dg.MetadataValue.int(frame["portfolio"].nunique()))
