"""Proper scores of the VaR/ES forecasts and the comparison of methods (risk.backtests.scoring).

``forecast_scores``: the tick and FZ0 loss of each realized forecast, stored on the day its
loss is known (a run reads only the longest horizon of forecasts before its range).
``var_scores``: as of each day of a book's P&L (``backtests.book_days``: none after the last day of a
series that ends, though its trailing windows still hold scores), per trailing window of trading days,
the mean scores, the Diebold-Mariano test of each method against the best and the Model Confidence Set. A run reads
only the last max(backtest_window_days) stored days of ``forecast_scores`` before its range, so
one new day costs the same at any length of history.

MCS schedule: the bootstrap is the one costly step (reps x observations x methods per window),
so the MCS is computed as of the last trading day of each month of a run and as of the run's
last day (a daily run: that day), about 1/20 of the as-of dates of a backfill; a book's own days
count (``mcs_days`` of them), so a book whose series ends inside the run has its MCS on its last day; the other rows
have ``mcs_computed`` false, ``in_mcs`` false and no ``mcs_p``. Means and DM tests are computed
as of every day (prefix sums: cheap).
"""

import itertools
from functools import partial

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.config.settings import section
from risk_pipeline.defs.backtests import (SERIES_KEYS, book_days, longest_horizon, read_forecasts, tested_portfolios,
                                          with_series_keys)
from risk_pipeline.defs.chunks import publish_chunks
from risk_pipeline.defs.lake_assets import DETAIL_MAX_PARTITIONS, lake_asset, partition_days
from risk_pipeline.defs.options import option_pnl
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.risk.backtests.scoring import NOT_COMPARED_CODES, McsSettings, compare_families, scored_columns
from risk_pipeline.risk.backtests.table import checked_windows, day_positions, realized_observations
from risk_pipeline.storage.lake import read_window, stored_days, within_days

_SCORES = section("scores")


class ScoreConfig(dg.Config):
    """Score settings; defaults from the ``scores`` section of pipeline.yaml."""

    backtest_window_days: list[int] = [int(n) for n in _SCORES["backtest_window_days"]]
    mcs_size: float = float(_SCORES["mcs_size"])
    mcs_reps: int = int(_SCORES["mcs_reps"])
    seed: int = int(_SCORES["seed"])


