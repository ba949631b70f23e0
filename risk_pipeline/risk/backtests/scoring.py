"""Proper scoring of VaR/ES forecasts, and which methods are statistically the best.

Sign convention (the project's, DESIGN.md): losses positive; ``var`` and ``es`` are positive
fractions of value; the realized loss of a forecast is ``loss_t = -return_t`` (for horizon h
the loss of the h-day compounded return, see :mod:`risk_pipeline.risk.backtests.table`);
``alpha = 1 - confidence`` is the tail probability. An option book, which has no value scale, is
scored on its amounts instead (VaR/ES and minus its P&L in base currency; ``score_basis``).

Tick (quantile) loss of the VaR (Koenker & Bassett 1978; Gneiting 2011, JASA 106, the
consistent scoring function of a quantile):

    S_tick(var, loss) = (1{loss > var} - alpha) (loss - var)            (>= 0)

FZ0 joint loss of (VaR, ES) (Patton, Ziegel & Chen 2019, "Dynamic semiparametric models for
expected shortfall (and Value-at-Risk)", J. Econometrics 211(2), eq. (6)): in their notation
with returns Y and negative v = -var, e = -es it is
-1/(alpha e) 1{Y <= v}(v - Y) + v/e + log(-e) - 1; in this project's signs

    S_FZ0(var, es, loss) = 1{loss > var} (loss - var) / (alpha es) + var / es + log(es) - 1

It is strictly consistent for (VaR, ES) jointly (Fissler & Ziegel 2016, Ann. Statist. 44),
negative for typical daily figures (log es < 0) and lower is better. It needs es > 0: a
forecast with es <= 0 has no FZ0 score (NaN): a zero forecast (the method sees no risk within the
rounding of the book's revaluation, :mod:`risk_pipeline.risk.var.rounding`) or a tail that is a
gain. A window holding such a forecast of a method has no mean FZ0 for it (NaN: a mean of its
other days would score a method that said "no risk" as if it had not spoken) and leaves it out of
the comparison (``undefined_score``); its tick loss, defined for any VaR, is kept.

Comparisons, per as-of date a and trailing window of n trading days (the observations whose
loss ends within the last n trading days up to a, as in ``var_backtests``):

* the methods are compared over their common days: each method's trailing run of observations
  with a finite FZ0 score up to the window's last one (a method whose estimation window fills
  later, e.g. monte_carlo's longer one, or a short history, scores fewer); the methods compared
  are those whose run holds at least ``MIN_COMPARISON_OBS`` observations and at least half of
  the window's, and the comparison covers the shortest of their runs (``comparison_obs``
  observations, on which every compared method is scored); the others are left out, with the
  reason in ``not_compared_reason`` (``NOT_COMPARED_REASONS``). The best is the lowest mean FZ0
  over the common days;
* Diebold & Mariano (1995, J. Business & Economic Statistics 13) test of each compared method
  against the best: d_t = S_FZ0,i - S_FZ0,best, DM = mean(d) / sqrt(V / n) with the
  Newey-West (1987) HAC variance V = g_0 + 2 sum_{l=1..L} (1 - l/(L+1)) g_l (g_l the lag-l
  autocovariance of d, divided by n), lag L = floor(4 (n/100)^(2/9)) (Newey & West 1994's
  rule; 6 for n = 1000, 4 for n = 250). The h-day observations do not overlap, so the h - 1
  rule of overlapping forecasts does not apply; the lag covers the serial dependence the
  volatility clustering leaves in d. Two-sided p = 2 (1 - Phi(|DM|)); the best has DM 0, p 1
  (V is floored at ``VARIANCE_FLOOR``).
* Model Confidence Set (Hansen, Lunde & Nason 2011, Econometrica 79(2)) of the compared
  methods on their FZ0 losses: the T_R statistic and elimination rule of ``arch.bootstrap.MCS``
  (method "R"), stationary bootstrap (Politis & Romano 1994) of the observation indices with
  mean block length int(sqrt(n)) (arch's default) and ``reps`` replications. One index draw
  per (n, reps, seed) serves every window of n observations, so the bootstrap means of all
  windows are one matrix product of the (reps x n) count matrix with the stacked losses
  (:func:`mcs_pvalues`); the test suite checks equality with arch on arch's own indices.
  A method is in the MCS at level 1 - size when its MCS p-value > size.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import erfc

from risk_pipeline.risk.backtests.table import PREFIX_RATIO_MAX, backtest_observations

MIN_COMPARISON_OBS = 20
"""Fewest observations for a window's DM tests and MCS (25 ten-day observations in 250 days)."""
NOT_COMPARED_REASONS = {
    "undefined_score": "a forecast of the window has ES <= 0 (a zero forecast), where FZ0 is undefined",
    "no_latest_score": "no FZ0 score on the window's last observation",
    "too_few_scores": f"fewer than {MIN_COMPARISON_OBS} scored observations up to the window's last one",
    "under_half_the_window": "scored on fewer than half of the window's observations up to its last one",
}
"""Why a method with scores in a window is left out of its comparison (``not_compared_reason``; empty
when compared)."""
NOT_COMPARED_CODES = ("", *NOT_COMPARED_REASONS)
"""``not_compared_reason``'s strings by code (:class:`ComparisonColumns`): 0, compared."""
_REASON = {reason: code for code, reason in enumerate(NOT_COMPARED_CODES)}
VARIANCE_FLOOR = 1e-12
"""Floor of the variance of a loss difference (per observation; divided by n for the MCS's
bootstrap variance of a mean). A difference without variation (two methods whose losses differ
by a constant over the window, e.g. no breach of either at 99% in 25 ten-day observations)
then counts as significant (DM p ~ 0, eliminated from the MCS) unless it is exactly 0
(identical losses: DM 0, p 1). FZ0 differences of distinct methods with breaches have
variances of 1e-4 and more; rounding of the prefix sums is ~1e-16."""


