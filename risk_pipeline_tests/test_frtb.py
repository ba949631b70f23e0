"""The FRTB core (risk_pipeline.risk.frtb) against closed forms, independent loops and scipy."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from risk_pipeline.risk.frtb import (
    CAPITAL_AVERAGE_DAYS, FactorBook, StressSearch, backtest_eligible, book_es, capital_charge, desk_exception_counts,
    exceptions,
    OBSERVATION_DAYS, factor_model_pnl, imcc, imes, liquidity_adjusted_es, pla_zone, plus_factor, plus_factor_zones,
    plus_factors, rolling_ks,
    rolling_spearman,
    trailing_exceptions,
)
from risk_pipeline.risk.var.tail import tail_var_es

RNG = np.random.default_rng(7)


def _book(equity: np.ndarray, exposures: np.ndarray, horizons, fx: np.ndarray | None = None, fx_horizons=None,
          dates=None) -> FactorBook:
    n, p = equity.shape
    dates = dates if dates is not None else pd.bdate_range("2010-01-04", periods=n)
    fx = np.zeros_like(equity) if fx is None else fx
    return FactorBook(
        exposures=pd.DataFrame(np.tile(exposures, (n, 1)), index=dates),
        equity_returns=pd.DataFrame(equity, index=dates),
        fx_returns=pd.DataFrame(fx, index=dates),
        equity_horizon=np.asarray(horizons),
        fx_horizon=np.asarray(fx_horizons if fx_horizons is not None else [10] * p),
        equity_reduced=np.ones(p, bool),
        fx_reduced=np.ones(p, bool),
    )


def _es_10d(daily: np.ndarray) -> float:
    """ES at 97.5% of the losses of the overlapping 10-day compounded returns (loop, tail_var_es)."""
    r10 = np.array([np.prod(1 + daily[k:k + 10]) - 1 for k in range(len(daily) - 9)])
    return float(tail_var_es(-r10, 0.975)[1])


def test_the_cascade_of_a_three_horizon_book_is_sqrt_17_times_one_position():
    # three positions of 1 on the same asset, horizons 10, 20 and 60 days: ES_T(P, j) is the number
    # of positions with LH >= LH_j times the single ES e, so
    # ES^2 = (3e)^2 + (2e)^2 (20-10)/10 + (e)^2 (40-20)/10 + (e)^2 (60-40)/10 + 0 = 17 e^2
    daily = RNG.normal(0, 0.01, 300)
    book = _book(np.column_stack([daily] * 3), np.ones(3), [10, 20, 60])
    day = book.exposures.index[-1]
    row = book_es(book, pd.DatetimeIndex([day])).set_index("risk_class").loc["all"]
    e = _es_10d(daily[-251:-1])  # the 250 returns before the day
    assert row["es_unadjusted"] == pytest.approx(3 * e, rel=1e-12)
    assert row["es_full_current"] == pytest.approx(np.sqrt(17) * e, rel=1e-12)
    assert liquidity_adjusted_es(np.array([3 * e, 2 * e, e, e, 0.0])) == pytest.approx(np.sqrt(17) * e)


def test_es_of_a_mixed_book_matches_a_loop_over_its_positions():
    daily = RNG.normal(0, 0.01, (300, 3))
    exposures = np.array([100.0, -40.0, 70.0])
    book = _book(daily, exposures, [10, 40, 120])
    day = book.exposures.index[-1]
    row = book_es(book, pd.DatetimeIndex([day])).set_index("risk_class").loc["all"]
    window = daily[-251:-1]
    r10 = np.array([np.prod(1 + window[k:k + 10], axis=0) - 1 for k in range(241)])

    def es(mask):
        return float(tail_var_es(-(r10 * mask) @ exposures, 0.975)[1]) if mask.any() else 0.0

    by_horizon = [es(np.array([10, 40, 120]) >= lh) for lh in (10, 20, 40, 60, 120)]
    weights = np.sqrt(np.diff([0, 10, 20, 40, 60, 120]) / 10)
    assert row["es_full_current"] == pytest.approx(np.sqrt(np.sum((np.array(by_horizon) * weights) ** 2)), rel=1e-12)


def test_a_history_shorter_than_one_window_gives_no_es():
    daily = RNG.normal(0, 0.01, (100, 2))
    book = _book(daily, np.array([1.0, 1.0]), [10, 20])
    out = book_es(book, book.exposures.index[-5:], StressSearch(dt.date(2010, 1, 1), None))
    assert len(out) == 15 and out[["es_unadjusted", "es_full_current", "es_reduced_stressed", "imes"]].isna().all().all()
    assert out["stress_start"].isna().all()


@pytest.mark.parametrize("n_days", [1, 9])
def test_a_book_with_fewer_days_than_one_ten_day_scenario_gives_no_es(n_days):
    """A book's first days (its first price: fewer daily returns than the 10 of one scenario) have
    no ES rather than an error."""
    book = _book(RNG.normal(0, 0.01, (n_days, 2)), np.array([1.0, 1.0]), [10, 20])
    out = book_es(book, book.exposures.index[-1:], StressSearch(dt.date(2010, 1, 1), None))
    assert len(out) == 3 and out[["es_unadjusted", "es_full_current", "es_reduced_stressed", "imes"]].isna().all().all()


@pytest.mark.parametrize("seed", range(6))
def test_the_stressed_window_is_the_planted_crisis(seed):
    rng = np.random.default_rng(seed)
    n = 1200
    daily = rng.normal(0.0003, 0.005, n)
    crisis = slice(600, 700)
    daily[crisis] = rng.normal(-0.01, 0.04, 100)
    book = _book(daily[:, None], np.array([1000.0]), [10])
    dates = book.exposures.index
    day = dates[-1]
    search = StressSearch(dates[100].date(), None)
    out = book_es(book, pd.DatetimeIndex([day]), search).iloc[0]
    start, end = dates.get_loc(out["stress_start"]), dates.get_loc(out["stress_end"])
    assert end - start == 249 and start >= 100
    r10 = np.array([np.prod(1 + daily[k:k + 10]) - 1 for k in range(n - 9)])
    worst = int(np.argmin(r10))
    assert 590 <= worst < 700 and start <= worst and worst + 9 <= end  # it holds the crisis's worst 10 days
    stressed = 1000 * _es_10d(daily[start:end + 1])
    assert out["es_reduced_stressed"] == pytest.approx(stressed, rel=1e-12)
    # it is the largest over every candidate window (brute force, every 25th start)
    q_first = dates.get_loc(dates[dates.to_period("Q") == day.to_period("Q")][0])
    best = max(1000 * _es_10d(daily[s:s + 250]) for s in range(100, q_first - 250 + 1, 25))
    assert stressed >= best * (1 - 1e-12)  # (equal when the brute force hits the chosen start)
    assert out["imes"] == pytest.approx(stressed)  # reduced set = full set: ratio 1
    assert out["es_reduced_current"] == pytest.approx(out["es_full_current"])
    # a search range that ends before the crisis cannot choose it
    early = book_es(book, pd.DatetimeIndex([day]), StressSearch(dates[100].date(), dates[590].date())).iloc[0]
    assert early["stress_end"] <= dates[590]


def test_imes_scales_the_stressed_es_by_the_full_to_reduced_ratio():
    daily = RNG.normal(0, 0.01, (400, 2))
    book = _book(daily, np.array([50.0, 50.0]), [10, 10])
    reduced = FactorBook(**{**book.__dict__, "equity_reduced": np.array([True, False])})
    day = pd.DatetimeIndex([book.exposures.index[-1]])
    search = StressSearch(book.exposures.index[0].date(), None)
    full, red = book_es(book, day, search).iloc[0], book_es(reduced, day, search).iloc[0]
    assert red["es_full_current"] == pytest.approx(full["es_full_current"])
    assert red["es_reduced_current"] == pytest.approx(50 * _es_10d(daily[-251:-1, 0]), rel=1e-12)
    assert red["imes"] == pytest.approx(red["es_reduced_stressed"] * red["es_full_current"] / red["es_reduced_current"])
    assert imes(np.array([2.0]), np.array([3.0]), np.array([1.5]))[0] == pytest.approx(4.0)


def test_imes_floors_the_full_to_reduced_ratio_at_one_when_the_reduced_set_leaves_a_hedge_out():
    # asset 1 hedges asset 0 (r1 = -0.9 r0 + small noise); the reduced set keeps asset 0 only, so
    # its current ES (the unhedged leg) exceeds the full set's: ES_FC / ES_RC < 1, and MAR33.5
    # floors the ratio at 1: IMES = ES_RS, the stressed ES of the reduced set (50 x asset 0's)
    rng = np.random.default_rng(3)
    r0 = rng.normal(0, 0.01, 400)
    daily = np.column_stack([r0, -0.9 * r0 + rng.normal(0, 0.001, 400)])
    book = _book(daily, np.array([50.0, 50.0]), [10, 10])
    reduced = FactorBook(**{**book.__dict__, "equity_reduced": np.array([True, False])})
    day = pd.DatetimeIndex([book.exposures.index[-1]])
    row = book_es(reduced, day, StressSearch(book.exposures.index[0].date(), None)).iloc[0]
    assert row["es_reduced_current"] == pytest.approx(50 * _es_10d(daily[-251:-1, 0]), rel=1e-12)
    assert row["es_full_current"] < 0.5 * row["es_reduced_current"]  # the floor binds
    start = book.exposures.index.get_loc(row["stress_start"])
    assert row["es_reduced_stressed"] == pytest.approx(50 * _es_10d(daily[start:start + 250, 0]), rel=1e-12)
    assert row["imes"] == pytest.approx(row["es_reduced_stressed"], rel=1e-15)  # unfloored: x ES_FC/ES_RC < 0.5
    assert imes(np.array([2.0]), np.array([1.0]), np.array([1.5]))[0] == 2.0
    assert np.isnan(imes(np.array([2.0]), np.array([np.nan]), np.array([1.5]))[0])


def test_imcc_with_rho_on_equity_and_fx_classes():
    # one foreign stock: its price (equity class) and its currency (fx class)
    n = 400
    equity, fx = RNG.normal(0, 0.012, (n, 1)), RNG.normal(0, 0.006, (n, 1))
    book = _book(equity, np.array([1000.0]), [10], fx=fx, fx_horizons=[10])
    day = pd.DatetimeIndex([book.exposures.index[-1]])
    rows = book_es(book, day, StressSearch(book.exposures.index[0].date(), None)).set_index("risk_class")
    assert rows.loc["equity", "es_full_current"] == pytest.approx(1000 * _es_10d(equity[-251:-1, 0]), rel=1e-12)
    assert rows.loc["fx", "es_full_current"] == pytest.approx(1000 * _es_10d(fx[-251:-1, 0]), rel=1e-12)
    both = (1 + equity[-251:-1, 0]) * (1 + fx[-251:-1, 0]) - 1
    assert rows.loc["all", "es_full_current"] == pytest.approx(1000 * _es_10d(both), rel=1e-12)
    total = imcc(rows.loc["all", "imes"], rows.loc[["equity", "fx"], "imes"].to_numpy(), 0.5)
    assert total == pytest.approx(0.5 * rows.loc["all", "imes"] + 0.5 * rows.loc[["equity", "fx"], "imes"].sum())
    assert imcc(10.0, np.array([6.0, 8.0]), 0.5) == pytest.approx(12.0)
    assert imcc(10.0, np.array([6.0, 8.0]), 1.0) == pytest.approx(10.0)
    assert imcc(10.0, np.array([6.0, 8.0]), 0.0) == pytest.approx(14.0)
    with pytest.raises(ValueError, match="rho"):
        imcc(10.0, np.array([6.0]), 1.5)


@pytest.mark.parametrize("k, zone, plus", [
    (0, "green", 0.0), (4, "green", 0.0), (5, "amber", 0.20), (6, "amber", 0.26), (7, "amber", 0.33),
    (8, "amber", 0.38), (9, "amber", 0.42), (10, "red", 0.50), (30, "red", 0.50),
])
def test_the_plus_factor_table_at_each_zone_boundary(k, zone, plus):
    result = plus_factor(k)
    assert (result.zone, result.plus_factor) == (zone, plus)


def test_the_plus_factors_of_a_series_are_each_day_s_plus_factor_and_nan_where_the_count_is_unknown():
    counts = np.array([np.nan, 0.0, 5.0, 12.0, 5.0, 9.0, np.nan, 0.0])
    got = plus_factors(counts)
    assert np.isnan(got[[0, 6]]).all()
    assert got[[1, 2, 3, 4, 5, 7]].tolist() == [plus_factor(int(k)).plus_factor for k in counts[[1, 2, 3, 4, 5, 7]]]
    assert plus_factors(np.array([])).shape == (0,) and np.isnan(plus_factors(np.full(3, np.nan))).all()


def test_the_zones_of_a_series_are_each_day_s_plus_factor_zone_and_none_where_the_count_is_unknown():
    counts = np.array([np.nan, 0.0, 5.0, 12.0, 5.0, 9.0, np.nan, 10.0])
    got = plus_factor_zones(counts)
    assert got.dtype == object and got[0] is None and got[6] is None
    assert got[[1, 2, 3, 4, 5, 7]].tolist() == [plus_factor(int(k)).zone for k in counts[[1, 2, 3, 4, 5, 7]]]
    assert got[[1, 2, 3, 7]].tolist() == ["green", "amber", "red", "red"]
    assert plus_factor_zones(np.array([])).shape == (0,)


def test_the_capital_charge_switches_between_spot_and_the_60_day_term():
    imcc_series = np.full(80, 100.0)
    imcc_series[-1] = 200.0  # a jump: spot 200 > 1.5 x average (about 101.7)
    average, charge = capital_charge(imcc_series, np.full(80, 1.5))
    assert np.isnan(charge[:CAPITAL_AVERAGE_DAYS - 1]).all()
    assert charge[70] == pytest.approx(150.0)  # the average term binds: 1.5 x 100
    assert average[-1] == pytest.approx((59 * 100 + 200) / 60)
    assert charge[-1] == pytest.approx(200.0)  # the spot binds
    _, with_plus = capital_charge(imcc_series, np.full(80, 1.5 + 0.5))
    assert with_plus[-1] == pytest.approx(2.0 * (59 * 100 + 200) / 60)  # red zone: the average binds again


def test_spearman_and_ks_match_scipy_on_every_window():
    n, w = 320, 250
    hpl = RNG.standard_t(4, n)
    rtpl = 0.8 * hpl + RNG.normal(0, 0.5, n)
    rtpl[10] = hpl[10]  # a tie across samples
    spearman, ks = rolling_spearman(hpl, rtpl, w), rolling_ks(hpl, rtpl, w)
    assert np.isnan(spearman[:w - 1]).all() and np.isnan(ks[:w - 1]).all()
    for t in range(w - 1, n, 7):
        a, b = hpl[t - w + 1:t + 1], rtpl[t - w + 1:t + 1]
        assert spearman[t] == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
        assert ks[t] == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


@pytest.mark.parametrize("w", [5, 60, 250])
def test_ks_is_scipy_s_statistic_to_the_last_bit_with_ties_and_gaps(w):
    """rolling_ks computes every window's statistic at once; it is scipy's ks_2samp statistic bit for bit, ties
    within and across the samples (days of zero P&L, P&L rounded to cents) and windows holding a NaN included."""
    n = w + 400
    hpl = np.round(RNG.standard_t(4, n) * 100) / 100
    rtpl = np.round((0.8 * hpl + RNG.normal(0, 0.5, n)) * 100) / 100
    hpl[::9], rtpl[::13] = 0.0, 0.0
    rtpl[::17] = hpl[::17]
    hpl[w + 30] = np.nan
    ks = rolling_ks(hpl, rtpl, w)
    for t in range(n):
        a, b = hpl[max(t - w + 1, 0):t + 1], rtpl[max(t - w + 1, 0):t + 1]
        expected = stats.ks_2samp(a, b).statistic if t >= w - 1 and not np.isnan(a).any() else np.nan
        assert ks[t] == expected or np.isnan(ks[t]) and np.isnan(expected), t


def test_pla_zones_follow_the_thresholds():
    s = np.array([0.85, 0.85, 0.75, 0.69, 0.85, 0.85, np.nan])
    k = np.array([0.05, 0.10, 0.05, 0.05, 0.13, 0.09, 0.05])
    assert list(pla_zone(s, k)) == ["green", "amber", "amber", "red", "red", "amber", None]


def test_the_factor_model_pnl_uses_betas_known_at_t_minus_one():
    n, w = 300, 100
    dates = pd.bdate_range("2015-01-01", periods=n)
    f = pd.DataFrame(RNG.normal(0, 0.01, (n, 2)), index=dates, columns=["a", "b"])
    y = 0.5 * f["a"] + 1.5 * f["b"] + RNG.normal(0, 0.002, n)
    values = pd.Series(1000.0, index=dates)
    rtpl = factor_model_pnl(y, values, f, w)
    assert rtpl.iloc[:w].isna().all()
    t = 250
    x = np.column_stack([np.ones(w), f.iloc[t - w:t]])
    coef = np.linalg.lstsq(x, y.iloc[t - w:t], rcond=None)[0]
    assert rtpl.iloc[t] == pytest.approx(1000 * f.iloc[t].to_numpy() @ coef[1:], rel=1e-10)
    y2 = y.copy()
    y2.iloc[t] += 1.0  # the day's own return does not enter its betas
    assert factor_model_pnl(y2, values, f, w).iloc[t] == pytest.approx(rtpl.iloc[t], rel=1e-12)


def test_desk_exceptions_and_eligibility_limits():
    hits = exceptions(np.array([1.0, 3.0, np.nan, 2.0]), np.array([2.0, 2.0, 1.0, 2.0]))
    assert list(hits[[0, 1, 3]]) == [0.0, 1.0, 0.0] and np.isnan(hits[2])
    counts = trailing_exceptions(np.r_[np.ones(12), np.zeros(250), np.ones(1)])
    assert np.isnan(counts[:249]).all() and counts[249] == 12 and counts[261] == 0 and counts[262] == 1
    assert list(backtest_eligible(np.array([12, 13, 12, np.nan]), np.array([30, 30, 31, 0]))) == [True, False, False, False]


def test_the_desk_count_is_the_greater_of_the_actual_and_hypothetical_counts_not_their_union():
    var = np.full(8, 1.0)
    hypothetical = np.array([2.0, 2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0])  # exceptions on rows 0, 1, 5
    actual = np.array([0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 2.0, 0.0])  # rows 2, 4, 5, 6 (trades lost on 2, 4, 6)
    counts = desk_exception_counts(hypothetical, var, actual, window=4)
    # windows ending at rows 3..7: hypothetical 2, 1, 1, 1, 1; actual 1, 2, 3, 3, 3 (union 3, 3, 3, 3, 3)
    np.testing.assert_array_equal(counts, [np.nan, np.nan, np.nan, 2.0, 2.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(desk_exception_counts(hypothetical, var, window=4), [np.nan] * 3 + [2, 1, 1, 1, 1])
    actual[6] = np.nan  # an unknown actual P&L leaves the count unknown
    assert np.isnan(desk_exception_counts(hypothetical, var, actual, window=4)[6:]).all()


def test_quarter_starts_are_the_first_row_of_each_calendar_quarter():
    """book_es selects a stressed window per quarter from the positions of its first trading day:
    the row of that day for every row (dates in any order, quarters spanning years), checked
    against a loop over the rows."""
    from risk_pipeline.risk.frtb.expected_shortfall import _quarter_starts

    dates = pd.DatetimeIndex(np.random.default_rng(3).permutation(pd.bdate_range("2021-11-15", "2023-02-10")))
    expected = [min(j for j, other in enumerate(dates) if (other.year, (other.month - 1) // 3) == (d.year, (d.month - 1) // 3))
                for d in dates]
    got = _quarter_starts(dates)
    assert got.tolist() == expected and got.dtype == np.int64
    assert _quarter_starts(dates[:0]).tolist() == []


def test_the_es_of_each_window_reads_its_losses_sorted_as_far_as_it_needs():
    """A window's ES at 97.5% sorts only the tail of its losses (sort_tail): the ES of a full ascending sort to the
    last bit, ties at the quantile included, and NaN for a row with a missing loss."""
    from risk_pipeline.risk.frtb.expected_shortfall import ES_CONFIDENCE, _es_of_rows
    from risk_pipeline.risk.var.sorted_tail import sorted_tail_var_es

    rng = np.random.default_rng(8)
    losses = np.round(rng.normal(size=(400, 241)), 1)  # many ties
    losses[5, 3] = np.nan
    kept = losses.copy()
    got = _es_of_rows(losses)
    full = sorted_tail_var_es(np.sort(np.delete(losses, 5, axis=0), axis=1), (ES_CONFIDENCE,))[1][:, 0]
    assert np.isnan(got[5]) and np.array_equal(np.delete(got, 5), full)
    assert np.array_equal(losses, kept, equal_nan=True)  # the caller's losses untouched


def test_a_desks_local_returns_are_the_pivot_of_the_long_rows_in_its_layout():
    """frtb_books._local_returns fills the desk's returns by position: the frame of pandas' pivot and reindex,
    and a row-major array as the pivot's (the ES core's products sum in the order of the layout, so another
    layout moves the stored ES in the last bits)."""
    from risk_pipeline.frtb_books import _local_returns

    rng = np.random.default_rng(3)
    days = pd.bdate_range("2022-01-03", periods=30)
    cells = [(d, s) for d in days for s in ("A", "B", "C") if rng.random() < 0.8]
    order = rng.permutation(len(cells))
    returns = pd.DataFrame({"date": [cells[i][0] for i in order], "symbol": [cells[i][1] for i in order],
                            "simple_return": rng.normal(size=len(cells))})
    dates = pd.DatetimeIndex(days[2:], name="date").append(pd.DatetimeIndex(["2022-03-01"], name="date"))
    for symbols in (["C", "A"], ["A", "B", "C", "Z"], ["Z"]):
        pivot = returns.pivot(index="date", columns="symbol", values="simple_return").reindex(index=dates, columns=symbols)
        local = _local_returns(returns, symbols, dates)
        pd.testing.assert_frame_equal(local, pivot, check_exact=True)
        assert local.to_numpy().flags["C_CONTIGUOUS"] == pivot.to_numpy().flags["C_CONTIGUOUS"]


def test_a_stored_stressed_window_on_the_rows_it_reads_gives_the_selections_bits():
    """book_es with the quarter's stressed window given (``stress_start``, as stored for an earlier day of the
    quarter) on a book holding only that window and the days' current window, each with the day before, gives
    the rows of the selection on the whole history, bit for bit; NaT (no window) gives no stressed ES."""
    rng = np.random.default_rng(5)
    n = 1300
    equity = rng.normal(0.0003, 0.01, (n, 2))
    equity[500:620] = rng.normal(-0.004, 0.035, (120, 2))
    fx = np.column_stack([np.zeros(n), rng.normal(0.0, 0.006, n)])
    book = _book(equity, np.array([1000.0, -400.0]), [10, 20], fx=fx, fx_horizons=[10, 20])
    book = FactorBook(**{**book.__dict__, "exposures": book.exposures * rng.uniform(0.5, 1.5, (n, 1))})
    dates = book.exposures.index
    days = pd.DatetimeIndex(dates[[-3, -1]])  # two days of the last quarter, after its first
    search = StressSearch(dates[50].date(), None)
    selected = book_es(book, days, search)
    first = selected["stress_start"].iloc[0]
    start = dates.get_loc(first)
    kept = np.r_[start - 1:start + OBSERVATION_DAYS, n - 3 - OBSERVATION_DAYS - 1:n]  # each with the day before
    gapped = FactorBook(**{**book.__dict__, **{name: getattr(book, name).iloc[kept] for name in
                                                ("exposures", "equity_returns", "fx_returns")}})
    given = book_es(gapped, days, search, stress_start=first)
    pd.testing.assert_frame_equal(given, selected, check_exact=True)
    assert np.isfinite(given["es_reduced_stressed"]).all()
    none = book_es(gapped, days, search, stress_start=pd.NaT)
    assert none["stress_start"].isna().all() and none["es_reduced_stressed"].isna().all()
    pd.testing.assert_frame_equal(none.drop(columns=["es_reduced_stressed", "imes", "stress_start", "stress_end"]),
                                  selected.drop(columns=["es_reduced_stressed", "imes", "stress_start", "stress_end"]),
                                  check_exact=True)
