"""VaR backtests asset (coverage, independence and ES tests as of each day of the range) and its
red-zone check.

Every window is a trailing number of trading days, so a run reads only the last
max(backtest_window_days) + h days of forecasts and P&L before its range: one new day costs the same at
any length of history. The whole-sample window (``all`` in the list, ``whole_sample`` in the run
config; off by default) reads every stored day instead: a one-off validation, whose cost grows with
the history.
"""

import bisect
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import NamedTuple

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.defs.chunks import publish_chunks
from risk_pipeline.defs.lake_assets import lake_asset, latest_day_of_run, partition_days
from risk_pipeline.defs.options import option_pnl
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.risk.backtests.table import CODED_COLUMNS, BacktestSeries, backtest_columns_of, checked_windows
from risk_pipeline.risk.backtests.traffic_light import basel_rows, red_zone_rows, window_lengths
from risk_pipeline.risk.options.var import OptionVarMethod
from risk_pipeline.config.positions import book_currencies
from risk_pipeline.config.settings import section
from risk_pipeline.storage.lake import empty_frame, latest_day, read_days, read_window, stored_days
from risk_pipeline.storage.schemas import table_schema

_BACKTESTS = section("backtests")
WHOLE_SAMPLE = "all"  # in backtests.backtest_window_days: the whole-sample window beside the trailing ones
SERIES_KEYS = ["portfolio", "method", "confidence", "horizon_days"]
REALIZED_RETURN = "simple_return"
"""The realized series every backtest, score and ranking compares the forecasts with (through
:func:`forecast_series`): portfolio_pnl's simple return, the hypothetical P&L (the positions of the
close of t-1 revalued at the close of t) over the value of t-1: the P&L the forecast is of, so the
tests judge the model and not the day's trading (MAR32.5 counts the exceptions of both P&Ls for
the FRTB desks, :func:`risk_pipeline.risk.frtb.desk_exception_counts`). The actual-P&L
exceptions (trades and fees included) are stored beside them (``n_actual_breaches``,
``actual_kupiec_p``, ``actual_traffic_light``), on the same observations, from ``ACTUAL_RETURN``;
for books without trades the two are equal."""
ACTUAL_RETURN = "actual_return"
OPTION_PNL = "hypothetical_pnl"
"""The realized series of an option book (a book of option_pnl), which has no value to divide by
(docs/methods.md, Options): its daily hypothetical P&L in base currency, compared with the
var_amount and es_amount of its var_estimates rows (``amounts`` of
:func:`risk_pipeline.risk.backtests.table.backtest_table`); an option book does not trade inside
the day, so its actual P&L is the hypothetical one."""


class BacktestConfig(dg.Config):
    """Backtest settings; defaults from the ``backtests`` section of pipeline.yaml."""

    backtest_window_days: list[int] = [int(n) for n in _BACKTESTS["backtest_window_days"] if n != WHOLE_SAMPLE]
    whole_sample: bool = WHOLE_SAMPLE in _BACKTESTS["backtest_window_days"]  # `all` in pipeline.yaml's list
    seed: int = int(_BACKTESTS["seed"])


def longest_horizon(end) -> int:
    """The longest horizon of the var_estimates stored on the last day up to ``end``."""
    day = latest_day("var_estimates", end)
    last = read_days("var_estimates", [day] if day else [], columns=["horizon_days"])
    return int(last["horizon_days"].max()) if len(last) else 1


def tested_portfolios(start, end) -> list[str]:
    """The books whose forecasts are backtested and scored: the YAML books, the books of record and the
    option books with option P&L on ``start``..``end``."""
    books = read_window("option_pnl", start, end, columns=["book"])["book"]
    return list(book_currencies()) + sorted(set(books))


def book_days(start, end, portfolios: Sequence[str]) -> dict[str, pd.DatetimeIndex]:
    """The days ``start``..``end`` on which each of ``portfolios`` has a realized P&L: a row in portfolio_pnl,
    or in option_pnl for an option book (a book without any is left out). They are a book's as-of days in
    the validation tables: none before its first P&L, none after its last (a series that ends,
    ``prices.last_dates``: the risk of a book no longer held is not reported), in a day's run as in a range's."""
    pnl = read_window("portfolio_pnl", start, end, columns=["portfolio"], where={"portfolio": list(portfolios)})
    options = read_window("option_pnl", start, end, columns=["book"], where={"book": list(portfolios)})
    days = {}
    for frame, key in ((pnl, "portfolio"), (options, "book")):
        for name, dates in frame.groupby(key)["date"]:
            days[name] = pd.DatetimeIndex(dates.unique()).sort_values()
    return days


