"""The data of one risk report (one as-of date), built from the stored tables.

Everything the HTML, the JSON summary, the CSV exports and the asset's metadata show comes
from :func:`build_report_data`; the renderers only format it.

Definitions used in the report:
  * realized loss of day t (horizon 1) = -simple_return_t of ``portfolio_pnl``; a breach is
    loss_t > var_t (docs/design.md), the same rule as the ``var_backtests`` table;
  * rolling breach count on day t = breaches over the last ``trailing`` forecast days up to t
    (fewer days at the start of the history);
  * traffic light = the ``var_backtests`` row at the as-of date for confidence 0.99, horizon 1,
    and the shortest stored ``backtest_window_days`` (the Basel test: 250 days at 99%);
  * method ranking = ``risk.backtests.rank_methods`` on the as-of date's rows of the longest
    stored window (the validation window, 1000 days by default), with each method's mean VaR
    over the same days as ``mean_var`` and, when ``var_scores`` is stored for the date, its
    Model Confidence Set membership over the same window;
  * scores = the ``var_scores`` rows at the as-of date; the report's sentence and chart per
    portfolio use 99%, horizon 1 and the ranking window (:func:`mcs_sentence`);
  * portfolio statistics = ``risk.performance`` over the last year and over the charted period
    (the last ``chart_years`` years) up to as_of.

Every table is read over the charted period plus one window before it, so the cost of a
report does not grow with the length of the stored history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from risk_pipeline.report.frtb_section import capital_history
from risk_pipeline.report.morning import Morning, load_morning
from risk_pipeline.report.options_section import OptionsView
from risk_pipeline.report.series import series_starts
from risk_pipeline.risk.backtests.ranking import rank_methods
from risk_pipeline.risk.backtests.scoring import NOT_COMPARED_REASONS
from risk_pipeline.risk.backtests.traffic_light import (
    BASEL_CONFIDENCE,
    BASEL_HORIZON,
    basel_rows,
    red_zone_rows,
    window_lengths,
)
from risk_pipeline.risk.performance import performance_statistics
from risk_pipeline.storage.lake import latest_day, read_days, stored_days, table_version
from risk_pipeline.storage.schemas import TABLES

# tables of other stages shown when they exist in the lake (latest day <= as_of)
OPTIONAL_TABLES = ("var_decomposition", "stress_results", "reverse_stress", "historical_replay", "limit_status",
                   "frtb_es", "frtb_desks", "frtb_capital")

STATISTICS_COLUMNS = [
    "portfolio", "period", "start", "end", "n_days", "total_return", "annualized_return",
    "annualized_volatility", "sharpe_ratio", "max_drawdown", "max_drawdown_peak", "max_drawdown_trough",
]  # fmt: skip
PNL_VS_VAR_COLUMNS = [
    "date", "portfolio", "method", "confidence", "simple_return", "loss", "pnl", "var", "var_amount", "breach",
    "rolling_breaches",
]  # fmt: skip


class ReportInputError(ValueError):
    """The stored tables cannot make a report for the requested date."""


@dataclass(frozen=True)
class ReportSettings:
    """Report options (``report`` section of pipeline.yaml)."""

    chart_years: int = 5
    risk_free: float = 0.0

    def __post_init__(self) -> None:
        if self.chart_years < 1:
            raise ReportInputError(f"chart_years must be >= 1, got {self.chart_years!r}")


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows; frames have the ``*_COLUMNS`` schemas of this module."""

    as_of: dt.date
    chart_start: dt.date
    settings: ReportSettings
    trailing: int  # the shortest stored backtest window (Basel traffic light), in days
    ranking_window: int  # the longest stored backtest window (method ranking), in days
    portfolios: tuple[str, ...]
    base_currency: dict[str, str]
    pnl_vs_var: pd.DataFrame  # PNL_VS_VAR_COLUMNS, horizon 1, chart period
    backtests: pd.DataFrame  # var_backtests rows at as_of
    traffic_light: pd.DataFrame  # TRAFFIC_LIGHT_COLUMNS
    ranking: pd.DataFrame  # portfolio + risk.backtests.ranking.RANKING_COLUMNS
    statistics: pd.DataFrame  # STATISTICS_COLUMNS
    latest_var: pd.DataFrame  # var_estimates rows at as_of
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)  # optional tables present in the lake
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)  # var_scores rows at as_of (none if not stored)
    table_versions: dict[str, int] = field(default_factory=dict)  # Delta version of every stored table read
    frtb_capital: pd.DataFrame = field(default_factory=pd.DataFrame)  # frtb_capital rows of the chart period
    morning: Morning | None = None  # the first page's table (report.morning)
    limit_history: pd.DataFrame = field(default_factory=pd.DataFrame)  # limit_status rows of the last year
    options: OptionsView | None = None  # the option books (report.options_section), None when not stored

    @property
    def red_zone(self) -> pd.DataFrame:
        return red_zone_rows(self.traffic_light)

    @cached_property
    def model_confidence_sets(self) -> dict[str, tuple[pd.DataFrame, str]]:
        """Per portfolio: the scores its Model Confidence Set compared (:func:`score_rows`) and the sentence
        on them (:func:`mcs_sentence`), made once for the page and summary.json."""
        out = {}
        for portfolio in self.portfolios:
            rows = score_rows(self.scores, portfolio, self.ranking_window)
            left_out = score_rows(self.scores, portfolio, self.ranking_window, compared=False)
            out[portfolio] = rows, mcs_sentence(rows, self.ranking_window, left_out)
        return out


