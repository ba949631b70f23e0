"""Scores of VaR/ES forecasts: tick and FZ0 by hand, DM against a plain loop, MCS against arch."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from risk_pipeline.risk.backtests.scoring import (
    NOT_COMPARED_CODES,
    NOT_COMPARED_REASONS,
    McsSettings,
    ScoringInputError,
    bootstrap_counts,
    compare_families,
    compare_methods,
    comparison_columns,
    forecast_score_columns,
    fz0_loss,
    mcs_pvalues,
    newey_west_lag,
    score_forecasts,
    scored_columns,
    stationary_bootstrap_counts,
    stationary_bootstrap_indices,
    tick_loss,
)
from risk_pipeline.risk.backtests.table import realized_observations


def test_tick_loss_by_hand():
    got = tick_loss(np.array([0.03, 0.01, 0.02]), np.array([0.02, 0.02, 0.02]), 0.99)
    np.testing.assert_allclose(got, [0.99 * 0.01, 0.01 * 0.01, 0.0], rtol=1e-12, atol=1e-18)


def test_fz0_by_hand_and_in_the_papers_return_signs():
    # breach: 0.01 / (0.01 * 0.025) + 0.02 / 0.025 + log(0.025) - 1
    assert fz0_loss(0.03, 0.02, 0.025, 0.99) == pytest.approx(40 + 0.8 + math.log(0.025) - 1, rel=1e-12)
    assert fz0_loss(0.01, 0.02, 0.025, 0.99) == pytest.approx(0.8 + math.log(0.025) - 1, rel=1e-12)
    # Patton, Ziegel & Chen (2019) eq. (6) with returns y = -loss, v = -var, e = -es
    rng = np.random.default_rng(0)
    y = rng.standard_t(4, 500) * 0.01
    v, e, a = -0.02, -0.03, 0.025
    paper = -1 / (a * e) * (y <= v) * (v - y) + v / e + np.log(-e) - 1
    np.testing.assert_allclose(fz0_loss(-y, 0.02, 0.03, 1 - a), paper, rtol=1e-12)
    assert np.isnan(fz0_loss(0.01, -0.01, -0.005, 0.95))  # es <= 0: no score


def test_a_portfolio_is_scored_on_fractions_and_an_option_book_on_amounts():
    """Fractions: the scores on (loss, var, es), loss_amount = loss x the value the forecast was scaled by
    (var_amount / var; es_amount / es where var is 0). Amounts: the scores on the amounts, the fractions empty."""
    days = pd.bdate_range("2024-01-01", periods=3)
    value = np.array([100.0, 200.0, 300.0])
    var, es = np.array([0.01, 0.0, 0.02]), np.array([0.015, 0.01, 0.03])
    forecasts = pd.DataFrame({"var": var, "es": es, "var_amount": var * value, "es_amount": es * value}, index=days)
    returns = pd.Series([-0.02, 0.01, -0.03], index=days)
    scores = score_forecasts(returns, forecasts, confidence=0.99, horizon_days=1)
    loss = np.array([0.02, -0.01, 0.03])
    assert list(scores["score_basis"]) == ["fraction"] * 3
    np.testing.assert_allclose(scores["loss"], loss, rtol=1e-12)
    np.testing.assert_allclose(scores["loss_amount"], loss * value, rtol=1e-12)
    np.testing.assert_array_equal(scores[["var_amount", "es_amount"]], forecasts[["var_amount", "es_amount"]])
    np.testing.assert_allclose(scores["tick_loss"], tick_loss(loss, var, 0.99), rtol=1e-12)

    pnl = returns * value
    amounts = forecasts[["var_amount", "es_amount"]].set_axis(["var", "es"], axis=1)
    book = score_forecasts(pnl, amounts, confidence=0.99, horizon_days=1, amounts=True)
    assert list(book["score_basis"]) == ["amount"] * 3 and book[["loss", "var", "es"]].isna().all().all()
    np.testing.assert_allclose(book["loss_amount"], -pnl, rtol=1e-12)
    np.testing.assert_array_equal(book[["var_amount", "es_amount"]], amounts)
    np.testing.assert_allclose(book["tick_loss"], tick_loss(-pnl, var * value, 0.99), rtol=1e-12)
    np.testing.assert_allclose(book["fz0_loss"], fz0_loss(-pnl, var * value, es * value, 0.99), rtol=1e-12)


def test_scores_name_a_bad_confidence():
    with pytest.raises(ScoringInputError, match="confidence"):
        tick_loss(0.1, 0.1, 1.5)
    with pytest.raises(ScoringInputError, match="reps"):
        McsSettings(reps=0)


def test_scores_are_minimized_in_expectation_by_the_true_var_and_es():
    rng = np.random.default_rng(1)
    loss = rng.standard_normal(400_000)
    c = 0.975
    z = norm.ppf(c)
    true_var, true_es = z, norm.pdf(z) / (1 - c)
    best = fz0_loss(loss, true_var, true_es, c).mean()
    for dv, de in ((0.2, 0.0), (-0.2, 0.0), (0.0, 0.3), (0.0, -0.3)):
        assert fz0_loss(loss, true_var + dv, true_es + de, c).mean() > best
    assert tick_loss(loss, true_var, c).mean() < min(tick_loss(loss, true_var + d, c).mean() for d in (-0.2, 0.2))


def _family(n=600, seed=3):
    rng = np.random.default_rng(seed)
    base = rng.normal(-3.3, 0.6, n)
    shock = np.convolve(rng.normal(0, 0.3, n + 5), np.ones(6) / 6, mode="valid")[:n]  # autocorrelated
    fz0 = pd.DataFrame({"a": base, "b": base + 0.05 + shock, "c": base + 0.01 + rng.normal(0, 0.2, n)})
    tick = fz0.abs() / 100
    return fz0, tick


def _plain_dm(d: np.ndarray) -> tuple[float, float, int]:
    n = d.size
    lag = int(math.floor(4 * (n / 100) ** (2 / 9)))
    dbar = sum(d) / n
    v = 0.0
    for k in range(lag + 1):
        g = sum((d[u] - dbar) * (d[u - k] - dbar) for u in range(k, n)) / n
        v += g if k == 0 else 2 * (1 - k / (lag + 1)) * g
    stat = dbar / math.sqrt(v / n)
    return stat, 2 * (1 - norm.cdf(abs(stat))), lag


def test_dm_and_means_equal_a_plain_loop_over_the_window():
    fz0, tick = _family()
    fz0.loc[:40, "c"] = tick.loc[:40, "c"] = np.nan  # c's window fills later: compared over the common days once
    # it has half a window
    fz0.loc[500, "b"] = np.nan  # a forecast (its tick loss) without an FZ0 score (es <= 0, a zero forecast): the
    # windows holding it have no mean FZ0 of b and leave b out
    fz0.loc[495:500, "c"] = tick.loc[495:500, "c"] = np.nan  # days without a forecast of c: its scored run restarts
    end_pos = np.arange(len(fz0)) * 2 + 7  # observation end days (every other trading day)
    as_of_pos = np.array([60, 175, 300, 900, 1007, 1010, 1206])
    out = compare_methods(fz0, tick, end_pos, as_of_pos, np.zeros(as_of_pos.size, bool), (100, 400), McsSettings())
    reasons = set()
    for (a, days), rows in out.groupby(["as_of", "backtest_window_days"]):
        inside = (end_pos <= as_of_pos[a]) & (end_pos > as_of_pos[a] - days)
        window, ticks = fz0[inside], tick[inside]
        undefined = {m: bool((ticks[m].notna() & window[m].isna()).any()) for m in fz0}
        # a plain loop: each method's trailing run of scores, compared when >= 20 and >= half the window
        runs = {m: len(window) - (np.flatnonzero(window[m].isna().to_numpy())[-1] + 1 if window[m].isna().any() else 0)
                for m in fz0}
        compared = [m for m in fz0 if runs[m] >= 20 and 2 * runs[m] >= len(window) and not undefined[m]]
        common = window.iloc[len(window) - min(runs[m] for m in compared):] if compared else window.iloc[:0]
        best = min(compared, key=lambda m: common[m].mean()) if compared else ""
        for row in rows.itertuples():
            assert row.n_obs == ticks[row.method].notna().sum()
            if undefined[row.method]:
                assert np.isnan(row.mean_fz0_loss)
            else:
                assert row.mean_fz0_loss == pytest.approx(window[row.method].mean(), rel=1e-12)
            assert row.mean_tick_loss == pytest.approx(ticks[row.method].mean(), rel=1e-12)
            assert row.compared == (row.method in compared)
            if not row.compared:
                assert np.isnan(row.dm_stat) and row.comparison_obs == 0
                assert row.not_compared_reason == (
                    "undefined_score" if undefined[row.method] else "no_latest_score" if runs[row.method] == 0
                    else "too_few_scores" if runs[row.method] < 20 else "under_half_the_window")
                reasons.add(row.not_compared_reason)
                continue
            assert row.not_compared_reason == "" and row.comparison_obs == len(common) <= len(window)
            assert row.best_method == best  # DM and the differences are over the common days
            if row.method == best:
                assert (row.dm_stat, row.dm_p) == (0.0, 1.0)
                continue
            stat, p, lag = _plain_dm((common[row.method] - common[best]).to_numpy())
            assert row.dm_lag == lag
            assert row.dm_stat == pytest.approx(stat, rel=1e-8)
            assert row.dm_p == pytest.approx(p, rel=1e-8, abs=1e-14)
            assert row.fz0_diff_to_best == pytest.approx(common[row.method].mean() - common[best].mean(), rel=1e-9)
    assert reasons == {"undefined_score", "no_latest_score", "too_few_scores", "under_half_the_window"}
    # a method a few scored days short is compared over the common days, not dropped
    short = out.loc[(out["method"] == "c") & (out["as_of"] == 1) & (out["backtest_window_days"] == 100)].iloc[0]
    assert short["compared"] and short["comparison_obs"] == short["n_obs"] == 44
    assert ((end_pos <= 175) & (end_pos > 75)).sum() == 50  # the window's observations


def test_newey_west_lag_rule():
    np.testing.assert_array_equal(newey_west_lag(np.array([250, 1000, 100, 25])), [4, 6, 4, 2])


@pytest.mark.parametrize("seed", [0, 5])
def test_mcs_equals_arch_on_archs_own_bootstrap_indices(seed):
    arch_bootstrap = pytest.importorskip("arch.bootstrap")
    fz0, _ = _family(n=300, seed=seed)
    losses = np.column_stack([fz0.to_numpy(), fz0["a"].to_numpy() + 0.02 + np.random.default_rng(seed).normal(0, 0.3, 300)])
    mcs = arch_bootstrap.MCS(losses, size=0.1, reps=300, block_size=17, method="R", bootstrap="stationary", seed=seed)
    mcs.compute()
    indices = np.stack(mcs._bootstrap_indices)
    got = mcs_pvalues(losses[None], bootstrap_counts(indices))[0]
    expected = mcs.pvalues["Pvalue"].sort_index().to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert sorted(np.flatnonzero(got > 0.1)) == sorted(mcs.included)


def test_compare_methods_does_not_depend_on_the_memory_layout_of_its_frames():
    """Eight methods: numpy sums a contiguous row of 8 in another order than a strided one, so the
    row means (and the DM statistics) would differ in the last bits between layouts."""
    rng = np.random.default_rng(5)
    fz0 = pd.DataFrame(rng.normal(-3.3, 0.6, (400, 8)), columns=[f"m{i}" for i in range(8)])
    fz0.iloc[:30, 2] = np.nan
    tick = fz0.abs() / 100
    args = (np.arange(400), np.array([250, 399]), np.array([False, True]), (100, 250), McsSettings(reps=50))
    by_row = compare_methods(pd.DataFrame(np.ascontiguousarray(fz0), columns=fz0.columns, copy=False), tick, *args)
    by_column = compare_methods(pd.DataFrame(np.asfortranarray(fz0), columns=fz0.columns, copy=False), tick, *args)
    assert np.asfortranarray(fz0).mean(axis=1).tobytes() != np.ascontiguousarray(fz0).mean(axis=1).tobytes()
    pd.testing.assert_frame_equal(by_row, by_column, check_exact=True)


def test_compare_methods_runs_the_mcs_on_the_window_with_the_pipelines_draws():
    fz0, tick = _family(n=300, seed=9)
    end_pos = np.arange(300)
    settings = McsSettings(size=0.1, reps=200, seed=4)
    out = compare_methods(fz0, tick, end_pos, np.array([299]), np.array([True]), (250,), settings)
    window = fz0.to_numpy()[50:]
    indices = stationary_bootstrap_indices(250, 200, int(np.sqrt(250)), 4)
    expected = mcs_pvalues(window[None], bootstrap_counts(indices))[0]
    np.testing.assert_allclose(out.sort_values("method")["mcs_p"].to_numpy(), expected, atol=1e-12)
    assert out["mcs_computed"].all() and (out["in_mcs"] == (out["mcs_p"] > 0.1)).all()


def test_compare_families_equals_each_family_alone_bit_for_bit():
    """A run compares its families together, their MCS problems stacked by shape (two families of three
    methods, one of eight with gaps, on shared and own window lengths; one as of its own days, a book whose
    series ended before the others' last as-of day): each family's columns are those of comparing it alone,
    to the last bit."""
    as_of_pos, flags, settings = np.array([250, 279, 299]), np.array([True, False, True]), McsSettings(reps=100)
    families = []
    for seed, n in ((9, 300), (10, 300), (11, 280)):
        fz0, tick = _family(n=n, seed=seed)
        families.append((fz0, tick, np.arange(n), as_of_pos, flags))
    rng = np.random.default_rng(12)
    wide = pd.DataFrame(rng.normal(-3.3, 0.6, (300, 8)), columns=[f"m{i}" for i in range(8)])
    wide.iloc[:120, 5] = np.nan  # a method scored on part of the windows: problems of fewer methods
    families.append((wide, wide.abs() / 100, np.arange(300), as_of_pos, flags))
    ended, ended_tick = _family(n=260, seed=13)  # its last day 259: no as-of day after it
    families.append((ended, ended_tick, np.arange(260), np.array([250, 259]), np.array([True, True])))
    together = compare_families(families, (100, 250), settings)
    assert len(together) == len(families)
    assert together[-1].columns["as_of"].max() == 1  # its rows as of its own days
    for family, got in zip(families, together):
        alone = comparison_columns(*family, (100, 250), settings)
        assert list(got.columns) == list(alone.columns) and np.isfinite(got.columns["mcs_p"]).any()
        assert got.strings == alone.strings
        for name in alone.columns:
            assert got.columns[name].tobytes() == alone.columns[name].tobytes()


def test_comparison_strings_are_codes_decoded_alike_in_any_dictionary():
    """The coded columns (method, best_method, not_compared_reason) give the same strings through the family's
    own tuples (frame) and through a run's dictionary holding more strings in another order (coded_in), and
    every reason is among NOT_COMPARED_REASONS."""
    fz0, tick = _family(n=300, seed=21)
    fz0.iloc[:200, 1] = np.nan  # a method scored late: too few scores, then under half the window
    tick.iloc[:200, 1] = np.nan
    fz0.iloc[290, 2] = tick.iloc[290, 2] = np.nan  # no score on some windows' last observation
    fz0.iloc[150, 0] = np.nan  # a forecast without an FZ0 score (ES <= 0) in some windows
    got = comparison_columns(fz0, tick, np.arange(300), np.arange(40, 300), np.zeros(260, bool), (100, 250),
                             McsSettings())
    frame = got.frame()
    assert set(frame["method"]) == set(fz0.columns)
    reasons = set(frame["not_compared_reason"])
    assert reasons == {"", *NOT_COMPARED_REASONS}  # each reason's code decoded
    assert (frame["not_compared_reason"].eq("") == frame["compared"]).all()
    assert set(frame["best_method"]) <= set(fz0.columns) | {""}
    run = {"method": ["zzz", *reversed(fz0.columns)], "best_method": ["", "zzz", *fz0.columns],
           "not_compared_reason": NOT_COMPARED_CODES}
    coded = got.coded_in(run)
    for name, strings in run.items():
        decoded = np.asarray(strings, dtype=object)[coded[name]]
        assert (decoded == frame[name].to_numpy(dtype=object)).all(), name


def test_stationary_bootstrap_blocks_have_the_mean_length():
    idx = stationary_bootstrap_indices(500, 400, 10, 1)
    assert idx.shape == (400, 500) and idx.min() >= 0 and idx.max() < 500
    continues = (np.diff(idx, axis=1) % 500) == 1
    assert 1 - continues.mean() == pytest.approx(0.1, abs=0.01)  # a new block with probability 1/10
    with pytest.raises(ScoringInputError, match="block_size"):
        stationary_bootstrap_indices(10, 5, 0, 1)


@pytest.mark.parametrize("n_obs, reps, block_size, seed", [(1, 3, 1, 0), (7, 50, 3, 2), (25, 300, 5, 11),
                                                          (250, 200, 15, 4), (40, 30, 100, 3), (60, 20, 1, 9)])
def test_bootstrap_counts_from_the_blocks_are_those_of_the_index_paths(n_obs, reps, block_size, seed):
    """The MCS counts are built from each path's blocks (wrapping ones too: a block longer than the rest of
    the sample, block_size above n_obs), not from the paths: the same counts as counting each path's indices."""
    expected = bootstrap_counts(stationary_bootstrap_indices(n_obs, reps, block_size, seed))
    got = stationary_bootstrap_counts(n_obs, reps, block_size, seed)
    np.testing.assert_array_equal(got, expected)
    assert (got.sum(axis=1) == n_obs).all()


