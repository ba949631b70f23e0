"""The official VaR/ES of each book and day (risk_summary): the method pipeline.yaml's ``official``
section names, its VaR and ES at 1 and 10 days and the split of the day's change
(risk_pipeline.risk.official; docs/analytics.md)."""

import datetime as dt
from typing import Optional

import dagster as dg
import pandas as pd

from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.config.settings import section
from risk_pipeline.defs.lake_assets import lake_asset, numbers_per_day, partition_days, publish
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.scores import var_scores
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.risk.backtests.traffic_light import BASEL_CONFIDENCE, BASEL_HORIZON
from risk_pipeline.risk.official import book_rules, official_methods, summary_rows
from risk_pipeline.storage.lake import empty_frame, read_days, read_window, stored_days, window_days

_OFFICIAL = section("official")
# the monthly choice looks back to the previous month's Model Confidence Set: at most this many calendar days
CHOICE_LOOKBACK_DAYS = 95


class OfficialConfig(dg.Config):
    """The official method of each book; defaults from the ``official`` section of pipeline.yaml."""

    method: str = _OFFICIAL["method"]
    book_methods: Optional[dict[str, str]] = _OFFICIAL["book_methods"]
    fallback_method: str = _OFFICIAL["fallback_method"]
    confidence: float = float(_OFFICIAL["confidence"])


def _mcs_best(start: dt.date, end: dt.date) -> pd.DataFrame:
    """as_of, portfolio, best_method of the Model Confidence Sets computed (99%, 1 day, the longest
    scores window) from a quarter before ``start`` to ``end``."""
    window = max(int(n) for n in section("scores")["backtest_window_days"])
    days = stored_days("var_scores", first=start - dt.timedelta(days=CHOICE_LOOKBACK_DAYS), last=end)
    rows = read_days("var_scores", days, columns=["portfolio", "confidence", "horizon_days", "backtest_window_days",
                                                  "mcs_computed", "best_method"],
                     where={"horizon_days": BASEL_HORIZON, "backtest_window_days": window, "mcs_computed": True})
    rows = rows.loc[rows["confidence"].round(10).eq(BASEL_CONFIDENCE) & rows["best_method"].notna()]
    return rows[["as_of", "portfolio", "best_method"]].drop_duplicates(["as_of", "portfolio"])


@lake_asset(
    group_name="risk",
    deps=[var_estimates, var_scores, portfolio_pnl],
    description=(
        "Per book and day the official VaR and ES (the method of pipeline.yaml's official section: fixed, or the "
        "Model Confidence Set's best re-chosen monthly) at 1 and 10 days, fractions and amounts, and the change "
        "of the 1-day VaR amount since the previous business day split into positions, market and method."
    ),
)
def risk_summary(context: dg.AssetExecutionContext, config: OfficialConfig) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    portfolios = [p.name for p in load_portfolios()] + list(load_books_of_record().books)  # and the books of record
    methods = list(section("var")["methods"])
    rules = book_rules(portfolios, config.method, config.book_methods, methods, config.fallback_method)
    wanted = window_days("var_estimates", start, end, lookback=1)  # and the day before
    # the horizons used, filtered as the files are read; in the order read (summary_rows keys each row by its
    # day, book, method and horizon): a day sort of every column was a fifth of the step over 30 years
    var = read_days("var_estimates", wanted, columns=["portfolio", "method", "horizon_days", "var", "es", "var_amount",
                                                      "es_amount", "base_currency"],
                    where={"confidence": float(config.confidence), "horizon_days": [1, 10]}, by_day=False)
    pnl = read_window("portfolio_pnl", start, end, lookback=3)
    var_days = [d.date() for d in pd.DatetimeIndex(var["date"].unique()).sort_values()]
    chosen = official_methods(var_days, rules, config.fallback_method, _mcs_best(var_days[0] if var_days else start, end))
    frame = summary_rows(chosen, var, pnl, config.confidence) if var_days else empty_frame("risk_summary")
    frame = frame.loc[frame["date"].dt.date.between(start, end)].reset_index(drop=True)
    latest = frame.loc[frame["date"] == frame["date"].max()] if len(frame) else frame
    extra = {}
    if len(latest):
        shown = latest[["portfolio", "method", "method_rule", "var_1d_amount", "es_1d_amount", "var_10d_amount",
                        "es_10d_amount", "base_currency"]]
        extra["latest_official"] = dg.MetadataValue.md(shown.to_markdown(index=False, floatfmt=",.0f"))
    # each partition: each book's official 1-day VaR amount, which Dagster plots across partitions
    return publish("risk_summary", frame, days, keys=portfolios,
                   per_day=numbers_per_day(frame, "date", "portfolio", "var_1d_amount"), **extra)
