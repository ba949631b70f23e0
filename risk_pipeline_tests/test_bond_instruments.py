"""Bond instruments (a constant-maturity bond priced from its yield series, a symbol of the prices table):
the repricing against a plain cash-flow loop and a closed form, the books that hold it (P&L with FX, VaR)
against an independent historical simulation, and bad yield input named in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.cli.backfill import check_bond_instruments
from risk_pipeline.config import ConfigError
from risk_pipeline.config.bonds import bond_instruments
from risk_pipeline.defs.market_data import prices
from risk_pipeline.risk.instruments.bonds import rolled_par_bond_returns
from risk_pipeline.sources.bond_instruments import bond_instrument_prices, configured_instruments, yield_source
from risk_pipeline.sources.ecb_fx import fx_rate
from risk_pipeline.sources.yields import YieldDataError
from risk_pipeline.storage.paths import REPO_ROOT
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, fast_run_config, materialize_range, module_lake, query

EXAMPLE = REPO_ROOT / "data" / "example_yields.csv"
START, END = "2021-01-04", "2021-04-30"
WINDOW = 20
BOOKS = """
portfolios:
  - {name: ust10y, base_currency: USD, notional: 1000000, positions: [{symbol: UST10Y, weight: 1.0}]}
  - {name: eur_ust10y, base_currency: EUR, notional: 1000000, positions: [{symbol: UST10Y, weight: 1.0}]}
"""
STOCKS = "  - {name: stocks, base_currency: USD, notional: 1, positions: [{symbol: AAPL, weight: 1.0}]}\n"


def _loop_returns(yields: pd.Series, tenor: float = 10.0, m: int = 2) -> pd.Series:
    """Independent: each day, the par bond bought at the previous close (coupon = yesterday's yield), its
    cash flows one by one, discounted at today's yield after the days elapsed."""
    out = {}
    for (before, y0), (day, y1) in zip(yields.iloc[:-1].items(), yields.iloc[1:].items()):
        tau = (day - before).days / 365.25
        value = 0.0
        for k in range(int(round(tenor * m))):
            t = tenor - tau - k / m
            flow = 100.0 * y0 / m + (100.0 if k == 0 else 0.0)
            value += flow * (1.0 + y1 / m) ** (-m * t)
        out[day] = value / 100.0 - 1.0
    return pd.Series(out)


def _example() -> pd.Series:
    frame = pd.read_csv(EXAMPLE, parse_dates=["date"])
    return frame.set_index("date")["yield"]


def test_full_repricing_equals_a_cash_flow_loop():
    yields = _example().loc["2008-09-01":"2008-12-31"]  # large moves
    got = rolled_par_bond_returns(yields, 10.0, 2).set_index("date")["total_return"].iloc[1:]
    np.testing.assert_allclose(got, _loop_returns(yields), rtol=0, atol=1e-13)


def test_unchanged_yield_earns_the_closed_form_carry_and_the_explain_is_third_order():
    days = pd.to_datetime(["2021-01-04", "2021-01-05", "2021-01-08", "2021-01-11"])
    flat = pd.Series(0.03, index=days)
    out = rolled_par_bond_returns(flat, 10.0, 2).iloc[1:]
    # a par bond at an unchanged yield grows at that yield: (1 + y/m)^(m tau) - 1
    tau = np.diff(days).astype("timedelta64[D]").astype(float) / 365.25
    np.testing.assert_allclose(out["total_return"], (1.015) ** (2 * tau) - 1.0, rtol=0, atol=1e-14)
    assert (out["yield_return"] == 0).all()
    # the duration-convexity explain of a yield move: error O(dy^3), so 8x smaller when dy halves
    errors = []
    for dy in (0.01, 0.005):
        moved = rolled_par_bond_returns(pd.Series([0.03, 0.03 + dy], index=days[:2]), 10.0, 2).iloc[1]
        errors.append(abs(moved["yield_return"] - moved["explain"]))
        assert abs(moved["explain"] - moved["yield_return"]) < 0.01 * abs(moved["yield_return"])
    assert 6.0 < errors[0] / errors[1] < 10.0


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bond_instruments")
    names = {"prices", "returns", "fx_rates", "portfolio_pnl", "var_estimates", "var_backtests", "limit_status"}
    assets = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= names]
    config = fast_run_config(estimation_window_days=WINDOW, methods=["historical", "parametric_normal"], horizons=[1, 3])
    (folder / "limits.yaml").write_text("portfolios:\n" + "".join(
        f"  {book}:\n" + "".join(f"    - {{measure: {measure}, horizon_days: {h}, confidence: 0.99, amount: 20000}}\n"
                                 for measure in ("var", "es") for h in (1, 3))
        for book in ("ust10y", "eur_ust10y")))
    config["ops"]["limit_status"] = {"config": {"limits_file": str(folder / "limits.yaml"),
                                                "estimation_window_days": WINDOW}}
    with module_lake(folder, BOOKS):
        assert materialize_range(START, END, run_config=config, assets=assets).success
        yield folder / "data"


