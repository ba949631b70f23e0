"""VaR attribution asset: marginal, component and incremental VaR per position, day and portfolio."""


from functools import partial

import dagster as dg
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.defs.portfolios import log_skipped_books, portfolio_pnl, skipped_metadata
from risk_pipeline.books import Book, build_books
from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.risk.attribution import rolling_var_decomposition
from risk_pipeline.config.settings import section
from risk_pipeline.storage.lake import empty_frame, read_window

_ATTRIBUTION = section("attribution")


class AttributionConfig(dg.Config):
    """Attribution settings; defaults from the ``attribution`` section of pipeline.yaml."""

    estimation_window_days: int = int(_ATTRIBUTION["estimation_window_days"])
    confidence: float = float(_ATTRIBUTION["confidence"])


@lake_asset(
    group_name="attribution",
    deps=[portfolio_pnl, prices, returns],
    description=(
        "Per portfolio, day and position: marginal, component and incremental parametric VaR from a "
        "Ledoit-Wolf covariance of the previous `estimation_window_days` days (Euler: components sum to the total), "
        "the weights held that day, and historical component ES. Fractions of value; "
        "component_var_amount in base currency."
    ),
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def var_decomposition(context: dg.AssetExecutionContext, config: AttributionConfig,
                      compute: Compute) -> dg.MaterializeResult:
    """Each book's decomposition is a task of the ``compute`` engine."""
    start, end, days = partition_days(context)
    # one more day than the window: the first row of a book read from the lake has no held weights
    lookback = config.estimation_window_days + 1
    price_history = read_window("prices", start, end, lookback=lookback)
    return_history = read_window("returns", start, end, lookback=lookback)
    pnl = read_window("portfolio_pnl", start, end)
    books, skipped = build_books(load_portfolios(), price_history, return_history)
    log_skipped_books(context, skipped)
    tasks = [(book, pnl.loc[pnl["portfolio"] == book.portfolio.name, "date"]) for book in books]
    frames = compute.map(partial(_book_rows, config=config), tasks)
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("var_decomposition")
    frame = frame.loc[frame["date"].dt.date.between(start, end)]
    computed = [book.portfolio.name for book in books]
    return publish("var_decomposition", frame, days, keys=computed, **_latest_totals(frame), **skipped_metadata(skipped))


def _book_rows(task: tuple[Book, pd.Series], config: AttributionConfig) -> pd.DataFrame:
    """One book's rows on the days it has P&L (``task``: the book and those days)."""
    book, dates = task
    portfolio = book.portfolio
    held_exposures, held_values = book.held()
    weights = held_exposures.div(held_values, axis=0)
    table = rolling_var_decomposition(book.asset_returns, weights, confidence=config.confidence,
                                      lookback=config.estimation_window_days)
    table = table.loc[table["date"].isin(dates)]
    table.insert(1, "portfolio", portfolio.name)
    table["component_var_amount"] = table["component_var"] * held_values.reindex(table["date"]).to_numpy()
    return table.assign(confidence=config.confidence, estimation_window_days=config.estimation_window_days,
                        base_currency=portfolio.base_currency)


def _latest_totals(frame: pd.DataFrame) -> dict[str, object]:
    if frame.empty:
        return {}
    latest = frame.loc[frame["date"] == frame["date"].max()]
    top = (latest.sort_values("pct_contribution", ascending=False).groupby("portfolio").head(3)
           [["portfolio", "symbol", "weight", "component_var", "pct_contribution"]])
    return {"latest_top_contributors": dg.MetadataValue.md(top.to_markdown(index=False, floatfmt=".4g"))}
