"""Christoffersen & Pelletier (2004) duration-based backtest of VaR breaches (Weibull hazard).

Durations. With breach days t_1 < ... < t_m (1-based) in a sample of T days:
  * complete durations D_i = t_{i+1} - t_i, i = 1..m-1 (n_u = m - 1 of them);
  * if the sample starts without a breach, a censored first duration D_first = t_1;
  * if it ends without a breach, a censored last duration D_last = T - t_m.

Likelihood (the paper's eq. for censored first/last spells, Weibull f and survivor S):
    f(D) = a^b b D^(b-1) exp(-(aD)^b),  S(D) = exp(-(aD)^b)
    ln L(a, b) = sum_complete ln f(D_i) + sum_censored ln S(D_c)
Profile in b (a^b = n_u / S(b) maximizes over a, S(b) = sum over all durations of D^b):
    l(b) = n_u ln b + n_u ln(n_u / S(b)) + (b - 1) sum_complete ln D_i - n_u
which is strictly concave in b (l'' = -n_u/b^2 - n_u Var_w(ln D) with weights D^b).
LR = 2 [ max_b l(b) - l(1) ] ~ chi2(1) under H0: b = 1 (memoryless, exponential durations).

Source: P. Christoffersen and D. Pelletier (2004), "Backtesting value-at-risk: a
duration-based approach", J. Financial Econometrics 2(1), 84-108, section 2.2.

The maximization is a safeguarded Newton iteration on l'(b) = 0 for many samples at once
(all as-of dates of a backtest table), on b in [B_MIN, B_MAX]: if l'(B_MAX) >= 0 (e.g. all
complete durations equal and at least as long as any censored one, where the likelihood
increases without bound) the shape is capped at B_MAX and the LR is the (finite) value there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_pipeline.risk.backtests.base import BacktestOutcome, as_breaches, chi2_sf

B_MIN = 0.01
B_MAX = 20.0
_MAX_CELLS = 1 << 20  # rows x durations of one chunk, whose rows are padded to its width
_BLOCK_CELLS = 1 << 16  # rows x durations of a chunk solved at once (each row alone: the same numbers in any block)
_TOL = 1e-7  # stop once a Newton step changes b by less than this (relative); by quadratic
# convergence the last iterate is then accurate to ~1e-13, and the LR error is second order in it
_MAX_ITER = 100


@dataclass(frozen=True)
class DurationResult(BacktestOutcome):
    """Christoffersen-Pelletier duration test: LR ~ chi2(1); ``weibull_shape`` is b-hat (1 if not fitted)."""

    n_obs: int
    n_breaches: int
    n_complete_durations: int
    weibull_shape: float


def _profile_terms(log_d: np.ndarray, shifted: np.ndarray, top: np.ndarray, b: np.ndarray):
    """ln S(b), and the D^b-weighted mean and variance of ln D, per row.

    ``log_d`` holds ln D (0 in unused cells), ``top`` the row maximum of ln D and ``shifted`` =
    ``log_d - top`` in used cells, -inf in unused ones, so D^b / max D^b = exp(b * shifted) <= 1, and
    exactly 0 in unused cells (b > 0).
    """
    w = np.exp(b[:, None] * shifted)
    s0 = w.sum(axis=1)
    m1 = np.einsum("ij,ij->i", w, log_d) / s0
    w *= log_d
    m2 = np.einsum("ij,ij->i", w, log_d) / s0
    return b * top + np.log(s0), m1, np.maximum(m2 - m1 * m1, 0.0)


def _solve_chunk(log_d: np.ndarray, shifted: np.ndarray, top: np.ndarray, n_u: np.ndarray,
                 sum_log_u: np.ndarray) -> np.ndarray:
    """b-hat for each row of one chunk: safeguarded Newton on l'(b) = 0 in [B_MIN, B_MAX].

    l' is decreasing (l concave); a Newton step that leaves the current bracket [lo, hi]
    (lo: l' > 0 seen, hi: l' <= 0 seen) is replaced by the bracket's geometric midpoint, so
    rows whose maximum lies beyond B_MAX converge to the cap. Only unconverged rows are
    evaluated (``log_d``, ``shifted``, ``top``: :func:`_profile_terms`).
    """
    b = np.ones(log_d.shape[0])
    lo = np.full(b.size, B_MIN)
    hi = np.full(b.size, B_MAX)
    active = np.arange(b.size)
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        ba = b[active]
        nu = n_u[active]
        if active.size == b.size:
            _, m1, var = _profile_terms(log_d, shifted, top, ba)
        else:
            _, m1, var = _profile_terms(log_d[active], shifted[active], top[active], ba)
        g = nu / ba + sum_log_u[active] - nu * m1
        h = -nu / (ba * ba) - nu * var
        lo[active] = np.where(g > 0, ba, lo[active])
        hi[active] = np.where(g <= 0, ba, hi[active])
        step = ba - g / h
        la, ha = lo[active], hi[active]
        new_b = np.where((step > la) & (step < ha), step, np.sqrt(la * ha))
        b[active] = new_b
        active = active[np.abs(new_b - ba) > _TOL * new_b]
    return b


def duration_lr(
    durations: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    censored_first: np.ndarray,
    censored_last: np.ndarray,
    segments: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """LR statistics and b-hat for many samples at once (vectorized kernel).

    Sample j uses the complete durations ``durations[lo[j]:hi[j]]`` and the censored durations
    ``censored_first[j]``, ``censored_last[j]`` (0 = absent). Samples without a complete
    duration get LR 0 and b-hat 1. Rows are padded in chunks of similar width (<= 2^20 cells) and solved in
    blocks of the rows of one width (<= 2^16 cells, in the cache; each row's numbers do not depend on the
    other rows of its block).

    ``segments``: where ``durations`` holds several series one after the other, the index of each series'
    first duration (ascending, the first 0; None: one series). A sample's sums then run from its series' first
    duration and its rows are chunked with its series' samples only, so each number is bit for bit what a call
    on that series alone gives (a row's padded width, its chunk's, fixes the order of its sums): many short
    series cost one call, not one each.
    """
    durations = np.asarray(durations, dtype=float)
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    c_first = np.asarray(censored_first, dtype=float)
    c_last = np.asarray(censored_last, dtype=float)
    n_u = (hi - lo).astype(float)
    starts = np.unique(np.zeros(1, np.int64) if segments is None else np.asarray(segments, dtype=np.int64))
    series = np.searchsorted(starts, lo, side="right") - 1  # each sample's series
    log_all = np.log(np.maximum(durations, 1.0))
    # each series' prefix sums from its own first duration, series k's shifted by k (one leading zero each)
    cum_log, cum_d = _series_prefix(log_all, starts), _series_prefix(durations, starts)
    lo_k, hi_k = lo + series, hi + series
    sum_log_u = cum_log[hi_k] - cum_log[lo_k]
    b_hat = np.ones(lo.shape[0])
    lr = np.zeros(lo.shape[0])
    todo = np.flatnonzero(n_u >= 1)
    if todo.size == 0:
        return lr, b_hat
    todo = todo[np.lexsort((n_u[todo], series[todo]))]  # by series, then width (stable)
    by_width: dict[int, list[np.ndarray]] = {}
    start = 0
    while start < todo.size:  # a series' rows sorted by width: a chunk's width is its last row's
        stop = start + 1
        while (stop < todo.size and series[todo[stop]] == series[todo[start]]
               and (stop - start + 1) * (int(n_u[todo[stop]]) + 2) <= _MAX_CELLS):
            stop += 1
        by_width.setdefault(int(n_u[todo[stop - 1]]) + 2, []).append(todo[start:stop])
        start = stop
    for width, chunks in by_width.items():
        same = np.concatenate(chunks)
        block = max(1, _BLOCK_CELLS // width)
        for at in range(0, same.size, block):  # the rows a block at a time: its arrays stay in the cache
            rows = same[at : at + block]
            lr[rows], b_hat[rows] = _solved_rows(rows, width, log_all, lo, n_u, c_first, c_last, sum_log_u, cum_d,
                                                 lo_k, hi_k)
    return lr, b_hat


def _series_prefix(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Prefix sums of each series ``values[starts[k]:starts[k + 1]]`` from its own first value, with a leading zero,
    series k's at [starts[k] + k, starts[k + 1] + k] (the sum of its values [a, b) is P[b + k] - P[a + k])."""
    out = np.zeros(values.size + starts.size)
    bounds = np.minimum(np.append(starts, values.size), values.size)  # a last series may start past the end
    for k, (a, b) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
        np.cumsum(values[a:b], out=out[a + k + 1 : b + k + 1])
    return out


