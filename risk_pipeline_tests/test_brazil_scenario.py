"""The shipped brazil_fiscal_2015 scenario on a BRL book, recomputed from the stored closes and the ECB file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.config.scenarios import load_scenarios
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.stress import stress
from risk_pipeline.sources.bundled import SHIPPED_DATA_DIR
from risk_pipeline_tests.pipeline_helpers import materialize_range, query

BOOKS = """
portfolios:
  - name: brl_us
    base_currency: BRL
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.5}
      - {symbol: KO, weight: 0.5}
  - name: usd_us
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.5}
      - {symbol: KO, weight: 0.5}
"""


def test_brazil_2015_is_the_window_moves_of_the_stocks_and_of_the_dollar_in_reais(data_dir, tmp_path, monkeypatch):
    books = tmp_path / "books.yaml"
    books.write_text(BOOKS)
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(books))
    config = {"ops": {"prices": {"config": {"extra_symbols": ["SP500"]}},
                      "stress": {"config": {"proxy_beta_lookback": 20}}}}
    materialize_range("2015-06-01", "2015-09-30", config, assets=[prices, returns, portfolio_pnl, stress])
    scenario = next(s for s in load_scenarios() if s.name == "brazil_fiscal_2015")
    start, end = pd.Timestamp(scenario.start), pd.Timestamp(scenario.end)
    closes = query(data_dir, "select date, symbol, close from prices").pivot(index="date", columns="symbol",
                                                                              values="close").sort_index()
    before = closes.index[closes.index < start][-1]
    shocks = closes.loc[end] / closes.loc[before] - 1.0
    ecb = pd.read_parquet(SHIPPED_DATA_DIR / "ecb_fx.parquet").pivot(index="date", columns="currency", values="rate")
    brl_per_usd = (ecb["BRL"] / ecb["USD"]).sort_index()
    fx = brl_per_usd.asof(end) / brl_per_usd.asof(before) - 1.0
    assert fx == pytest.approx(0.318, abs=0.001)  # the figure the scenario's description quotes
    rows = query(data_dir, "select * from stress_results where scenario = 'brazil_fiscal_2015'")
    assert rows["date"].min() == closes.index[closes.index > end][0]  # reported from the day after the window
    weights = pd.Series({"AAPL": 0.5, "KO": 0.5}) * 1e6
    for date, day in rows.groupby("date"):
        by_book = day.set_index("portfolio")["pnl"]
        np.testing.assert_allclose(by_book["usd_us"], (weights * shocks[weights.index]).sum(), rtol=1e-10)
        np.testing.assert_allclose(by_book["brl_us"], (weights * ((1 + shocks[weights.index]) * (1 + fx) - 1)).sum(),
                                   rtol=1e-10)
    assert rows["date"].nunique() == 4  # 2015-09-25, 28, 29, 30