class ScoringInputError(ValueError):
    """Bad input to a scoring function; the message names the parameter."""


def _tail(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)) or not 0 < confidence < 1:
        raise ScoringInputError(f"confidence={confidence!r} must be a number in (0, 1)")
    return 1.0 - float(confidence)


def tick_loss(loss: np.ndarray, var: np.ndarray, confidence: float) -> np.ndarray:
    """Quantile (tick) loss of each VaR forecast, ``(1{loss > var} - alpha)(loss - var)`` (module doc)."""
    alpha = _tail(confidence)
    loss, var = np.asarray(loss, dtype=float), np.asarray(var, dtype=float)
    return ((loss > var) - alpha) * (loss - var)


def fz0_loss(loss: np.ndarray, var: np.ndarray, es: np.ndarray, confidence: float) -> np.ndarray:
    """FZ0 loss of each (VaR, ES) forecast in the project's signs (module doc); NaN where es <= 0."""
    alpha = _tail(confidence)
    loss, var, es = (np.asarray(a, dtype=float) for a in (loss, var, es))
    ok = es > 0.0
    safe = np.where(ok, es, 1.0)
    score = (loss > var) * (loss - var) / (alpha * safe) + var / safe + np.log(safe) - 1.0
    return np.where(ok, score, np.nan)


def newey_west_lag(n_obs: np.ndarray | int) -> np.ndarray:
    """HAC truncation lag floor(4 (n/100)^(2/9)) (Newey & West 1994), at most n - 1."""
    n = np.asarray(n_obs, dtype=float)
    lag = np.floor(4.0 * (np.maximum(n, 1.0) / 100.0) ** (2.0 / 9.0)).astype(np.int64)
    return np.clip(lag, 0, np.maximum(n.astype(np.int64) - 1, 0))


