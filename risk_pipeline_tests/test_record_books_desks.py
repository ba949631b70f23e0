"""The bundled trading books (books of record with trades and fees) in the backtests, FRTB and Monte Carlo:
actual-P&L exceptions beside the hypothetical ones in var_backtests (equal for a YAML book), a book of record as
an FRTB desk, and Monte Carlo VaR of the positions of the previous close; each recomputed here from the stored
positions, trades and prices by a plain loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_pipeline_tests.pipeline_helpers import (
    ALL_ASSETS, REPO, fast_run_config, materialize_range, module_lake, query, shipped_portfolios,
)

START, END = "2018-09-04", "2019-12-31"
BOOK = "momentum_12_1"  # trades monthly, 10 bp fees
BALANCED = """portfolios:
  - name: balanced
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.4}
      - {symbol: JPM, weight: 0.3}
      - {symbol: XOM, weight: 0.3}
"""
ASSETS = {"prices", "returns", "fx_rates", "positions", "trades", "portfolio_pnl", "var_estimates", "var_backtests"}
MC_WINDOW = 60
CONFIG = fast_run_config(methods=["historical", "monte_carlo"], monte_carlo_estimation_window_days=MC_WINDOW,
                         n_scenarios=500)
CONFIG["ops"]["var_backtests"] = {"config": {"backtest_window_days": [250]}}


def _portfolios() -> str:
    """The shipped books of record beside one YAML weight book."""
    shipped = shipped_portfolios()
    return BALANCED + shipped[shipped.index("books_of_record:"):]


def _assets(names: set[str]):
    return [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= names]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("record_desks")
    with module_lake(folder, _portfolios()):
        assert materialize_range(START, END, run_config=CONFIG, assets=_assets(ASSETS)).success
        yield folder / "data"


def _closes(data: Path) -> pd.DataFrame:
    return query(data, "select date, symbol, close from prices").pivot(
        index="date", columns="symbol", values="close").sort_index()


def _actual_pnl(data: Path, book: str) -> pd.DataFrame:
    """Per day: the value of the previous close's positions and the actual P&L, from positions, trades and
    closes alone (USD book): sum q_{t-1} (P_t - P_{t-1}) + sum_k q_k (P_t - p_k) - f_k."""
    closes = _closes(data)
    held = query(data, f"select date, symbol, quantity from positions where portfolio = '{book}'")
    trades = query(data, f"select date, symbol, quantity, price, fees from trades where portfolio = '{book}'")
    days = sorted(held["date"].unique())
    rows = []
    for previous, day in zip(days[:-1], days[1:]):
        own = held.loc[held["date"] == previous]
        value = sum(q * closes.at[previous, s] for s, q in zip(own["symbol"], own["quantity"]))
        hypothetical = sum(q * (closes.at[day, s] - closes.at[previous, s]) for s, q in zip(own["symbol"], own["quantity"]))
        traded = trades.loc[trades["date"] == day]
        from_trades = sum(q * (closes.at[day, s] - p) - f for s, q, p, f in
                          zip(traded["symbol"], traded["quantity"], traded["price"], traded["fees"]))
        rows.append((day, value, hypothetical, hypothetical + from_trades))
    return pd.DataFrame(rows, columns=["date", "previous_value", "hypothetical", "actual"]).set_index("date")


def test_a_yaml_books_actual_exceptions_and_return_are_its_hypothetical_ones(lake):
    pnl = query(lake, "select simple_return, actual_return from portfolio_pnl where portfolio = 'balanced'")
    assert len(pnl) > 300 and (pnl["actual_return"] == pnl["simple_return"]).all()
    rows = query(lake, "select n_breaches, n_actual_breaches, kupiec_p, actual_kupiec_p, traffic_light, "
                       "actual_traffic_light from var_backtests where portfolio = 'balanced'")
    assert len(rows) > 500 and rows["n_breaches"].sum() > 0
    assert (rows["n_actual_breaches"] == rows["n_breaches"]).all()
    assert (rows["actual_kupiec_p"] == rows["kupiec_p"]).all()
    assert (rows["actual_traffic_light"] == rows["traffic_light"]).all()


def test_actual_exceptions_of_a_trading_book_count_its_actual_losses_over_the_var(lake):
    """momentum_12_1 trades at the close with fees: its actual P&L is the hypothetical minus the fees on the
    first trading day of each month. The stored actual_pnl and actual_return are recomputed from positions,
    trades and closes; the actual breaches of each 250-day window counted from them against the stored VaR."""
    expected = _actual_pnl(lake, BOOK)
    stored = query(lake, f"select date, pnl, actual_pnl, simple_return, actual_return from portfolio_pnl "
                         f"where portfolio = '{BOOK}' order by date").set_index("date")
    expected = expected.loc[stored.index]
    np.testing.assert_allclose(stored["actual_pnl"], expected["actual"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(stored["actual_return"], expected["actual"] / expected["previous_value"], rtol=1e-9)
    trading = (stored["actual_pnl"] - stored["pnl"]).abs() > 1.0
    assert 10 <= trading.sum() <= 20  # the monthly rebalancing days of the range
    loss = -stored["actual_return"]
    checked = 0
    for confidence in (0.95, 0.99):
        var = query(lake, f"select date, var from var_estimates where portfolio = '{BOOK}' and method = 'historical' "
                          f"and confidence = {confidence} and horizon_days = 1").set_index("date")["var"]
        rows = query(lake, f"select as_of, n_obs, n_breaches, n_actual_breaches, actual_traffic_light "
                           f"from var_backtests where portfolio = '{BOOK}' and method = 'historical' and "
                           f"confidence = {confidence} and horizon_days = 1 order by as_of")
        days = stored.index
        for _, row in rows.iloc[::20].iterrows():
            t = days.get_loc(row["as_of"])
            window = days[max(0, t - 249): t + 1]
            known = var.reindex(window).dropna()
            assert row["n_obs"] == len(known)
            assert row["n_actual_breaches"] == int((loss.reindex(known.index) > known).sum())
            checked += 1
        # fees only lower the actual P&L (trades at the close): never fewer actual than hypothetical breaches
        assert (rows["n_actual_breaches"] >= rows["n_breaches"]).all()
    assert checked >= 20
