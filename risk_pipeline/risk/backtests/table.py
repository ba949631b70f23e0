"""Every backtest for every as-of date of a history at once: the ``var_backtests`` table.

Observations. ``forecasts`` holds, per forecast date t, the VaR/ES of the h-day loss over
days t..t+h-1 (h = horizon_days, trading days of the ``returns`` index). Its realized loss
    L_t = -(prod_{j<h} (1 + r_{t+j}) - 1)
is known at the end day t+h-1 (on amounts, ``amounts``: ``returns`` holds the daily P&L of a book
without a value scale, an option book, and ``forecasts`` VaR/ES amounts; the h-day loss is
L_t = -sum_{j<h} pnl_{t+j}, the P&L of the book as managed over the h days, its daily hedge
included), so as of date a only forecasts with t+h-1 <= a count (no
look-ahead). For h > 1 the observations do not overlap: the forecast dates whose trading-day
number is a multiple of h, numbering the caller's calendar (``day_number_offset`` = the number
of returns.index[0]; the pipeline counts the lake's stored days), so a backfill and an
incremental run that reads only the last windows pick the same observations; the
``overlapping`` column is therefore always False.

Windows per as-of date a: ``backtest_window_days`` = n for each n of ``windows`` = the observations
whose loss ends within the last n trading days up to a (250 one-day observations, 25 ten-day ones
for n = 250). Every window is bounded, so a new as-of date reads and computes the same amount
whatever the length of history (a window longer than the history is its full sample). With
``whole_sample`` one more window per as-of date holds every observation of the history given
(``whole_sample`` True; ``backtest_window_days`` the trading days of the history up to a): the
one-off validation over the whole sample, whose cost grows with the history.

Columns (fixed order, ``COLUMNS``): as_of, backtest_window_days, whole_sample, n_obs, n_breaches, expected_breaches
(= n_obs (1-c)), kupiec_lr/_p, christoffersen_lr/_p, the transition counts n00, n01, n10, n11 it is
computed from (n_ij = #{consecutive observations with I_{t-1} = i, I_t = j} in the window), cc_lr/_p, tuff_lr/_p, duration_lr/_p,
dq_stat/_p (4 lags), z2_stat/_p, mcneil_frey_stat/_p, traffic_light, plus_factor, verdict,
overlapping, then the actual-P&L coverage columns n_actual_breaches, actual_kupiec_p and
actual_traffic_light (below). Each statistic is the one of ``risk_pipeline.risk.backtests`` on the window's
observations, with the same edge rules (0 / 1.0 for insufficient data, never NaN), but for the ES
tests: z2_stat/_p and mcneil_frey_stat/_p are NaN (null) for a window holding a forecast with
ES <= 0, outside both tests' domain (ES > 0): a zero forecast (the method sees no risk within the
rounding of the book's revaluation, :mod:`risk_pipeline.risk.var.rounding`; docs/methods.md) or a
tail that is a gain. The coverage tests keep such forecasts: a loss above a zero VaR is a breach. A
forecast date with a NaN var or a NaN return on one of its h days (a book whose value was near zero,
docs/positions.md) is no observation.

Actual P&L: with ``actual_returns`` (the book's actual P&L, trades and fees included, over the
same previous values) the same observations (forecast dates and windows) are also compared with
the actual h-day loss L^a_t = -(prod_{j<h} (1 + r^a_{t+j}) - 1): n_actual_breaches counts
L^a_t > VaR_t, actual_kupiec_p is Kupiec's POF p-value of that count and actual_traffic_light its
Basel zone (on n_obs). The hypothetical columns are the tests of the model (Basel); these say how
often the day's trading made the desk lose more than the forecast (MAR32.5 counts both). Without
``actual_returns`` (a book that does not trade) the actual columns equal n_breaches, kupiec_p and
traffic_light.

verdict: "insufficient_data" when n_obs (1-c) < 1 (less than one expected breach); else
"fail" when at least one of Kupiec POF (coverage), Christoffersen independence or
Acerbi-Szekely Z2 (expected shortfall) has p < 5%, or the traffic light is red; else "pass" (a
window without Z2, below, is judged on the other three).
CC, TUFF, duration, DQ and McNeil-Frey are reported but do not enter the verdict (each added
test raises the false-rejection rate of a correct model).

Speed: statistics depend on a window only through its (start, end) observation indices, so they are
computed once per distinct window. Counts, Markov transition counts, the DQ moment matrices X'X and
X'Hit, Z2's tail sums and the McNeil-Frey residual and bootstrap sums are prefix sums differenced
per window (a McNeil-Frey window after a residual so large that the difference would lose its digits
is summed over its own breaches: ``_mcneil_frey_columns``); Z2's simulated paths are one (rows x
n_sims) array, over the rows the simulated windows span, whose cumulative sums give every window's
simulated statistics (when only a few windows are asked, one new day, the same sums are added
sparsely over the simulated breaches alone, ``_column_sums_before``, bit for bit equal); the
simulated breaches of a date are drawn once per run and shared by every series
(``expected_shortfall.z2_tail_draws``); windows longer than Z2_SIMULATED_MAX_OBS use the normal
limit of the same simulation (``_z2_columns``). The Weibull duration MLE is solved for every
distinct window by one vectorized safeguarded-Newton run on the profile likelihood (exact, no
sub-grid). Random draws are keyed by (seed, forecast date), so a row does not depend on which as-of
dates are requested (``expected_shortfall`` docstring). Many series (``backtest_columns_of``: a task's
hundreds of series, one new day's each with two windows) are computed together, one after the other in
one set of arrays: counts over all of them at once, every sum of floats over its own series' rows from
its first (``_prefix`` with the series' bounds, their order of additions that of the series alone),
each series' Z2 simulation and its duration fit's padded width its own, so every number is bit for bit
that of the series alone whichever series share a call.
Timing: ``benchmarks/bench_backtests.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import norm

from risk_pipeline.risk.backtests.base import (
    SIGNIFICANCE,
    BacktestInputError,
    Verdict,
    as_count,
    chi2_sf,
    has_coverage_data,
    tail_probability,
)
from risk_pipeline.risk.backtests.coverage import (
    ZONE_NAMES,
    TrafficLight,
    independence_lr,
    kupiec_lr,
    traffic_light_zones,
    tuff_lr,
)
from risk_pipeline.risk.backtests.dynamic_quantile import dq_p_value, dq_rows, dq_statistic_stacked
from risk_pipeline.risk.backtests.duration import duration_lr
from risk_pipeline.risk.backtests.expected_shortfall import (
    MIN_EXCEEDANCES,
    exceedance_residuals,
    keyed_poisson_weights,
    mcneil_frey_from_sums,
    monte_carlo_p_value,
    z2_tail_draws,
    z2_tail_terms,
    z2_statistic,
)

DQ_LAGS = 4
DEFAULT_N_SIMS = 1000
_CELLS = 1 << 20  # array cells per block of simulated values
_COUNT_ROWS = 64  # Z2 windows whose simulated sums are compared at once
_BOOTSTRAP_ROWS = 64  # McNeil-Frey breach ranges bootstrapped at once
_BOOTSTRAP_BLOCK = 256  # McNeil-Frey breaches whose bootstrap weights are drawn at once (_bootstrap_prefix_at)
_RUN_MIN_WINDOWS = 16  # Z2 windows advancing together, from this many on counted on slices of the paths
_SPARSE_MAX_POSITIONS = 16  # Z2 paths needed at at most this many rows: summed sparsely (_column_sums_before)
Z2_SIMULATED_MAX_OBS = 1000  # longer Z2 windows use the normal limit of the simulation (_z2_columns)
PREFIX_RATIO_MAX = 2.0**20
"""A window's sums are differences of prefix sums while the prefix sum of squares (McNeil-Frey's residuals here,
``_mcneil_frey_columns``; the FZ0 losses in ``scoring``'s Diebold-Mariano tests and mean losses) up to the window's
last row is at most this multiple of the window's own, else summed over the window's own rows: at most 20 of the
52 bits of its sums lost to the rows before it."""

COLUMNS = [
    "as_of", "backtest_window_days", "whole_sample", "n_obs", "n_breaches", "expected_breaches",
    "kupiec_lr", "kupiec_p", "christoffersen_lr", "christoffersen_p", "n00", "n01", "n10", "n11", "cc_lr", "cc_p",
    "tuff_lr", "tuff_p", "duration_lr", "duration_p", "dq_stat", "dq_p",
    "z2_stat", "z2_p", "mcneil_frey_stat", "mcneil_frey_p",
    "traffic_light", "plus_factor", "verdict", "overlapping",
    "n_actual_breaches", "actual_kupiec_p", "actual_traffic_light",
]  # fmt: skip
LIGHTS = (*ZONE_NAMES.tolist(), TrafficLight.INSUFFICIENT_DATA.value)  # code i < 3: zone i of traffic_light_zones
VERDICTS = (Verdict.PASS.value, Verdict.FAIL.value, Verdict.INSUFFICIENT_DATA.value)
CODED_COLUMNS = {"traffic_light": LIGHTS, "verdict": VERDICTS, "actual_traffic_light": LIGHTS}
"""The string columns, which :func:`backtest_columns` returns as int8 codes into these values (a few distinct
strings over millions of rows: codes are gathered and concatenated at a fraction of the cost of fixed-width
strings); :func:`backtest_table` and the asset's frame (``with_series_keys``) put the strings in their place."""


