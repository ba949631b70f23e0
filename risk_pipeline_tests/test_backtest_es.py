"""ES backtests: Acerbi-Szekely Z2 and McNeil-Frey, and their keyed random draws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from risk_pipeline.risk.backtests import BacktestInputError, acerbi_szekely_z2, mcneil_frey
from risk_pipeline.risk.backtests import expected_shortfall
from risk_pipeline.risk.backtests.expected_shortfall import (
    MCNEIL_FREY_STREAM,
    Z2_STREAM,
    keyed_poisson_weights,
    keyed_uniforms,
    poisson_weights,
    z2_tail_draws,
)


def _model_sample(rng, n, conf, scale=1.0):
    """Losses drawn from the model Z2 simulates: P(L > VaR) = p, tail VaR + (ES - VaR) Exp(1)."""
    p = 1 - conf
    var = 0.02 * (1 + rng.random(n))
    es = var * 1.3
    tail = rng.random(n) < p
    loss = np.where(tail, var + (es - var) * rng.exponential(size=n), var * rng.random(n))
    return loss * scale, var, es


# ------------------------------------------------------------------ keyed draws


def test_keyed_uniforms_are_uniform_and_keyed_per_row():
    u = keyed_uniforms(7, np.arange(400), 500, Z2_STREAM)
    assert u.shape == (400, 500) and (u > 0).all() and (u < 1).all()
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.2
    sub = keyed_uniforms(7, np.array([3, 250]), 500, Z2_STREAM)
    np.testing.assert_array_equal(sub, u[[3, 250]])  # a row depends on its key only
    assert not np.array_equal(keyed_uniforms(8, np.arange(400), 500, Z2_STREAM), u)
    assert not np.array_equal(keyed_uniforms(7, np.arange(400), 500, MCNEIL_FREY_STREAM), u)


def test_keyed_poisson_weights_equal_the_weights_of_the_keyed_uniforms(monkeypatch):
    """The memoised weights of any keys, in any order, drawn before or not, and after the memo
    is cleared for size, are those of ``poisson_weights(keyed_uniforms(...))`` exactly."""
    monkeypatch.setattr(expected_shortfall, "_KEYED_WEIGHTS", {})
    keys = np.array([19000, 7, 12345, 8000])
    first = keyed_poisson_weights(3, keys, 400)
    np.testing.assert_array_equal(first, poisson_weights(keyed_uniforms(3, keys, 400, MCNEIL_FREY_STREAM)))
    again = np.array([7, 555, 19000])  # two memoised, one new
    np.testing.assert_array_equal(keyed_poisson_weights(3, again, 400),
                                  poisson_weights(keyed_uniforms(3, again, 400, MCNEIL_FREY_STREAM)))
    assert first.max() >= 4 and first.dtype == float
    monkeypatch.setattr(expected_shortfall, "_KEYED_WEIGHTS_MAX_KEYS", 4)
    many = np.arange(100, 103)
    np.testing.assert_array_equal(keyed_poisson_weights(3, many, 400),
                                  poisson_weights(keyed_uniforms(3, many, 400, MCNEIL_FREY_STREAM)))
    assert keyed_poisson_weights(3, np.zeros(0, np.int64), 400).shape == (0, 400)
    assert not np.array_equal(keyed_poisson_weights(4, keys, 400), first)  # the seed is part of the key


# ------------------------------------------------------------------ Z2


def test_z2_statistic_by_hand():
    loss = np.array([0.01, 0.05, 0.00, 0.04, 0.02])
    var = np.full(5, 0.03)
    es = np.array([0.04, 0.04, 0.04, 0.05, 0.04])
    res = acerbi_szekely_z2(loss, var, es, 0.9, n_sims=200, seed=3)
    assert res.statistic == pytest.approx((0.05 / 0.04 + 0.04 / 0.05) / (5 * 0.1) - 1, rel=1e-9)
    assert res.n_breaches == 2 and res.n_obs == 5 and res.n_sims == 200
    assert res.insufficient_data is True  # 5 observations at 90%: 0.5 expected breaches < 1


def test_z2_p_value_matches_a_loop_over_the_same_draws():
    rng = np.random.default_rng(11)
    loss, var, es = _model_sample(rng, 40, 0.9)
    sims, p = 60, 0.1
    u = keyed_uniforms(5, np.arange(40), sims, Z2_STREAM)
    observed = sum(loss[t] / es[t] for t in range(40) if loss[t] > var[t])
    at_least = 0
    for s in range(sims):
        total = 0.0
        for t in range(40):
            if u[t, s] < p:
                total += (var[t] + (es[t] - var[t]) * -np.log(u[t, s] / p)) / es[t]
        at_least += total >= observed
    res = acerbi_szekely_z2(loss, var, es, 0.9, n_sims=sims, seed=5)
    assert res.p_value == pytest.approx((1 + at_least) / (1 + sims), abs=1e-12)


def test_z2_simulated_tail_matches_forecast_es():
    # the simulation's mean tail term is ES / ES = 1 per breach, so E[Z2*] = 0
    var, es = np.full(2000, 0.02), np.full(2000, 0.03)
    u = keyed_uniforms(1, np.arange(2000), 200, Z2_STREAM)
    tail = (var[:, None] - (es - var)[:, None] * np.log(u / 0.05))[u < 0.05]
    assert tail.mean() == pytest.approx(0.03, rel=0.02)
    assert (u < 0.05).mean() == pytest.approx(0.05, rel=0.03)


def test_z2_p_values_uniform_under_model_and_small_when_losses_scaled():
    rng = np.random.default_rng(0)
    pvals = [acerbi_szekely_z2(*_model_sample(rng, 500, 0.975), 0.975, n_sims=400, seed=i).p_value for i in range(80)]
    assert stats.kstest(pvals, "uniform").pvalue > 1e-3
    assert 0.35 < np.mean(pvals) < 0.65
    scaled = [acerbi_szekely_z2(*_model_sample(rng, 500, 0.975, scale=1.5), 0.975, n_sims=400, seed=i) for i in range(5)]
    assert all(r.p_value < 0.01 and r.statistic > 0 and r.verdict == "fail" for r in scaled)


def test_z2_reproducible_with_seed():
    rng = np.random.default_rng(4)
    sample = _model_sample(rng, 300, 0.95)
    a = acerbi_szekely_z2(*sample, 0.95, seed=9)
    assert a == acerbi_szekely_z2(*sample, 0.95, seed=9)
    assert a.p_value != acerbi_szekely_z2(*sample, 0.95, seed=10).p_value


def test_z2_edge_cases_and_bad_input():
    none = acerbi_szekely_z2(np.zeros(250), np.full(250, 0.02), np.full(250, 0.03), 0.99)
    assert (none.statistic, none.p_value, none.verdict) == (-1.0, 1.0, "pass")
    empty = acerbi_szekely_z2(np.zeros(0), np.zeros(0), np.zeros(0), 0.99)
    assert (empty.statistic, empty.p_value, empty.verdict) == (0.0, 1.0, "insufficient_data")
    few = acerbi_szekely_z2(np.full(10, 0.05), np.full(10, 0.02), np.full(10, 0.03), 0.99)
    assert few.insufficient_data and np.isfinite(few.statistic)
    with pytest.raises(BacktestInputError, match="row 1"):
        acerbi_szekely_z2(np.zeros(3), [0.02, 0.04, 0.02], [0.03, 0.03, 0.03], 0.99)
    with pytest.raises(BacktestInputError, match="keys must be unique"):
        acerbi_szekely_z2(np.zeros(2), [0.02] * 2, [0.03] * 2, 0.99, keys=[1, 1])
    with pytest.raises(BacktestInputError, match="losses"):
        acerbi_szekely_z2([np.nan, 0.0], [0.02] * 2, [0.03] * 2, 0.99)


# ------------------------------------------------------------------ McNeil-Frey


def _mcneil_frey_by_expansion(loss, var, es, n_boot, seed):
    """Bootstrap by literally repeating each residual w times (w ~ Poisson(1) from the same draws)."""
    hit = loss > var
    r = (loss[hit] - es[hit]) / (es[hit] - var[hit])
    t = r.mean() / (r.std(ddof=1) / np.sqrt(r.size))
    weights = stats.poisson.ppf(keyed_uniforms(seed, np.flatnonzero(hit), n_boot, MCNEIL_FREY_STREAM), 1.0).astype(int)
    centred = r - r.mean()
    t_star = []
    for b in range(n_boot):
        sample = np.repeat(centred, weights[:, b])
        if sample.size >= 2 and sample.std(ddof=1) > 1e-9:
            t_star.append(sample.mean() / (sample.std(ddof=1) / np.sqrt(sample.size)))
    t_star = np.array(t_star)
    return t, (1 + np.sum(t_star >= t)) / (1 + t_star.size)


@pytest.mark.parametrize("scale", [1.0, 1.3])
def test_mcneil_frey_matches_explicit_resampling(scale):
    loss, var, es = _model_sample(np.random.default_rng(21), 800, 0.95, scale)
    res = mcneil_frey(loss, var, es, n_boot=300, seed=2)
    t, p = _mcneil_frey_by_expansion(loss, var, es, 300, 2)
    assert res.statistic == pytest.approx(t, rel=1e-9)
    assert res.p_value == pytest.approx(p, abs=1e-12)
    assert res.n_exceedances == int((loss > var).sum())


def test_mcneil_frey_detects_underestimated_es():
    rng = np.random.default_rng(3)
    good = [mcneil_frey(*_model_sample(rng, 1000, 0.95), seed=i).p_value for i in range(20)]
    assert np.mean(good) > 0.25 and np.mean(np.array(good) < 0.05) <= 0.2
    loss, var, es = _model_sample(rng, 1000, 0.95)
    bad = mcneil_frey(loss, var, var + 0.5 * (es - var), seed=1)  # ES forecast halfway to VaR
    assert bad.p_value < 0.01 and bad.statistic > 0 and bad.verdict == "fail"


def test_mcneil_frey_with_volatility_scale():
    loss, var, es = _model_sample(np.random.default_rng(8), 600, 0.95)
    vol = np.full(600, 0.01)
    res = mcneil_frey(loss, var, es, vol=vol, seed=0)
    r = ((loss - es) / vol)[loss > var]
    assert res.mean_residual == pytest.approx(r.mean(), rel=1e-12)
    assert res.statistic == pytest.approx(r.mean() / (r.std(ddof=1) / np.sqrt(r.size)), rel=1e-9)


def test_mcneil_frey_edge_cases():
    var, es = np.full(200, 0.02), np.full(200, 0.03)
    none = mcneil_frey(np.zeros(200), var, es)
    assert (none.statistic, none.p_value, none.verdict, none.n_exceedances) == (0.0, 1.0, "insufficient_data", 0)
    loss = np.zeros(200)
    loss[[5, 50, 90]] = 0.05
    assert mcneil_frey(loss, var, es).insufficient_data  # 3 < 5 exceedances
    loss[[5, 50, 90, 120, 150, 170]] = 0.05
    flat = mcneil_frey(loss, var, es)  # identical residuals: no spread to studentize
    assert flat.insufficient_data and flat.p_value == 1.0
    loss[170] = 0.06
    assert not mcneil_frey(loss, var, es).insufficient_data
    with pytest.raises(BacktestInputError, match="scale"):
        mcneil_frey(loss, var, es, vol=np.zeros(200))


def test_z2_tail_draws_are_the_breaches_of_the_keyed_uniforms_memoised_or_not():
    """The simulated breaches of a key sequence, drawn afresh, from the per-date memo (another
    sequence with the same dates) or from the kept sequence, are the uniforms below p, row-major."""
    keys = np.array([19000, 19001, 19004, 19005, 19006])
    u = keyed_uniforms(3, keys, 400, Z2_STREAM)
    row, col = np.nonzero(u < 0.05)
    expected = (row, col, np.log(u[row, col] / 0.05))
    expected_shortfall._TAIL_DRAWS.clear()
    expected_shortfall._TAIL_DRAW_RUNS.clear()
    fresh = z2_tail_draws(3, keys, 400, 0.05)
    expected_shortfall._TAIL_DRAW_RUNS.clear()
    z2_tail_draws(3, keys[::-1], 400, 0.05)
    from_dates = z2_tail_draws(3, keys, 400, 0.05)  # every date memoised, the sequence not
    kept = z2_tail_draws(3, keys, 400, 0.05)
    assert kept is from_dates
    for draws in (fresh, from_dates):
        for got, want in zip(draws, expected):
            np.testing.assert_array_equal(got, want)
            assert not got.flags.writeable  # shared by the series of a run: read-only


def test_z2_tail_draws_keep_a_book_of_sequences_the_least_recently_used_dropped_first():
    """The assembled sequences of a book's series over 30 years (56 of them: blocks of dates per confidence,
    horizon and start) are all kept, so each later series reuses them; past the limit the least recently
    used one goes, not one just used."""
    expected_shortfall._TAIL_DRAW_RUNS.clear()
    sequences = [np.arange(19000 + i, 19003 + i) for i in range(56)]
    first = [z2_tail_draws(3, keys, 50, 0.05) for keys in sequences]
    assert all(z2_tail_draws(3, keys, 50, 0.05) is kept for keys, kept in zip(sequences, first))
    reused = z2_tail_draws(3, sequences[0], 50, 0.05)  # the oldest made the most recently used
    for i in range(expected_shortfall._TAIL_DRAW_RUNS_MAX - 56):
        z2_tail_draws(3, np.arange(20000 + i, 20002 + i), 50, 0.05)
    z2_tail_draws(3, np.arange(21000, 21002), 50, 0.05)  # one past the limit: drops sequences[1], not [0]
    assert z2_tail_draws(3, sequences[0], 50, 0.05) is reused
    assert z2_tail_draws(3, sequences[1], 50, 0.05) is not first[1]
    expected_shortfall._TAIL_DRAW_RUNS.clear()


def test_mcneil_frey_discards_a_replicate_that_draws_one_residual_whatever_its_rounding():
    """A replicate drawing a single residual (here 3 times the third) has a variance of 0 in exact arithmetic; summed
    as a difference of large prefix sums it is a residue of either sign (here +1e-6 on its sum of w r^2, above
    1e-10 of the residuals' variance): it is discarded either way, and the p-value is the other replicate's alone."""
    r = np.array([0.1, 0.5, 1.0, 2.0, 3.0])
    weights = np.array([[0, 1], [0, 1], [3, 0], [0, 2], [0, 1]], dtype=float)  # residuals x replicates
    sums = [np.array([r.size]), np.array([r.sum()]), np.array([(r * r).sum()]), weights.sum(axis=0)[None],
            (weights * r[:, None]).sum(axis=0)[None], (weights * (r * r)[:, None]).sum(axis=0)[None],
            (weights > 0).sum(axis=0)[None]]
    t, exact, _ = expected_shortfall.mcneil_frey_from_sums(*sums)
    sums[5] = sums[5] + np.array([[1e-6, 0.0]])
    _, residue, _ = expected_shortfall.mcneil_frey_from_sums(*sums)
    second = [s[:, 1:] if s.ndim == 2 else s for s in sums]
    _, alone, _ = expected_shortfall.mcneil_frey_from_sums(*second)
    assert residue[0] == exact[0] == alone[0] == 0.5  # (1 + #{t* >= t}) / (1 + 1): the second replicate's t* < t
    assert t[0] == pytest.approx(r.mean() / (r.std(ddof=1) / np.sqrt(5)), rel=1e-12)
