"""Expected-shortfall backtests: Acerbi & Szekely (2014) Z2 and McNeil & Frey (2000).

Losses are positive; a breach is ``L_t > VaR_t``; p = 1 - c.

Reproducible random draws keyed by observation. Both tests are Monte Carlo / bootstrap
tests. Their random numbers are a pure function of (seed, observation key, replicate): the
uniform for observation key ``k`` and replicate ``j`` is the j-th output of the SplitMix64
generator (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators",
OOPSLA) started from a hash of (seed, stream, k). A sub-sample therefore reuses exactly the
draws the full sample gives its observations, whatever else is in the sample: a backtest on
the dates up to an as-of date, or over a trailing window, gives the same number whether it is
computed alone or as one row of a 30-year backfill. The default keys are 0..T-1;
``backtest_table`` uses the forecast dates (days since 1970-01-01).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from risk_pipeline.risk.backtests.base import (
    BacktestInputError,
    BacktestOutcome,
    as_count,
    as_finite,
    has_coverage_data,
    tail_probability,
)

Z2_STREAM = 1
MCNEIL_FREY_STREAM = 2
MIN_EXCEEDANCES = 5
"""McNeil-Frey needs at least 5 exceedance residuals with some spread; fewer -> insufficient_data."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer, in place on a uint64 array (wrapping arithmetic)."""
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


def keyed_uniforms(seed: int, keys: np.ndarray, n_rep: int, stream: int) -> np.ndarray:
    """Uniforms in (0, 1), shape (len(keys), n_rep); row i depends only on (seed, stream, keys[i])."""
    head = _mix64(np.array([seed], dtype=np.uint64) * _GOLDEN + np.uint64(stream))
    rows = np.ascontiguousarray(keys, dtype=np.int64).view(np.uint64) ^ head
    rows = _mix64(_mix64(rows) + _GOLDEN)
    cells = rows[:, None] + np.arange(1, n_rep + 1, dtype=np.uint64)[None, :] * _GOLDEN
    _mix64(cells)
    cells >>= np.uint64(11)
    return (cells.astype(np.float64) + 0.5) * 2.0**-53


def monte_carlo_p_value(n_at_least: ArrayLike, n_valid: ArrayLike) -> np.ndarray:
    """(1 + #{simulated >= observed}) / (1 + #simulations): never 0 (Davison & Hinkley 1997, eq. 4.11)."""
    return (1.0 + np.asarray(n_at_least, dtype=float)) / (1.0 + np.asarray(n_valid, dtype=float))


def _validated_keys(keys: object, length: int) -> np.ndarray:
    if keys is None:
        return np.arange(length, dtype=np.int64)
    arr = np.asarray(keys)
    if arr.ndim != 1 or arr.shape[0] != length or not np.issubdtype(arr.dtype, np.integer):
        raise BacktestInputError(f"keys must be {length} integers, got shape {arr.shape} dtype {arr.dtype}")
    if np.unique(arr).size != length:
        raise BacktestInputError("keys must be unique (one key per observation)")
    return arr.astype(np.int64)


def _validated_seed(seed: object) -> int:
    return as_count(seed, "seed")


