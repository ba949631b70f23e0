"""Tests of risk_pipeline.risk.attribution (Euler VaR/ES allocation, rolling Ledoit-Wolf)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.covariance import ledoit_wolf as sk_ledoit_wolf

from risk_pipeline.risk.attribution import (
    DECOMPOSITION_COLUMNS,
    AttributionInputError,
    component_es,
    ledoit_wolf_var_decomposition,
    rolling_var_decomposition,
    var_decomposition,
)
from risk_pipeline.risk.var.covariance import ledoit_wolf

SYMBOLS = ("A", "B", "C", "D", "E")


def _returns(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """Correlated fat-tailed daily returns (one-factor model with t innovations)."""
    rng = np.random.default_rng(seed)
    market = 0.01 * rng.standard_t(4, size=n)
    betas = np.array([0.8, 1.2, 1.0, 0.5, 1.5])
    idio = 0.012 * rng.standard_t(5, size=(n, len(SYMBOLS)))
    dates = pd.bdate_range("2010-01-04", periods=n)
    return pd.DataFrame(market[:, None] * betas + idio, index=dates, columns=list(SYMBOLS))


def _var(cov: np.ndarray, w: np.ndarray, c: float) -> float:
    return float(norm.ppf(c) * np.sqrt(w @ cov @ w))


def test_ledoit_wolf_matches_scikit_learn():
    """risk.var.covariance.ledoit_wolf is the estimator of sklearn.covariance.ledoit_wolf."""
    x = _returns().to_numpy()
    ours = ledoit_wolf(x)
    sk_cov, sk_shrink = sk_ledoit_wolf(x)
    np.testing.assert_allclose(ours.covariance, sk_cov, rtol=1e-10, atol=1e-14)
    assert ours.shrinkage == pytest.approx(sk_shrink, rel=1e-10)


def test_components_sum_to_total_and_match_closed_forms():
    """Euler: sum of components = z sqrt(w'Sw); marginal = dVaR/dw (central differences);
    incremental = VaR(w) - VaR(w without i) recomputed from scratch."""
    x = _returns()
    w = np.array([0.3, -0.1, 0.4, 0.25, 0.15])
    dec = ledoit_wolf_var_decomposition(x, pd.Series(w, index=SYMBOLS), confidence=0.99)
    cov = ledoit_wolf(x.to_numpy()).covariance

    assert dec.total_var == pytest.approx(_var(cov, w, 0.99), rel=1e-12)
    assert dec.component_var.sum() == pytest.approx(dec.total_var, rel=1e-12)
    assert dec.pct_contribution.sum() == pytest.approx(1.0, rel=1e-12)
    h = 1e-6
    for i in range(len(w)):
        up, down = w.copy(), w.copy()
        up[i] += h
        down[i] -= h
        assert dec.marginal_var[i] == pytest.approx((_var(cov, up, 0.99) - _var(cov, down, 0.99)) / (2 * h), rel=1e-6)
        without = w.copy()
        without[i] = 0.0
        assert dec.incremental_var[i] == pytest.approx(dec.total_var - _var(cov, without, 0.99), rel=1e-9, abs=1e-15)


def test_two_asset_closed_form():
    """Uncorrelated assets with variances 1 and 4, w = (1, 1): VaR = z sqrt 5,
    components z/sqrt5 and 4z/sqrt5, incremental z(sqrt5 - 2) and z(sqrt5 - 1)."""
    z = norm.ppf(0.95)
    dec = var_decomposition(np.diag([1.0, 4.0]), np.array([1.0, 1.0]), ("X", "Y"), confidence=0.95)
    assert dec.total_var == pytest.approx(z * np.sqrt(5))
    np.testing.assert_allclose(dec.component_var, [z / np.sqrt(5), 4 * z / np.sqrt(5)])
    np.testing.assert_allclose(dec.incremental_var, [z * (np.sqrt(5) - 2), z * (np.sqrt(5) - 1)])
    np.testing.assert_allclose(dec.pct_contribution, [0.2, 0.8])


def test_component_es_sums_to_es_and_matches_sorted_tail():
    """Component ES = -mean over the tail (loss >= VaR) of w_i r_i; straightforward re-implementation."""
    rng = np.random.default_rng(7)
    scen = rng.standard_normal((5000, 5)) * 0.01 + rng.standard_t(3, size=(5000, 1)) * 0.005
    w = np.array([0.2, 0.2, 0.3, -0.1, 0.4])
    res = component_es(scen, w, SYMBOLS, confidence=0.975)
    losses = -(scen @ w)
    var = np.quantile(losses, 0.975)
    tail = losses >= var
    expected = np.array([-np.mean(w[i] * scen[tail, i]) for i in range(5)])
    np.testing.assert_allclose(res.component_es, expected, rtol=1e-12)
    assert res.component_es.sum() == pytest.approx(res.total_es, rel=1e-12)
    assert res.total_es == pytest.approx(losses[tail].mean(), rel=1e-12)
    assert res.total_var == pytest.approx(var)
    assert res.n_tail == tail.sum()


def test_rolling_matches_per_date_and_has_no_look_ahead():
    """Each date's rows equal the single-date functions on rows t-lookback..t-1; changing the
    return of date t does not change date t's estimate."""
    rets = _returns(n=300)
    w = pd.Series([0.1, 0.3, 0.2, 0.25, 0.15], index=SYMBOLS)
    lookback = 120
    out = rolling_var_decomposition(rets, w, confidence=0.99, lookback=lookback)
    assert tuple(out.columns) == DECOMPOSITION_COLUMNS
    assert len(out) == (300 - lookback) * 5
    assert out["date"].iloc[0] == rets.index[lookback]
    for t in (lookback, 200, 299):
        window = rets.iloc[t - lookback:t]
        dec = ledoit_wolf_var_decomposition(window, w)
        ces = component_es(window.to_numpy(), w.to_numpy(), SYMBOLS)
        rows = out[out["date"] == rets.index[t]]
        np.testing.assert_allclose(rows["marginal_var"], dec.marginal_var, rtol=1e-9)
        np.testing.assert_allclose(rows["component_var"], dec.component_var, rtol=1e-9)
        np.testing.assert_allclose(rows["incremental_var"], dec.incremental_var, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(rows["component_es_historical"], ces.component_es, rtol=1e-12)
        assert rows["pct_contribution"].sum() == pytest.approx(1.0)
    shocked = rets.copy()
    shocked.iloc[200] = -0.5
    out2 = rolling_var_decomposition(shocked, w, lookback=lookback)
    d = rets.index[200]
    pd.testing.assert_frame_equal(out[out.date == d].reset_index(drop=True), out2[out2.date == d].reset_index(drop=True))
    assert not np.allclose(out[out.date == rets.index[201]]["component_var"],
                           out2[out2.date == rets.index[201]]["component_var"])


def test_rolling_skips_windows_with_missing_data():
    """A symbol listed late (NaN before) yields rows only once its window is complete."""
    rets = _returns(n=260)
    rets.iloc[:50, 4] = np.nan
    w = pd.Series(0.2, index=SYMBOLS)
    out = rolling_var_decomposition(rets, w, lookback=100)
    assert out["date"].min() == rets.index[150]
    assert out["date"].nunique() == 260 - 150
    assert np.isfinite(out[list(DECOMPOSITION_COLUMNS[2:])].to_numpy()).all()


def test_rolling_with_short_history_is_empty_with_fixed_columns():
    out = rolling_var_decomposition(_returns(n=50), pd.Series(0.2, index=SYMBOLS), lookback=100)
    assert out.empty and tuple(out.columns) == DECOMPOSITION_COLUMNS


def test_bad_inputs_name_the_problem():
    rets = _returns(n=50)
    with pytest.raises(AttributionInputError, match="ZZZ"):
        rolling_var_decomposition(rets, pd.Series([0.5, 0.5], index=["A", "ZZZ"]), lookback=10)
    with pytest.raises(AttributionInputError, match="confidence"):
        component_es(rets.to_numpy(), np.full(5, 0.2), SYMBOLS, confidence=99)
    with pytest.raises(AttributionInputError, match="lookback"):
        rolling_var_decomposition(rets, pd.Series(0.2, index=SYMBOLS), lookback=1)