@dataclass(frozen=True)
class BacktestObservations:
    """Non-overlapping realized observations, in date order."""

    forecast_days: np.ndarray  # forecast dates t (datetime64, the forecasts index's unit)
    end_pos: np.ndarray  # position of t+h-1 in the returns index
    loss: np.ndarray
    var: np.ndarray
    es: np.ndarray
    keys: np.ndarray  # forecast dates as days since 1970-01-01 (random-draw keys)

    @property
    def hits(self) -> np.ndarray:
        return self.loss > self.var

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The forecast dates t."""
        return pd.DatetimeIndex(self.forecast_days)


def _check_index(index: pd.Index, name: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise BacktestInputError(f"{name} must have a DatetimeIndex, got {type(index).__name__}")
    if not index.is_unique or not index.is_monotonic_increasing:
        raise BacktestInputError(f"{name} index must be sorted and unique")
    return index


def horizon_losses(daily: np.ndarray, start: np.ndarray, horizon_days: int, amounts: bool = False) -> np.ndarray:
    """The h-day loss from each row ``start`` of ``daily``: ``1 - prod(1 + r)`` of simple returns, or with
    ``amounts`` ``-sum(pnl)`` of daily P&L amounts (module docstring)."""
    window = daily[start[:, None] + np.arange(horizon_days)]
    return -window.sum(axis=1) if amounts else 1.0 - np.prod(1.0 + window, axis=1)


_DAY_NS = 86_400_000_000_000


def _nanoseconds(index: pd.DatetimeIndex) -> np.ndarray:
    """The dates of ``index`` as int64 nanoseconds (its own array, not a converted copy, when in ns)."""
    return (index if index.unit == "ns" else index.as_unit("ns")).asi8


def day_positions(days: pd.DatetimeIndex | np.ndarray, dates: pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """``days.get_indexer(dates)`` of sorted, unique days and dates (indexes or datetime64 arrays; -1: not a
    day of ``days``), by a binary search on their values: a fraction of pandas' cost for the hundreds of
    series or families of a run."""
    values, wanted = np.asarray(days), np.asarray(dates)
    pos = np.searchsorted(values, wanted)
    if not values.size:
        return np.full(wanted.size, -1)
    return np.where(values[np.minimum(pos, values.size - 1)] == wanted, pos, -1)


def realized_observations(days: np.ndarray, returns: np.ndarray, dates: np.ndarray, var: np.ndarray,
                          es: np.ndarray, horizon_days: int | np.ndarray, day_number_offset: int = 0,
                          amounts: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forecasts (rows ``dates``, ``var``, ``es``, each with its horizon: ``horizon_days``, one for all or
    one per row) that are observations of :func:`backtest_observations` against the daily ``returns`` on
    ``days`` (sorted, unique datetime64): ``(rows, end_pos, loss)``, the rows (ascending), the position in
    ``days`` of each one's last day and its realized loss (:func:`horizon_losses`). The rows may hold many
    series of one book, each with its own horizon: a row's numbers are those of its series alone."""
    if (np.diff(days) <= np.timedelta64(0)).any():
        raise BacktestInputError("returns index must be sorted and unique")
    if np.isinf(returns).any():
        raise BacktestInputError(f"returns on {pd.Timestamp(days[np.isinf(returns)][0]).date()} is not finite")
    half = np.isnan(var) != np.isnan(es)
    if half.any():
        raise BacktestInputError(f"forecasts on {pd.Timestamp(dates[half][0]).date()}: var and es must be both "
                                 "present or both NaN")
    horizons = np.broadcast_to(np.asarray(horizon_days, dtype=np.int64), dates.shape)
    pos = day_positions(days, dates)
    if (pos < 0).any():  # the dates after the last return are not realized yet; others must be dates of returns
        unknown = (pos < 0) & (dates <= days[-1] if days.size else np.zeros(dates.size, bool))
        if unknown.any():
            raise BacktestInputError(f"forecast date {pd.Timestamp(dates[unknown][0]).date()} is not a date of returns")
    usable = np.flatnonzero(~np.isnan(var) & (pos >= 0))
    h = horizons[usable]
    usable = usable[((pos[usable] + day_number_offset) % h == 0) & (pos[usable] + h <= days.size)]
    # a forecast whose h days include a day without a return (NaN: a book whose value was near zero,
    # docs/positions.md) has no realized loss: it is no observation
    h, loss, realized = horizons[usable], np.empty(usable.size), np.zeros(usable.size, dtype=bool)
    for horizon in np.unique(h):
        at = np.flatnonzero(h == horizon)
        start = pos[usable[at]]
        realized[at] = ~np.isnan(returns[start[:, None] + np.arange(horizon)]).any(axis=1)
        loss[at] = horizon_losses(returns, start, int(horizon), amounts)
    usable, loss = usable[realized], loss[realized]
    bad = var[usable] > es[usable]
    if bad.any():
        raise BacktestInputError(f"forecasts on {pd.Timestamp(dates[usable][np.argmax(bad)]).date()}: need var <= es")
    return usable, pos[usable] + horizons[usable] - 1, loss