def validated_tail_forecasts(losses: object, var: object, es: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """losses, var, es as aligned finite arrays with 0 < es and var <= es; raises naming the row."""
    loss = as_finite(losses, "losses")
    v = as_finite(var, "var", loss.size)
    e = as_finite(es, "es", loss.size)
    bad = (e <= 0.0) | (v > e)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BacktestInputError(f"row {i}: need 0 < es and var <= es, got var={v[i]!r}, es={e[i]!r}")
    return loss, v, e


# --------------------------------------------------------------------------- Z2


_TAIL_DRAWS: dict[tuple[int, int, float], dict[int, tuple[np.ndarray, np.ndarray]]] = {}
_TAIL_DRAWS_MAX_KEYS = 50_000  # dates kept per (seed, n_sims, p): at most ~40 MB at p = 5% and 1,000 simulations
_TAIL_DRAW_RUNS: dict[tuple[int, int, float, bytes], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_TAIL_DRAW_RUNS_MAX = 64  # key sequences kept assembled (~1 MB each at p = 5%, 1,000 rows and simulations): the
# 56 of a book's 64 series over 30 years (blocks of 1,048 dates, each confidence and horizon; methods that start later)


def z2_tail_draws(seed: int, keys: np.ndarray, n_sims: int, p: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The simulated breaches of the Z2 rows ``keys``: (row, replicate, ln(u/p)) of every uniform
    u < p of ``keyed_uniforms(seed, keys, n_sims, Z2_STREAM)``, in row-major order.

    A pure function of its arguments, memoised per key: every VaR/ES series of a run has the
    same dates (keys), so the draws of a date are made once, not once per series; and the last
    key sequences used are kept assembled (the series of one horizon and confidence share them),
    as read-only arrays, the least recently used dropped first.
    """
    keys = np.asarray(keys, dtype=np.int64)
    run = (seed, n_sims, p, keys.tobytes())
    if (assembled := _TAIL_DRAW_RUNS.pop(run, None)) is not None:
        _TAIL_DRAW_RUNS[run] = assembled  # the most recently used last
        return assembled
    assembled = _assembled_tail_draws(seed, keys, n_sims, p)
    for a in assembled:
        a.flags.writeable = False
    if len(_TAIL_DRAW_RUNS) >= _TAIL_DRAW_RUNS_MAX:
        del _TAIL_DRAW_RUNS[next(iter(_TAIL_DRAW_RUNS))]  # the least recently used
    _TAIL_DRAW_RUNS[run] = assembled
    return assembled


def _assembled_tail_draws(seed: int, keys: np.ndarray, n_sims: int,
                          p: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``z2_tail_draws`` of the int64 ``keys`` from the per-key memo (drawing the keys it lacks)."""
    draws = _TAIL_DRAWS.setdefault((seed, n_sims, p), {})
    missing = np.unique([k for k in keys.tolist() if k not in draws]).astype(np.int64)
    if missing.size:
        if len(draws) + missing.size > _TAIL_DRAWS_MAX_KEYS:
            draws.clear()
            missing = np.unique(keys)
        u = keyed_uniforms(seed, missing, n_sims, Z2_STREAM)
        row, col = np.nonzero(u < p)
        log_ratio = np.log(u[row, col] / p)
        cuts = np.searchsorted(row, np.arange(1, missing.size))
        for key, c, lr in zip(missing.tolist(), np.split(col.astype(np.int32), cuts), np.split(log_ratio, cuts)):
            draws[key] = (c, lr)
    per_key = [draws[k] for k in keys.tolist()]
    counts = np.array([c.size for c, _ in per_key], dtype=np.int64)
    if not per_key or counts.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return (np.repeat(np.arange(keys.size), counts), np.concatenate([c for c, _ in per_key]),
            np.concatenate([lr for _, lr in per_key]))


def z2_simulated_terms(draws: tuple[np.ndarray, np.ndarray, np.ndarray], var: np.ndarray, es: np.ndarray,
                       n_sims: int) -> np.ndarray:
    """Simulated terms L*_t I*_t / ES_t under the model (T x n_sims), from the breaches ``draws``
    of ``z2_tail_draws`` (row t, replicate, ln(u/p)).

    A uniform u < p is a breach (probability p); given a breach, u/p is uniform and
    L* = VaR_t + (ES_t - VaR_t) E with E = -ln(u/p) ~ Exp(1), so E[L* | breach] = ES_t exactly.
    """
    row, col, _ = draws
    terms = np.zeros((var.size, n_sims))
    terms[row, col] = z2_tail_terms(draws, var, es)
    return terms


def z2_tail_terms(draws: tuple[np.ndarray, np.ndarray, np.ndarray], var: np.ndarray, es: np.ndarray) -> np.ndarray:
    """The non-zero simulated terms (VaR_t - (ES_t - VaR_t) ln(u/p)) / ES_t, one per breach of ``draws``."""
    row, _, log_ratio = draws
    v, e = var[row], es[row]
    return (v - (e - v) * log_ratio) / e


@dataclass(frozen=True)
class Z2Result(BacktestOutcome):
    """Acerbi-Szekely Z2 (positive = ES underestimated); one-sided Monte Carlo p-value."""

    n_obs: int
    n_breaches: int
    expected_breaches: float
    n_sims: int


def z2_statistic(tail_sum: ArrayLike, n_obs: ArrayLike, p: float) -> np.ndarray:
    """Z2 = sum_t L_t I_t / ES_t / (T p) - 1, and 0 for an empty sample."""
    n = np.asarray(n_obs, dtype=float)
    return np.where(n > 0, np.asarray(tail_sum) / (np.maximum(n, 1.0) * p) - 1.0, 0.0)


def acerbi_szekely_z2(
    losses: object,
    var: object,
    es: object,
    confidence: float,
    n_sims: int = 1000,
    seed: int = 0,
    keys: object = None,
) -> Z2Result:
    """Acerbi & Szekely (2014) Z2 ("testing ES directly") with a simulated p-value.

    Z2 = sum_t L_t I_t / (T (1-c) ES_t) - 1, I_t = 1{L_t > VaR_t}. This is minus the paper's
    Z2 (written there for P&L X_t = -L_t): E[Z2] = 0 when VaR and ES are right, Z2 > 0 when
    the tail losses are larger than forecast. p-value = P(Z2* >= Z2) under the model, by
    simulation: I*_t ~ Bernoulli(1-c) and tail losses L* = VaR_t + (ES_t - VaR_t) Exp(1),
    an exponential tail that matches each day's VaR and ES exactly (``z2_simulated_terms``);
    n_sims draws keyed by (seed, keys) (module docstring); p = (1 + #{Z2* >= Z2}) / (1 + n_sims).
    Source: C. Acerbi and B. Szekely (2014), "Backtesting expected shortfall", Risk, December;
    MSCI working paper, section 3, test 2.
    Edge rules: empty sample -> statistic 0, p 1; no breach -> Z2 = -1 and p = 1; fewer than
    1/p observations -> ``insufficient_data``. Requires 0 < ES_t and VaR_t <= ES_t.
    """
    p = tail_probability(confidence)
    loss, v, e = validated_tail_forecasts(losses, var, es)
    sims = as_count(n_sims, "n_sims", 1)
    key = _validated_keys(keys, loss.size)
    hit = loss > v
    tail_sum = float(np.sum(np.where(hit, loss / e, 0.0)))
    sim_sums = z2_simulated_terms(z2_tail_draws(_validated_seed(seed), key, sims, p), v, e, sims).sum(axis=0)
    p_value = float(monte_carlo_p_value(np.sum(sim_sums >= tail_sum), sims)) if loss.size else 1.0
    return Z2Result(
        statistic=float(z2_statistic(tail_sum, loss.size, p)),
        p_value=p_value,
        insufficient_data=not bool(has_coverage_data(loss.size, p)),
        n_obs=loss.size,
        n_breaches=int(hit.sum()),
        expected_breaches=loss.size * p,
        n_sims=sims,
    )


# --------------------------------------------------------------------------- McNeil-Frey

_POISSON1_CDF = stats.poisson.cdf(np.arange(32), 1.0)


def poisson_weights(u: np.ndarray) -> np.ndarray:
    """Poisson(1) bootstrap weights by inverting the Poisson(1) cdf at uniforms u."""
    return np.searchsorted(_POISSON1_CDF, u).astype(float)


_KEYED_WEIGHTS: dict[tuple[int, int], dict[int, np.ndarray]] = {}
_KEYED_WEIGHTS_MAX_KEYS = 50_000  # keys kept per (seed, n_boot): at most 50 MB at 1,000 replicates


def keyed_poisson_weights(seed: int, keys: np.ndarray, n_boot: int) -> np.ndarray:
    """``poisson_weights(keyed_uniforms(seed, keys, n_boot, MCNEIL_FREY_STREAM))``, memoised per key
    (as small integers): every VaR/ES series of a run has the same dates, so the weights of a date
    are drawn once, not once per series and window."""
    memo = _KEYED_WEIGHTS.setdefault((seed, n_boot), {})
    keys = np.asarray(keys, dtype=np.int64).tolist()
    missing = np.unique([k for k in keys if k not in memo]).astype(np.int64)
    if missing.size:
        if len(memo) + missing.size > _KEYED_WEIGHTS_MAX_KEYS:
            memo.clear()
            missing = np.unique(keys).astype(np.int64)
        drawn = np.searchsorted(_POISSON1_CDF, keyed_uniforms(seed, missing, n_boot, MCNEIL_FREY_STREAM))
        memo.update(zip(missing.tolist(), drawn.astype(np.uint8)))  # a Poisson(1) draw here is at most 32
    if not keys:
        return np.zeros((0, n_boot))
    return np.stack([memo[k] for k in keys]).astype(float)


def mcneil_frey_from_sums(
    n: np.ndarray, s1: np.ndarray, s2: np.ndarray, w0: np.ndarray, w1: np.ndarray, w2: np.ndarray,
    drawn: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t statistic, bootstrap p-value, insufficient) from residual sums and weighted sums.

    n, s1 = sum r, s2 = sum r^2 have shape (N,); w0 = sum w, w1 = sum w r, w2 = sum w r^2 and
    drawn = sum 1{w > 0} (the residuals the replicate draws at least once) have shape (N, B) for B
    Poisson(1) weight vectors. Each replicate recentres the residuals (r - mean r, the null of mean
    zero), and computes t* = m* / sqrt(v*/w0) with the weighted mean m* and the weighted variance
    v* (divisor w0 - 1); a replicate is discarded when it draws fewer than two residuals (its
    variance is 0 in exact arithmetic: computed, it is a rounding residue of w2 - 2 m w1 + m^2 w0,
    whose sign and size depend on how the sums were formed, e.g. over which rows a run's prefix
    sums began) or when v* ~ 0 (residuals drawn that are equal). p = (1 + #{t* >= t}) /
    (1 + #valid replicates) (1 if none is valid).
    """
    n = np.asarray(n, dtype=float)
    safe_n = np.maximum(n, 2.0)
    mean = s1 / safe_n
    var = np.maximum((s2 - safe_n * mean * mean) / (safe_n - 1.0), 0.0)
    insufficient = (n < MIN_EXCEEDANCES) | (var <= 1e-12 * s2 / safe_n)
    t = np.where(insufficient, 0.0, mean / np.sqrt(np.where(insufficient, 1.0, var) / safe_n))
    m = mean[:, None]
    a1 = w1 - m * w0
    a2 = w2 - 2.0 * m * w1 + m * m * w0
    safe_w0 = np.maximum(w0, 2.0)
    m_star = a1 / safe_w0
    v_star = (a2 - safe_w0 * m_star * m_star) / (safe_w0 - 1.0)
    valid = (w0 >= 2.0) & (drawn >= 2.0) & (v_star > 1e-10 * var[:, None])
    t_star = m_star / np.sqrt(np.where(valid, v_star, 1.0) / safe_w0)
    n_valid = valid.sum(axis=1)
    n_ge = (valid & (t_star >= t[:, None])).sum(axis=1)
    p_value = np.where(insufficient | (n_valid == 0), 1.0, monte_carlo_p_value(n_ge, n_valid))
    return t, p_value, insufficient


@dataclass(frozen=True)
class McNeilFreyResult(BacktestOutcome):
    """McNeil-Frey exceedance-residual test: t statistic of the mean residual, one-sided bootstrap p."""

    n_exceedances: int
    mean_residual: float
    n_boot: int


def exceedance_residuals(loss: np.ndarray, var: np.ndarray, es: np.ndarray, vol: np.ndarray | None) -> np.ndarray:
    """r_t = (L_t - ES_t) / scale_t on breach days, scale = ES_t - VaR_t or the given vol."""
    hit = loss > var
    scale = (es - var) if vol is None else vol
    bad = hit & (scale <= 0.0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BacktestInputError(f"row {i}: residual scale must be > 0 on a breach day, got {scale[i]!r}")
    return (loss[hit] - es[hit]) / scale[hit]


def mcneil_frey(
    losses: object,
    var: object,
    es: object,
    *,
    vol: object = None,
    n_boot: int = 1000,
    seed: int = 0,
    keys: object = None,
) -> McNeilFreyResult:
    """McNeil & Frey (2000) exceedance-residual test of ES, one-sided bootstrap.

    On breach days (L_t > VaR_t) r_t = (L_t - ES_t) / (ES_t - VaR_t), or / vol_t when the
    forecast volatility is given (the paper's standardisation). H0: E[r] = 0; H1: E[r] > 0
    (ES underestimated). Statistic t = mean(r) / (sd(r) / sqrt(n)). p-value by the bootstrap
    test of a mean (Efron & Tibshirani 1993, section 16.4, as used by McNeil & Frey): resample
    the recentred residuals r - mean(r) and count t* >= t. Resampling uses Poisson(1) weights
    per residual (the Poisson bootstrap, Hanley & MacGibbon 2006, Comput. Methods Programs
    Biomed. 83; Chamandy et al. 2012), the large-sample equivalent of multinomial resampling,
    keyed by (seed, observation key) so sub-samples reuse the full sample's weights (module
    docstring); see :func:`mcneil_frey_from_sums`.
    Source: A. McNeil and R. Frey (2000), "Estimation of tail-related risk measures for
    heteroscedastic financial time series: an extreme value approach", J. Empirical Finance
    7(3-4), 271-300, section 5.
    Edge rules: fewer than MIN_EXCEEDANCES (5) breaches, or residuals without spread ->
    statistic 0, p 1, ``insufficient_data``. A non-positive scale on a breach day raises.
    """
    loss, v, e = validated_tail_forecasts(losses, var, es)
    scale = None if vol is None else as_finite(vol, "vol", loss.size)
    boots = as_count(n_boot, "n_boot", 1)
    key = _validated_keys(keys, loss.size)
    r = exceedance_residuals(loss, v, e, scale)
    w = keyed_poisson_weights(_validated_seed(seed), key[loss > v], boots)
    t, p_value, insufficient = mcneil_frey_from_sums(
        np.array([r.size]),
        np.array([r.sum()]),
        np.array([(r * r).sum()]),
        w.sum(axis=0)[None],
        (w * r[:, None]).sum(axis=0)[None],
        (w * (r * r)[:, None]).sum(axis=0)[None],
        (w > 0.0).sum(axis=0)[None],
    )
    return McNeilFreyResult(
        statistic=float(t[0]),
        p_value=float(p_value[0]),
        insufficient_data=bool(insufficient[0]),
        n_exceedances=int(r.size),
        mean_residual=float(r.mean()) if r.size else 0.0,
        n_boot=boots,
    )
