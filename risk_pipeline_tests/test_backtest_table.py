"""backtest_table: every row equals the individual tests on the truncated sample; no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from risk_pipeline.risk.backtests import (
    BacktestInputError,
    acerbi_szekely_z2,
    basel_traffic_light,
    christoffersen_independence,
    christoffersen_pelletier_duration,
    conditional_coverage,
    dynamic_quantile,
    kupiec_pof,
    kupiec_tuff,
    mcneil_frey,
)
from risk_pipeline.risk.backtests import table
from risk_pipeline.risk.backtests.table import COLUMNS, _column_sums_before, backtest_observations, backtest_table

N_SIMS = 200


def _history(n=700, conf=0.95, seed=0):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2001-01-02", periods=n)
    r, s2 = np.empty(n), 1e-4
    for t in range(n):
        r[t] = np.sqrt(s2) * rng.standard_t(5) * np.sqrt(3 / 5)
        s2 = 2e-6 + 0.1 * r[t] ** 2 + 0.88 * s2
    returns = pd.Series(r, index=days)
    sigma = returns.rolling(60).std().shift(1).to_numpy() * 0.9  # a little too low: some fails
    z = norm.ppf(conf)
    forecasts = pd.DataFrame({"var": sigma * z, "es": sigma * norm.pdf(z) / (1 - conf)}, index=days)
    return returns, forecasts


def _observations_by_loop(returns, forecasts, h, offset=0):
    days = list(returns.index)
    out = []
    for t, row in forecasts.iterrows():
        if np.isnan(row["var"]):
            continue
        i = days.index(t)
        if (i + offset) % h or i + h > len(days):
            continue
        gross = 1.0
        for j in range(h):
            gross *= 1.0 + returns.iloc[i + j]
        out.append((t, i + h - 1, 1.0 - gross, row["var"], row["es"]))
    return out


def _expected_row(obs, returns, a, window_days, conf, h, seed):
    last = returns.index.searchsorted(a, side="right") - 1
    sel = [o for o in obs if last - window_days < o[1] <= last]
    loss = np.array([o[2] for o in sel])
    var = np.array([o[3] for o in sel])
    es = np.array([o[4] for o in sel])
    keys = np.array([(o[0] - pd.Timestamp("1970-01-01")).days for o in sel], dtype=np.int64)
    hits = loss > var
    tl = basel_traffic_light(int(hits.sum()), hits.size, conf)
    pof, ind, z2 = kupiec_pof(hits, conf), christoffersen_independence(hits), acerbi_szekely_z2(loss, var, es, conf, n_sims=N_SIMS, seed=seed, keys=keys)
    cc, tuff, dur = conditional_coverage(hits, conf), kupiec_tuff(hits, conf), christoffersen_pelletier_duration(hits)
    dq = dynamic_quantile(hits, var, conf, n_lags=4)
    mf = mcneil_frey(loss, var, es, n_boot=N_SIMS, seed=seed, keys=keys)
    if pof.insufficient_data:
        verdict = "insufficient_data"
    else:
        fail = min(pof.p_value, ind.p_value, z2.p_value) < 0.05 or tl.zone == "red"
        verdict = "fail" if fail else "pass"
    return {
        "n_obs": hits.size, "n_breaches": int(hits.sum()), "expected_breaches": pof.expected_breaches,
        "kupiec_lr": pof.statistic, "kupiec_p": pof.p_value,
        "christoffersen_lr": ind.statistic, "christoffersen_p": ind.p_value,
        "n00": ind.n00, "n01": ind.n01, "n10": ind.n10, "n11": ind.n11,
        "cc_lr": cc.statistic, "cc_p": cc.p_value, "tuff_lr": tuff.statistic, "tuff_p": tuff.p_value,
        "duration_lr": dur.statistic, "duration_p": dur.p_value, "dq_stat": dq.statistic, "dq_p": dq.p_value,
        "z2_stat": z2.statistic, "z2_p": z2.p_value, "mcneil_frey_stat": mf.statistic, "mcneil_frey_p": mf.p_value,
        "traffic_light": tl.zone, "plus_factor": tl.plus_factor, "verdict": verdict,
    }  # fmt: skip


@pytest.mark.parametrize(("conf", "h"), [(0.95, 1), (0.99, 1), (0.95, 3)])
def test_rows_equal_individual_tests_on_truncated_samples(conf, h):
    returns, forecasts = _history(conf=conf)
    days = returns.index
    as_of = [days[30], days[100], days[170], days[300], days[420], days[555], days[-1], days[400] + pd.Timedelta(days=1)]
    as_of = [a for a in as_of if a.dayofweek < 5] + [pd.Timestamp("2002-06-01")]  # a Saturday too
    table = backtest_table(returns, forecasts, confidence=conf, horizon_days=h, as_of=as_of, n_sims=N_SIMS, seed=4)
    obs = _observations_by_loop(returns, forecasts, h)
    assert len(table) == 2 * len(as_of)
    for i, a in enumerate(as_of):
        for j, window in enumerate((250, 1000)):
            row = table.iloc[2 * i + j]
            assert row["as_of"] == a and row["backtest_window_days"] == window
            expected = _expected_row(obs, returns, a, window, conf, h, 4)
            for col, value in expected.items():
                if isinstance(value, str):
                    assert row[col] == value, (a, window, col)
                else:
                    assert row[col] == pytest.approx(value, rel=1e-9, abs=1e-10), (a, window, col)
            assert not row["overlapping"]
            assert row["n00"] + row["n01"] + row["n10"] + row["n11"] == max(row["n_obs"] - 1, 0)
    assert set(table["verdict"]) >= {"insufficient_data", "pass"} or set(table["verdict"]) >= {"insufficient_data", "fail"}


def test_no_look_ahead_and_incremental_equals_backfill():
    returns, forecasts = _history()
    days = returns.index
    kwargs = dict(confidence=0.95, horizon_days=2, n_sims=N_SIMS, seed=1)
    full = backtest_table(returns, forecasts, as_of=days, **kwargs)
    cut = 450
    changed_r = returns.copy()
    changed_r.iloc[cut + 1 :] *= -3.0  # the future changes a lot
    changed_f = forecasts.copy()
    changed_f.iloc[cut + 1 :] *= 0.5
    again = backtest_table(changed_r, changed_f, as_of=days[: cut + 1], **kwargs)
    pd.testing.assert_frame_equal(again, full.iloc[: 2 * (cut + 1)].reset_index(drop=True))
    for k in (cut, 612):
        one = backtest_table(returns.iloc[: k + 1], forecasts.iloc[: k + 1], as_of=[days[k]], **kwargs)
        pd.testing.assert_frame_equal(one, full.iloc[2 * k : 2 * k + 2].reset_index(drop=True))


@pytest.mark.parametrize("h", [1, 3])
def test_reading_only_the_last_windows_gives_the_rows_of_the_whole_history(h):
    """What the asset relies on: days before the longest window + h change no row, given the
    trading-day number of the first day read (the phase of the h-day observations)."""
    returns, forecasts = _history()
    days = returns.index
    kwargs = dict(confidence=0.95, horizon_days=h, windows=(100, 250), n_sims=N_SIMS, seed=2)
    as_of = days[-40:]
    whole = backtest_table(returns, forecasts, as_of=as_of, **kwargs)
    first = len(days) - 40 - (250 + h)
    for skipped in (first, first - 1, first - 2):
        cut = backtest_table(returns.iloc[skipped:], forecasts.iloc[skipped:], as_of=as_of,
                             day_number_offset=skipped, **kwargs)
        pd.testing.assert_frame_equal(cut, whole)
    shifted = backtest_table(returns.iloc[first:], forecasts.iloc[first:], as_of=as_of, **kwargs)
    if h > 1 and first % h:  # counting days from the cut instead moves the h-day observations
        assert not shifted.equals(whole)
    obs = _observations_by_loop(returns, forecasts, h)
    last = whole.iloc[-1]
    assert last["n_obs"] == sum(1 for o in obs if len(days) - 1 - 250 < o[1])


def test_horizon_observations_do_not_overlap():
    returns, forecasts = _history()
    table = backtest_table(returns, forecasts, confidence=0.95, horizon_days=5, as_of=[returns.index[-1]], n_sims=50)
    first_forecast = 60  # rolling(60).shift(1) gives the first forecast on day 60
    assert table.loc[0, "n_obs"] == 50  # 250 trading days / 5
    assert table.loc[1, "n_obs"] == (700 - first_forecast) // 5  # 1000 days: the whole history
    assert not table["overlapping"].any()


def test_schema_and_empty_as_of():
    returns, forecasts = _history(n=300)
    table = backtest_table(returns, forecasts, confidence=0.99, horizon_days=1, as_of=returns.index[-3:], n_sims=50)
    assert list(table.columns) == COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(table["as_of"])
    assert table["n_obs"].dtype == np.int64 and table["n_breaches"].dtype == np.int64
    assert table["overlapping"].dtype == bool
    assert table.select_dtypes("number").notna().all().all()
    assert set(table["backtest_window_days"]) == {250, 1000}
    empty = backtest_table(returns, forecasts, confidence=0.99, horizon_days=1, as_of=[], n_sims=50)
    assert list(empty.columns) == COLUMNS and empty.empty
    early = backtest_table(returns, forecasts, confidence=0.99, horizon_days=1, as_of=[returns.index[0]], n_sims=50)
    assert (early["n_obs"] == 0).all() and (early["verdict"] == "insufficient_data").all()
    assert (early["traffic_light"] == "insufficient_data").all() and (early["kupiec_p"] == 1.0).all()


def test_bad_inputs_name_the_problem():
    returns, forecasts = _history(n=200)
    kwargs = dict(confidence=0.99, horizon_days=1, as_of=returns.index[-1:], n_sims=20)
    with pytest.raises(BacktestInputError, match="sorted"):
        backtest_table(returns.iloc[::-1], forecasts, **kwargs)
    half = forecasts.copy()
    half.iloc[150, 1] = np.nan
    with pytest.raises(BacktestInputError, match="both present"):
        backtest_table(returns, half, **kwargs)
    stray = forecasts.copy()
    stray.index = stray.index.where(stray.index != returns.index[120], pd.Timestamp("2001-06-16"))
    with pytest.raises(BacktestInputError, match="2001-06-16"):
        backtest_table(returns, stray.sort_index(), **kwargs)
    inverted = forecasts.copy()
    inverted.iloc[100, 1] = inverted.iloc[100, 0] / 2
    with pytest.raises(BacktestInputError, match="var <= es"):
        backtest_table(returns, inverted, **kwargs)
    with pytest.raises(BacktestInputError, match="horizon_days"):
        backtest_table(returns, forecasts, **{**kwargs, "horizon_days": 0})
    for windows in ([], [250, 250], [0]):
        with pytest.raises(BacktestInputError, match="windows"):
            backtest_table(returns, forecasts, **kwargs, windows=windows)


def test_degenerate_forecasts_from_short_windows_give_finite_rows():
    """ES <= 0 (a window of gains) and ES == VaR (a degenerate tail) must not stop the table; the ES tests of a window
    holding a forecast with ES <= 0 are null (outside their domain), every other number finite."""
    import numpy as np
    import pandas as pd

    from risk_pipeline.risk.backtests.table import backtest_table

    dates = pd.bdate_range("2020-01-01", periods=300)
    rng = np.random.default_rng(3)
    returns = pd.Series(rng.normal(0, 0.01, dates.size), index=dates)
    var = np.full(dates.size, 0.02)
    es = np.full(dates.size, 0.025)
    var[20:30], es[20:30] = -0.004, -0.001  # the window's tail is a gain
    var[100:110], es[100:110] = 0.001, 0.001  # ES == VaR, breached often
    forecasts = pd.DataFrame({"var": var, "es": es}, index=dates)
    table = backtest_table(returns, forecasts, confidence=0.99, horizon_days=1, as_of=dates[-5:], seed=1, n_sims=200)
    es_tests = ["z2_stat", "z2_p", "mcneil_frey_stat", "mcneil_frey_p"]
    numeric = table.select_dtypes("number")
    holding = (table["backtest_window_days"] == 1000).to_numpy()  # the whole 300 days: rows 20-29 in it
    assert np.isfinite(numeric.loc[~holding].to_numpy()).all()  # 250 days as of the last 5: from row 46 on
    assert np.isfinite(numeric.loc[holding].drop(columns=es_tests).to_numpy()).all()
    assert table.loc[holding, es_tests].isna().all().all()
    full = table.loc[table["backtest_window_days"] == 1000]  # longer than the 300 days: the whole sample
    expected = [int((-returns.to_numpy()[: dates.get_loc(d) + 1] > var[: dates.get_loc(d) + 1]).sum()) for d in full["as_of"]]
    assert full["n_breaches"].tolist() == expected


@pytest.mark.parametrize("scale", [1.0, 0.97, 0.93])
def test_z2_normal_limit_of_long_windows_matches_the_simulated_p_value(scale):
    """Beyond Z2_SIMULATED_MAX_OBS observations the table uses the normal limit of the Z2
    simulation; it must agree with the simulated p-value of acerbi_szekely_z2 itself."""
    from scipy.stats import norm as normal

    from risk_pipeline.risk.backtests.table import Z2_SIMULATED_MAX_OBS

    n, conf = 3 * Z2_SIMULATED_MAX_OBS, 0.975
    days = pd.bdate_range("2000-01-03", periods=n)
    rng = np.random.default_rng(11)
    sigma = 0.01 * np.exp(0.3 * np.sin(np.arange(n) / 50.0))
    returns = pd.Series(sigma * rng.standard_normal(n), index=days)
    z = normal.ppf(conf)
    var = scale * sigma * z
    es = scale * sigma * normal.pdf(z) / (1 - conf)
    forecasts = pd.DataFrame({"var": var, "es": es}, index=days)
    table = backtest_table(returns, forecasts, confidence=conf, horizon_days=1, as_of=days[-1:], windows=[n],
                           seed=5, n_sims=200)
    full = table.iloc[0]
    simulated = acerbi_szekely_z2(-returns.to_numpy(), var, es, conf, n_sims=4000, seed=9)
    assert full["n_obs"] == n
    assert full["z2_stat"] == pytest.approx(simulated.statistic, rel=1e-9)
    assert abs(full["z2_p"] - simulated.p_value) < 0.03


def test_sparse_column_sums_equal_the_dense_cumulative_sums_bit_for_bit():
    """``_column_sums_before`` (sums of the sparse entries of the rows before a position, per
    column) equals ``np.cumsum`` down the rows of the dense matrix exactly, for values of mixed
    sign and magnitude (where the order of the additions shows), empty rows and columns."""
    rng = np.random.default_rng(4)
    values = rng.standard_normal((300, 50)) * 10.0 ** rng.integers(-8, 8, (300, 50))
    dense = np.where(rng.random((300, 50)) < 0.2, values, 0.0)
    dense[100:120] = 0.0
    dense[:, 7] = 0.0
    row, col = np.nonzero(dense)  # row-major order
    paths = np.vstack([np.zeros(50), np.cumsum(dense, axis=0)])
    positions = np.array([0, 1, 100, 110, 257, 300])
    sums = _column_sums_before(row, col, dense[row, col], 50, positions)
    np.testing.assert_array_equal(sums, paths[positions])
    assert not np.array_equal(sums[-1], np.cumsum(dense[::-1], axis=0)[-1])  # order-sensitive data: the order is tested


def test_wide_prefix_sums_row_by_row_equal_numpy_cumsum_bit_for_bit():
    """``table._cumsum_rows`` (one row added at a time, the Z2 paths') equals ``np.cumsum`` down the columns
    exactly, on order-sensitive values."""
    rng = np.random.default_rng(5)
    for shape in [(400, 256), (300, 1000), (1, 512), (0, 300)]:
        values = rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 8, shape)
        out = np.empty(shape)
        table._cumsum_rows(values, out)
        np.testing.assert_array_equal(out, np.cumsum(values, axis=0))
        if shape[0] > 1:
            assert not np.array_equal(out[-1], np.cumsum(values[::-1], axis=0)[-1])  # the order shows


@pytest.mark.parametrize("n_boot", [7, 1000])
def test_bootstrap_prefix_sums_kept_at_some_rows_equal_the_whole_prefix_sums_bit_for_bit(n_boot):
    """``table._bootstrap_prefix_at`` (each series' running sums, the weights drawn a block of breaches at a time,
    only the rows asked kept) equals ``np.cumsum`` of each series' whole columns w, w r, w r^2 and w > 0 from a zero
    row, at those rows, exactly: series longer than a block, of one breach, without any, and the rows asked at a
    series' zero row, in it and at its end."""
    rng = np.random.default_rng(8)
    sizes = [700, 1, 0, 3, 2 * table._BOOTSTRAP_BLOCK + 5]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    r = rng.standard_normal(bounds[-1]) * 10.0 ** rng.integers(-6, 6, bounds[-1])
    keys = np.sort(rng.choice(10**6, bounds[-1], replace=False))
    _, _, w, wr, wrr, draws = table._bootstrap_columns(r, keys, 3, n_boot)
    whole = []
    for k, (first, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        series = np.stack([w[first:end], wr[first:end], wrr[first:end], draws[first:end].astype(float)])
        whole.append(np.concatenate([np.zeros((4, 1, n_boot)), np.cumsum(series, axis=1)], axis=1))
    whole = np.concatenate(whole, axis=1)  # series k's prefix rows at [bounds[k] + k, bounds[k + 1] + k]
    every = np.arange(whole.shape[1])
    for at in (every, every[::7], np.array([0, 700, 701, 702, 703, 1000]), np.array([], dtype=int)):
        kept = table._bootstrap_prefix_at(r, keys, bounds, at, 3, n_boot)
        np.testing.assert_array_equal(kept, whole[:, at])
    assert not np.array_equal(whole[1, 700], np.cumsum(wr[:700][::-1], axis=0)[-1])  # the order shows


def test_exceedances_counted_per_row_as_words_equal_count_nonzero():
    """``table._true_per_row`` (eight byte lanes per 64-bit word) counts what ``np.count_nonzero`` counts,
    rows all true (a lane at its largest) and all false included; other widths fall back to numpy's count."""
    rng = np.random.default_rng(6)
    for cols in (8, 1000, 2040, 2048, 1001):
        above = rng.random((67, cols)) < rng.random((67, 1))
        above[0], above[1] = True, False
        np.testing.assert_array_equal(table._true_per_row(above), np.count_nonzero(above, axis=1))


def test_forecast_date_positions_equal_get_indexer():
    """``table.day_positions`` (a binary search) gives ``Index.get_indexer``'s positions, -1 for dates that are
    not days of the returns (before, between and after them), from indexes and from datetime64 arrays."""
    days = pd.bdate_range("2020-01-01", periods=50)
    dates = pd.DatetimeIndex(sorted(set(days[::3]) | {pd.Timestamp("2019-12-31"), pd.Timestamp("2020-01-04"),
                                                      pd.Timestamp("2020-06-01")}))
    np.testing.assert_array_equal(table.day_positions(days, dates), days.get_indexer(dates))
    np.testing.assert_array_equal(table.day_positions(days.to_numpy(), dates.to_numpy()), days.get_indexer(dates))
    assert (table.day_positions(days, dates) == -1).sum() == 3


def test_z2_p_values_of_a_few_windows_equal_those_of_the_dense_paths():
    """A run of a few as-of dates sums the Z2 paths sparsely (``_column_sums_before``); a run of
    many cumulates the dense paths: the p-values must be bit for bit the same, with invalid
    forecasts (ES <= 0) among the rows and 1,000 simulations (one block of rows)."""
    returns, forecasts = _history(n=1200)
    forecasts.iloc[400:410] = [[-0.004, -0.001]] * 10
    days = returns.index
    kwargs = dict(confidence=0.95, horizon_days=1, windows=(250, 1000), n_sims=1000, seed=3)
    dense = backtest_table(returns, forecasts, as_of=days[1100:1130], **kwargs)
    for k in (1100, 1115, 1129):
        few = backtest_table(returns.iloc[: k + 1], forecasts.iloc[: k + 1], as_of=[days[k]], **kwargs)
        rows = dense.iloc[2 * (k - 1100) : 2 * (k - 1100) + 2].reset_index(drop=True)
        np.testing.assert_array_equal(few["z2_p"].to_numpy(), rows["z2_p"].to_numpy())
        pd.testing.assert_frame_equal(few, rows)
    assert dense["z2_p"].nunique() > 10


def test_z2_counts_on_slices_of_the_paths_equal_those_of_gathered_rows(monkeypatch):
    """Windows whose first and last rows advance together are counted on slices of the Z2 paths,
    the others on rows gathered one by one: a table of 2 x 1,400 as-of dates (the growing windows of
    the early days, then runs of the 250- and 1000-day windows, a gap of NaN forecasts cutting them)
    gives the same rows bit for bit when every window is gathered."""
    returns, forecasts = _history(n=1500)
    forecasts.iloc[700:705] = np.nan
    kwargs = dict(confidence=0.95, horizon_days=1, windows=(250, 1000), n_sims=300, seed=5)
    as_of = returns.index[100:]
    on_slices = backtest_table(returns, forecasts, as_of=as_of, **kwargs)
    monkeypatch.setattr(table, "_RUN_MIN_WINDOWS", 10**9)
    gathered = backtest_table(returns, forecasts, as_of=as_of, **kwargs)
    pd.testing.assert_frame_equal(on_slices, gathered, check_exact=True)
    assert on_slices["z2_p"].nunique() > 50


@pytest.mark.parametrize("h", [1, 3])
def test_the_whole_sample_window_is_every_observation_up_to_each_as_of_date(h):
    returns, forecasts = _history(conf=0.99)
    days = returns.index
    as_of = [days[100], days[600], days[-1]]
    table = backtest_table(returns, forecasts, confidence=0.99, horizon_days=h, as_of=as_of, windows=(250,),
                           whole_sample=True, n_sims=N_SIMS, seed=4)
    obs = _observations_by_loop(returns, forecasts, h)
    assert table["whole_sample"].tolist() == [False, True] * len(as_of)
    for i, a in enumerate(as_of):
        row = table.iloc[2 * i + 1]
        position = days.get_loc(a)
        assert row["as_of"] == a and row["backtest_window_days"] == position + 1
        expected = _expected_row(obs, returns, a, position + 1, 0.99, h, 4)  # a trailing window of all the days
        assert row["n_obs"] == len([o for o in obs if o[1] <= position]) == expected["n_obs"]
        for col in ("n_breaches", "kupiec_lr", "kupiec_p", "christoffersen_lr", "n00", "n01", "n10", "n11", "cc_p",
                    "tuff_lr", "duration_lr", "dq_stat", "traffic_light", "verdict"):
            value = expected[col]
            assert row[col] == (value if isinstance(value, str) else pytest.approx(value, rel=1e-9, abs=1e-10)), col
    trailing = backtest_table(returns, forecasts, confidence=0.99, horizon_days=h, as_of=as_of, windows=(250,),
                              n_sims=N_SIMS, seed=4)
    pd.testing.assert_frame_equal(trailing, table.loc[~table["whole_sample"]].reset_index(drop=True))


@pytest.mark.parametrize("horizon", [1, 2])
def test_a_day_without_a_return_or_a_var_is_no_observation(horizon):
    """A book whose value was near zero has no return that day (null simple_return) and no var the day
    after: the forecasts whose h days include the missing return, and those without a var, are left out,
    the others are the observations of the complete series."""
    days = pd.bdate_range("2022-01-03", periods=12)
    r = pd.Series(np.linspace(-0.02, 0.02, 12), index=days)
    forecasts = pd.DataFrame({"var": 0.01, "es": 0.015}, index=days)
    full = backtest_observations(r, forecasts, horizon)
    r.iloc[5] = np.nan
    forecasts.iloc[8] = np.nan
    got = backtest_observations(r, forecasts, horizon)
    covers_5 = (full.end_pos >= 5) & (full.end_pos - horizon + 1 <= 5)
    kept = ~covers_5 & (full.dates != days[8])
    assert kept.sum() < len(full.dates) and list(got.dates) == list(full.dates[kept])
    np.testing.assert_array_equal(got.loss, full.loss[kept])
    r.iloc[5] = np.inf
    with pytest.raises(BacktestInputError, match="not finite"):
        backtest_observations(r, forecasts, horizon)


def test_mcneil_frey_ranges_in_blocks_equal_all_ranges_at_once(monkeypatch):
    """McNeil-Frey's bootstrap of the breach ranges runs a block of ranges at a time: a table of 2 x 1,400
    as-of dates (hundreds of distinct ranges) gives the same rows bit for bit as one block of them all."""
    returns, forecasts = _history(n=1500)
    kwargs = dict(confidence=0.95, horizon_days=1, windows=(250, 1000), n_sims=300, seed=5)
    as_of = returns.index[100:]
    monkeypatch.setattr(table, "_BOOTSTRAP_ROWS", 7)  # blocks of 7 ranges, the last one short
    blocks = backtest_table(returns, forecasts, as_of=as_of, **kwargs)
    monkeypatch.setattr(table, "_BOOTSTRAP_ROWS", 10**9)
    at_once = backtest_table(returns, forecasts, as_of=as_of, **kwargs)
    pd.testing.assert_frame_equal(blocks, at_once, check_exact=True)
    assert blocks["mcneil_frey_p"].nunique() > 50


def _flat_tail_then_breaches(n=600):
    """A series whose day 20 has a tail almost flat (ES - VaR = 1e-12) and a loss of 0.05: a McNeil-Frey residual of
    3e10 (an option book the day before an expiry: ES - VaR of micro-USD against a loss of thousands, docs/methods.md);
    then, in the last 250 days, 12 breaches with residuals -0.9 + 0.2 j, j = 0..11."""
    days = pd.bdate_range("2001-01-02", periods=n)
    returns = pd.Series(0.0, index=days)
    var, es = np.full(n, 0.02), np.full(n, 0.03)
    es[20] = 0.02 + 1e-12
    returns.iloc[20] = -0.05
    breaches = n - 240 + 20 * np.arange(12)
    returns.iloc[breaches] = -(0.021 + 0.002 * np.arange(12))  # losses 0.021..0.043: r = (L - 0.03) / 0.01
    return returns, pd.DataFrame({"var": var, "es": es}, index=days)


def test_mcneil_frey_of_a_window_after_a_huge_residual_is_that_of_the_window_alone():
    """The window's sums are no longer differences of prefix sums holding 9e20 (the square of the earlier residual),
    which kept no digit of its own sum of squares: its statistic is the closed form of its 12 residuals, and its
    statistic and bootstrap p-value are those of mcneil_frey on its observations alone and of a run whose history
    starts after the huge residual (a day re-run alone)."""
    returns, forecasts = _flat_tail_then_breaches()
    kwargs = dict(confidence=0.95, horizon_days=1, windows=(250,), n_sims=N_SIMS, seed=3)
    as_of = returns.index[-1:]
    whole = backtest_table(returns, forecasts, as_of=as_of, **kwargs).iloc[0]
    # r_j = -0.9 + 0.2 j: mean 0.2, sample sd 0.2 sqrt(13), t = mean / (sd / sqrt(12)) = sqrt(12 / 13)
    assert whole["n_breaches"] == 12
    assert whole["mcneil_frey_stat"] == pytest.approx(np.sqrt(12 / 13), rel=1e-12)
    window = slice(len(returns) - 250, None)
    alone = mcneil_frey(-returns.iloc[window].to_numpy(), forecasts["var"].iloc[window], forecasts["es"].iloc[window],
                        n_boot=N_SIMS, seed=3, keys=returns.index[window].to_numpy().astype("datetime64[D]").astype(int))
    assert whole["mcneil_frey_stat"] == pytest.approx(alone.statistic, rel=1e-12)
    assert whole["mcneil_frey_p"] == alone.p_value
    cut = backtest_table(returns.iloc[100:], forecasts.iloc[100:], as_of=as_of, day_number_offset=100, **kwargs).iloc[0]
    assert whole["mcneil_frey_stat"] == pytest.approx(cut["mcneil_frey_stat"], rel=1e-12)
    assert whole["mcneil_frey_p"] == cut["mcneil_frey_p"]


def test_dq_of_a_window_after_a_huge_var_is_that_of_the_window_alone():
    """DQ's X'X holds VaR^2: an option book's VaR in money of 1e8 on one day (and 1 after it) left every later
    window's X'X the difference of two sums of 1e16, which kept about one digit of the window's own. The window
    is now summed over its own rows: its statistic is dynamic_quantile's on its observations alone and that of a
    run whose history starts after the huge VaR (a day re-run alone), to 1e-12."""
    returns, forecasts = _history(n=600)
    forecasts = forecasts * 1.0
    forecasts.iloc[20] = [1e8, 1.5e8]
    kwargs = dict(confidence=0.95, horizon_days=1, windows=(250,), n_sims=N_SIMS, seed=3)
    as_of = returns.index[-1:]
    whole = backtest_table(returns, forecasts, as_of=as_of, **kwargs).iloc[0]
    window = slice(len(returns) - 250, None)
    hits = -returns.iloc[window].to_numpy() > forecasts["var"].iloc[window].to_numpy()
    alone = dynamic_quantile(hits, forecasts["var"].iloc[window].to_numpy(), 0.95, n_lags=4)
    assert 0 < hits.sum() < 250 and alone.statistic > 0
    assert whole["dq_stat"] == pytest.approx(alone.statistic, rel=1e-12)
    cut = backtest_table(returns.iloc[100:], forecasts.iloc[100:], as_of=as_of, day_number_offset=100, **kwargs).iloc[0]
    assert whole["dq_stat"] == pytest.approx(cut["dq_stat"], rel=1e-12)
    assert whole["dq_p"] == pytest.approx(cut["dq_p"], rel=1e-12)


def test_mcneil_frey_windows_of_ordinary_residuals_keep_the_prefix_sums(monkeypatch):
    """Residuals of one size over the whole history (the linear books): no window is summed directly, so the rows
    are those of the prefix sums, bit for bit."""
    returns, forecasts = _history(n=1500)
    kwargs = dict(confidence=0.95, horizon_days=1, windows=(250, 1000), n_sims=N_SIMS, seed=5)
    calls = []
    monkeypatch.setattr(table, "_range_sums", lambda *args: calls.append(args))
    rows = backtest_table(returns, forecasts, as_of=returns.index[100:], **kwargs)
    assert not calls and rows["mcneil_frey_p"].nunique() > 50


def _many_series():
    """Series of different confidences, horizons, phases, actual P&L, amounts and a huge VaR (DQ summed directly)."""
    out = []
    for i, (conf, h) in enumerate([(0.95, 1), (0.99, 1), (0.975, 5), (0.95, 10), (0.99, 2), (0.95, 1)]):
        returns, forecasts = _history(n=600 + 40 * i, conf=conf, seed=i)
        kwargs = dict(confidence=conf, horizon_days=h, day_number_offset=3 * i)
        if i == 2:
            kwargs["actual_returns"] = returns + np.random.default_rng(9).normal(0.0, 2e-3, returns.size)
        if i == 4:
            returns, forecasts, kwargs["amounts"] = returns * 1e6, forecasts * 1e6, True
        if i == 5:
            forecasts = forecasts * 1.0
            forecasts.iloc[100] = [1e8, 1.5e8]
        out.append(table.BacktestSeries(returns, forecasts, as_of=returns.index[-1:], **kwargs))
    # a series without a breach (its var far above every loss), last of the batch as a series may be
    returns, forecasts = _history(n=500, seed=7)
    out.append(table.BacktestSeries(returns, forecasts * 50.0, confidence=0.95, horizon_days=1, as_of=returns.index[-1:]))
    return out


@pytest.mark.parametrize("batch_rows", [1 << 16, 700])
@pytest.mark.parametrize("days", [1, 40])
def test_many_series_at_once_equal_each_alone_bit_for_bit(monkeypatch, batch_rows, days):
    """backtest_columns_of computes the windows of consecutive series together (every float sum over a series' own
    rows, its lags, simulation and bootstrap its own): each series' columns are those of backtest_columns on it
    alone, to the last bit, whether the series share one batch or several."""
    monkeypatch.setattr(table, "_BATCH_ROWS", batch_rows)
    series = [table.BacktestSeries(**{**s.__dict__, "as_of": s.returns.index[-days:]}) for s in _many_series()]
    kwargs = dict(windows=(100, 250), n_sims=N_SIMS, seed=4)
    together = list(table.backtest_columns_of(series, **kwargs))
    assert len(together) == len(series)
    for one, got in zip(series, together):
        alone = table.backtest_columns(one.returns, one.forecasts, confidence=one.confidence,
                                       horizon_days=one.horizon_days, as_of=one.as_of,
                                       day_number_offset=one.day_number_offset, actual_returns=one.actual_returns,
                                       amounts=one.amounts, **kwargs)
        assert list(got) == list(alone) == COLUMNS
        for name in COLUMNS:
            np.testing.assert_array_equal(got[name], alone[name], strict=True)
            if got[name].dtype.kind == "f":
                assert (np.signbit(got[name]) == np.signbit(alone[name])).all()
    assert {s.confidence for s in series} == {0.95, 0.99, 0.975} and not together[-1]["n_breaches"].any()
    assert not (together[2]["n_actual_breaches"] == together[2]["n_breaches"]).all()  # the actual P&L's own
