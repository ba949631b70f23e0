"""Cash instruments (a currency held as a symbol whose close is 1 in it): a dollar book of EUR cash is the
ECB USD/EUR rate on its own. Its stored P&L against the stored fx rows, its VaR against numpy, every method
and the backtests present, the stale-prices rule not fooled, and a bad cash setting named in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.config import ConfigError
from risk_pipeline.config.scenarios import NOT_EQUITY_SECTORS, load_scenarios
from risk_pipeline.risk.stress.scenarios import SectorScenario, UniformEquityScenario
from risk_pipeline.defs.quality_rules import StaleConfig, _stale
from risk_pipeline.sources import quality
from risk_pipeline.sources.cash import configured_cash
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, fast_run_config, materialize_range, module_lake, query

START, END = "2021-01-04", "2021-04-30"
WINDOW = 20
METHODS = ["historical", "parametric_normal", "parametric_t", "cornish_fisher", "ewma"]
BOOKS = """
portfolios:
  - {name: eurusd, base_currency: USD, notional: 1000000, positions: [{symbol: CASH_EUR, weight: 1.0}]}
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cash_instruments")
    names = {"prices", "returns", "fx_rates", "portfolio_pnl", "var_estimates", "var_backtests"}
    assets = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= names]
    config = fast_run_config(estimation_window_days=WINDOW, methods=METHODS, horizons=[1])
    with module_lake(folder, BOOKS):
        assert materialize_range(START, END, run_config=config, assets=assets).success
        yield folder / "data"


def test_cash_closes_are_one_in_euro_on_every_trading_day(lake):
    stored = query(lake, "select date, symbol, close, currency, source from prices order by date")
    cash, index = stored.loc[stored["symbol"] == "CASH_EUR"], stored.loc[stored["symbol"] == "SP500"]
    assert list(cash["date"]) == list(index["date"])  # the trading days of the quoted prices
    assert (cash["close"] == 1.0).all() and set(cash["currency"]) == {"EUR"} and set(cash["source"]) == {"cash"}
    days = [d.date() for d in stored["date"].drop_duplicates()]
    # a close of 1 every day is what the stale rule flags; the rule skips cash symbols (1 by construction)
    assert "CASH_EUR" in set(quality.stale_prices(stored, days, 5)["symbol"])
    assert len(_stale(stored, days, StaleConfig()).offending) == 0


def _usd_per_eur(lake) -> pd.Series:
    """Independent: the stored fx rows (units per 1 EUR) of USD on the trading days (of the stored prices); a
    trading day without an ECB fixing (a TARGET holiday such as Easter Monday) takes the latest one before."""
    rows = query(lake, "select date, rate from fx_rates where currency = 'USD' order by date")
    days = query(lake, "select distinct date from prices order by date")["date"]
    rate = rows.set_index("date")["rate"].reindex(days, method="ffill")
    assert len(days) > len(rows) and rate.notna().all()  # the range holds such a day
    return rate


def test_the_book_returns_are_the_ecb_rate_returns(lake):
    pnl = query(lake, "select date, value, pnl, simple_return from portfolio_pnl where portfolio = 'eurusd' "
                      "order by date").set_index("date")
    rate = _usd_per_eur(lake)
    expected = (rate / rate.shift(1) - 1.0).dropna()
    assert list(pnl.index) == list(expected.index)
    np.testing.assert_allclose(pnl["simple_return"], expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(pnl["pnl"], 1_000_000 * expected, rtol=1e-12)
    assert expected.abs().max() > 1e-3  # the rate really moves


def test_historical_var_is_the_quantile_of_the_rate_losses_and_every_method_is_backtested(lake):
    stored = query(lake, "select date, method, confidence, var, es from var_estimates where portfolio = 'eurusd' "
                         "and horizon_days = 1 order by date, confidence")
    rate = _usd_per_eur(lake)
    returns = (rate / rate.shift(1) - 1.0).dropna()
    historical = stored.loc[stored["method"] == "historical"]
    assert len(historical) == 2 * (len(returns) - WINDOW)
    for _, row in historical.iterrows():
        t = returns.index.get_loc(row["date"])
        losses = -returns.iloc[t - WINDOW:t].to_numpy()
        var = np.quantile(losses, row["confidence"])
        assert row["var"] == pytest.approx(var, abs=1e-14)
        assert row["es"] == pytest.approx(losses[losses >= var].mean(), abs=1e-14)
    assert set(stored["method"]) == set(METHODS)
    backtests = query(lake, "select distinct method from var_backtests where portfolio = 'eurusd'")
    assert set(backtests["method"]) == set(METHODS)


def test_equity_and_sector_scenarios_leave_the_shipped_cash_symbol_unmoved():
    assert set(configured_cash()) == {"CASH_EUR"} and "cash" in NOT_EQUITY_SECTORS
    for scenario in load_scenarios():
        if isinstance(scenario, UniformEquityScenario):
            assert "CASH_EUR" in scenario.not_equities
        if isinstance(scenario, SectorScenario):
            assert scenario.sectors["CASH_EUR"] == "cash" and scenario.sector_shocks["cash"] == 0.0


def test_a_cash_currency_without_any_rate_is_named(tmp_path, monkeypatch):
    profile = tmp_path / "profile.yaml"
    profile.write_text("prices:\n  cash: [{symbol: CASH_XYZ, currency: XYZ}]\n")
    monkeypatch.setenv("RISK_PIPELINE_CONFIG", str(profile))
    with pytest.raises(ConfigError, match=r"profile.yaml, section 'prices', field 'cash': 'CASH_XYZ': currency "
                                          r"'XYZ' has no FX rate"):
        configured_cash()
    mapped = tmp_path / "mapped.yaml"  # settings are read once per file
    mapped.write_text("prices:\n  cash: {CASH_EUR: EUR}\n")
    monkeypatch.setenv("RISK_PIPELINE_CONFIG", str(mapped))
    with pytest.raises(ConfigError, match=r"field 'cash': must be a list of \{symbol, currency\}"):
        configured_cash()
