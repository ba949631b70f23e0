"""Christoffersen-Pelletier duration test vs scipy.optimize, DQ test vs numpy.linalg.lstsq."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from risk_pipeline.risk.backtests import christoffersen_pelletier_duration, duration, dynamic_quantile
from risk_pipeline.risk.backtests.duration import duration_lr

# ------------------------------------------------------------------ duration test


def _durations_by_loop(hits):
    """(complete, censored) durations following Christoffersen & Pelletier (2004)."""
    complete, censored = [], []
    last = None
    for t, h in enumerate(hits, start=1):
        if h:
            if last is None:
                if t > 1:
                    censored.append(t)  # sample starts without a hit
            else:
                complete.append(t - last)
            last = t
    if last is not None and last < len(hits):
        censored.append(len(hits) - last)
    return np.array(complete, float), np.array(censored, float)


def _weibull_lr_by_optimizer(hits):
    d, c = _durations_by_loop(hits)

    def negll(theta):
        a, b = np.exp(theta)
        ll = np.sum(b * np.log(a) + np.log(b) + (b - 1) * np.log(d) - (a * d) ** b)
        return -(ll - np.sum((a * c) ** b))

    best = min(
        (optimize.minimize(negll, x0, method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-13, "maxiter": 20000}) for x0 in ([np.log(1 / d.mean()), 0.0], [np.log(1 / d.mean()), -0.5], [np.log(1 / d.mean()), 0.5])),
        key=lambda r: r.fun,
    )
    a_exp = d.size / (d.sum() + c.sum())  # exponential MLE in closed form
    ll_exp = d.size * np.log(a_exp) - a_exp * (d.sum() + c.sum())
    return 2 * (-best.fun - ll_exp), float(np.exp(best.x[1]))


def _clustered(rng, n, p, stay):
    hits = np.zeros(n, bool)
    for t in range(1, n):
        hits[t] = rng.random() < (stay if hits[t - 1] else p)
    return hits


@pytest.mark.parametrize(
    "hits",
    [
        (np.random.default_rng(0).random(1500) < 0.02),
        (np.random.default_rng(1).random(800) < 0.05),
        _clustered(np.random.default_rng(2), 1500, 0.01, 0.3),
        _clustered(np.random.default_rng(3), 600, 0.03, 0.5),
    ],
)
def test_duration_lr_matches_scipy_weibull_mle(hits):
    res = christoffersen_pelletier_duration(hits)
    lr, b = _weibull_lr_by_optimizer(hits)
    assert res.statistic == pytest.approx(lr, rel=1e-6, abs=1e-7)
    assert res.weibull_shape == pytest.approx(b, rel=1e-4)
    assert res.p_value == pytest.approx(stats.chi2.sf(res.statistic, 1), rel=1e-9)
    assert res.n_breaches == hits.sum() and res.n_complete_durations == hits.sum() - 1


def test_duration_without_censoring_matches_optimizer():
    hits = np.zeros(400, bool)
    hits[[0, 30, 35, 90, 200, 210, 399]] = True  # starts and ends with a breach
    d, c = _durations_by_loop(hits)
    assert c.size == 0
    lr, _ = _weibull_lr_by_optimizer(hits)
    assert christoffersen_pelletier_duration(hits).statistic == pytest.approx(lr, rel=1e-6)


def test_duration_detects_clustering():
    hits = _clustered(np.random.default_rng(7), 4000, 0.005, 0.6)
    res = christoffersen_pelletier_duration(hits)
    assert res.weibull_shape < 1 and res.verdict == "fail"


@pytest.mark.parametrize("days", [[], [50], [0], [249]])
def test_duration_fewer_than_two_breaches_is_insufficient(days):
    hits = np.zeros(250, bool)
    hits[days] = True
    res = christoffersen_pelletier_duration(hits)
    assert (res.statistic, res.p_value, res.weibull_shape, res.verdict) == (0.0, 1.0, 1.0, "insufficient_data")


def test_duration_degenerate_samples_are_finite():
    every = christoffersen_pelletier_duration(np.ones(100, bool))  # all durations 1: b unbounded
    assert np.isfinite(every.statistic) and every.weibull_shape == pytest.approx(20.0, rel=1e-6)
    periodic = np.zeros(1000, bool)
    periodic[::100] = True
    res = christoffersen_pelletier_duration(periodic)
    assert np.isfinite([res.statistic, res.p_value]).all() and res.verdict == "fail"


def test_profile_terms_weights_unused_cells_by_minus_infinity_as_a_zero_mask_would_bit_for_bit():
    """``_profile_terms`` takes the unused cells of a row (shorter samples, absent censored durations) as -inf
    in ``shifted`` (weight exp(-inf) = 0): every term equals the masked form exp(b * (ln D - top)) * mask
    exactly, for shapes from B_MIN to B_MAX."""
    rng = np.random.default_rng(8)
    log_d = np.log(rng.integers(1, 300, (400, 61)).astype(float))
    mask = (np.arange(61) < rng.integers(1, 62, (400, 1))).astype(float)
    log_d *= mask
    top = log_d.max(axis=1)
    b = np.exp(rng.uniform(np.log(duration.B_MIN), np.log(duration.B_MAX), 400))
    w = np.exp(b[:, None] * (log_d - top[:, None]))
    w *= mask
    s0 = w.sum(axis=1)
    m1 = np.einsum("ij,ij->i", w, log_d) / s0
    w *= log_d
    m2 = np.einsum("ij,ij->i", w, log_d) / s0
    masked = (b * top + np.log(s0), m1, np.maximum(m2 - m1 * m1, 0.0))
    shifted = np.where(mask > 0, log_d - top[:, None], -np.inf)
    for got, want in zip(duration._profile_terms(log_d, shifted, top, b), masked):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ DQ test


def _dq_by_lstsq(hits, var, p, k):
    hit = hits.astype(float) - p
    rows = [[1.0, *[hit[t - j] for j in range(1, k + 1)], var[t]] for t in range(k, len(hit))]
    x, y = np.array(rows), hit[k:]
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(beta @ x.T @ x @ beta / (p * (1 - p))), np.linalg.matrix_rank(x)


@pytest.mark.parametrize(("seed", "conf", "lags"), [(0, 0.99, 4), (1, 0.95, 4), (2, 0.95, 1), (3, 0.975, 6)])
def test_dq_matches_lstsq(seed, conf, lags):
    rng = np.random.default_rng(seed)
    var = 0.02 + 0.01 * rng.random(700)
    hits = rng.random(700) < (1 - conf) * (0.5 + 40 * (var - 0.02) * 2.5)
    res = dynamic_quantile(hits, var, conf, n_lags=lags)
    dq, rank = _dq_by_lstsq(hits, var, 1 - conf, lags)
    assert res.statistic == pytest.approx(dq, rel=1e-8)
    assert res.df == rank == lags + 2
    assert res.p_value == pytest.approx(stats.chi2.sf(dq, lags + 2), rel=1e-8)
    assert res.n_regression_rows == 700 - lags


def test_dq_rejects_breaches_predictable_from_var():
    rng = np.random.default_rng(5)
    var = 0.01 + 0.02 * rng.random(1000)
    hits = var > 0.027  # breaches exactly when VaR is high
    assert dynamic_quantile(hits, var, 0.95).verdict == "fail"


def test_dq_edge_cases():
    var = np.full(300, 0.02)
    none = dynamic_quantile(np.zeros(300, bool), var, 0.99)
    # without breaches Hit = -p is fitted exactly by the constant: DQ = n p^2 / (p (1-p)), rank 1
    assert none.df == 1 and none.statistic == pytest.approx(296 * 0.01 / 0.99, rel=1e-9)
    every = dynamic_quantile(np.ones(300, bool), var, 0.99)
    assert every.statistic == pytest.approx(296 * 0.99 / 0.01, rel=1e-9) and every.verdict == "fail"
    few = dynamic_quantile(np.array([0, 1, 0, 0, 0, 0, 1, 0, 0, 0]), np.full(10, 0.02), 0.99)
    assert (few.statistic, few.p_value, few.verdict) == (0.0, 1.0, "insufficient_data")


def _exact_quadratic_form(xx: np.ndarray, xy: np.ndarray) -> float:
    """xy' xx^-1 xy in exact rational arithmetic of the floating-point entries (Gaussian elimination)."""
    from fractions import Fraction

    k = len(xy)
    rows = [[Fraction(float(v)) for v in xx[i]] + [Fraction(float(xy[i]))] for i in range(k)]
    for c in range(k):
        for r in range(c + 1, k):
            factor = rows[r][c] / rows[c][c]
            rows[r] = [a - factor * b for a, b in zip(rows[r], rows[c])]
    solution = [Fraction(0)] * k
    for r in reversed(range(k)):
        solution[r] = (rows[r][k] - sum(rows[r][c] * solution[c] for c in range(r + 1, k))) / rows[r][r]
    return float(sum(Fraction(float(xy[i])) * solution[i] for i in range(k)))