def test_stored_closes_and_returns_are_the_repriced_bond(lake):
    stored = query(lake, "select p.date, p.close, p.source, p.currency, r.simple_return from prices p left join "
                         "returns r using (date, symbol) where p.symbol = 'UST10Y' order by p.date").set_index("date")
    yields = _example()
    assert set(stored["source"]) == {"yield_repricing"} and set(stored["currency"]) == {"USD"}
    assert stored.index.equals(yields.loc[START:END].index)  # every trading day of the range
    expected = _loop_returns(yields.loc["2020-12-01":END]).loc[START:END]
    np.testing.assert_allclose(stored["simple_return"].iloc[1:], expected.iloc[1:], atol=1e-12)
    # the close is a total-return index from 100 on the series' first date, whatever the run's range
    level = 100.0 * (1.0 + _loop_returns(yields.loc[:END])).cumprod()
    np.testing.assert_allclose(stored["close"], level.loc[START:END], rtol=1e-9)


def test_the_euro_book_pnl_moves_with_the_yield_and_usd_eur(lake):
    pnl = query(lake, "select date, pnl from portfolio_pnl where portfolio = 'eur_ust10y' order by date")
    pnl = pnl.set_index("date")["pnl"]
    yields = _example().loc["2020-12-01":END]
    local = _loop_returns(yields)
    fx = fx_rate("EUR", "USD", yields.index)
    base = (1.0 + local) * (fx / fx.shift(1)).reindex(local.index) - 1.0
    np.testing.assert_allclose(pnl, 1_000_000 * base.reindex(pnl.index), rtol=1e-9)
    assert (base - local).loc[pnl.index].abs().max() > 1e-3  # the FX term is really there


def _par_bond_value(coupon: float, tau: float, yld: float, tenor: float = 10.0, m: int = 2) -> float:
    """Independent: the par bond bought at ``coupon``, ``tau`` years later, at ``yld``, cash flow by cash flow."""
    return sum((100.0 * coupon / m + (100.0 if k == 0 else 0.0)) * (1.0 + yld / m) ** (-m * (tenor - tau - k / m))
               for k in range(int(round(tenor * m))))


def test_historical_var_of_the_euro_treasury_book_reprices_todays_bond_under_past_yield_and_fx_moves(lake):
    """Historical simulation written out: for each forecast day t, the par bond held at the close of t-1
    (coupon = that close's yield) repriced under each of the window's daily yield moves over that day's
    time, times that day's USD/EUR move; VaR = numpy.quantile of the losses, ES = mean of those >= VaR."""
    stored = query(lake, "select date, confidence, var, es, var_amount from var_estimates where portfolio = "
                         "'eur_ust10y' and method = 'historical' and horizon_days = 1 order by date, confidence")
    yields = _example().loc[START:END]
    days = yields.index
    fx = fx_rate("EUR", "USD", days)
    forecast_days = days[WINDOW + 1:]  # the lake's first day has no return (no previous close)
    assert sorted(stored["date"].unique()) == list(forecast_days)
    past_returns = []
    for _, row in stored.iterrows():
        t = days.get_loc(row["date"])
        coupon = yields.iloc[t - 1]
        scenarios = []
        for s in range(t - WINDOW, t):
            tau = (days[s] - days[s - 1]).days / 365.25
            local = _par_bond_value(coupon, tau, coupon + yields.iloc[s] - yields.iloc[s - 1]) / 100.0 - 1.0
            scenarios.append((1.0 + local) * fx.iloc[s] / fx.iloc[s - 1] - 1.0)
        losses = -np.array(scenarios)
        var = np.quantile(losses, row["confidence"])
        assert row["var"] == pytest.approx(var, abs=1e-12)
        assert row["es"] == pytest.approx(losses[losses >= var].mean(), abs=1e-12)
        assert row["var_amount"] == pytest.approx(1_000_000 * var, rel=1e-12)
        # the window's past returns of the bond then held (a different duration and coupon): another number
        then = (1.0 + _loop_returns(yields.iloc[t - WINDOW - 1:t]).to_numpy()) * (
            fx.iloc[t - WINDOW:t].to_numpy() / fx.iloc[t - WINDOW - 1:t - 1].to_numpy()) - 1.0
        past_returns.append(np.quantile(-then, row["confidence"]))
    assert not np.allclose(stored["var"], past_returns, atol=1e-9)
    backtests = query(lake, "select count(*) as n from var_backtests where portfolio in ('ust10y', 'eur_ust10y')")
    assert backtests["n"].item() > 0


