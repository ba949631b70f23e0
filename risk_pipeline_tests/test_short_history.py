"""A range shorter than a method's estimation window: a book added to the portfolios file after its
symbols' history was stored has VaR from the first day of the range (its P&L window computed from
the stored returns); a history cut by where the lake starts stops the run naming the book, the
method and the window; a book whose own data starts inside the range is stated in the metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import core_assets, materialize_range, query

NEW_BOOKS = """
  - name: added
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.5}
      - {symbol: MSFT, weight: 0.5}
  - name: new_symbol
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: PG, weight: 1.0}
"""


def _failure(result) -> str:
    (event,) = [e for e in result.all_events if e.is_step_failure]
    error = event.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    return error.message


def test_a_book_added_to_a_stored_history_has_var_from_the_first_day_of_a_short_range(data_dir, tmp_path):
    assert materialize_range("2020-09-01", "2020-11-30", assets=core_assets()).success
    (tmp_path / "portfolios.yaml").write_text(SMALL_PORTFOLIOS + NEW_BOOKS)
    result = materialize_range("2020-12-01", "2020-12-30", assets=core_assets())
    assert result.success

    var = query(data_dir, "select date, var, es from var_estimates where portfolio = 'added' and confidence = 0.99 "
                          "order by date")
    assert var["date"].iloc[0] == pd.Timestamp("2020-12-01") and len(var) == 21  # every trading day of the range
    # independent recomputation: the 20 P&L days before 2020-12-01 from the stored returns of its symbols
    returns = query(data_dir, "select date, symbol, simple_return from returns where symbol in ('AAPL', 'MSFT') "
                              "and date < '2020-12-01'").pivot(index="date", columns="symbol", values="simple_return")
    losses = -(0.5 * returns["AAPL"] + 0.5 * returns["MSFT"]).sort_index().dropna().to_numpy()[-20:]
    expected = np.quantile(losses, 0.99)
    assert var["var"].iloc[0] == pytest.approx(expected, rel=1e-12)
    assert var["es"].iloc[0] == pytest.approx(losses[losses >= expected].mean(), rel=1e-12)
    # the P&L table itself is not rewritten before the range: the window is computed, not stored
    first_pnl = query(data_dir, "select min(date) as d from portfolio_pnl where portfolio = 'added'")["d"][0]
    assert first_pnl == pd.Timestamp("2020-12-01")

    # PG was never stored before the range: its book's P&L starts in it, so no estimate yet, and the
    # run says so by name instead of storing nothing silently
    assert query(data_dir, "select count(*) as n from var_estimates where portfolio = 'new_symbol'")["n"][0] == 0
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "var_estimates"
                and m.partition == "2020-12-30"]
    short = event.materialization.metadata["short_history"].value
    assert any("'new_symbol'" in s and "historical" in s and "estimation_window_days=20" in s for s in short)
    assert not any("'added'" in s for s in short)


def test_a_range_shorter_than_the_window_on_an_empty_lake_stops_naming_book_method_and_window(data_dir):
    result = materialize_range("2020-12-01", "2020-12-15", assets=core_assets(), raise_on_error=False)
    assert not result.success
    message = _failure(result)
    assert "portfolio 'balanced'" in message and "method historical" in message
    assert "estimation_window_days=20" in message and "earlier start" in message
    assert query(data_dir, "select count(*) as n from var_estimates")["n"][0] == 0  # nothing written