def test_dq_of_a_stack_solved_by_cholesky_where_provably_full_rank_equals_the_eigendecomposition_and_lstsq(
        monkeypatch):
    """Windows of every kind: well conditioned, with an option book's VaR of some 2,000 (X'X's condition number some
    1e8, its equilibrated matrix's small: both solved by the stacked Cholesky), without breaches, with a breach
    every day or a constant VaR (rank deficient: the eigendecomposition's pseudo-inverse): each kind's
    statistic and rank as ``dq_statistic``'s eigendecomposition gives and as least squares does."""
    import importlib

    dq = importlib.import_module("risk_pipeline.risk.backtests.dynamic_quantile")
    rng = np.random.default_rng(11)
    kinds = ["regular"] * 60 + ["no_breach", "every_day", "constant_var", "huge_var"] * 5
    samples, stacks, moments, probabilities = [], [], [], []
    for i, kind in enumerate(kinds):
        p, lags = (0.01, 0.05)[i % 2], 4
        var = 0.02 * np.clip(1 + 0.3 * rng.standard_normal(250), 0.1, None)
        hits = rng.random(250) < 2 * p
        if kind == "no_breach":
            hits[:] = False
        elif kind == "every_day":
            hits[:] = True
        elif kind == "constant_var":
            var[:] = 0.02
        elif kind == "huge_var":
            var *= 1e5  # some 2,000 in money
        x, y = dq.dq_rows(hits, var, p, lags)
        stacks.append(x[lags:].T @ x[lags:])
        moments.append(x[lags:].T @ y[lags:])
        samples.append((hits, var, p, lags))
        probabilities.append(p)
    xx, xy, p = np.array(stacks), np.array(moments), np.array(probabilities)
    eig_stat, eig_df = dq.dq_statistic(xx, xy, p)
    by_eigh = []
    original = dq.dq_statistic
    monkeypatch.setattr(dq, "dq_statistic", lambda a, b, q: (by_eigh.append(len(a)), original(a, b, q))[1])
    stat, df = dq.dq_statistic_stacked(xx, xy, p)
    assert by_eigh == [15]  # the 15 rank-deficient windows, and no other
    np.testing.assert_array_equal(df, eig_df)
    deficient = np.array([kind in ("no_breach", "every_day", "constant_var") for kind in kinds])
    np.testing.assert_array_equal(stat[deficient], eig_stat[deficient])  # the same pseudo-inverse
    regular = np.array([kind == "regular" for kind in kinds])
    np.testing.assert_allclose(stat[regular], eig_stat[regular], rtol=1e-12, atol=0)
    # where X'X's condition number is 1e8 the eigendecomposition loses digits the equilibrated solve keeps
    exact = np.array([_exact_quadratic_form(a, b) for a, b in zip(xx[~deficient], xy[~deficient])])
    np.testing.assert_allclose(stat[~deficient], exact / (p * (1 - p))[~deficient], rtol=1e-12, atol=0)
    for (hits, var, q, lags), got, rank in zip(samples, stat, df):
        expected, expected_rank = _dq_by_lstsq(hits, var, q, lags)
        assert rank == expected_rank
        assert got == pytest.approx(expected, rel=1e-7)