def test_scenarios_in_closed_form_equal_the_cash_flow_sum():
    from risk_pipeline.risk.instruments.bonds import rolled_par_bond_scenarios

    yields = _example().loc["2008-09-01":"2008-12-31"]
    tau = np.concatenate([[np.nan], np.diff(yields.index).astype("timedelta64[D]").astype(float) / 365.25])
    rows = np.arange(11, len(yields))
    got = rolled_par_bond_scenarios(yields.to_numpy(), tau, rows, 10, 10.0, 2)
    y = yields.to_numpy()
    for d, r in enumerate(rows):
        for k, s in enumerate(range(r - 10, r)):
            expected = _par_bond_value(y[r - 1], tau[s], y[r - 1] + y[s] - y[s - 1]) / 100.0 - 1.0
            assert got[d, k] == pytest.approx(expected, abs=1e-13)


def _profile(folder, monkeypatch, csv: str, series: str = "US10Y_EXAMPLE"):
    (folder / "yields.csv").write_text(csv)
    (folder / "profile.yaml").write_text(
        f"bonds:\n  csv_path: {folder / 'yields.csv'}\n  instruments:\n"
        f"    - {{symbol: UST10Y, yield_series: {series}, tenor_years: 10, frequency: 2, currency: USD}}\n")
    monkeypatch.setenv("RISK_PIPELINE_CONFIG", str(folder / "profile.yaml"))
    (folder / "portfolios.yaml").write_text(BOOKS + STOCKS)  # the stocks' trading days
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(folder / "portfolios.yaml"))
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(folder / "data"))


GOOD = "date,series,yield\n2021-01-04,US10Y_EXAMPLE,0.0093\n2021-01-05,US10Y_EXAMPLE,0.0096\n"


def test_an_unknown_yield_series_is_one_line_naming_the_file_and_the_field(tmp_path, monkeypatch):
    _profile(tmp_path, monkeypatch, GOOD, series="NOPE")
    with pytest.raises(YieldDataError) as caught:
        check_bond_instruments(pd.Timestamp(END).date())
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "yields.csv") in message
    assert "unknown yield series NOPE" in message and "field 'yield_series': UST10Y: NOPE" in message