def backtest_observations(returns: pd.Series, forecasts: pd.DataFrame, horizon_days: int,
                          day_number_offset: int = 0, amounts: bool = False) -> BacktestObservations:
    """Realized h-day losses for the non-overlapping forecast dates: those whose trading-day
    number (``day_number_offset`` + position in ``returns``) is a multiple of h (module docstring),
    with a forecast (var not NaN) and a return on each of their h days (NaN: no observation).
    ``amounts``: ``returns`` holds daily P&L and ``forecasts`` VaR/ES amounts (:func:`horizon_losses`)."""
    if not isinstance(returns, pd.Series):
        raise BacktestInputError(f"returns must be a pandas Series, got {type(returns).__name__}")
    if not isinstance(forecasts, pd.DataFrame) or "var" not in forecasts.columns or "es" not in forecasts.columns:
        raise BacktestInputError("forecasts must be a DataFrame with columns 'var' and 'es'")
    days = _check_index(returns.index, "returns")
    fdates = _check_index(forecasts.index, "forecasts")
    var, es = _var_es(forecasts)
    rows, end_pos, loss = realized_observations(days.to_numpy(), returns.to_numpy(dtype=float), fdates.to_numpy(),
                                                var, es, horizon_days, day_number_offset, amounts)
    return BacktestObservations(
        forecast_days=fdates.to_numpy()[rows],
        end_pos=end_pos,
        loss=loss,
        var=var[rows],
        es=es[rows],
        keys=np.floor_divide(_nanoseconds(fdates)[rows], _DAY_NS),  # whole days since 1970-01-01, as datetime64[D]
    )