def report_dates(available: list[dt.date], start: dt.date, end: dt.date, month_ends: bool) -> list[dt.date]:
    """As-of dates to report in a run over start..end: the last available day of the range,
    plus (``month_ends``) the last available day of every month of the range."""
    inside = sorted(d for d in available if start <= d <= end)
    if not inside:
        return []
    if not month_ends:
        return [inside[-1]]
    last_of_month = {(d.year, d.month): d for d in inside}  # sorted: the month's last day wins
    return sorted(last_of_month.values())


# the columns of the one-day var_estimates history the charts use
VAR_HISTORY_COLUMNS = ["portfolio", "method", "confidence", "var", "var_amount"]


def _trailing_counts(flags: np.ndarray, keys: pd.DataFrame, n: int) -> np.ndarray:
    """Per row, the true ``flags`` among the last ``n`` rows of its series up to it (fewer at the
    series' start), for rows sorted by series (equal ``keys``) then date: differences of one
    cumulative sum, the same integers as a rolling sum per series."""
    size = len(flags)
    # each key's codes (pd.factorize: Arrow's dictionary encoding), not its strings as Python objects
    starts = series_starts(*(pd.factorize(keys[c])[0] for c in keys.columns))
    series_start = np.repeat(starts, np.diff(np.append(starts, size)))
    total = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
    position = np.arange(size)
    return total[position + 1] - total[np.maximum(series_start, position + 1 - n)]


def _pnl_vs_var(pnl: pd.DataFrame, one_day: pd.DataFrame, trailing: int, chart_start: dt.date) -> pd.DataFrame:
    rows = one_day.merge(pnl[["date", "portfolio", "simple_return", "pnl"]], on=["date", "portfolio"], how="inner")
    rows = rows.dropna(subset=["var", "simple_return"]).sort_values(["portfolio", "method", "confidence", "date"])
    rows["loss"] = -rows["simple_return"]
    rows["breach"] = rows["loss"] > rows["var"]
    rows["rolling_breaches"] = _trailing_counts(rows["breach"].to_numpy(), rows[["portfolio", "method", "confidence"]],
                                                trailing)
    rows = rows.loc[rows["date"] >= pd.Timestamp(chart_start)]  # datetime64 at midnight: no date objects made
    return rows[PNL_VS_VAR_COLUMNS].reset_index(drop=True)


def _statistics(pnl: pd.DataFrame, as_of: dt.date, chart_start: dt.date, risk_free: float, chart_years: int) -> pd.DataFrame:
    year_start = (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()
    records = []
    for portfolio, rows in pnl.groupby("portfolio", sort=True):
        series = rows.set_index("date")["simple_return"].sort_index().dropna()
        periods = (("last 1y", year_start), (f"last {chart_years}y", chart_start))
        for period, part in ((name, series[series.index.date >= first]) for name, first in periods):
            if len(part) < 2:
                continue
            stats = performance_statistics(part, risk_free=risk_free)
            records.append({"portfolio": portfolio, "period": period, **asdict(stats)})
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=STATISTICS_COLUMNS)
    return frame[STATISTICS_COLUMNS]


