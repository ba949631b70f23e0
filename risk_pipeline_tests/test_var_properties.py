"""Properties every rolling VaR/ES method must have: no look-ahead, window-bounded, ES >= VaR, NaN warm-up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_pipeline.risk import METHODS, rolling_var_es, var_es_grid

N, WINDOW, N_ASSETS = 160, 60, 3
WEIGHTS = pd.Series({"A": 0.5, "B": 0.3, "C": 0.2})
INDEX = pd.bdate_range("2020-01-01", periods=N)
MC_PARAMS = {"n_scenarios": 300, "seed": 3}


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.standard_t(4, size=(N, 1))
    vol = 0.01 * (1 + 0.8 * (np.arange(N) > N // 2))[:, None]
    return pd.DataFrame((0.5 * common + rng.standard_t(4, size=(N, N_ASSETS))) * vol, index=INDEX, columns=list("ABC"))


def _run(method: str, frame: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """The method on the portfolio (Series) or, for monte_carlo, on the assets with WEIGHTS."""
    if method == "monte_carlo":
        return rolling_var_es(frame, method=method, weights=WEIGHTS, **MC_PARAMS, **kwargs)
    return rolling_var_es(frame @ WEIGHTS, method=method, **kwargs)


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cut=st.integers(WINDOW - 5, N - 12),  # leaves >= 11 later days for the shock to reach
    shock=st.floats(-0.3, -0.05),  # a loss that enters every tail, so the next day must move
    horizon=st.sampled_from([1, 3, 10]),
)
def test_no_look_ahead(method: str, seed: int, cut: int, shock: float, horizon: int) -> None:
    """Perturbing the returns dated t = cut and later leaves every estimate dated <= t unchanged."""
    frame = _frame(seed)
    shocked = frame.copy()
    shocked.iloc[cut:] = shocked.iloc[cut:] + shock
    kwargs = dict(confidence=0.975, window=WINDOW, horizon_days=horizon)
    before = _run(method, frame, **kwargs).iloc[: cut + 1]
    after_shock = _run(method, shocked, **kwargs).iloc[: cut + 1]
    np.testing.assert_allclose(after_shock.to_numpy(), before.to_numpy(), rtol=1e-12, atol=0)
    # and the shock does reach the later estimates (the test can fail)
    # (not necessarily the very next day's: one shocked h-day sum need not enter the tail)
    later_shocked = _run(method, shocked, **kwargs).iloc[cut + 1 :].to_numpy()
    later = _run(method, frame, **kwargs).iloc[cut + 1 :].to_numpy()
    assert not np.allclose(later_shocked, later, equal_nan=True)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("horizon", [1, 5])
def test_window_bounded(method: str, horizon: int) -> None:
    """The estimate for a date from a stored lookback of `window` rows equals the full-history one."""
    frame = _frame(21)
    full = _run(method, frame, confidence=0.99, window=WINDOW, horizon_days=horizon)
    for t in (WINDOW, 97, N - 1):
        trailing = frame.iloc[t - WINDOW : t + 1]
        short = _run(method, trailing, confidence=0.99, window=WINDOW, horizon_days=horizon)
        np.testing.assert_allclose(short.iloc[-1].to_numpy(), full.iloc[t].to_numpy(), rtol=1e-10, atol=0)


@pytest.mark.parametrize("method", METHODS)
def test_es_at_least_var_and_nan_warm_up(method: str) -> None:
    frame = _frame(5)
    returns, extra = (frame, {"weights": WEIGHTS, **MC_PARAMS}) if method == "monte_carlo" else (frame @ WEIGHTS, {})
    grid = var_es_grid(returns, method=method, confidences=[0.9, 0.95, 0.99], horizons=[1, 3, 5, 10], window=WINDOW, **extra)
    assert len(grid) == (N - WINDOW) * 12
    assert grid["date"].min() == INDEX[WINDOW]
    assert (grid["es"] >= grid["var"] - 1e-15).all()
    assert np.isfinite(grid[["var", "es"]].to_numpy()).all()
    # a higher confidence never gives a lower VaR (same date and horizon)
    wide = grid.pivot_table(index=["date", "horizon_days"], columns="confidence", values="var")
    assert (wide.diff(axis=1).iloc[:, 1:] >= -1e-15).all().all()
    single = _run(method, frame, confidence=0.95, window=WINDOW)
    assert single.iloc[:WINDOW].isna().all().all() and single.iloc[WINDOW:].notna().all().all()
    assert list(single.columns) == ["var", "es"] and single.index.equals(INDEX)
