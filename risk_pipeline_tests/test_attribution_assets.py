"""var_decomposition through the pipeline: DESIGN columns, Euler sum, held weights, sklearn Ledoit-Wolf."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.covariance import LedoitWolf

from risk_pipeline.defs.attribution import _held_sets, var_decomposition
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import fast_run_config, materialize_range, module_lake, query

LOOKBACK = 30
DESIGN_COLUMNS = ["date", "portfolio", "symbol", "weight", "marginal_var", "component_var", "pct_contribution"]


@pytest.fixture(scope="module")
def decomposed(tmp_path_factory):
    """One materialization for the module (conftest's small portfolios: balanced by weight, held by quantity)."""
    folder = tmp_path_factory.mktemp("attribution")
    with module_lake(folder, SMALL_PORTFOLIOS):
        config = {"ops": {"prices": fast_run_config()["ops"]["prices"],
                          "var_decomposition": {"config": {"estimation_window_days": LOOKBACK, "confidence": 0.99}}}}
        materialize_range("2021-01-04", "2021-04-30", config,
                          assets=[prices, returns, portfolio_pnl, var_decomposition])
        data = folder / "data"
        table = query(data, "select * from var_decomposition order by date, portfolio, symbol")
        closes = query(data, "select date, symbol, close from prices").pivot(index="date", columns="symbol",
                                                                             values="close").sort_index()
        rets = query(data, "select date, symbol, simple_return from returns").pivot(
            index="date", columns="symbol", values="simple_return").sort_index()
    return table, closes, rets


def _independent(rets: pd.DataFrame, date, weights: pd.Series) -> tuple[float, pd.Series]:
    """Total parametric VaR and components from sklearn's Ledoit-Wolf on the window before ``date``."""
    window = rets.loc[rets.index < date, list(weights.index)].iloc[-LOOKBACK:]
    cov = LedoitWolf().fit(window.to_numpy()).covariance_
    w = weights.to_numpy()
    sigma = np.sqrt(w @ cov @ w)
    z = norm.ppf(0.99)
    return z * sigma, pd.Series(z * w * (cov @ w) / sigma, index=weights.index)


def test_columns_and_components_sum_to_total(decomposed):
    table, _, rets = decomposed
    assert list(table.columns[:7]) == DESIGN_COLUMNS
    assert set(table["portfolio"]) == {"balanced", "held"}
    assert set(table["estimation_window_days"]) == {LOOKBACK}
    first = pd.Timestamp(table["date"].min())
    assert len(rets.loc[rets.index < first]) >= LOOKBACK  # no row before a full window
    sums = table.groupby(["date", "portfolio"])["pct_contribution"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, rtol=1e-10)
    for (date, name), rows in table.groupby(["date", "portfolio"]):
        if date.day % 7:  # a sample of dates keeps the test fast
            continue
        total, comps = _independent(rets, date, rows.set_index("symbol")["weight"])
        np.testing.assert_allclose(rows["component_var"].sum(), total, rtol=1e-8)
        np.testing.assert_allclose(rows.set_index("symbol")["component_var"], comps, rtol=1e-8)


def test_weight_book_holds_its_weights(decomposed):
    table, _, _ = decomposed
    balanced = table.loc[table["portfolio"] == "balanced"].groupby("symbol")["weight"].unique()
    assert {s: list(v) for s, v in balanced.items()} == {"AAPL": [0.4], "JPM": [0.3], "XOM": [0.3]}


def test_quantity_book_uses_previous_close_weights(decomposed):
    table, closes, _ = decomposed
    held = table.loc[table["portfolio"] == "held"].pivot(index="date", columns="symbol", values="weight")
    exposure = closes[["MSFT", "KO"]] * pd.Series({"MSFT": 1000.0, "KO": -200.0})
    expected = exposure.div(exposure.sum(axis=1), axis=0).shift(1).reindex(held.index)
    np.testing.assert_allclose(held[["MSFT", "KO"]].to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert held["MSFT"].nunique() > 10  # weights drift


def test_amounts_and_historical_component_es(decomposed):
    table, closes, rets = decomposed
    row = table.loc[table["portfolio"] == "held"].iloc[-2:]
    date = row["date"].iloc[0]
    prev = closes.index[closes.index < date][-1]
    value = 1000.0 * closes.loc[prev, "MSFT"] - 200.0 * closes.loc[prev, "KO"]
    np.testing.assert_allclose(row["component_var_amount"], row["component_var"] * value, rtol=1e-12)
    # historical component ES: mean position loss over the window's days with loss >= VaR (np.quantile)
    w = row.set_index("symbol")["weight"]
    window = rets.loc[rets.index < date, list(w.index)].iloc[-LOOKBACK:]
    losses = -(window @ w)
    tail = losses >= np.quantile(losses, 0.99, method="linear")
    expected = -(window.loc[tail] * w).mean()
    np.testing.assert_allclose(row.set_index("symbol")["component_es_historical"], expected[w.index], rtol=1e-10)


def test_a_held_set_s_rows_end_on_its_last_day_held():
    """A book of record's set of instruments held on some days is decomposed from ``lookback`` rows before its
    first day to its last day held, not to the book's last row (the rows after give no row of the set): make run's
    momentum book holds 266 sets over 30 years."""
    dates = pd.bdate_range("2021-01-04", periods=12)
    returns = pd.DataFrame(0.01, index=dates, columns=["A", "B"])
    weights = pd.DataFrame({"A": [0.5] * 12, "B": [0.5] * 4 + [np.nan] * 4 + [0.5] * 4}, index=dates)
    sets = list(_held_sets(returns, weights, pd.Series(dates), lookback=2))
    assert [(list(r.columns), r.index[0], r.index[-1]) for r, _ in sets] == [
        (["A", "B"], dates[0], dates[-1]), (["A"], dates[2], dates[7])]
    only_a = sets[1][1]
    assert only_a["A"].notna().tolist() == [False, False, True, True, True, True]
