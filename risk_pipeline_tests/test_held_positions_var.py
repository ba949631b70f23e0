"""VaR/ES of the positions held (risk.var.held_positions): a constant-weight book gives the numbers
of its own return series for every method; a book whose positions change gives what a plain
per-day recomputation gives; a hedged book is scaled by its gross exposure."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from risk_pipeline.risk import rolling_var_es, var_es_grid
from risk_pipeline.risk.portfolio import pnl_from_exposures
from risk_pipeline.risk.var.held_positions import MIN_NET_SHARE, WINDOW_METHODS, held_var_es_grid

CONFIDENCES = (0.95, 0.975, 0.99)
HORIZONS = (1, 3, 10)
PARAMS = {"parametric_t": [{}, {"dof": "mle"}], "filtered_historical": [{}, {"filter": "garch"}],
          "conditional_evt": [{}, {"filter": "garch"}]}


def _returns(n_days: int, symbols: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2001-01-02", periods=n_days)
    return pd.DataFrame(rng.standard_t(4, (n_days, len(symbols))) * 0.01, index=index, columns=symbols)


def _window(method: str) -> int:
    return 160 if method == "conditional_evt" else 60


@pytest.mark.parametrize("method", sorted(WINDOW_METHODS))
def test_constant_weight_book_gives_its_return_series_numbers(method):
    symbols = ["A", "B", "C", "D", "E"]
    returns = _returns(400, symbols, seed=3)
    weights = np.array([0.4, 0.3, -0.1, 0.25, 0.15])
    notional = 2.5e6
    exposures = pd.DataFrame(np.tile(weights * notional, (len(returns), 1)), index=returns.index, columns=symbols)
    values = pd.Series(notional, index=returns.index)
    series = pnl_from_exposures(exposures, values, returns).set_index("date")["simple_return"]
    for params in PARAMS.get(method, [{}]):
        window = _window(method)
        expected = var_es_grid(series, method=method, confidences=CONFIDENCES, horizons=HORIZONS, window=window,
                               **params)
        # forecast day t holds the exposures of the close of t-1: constant here
        held = held_var_es_grid(exposures.loc[series.index], values.loc[series.index], returns.loc[series.index],
                                method=method, confidences=CONFIDENCES, horizons=HORIZONS, window=window, **params)
        assert len(held) == len(expected) > 0
        assert (held["date"].to_numpy() == expected["date"].to_numpy()).all()
        for column in ("var", "es"):
            np.testing.assert_allclose(held[column], expected[column], rtol=0, atol=1e-12)
        np.testing.assert_allclose(held["var_amount"], expected["var"] * notional, rtol=1e-15)


def _changing_book(n_days: int = 260):
    symbols = ["X", "Y", "Z"]
    returns = _returns(n_days, symbols, seed=11)
    prices = 100.0 * (1.0 + returns).cumprod()
    rng = np.random.default_rng(5)
    quantities = pd.DataFrame(rng.integers(0, 50, (n_days, 3)).astype(float), index=returns.index, columns=symbols)
    quantities.iloc[::7, 1] = 0.0  # some days without Y
    close_values = quantities * prices  # value of each position at each close
    return returns, close_values


@pytest.mark.parametrize("method", sorted(WINDOW_METHODS))
def test_changing_positions_match_a_plain_per_day_recomputation(method):
    returns, close_values = _changing_book()
    window = 150 if method == "conditional_evt" else 40
    exposures = close_values.shift(1).iloc[1:]  # forecast day t: positions of the close of t-1
    values = exposures.sum(axis=1)
    held = held_var_es_grid(exposures, values, returns, method=method, confidences=(0.95, 0.99), horizons=(1, 5),
                            window=window).set_index(["date", "confidence", "horizon_days"])
    r = returns.to_numpy()
    checked = 0
    for t in range(window, len(returns)):
        day = returns.index[t]
        v_prev = [float(close_values.iloc[t - 1, i]) for i in range(3)]
        pnl = [sum(v_prev[i] * r[s, i] for i in range(3)) for s in range(t - window, t)]
        x = np.array(pnl) / sum(v_prev)
        for confidence in (0.95, 0.99):
            for horizon in (1, 5):
                # the 1-D rolling path on this day's own series (the row after the window is its forecast)
                one = rolling_var_es(pd.Series(np.append(x, 0.0), index=returns.index[t - window:t + 1]), method=method,
                                     confidence=confidence, window=window, horizon_days=horizon).iloc[-1]
                row = held.loc[(day, confidence, horizon)]
                assert row["var"] == pytest.approx(one["var"], abs=1e-12)
                assert row["es"] == pytest.approx(one["es"], abs=1e-12)
                assert row["var_amount"] == pytest.approx(one["var"] * sum(v_prev), rel=1e-12)
                checked += 1
        if method == "historical":  # closed form: the empirical quantile of the revalued losses
            assert held.loc[(day, 0.99, 1), "var"] == pytest.approx(np.quantile(-x, 0.99), abs=1e-15)
        if method == "parametric_normal":
            expected = -x.mean() + x.std(ddof=1) * stats.norm.ppf(0.99)
            assert held.loc[(day, 0.99, 1), "var"] == pytest.approx(expected, abs=1e-14)
    assert checked == len(held)


def test_changing_positions_differ_from_the_books_own_return_series():
    returns, close_values = _changing_book()
    exposures = close_values.shift(1).iloc[1:]
    values = exposures.sum(axis=1)
    own = pnl_from_exposures(close_values, close_values.sum(axis=1), returns).set_index("date")["simple_return"]
    held = held_var_es_grid(exposures, values, returns, method="historical", confidences=(0.99,), horizons=(1,), window=40)
    realized = var_es_grid(own, method="historical", confidences=(0.99,), horizons=(1,), window=40)
    merged = held.merge(realized, on=["date", "confidence", "horizon_days"], suffixes=("", "_own"))
    assert (merged["var"] - merged["var_own"]).abs().max() > 1e-3


def test_a_hedged_book_is_scaled_by_its_gross_exposure_and_has_amounts_only():
    returns = _returns(120, ["L", "S"], seed=2)
    exposures = pd.DataFrame({"L": 1.0e6, "S": -0.99e6}, index=returns.index)  # value 1% of the gross 1.99e6
    values = exposures.sum(axis=1)
    assert (values < MIN_NET_SHARE * exposures.abs().sum(axis=1)).all()
    held = held_var_es_grid(exposures, values, returns, method="historical", confidences=(0.99,), horizons=(1,),
                            window=50)
    assert held["var"].isna().all() and held["es"].isna().all()
    r = returns.to_numpy()
    for k, t in enumerate(range(50, 120)):
        pnl = r[t - 50:t] @ np.array([1.0e6, -0.99e6])
        assert held["var_amount"].iloc[k] == pytest.approx(np.quantile(-pnl, 0.99), rel=1e-12)


def test_a_held_instrument_without_a_return_in_the_window_gives_no_row_and_one_not_held_does_not_matter():
    returns = _returns(100, ["A", "B"], seed=4)
    returns.iloc[30, 1] = np.nan
    held_b = pd.DataFrame({"A": 1.0, "B": 1.0}, index=returns.index)
    no_b = pd.DataFrame({"A": 1.0, "B": 0.0}, index=returns.index)
    with_b = held_var_es_grid(held_b, held_b.sum(axis=1), returns, method="historical", confidences=(0.99,),
                              horizons=(1,), window=20)
    without_b = held_var_es_grid(no_b, no_b.sum(axis=1), returns, method="historical", confidences=(0.99,),
                                 horizons=(1,), window=20)
    gap = set(returns.index[31:51])  # the days whose window holds row 30
    assert not gap & set(with_b["date"]) and gap <= set(without_b["date"])
    assert len(with_b) == 80 - len(gap)
    assert len(without_b) == 80  # every day from the first full window on: no history of the book needed


def test_days_holding_the_same_exposures_share_one_series_with_the_same_bits():
    """The shared series of a constant book (one revaluation read through trailing windows) and the
    per-day revaluation of a book whose last day differs give the same numbers on the common days."""
    returns = _returns(150, ["A", "B", "C"], seed=8)
    exposures = pd.DataFrame(np.tile([3.0e5, -1.0e5, 8.0e5], (150, 1)), index=returns.index, columns=returns.columns)
    changed = exposures.copy()
    changed.iloc[-1] = [1.0e5, 1.0e5, 1.0e5]
    for method in ("historical", "ewma", "conditional_evt"):
        kwargs = dict(method=method, confidences=(0.99,), horizons=(1, 3), window=100 if method == "conditional_evt" else 30)
        shared = held_var_es_grid(exposures, exposures.sum(axis=1), returns, **kwargs)
        per_day = held_var_es_grid(changed, changed.sum(axis=1), returns, **kwargs)
        common = per_day["date"] < returns.index[-1]
        assert common.sum() == len(shared) - 2 > 0
        pd.testing.assert_frame_equal(per_day.loc[common], shared.iloc[:-2], check_exact=True)
