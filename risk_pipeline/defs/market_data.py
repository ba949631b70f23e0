"""Market data assets: validated closes and close-to-close returns per symbol and day, each audited by
the blocking quality rules before its commit (``defs.quality_rules.audit``)."""


from typing import Optional

import dagster as dg

from risk_pipeline.defs.lake_assets import lake_asset, partition_days, publish
from risk_pipeline.defs.quality_rules import audit
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.risk.returns import close_to_close_returns
from risk_pipeline.config.settings import section
from risk_pipeline.sources import make_source
from risk_pipeline.storage.lake import read_window

_PRICES = section("prices")
_RETURNS = section("returns")


class PricesConfig(dg.Config):
    """Where prices come from; defaults from the ``prices`` section of pipeline.yaml."""

    source: str = _PRICES["source"]
    csv_path: Optional[str] = _PRICES.get("csv_path")
    extra_symbols: list[str] = list(_PRICES.get("extra_symbols") or [])


def universe(extra_symbols: list[str]) -> list[str]:
    """Every symbol the portfolios hold, plus the configured extras (benchmarks)."""
    held = {symbol for portfolio in load_portfolios() for symbol in portfolio.symbols}
    return sorted(held | set(extra_symbols))


@lake_asset(
    group_name="market_data",
    description="Validated daily closes (date, symbol, close, currency, source) of every symbol the portfolios hold.",
)
def prices(context: dg.AssetExecutionContext, config: PricesConfig) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    options = {"path": config.csv_path} if config.source == "csv" else {}
    source = make_source(config.source, **options)
    symbols = universe(config.extra_symbols)
    # fetch validates the whole range before anything is written: bad data writes nothing
    frame = source.fetch(symbols, start, end)
    audit(context, "prices", frame, days, symbols)  # the blocking quality rules, before the commit
    return publish("prices", frame, days, keys=symbols, source=source.name,
                   symbols=dg.MetadataValue.int(frame["symbol"].nunique()))


class ReturnsConfig(dg.Config):
    max_gap_days: int = int(_RETURNS["max_gap_days"])


@lake_asset(
    group_name="market_data",
    deps=[prices],
    description="Simple and log close-to-close returns per symbol and day, in the symbol's own currency.",
)
def returns(context: dg.AssetExecutionContext, config: ReturnsConfig) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    history = read_window("prices", start, end, lookback=config.max_gap_days)
    frame = close_to_close_returns(history, max_gap_days=config.max_gap_days)
    frame = frame.loc[frame["date"].dt.date.between(start, end)]
    # the returns of every symbol whose closes were read: those of the symbols priced in the range
    symbols = history["symbol"].unique()
    audit(context, "returns", frame, days, symbols)
    return publish("returns", frame, days, keys=symbols)