def _solved_rows(rows: np.ndarray, width: int, log_all: np.ndarray, lo: np.ndarray, n_u: np.ndarray,
                 c_first: np.ndarray, c_last: np.ndarray, sum_log_u: np.ndarray, cum_d: np.ndarray,
                 lo_k: np.ndarray, hi_k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LR and b-hat of the samples ``rows`` of :func:`duration_lr`, their durations padded to ``width`` cells
    (the complete ones, then the two censored ones); ``lo_k``, ``hi_k``: their bounds in the series' prefix sums
    ``cum_d``."""
    offsets = np.arange(width - 2)
    inside = offsets < n_u[rows, None]
    log_d = np.empty((rows.size, width))
    log_d[:, :-2] = np.where(inside, log_all[np.minimum(lo[rows, None] + offsets, log_all.size - 1)], 0.0)
    cens = np.column_stack([c_first[rows], c_last[rows]])
    log_d[:, -2:] = np.log(np.maximum(cens, 1.0))
    top = log_d.max(axis=1)
    # unused cells -inf: their weights exp(b * -inf) are 0, as a 0/1 mask would make them
    shifted = np.where(np.concatenate([inside, cens > 0], axis=1), log_d - top[:, None], -np.inf)
    nu = n_u[rows]
    b = _solve_chunk(log_d, shifted, top, nu, sum_log_u[rows])
    log_s, _, _ = _profile_terms(log_d, shifted, top, b)
    ll_b = nu * np.log(b) + nu * np.log(nu) - nu * log_s + (b - 1.0) * sum_log_u[rows] - nu
    s_one = cum_d[hi_k[rows]] - cum_d[lo_k[rows]] + c_first[rows] + c_last[rows]
    ll_1 = nu * np.log(nu / s_one) - nu
    return np.maximum(2.0 * (ll_b - ll_1), 0.0), b


def durations_of(hits: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(complete durations, censored first, censored last) of a breach sequence (0 = absent)."""
    days = np.flatnonzero(hits)
    if days.size == 0:
        return np.empty(0), 0, 0
    first = int(days[0]) + 1 if days[0] > 0 else 0
    last = int(hits.size - 1 - days[-1])
    return np.diff(days).astype(float), first, last


def christoffersen_pelletier_duration(breaches: object) -> DurationResult:
    """Christoffersen & Pelletier (2004) duration test (Weibull vs exponential), chi2(1).

    Formula and source: see the module docstring.
    Edge rules: fewer than 2 breaches (no complete duration, the Weibull MLE does not exist)
    -> LR 0, p 1, b-hat 1, ``insufficient_data``; b-hat capped at B_MAX = 20 when the
    likelihood increases in b without bound (e.g. equally spaced breaches).
    """
    hits = as_breaches(breaches)
    d, first, last = durations_of(hits)
    lr, b = duration_lr(d, np.array([0]), np.array([d.size]), np.array([first]), np.array([last]))
    stat = float(lr[0])
    return DurationResult(
        statistic=stat,
        p_value=float(chi2_sf(stat, 1)),
        insufficient_data=d.size == 0,
        n_obs=hits.size,
        n_breaches=int(hits.sum()),
        n_complete_durations=int(d.size),
        weibull_shape=float(b[0]),
    )