def _mcs_plain(losses: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The T_R elimination of one problem step by step, as arch's method "R" describes it: each step's
    maximum over the pairs of the models left, from the bootstrap means recomputed per pair."""
    n, k = losses.shape
    mean = losses.mean(axis=0)
    boot = counts @ losses / n - mean  # (reps, k): recentred bootstrap means
    left, pvalues, running = list(range(k)), np.ones(k), 0.0
    while len(left) > 1:
        pairs = [(i, j) for a, i in enumerate(left) for j in left[a + 1:]]
        scale = {p: np.sqrt(max(((boot[:, p[0]] - boot[:, p[1]]) ** 2).mean(), 1e-12 / n)) for p in pairs}
        stat = {p: (mean[p[0]] - mean[p[1]]) / scale[p] for p in pairs}
        i, j = max(pairs, key=lambda p: abs(stat[p]))
        simulated = np.max([np.abs(boot[:, p[0]] - boot[:, p[1]]) / scale[p] for p in pairs], axis=0)
        step = abs(stat[i, j])
        running = max(running, (step < simulated).mean() if step > 0 else 1.0)
        worse = i if stat[i, j] > 0 else j
        pvalues[worse] = running
        left.remove(worse)
    return pvalues


def test_mcs_of_many_problems_at_once_equals_the_plain_elimination_of_each():
    """Eight models (some with equal losses, some far apart) in 30 problems: the vectorized elimination, whose
    step maxima are running maxima over the models in their order of leaving, gives each problem's p-values."""
    rng = np.random.default_rng(12)
    n = 120
    losses = rng.normal(-3.0, 0.4, (30, n, 8)) + rng.normal(0.0, 0.05, (30, 1, 8))
    losses[:10, :, 5] = losses[:10, :, 2]  # identical losses
    losses[10:20, :, 7] += 0.5  # clearly worse
    losses[20:, :, :4] = losses[20:, :, :1]  # four alike: a step whose T is 0
    counts = bootstrap_counts(stationary_bootstrap_indices(n, 400, int(np.sqrt(n)), 3))
    got = mcs_pvalues(losses, counts)
    expected = np.array([_mcs_plain(problem, counts) for problem in losses])
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert (got == 1.0).any(axis=1).all() and (got[10:20, 7] < 0.1).all()  # a model always left; the worse out


def test_a_constant_difference_is_significant_and_identical_losses_are_not():
    rng = np.random.default_rng(6)
    base = rng.normal(-3.0, 0.5, 200)
    fz0 = pd.DataFrame({"a": base, "b": base + 0.01, "c": base.copy()})
    out = compare_methods(fz0, fz0.abs(), np.arange(200), np.array([199]), np.array([True]), (200,),
                          McsSettings(reps=200)).set_index("method")
    assert out.loc["b", "dm_p"] < 1e-6 and not out.loc["b", "in_mcs"] and out.loc["b", "mcs_p"] == 0.0
    identical = out.loc[["a", "c"]]
    assert set(identical["dm_p"]) == {1.0} and identical["in_mcs"].all()


def test_dm_of_a_window_after_a_huge_loss_equals_the_plain_loop_and_a_run_starting_after_it():
    # an option book's FZ0 loss of 1e10 on an expiry eve: its square (1e20) entered every later prefix sum of
    # cross-products, and a later window's HAC variance (~0.1) as their difference kept no digit
    fz0, tick = _family()
    fz0.loc[100, "b"] = 3e10
    end_pos = np.arange(len(fz0))
    as_of_pos, windows = np.array([560, 599]), (250,)  # windows after the run of `later` begins (row 300)
    args = (np.zeros(as_of_pos.size, bool), windows, McsSettings(reps=50))
    full = compare_methods(fz0, tick, end_pos, as_of_pos, *args)
    later = compare_methods(fz0.iloc[300:], tick.iloc[300:], end_pos[300:], as_of_pos, *args)
    for out in (full, later):
        for row in out.loc[out["method"] != out["best_method"]].itertuples():
            common = fz0.loc[as_of_pos[row.as_of] - 249 : as_of_pos[row.as_of]]
            stat, p, _ = _plain_dm((common[row.method] - common[row.best_method]).to_numpy())
            assert row.dm_stat == pytest.approx(stat, rel=1e-8)
            assert row.dm_p == pytest.approx(p, rel=1e-8, abs=1e-14)
    pd.testing.assert_frame_equal(full, later, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("amounts", [False, True])
def test_the_series_of_a_book_scored_together_equal_each_series_alone_bit_for_bit(amounts):
    """forecast_scores scores a book's series at once (``realized_observations`` of rows with their own
    horizons, ``scored_columns`` with their own confidences): each series' rows are those of
    ``forecast_score_columns`` of that series alone, to the last bit (h-day products and sums of 1 to 10 days,
    a day without a return, forecasts without a VaR, a phase offset; a portfolio's fractions and an option
    book's amounts)."""
    rng = np.random.default_rng(21)
    days = pd.bdate_range("2021-01-01", periods=130)
    daily = rng.normal(0.0, 0.01, days.size) * (1e6 if amounts else 1.0)
    daily[57] = np.nan  # a day without a return: no observation spans it
    returns = pd.Series(daily, index=days)
    offset, series, frames = 3, [], []
    for method in ("historical", "ewma"):
        for confidence in (0.95, 0.99):
            for horizon in (1, 3, 5, 10):
                dates = days[rng.integers(0, 12):125]  # series that start on different days
                var = np.abs(rng.normal(0.02, 0.005, dates.size)) * (1e6 if amounts else 1.0)
                var[rng.random(dates.size) < 0.1] = np.nan
                es = var * 1.3
                value = rng.uniform(50.0, 150.0, dates.size)
                frames.append(pd.DataFrame({"var": var, "es": es, "var_amount": var * value,
                                            "es_amount": es * value}, index=dates))
                series.append((confidence, horizon))
    together_rows = np.concatenate([np.arange(len(f)) for f in frames])
    which = np.repeat(np.arange(len(frames)), [len(f) for f in frames])
    order = rng.permutation(which.size)  # the rows of the book in no particular order
    which, together_rows = which[order], together_rows[order]
    stacked = {c: np.array([frames[w][c].iloc[r] for w, r in zip(which, together_rows)]) for c in frames[0]}
    dates = np.array([frames[w].index[r] for w, r in zip(which, together_rows)], dtype=days.to_numpy().dtype)
    horizons = np.array([series[w][1] for w in which])
    rows, end_pos, loss = realized_observations(days.to_numpy(), daily, dates, stacked["var"], stacked["es"],
                                                horizons, offset, amounts)
    got = scored_columns(days.to_numpy(), dates[rows], end_pos, loss, stacked["var"][rows], stacked["es"][rows],
                         stacked["var_amount"][rows], stacked["es_amount"][rows],
                         np.array([series[w][0] for w in which[rows]]), amounts)
    assert rows.size > 100
    for w, (frame, (confidence, horizon)) in enumerate(zip(frames, series)):
        alone = forecast_score_columns(returns, frame, confidence=confidence, horizon_days=horizon,
                                       day_number_offset=offset, amounts=amounts)
        mine = np.flatnonzero(which[rows] == w)
        mine = mine[np.argsort(got["forecast_date"][mine])]
        for name, column in alone.items():
            assert (got[name][mine] == column).all() if column.dtype == object else \
                got[name][mine].tobytes() == column.tobytes(), name