class ForecastSeries(NamedTuple):
    """One VaR/ES series (``keys``: ``SERIES_KEYS``) with its realized series by date: ``realized`` (the
    hypothetical P&L's simple return, or with ``amounts`` an option book's ``OPTION_PNL``), ``actual`` (the
    actual P&L's; ``realized`` itself, the same object, for an option book or a book whose actual P&L equals its
    hypothetical P&L), ``forecasts`` (columns var, es: var_estimates' fractions,
    or with ``amounts`` its var_amount and es_amount; and var_amount, es_amount: var_estimates' amounts) and the
    lake's day number of the first realized day."""

    keys: tuple
    realized: pd.Series
    actual: pd.Series
    forecasts: pd.DataFrame
    day_number_offset: int
    amounts: bool


class ForecastReads(NamedTuple):
    """What :func:`forecast_series` reads: each book's ``realized`` (realized series, actual series, whether on
    amounts, the lake's day number of its first day: ``ForecastSeries``' fields) and the ``forecasts`` rows
    (``SERIES_KEYS``, date, var, es, var_amount, es_amount) in the order read."""

    realized: dict[str, tuple[pd.Series, pd.Series, bool, int]]
    forecasts: pd.DataFrame


def read_forecasts(start, end, lookback: int, portfolios: Sequence[str]) -> ForecastReads:
    """The VaR/ES forecasts of ``portfolios`` over ``start``..``end`` plus ``lookback`` stored days before it and
    their books' realized series (:func:`forecast_series`)."""
    chosen = {"portfolio": list(portfolios)}  # read by DuckDB: a task reads its chunk's rows only
    pnl = read_window("portfolio_pnl", start, end, lookback + 1, columns=["portfolio", REALIZED_RETURN, ACTUAL_RETURN],
                      where=chosen)
    options = read_window("option_pnl", start, end, lookback + 1, columns=["book", OPTION_PNL],
                          where={"book": list(portfolios)})
    forecasts = read_window("var_estimates", start, end, lookback,  # each series put in date order by the caller
                            columns=SERIES_KEYS + ["var", "es", "var_amount", "es_amount"], where=chosen, by_day=False)
    calendar = stored_days("portfolio_pnl")
    days = pd.DatetimeIndex(calendar)
    realized_by_portfolio = {}
    for name, group in pnl.groupby("portfolio"):
        realized = group.set_index("date")[REALIZED_RETURN].sort_index()
        actual = group.set_index("date")[ACTUAL_RETURN].sort_index()
        # a book without trades: its actual series is its realized one (compared once, not for each series)
        same = np.array_equal(actual.to_numpy(dtype=float), realized.to_numpy(dtype=float), equal_nan=True)
        realized_by_portfolio[name] = (realized, realized if same else actual, False,
                                       bisect.bisect_left(calendar, realized.index[0].date()))
    for name, group in options.groupby("book"):
        amounts = group.set_index("date")[OPTION_PNL].sort_index()
        # every trading day from the book's first P&L on: a day without its P&L (no option held) is no observation
        amounts = amounts.reindex(days[(days >= amounts.index[0]) & (days <= amounts.index[-1])])
        realized_by_portfolio[name] = (amounts, amounts, True, bisect.bisect_left(calendar, amounts.index[0].date()))
    return ForecastReads(realized_by_portfolio, forecasts)


def forecast_series(start, end, lookback: int, portfolios: Sequence[str]) -> Iterator[ForecastSeries]:
    """Each stored VaR/ES series (``SERIES_KEYS``) of ``portfolios`` over ``start``..``end`` plus
    ``lookback`` stored days before it, with its portfolio's realized series (``ForecastSeries``; h-day
    observations are phased by the stored days, so a new day equals the backfill)."""
    realized_by_portfolio, forecasts = read_forecasts(start, end, lookback, portfolios)
    dates = forecasts["date"].to_numpy()
    # the columns of a series' frame, taken once (not per series): var, es (a portfolio's fractions, an
    # option book's amounts), var_amount, es_amount; one Index object for every series' frame, so its hash
    # table is built once, not by each series' first column lookup (two thirds of a series' frame cost)
    columns = pd.Index(["var", "es", "var_amount", "es_amount"])
    values = {c: forecasts[c].to_numpy(dtype=float) for c in columns}
    taken = {False: [values[c] for c in columns], True: [values[c] for c in ("var_amount", "es_amount")] * 2}
    for keys, rows in sorted(forecasts.groupby(SERIES_KEYS, sort=True).indices.items()):
        if keys[0] not in realized_by_portfolio:
            continue  # forecasts whose realized series is not stored yet: nothing to test
        realized, actual, amounts, offset = realized_by_portfolio[keys[0]]  # offset: the day number of its first day
        rows = rows[np.argsort(dates[rows], kind="stable")]  # date order, one frame from arrays (no sub-frame)
        # one block whose columns are contiguous (Fortran order): one frame costs a fraction of four columns'
        block = np.empty((rows.size, len(columns)), order="F")
        for i, column in enumerate(taken[amounts]):
            np.take(column, rows, out=block[:, i])
        series = pd.DataFrame(block, columns=columns, index=pd.DatetimeIndex(dates[rows], name="date"), copy=False)
        yield ForecastSeries(keys, realized, actual, series, offset, amounts)