@lake_asset(
    group_name="validation",
    deps=[var_estimates, portfolio_pnl, option_pnl],
    description=(
        "Tick (quantile) loss of the VaR and FZ0 joint loss of (VaR, ES) of every realized forecast (the "
        "non-overlapping observations of var_backtests), stored on the day the loss is known; the loss, VaR and ES "
        "as fractions of value (a portfolio) and in base currency, the scores on the pair of score_basis."
    ),
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def forecast_scores(context: dg.AssetExecutionContext, compute: Compute) -> dg.MaterializeResult:
    """Each chunk of portfolios is a task of the ``compute`` engine (defs/chunks.py)."""
    start, end, days = partition_days(context)
    portfolios = tested_portfolios(start, end)
    rows = partial(_forecast_score_rows, start=start, end=end, lookback=longest_horizon(end))
    return publish_chunks(compute, "forecast_scores", rows, portfolios, days, keys=portfolios)


def _forecast_score_rows(portfolios: list[str], start, end, lookback: int) -> pd.DataFrame:
    """A task: the scores of the forecasts of ``portfolios`` known on ``start``..``end``. The series of a book
    (``SERIES_KEYS``: its methods, confidences and horizons) are scored together, each row's numbers those of
    its series alone (``table.realized_observations``, ``scoring.scored_columns``: the computation of
    ``forecast_score_columns`` of each series, whose fixed cost per series was most of a new day's task), and
    framed by series as that of each series would be."""
    realized_by_portfolio, forecasts = read_forecasts(start, end, lookback, portfolios)
    groups = sorted(forecasts.groupby(SERIES_KEYS, sort=True).indices.items())
    series = np.empty(len(forecasts), dtype=np.int64)
    for i, (_, rows) in enumerate(groups):
        series[rows] = i
    order = np.lexsort((forecasts["date"].to_numpy(), series))  # by series, each in date order
    dates, series = forecasts["date"].to_numpy()[order], series[order]
    twice = np.flatnonzero((series[1:] == series[:-1]) & (dates[1:] == dates[:-1]))
    if twice.size:
        raise ValueError(f"var_estimates of {dict(zip(SERIES_KEYS, groups[series[twice[0]]][0]))}: the forecast "
                         f"of {pd.Timestamp(dates[twice[0]]).date()} is stored twice")
    values = {c: forecasts[c].to_numpy(dtype=float)[order] for c in ("var", "es", "var_amount", "es_amount")}
    confidence = np.array([float(keys[2]) for keys, _ in groups])[series]
    horizon = np.array([int(keys[3]) for keys, _ in groups], dtype=np.int64)[series]
    bounds = np.searchsorted(series, np.arange(len(groups) + 1))  # series i: rows bounds[i]..bounds[i + 1]
    parts: list[dict[str, np.ndarray]] = []
    series_keys = []
    for portfolio, members in itertools.groupby(range(len(groups)), key=lambda i: groups[i][0][0]):
        if portfolio not in realized_by_portfolio:
            continue  # forecasts whose realized series is not stored yet: nothing to score
        members = list(members)
        realized, _, amounts, offset = realized_by_portfolio[portfolio]  # offset: the day number of its first day
        lo, hi = bounds[members[0]], bounds[members[-1] + 1]
        # an option book's pair scored is its amounts
        var, es = (values["var_amount"], values["es_amount"]) if amounts else (values["var"], values["es"])
        days = realized.index.to_numpy()
        rows, end_pos, loss = realized_observations(days, realized.to_numpy(dtype=float), dates[lo:hi], var[lo:hi],
                                                    es[lo:hi], horizon[lo:hi], offset, amounts)
        rows += lo
        columns = scored_columns(days, dates[rows], end_pos, loss, var[rows], es[rows], values["var_amount"][rows],
                                 values["es_amount"][rows], confidence[rows], amounts)
        cuts = np.searchsorted(series[rows], [*members, members[-1] + 1])  # each series' scored rows
        for member, first, last in zip(members, cuts[:-1], cuts[1:]):
            parts.append({name: column[first:last] for name, column in columns.items()})
            series_keys.append(groups[member][0])
    frame = with_series_keys(parts, series_keys, "forecast_scores")
    return frame.loc[within_days(frame["date"], start, end)].reset_index(drop=True)  # the scores known in the run


FAMILY_KEYS = ["portfolio", "confidence", "horizon_days"]


def score_matrices(scores: pd.DataFrame):
    """The ``forecast_scores`` rows of each family (``FAMILY_KEYS``), in key order, as matrices:
    yields ``(keys, fz0, tick, end_day)``, the FZ0 and tick losses as frames with a row per forecast
    date (ascending) and a column per method (sorted; NaN where a method has no score), and the day
    each row's loss is known (``date`` of its first row). The dates and methods of the whole read
    are factorized once, instead of two pivots per family; a (forecast date, method) stored twice
    in a family raises naming it."""
    day_code, days = pd.factorize(scores["forecast_date"], sort=True)
    method_code, methods = pd.factorize(scores["method"], sort=True)
    fz0_loss, tick_loss, known = (scores[c].to_numpy() for c in ("fz0_loss", "tick_loss", "date"))
    for keys, rows in sorted(scores.groupby(FAMILY_KEYS, sort=True).indices.items()):
        row_days, first, at_row = np.unique(day_code[rows], return_index=True, return_inverse=True)
        row_methods, at_column = np.unique(method_code[rows], return_inverse=True)
        cells = at_row * row_methods.size + at_column
        if np.bincount(cells).max() > 1:  # (cells: indexes of the family's matrix; NumPy's unique hashes them)
            raise ValueError(f"forecast_scores of {dict(zip(FAMILY_KEYS, keys))}: a (forecast_date, method) "
                             "is stored twice")
        matrices, index, columns = [], days[row_days], methods[row_methods]  # one index and columns for both
        for values in (fz0_loss, tick_loss):
            matrix = np.full((row_days.size, row_methods.size), np.nan)
            matrix[at_row, at_column] = values[rows]
            matrices.append(pd.DataFrame(matrix, index=index, columns=columns, copy=False))
        yield keys, *matrices, known[rows[first]]


def mcs_days(days: pd.DatetimeIndex) -> np.ndarray:
    """Which as-of days of a run get an MCS (``days``: a book's days in the run): the last of each month,
    and the last one."""
    if days.empty:
        return np.zeros(0, dtype=bool)
    month = days.year * 12 + days.month
    flags = np.r_[month[1:] != month[:-1], True]
    return np.asarray(flags, dtype=bool)


@lake_asset(
    group_name="validation",
    deps=[forecast_scores],
    description=(
        "Per as-of day (the book's P&L days), portfolio, method, confidence, horizon and trailing window "
        "(backtest_window_days): "
        "mean tick and FZ0 losses, Diebold-Mariano test against the lowest-FZ0 method, and the 90% Model "
        "Confidence Set (month-ends and the run's last day)."
    ),
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def var_scores(context: dg.AssetExecutionContext, config: ScoreConfig, compute: Compute) -> dg.MaterializeResult:
    """Each chunk of portfolios is a task of the ``compute`` engine, which reads their scores and
    writes their rows (defs/chunks.py)."""
    start, end, days = partition_days(context)
    windows = tuple(checked_windows(config.backtest_window_days))
    mcs = McsSettings(size=config.mcs_size, reps=config.mcs_reps, seed=config.seed)
    portfolios = tested_portfolios(start, end)
    calendar = pd.DatetimeIndex(stored_days("portfolio_pnl"))
    rows = partial(_score_rows, start=start, end=end, windows=windows, mcs=mcs, calendar=calendar)
    return publish_chunks(compute, "var_scores", rows, portfolios, days, keys=portfolios,
                          metadata=_mcs_verdicts if len(days) <= DETAIL_MAX_PARTITIONS else None)


def _score_rows(portfolios: list[str], start, end, windows: tuple[int, ...], mcs: McsSettings,
                calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """A task: the comparisons of the methods of ``portfolios`` as of ``start``..``end``: each book's as of
    its own days of the range (:func:`book_days`, as var_backtests), so a book whose series ended
    (``prices.last_dates``) has no row after its last day, though its trailing windows still hold scores."""
    scores = read_window("forecast_scores", start, end, max(windows), where={"portfolio": list(portfolios)},
                         columns=[*FAMILY_KEYS, "forecast_date", "method", "score_basis", "tick_loss", "fz0_loss"],
                         by_day=False)  # score_matrices orders each family's rows itself
    # each book's as-of days (an option book's P&L days are trading days too), their positions in the calendar,
    # and its MCS days: mcs_days of its own days, the month-ends of the range and its last day there
    live = {}
    for book, days in book_days(start, end, portfolios).items():
        days = days[day_positions(calendar, days) >= 0]
        live[book] = (days.to_numpy(), day_positions(calendar, days), mcs_days(days))
    basis = dict(scores.drop_duplicates("portfolio")[["portfolio", "score_basis"]].itertuples(index=False))
    inputs, families, dates = [], [], []
    for family, fz0, tick, end_day in score_matrices(scores):
        if family[0] not in live or not live[family[0]][0].size:
            continue  # no P&L in the range: not held (ended, or not yet priced)
        as_of, as_of_pos, flags = live[family[0]]
        inputs.append((fz0, tick, day_positions(calendar, end_day), as_of_pos, flags))
        families.append((*family, basis[family[0]]))  # a portfolio's scores: on fractions, an option book's on amounts
        dates.append(as_of)
    # the families together: their MCS problems are solved stacked (a new day's one or two per family)
    compared = compare_families(inputs, windows, mcs)
    del inputs
    # the string columns as codes into one dictionary per column for all the families (decoded once, as Arrow)
    methods = sorted({method for family in compared for method in family.strings["method"]})
    coded = {"method": methods, "best_method": [*methods, ""], "not_compared_reason": NOT_COMPARED_CODES}
    parts = [family.coded_in(coded) for family in compared]
    del compared
    for part, as_of in zip(parts, dates):
        part["as_of"] = as_of[part["as_of"]]  # positions in the book's days -> dates
    return with_series_keys(parts, families, "var_scores", [*FAMILY_KEYS, "score_basis"], coded=coded)


def _mcs_verdicts(frame: pd.DataFrame) -> dict[str, object]:
    latest = frame.loc[frame["mcs_computed"] & frame["horizon_days"].eq(1)] if len(frame) else frame
    if latest.empty:
        return {}
    latest = latest.loc[latest["as_of"] == latest["as_of"].max()]
    table = latest[["portfolio", "confidence", "backtest_window_days", "method", "mean_fz0_loss", "dm_p",
                    "in_mcs", "mcs_p", "comparison_obs", "not_compared_reason"]]
    return {"latest_mcs": dg.MetadataValue.md(table.to_markdown(index=False, floatfmt=".4g"))}
