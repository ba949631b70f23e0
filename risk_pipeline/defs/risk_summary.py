"""The official VaR/ES of each book and day (risk_summary): the method pipeline.yaml's ``official``
section names, its VaR and ES at 1 and 10 days and the split of the day's change
(risk_pipeline.risk.official; docs/analytics.md)."""

import dataclasses
import datetime as dt
from functools import partial
from typing import Optional

import dagster as dg
import pandas as pd

from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.config.settings import section
from risk_pipeline.defs.chunks import publish_staged
from risk_pipeline.defs.lake_assets import lake_asset, numbers_per_day, partition_days
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.scores import var_scores
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.risk.backtests.traffic_light import BASEL_CONFIDENCE, BASEL_HORIZON
from risk_pipeline.risk.official import book_rules, official_methods, summary_rows
from risk_pipeline.storage.lake import empty_frame, read_days, read_window, stored_days, window_days
from risk_pipeline.storage.staging import Staged, stage

_OFFICIAL = section("official")
# the monthly choice looks back to the previous month's Model Confidence Set: at most this many calendar days
CHOICE_LOOKBACK_DAYS = 95


class OfficialConfig(dg.Config):
    """The official method of each book; defaults from the ``official`` section of pipeline.yaml."""

    method: str = _OFFICIAL["method"]
    book_methods: Optional[dict[str, str]] = _OFFICIAL["book_methods"]
    fallback_method: str = _OFFICIAL["fallback_method"]
    confidence: float = float(_OFFICIAL["confidence"])


def _mcs_best(start: dt.date, end: dt.date, portfolios: list[str]) -> pd.DataFrame:
    """as_of, portfolio, best_method of the Model Confidence Sets of ``portfolios`` computed (99%, 1 day, the
    longest scores window) from a quarter before ``start`` to ``end``."""
    window = max(int(n) for n in section("scores")["backtest_window_days"])
    days = stored_days("var_scores", first=start - dt.timedelta(days=CHOICE_LOOKBACK_DAYS), last=end)
    rows = read_days("var_scores", days, columns=["portfolio", "confidence", "horizon_days", "backtest_window_days",
                                                  "mcs_computed", "best_method"],
                     where={"horizon_days": BASEL_HORIZON, "backtest_window_days": window, "mcs_computed": True,
                            "portfolio": portfolios})
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
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def risk_summary(context: dg.AssetExecutionContext, config: OfficialConfig, compute: Compute) -> dg.MaterializeResult:
    """The books in one task inline and in a task per worker on Dask (``compute.spread``: a book's rows are a
    read of its forecasts and P&L and a pass over them, much the same for every book), each reading its
    books' rows (:func:`_stage_summary`); one commit (defs/chunks.py)."""
    start, end, days = partition_days(context)
    portfolios = [p.name for p in load_portfolios()] + list(load_books_of_record().books)  # and the books of record
    methods = list(section("var")["methods"])
    rules = book_rules(portfolios, config.method, config.book_methods, methods, config.fallback_method)
    wanted = window_days("var_estimates", start, end, lookback=1)  # and the day before
    first = _first_forecast_day(wanted, config.confidence)
    chunks = compute.map(partial(_stage_summary, start=start, end=end, days=days, wanted=wanted, rules=rules,
                                 fallback=config.fallback_method, confidence=float(config.confidence), first=first),
                         compute.spread(portfolios))
    per_day: dict[dt.date, dict[str, object]] = {}
    for chunk in chunks:
        for day, numbers in chunk.numbers.items():
            per_day.setdefault(day, {}).update(numbers)
    # each partition: each book's official 1-day VaR amount, which Dagster plots across partitions (the books in
    # the order of their names, as one frame of every book gives them)
    per_day = {day: dict(sorted(numbers.items())) for day, numbers in per_day.items()}
    return publish_staged("risk_summary", [chunk.staged for chunk in chunks], days, portfolios,
                          metadata=_latest_official, per_day=per_day)


def _first_forecast_day(wanted: list[dt.date], confidence: float) -> dt.date | None:
    """The first day of ``wanted`` with a 1- or 10-day forecast at ``confidence`` (None: none): where every
    task's Model Confidence Sets are read from (a quarter before), whichever books it holds."""
    where = {"confidence": float(confidence), "horizon_days": [1, 10]}
    found = read_days("var_estimates", wanted[:1], columns=["horizon_days"], where=where)
    if found.empty:  # no forecast on the first day: the first day with one
        found = read_days("var_estimates", wanted, columns=["horizon_days"], where=where)
    return found["date"].min().date() if len(found) else None


@dataclasses.dataclass(frozen=True)
class StagedSummary:
    """What a task of risk_summary hands back: its staged rows and per day its books' official 1-day VaR
    amounts (``lake_assets.numbers_per_day``)."""

    staged: Staged
    numbers: dict[dt.date, dict[str, object]]


def _stage_summary(portfolios: list[str], start: dt.date, end: dt.date, days: list[dt.date], wanted: list[dt.date],
                   rules: dict[str, str], fallback: str, confidence: float, first: dt.date | None) -> StagedSummary:
    """A task: the risk_summary rows on ``start``..``end`` of ``portfolios`` (names, their ``rules``) from their
    var_estimates rows at ``confidence`` on ``wanted`` (the range and the day before), their portfolio_pnl rows (and the three stored days before) and
    their Model Confidence Sets from a quarter before ``first`` (the run's first forecast day), written as the
    table's uncommitted files."""
    books = {"portfolio": portfolios}
    # the horizons used, filtered as the files are read; in the order read (summary_rows keys each row by its
    # day, book, method and horizon): a day sort of every column was a fifth of the step over 30 years
    var = read_days("var_estimates", wanted, columns=["portfolio", "method", "horizon_days", "var", "es", "var_amount",
                                                      "es_amount", "base_currency"],
                    where={"confidence": confidence, "horizon_days": [1, 10], **books}, by_day=False)
    pnl = read_window("portfolio_pnl", start, end, lookback=3, where=books)
    var_days = [d.date() for d in pd.DatetimeIndex(var["date"].unique()).sort_values()]
    if var_days:
        chosen = official_methods(var_days, {p: rules[p] for p in portfolios}, fallback,
                                  _mcs_best(first or start, end, portfolios))
        frame = summary_rows(chosen, var, pnl, confidence)
    else:
        frame = empty_frame("risk_summary")
    frame = frame.loc[frame["date"].dt.date.between(start, end)].reset_index(drop=True)
    return StagedSummary(stage("risk_summary", frame, days, portfolios),
                         numbers_per_day(frame, "date", "portfolio", "var_1d_amount"))


def _latest_official(latest: pd.DataFrame) -> dict[str, object]:
    """The metadata of the run's last day with rows: each book's official method and figures."""
    if latest.empty:
        return {}
    shown = latest[["portfolio", "method", "method_rule", "var_1d_amount", "es_1d_amount", "var_10d_amount",
                    "es_10d_amount", "base_currency"]]
    return {"latest_official": dg.MetadataValue.md(shown.to_markdown(index=False, floatfmt=",.0f"))}