def _joined(arrays: list[np.ndarray], buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.concatenate(arrays)`` written into ``buffer`` (bytes; a larger one when it is too small), and the
    buffer: a frame's columns joined one after the other in one buffer, not each in memory of its own. A column
    of millions of rows is a new mapping of the kernel's pages (glibc maps every block over 32 MiB anew), whose
    first touch faults each 4 KiB page, most of the join's time (docs/performance.md)."""
    dtype = np.result_type(*arrays)
    if dtype.hasobject:
        return np.concatenate(arrays), buffer
    size = sum(a.size for a in arrays) * dtype.itemsize
    if buffer.size < size:
        buffer = np.empty(size, np.uint8)
    return np.concatenate(arrays, out=buffer[:size].view(dtype)), buffer


def with_series_keys(parts: list[dict[str, np.ndarray]], keys: list[tuple], table: str,
                     names: Sequence[str] = SERIES_KEYS, coded: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """The rows of the series ``keys`` (values of the columns ``names``, one tuple per part; a part is
    one series' columns, one array each) as one frame of ``table`` with the keys as columns: one frame
    built for all the series, not one per series (a new day's hundreds of series cost their frames'
    construction more than their numbers), in date order (stable: series order within a day, the order
    ``write_days`` stores). Each column is put in that order as a numpy array before the frame is built
    (not the frame sorted after), and a column of strings is converted through Arrow (a few distinct
    values over millions of rows); a column of ``coded`` holds int8 codes into its strings (put in order as
    codes, then decoded by Arrow: a fraction of the cost of fixed-width strings). ``parts`` is emptied column
    by column (a long run holds its rows once, not twice, while they are written)."""
    if not parts:
        return empty_frame(table)
    lengths = [len(next(iter(part.values()))) for part in parts]
    day = table_schema(table).day_column
    order = np.argsort(np.concatenate([part[day] for part in parts]), kind="stable")
    columns = {}
    buffer = np.empty(0, np.uint8)
    for name in list(parts[0]):
        joined, buffer = _joined([part.pop(name) for part in parts], buffer)
        values = joined[order]
        if coded and name in coded:
            strings = pa.DictionaryArray.from_arrays(pa.array(values), pa.array(coded[name])).dictionary_decode()
            columns[name] = pd.array(strings, dtype="str")
        else:
            columns[name] = pd.array(pa.array(values), dtype="str") if values.dtype.kind == "U" else values
    parts.clear()
    frame = pd.DataFrame(columns, copy=False)
    del columns
    series = np.repeat(np.arange(len(keys)), lengths)[order]  # each row's series
    for i, name in enumerate(names):
        frame[name] = pd.Series([k[i] for k in keys]).take(series).reset_index(drop=True)
    return frame


@lake_asset(
    group_name="validation",
    deps=[var_estimates, portfolio_pnl, option_pnl],
    description=(
        "Backtests of every VaR/ES series (portfolio, method, confidence, horizon) as of each day, over "
        "trailing windows of trading days (250: Basel; 1000: validation); Kupiec, Christoffersen, conditional "
        "coverage, Basel traffic light and the duration, dynamic-quantile and ES tests; an option book's on "
        "amounts against its option_pnl."
    ),
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def var_backtests(context: dg.AssetExecutionContext, config: BacktestConfig, compute: Compute) -> dg.MaterializeResult:
    """Each chunk of portfolios is a task of the ``compute`` engine, which reads their forecasts and
    writes their rows (defs/chunks.py)."""
    start, end, days = partition_days(context)
    lookback = max(checked_windows(config.backtest_window_days)) + longest_horizon(end)
    if config.whole_sample:  # every stored day before the range: the whole-sample window's
        lookback = max(lookback, len(stored_days("var_estimates")))
    portfolios = tested_portfolios(start, end)
    rows = partial(_backtest_rows, config=config, start=start, end=end, lookback=lookback)
    return publish_chunks(compute, "var_backtests", rows, portfolios, days, keys=portfolios, metadata=_verdicts)


def _backtest_rows(portfolios: list[str], config: BacktestConfig, start, end, lookback: int) -> pd.DataFrame:
    """A task: the backtests of the series of ``portfolios`` as of ``start``..``end`` (computed together:
    ``backtest_columns_of``)."""
    series_keys = []
    live = book_days(start, end, portfolios)  # each book's as-of days: its P&L days of the run

    def tested() -> Iterator[BacktestSeries]:
        for series in forecast_series(start, end, lookback, portfolios):
            portfolio, _, confidence, horizon = series.keys
            as_of = live.get(portfolio)
            if as_of is None or as_of.empty:
                continue
            series_keys.append(series.keys)
            yield BacktestSeries(
                series.realized,
                series.forecasts,
                confidence=float(confidence),
                horizon_days=int(horizon),
                as_of=as_of,
                day_number_offset=series.day_number_offset,
                actual_returns=None if series.actual is series.realized else series.actual,  # None: the same losses
                amounts=series.amounts,
            )

    parts = list(backtest_columns_of(tested(), windows=config.backtest_window_days, whole_sample=config.whole_sample,
                                     seed=config.seed))
    return with_series_keys(parts, series_keys, "var_backtests", coded=CODED_COLUMNS)


_VERDICT_COLUMNS = SERIES_KEYS + ["backtest_window_days", "n_obs", "n_breaches", "kupiec_p", "cc_p", "traffic_light",
                                   "verdict"]
_NAME_COLUMNS = [_VERDICT_COLUMNS.index(c) for c in ("portfolio", "method", "traffic_light", "verdict")]


def _verdicts(frame: pd.DataFrame) -> dict[str, object]:
    """The latest day's verdicts of every series and window as a Markdown table (the materialization's
    metadata); the names are not tried as numbers (tabulate's number parsing of their ~6,000 cells a day took
    a third of the table's time)."""
    if frame.empty:
        return {}
    latest = frame.loc[frame["as_of"] == frame["as_of"].max()]
    markdown = latest[_VERDICT_COLUMNS].to_markdown(index=False, floatfmt=".4g", disable_numparse=_NAME_COLUMNS)
    return {"latest_verdicts": dg.MetadataValue.md(markdown)}


@dg.asset_check(
    asset=var_backtests,
    name="no_method_in_red_zone",
    # after the run's risk_summary, which names each book's official method of the day
    additional_deps=["risk_summary"],
    description=(
        "WARN when a book's official method (risk_summary; an option book's: full_revaluation) is in the Basel red "
        "zone (99%, horizon 1, trailing window) as of the latest day of the run; challengers in the red zone are "
        "reported, not failed."
    ),
)
def no_method_in_red_zone(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    day = latest_day_of_run(context, "var_backtests")
    if day is None:
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"note": "no backtests stored yet"})
    rows = read_days("var_backtests", [day])
    lights = basel_rows(rows, window_lengths(rows)[0])
    red = red_zone_rows(lights)
    official = read_days("risk_summary", [day])[["portfolio", "method"]]
    if official.empty:  # no official method stored for the day (a run without risk_summary): every method counts
        official = lights[["portfolio", "method"]]
    else:  # an option book is not in risk_summary: its official VaR is its full revaluation, as the summary says
        options = lights.loc[lights["method"].eq(OptionVarMethod.FULL_REVALUATION)
                             & ~lights["portfolio"].isin(official["portfolio"]), ["portfolio", "method"]]
        official = pd.concat([official, options], ignore_index=True)
    failing = red.merge(official, on=["portfolio", "method"])
    return dg.AssetCheckResult(
        passed=failing.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(failing)} official portfolio/method pair(s) in the red zone as of {day}" if len(failing)
            else f"no official method in the red zone as of {day}"
        ) + (f"; {len(red) - len(failing)} challenger(s) in it, reported" if len(red) > len(failing) else ""),
        metadata={
            "as_of": dg.MetadataValue.text(day.isoformat()),
            "red_zone": dg.MetadataValue.md(red.to_markdown(index=False, floatfmt=".4g") if len(red) else "_none_"),
            "red_pairs": dg.MetadataValue.json([f"{p}/{m}" for p, m in zip(red["portfolio"], red["method"])]),
            "failing_pairs": dg.MetadataValue.json([f"{p}/{m}" for p, m in zip(failing["portfolio"],
                                                                                failing["method"])]),
            "methods_checked": dg.MetadataValue.int(len(lights)),
        },
    )
