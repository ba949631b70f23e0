"""VaR/ES estimates asset: every configured method, confidence and horizon per portfolio and day."""


import datetime as dt
from typing import Optional

import dagster as dg
import pandas as pd

from risk_pipeline.assets.market_data import prices, returns
from risk_pipeline.assets.metadata import publish
from risk_pipeline.assets.partitions import lake_asset, partition_days
from risk_pipeline.assets.portfolio import portfolio_pnl
from risk_pipeline.books import build_book
from risk_pipeline.portfolios import Portfolio, load_portfolios
from risk_pipeline.risk import var_es_grid, validate_var_params
from risk_pipeline.settings import section
from risk_pipeline.storage.lake import empty_frame, read_window, stored_days

_VAR = section("var")


class VarConfig(dg.Config):
    """VaR/ES settings; defaults from the ``var`` section of pipeline.yaml."""

    methods: list[str] = list(_VAR["methods"])
    confidences: list[float] = [float(c) for c in _VAR["confidences"]]
    horizons: list[int] = [int(h) for h in _VAR["horizons"]]
    estimation_window_days: int = int(_VAR["estimation_window_days"])
    monte_carlo_estimation_window_days: int = int(_VAR["monte_carlo_estimation_window_days"])
    evt_estimation_window_days: int = int(_VAR["evt_estimation_window_days"])
    evt_exceedances: Optional[int] = _VAR["evt_exceedances"]
    ewma_lambda: float = float(_VAR["ewma_lambda"])
    filter: str = str(_VAR["filter"])
    t_dof: str = str(_VAR["t_dof"])
    shrinkage: str = str(_VAR["shrinkage"])
    n_scenarios: int = int(_VAR["n_scenarios"])
    seed: int = int(_VAR["seed"])

    def window_for(self, method: str) -> int:
        """The estimation window of ``method``, in trading days."""
        return {"monte_carlo": self.monte_carlo_estimation_window_days,
                "conditional_evt": self.evt_estimation_window_days}.get(method, self.estimation_window_days)

    def params_for(self, method: str) -> dict[str, object]:
        if method == "ewma":
            return {"lam": self.ewma_lambda}
        if method == "filtered_historical":
            return {"lam": self.ewma_lambda, "filter": self.filter}
        if method == "parametric_t":
            return {"dof": self.t_dof}
        if method == "conditional_evt":
            return {"lam": self.ewma_lambda, "filter": self.filter, "n_exceedances": self.evt_exceedances}
        if method == "monte_carlo":
            return {"n_scenarios": self.n_scenarios, "seed": self.seed, "shrinkage": self.shrinkage}
        return {}

    def validate(self, n_history: Optional[int]) -> None:
        """Every configured combination is checked before any computation starts; a window
        longer than the whole stored history (``n_history`` days) is an error."""
        for method in self.methods:
            for confidence in self.confidences:
                for horizon in self.horizons:
                    validate_var_params(
                        method, confidence, self.window_for(method), horizon, n_obs=n_history, **self.params_for(method)
                    )


def portfolio_forecasts(
    config: VarConfig,
    portfolio: Portfolio,
    pnl: pd.DataFrame,
    prices_history: pd.DataFrame | None,
    returns_history: pd.DataFrame | None,
) -> pd.DataFrame:
    """Every configured method's VaR/ES rows for one portfolio over the dates of ``pnl``."""
    series = pnl.set_index("date")["simple_return"].sort_index()
    previous_value = pnl.set_index("date")["value"].sort_index().shift(1)
    frames = []
    for method in config.methods:
        if len(series) <= config.window_for(method):
            continue  # not one full window yet (early history, or a book that starts later)
        if method == "monte_carlo":
            book = build_book(portfolio, prices_history, returns_history)
            asset_returns = book.asset_returns.reindex(series.index)
            held = book.weights.shift(1).reindex(series.index)
            grid = var_es_grid(
                asset_returns, method=method, confidences=config.confidences, horizons=config.horizons,
                window=config.window_for(method), weights=held, **config.params_for(method),
            )
        else:
            grid = var_es_grid(
                series, method=method, confidences=config.confidences, horizons=config.horizons,
                window=config.window_for(method), **config.params_for(method),
            )
        grid = grid.assign(method=method, estimation_window_days=config.window_for(method))
        frames.append(grid)
    if not frames:
        return empty_frame("var_estimates")
    out = pd.concat(frames, ignore_index=True)
    value = previous_value.reindex(out["date"]).to_numpy()
    out["var_amount"] = out["var"] * value
    out["es_amount"] = out["es"] * value
    out["portfolio"] = portfolio.name
    out["base_currency"] = portfolio.base_currency
    return out


@lake_asset(
    group_name="risk",
    deps=[portfolio_pnl, prices, returns],
    description=(
        "VaR and ES per portfolio, day, method, confidence and horizon: the forecast for day t "
        "built only from returns up to t-1. Fractions of value and base-currency amounts."
    ),
)
def var_estimates(context: dg.AssetExecutionContext, config: VarConfig) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    lookback = max(config.window_for(m) for m in config.methods) + 1
    pnl_history = read_window("portfolio_pnl", start, end, lookback=lookback)
    anything_to_estimate = pnl_history["date"].dt.date.between(start, end).any()
    # a holiday-only range still validates the settings, but has no history to compare a window with
    config.validate(n_history=len(stored_days("portfolio_pnl")) if anything_to_estimate else None)
    needs_assets = "monte_carlo" in config.methods
    # one more stored day of prices than of P&L: the weights held on the first P&L day
    prices_history = read_window("prices", start, end, lookback=lookback + 1) if needs_assets else None
    returns_history = read_window("returns", start, end, lookback=lookback + 1) if needs_assets else None
    frames = []
    for portfolio in load_portfolios():
        pnl = pnl_history.loc[pnl_history["portfolio"] == portfolio.name]
        if pnl.empty:
            continue
        frames.append(portfolio_forecasts(config, portfolio, pnl, prices_history, returns_history))
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame("var_estimates")
    frames.clear()  # a long run's rows are held once, not twice, while they are written
    frame = frame.loc[frame["date"].dt.date.between(start, end)]
    return publish("var_estimates", frame, days, **_latest_summary(frame, end))


def _latest_summary(frame: pd.DataFrame, end: dt.date) -> dict[str, object]:
    if frame.empty:
        return {}
    latest = frame.loc[frame["date"] == frame["date"].max()]
    table = latest.loc[latest["horizon_days"] == latest["horizon_days"].min(),
                       ["portfolio", "method", "confidence", "var", "es", "var_amount", "es_amount"]]
    return {"latest_var_es": dg.MetadataValue.md(table.to_markdown(index=False, floatfmt=".4g"))}