def _var_es(forecasts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The columns var and es of ``forecasts`` as floats: views of a frame of floats' one block (a frame of a few
    columns per series, hundreds of series a run: a fraction of a column lookup's cost), else converted."""
    values = forecasts.to_numpy()
    if values.dtype.kind != "f":  # columns of other types: the two alone
        values = forecasts[["var", "es"]].to_numpy(dtype=float)
        return values[:, 0], values[:, 1]
    return values[:, forecasts.columns.get_loc("var")], values[:, forecasts.columns.get_loc("es")]


def _prefix(a: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
    """Prefix sums along axis 0 with a leading zero row: sum of rows [s, e) = P[e] - P[s]. With ``bounds``
    (rows [bounds[k], bounds[k + 1]) are series k's, :func:`backtest_columns_of`) each series' from its own first
    row, with a leading zero row each: series k's at [bounds[k] + k, bounds[k + 1] + k], so the sum of its rows
    [s, e) is P[e + k] - P[s + k], the same additions as ``_prefix`` of the series alone."""
    if bounds is None:
        bounds = np.array([0, a.shape[0]])
    out = np.zeros((a.shape[0] + bounds.size - 1,) + a.shape[1:])
    for k, (first, end) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
        np.cumsum(a[first:end], axis=0, out=out[first + k + 1 : end + k + 1])
    return out


def _cumsum_rows(a: np.ndarray, out: np.ndarray) -> None:
    """``np.cumsum(a, axis=0, out=out)`` of a 2-D array a row at a time: the same additions in the same
    order (each row added to the sum of the rows before it), so the same bits, several times faster
    when rows are wide (numpy's accumulate walks down each column: a cache line per element)."""
    if a.shape[0]:
        out[0] = a[0]
    for i in range(1, a.shape[0]):
        np.add(out[i - 1], a[i], out=out[i])


def _z2_columns(obs: BacktestObservations, s: np.ndarray, e: np.ndarray, stack: _Stack, seed: int, n_sims: int):
    """Z2 statistic and p-value per window [s, e) of the series ``stack`` (:func:`_window_statistics`).

    Windows of at most ``Z2_SIMULATED_MAX_OBS`` observations get the simulated p-value: the
    simulated paths are cumulated only over the rows those windows span, so one new day costs
    the same whatever the length of history. Longer windows (validation windows of many years)
    get the normal limit of the same simulation model: the simulated sum is a sum of independent
    terms x_t = I_t (VaR_t + (ES_t - VaR_t) E) / ES_t, I_t ~ Bernoulli(p), E ~ Exp(1), with

        E[x_t] = p,    E[x_t^2] = p (VaR_t^2 + 2 VaR_t (ES_t - VaR_t) + 2 (ES_t - VaR_t)^2) / ES_t^2,

    so P(sum >= observed) = 1 - Phi((observed - sum E[x_t]) / sqrt(sum Var[x_t])) (Lindeberg CLT;
    beyond 1,000 terms its error is below the Monte Carlo error of 1,000 simulations).
    A forecast with ES <= 0 (a zero forecast, or a tail that is a gain) has no defined Z2 term: the
    windows holding it get NaN (``_window_statistics``); here it contributes 0 to the sums, so that
    the simulated paths of the windows around it are those of their own rows.
    """
    valid = obs.es > 0.0
    safe_es = np.where(valid, obs.es, 1.0)
    ks, ke = s + stack.series, e + stack.series  # the windows' bounds in the series' prefix sums
    tail = _prefix(np.where(obs.hits & valid, obs.loss / safe_es, 0.0), stack.bounds)
    observed = tail[ke] - tail[ks]
    n = e - s
    p_value = np.ones(s.size)
    simulate = (n > 0) & (n <= Z2_SIMULATED_MAX_OBS)
    for k, first, end, windows in stack.each(simulate):  # each series' simulation over its own rows
        p_value[windows] = _z2_simulated_p(stack.part(obs, k), safe_es[first:end], valid[first:end],
                                           s[windows] - first, e[windows] - first, observed[windows],
                                           float(stack.p[k]), seed, n_sims)
    limit = n > Z2_SIMULATED_MAX_OBS
    if limit.any():
        spread = (safe_es - obs.var) / safe_es
        level = obs.var / safe_es
        p_row = stack.row_p()
        second = np.where(valid, p_row * (level**2 + 2.0 * level * spread + 2.0 * spread**2), 0.0)
        mean, m2 = _prefix(np.where(valid, p_row, 0.0), stack.bounds), _prefix(second, stack.bounds)
        a, b = ks[limit], ke[limit]
        variance = (m2[b] - m2[a]) - (mean[b] - mean[a]) * stack.p[stack.series[limit]]
        z = (observed[limit] - (mean[b] - mean[a])) / np.sqrt(np.maximum(variance, np.finfo(float).tiny))
        p_value[limit] = norm.sf(z)
    return z2_statistic(observed, n, stack.p[stack.series]), p_value


def _z2_simulated_p(obs: BacktestObservations, safe_es: np.ndarray, valid: np.ndarray, s: np.ndarray, e: np.ndarray,
                    observed: np.ndarray, p: float, seed: int, n_sims: int) -> np.ndarray:
    """Monte Carlo p-values of windows [s, e), simulating only the rows from min(s) to max(e)."""
    lo, hi = int(s.min()), int(e.max())
    block = max(1, _CELLS // n_sims)
    sparse = hi - lo <= block
    if sparse:
        positions, where = np.unique(np.concatenate([s, e]) - lo, return_inverse=True)
        sparse = positions.size <= _SPARSE_MAX_POSITIONS
    if sparse:
        draws = z2_tail_draws(seed, obs.keys[lo:hi], n_sims, p)
        if not valid[lo:hi].all():  # a row without a defined Z2 term (ES <= 0) adds nothing
            kept = valid[lo:hi][draws[0]]
            draws = tuple(a[kept] for a in draws)
        sums = _column_sums_before(draws[0], draws[1], z2_tail_terms(draws, obs.var[lo:hi], safe_es[lo:hi]),
                                   n_sims, positions)
        simulated = sums[where[s.size:]] - sums[where[: s.size]]
        return monte_carlo_p_value((simulated >= observed[:, None]).sum(axis=1), n_sims)
    paths = np.zeros((hi - lo + 1, n_sims))
    terms = np.zeros((min(block, hi - lo), n_sims))
    for i in range(lo, hi, block):
        j = min(hi, i + block)
        x = terms[: j - i]  # z2_simulated_terms into one buffer
        draws = z2_tail_draws(seed, obs.keys[i:j], n_sims, p)
        x[draws[0], draws[1]] = z2_tail_terms(draws, obs.var[i:j], safe_es[i:j])
        x[~valid[i:j]] = 0.0
        _cumsum_rows(x, paths[i - lo + 1 : j - lo + 1])
        paths[i - lo + 1 : j - lo + 1] += paths[i - lo]
        x[draws[0], draws[1]] = 0.0  # the buffer zero again for the next block: its breaches only, not a fill
    # the windows of one length in date order, cut where their first or last row does not advance by one:
    # a run's simulated sums are the difference of two slices of the paths (views, no gathered copies)
    order = np.lexsort((e, e - s))
    s_run, e_run = s[order], e[order]
    cuts = np.flatnonzero((np.diff(s_run) != 1) | (np.diff(e_run) != 1)) + 1
    firsts, ends = np.r_[0, cuts], np.r_[cuts, s.size]
    long = ends - firsts >= _RUN_MIN_WINDOWS
    others = np.concatenate([order[a:b] for a, b in zip(firsts[~long], ends[~long])] + [np.zeros(0, np.int64)])
    at_least = np.empty(s.size)
    rows = min(_COUNT_ROWS, s.size)  # buffers allocated once, small enough to stay in the cache between passes
    simulated, other, above = np.empty((rows, n_sims)), np.empty((rows, n_sims)), np.empty((rows, n_sims), dtype=bool)

    def count(windows: np.ndarray, ends_at: np.ndarray, starts_at: np.ndarray) -> None:
        m = windows.size
        np.subtract(ends_at, starts_at, out=simulated[:m])
        np.greater_equal(simulated[:m], observed[windows, None], out=above[:m])
        at_least[windows] = _true_per_row(above[:m])

    for a, b in zip(firsts[long], ends[long]):
        for i in range(a, b, rows):
            m = min(b, i + rows) - i
            first, last = s_run[i] - lo, e_run[i] - lo
            count(order[i : i + m], paths[last : last + m], paths[first : first + m])
    for i in range(0, others.size, rows):
        windows = others[i : i + rows]
        m = windows.size
        np.take(paths, e[windows] - lo, axis=0, out=other[:m])
        count(windows, other[:m], paths[s[windows] - lo])
    return monte_carlo_p_value(at_least, n_sims)


def _true_per_row(above: np.ndarray) -> np.ndarray:
    """``np.count_nonzero(above, axis=1)`` of a C-contiguous boolean matrix. Rows of a multiple of 8 and at
    most 2,040 cells are summed as 64-bit words, eight byte lanes at once (a lane's sum, at most 255, never
    carries into the next), then the lanes: a fraction of the cost of counting byte by byte."""
    rows, cols = above.shape
    if cols % 8 or cols > 8 * 255 or not above.flags.c_contiguous:
        return np.count_nonzero(above, axis=1)
    lanes = above.view(np.uint64).sum(axis=1, dtype=np.uint64)
    return lanes.view(np.uint8).reshape(rows, 8).sum(axis=1, dtype=np.int64)


def _column_sums_before(row: np.ndarray, col: np.ndarray, value: np.ndarray, n_cols: int,
                        positions: np.ndarray) -> np.ndarray:
    """Sums of the sparse matrix entries (row, col, value), given in row-major order, over the rows
    before each of ``positions`` (ascending), one row of ``n_cols`` per position.

    The entries are added to each column one by one in the order given (row order), starting from 0,
    by ``np.add.at`` over the entries between one position and the next, continuing the sums of the
    position before: the same floating-point additions as ``np.cumsum`` along the rows of the dense
    matrix (its zeros add nothing), so the sums are bit for bit the dense paths' (``_z2_simulated_p``
    with one block) at a fraction of the cost when only a few positions are needed (one new day: two
    windows), each entry added once.
    """
    ends = np.searchsorted(row, positions, side="left")  # entries of the rows before each position
    sums, running, done = np.empty((ends.size, n_cols)), np.zeros(n_cols), 0
    for i, m in enumerate(ends):
        np.add.at(running, col[done:m], value[done:m])
        sums[i], done = running, m
    return sums


def _mcneil_frey_columns(obs: BacktestObservations, bs: np.ndarray, be: np.ndarray, seed: int, n_boot: int,
                         breach_bounds: np.ndarray | None = None):
    """McNeil-Frey statistic and bootstrap p-value per breach range [bs, be) (``breach_bounds``: where ``obs``
    holds series one after the other, the index of each one's first breach and the number of breaches: each
    range's sums run over its series' breaches alone, as a call on that series would sum them).

    Residuals are scaled by ES - VaR; a forecast with ES == VaR > 0 (a degenerate tail) gets an
    infinite scale, i.e. a neutral residual of 0, instead of a division by zero (a window holding
    one with ES <= 0 gets NaN: ``_window_statistics``).

    A range's sums (of r, r^2, their bootstrap-weighted sums and the residuals each replicate
    draws) are differences of prefix sums over the run's breaches, which carry an error of the
    order of eps times the prefix. That is nothing while the rows before a window are of its own
    size, but an option book's residual whose scale ES - VaR is a few micro-USD (options expiring
    the next day) and whose loss is thousands of USD is 1e8 or more: its square entered every
    later prefix, a window after it was the difference of two sums of 1e17, its own sum of squares
    (50) kept no digit (32 was stored), and the statistic depended on where the run's history
    began (2022-12-27 re-run alone moved it by 27%). So a range whose prefix sum of squares
    P2[hi] exceeds ``PREFIX_RATIO_MAX`` (2^20) times its own P2[hi] - P2[lo] is summed directly
    over its breaches (:func:`_range_sums`), in row order from its first: no earlier row can
    disturb it. The bootstrap needs this margin, not only the statistic: a replicate that draws two
    small residuals of a window holding a huge one has a variance a millionth of the window's,
    formed by cancellation. The residuals of the linear books never come near: at most 4.5e4 over 30
    years, so their numbers are the prefix sums' as before.
    """
    hits = obs.hits
    spread = obs.es - obs.var
    r = exceedance_residuals(obs.loss, obs.var, obs.es, np.where(spread > 0.0, spread, np.inf))
    keys = obs.keys[hits]
    codes, inverse = np.unique(bs * (r.size + 1) + be, return_inverse=True)
    lo, hi = np.divmod(codes, r.size + 1)
    bounds = np.array([0, r.size]) if breach_bounds is None else breach_bounds
    # each range's series (the last of equal bounds: a series without breaches holds no range) and its bounds in
    # the series' prefix sums
    series = np.minimum(np.searchsorted(bounds, lo, side="right") - 1, bounds.size - 2)
    lo_k, hi_k = lo + series, hi + series
    # fewer than MIN_EXCEEDANCES breaches: t 0, p 1 (mcneil_frey_from_sums' insufficient rows), no bootstrap
    t, p_value = np.zeros(codes.size), np.ones(codes.size)
    enough = hi - lo >= MIN_EXCEEDANCES
    r1, r2 = _prefix(r, bounds), _prefix(r * r, bounds)
    cancelled = r2[hi_k] > PREFIX_RATIO_MAX * (r2[hi_k] - r2[lo_k])  # digits lost to the rows before (docstring)
    differenced = np.flatnonzero(enough & ~cancelled)
    at = np.unique(np.concatenate([lo_k[differenced], hi_k[differenced]]))
    weighted = _bootstrap_prefix_at(r, keys, bounds, at, seed, n_boot)  # w, w r, w r^2, draws: (4, len(at), n_boot)
    # a block of ranges at a time (each range's replicates are its own row): the (ranges x n_boot) arrays
    # stay in the cache instead of a dozen fresh arrays of all the ranges (the same numbers, row for row)
    for i in range(0, differenced.size, _BOOTSTRAP_ROWS):
        rows = differenced[i : i + _BOOTSTRAP_ROWS]
        a, b = lo_k[rows], hi_k[rows]
        w0, w1, w2, drawn = weighted[:, np.searchsorted(at, b)] - weighted[:, np.searchsorted(at, a)]
        t[rows], p_value[rows], _ = mcneil_frey_from_sums(
            hi[rows] - lo[rows], r1[b] - r1[a], r2[b] - r2[a], w0, w1, w2, drawn
        )
    summed = np.flatnonzero(enough & cancelled)
    for i in range(0, summed.size, _BOOTSTRAP_ROWS):
        rows = summed[i : i + _BOOTSTRAP_ROWS]
        held = np.concatenate([np.arange(a, b) for a, b in zip(lo[rows].tolist(), hi[rows].tolist())])
        starts = np.concatenate([[0], np.cumsum(hi[rows] - lo[rows])])
        sums = _range_sums(_bootstrap_columns(r[held], keys[held], seed, n_boot), starts[:-1], starts[1:])
        t[rows], p_value[rows], _ = mcneil_frey_from_sums(hi[rows] - lo[rows], *sums)
    return t[inverse], p_value[inverse]


def _bootstrap_columns(r: np.ndarray, keys: np.ndarray, seed: int, n_boot: int) -> tuple[np.ndarray, ...]:
    """The columns McNeil-Frey sums over breaches with residuals ``r`` and observation ``keys``: r, r^2, their
    ``keyed_poisson_weights`` w (n_boot columns), w r, w r^2, and whether each replicate draws the residual
    (w > 0, as 0/1)."""
    w = keyed_poisson_weights(seed, keys, n_boot)
    return r, r * r, w, w * r[:, None], w * (r * r)[:, None], (w > 0.0).astype(np.int32)


def _bootstrap_prefix_at(r: np.ndarray, keys: np.ndarray, bounds: np.ndarray, at: np.ndarray, seed: int,
                         n_boot: int) -> np.ndarray:
    """Prefix sums of McNeil-Frey's bootstrap columns w, w r, w r^2 and of the draws w > 0
    (:func:`_bootstrap_columns`), each series' from its own zero row (``_prefix`` with ``bounds``), kept at the
    prefix rows ``at`` only (ascending): shape (4, len(at), n_boot). Each series' sums run over its breaches in
    row order, a row added to the sum of the rows before it: the additions of ``_prefix``, so its bits (the
    counts, whole numbers, are exact). The weights are drawn ``_BOOTSTRAP_BLOCK`` breaches at a time, so no
    (breaches x n_boot) array is held whole: a new day needs two rows per series of sums over a thousand days'
    breaches, and their whole arrays were allocated and zeroed for a fraction of a second."""
    out = np.zeros((4, at.size, n_boot))
    wanted = at.tolist() + [-1]  # ascending; -1: none left
    j = 0
    running = np.zeros((4, n_boot))
    for k, (first, end) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
        if wanted[j] == first + k:  # the series' zero row
            j += 1
        for b0 in range(first, end, _BOOTSTRAP_BLOCK):
            b1 = min(b0 + _BOOTSTRAP_BLOCK, end)
            _, _, w, wr, wrr, draws = _bootstrap_columns(r[b0:b1], keys[b0:b1], seed, n_boot)
            block = np.stack([w, wr, wrr, draws.astype(float)], axis=1)  # (rows, 4, n_boot)
            for i in range(b1 - b0):
                if b0 + i == first:
                    running[:] = block[i]
                else:
                    np.add(running, block[i], out=running)
                if wanted[j] == b0 + i + k + 1:
                    out[:, j] = running
                    j += 1
    return out


def _range_sums(columns: Sequence[np.ndarray], lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
    """Each column's sums over the rows [lo_i, hi_i) (non-empty ranges), each summed in row order from lo_i: a
    function of the range's own rows alone, whatever rows come before it."""
    rows = np.concatenate([np.arange(a, b) for a, b in zip(lo.tolist(), hi.tolist())])
    starts = np.concatenate([[0], np.cumsum(hi - lo)[:-1]])
    return [np.add.reduceat(column[rows], starts, axis=0) for column in columns]


def _dq_moments(hits: np.ndarray, var: np.ndarray, lo: np.ndarray, hi: np.ndarray, stack: _Stack
                ) -> tuple[np.ndarray, np.ndarray]:
    """DQ's moment matrices X'X and X'Hit (``dynamic_quantile.dq_rows``) of the rows [lo_i, hi_i) of every window,
    as differences of prefix sums over the run's rows, or summed directly over the window's own rows
    (:func:`_range_sums`) where the prefix of VaR^2 (X'X's last diagonal entry) up to the window's end exceeds
    ``PREFIX_RATIO_MAX`` times the window's own: McNeil-Frey's rule (:func:`_mcneil_frey_columns`) for the
    same loss of digits. A VaR in money can span decades (an option book's, options worth a fraction of a
    cent on expiry eves), and a window after a VaR 2^10 times its own would be the difference of two sums
    dominated by that day's VaR^2, its statistic depending on where the run's history began. Each series'
    rows and sums are its own (``stack``: a series' first rows have no lags, as ``dq_rows`` of it alone). X'X is
    symmetric: its upper triangle is summed (the same products and sums as the whole matrix's), then mirrored."""
    xr, yr = dq_rows(hits, var, stack.row_p(), DQ_LAGS)
    if stack.bounds.size > 2:
        first_rows = np.arange(hits.size) - np.repeat(stack.bounds[:-1], np.diff(stack.bounds))
        for lag in range(1, DQ_LAGS + 1):
            xr[first_rows < lag, lag] = 0.0
    k = xr.shape[1]
    upper_i, upper_j = np.triu_indices(k)  # X'X's entries (i, j), i <= j, then X'Hit's k
    rows = np.concatenate([xr[:, upper_i] * xr[:, upper_j], xr * yr[:, None]], axis=1)
    sums = _prefix(rows, stack.bounds)
    lo_k, hi_k = lo + stack.series, hi + stack.series
    windows = sums[hi_k] - sums[lo_k]
    v2 = sums[:, upper_i.size - 1]  # VaR^2, the last diagonal entry
    direct = np.flatnonzero((hi > lo) & (v2[hi_k] > PREFIX_RATIO_MAX * (v2[hi_k] - v2[lo_k])))
    if direct.size:
        windows[direct] = _range_sums((rows,), lo[direct], hi[direct])[0]
    xx = np.empty((windows.shape[0], k, k))
    xx[:, upper_i, upper_j] = xx[:, upper_j, upper_i] = windows[:, : upper_i.size]
    return xx, windows[:, upper_i.size :]


def _window_statistics(obs: BacktestObservations, s: np.ndarray, e: np.ndarray, stack: _Stack, seed: int,
                       n_sims: int) -> dict[str, np.ndarray]:
    """The statistic columns (``COLUMNS`` after as_of and backtest_window_days) for windows of
    observations [s, e), one array each, of the series ``stack`` (each window within its series' rows).
    Counts are the same whatever rows come before; every sum of floats is taken over its series' rows alone
    (``_prefix`` with the series' bounds, their simulations and bootstraps one series at a time)."""
    hits = obs.hits
    size = hits.size
    n = e - s
    p = stack.p[stack.series]  # each window's tail probability
    cum_hits = _prefix(hits.astype(np.int64)).astype(np.int64)
    bs, be = cum_hits[s], cum_hits[e]
    x = be - bs

    prev, cur = hits[:-1], hits[1:]
    trans_start = np.minimum(s + 1, e)
    counts = []
    for a, b in ((~prev, ~cur), (~prev, cur), (prev, ~cur), (prev, cur)):
        c = _prefix(np.concatenate([[0], (a & b).astype(np.int64)]))  # transition into day t
        counts.append(c[e] - c[trans_start])
    lr_pof = kupiec_lr(n, x, p)
    lr_ind = independence_lr(*counts)
    lr_cc = lr_pof + lr_ind

    breach_pos = np.append(np.flatnonzero(hits), size)  # padded: breach_pos[k] valid for k <= #breaches
    first = breach_pos[bs]
    lr_tuff = tuff_lr(n, np.where(first < e, first - s + 1, 0), p)

    d = np.diff(breach_pos[:-1]).astype(float)
    has = x > 0
    c_first = np.where(has & (first > s), first - s + 1, 0)
    c_last = np.where(has, e - 1 - breach_pos[np.maximum(be - 1, 0)], 0)
    # a series' durations: its own, then the one from its last breach to the next series' first, in no window
    lr_dur, _ = duration_lr(d, np.where(has, bs, 0), np.where(has, be - 1, 0), c_first, c_last,
                            segments=cum_hits[stack.bounds[:-1]])

    row0 = np.minimum(s + DQ_LAGS, e)
    xx, xy = _dq_moments(hits, obs.var, row0, e, stack)
    dq, df = dq_statistic_stacked(xx, xy, p)
    dq_ok = e - row0 > DQ_LAGS + 2
    z2, z2_p = _z2_columns(obs, s, e, stack, seed, n_sims)
    mf, mf_p = np.zeros(s.size), np.ones(s.size)
    breach_bounds = cum_hits[stack.bounds]  # each series' first breach
    cuts = stack.window_cuts()
    for k0, k1 in _groups(np.diff(breach_bounds), _BOOTSTRAP_BREACHES):  # a few series' breaches at a time
        windows, first = slice(cuts[k0], cuts[k1]), breach_bounds[k0]
        mf[windows], mf_p[windows] = _mcneil_frey_columns(stack.part(obs, k0, k1), bs[windows] - first,
                                                          be[windows] - first, seed, n_sims,
                                                          breach_bounds[k0 : k1 + 1] - first)
    # both ES tests need ES > 0 on every observation (Z2 divides the loss by it, McNeil-Frey by ES - VaR): a window
    # holding a forecast with ES <= 0 (a zero forecast, risk.var.rounding, or a tail that is a gain) has none (NaN)
    no_es = _prefix((obs.es <= 0.0).astype(np.int64))
    outside = no_es[e] - no_es[s] > 0
    z2, z2_p, mf, mf_p = (np.where(outside, np.nan, a) for a in (z2, z2_p, mf, mf_p))

    zone, plus = _zones(x, n, stack)
    enough = has_coverage_data(n, p)
    chi2 = chi2_sf
    p_pof, p_ind = chi2(lr_pof, 1), chi2(lr_ind, 1)
    fail = (p_pof < SIGNIFICANCE) | (p_ind < SIGNIFICANCE) | (z2_p < SIGNIFICANCE) | (zone == 2)
    return {
        "n_obs": n.astype(np.int64),
        "n_breaches": x.astype(np.int64),
        "expected_breaches": n * p,
        "kupiec_lr": lr_pof,
        "kupiec_p": p_pof,
        "christoffersen_lr": lr_ind,
        "christoffersen_p": p_ind,
        **{name: count.astype(np.int64) for name, count in zip(("n00", "n01", "n10", "n11"), counts)},
        "cc_lr": lr_cc,
        "cc_p": chi2(lr_cc, 2),
        "tuff_lr": lr_tuff,
        "tuff_p": chi2(lr_tuff, 1),
        "duration_lr": lr_dur,
        "duration_p": chi2(lr_dur, 1),
        "dq_stat": np.where(dq_ok, dq, 0.0),
        "dq_p": np.where(dq_ok, dq_p_value(dq, df), 1.0),
        "z2_stat": z2,
        "z2_p": z2_p,
        "mcneil_frey_stat": mf,
        "mcneil_frey_p": mf_p,
        "traffic_light": np.where(enough, zone, 3).astype(np.int8),  # CODED_COLUMNS
        "plus_factor": np.where(enough, plus, 0.0),
        "verdict": np.where(enough, fail, 2).astype(np.int8),  # CODED_COLUMNS: pass 0, fail 1
        "overlapping": np.zeros(n.size, dtype=bool),
    }


def _zones(x: np.ndarray, n: np.ndarray, stack: _Stack) -> tuple[np.ndarray, np.ndarray]:
    """Basel zones and plus factors (``traffic_light_zones``) of windows with x breaches in n observations, each at
    its series' tail probability (one call per probability: the same numbers element by element)."""
    if stack.p.size == 1 or np.all(stack.p == stack.p[0]):
        zone, plus, _ = traffic_light_zones(x, n, float(stack.p[0]))
        return zone, plus
    zone, plus = np.zeros(x.size, dtype=np.int64), np.zeros(x.size)
    of_window = stack.p[stack.series]
    for q in np.unique(stack.p).tolist():
        at = np.flatnonzero(of_window == q)
        zone[at], plus[at], _ = traffic_light_zones(x[at], n[at], q)
    return zone, plus


def _actual_hits(obs: BacktestObservations, returns: pd.Series, actual_returns: pd.Series | None, h: int,
                 amounts: bool) -> np.ndarray | None:
    """Whether the actual h-day loss of each observation exceeds its VaR (module doc); None where the actual P&L
    is the hypothetical one (no actual returns, or the same to the bit: a book without trades)."""
    if actual_returns is None:
        return None
    actual = actual_returns.reindex(returns.index).to_numpy(dtype=float)
    hypothetical = returns.to_numpy(dtype=float)
    mismatch = np.isnan(actual) != np.isnan(hypothetical)
    if mismatch.any():
        raise BacktestInputError(f"actual_returns on {returns.index[mismatch][0].date()}: known exactly where "
                                 "returns is known")
    if np.array_equal(actual, hypothetical, equal_nan=True):  # a book without trades: the same losses, bit for bit
        return None
    return horizon_losses(actual, obs.end_pos - h + 1, h, amounts) > obs.var


def _actual_columns(statistics: dict[str, np.ndarray], actual_hits: np.ndarray | None, s: np.ndarray,
                    e: np.ndarray, stack: _Stack) -> dict[str, np.ndarray]:
    """n_actual_breaches, actual_kupiec_p, actual_traffic_light of windows [s, e) (module doc), from the stacked
    series' actual breaches (None: each series' actual P&L is its hypothetical one, the hypothetical columns)."""
    if actual_hits is None:
        return {"n_actual_breaches": statistics["n_breaches"], "actual_kupiec_p": statistics["kupiec_p"],
                "actual_traffic_light": statistics["traffic_light"]}
    hits = _prefix(actual_hits.astype(np.int64)).astype(np.int64)
    x, n = hits[e] - hits[s], e - s
    p = stack.p[stack.series]
    zone, _ = _zones(x, n, stack)
    return {"n_actual_breaches": x,
            "actual_kupiec_p": chi2_sf(kupiec_lr(n, x, p), 1),
            "actual_traffic_light": np.where(has_coverage_data(n, p), zone, 3).astype(np.int8)}


def checked_windows(windows: Sequence[int]) -> list[int]:
    """The trailing windows (trading days) checked: distinct positive counts, at least one."""
    lengths = [as_count(n, "windows", 1) for n in windows]
    if not lengths or len(set(lengths)) != len(lengths):
        raise BacktestInputError(f"windows must be distinct positive day counts, got {list(windows)}")
    return lengths


def backtest_table(returns: pd.Series, forecasts: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    """The rows of :func:`backtest_columns` as a frame (columns ``COLUMNS``, the strings of ``CODED_COLUMNS``)."""
    columns = backtest_columns(returns, forecasts, **kwargs)
    for name, values in CODED_COLUMNS.items():
        columns[name] = np.array(values)[columns[name]]
    return pd.DataFrame(columns, columns=COLUMNS)


def backtest_columns(
    returns: pd.Series,
    forecasts: pd.DataFrame,
    *,
    confidence: float,
    horizon_days: int,
    as_of: Sequence[pd.Timestamp] | pd.DatetimeIndex,
    windows: Sequence[int] = (250, 1000),
    whole_sample: bool = False,
    day_number_offset: int = 0,
    seed: int = 0,
    n_sims: int = DEFAULT_N_SIMS,
    actual_returns: pd.Series | None = None,
    amounts: bool = False,
) -> dict[str, np.ndarray]:
    """Backtest rows for each as-of date and window (``backtest_window_days`` = n for n in ``windows``,
    ``whole_sample`` False); with ``whole_sample``, one more row per as-of date over every observation of
    ``returns`` up to it (``whole_sample`` True, ``backtest_window_days`` = the trading days of
    ``returns`` up to the as-of date: the trailing window that holds the whole sample).

    ``returns``: daily simple portfolio returns (sorted DatetimeIndex, at least the last
    max(windows) + h trading days up to the last as-of date: earlier days do not change a row).
    ``forecasts``: DataFrame indexed by forecast date with columns ``var`` and ``es``
    (positive loss fractions of the h-day loss from that date, NaN where absent).
    ``day_number_offset``: the trading-day number of returns.index[0] (phase of the h-day
    observations). ``n_sims`` is both the Z2 simulation count and the McNeil-Frey bootstrap count.
    ``actual_returns``: the actual P&L's returns on the dates of ``returns`` (NaN exactly where
    ``returns`` is), for the actual columns; None: the same as ``returns``.
    ``amounts``: ``returns`` (and ``actual_returns``) hold daily P&L in money and ``forecasts`` VaR/ES
    amounts; the h-day loss is minus the sum of the h days' P&L (module docstring).
    Rows are ordered by ``as_of`` as given, then by window as given (the whole sample last); one array per
    column of ``COLUMNS``, in that order (a caller of many series builds one frame of them all, not one each),
    the string columns as codes (``CODED_COLUMNS``). Many series: :func:`backtest_columns_of`.
    Definitions, verdict rule and vectorization: module docstring.
    """
    series = BacktestSeries(returns, forecasts, confidence, horizon_days, as_of, day_number_offset, actual_returns,
                            amounts)
    return next(backtest_columns_of([series], windows=windows, whole_sample=whole_sample, seed=seed, n_sims=n_sims))


@dataclass(frozen=True)
class BacktestSeries:
    """One VaR/ES series to backtest: the arguments of :func:`backtest_columns` that are a series' own."""

    returns: pd.Series
    forecasts: pd.DataFrame
    confidence: float
    horizon_days: int
    as_of: Sequence[pd.Timestamp] | pd.DatetimeIndex
    day_number_offset: int = 0
    actual_returns: pd.Series | None = None
    amounts: bool = False


class _Prepared(NamedTuple):
    """A series' observations and distinct windows [starts, ends) (``inverse``: each row's window)."""

    obs: BacktestObservations
    p: float
    starts: np.ndarray
    ends: np.ndarray
    inverse: np.ndarray
    keys: dict[str, np.ndarray]  # as_of, backtest_window_days, whole_sample of each row
    actual_hits: np.ndarray | None


@dataclass(frozen=True)
class _Stack:
    """Series one after the other in one ``BacktestObservations``: series k's rows are [bounds[k], bounds[k + 1]),
    its tail probability p[k]; ``series``: each window's series (ascending)."""

    bounds: np.ndarray
    p: np.ndarray
    series: np.ndarray

    def row_p(self) -> np.ndarray:
        """Each row's tail probability."""
        return np.repeat(self.p, np.diff(self.bounds))

    def part(self, obs: BacktestObservations, k: int, end: int | None = None) -> BacktestObservations:
        """Series k's observations (with ``end``: those of the series k..end-1)."""
        a, b = int(self.bounds[k]), int(self.bounds[k + 1 if end is None else end])
        return BacktestObservations(obs.forecast_days[a:b], obs.end_pos[a:b], obs.loss[a:b], obs.var[a:b],
                                    obs.es[a:b], obs.keys[a:b])

    def window_cuts(self) -> np.ndarray:
        """Each series' first window, then the number of windows: series k's are [cuts[k], cuts[k + 1])."""
        return np.searchsorted(self.series, np.arange(self.p.size + 1))

    def each(self, chosen: np.ndarray) -> Iterator[tuple[int, int, int, np.ndarray]]:
        """(k, its first row, its end row, the indices of its ``chosen`` windows) of each series with one."""
        cuts = self.window_cuts().tolist()
        for k in range(self.p.size):
            windows = np.flatnonzero(chosen[cuts[k] : cuts[k + 1]]) + cuts[k]
            if windows.size:
                yield k, int(self.bounds[k]), int(self.bounds[k + 1]), windows


def _groups(sizes: np.ndarray, most: int) -> Iterator[tuple[int, int]]:
    """[k0, k1) of consecutive items whose ``sizes`` add up to at most ``most`` (an item larger alone)."""
    k0, total = 0, 0
    for k, size in enumerate(sizes.tolist()):
        if total + size > most and k > k0:
            yield k0, k
            k0, total = k, 0
        total += size
    if sizes.size:
        yield k0, sizes.size


_BOOTSTRAP_BREACHES = 2048
"""Breaches of the series whose McNeil-Frey bootstraps run at once (their (breaches x n_boot) prefix sums 16 MB
each at 1,000 replicates)."""
_BATCH_ROWS = 1 << 16
"""Observations of the series whose windows :func:`backtest_columns_of` computes at once (a day's hundreds of
short series in a few calls; over a long history, a few series a call, their arrays bounded)."""


def backtest_columns_of(series: Iterable[BacktestSeries], *, windows: Sequence[int] = (250, 1000),
                        whole_sample: bool = False, seed: int = 0,
                        n_sims: int = DEFAULT_N_SIMS) -> Iterator[dict[str, np.ndarray]]:
    """:func:`backtest_columns` of each of ``series`` (the other arguments shared), in their order: every number
    bit for bit what a call on the series alone gives. The windows of up to ``_BATCH_ROWS`` observations of
    consecutive series are computed together (``_window_statistics`` of the series one after the other, every
    sum over a series' own rows): one new day's hundreds of series cost a few dozen array operations each
    otherwise."""
    lengths = checked_windows(windows)
    seed = as_count(seed, "seed")
    n_sims = as_count(n_sims, "n_sims", 1)
    batch: list[_Prepared] = []
    rows = 0
    for one in series:
        batch.append(_prepared(one, lengths, whole_sample))
        rows += batch[-1].obs.loss.size
        if rows >= _BATCH_ROWS:
            yield from _batch_columns(batch, seed, n_sims)
            batch, rows = [], 0
    if batch:
        yield from _batch_columns(batch, seed, n_sims)


def _prepared(one: BacktestSeries, lengths: list[int], whole_sample: bool) -> _Prepared:
    """A series' observations, its distinct windows and its rows' keys (:func:`backtest_columns`)."""
    p = tail_probability(one.confidence)
    h = as_count(one.horizon_days, "horizon_days", 1)
    offset = as_count(one.day_number_offset, "day_number_offset")
    obs = backtest_observations(one.returns, one.forecasts, h, offset, one.amounts)
    as_of = one.as_of if isinstance(one.as_of, pd.DatetimeIndex) else pd.DatetimeIndex(one.as_of)
    last_day = np.searchsorted(_nanoseconds(one.returns.index), _nanoseconds(as_of), side="right") - 1
    end = np.searchsorted(obs.end_pos, last_day, side="right")
    starts_by_window = [np.searchsorted(obs.end_pos, last_day - n + 1, side="left") for n in lengths]
    if whole_sample:
        starts_by_window.append(np.zeros(as_of.size, dtype=np.int64))
    n_windows = len(starts_by_window)
    s = np.column_stack(starts_by_window).ravel()
    e = np.repeat(end, n_windows)
    codes, inverse = np.unique(s * (obs.loss.size + 1) + e, return_inverse=True)
    starts, ends = np.divmod(codes, obs.loss.size + 1)
    days = np.tile(np.asarray(lengths, dtype=np.int64), (as_of.size, 1))
    if whole_sample:  # the trailing window that holds every day of returns up to the as-of date
        days = np.column_stack([days, last_day + 1])
    keys = {
        "as_of": np.repeat(as_of.to_numpy(), n_windows),
        "backtest_window_days": days.ravel(),
        "whole_sample": np.tile(np.arange(n_windows) == len(lengths), as_of.size),
    }
    return _Prepared(obs, p, starts, ends, inverse, keys,
                     _actual_hits(obs, one.returns, one.actual_returns, h, one.amounts))


def _batch_columns(batch: list[_Prepared], seed: int, n_sims: int) -> Iterator[dict[str, np.ndarray]]:
    """The columns of each series of ``batch``, their windows computed together."""
    sizes = np.array([one.obs.loss.size for one in batch], dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    counts = np.array([one.starts.size for one in batch], dtype=np.int64)
    stack = _Stack(bounds, np.array([one.p for one in batch]), np.repeat(np.arange(len(batch)), counts))
    if len(batch) == 1:
        obs = batch[0].obs
    else:
        parts = [one.obs for one in batch]
        obs = BacktestObservations(
            forecast_days=np.concatenate([o.forecast_days for o in parts]),
            **{name: np.concatenate([getattr(o, name) for o in parts])
               for name in ("end_pos", "loss", "var", "es", "keys")},
        )
    s = np.concatenate([one.starts for one in batch]) + np.repeat(bounds[:-1], counts)
    e = np.concatenate([one.ends for one in batch]) + np.repeat(bounds[:-1], counts)
    statistics = _window_statistics(obs, s, e, stack, seed, n_sims)  # one row per distinct window
    actual = None
    if any(one.actual_hits is not None for one in batch):
        actual = np.concatenate([one.obs.hits if one.actual_hits is None else one.actual_hits for one in batch])
    statistics.update(_actual_columns(statistics, actual, s, e, stack))
    first = np.concatenate([[0], np.cumsum(counts)])
    for k, one in enumerate(batch):
        at = one.inverse + first[k]
        yield {**one.keys, **{name: statistics[name][at] for name in COLUMNS[3:]}}