def _ranking(backtests: pd.DataFrame, levels: pd.DataFrame, backtest_window_days: int, scores: pd.DataFrame) -> pd.DataFrame:
    frames = []
    rows_of_window = backtests.loc[backtests["backtest_window_days"].eq(backtest_window_days) & ~backtests["whole_sample"]]
    for portfolio, rows in rows_of_window.groupby("portfolio", sort=True):
        mine = levels.loc[levels["portfolio"].eq(portfolio), ["method", "mean_var"]]
        ranked = scores.loc[scores["portfolio"].eq(portfolio) & scores["backtest_window_days"].eq(backtest_window_days)] if len(scores) else None
        frames.append(rank_methods(rows, mine, ranked).assign(portfolio=portfolio))
    if not frames:
        return pd.DataFrame(columns=["portfolio"])
    out = pd.concat(frames, ignore_index=True)
    return out[["portfolio"] + [c for c in out.columns if c != "portfolio"]]


def score_rows(scores: pd.DataFrame, portfolio: str, days: int, compared: bool = True) -> pd.DataFrame:
    """The ``var_scores`` rows the report shows for a portfolio: 99%, horizon 1, window ``days``,
    methods compared (``compared`` False: those left out), sorted by mean FZ0 loss."""
    if scores.empty:
        return scores
    rows = scores.loc[
        scores["portfolio"].eq(portfolio) & scores["confidence"].round(10).eq(BASEL_CONFIDENCE)
        & scores["horizon_days"].eq(BASEL_HORIZON) & scores["backtest_window_days"].eq(days)
        & scores["compared"].eq(compared)
    ]
    return rows.sort_values("mean_fz0_loss").reset_index(drop=True)


def mcs_sentence(rows: pd.DataFrame, days: int, left_out: pd.DataFrame | None = None) -> str:
    """One sentence: which methods the 90% MCS cannot tell from the best (FZ0), which are worse, over
    how many common observations, and which methods it left out and why (``left_out``:
    ``score_rows(..., compared=False)``)."""
    dropped = "" if left_out is None or left_out.empty else " Left out: " + "; ".join(
        f"{m} ({NOT_COMPARED_REASONS.get(r, r)}: {n} observations)"
        for m, r, n in left_out[["method", "not_compared_reason", "n_obs"]].itertuples(index=False)) + "."
    if rows.empty or not rows["mcs_computed"].all():
        return f"No Model Confidence Set at 99%, 1 day, over the last {days} trading days for this date.{dropped}"
    inside = list(rows.loc[rows["in_mcs"], "method"])
    worse = list(rows.loc[~rows["in_mcs"], "method"])
    best = rows["best_method"].iloc[0]
    others = [m for m in inside if m != best]
    same = f"{', '.join(others)} {'is' if len(others) == 1 else 'are'} statistically indistinguishable from it" if others \
        else "no other method is statistically indistinguishable from it"
    worse_text = f"{', '.join(worse)} {'is' if len(worse) == 1 else 'are'} worse (outside the 90% Model Confidence Set)" \
        if worse else "none is worse at the 90% level"
    return (f"At 99%, 1 day, over the last {days} trading days ({rows['comparison_obs'].iloc[0]} observations "
            f"common to the methods compared) the lowest FZ0 loss is {best}'s; {same}, and {worse_text}.{dropped}")