def _stationary_draws(n_obs: int, reps: int, block_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The draws of a stationary bootstrap, each ``(reps, n_obs)``: where a path jumps (a new block
    starts; always at step 0) and the uniform index it would jump to at every step."""
    for name, value, low in (("n_obs", n_obs, 1), ("reps", reps, 1), ("block_size", block_size, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ScoringInputError(f"{name}={value!r} must be an integer >= {low}")
    rng = np.random.default_rng(seed)
    jump = rng.random((reps, n_obs)) < 1.0 / block_size
    jump[:, 0] = True
    return jump, rng.integers(0, n_obs, size=(reps, n_obs))


def stationary_bootstrap_indices(n_obs: int, reps: int, block_size: int, seed: int) -> np.ndarray:
    """Stationary-bootstrap index paths, shape ``(reps, n_obs)``: each path starts at a uniform
    index and at every step jumps to a new uniform index with probability 1/block_size, else
    moves to the next index (circularly) (Politis & Romano 1994)."""
    jump, fresh = _stationary_draws(n_obs, reps, block_size, seed)
    step = np.arange(n_obs)
    block_start = np.maximum.accumulate(np.where(jump, step, 0), axis=1)  # where each one's block began
    first = np.take_along_axis(fresh, block_start, axis=1)
    return (first + step - block_start) % n_obs


def stationary_bootstrap_counts(n_obs: int, reps: int, block_size: int, seed: int) -> np.ndarray:
    """``bootstrap_counts(stationary_bootstrap_indices(...))`` of the same arguments, as integers, from the
    blocks rather than path step by path step: a block starting at index f and running L steps (to the
    path's next jump) covers f, f + 1, ..., f + L - 1 (circularly), counted as +1 at its first index and -1
    after its last on a row of n_obs + 1 edges per path (a block past n_obs - 1 wraps: its rest from 0),
    then cumulated along the path's row."""
    jump, fresh = _stationary_draws(n_obs, reps, block_size, seed)
    at = np.flatnonzero(jump)  # the blocks' first steps, path after path (every path's step 0 among them)
    length = np.diff(at, append=jump.size)  # a path's last block runs to its end: the next path's step 0
    row = (at // n_obs) * (n_obs + 1)
    begin = fresh.ravel()[at]
    end = begin + length
    wraps = end > n_obs
    size = reps * (n_obs + 1)
    edges = (np.bincount(np.concatenate([row + begin, row[wraps]]), minlength=size)
             - np.bincount(row + np.where(wraps, end - n_obs, end), minlength=size))
    return np.cumsum(edges.reshape(reps, n_obs + 1)[:, :n_obs], axis=1)


def bootstrap_counts(indices: np.ndarray) -> np.ndarray:
    """How often each observation is drawn in each replication: ``(reps, n)`` from ``(reps, n)`` indices."""
    reps, n = indices.shape
    flat = (indices + np.arange(reps)[:, None] * n).ravel()
    return np.bincount(flat, minlength=reps * n).reshape(reps, n).astype(float)


def mcs_pvalues(losses: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """MCS p-values (T_R statistic, Hansen, Lunde & Nason 2011) of k models in G problems at once.

    ``losses``: ``(G, n, k)``; ``counts``: ``(reps, n)`` bootstrap draw counts shared by the G
    problems (:func:`bootstrap_counts`). Returns ``(G, k)``. Per problem, as ``arch``'s method
    "R": d_ij = mean L_i - mean L_j; bootstrap d*_ij - d_ij gives var_ij (mean of squares, floored
    at VARIANCE_FLOOR / n; arch's + 1 on the diagonal only guards the zero d_ii); at each step T = max over the models left of
    d_ij / sqrt(var_ij), its p-value the share of replications whose max of the recentred
    standardized d* exceeds T, and the model i of the maximizing pair leaves; the MCS p-value of a model is the running maximum of
    the step p-values up to its elimination (1 for the last model; 1 for a step whose T is 0,
    models left with equal mean losses).
    """
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 3 or losses.shape[2] < 2:
        raise ScoringInputError(f"losses must have shape (problems, n_obs, models >= 2), got {losses.shape}")
    g, n, k = losses.shape
    if counts.ndim != 2 or counts.shape[1] != n:
        raise ScoringInputError(f"counts must have shape (reps, {n}), got {counts.shape}")
    mean = losses.mean(axis=1)
    diff = mean[:, :, None] - mean[:, None, :]
    # bootstrap means of every problem as one matrix product (reps x n) @ (n x G k)
    boot = (counts @ losses.transpose(1, 0, 2).reshape(n, g * k)).reshape(-1, g, k).transpose(1, 0, 2) / n
    centred = boot - mean[:, None, :]  # recentred: d*_ij - d_ij = c_i - c_j
    gram = np.matmul(centred.transpose(0, 2, 1), centred) / centred.shape[1]
    variance = np.einsum("gii->gi", gram)[:, :, None] + np.einsum("gjj->gj", gram)[:, None, :] - 2.0 * gram
    # the max over ordered pairs (i, j) of an antisymmetric x_ij is the max over pairs i < j of |x_ij|
    first, second = np.triu_indices(k, 1)
    scale = np.sqrt(np.maximum(variance[:, first, second], VARIANCE_FLOOR / n))
    pair_diff = diff[:, first, second] / scale
    # the order in which the models leave and each step's T: they depend on the means and scales, not on
    # the replications
    rows = np.arange(g)
    included = np.ones((g, k), dtype=bool)
    order = np.empty((g, k), dtype=np.int64)  # order[:, s]: the model leaving at step s (the last: the one left)
    stat = np.empty((g, k - 1))
    for step in range(k - 1):
        alive = included[:, first] & included[:, second]
        stat_at = np.where(alive, np.abs(pair_diff), -np.inf)
        best = stat_at.argmax(axis=1)
        stat[:, step] = np.maximum(stat_at[rows, best], 0.0)
        order[:, step] = np.where(pair_diff[rows, best] > 0.0, first[best], second[best])  # the worse of the pair
        included[rows, order[:, step]] = False
    order[:, k - 1] = included.argmax(axis=1)
    # the models in that order: the pairs alive at step s are the pairs of models s..k-1, so each step's
    # maximum over them (of each replication's |d*_ij - d_ij| / sqrt(var_ij)) is a running maximum from the
    # last step back, each pair's standardized replications computed once
    pair_at = np.zeros((k, k), dtype=np.int64)
    pair_at[first, second] = pair_at[second, first] = np.arange(first.size)
    by_rank = centred.transpose(0, 2, 1)[rows[:, None], order]  # (G, k, reps): a model's replications contiguous
    scale_by_rank = scale[rows[:, None, None], pair_at[order[:, :, None], order[:, None, :]]]  # (G, k, k)
    simulated = np.zeros((g, by_rank.shape[2]))
    pairs = np.empty((g, k - 1, by_rank.shape[2]))
    step_p = np.empty((g, k - 1))
    for step in range(k - 2, -1, -1):
        these = pairs[:, : k - 1 - step]  # the pairs of model `step` with the models leaving after it
        np.subtract(by_rank[:, step, None], by_rank[:, step + 1 :], out=these)
        np.abs(these, out=these)
        np.divide(these, scale_by_rank[:, step, step + 1 :, None], out=these)
        np.maximum(simulated, these.max(axis=1), out=simulated)
        # T = 0: the models left have equal means (identical losses): no evidence, p = 1
        step_p[:, step] = np.where(stat[:, step] > 0.0, (stat[:, step, None] < simulated).mean(axis=1), 1.0)
    pvalues = np.ones((g, k))
    pvalues[rows[:, None], order[:, : k - 1]] = np.maximum.accumulate(step_p, axis=1)
    return pvalues


FORECAST_SCORE_COLUMNS = ["date", "forecast_date", "loss", "var", "es", "loss_amount", "var_amount", "es_amount",
                          "score_basis", "tick_loss", "fz0_loss"]


def score_forecasts(returns: pd.Series, forecasts: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    """The rows of :func:`forecast_score_columns` as a frame (columns ``FORECAST_SCORE_COLUMNS``)."""
    return pd.DataFrame(forecast_score_columns(returns, forecasts, **kwargs), columns=FORECAST_SCORE_COLUMNS)


def forecast_score_columns(
    returns: pd.Series, forecasts: pd.DataFrame, *, confidence: float, horizon_days: int, day_number_offset: int = 0,
    amounts: bool = False,
) -> dict[str, np.ndarray]:
    """Tick and FZ0 loss of every realized forecast of one series, one array per column of
    ``FORECAST_SCORE_COLUMNS`` (a caller of many series builds one frame of them all, not one each).

    The observations are those of ``var_backtests`` (``table.backtest_observations``:
    h-day losses of the non-overlapping forecast dates, phased by ``day_number_offset``);
    ``date`` is the day the loss is known (the forecast's last day), ``forecast_date`` the day
    the forecast is for. ``forecasts``: columns var, es (the pair scored) and optionally var_amount,
    es_amount (the forecast in base currency; missing: NaN amounts).

    Without ``amounts`` (a portfolio): var, es and the returns are fractions of value, the scores are
    on them (``score_basis`` "fraction"); ``loss_amount`` is the loss times the value V the forecast
    was scaled by (V = var_amount / var, es_amount / es where var is 0): for h = 1 minus the day's
    P&L, for h > 1 the loss of the h-day compounded return on V. With ``amounts`` (an option book,
    no value scale): returns are daily P&L and var, es amounts; loss, var, es are NaN and the scores
    are on the amounts (``score_basis`` "amount")."""
    obs = backtest_observations(returns, forecasts, horizon_days, day_number_offset, amounts)
    _tail(confidence)
    rows = np.searchsorted(forecasts.index.to_numpy(), obs.forecast_days)  # the observations' rows
    none = np.full(len(forecasts), np.nan)
    var_amount, es_amount = (forecasts[c].to_numpy(dtype=float) if c in forecasts else none
                             for c in ("var_amount", "es_amount"))
    return scored_columns(returns.index.to_numpy(), obs.forecast_days, obs.end_pos, obs.loss, obs.var, obs.es,
                          var_amount[rows], es_amount[rows], np.full(rows.size, float(confidence)), amounts)


def scored_columns(days: np.ndarray, forecast_dates: np.ndarray, end_pos: np.ndarray, loss: np.ndarray,
                   var: np.ndarray, es: np.ndarray, var_amount: np.ndarray, es_amount: np.ndarray,
                   confidence: np.ndarray, amounts: bool = False) -> dict[str, np.ndarray]:
    """The ``FORECAST_SCORE_COLUMNS`` of observations (``table.realized_observations``) of one book, each with
    its own ``confidence`` (the series of a book scored at once): the columns and scores of
    :func:`forecast_score_columns`, each row's numbers those of its series alone. ``days``: the book's
    return days (``end_pos`` indexes them); ``var_amount``, ``es_amount``: the observations' forecasts in base
    currency (an option book's are ``var``, ``es``)."""
    none = np.full(loss.size, np.nan)
    if amounts:
        fraction, amount = (none, none, none), (loss, var, es)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(var != 0.0, var_amount / var, es_amount / es)
        fraction, amount = (loss, var, es), (loss * value, var_amount, es_amount)
    tick, fz0 = np.empty(loss.size), np.empty(loss.size)
    for level in np.unique(confidence):
        at = confidence == level
        tick[at] = tick_loss(loss[at], var[at], float(level))
        fz0[at] = fz0_loss(loss[at], var[at], es[at], float(level))
    return {
        "date": days[end_pos],
        "forecast_date": forecast_dates,
        **dict(zip(("loss", "var", "es"), fraction)),
        **dict(zip(("loss_amount", "var_amount", "es_amount"), amount)),
        "score_basis": np.full(loss.size, "amount" if amounts else "fraction", dtype=object),
        "tick_loss": tick,
        "fz0_loss": fz0,
    }


@dataclass(frozen=True)
class McsSettings:
    """MCS level and bootstrap: a method is in the set when its p-value > ``size``."""

    size: float = 0.10
    reps: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.size < 1.0:
            raise ScoringInputError(f"mcs size={self.size!r} must be in (0, 1)")
        if isinstance(self.reps, bool) or not isinstance(self.reps, int) or self.reps < 1:
            raise ScoringInputError(f"mcs reps={self.reps!r} must be an integer >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ScoringInputError(f"mcs seed={self.seed!r} must be an integer >= 0")


COMPARISON_COLUMNS = [
    "as_of", "method", "backtest_window_days", "n_obs", "mean_tick_loss", "mean_fz0_loss", "compared",
    "comparison_obs", "not_compared_reason", "best_method", "fz0_diff_to_best", "dm_stat", "dm_p", "dm_lag",
    "mcs_computed", "in_mcs", "mcs_p",
]  # fmt: skip


def _prefix(a: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + 1,) + a.shape[1:])
    np.cumsum(a, axis=0, out=out[1:])
    return out


@functools.lru_cache(maxsize=256)
def _stored_counts(n: int, reps: int, seed: int) -> np.ndarray:
    """The MCS bootstrap counts of windows of n observations (block length int(sqrt(n))), shared
    by every window, series and as-of date of that length; kept as uint16 (a count <= n). A
    30-year backfill's families (portfolio, confidence, horizon: the horizon varies fastest)
    compare on about 120 distinct n (the windows of the early years grow day by day), some 60 MB
    at 1,000 replications: all are kept, where 64 made every family draw them again."""
    counts = stationary_bootstrap_counts(n, reps, max(1, int(np.sqrt(n))), seed)
    return counts.astype(np.uint16 if n < 2**16 else np.int64)


@functools.lru_cache(maxsize=8)
def _counts(n: int, reps: int, seed: int) -> np.ndarray:
    """:func:`_stored_counts` as floats (read-only), the last few lengths kept: the families of a
    day's run alternate between a few lengths (the windows of each horizon), and converting 1,000
    x 1,000 counts again for every family cost a new day's var_scores a fifth of its time."""
    counts = _stored_counts(n, reps, seed).astype(float)
    counts.flags.writeable = False
    return counts


@dataclass(frozen=True)
class ComparisonColumns:
    """The rows of one family's comparison (:func:`comparison_columns`): one array per column of
    ``COMPARISON_COLUMNS``, those named in ``strings`` as int8 codes into its tuples (``method``: the
    family's methods; ``best_method``: the same and ``""`` last, no method compared; ``not_compared_reason``:
    ``NOT_COMPARED_CODES``). A run's millions of rows would hold three strings each as Python objects, whose
    creation, concatenation and conversion to Arrow cost more than the numbers; as codes, the strings are
    made once per column (``defs.backtests.with_series_keys``), or here (:meth:`frame`)."""

    columns: dict[str, np.ndarray]
    strings: dict[str, tuple[str, ...]]

    def frame(self) -> pd.DataFrame:
        """The rows as a frame (columns ``COMPARISON_COLUMNS``), the coded columns as their strings."""
        return pd.DataFrame({name: np.asarray(self.strings[name], dtype=object)[values] if name in self.strings
                             else values for name, values in self.columns.items()}, columns=COMPARISON_COLUMNS)

    def coded_in(self, strings: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
        """The columns with codes into ``strings`` (per coded column, a sequence holding every string of
        this family's) instead of this family's own: the families of a run coded alike, one dictionary."""
        columns = dict(self.columns)
        for name, own in self.strings.items():
            position = {value: code for code, value in enumerate(strings[name])}
            columns[name] = np.array([position[value] for value in own], dtype=np.int8)[columns[name]]
        return columns


def compare_methods(fz0: pd.DataFrame, tick: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """The rows of :func:`comparison_columns` as a frame (columns ``COMPARISON_COLUMNS``)."""
    return comparison_columns(fz0, tick, *args, **kwargs).frame()


def comparison_columns(
    fz0: pd.DataFrame,
    tick: pd.DataFrame,
    end_pos: np.ndarray,
    as_of_pos: np.ndarray,
    mcs_as_of: np.ndarray,
    backtest_window_days: tuple[int, ...],
    mcs: McsSettings,
) -> ComparisonColumns:
    """Mean scores, DM tests against the best and the MCS of one forecast series family, one array
    per column of ``COMPARISON_COLUMNS``, the strings as codes (:class:`ComparisonColumns`; a caller of
    many families builds one frame of them all).

    ``fz0``, ``tick``: the per-observation scores (rows: observations in date order, columns:
    methods; NaN where a method has no forecast). ``end_pos``: the trading-day number of each
    observation's last day (ascending); ``as_of_pos``: the trading-day numbers of the as-of
    dates; ``mcs_as_of``: which as-of dates get an MCS (the others: ``mcs_computed`` False,
    ``in_mcs`` False, ``mcs_p`` NaN). Rows: every (as_of, window, method) with at least one
    observation (a tick loss), columns ``COMPARISON_COLUMNS`` (``as_of`` holds the index into
    ``as_of_pos``; ``n_obs`` counts those observations and ``mean_tick_loss`` is over them,
    ``mean_fz0_loss`` too, NaN when one of them has no FZ0 score; the best, the differences, DM and
    MCS are over the ``comparison_obs`` common days). Definitions in the
    module doc.
    """
    return compare_families([(fz0, tick, end_pos, as_of_pos, mcs_as_of)], backtest_window_days, mcs)[0]


def compare_families(
    families: Sequence[tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]],
    backtest_window_days: tuple[int, ...],
    mcs: McsSettings,
) -> list[ComparisonColumns]:
    """:func:`comparison_columns` of each family ``(fz0, tick, end_pos, as_of_pos, mcs_as_of)``, each as of
    its own dates (a book's: its P&L days), on the same windows and MCS settings. The MCS problems of
    all the families are solved together, stacked by shape (the observations and the number of methods
    compared): :func:`mcs_pvalues` of stacked problems equals theirs one by one, bit for bit (tested),
    and a new day's ~100 families, one or two problems each, cost one bootstrap product per shape
    instead of one per problem."""
    comparisons = [_compare(*family, backtest_window_days) for family in families]
    by_shape: dict[tuple[int, int], list[tuple[_Comparison, int, np.ndarray]]] = {}
    for comparison in comparisons:
        for w, cols in comparison.problems:
            if cols.size == 1:
                comparison.mcs_p[w, cols] = 1.0
            else:
                n = int(comparison.e[w] - comparison.s[w])
                by_shape.setdefault((n, cols.size), []).append((comparison, w, cols))
    for (n, _), members in sorted(by_shape.items()):
        for chunk in np.array_split(np.arange(len(members)), max(1, len(members) // 64)):
            problems = [members[i] for i in chunk]
            stacked = np.stack([c.x[c.s[w] : c.e[w]][:, cols] for c, w, cols in problems])
            for (c, w, cols), p in zip(problems, mcs_pvalues(stacked, _counts(n, mcs.reps, mcs.seed))):
                c.mcs_p[w, cols] = p
    return [comparison.finished(mcs.size) for comparison in comparisons]


@dataclass
class _Comparison:
    """One family's comparison columns but the MCS's, and its MCS problems (``problems``: window row,
    the methods compared; ``mcs_p`` filled by :func:`compare_families`)."""

    columns: dict[str, np.ndarray]
    methods: tuple[str, ...]
    x: np.ndarray  # the FZ0 losses (observations x methods)
    s: np.ndarray  # each window's common days: rows [s, e)
    e: np.ndarray
    mcs_p: np.ndarray  # (windows, methods)
    problems: list[tuple[int, np.ndarray]]
    w_rows: np.ndarray  # each row's window and method
    m_cols: np.ndarray
    is_compared: np.ndarray

    def finished(self, size: float) -> ComparisonColumns:
        """The columns with in_mcs and mcs_p."""
        mcs_p = self.mcs_p[self.w_rows, self.m_cols]
        self.columns["in_mcs"] = self.is_compared & (mcs_p > size)
        self.columns["mcs_p"] = np.where(self.is_compared, mcs_p, np.nan)
        return ComparisonColumns(self.columns, {"method": self.methods, "best_method": (*self.methods, ""),
                                                "not_compared_reason": NOT_COMPARED_CODES})


def _summed_directly(prefix: np.ndarray, s: np.ndarray, e: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The candidate windows (rows [s, e)) whose sums must be taken over their own rows: the prefix
    sum of a non-negative quantity up to the window's last row exceeds ``PREFIX_RATIO_MAX`` times the
    window's own (in any column), i.e. a difference of prefix sums would lose more than 20 of its 52
    bits to the rows before it (:func:`dm_moments`)."""
    lost = prefix[e] > PREFIX_RATIO_MAX * (prefix[e] - prefix[s])
    return np.flatnonzero(candidates & (lost.any(axis=1) if lost.ndim > 1 else lost))


def dm_moments(y: np.ndarray, best: int, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and Newey-West variance (Bartlett weights up to ``lag``) of each method's loss
    difference to ``best``, d = y[:, i] - y[:, best], summed directly over the window's rows ``y``
    (observations x methods): the DM statistic is mean / sqrt(variance / n).

    :func:`comparison_columns` takes these from differences of prefix sums over every row of the
    run, which carry an error of the order of eps times the prefix: nothing while the rows before a
    window are of its own size, but an option book's FZ0 loss reaches 1e9-1e10 on an expiry eve,
    its square entered every later prefix sum of cross-products, and a window after it was the
    difference of sums of 1e20 with no digit of its own variance left (DM p-values moved by up to
    0.51 with where the run's history began). So a window whose prefix sum of squared (row-centred)
    losses up to its last row exceeds ``PREFIX_RATIO_MAX`` (2^20, McNeil-Frey's rule in
    var_backtests) times its own is summed here, in row order from its first: no earlier row can
    disturb it. The linear books never come near the ratio; their numbers are the prefix sums'."""
    d = y - y[:, best : best + 1]
    n = max(d.shape[0], 1)
    mean = d.sum(axis=0) / n
    centred = d - mean
    variance = np.einsum("ti,ti->i", centred, centred) / n
    for lag_l in range(1, min(lag, d.shape[0] - 1) + 1):
        gamma = np.einsum("ti,ti->i", centred[lag_l:], centred[:-lag_l]) / n
        variance += 2.0 * (1.0 - lag_l / (lag + 1.0)) * gamma
    return mean, variance


def _compare(fz0: pd.DataFrame, tick: pd.DataFrame, end_pos: np.ndarray, as_of_pos: np.ndarray,
             mcs_as_of: np.ndarray, backtest_window_days: tuple[int, ...]) -> _Comparison:
    """:func:`comparison_columns` of one family up to its MCS problems."""
    if not fz0.columns.equals(tick.columns) or fz0.shape != tick.shape or len(end_pos) != len(fz0):
        raise ScoringInputError("fz0, tick and end_pos must describe the same observations and methods")
    if np.any(np.diff(end_pos) < 0):
        raise ScoringInputError("end_pos must be ascending")
    methods = tuple(fz0.columns)
    k = len(methods)
    if k > 126:  # the columns' int8 codes (ComparisonColumns); best_method's "" is code k
        raise ScoringInputError(f"at most 126 methods can be compared, got {k}")
    x = np.ascontiguousarray(fz0.to_numpy(dtype=float))  # row-major: the row means add in one order, any layout
    finite = np.isfinite(x)
    x0 = np.where(finite, x, 0.0)
    forecast = np.isfinite(tick.to_numpy(dtype=float))  # a realized forecast: a tick loss, whatever its ES
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row no method scores (all zero forecasts): NaN mean, unused
        # rows centred on their mean over the methods scored: differences are unchanged, the
        # prefix sums of cross-products below stay small (accurate differences of prefix sums)
        y = np.where(finite, x - np.nanmean(np.where(finite, x, np.nan), axis=1, keepdims=True), 0.0)
    t0 = np.where(forecast, tick.to_numpy(dtype=float), 0.0)
    count_p, fz_p, tick_p, y_p = _prefix(finite.astype(float)), _prefix(x0), _prefix(t0), _prefix(y)
    obs_p, undefined_p = _prefix(forecast.astype(float)), _prefix((forecast & ~finite).astype(float))

    windows = list(backtest_window_days)
    as_of_pos = np.asarray(as_of_pos, dtype=np.int64)
    end = np.searchsorted(end_pos, as_of_pos, side="right")
    s = np.concatenate([np.searchsorted(end_pos, as_of_pos - n + 1, side="left") for n in windows])
    e = np.tile(end, len(windows))
    n_rows = e - s
    counts = count_p[e] - count_p[s]  # (W, k)
    n_forecasts = obs_p[e] - obs_p[s]
    undefined = undefined_p[e] - undefined_p[s] > 0  # a forecast of the window without an FZ0 score (ES <= 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_fz0 = np.where(undefined, np.nan, (fz_p[e] - fz_p[s]) / counts)
        mean_tick = (tick_p[e] - tick_p[s]) / n_forecasts
        abs_p = _prefix(np.abs(x0))  # the FZ0 means of windows after a huge loss: summed directly (dm_moments)
        for w in _summed_directly(abs_p, s, e, e > s):
            mean_fz0[w] = np.where(undefined[w], np.nan, x0[s[w] : e[w]].sum(axis=0) / counts[w])
    # each method's trailing run of scored observations up to the window's last one: rows [run, e)
    rows = np.arange(x.shape[0])[:, None]
    after_gap = np.maximum.accumulate(np.where(finite, -1, rows), axis=0) + 1  # first row of the run holding each row
    last = np.maximum(e - 1, 0)
    scored_last = (e > s)[:, None] & (finite[last] if x.shape[0] else np.zeros((e.size, k), bool))
    run = np.where(scored_last, np.maximum(after_gap[last] if x.shape[0] else 0, s[:, None]), e[:, None])
    run_obs = e[:, None] - run
    compared = scored_last & (run_obs >= MIN_COMPARISON_OBS) & (2 * run_obs >= n_rows[:, None]) & ~undefined
    any_compared = compared.any(axis=1)
    s = np.where(any_compared, np.where(compared, run, -1).max(axis=1), e)  # the common days: rows [s, e)
    n_rows = e - s
    reason = np.where(undefined, _REASON["undefined_score"], np.where(~scored_last, _REASON["no_latest_score"], np.where(
        run_obs < MIN_COMPARISON_OBS, _REASON["too_few_scores"], _REASON["under_half_the_window"]))).astype(np.int8)
    with np.errstate(invalid="ignore", divide="ignore"):
        common_fz0 = (fz_p[e] - fz_p[s]) / n_rows[:, None]
        for w in _summed_directly(abs_p, s, e, any_compared):
            common_fz0[w] = x0[s[w] : e[w]].sum(axis=0) / n_rows[w]
    best = np.where(compared, common_fz0, np.inf).argmin(axis=1)
    w_idx = np.arange(s.size)

    # DM: d = y_i - y_best over rows [s, e); HAC variance from prefix sums of lagged cross-products
    lag = newey_west_lag(n_rows)
    max_lag = int(lag[any_compared].max()) if any_compared.any() else 0
    n = np.maximum(n_rows, 1).astype(float)
    sum_d = (y_p[e] - y_p[s]) - (y_p[e, best] - y_p[s, best])[:, None]
    dbar = sum_d / n[:, None]
    variance = np.zeros((s.size, k))
    # the cross-products used below: (i, i), (i, best) and (best, i) of the windows' best methods, as flat
    # indexes i k + j (a new day's windows have one or two bests: about 3k of the k^2 pairs)
    bests = np.unique(best)
    pairs = np.unique(np.concatenate([np.arange(k) * (k + 1), (np.arange(k)[:, None] * k + bests).ravel(),
                                      (bests[:, None] * k + np.arange(k)).ravel()]))
    left, right = np.divmod(pairs, k)
    # where each window's pairs are among them: (i, i), (i, best), (best, i), (best, best)
    at_ii = np.searchsorted(pairs, np.arange(k) * (k + 1))
    at_ib = np.searchsorted(pairs, np.arange(k) * k + best[:, None])
    at_bi = np.searchsorted(pairs, best[:, None] * k + np.arange(k))
    at_bb = np.searchsorted(pairs, best * (k + 1))
    for lag_l in range(max_lag + 1):
        lagged = np.zeros_like(y)
        lagged[lag_l:] = y[: y.shape[0] - lag_l] if lag_l else y
        cross = _prefix(y[:, left] * lagged[:, right])  # sum_u y_u,i y_{u-l},j of each pair (i, j)
        lo = np.minimum(s + lag_l, e)
        c = cross[e] - cross[lo]  # (W, pairs): each window's sums of the pairs' cross-products
        cbb = c[w_idx, at_bb]
        cib = np.take_along_axis(c, at_ib, axis=1)
        cbi = np.take_along_axis(c, at_bi, axis=1)
        cii = c[:, at_ii]
        s_l = cii - cib - cbi + cbb[:, None]
        a_l = (y_p[e] - y_p[lo]) - (y_p[e, best] - y_p[lo, best])[:, None]
        hi = np.maximum(e - lag_l, s)
        b_l = (y_p[hi] - y_p[s]) - (y_p[hi, best] - y_p[s, best])[:, None]
        gamma = (s_l - dbar * (a_l + b_l) + np.maximum(n_rows - lag_l, 0)[:, None] * dbar**2) / n[:, None]
        weight = np.where(lag_l <= lag, 1.0 - lag_l / (lag + 1.0), 0.0) * (1.0 if lag_l == 0 else 2.0)
        variance += weight[:, None] * gamma
    # a window whose prefix sum of squares dwarfs its own lost its digits to a huge loss before it: summed directly
    for w in _summed_directly(_prefix(np.einsum("ti,ti->t", y, y)), s, e, any_compared):
        dbar[w], variance[w] = dm_moments(y[s[w] : e[w]], int(best[w]), int(lag[w]))
    ok = compared & (np.arange(k) != best[:, None])
    dm = np.where(ok, dbar / np.sqrt(np.maximum(variance, VARIANCE_FLOOR) / n[:, None]), 0.0)
    dm_p = np.where(ok, erfc(np.abs(dm) / np.sqrt(2.0)), 1.0)

    # MCS on the scheduled as-of dates: one problem per window (rows [s, e), the methods compared), solved
    # with the problems of the other families of the call (compare_families)
    mcs_flag = np.tile(np.asarray(mcs_as_of, dtype=bool), len(windows)) & any_compared
    mcs_p = np.full((s.size, k), np.nan)
    problems = [(int(w), np.flatnonzero(compared[w])) for w in np.flatnonzero(mcs_flag)]

    has_obs = n_forecasts > 0
    w_rows, m_cols = np.nonzero(has_obs)
    is_compared = compared[w_rows, m_cols]
    columns = {
        "as_of": w_rows % as_of_pos.size,
        "method": m_cols.astype(np.int8),
        "backtest_window_days": np.repeat(np.asarray(windows, dtype=np.int64), as_of_pos.size)[w_rows],
        "n_obs": n_forecasts[w_rows, m_cols].astype(np.int64),
        "mean_tick_loss": mean_tick[w_rows, m_cols],
        "mean_fz0_loss": mean_fz0[w_rows, m_cols],
        "compared": is_compared,
        "comparison_obs": np.where(is_compared, n_rows[w_rows], 0).astype(np.int64),
        "not_compared_reason": np.where(is_compared, np.int8(0), reason[w_rows, m_cols]),
        "best_method": np.where(any_compared[w_rows], best[w_rows], k).astype(np.int8),
        "fz0_diff_to_best": np.where(is_compared, common_fz0[w_rows, m_cols] - common_fz0[w_rows, best[w_rows]],
                                     np.nan),
        "dm_stat": np.where(is_compared, dm[w_rows, m_cols], np.nan),
        "dm_p": np.where(is_compared, dm_p[w_rows, m_cols], np.nan),
        "dm_lag": np.where(is_compared, lag[w_rows], 0).astype(np.int64),
        "mcs_computed": mcs_flag[w_rows],
    }
    return _Comparison(columns, methods, x, s, e, mcs_p, problems, w_rows, m_cols, is_compared)