def test_dq_of_a_stack_is_as_accurate_as_exact_arithmetic_allows():
    """Against the exact quadratic form of the same floating-point moments, on windows like the bundled books'
    (VaR of 0.5-6% drifting over 250 or 1,000 days): the stacked Cholesky's error is at rounding level, and
    no larger than the eigendecomposition's."""
    import importlib

    dq = importlib.import_module("risk_pipeline.risk.backtests.dynamic_quantile")
    rng = np.random.default_rng(5)
    stacks, moments, probabilities = [], [], []
    for i in range(40):
        p, days = (0.01, 0.05)[i % 2], (250, 1000)[i % 3 == 0]
        var = rng.choice([0.005, 0.02, 0.06]) * np.exp(0.01 * np.cumsum(rng.standard_normal(days)))
        x, y = dq.dq_rows(rng.random(days) < 1.5 * p, var, p, 4)
        stacks.append(x[4:].T @ x[4:])
        moments.append(x[4:].T @ y[4:])
        probabilities.append(p)
    xx, xy, p = np.array(stacks), np.array(moments), np.array(probabilities)
    exact = np.array([_exact_quadratic_form(a, b) for a, b in zip(xx, xy)]) / (p * (1 - p))
    stacked, df = dq.dq_statistic_stacked(xx, xy, p)
    by_eigh, _ = dq.dq_statistic(xx, xy, p)
    assert (df == 6).all()
    stacked_error, eigh_error = np.abs(stacked / exact - 1), np.abs(by_eigh / exact - 1)
    assert stacked_error.max() < 1e-12
    assert np.median(stacked_error) <= np.median(eigh_error)