def _var_levels(days: list[dt.date]) -> pd.DataFrame:
    """Average VaR per portfolio and method over ``days`` (the capital a method needed), missing VaR
    left out. Each group's VaR is added one after the other in the order of date, confidence and horizon
    (``np.bincount`` adds in the rows' order): the bits of DuckDB's ``avg(var ORDER BY date, confidence,
    horizon_days)`` without its sort of every row of the window; a sum in no fixed order (DuckDB's
    parallel ``avg``) changes the 16th digit of the report's mean_var from run to run."""
    rows = read_days("var_estimates", days, columns=["portfolio", "method", "confidence", "horizon_days", "var"],
                     by_day=False)
    if rows.empty:
        return pd.DataFrame(columns=["portfolio", "method", "mean_var"])
    portfolio, portfolios = pd.factorize(rows["portfolio"], sort=True)
    method, methods = pd.factorize(rows["method"], sort=True)
    size = len(portfolios) * len(methods)
    group = portfolio * len(methods) + method
    order = np.lexsort((rows["horizon_days"].to_numpy(), rows["confidence"].to_numpy(), rows["date"].to_numpy(),
                        group))
    group, var = group[order], rows["var"].to_numpy()[order]
    known = ~np.isnan(var)
    sums = np.bincount(group[known], weights=var[known], minlength=size)
    counts = np.bincount(group[known], minlength=size)
    present = np.flatnonzero(np.bincount(group, minlength=size))
    with np.errstate(invalid="ignore"):  # a group without any VaR: NaN, as avg's NULL
        means = sums[present] / counts[present]
    return pd.DataFrame({"portfolio": np.asarray(portfolios, dtype=object)[present // len(methods)],
                         "method": np.asarray(methods, dtype=object)[present % len(methods)], "mean_var": means})


def _extras(as_of: dt.date, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """The latest day's rows up to ``as_of`` of each of the optional tables ``names`` stored."""
    found = {}
    for name in names:
        day = latest_day(name, as_of)
        if day:
            rows = read_days(name, [day])  # in the scan's order, which DuckDB does not fix
            keys = [c for c in rows.columns if not pd.api.types.is_float_dtype(rows[c])]
            found[name] = rows.sort_values(keys, kind="stable", ignore_index=True)
    return found


def _chart_days(days: list[dt.date], chart_start: dt.date, trailing: int) -> list[dt.date]:
    """The charted days, plus one trailing window before them (for the rolling breach counts)."""
    return [d for d in days if d < chart_start][-trailing:] + [d for d in days if d >= chart_start]


@dataclass(frozen=True)
class ReportHead:
    """What a report reads first (:func:`read_head`): the day's backtests, the books held, the latest rows
    of the optional tables the child charts (``CHARTED_EXTRAS``) and the limits' last year, which the first
    charts drawn in a child process show (``report.publish.start_charts``) while this process reads the
    P&L-vs-VaR history (:func:`read_history`), which the child charts next, and the rest
    (:func:`build_report_data`)."""

    as_of: dt.date
    chart_start: dt.date
    trailing: int
    ranking_window: int
    portfolios: tuple[str, ...]
    all_backtests: pd.DataFrame  # var_backtests rows at as_of, option books' too
    backtests: pd.DataFrame  # those of the linear books (a portfolio_pnl row)
    held: tuple[str, ...]  # the linear books: those with a portfolio_pnl row as of as_of
    traffic_light: pd.DataFrame
    extras: dict[str, pd.DataFrame]  # those of CHARTED_EXTRAS stored
    limit_history: pd.DataFrame  # limit_status rows of the last year (:func:`_limit_history`)


@dataclass(frozen=True)
class ReportHistory:
    """The P&L-vs-VaR history of the books held (:func:`read_history`)."""

    pnl: pd.DataFrame  # portfolio_pnl rows of the chart period and one window before it, of the books held on as_of
    var_days: list[dt.date]  # var_estimates' stored days up to as_of
    pnl_vs_var: pd.DataFrame


def read_head(as_of: dt.date, settings: ReportSettings) -> ReportHead:
    """The first part of the report's data (:class:`ReportHead`)."""
    all_backtests = read_days("var_backtests", [as_of])
    if all_backtests.empty:
        raise ReportInputError(f"var_backtests has no rows as of {as_of}: materialize it for that date first")
    lengths = window_lengths(all_backtests)
    trailing, longest = lengths[0], lengths[-1]
    chart_start = (pd.Timestamp(as_of) - pd.DateOffset(years=settings.chart_years)).date()
    # the books held on the day, a portfolio_pnl row as of it (the option books, without one, have their section:
    # options_section): a book whose series ended before (prices.last_dates) is not reported, nor its history
    held = tuple(read_days("portfolio_pnl", [as_of], columns=["portfolio"])["portfolio"].unique())
    backtests = all_backtests.loc[all_backtests["portfolio"].isin(held)]
    return ReportHead(
        as_of=as_of, chart_start=chart_start, trailing=trailing, ranking_window=longest,
        portfolios=tuple(sorted(backtests["portfolio"].unique())), all_backtests=all_backtests, backtests=backtests,
        held=held, traffic_light=basel_rows(backtests, trailing), extras=_extras(as_of, CHARTED_EXTRAS),
        limit_history=_limit_history(as_of),
    )


def read_history(head: ReportHead) -> ReportHistory:
    """The P&L-vs-VaR history of the report of ``head`` (:class:`ReportHistory`)."""
    var_days = [d for d in stored_days("var_estimates") if d <= head.as_of]
    var = read_days("var_estimates", _chart_days(var_days, head.chart_start, head.trailing),
                    columns=VAR_HISTORY_COLUMNS, where={"horizon_days": 1})
    pnl_days = [d for d in stored_days("portfolio_pnl") if d <= head.as_of]
    pnl = read_days("portfolio_pnl", _chart_days(pnl_days, head.chart_start, head.trailing))
    pnl = pnl.loc[pnl["portfolio"].isin(head.held)].reset_index(drop=True)
    return ReportHistory(pnl=pnl, var_days=var_days,
                         pnl_vs_var=_pnl_vs_var(pnl, var, head.trailing, head.chart_start))


# the optional tables the child process's charts show (report.publish._child_jobs), read before it is forked
CHARTED_EXTRAS = ("var_decomposition",)
# the morning table's tables (report.morning) that the report has read already: their latest day's rows
_MORNING_READ = ("limit_status", "stress_results", "frtb_es", "frtb_capital")


def build_report_data(as_of: dt.date, settings: ReportSettings, head: ReportHead | None = None,
                      history: ReportHistory | None = None) -> ReportData:
    """Read the stored tables up to ``as_of`` and assemble the report's data (after ``head`` and
    ``history``, its first parts, when read already)."""
    head = head if head is not None else read_head(as_of, settings)
    history = history if history is not None else read_history(head)
    trailing, longest, chart_start, pnl = head.trailing, head.ranking_window, head.chart_start, history.pnl
    levels = _var_levels(history.var_days[-longest:])
    scores = read_days("var_scores", [as_of])
    linear = pnl["portfolio"].unique()
    backtests, scores = head.backtests, scores.loc[scores["portfolio"].isin(linear)]
    portfolios = head.portfolios
    currencies = pnl.drop_duplicates("portfolio").set_index("portfolio")["base_currency"].to_dict()
    lights = head.all_backtests
    extras = head.extras | _extras(as_of, tuple(name for name in OPTIONAL_TABLES if name not in CHARTED_EXTRAS))
    extras = {name: extras[name] for name in OPTIONAL_TABLES if name in extras}  # in this order (the CSVs')
    morning = load_morning(as_of, {name: extras[name] for name in _MORNING_READ if name in extras}
                           | {"var_backtests": lights.loc[lights["horizon_days"].eq(BASEL_HORIZON)].reset_index(drop=True)})
    return ReportData(
        as_of=as_of,
        chart_start=chart_start,
        settings=settings,
        trailing=trailing,
        ranking_window=longest,
        portfolios=portfolios,
        base_currency={p: str(currencies.get(p, "")) for p in portfolios},
        pnl_vs_var=history.pnl_vs_var,
        backtests=backtests.sort_values(["portfolio", "method", "confidence", "horizon_days", "backtest_window_days"]).reset_index(drop=True),
        traffic_light=head.traffic_light,
        ranking=_ranking(backtests, levels, longest, scores),
        statistics=_statistics(pnl, as_of, chart_start, settings.risk_free, settings.chart_years),
        latest_var=read_days("var_estimates", [as_of], where={"portfolio": list(linear)})
        .sort_values(["portfolio", "method", "confidence", "horizon_days"])
        .reset_index(drop=True),
        extras=extras,
        scores=scores.sort_values(["portfolio", "confidence", "horizon_days", "backtest_window_days", "method"])
        .reset_index(drop=True),
        table_versions=_table_versions(),
        frtb_capital=capital_history(as_of, chart_start),
        morning=morning,
        limit_history=head.limit_history,
        options=morning.options,
    )


def _limit_history(as_of: dt.date) -> pd.DataFrame:
    """limit_status rows of the year up to ``as_of`` (the utilisation chart; empty when not stored)."""
    if "limit_status" not in TABLES:
        return pd.DataFrame()
    start = (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()
    days = stored_days("limit_status", first=start + dt.timedelta(days=1), last=as_of)
    return read_days("limit_status", days, columns=["portfolio", "measure", "horizon_days", "utilization"]) if days \
        else pd.DataFrame()


def _table_versions() -> dict[str, int]:
    """The latest Delta version of every stored table: reading the tables at these versions
    (``risk-pipeline lake snapshot``) reproduces the report."""
    versions = {name: table_version(name) for name in TABLES}
    return {name: v for name, v in versions.items() if v is not None}