def test_a_missing_yield_is_one_line_naming_the_file_row_and_field_and_the_backfill_exits_2(tmp_path, monkeypatch,
                                                                                             capsys):
    from risk_pipeline.cli import main

    _profile(tmp_path, monkeypatch, GOOD + "2021-01-06,US10Y_EXAMPLE,\n")
    with pytest.raises(YieldDataError) as caught:
        check_bond_instruments(pd.Timestamp(END).date())
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "yields.csv") in message
    assert "row 4" in message and "non-finite yield" in message and "2021-01-06" in message
    assert main(["backfill", "--start", "2021-01-04", "--end", "2021-01-08"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0] == f"risk-pipeline backfill: {message}"
    assert not (tmp_path / "data" / "lake").exists()  # nothing written


def test_a_trading_day_without_a_yield_fails_the_prices_step_and_writes_nothing(tmp_path, monkeypatch):
    _profile(tmp_path, monkeypatch, GOOD)  # no yield after 2021-01-05
    instruments = configured_instruments()
    with pytest.raises(YieldDataError) as caught:
        bond_instrument_prices(instruments, yield_source("csv", str(tmp_path / "yields.csv")),
                               pd.to_datetime(["2021-01-04", "2021-01-05", "2021-01-06"]).date, pd.Timestamp(START).date(),
                               pd.Timestamp(END).date())
    assert "'US10Y_EXAMPLE' has no value on 2021-01-06" in str(caught.value) and "UST10Y" in str(caught.value)
    result = materialize_range("2021-01-04", "2021-01-08", run_config={"ops": {"prices": {"config": {"extra_symbols": []}}}},
                               assets=[prices],
                               raise_on_error=False)
    assert not result.success
    assert not (tmp_path / "data" / "lake" / "prices").exists()


def test_bad_instrument_settings_name_the_instrument_and_field():
    with pytest.raises(ConfigError, match=r"instrument 'UST7': field 'tenor_years'"):
        bond_instruments([{"symbol": "UST7", "yield_series": "S", "tenor_years": 7.3, "frequency": 2,
                           "currency": "USD"}], "pipeline.yaml, section 'bonds'")


def test_equity_scenarios_leave_the_treasury_unmoved_and_move_the_stocks():
    from risk_pipeline.config.scenarios import load_scenarios
    from risk_pipeline.risk.stress.scenarios import scenario_shocks

    scenarios = {s.name: s for s in load_scenarios()}
    for name, stock in (("equity_down_20", -0.20), ("tech_selloff", -0.30), ("energy_credit_shock", -0.20)):
        shocks = scenario_shocks(scenarios[name], ["UST10Y", {"tech_selloff": "AAPL"}.get(name, "JPM")]).equity
        assert shocks.iloc[0] == 0.0 and shocks.iloc[1] == pytest.approx(stock), name


def test_limits_measure_the_treasury_books_as_their_historical_var(lake):
    """limit_status' historical simulation reprices the bond as the VaR engine does: the same amounts at 1 and
    3 days (3 days: three consecutive repriced scenarios compounded, the engine's overlapping 3-day windows)."""
    joined = query(lake, """
        select l.portfolio, l.date, l.horizon_days, l.measure, l.measured_amount,
               case when l.measure = 'var' then v.var_amount else v.es_amount end as engine
        from limit_status l join var_estimates v on v.portfolio = l.portfolio and v.date = l.date
             and v.horizon_days = l.horizon_days and v.confidence = l.confidence and v.method = 'historical'
        where l.status != 'no_data'""")
    assert set(joined["portfolio"]) == {"ust10y", "eur_ust10y"} and set(joined["horizon_days"]) == {1, 3}
    assert len(joined) == 2 * 2 * 2 * len(query(lake, "select distinct date from var_estimates"))
    np.testing.assert_allclose(joined["measured_amount"], joined["engine"], rtol=1e-10)


@pytest.mark.parametrize("alone", [True, False])
def test_a_market_holiday_has_no_bond_row_either(tmp_path, monkeypatch, alone):
    """A book of the Treasury alone takes the yield series' days; beside stocks, the stocks' trading days."""
    (tmp_path / "portfolios.yaml").write_text(BOOKS if alone else BOOKS + STOCKS)
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(tmp_path / "portfolios.yaml"))
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    config = {"ops": {"prices": {"config": {"extra_symbols": []}}}}
    assert materialize_range("2021-01-15", "2021-01-19", run_config=config, assets=[prices]).success  # MLK day 18th
    days = query(tmp_path / "data", "select distinct date from prices where symbol = 'UST10Y' order by date")["date"]
    assert list(days.dt.strftime("%Y-%m-%d")) == ["2021-01-15", "2021-01-19"]
    assert materialize_range("2021-01-18", "2021-01-18", run_config=config, assets=[prices]).success


def test_the_treasury_books_are_no_frtb_desk_and_naming_one_is_an_error():
    """FRTB here maps equity and FX risk factors: a book of a bond instrument is left out of the default desks
    (so the bank's figures are those of the equity desks), and listing one names the field."""
    import dataclasses

    from risk_pipeline.config.frtb import desk_portfolios, load_frtb_config
    from risk_pipeline.config.portfolios import DEFAULT_PORTFOLIOS_FILE, load_portfolios

    portfolios = load_portfolios(DEFAULT_PORTFOLIOS_FILE)
    settings = load_frtb_config()
    desks = [p.name for p in desk_portfolios(settings, portfolios)]
    assert "ust10y" not in desks and "eur_ust10y" not in desks and "sp500_index" in desks
    with pytest.raises(ConfigError, match=r"field 'desks': 'ust10y' holds the bond instrument\(s\) UST10Y"):
        desk_portfolios(dataclasses.replace(settings, desks=("ust10y", "concentrated")), portfolios)