def test_duration_rows_solved_in_blocks_equal_each_chunk_at_once(monkeypatch):
    """``duration_lr`` solves a chunk's rows (padded to the chunk's width) a block at a time: any block size,
    down to one row, gives the numbers of the whole chunk at once bit for bit, for thousands of samples of
    many widths (complete and censored durations)."""
    rng = np.random.default_rng(9)
    durations = np.diff(np.flatnonzero(rng.random(5000) < 0.06)).astype(float)
    lo = rng.integers(0, durations.size - 70, 3000)
    hi = np.minimum(lo + rng.integers(0, 70, 3000), durations.size)
    first, last = rng.integers(0, 30, (2, 3000)).astype(float)
    results = []
    for cells in (1 << 30, 1 << 16, 500, 1):
        monkeypatch.setattr(duration, "_BLOCK_CELLS", cells)
        results.append(duration.duration_lr(durations, lo, hi, first, last))
    for lr, b in results[1:]:
        np.testing.assert_array_equal(lr, results[0][0])
        np.testing.assert_array_equal(b, results[0][1])
    assert np.unique(results[0][0]).size > 1000


def test_duration_lr_of_series_one_after_the_other_equals_each_alone_bit_for_bit():
    """``segments``: several series' durations in one call (with a duration between two series that no sample
    uses) give each sample's LR and b-hat of a call on its series alone, to the last bit: its sums from its own
    series' first duration, its row padded to the width its series' chunk gives it."""
    rng = np.random.default_rng(11)
    series = [np.flatnonzero(rng.random(n) < q) for n, q in ((900, 0.03), (300, 0.0), (1200, 0.08), (300, 0.0))]
    durations, segments, samples, alone = [], [], [], []
    for k, days in enumerate(series):
        d = np.diff(days).astype(float)
        lo, hi = np.array([0, d.size // 3, 0]), np.array([d.size, d.size, max(d.size - 2, 0)])
        c_first, c_last = rng.integers(0, 40, 3), rng.integers(0, 40, 3)
        alone.append(duration_lr(d, lo, hi, c_first, c_last))
        start = sum(len(x) for x in durations)
        segments.append(start)
        samples.append((lo + start, hi + start, c_first, c_last))
        # the gap to the next series' first breach, in no sample (none after the last series, as in var_backtests)
        durations.append(np.append(d, 1000.0 + k) if k < len(series) - 1 else d)
    lo, hi, c_first, c_last = (np.concatenate(a) for a in zip(*samples))
    lr, b = duration_lr(np.concatenate(durations), lo, hi, c_first, c_last, segments=np.array(segments))
    np.testing.assert_array_equal(lr, np.concatenate([a[0] for a in alone]), strict=True)
    np.testing.assert_array_equal(b, np.concatenate([a[1] for a in alone]), strict=True)
    assert (lr > 0).sum() >= 6
