"""Books of record in the risk tables: var_estimates and limit_status revalue the stored positions of each
previous close (quantity x close x FX) under the window of their instruments' stored returns, recomputed here
by a plain loop; a book whose value is near zero has amounts but no fractions, and its backtests and scores skip those
days; the bundled trading books get estimates in a short run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scipy.stats import norm
from sklearn.covariance import LedoitWolf

from risk_pipeline.risk.var.held_positions import MIN_NET_SHARE
from risk_pipeline.sources.bundled import SHIPPED_DATA_DIR
from risk_pipeline_tests.pipeline_helpers import (
    ALL_ASSETS, fast_run_config, materialize_range, module_lake, query, shipped_portfolios,
)

RANGE = ("2022-01-03", "2022-04-29")
FIRST_HELD = pd.Timestamp("2022-02-14")
PORTFOLIOS = """
portfolios:
  - name: balanced
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.5}
      - {symbol: KO, weight: 0.5}
books_of_record:
  books:
    - {name: desk, base_currency: EUR}
    - {name: hedged, base_currency: USD}
  positions: {source: folder, path: drop}
"""
ASSETS = {"prices", "returns", "fx_rates", "positions", "trades", "portfolio_pnl", "var_estimates", "var_backtests",
          "forecast_scores", "var_scores", "limit_status", "stress_results", "reverse_stress", "historical_replay",
          "var_decomposition", "risk_summary"}
CONFIG = fast_run_config(methods=["historical", "parametric_normal", "monte_carlo"],
                         monte_carlo_estimation_window_days=30, n_scenarios=500)
SCENARIOS = """
scenarios:
  - {name: down20, type: uniform_equity, description: d, equity_shock: -0.2}
  - {name: fx_up, type: fx, description: f, base_currency_change: 0.1}
  - {name: covid, type: historical, description: c, start: 2022-01-10, end: 2022-01-28}
"""
LIMITS = """
warning_fraction: 0.8
portfolios:
  desk:
    - {measure: var, horizon_days: 1, confidence: 0.99, amount: 2000}
  hedged:
    - {measure: var, horizon_days: 1, confidence: 0.99, amount: 5000}
"""


def _days() -> list[pd.Timestamp]:
    prices = pd.read_parquet(SHIPPED_DATA_DIR / "bundled_prices.parquet", columns=["date", "symbol"])
    dates = pd.DatetimeIndex(prices.loc[prices["symbol"] == "AAPL", "date"].unique()).sort_values()
    return list(dates[(dates >= FIRST_HELD) & (dates <= pd.Timestamp(RANGE[1]))])


def _holdings(day_number: int) -> dict[str, dict[str, float]]:
    """desk: positions that change every day (and MSFT sold out every third day); hedged: long AAPL against
    about as much short MSFT, whose value is near zero on even days."""
    desk = {"AAPL": 100.0 + 10 * day_number, "KO": -300.0}
    if day_number % 3:
        desk["MSFT"] = 50.0
    hedged = {"AAPL": 1000.0, "MSFT": -560.0 if day_number % 2 == 0 else -300.0}
    return {"desk": desk, "hedged": hedged}


def _write_drop(folder: Path) -> None:
    folder.mkdir()
    for k, day in enumerate(_days()):
        rows = [f"{book},{symbol},{quantity}" for book, held in _holdings(k).items()
                for symbol, quantity in held.items()]
        (folder / f"positions_{day.date()}.csv").write_text("portfolio,symbol,quantity\n" + "\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("record_var")
    _write_drop(folder / "drop")
    (folder / "limits.yaml").write_text(LIMITS)
    (folder / "scenarios.yaml").write_text(SCENARIOS)
    config = {"ops": {**CONFIG["ops"],
                      "limit_status": {"config": {"limits_file": str(folder / "limits.yaml"),
                                                  "estimation_window_days": 20}},
                      "var_decomposition": {"config": {"estimation_window_days": 20, "confidence": 0.99}},
                      "stress": {"config": {"scenarios_file": str(folder / "scenarios.yaml"),
                                            "proxy_beta_lookback": 5}}}}
    with module_lake(folder, PORTFOLIOS):
        assets = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= ASSETS]
        assert materialize_range(*RANGE, run_config=config, assets=assets).success
        yield folder / "data"


def _wide(data: Path, table: str, column: str) -> pd.DataFrame:
    return query(data, f"select date, symbol, {column} from {table}").pivot(
        index="date", columns="symbol", values=column).sort_index()


@pytest.mark.parametrize("book", ["desk", "hedged"])
def test_var_and_limits_of_a_book_of_record_revalue_the_previous_closes_positions(lake, book):
    """A plain loop: the quantities stored at t-1 x close x FX of t-1 (EUR base: USD amounts over the ECB's
    USD rate per EUR, the last fixing on an ECB holiday), times each of the 20 previous days' base-currency
    returns, historical quantile."""
    closes, rets = _wide(lake, "prices", "close"), _wide(lake, "returns", "simple_return")
    usd_per_eur = query(lake, "select date, rate from fx_rates where currency = 'USD'").set_index("date")["rate"]
    usd_per_eur = usd_per_eur.sort_index().reindex(rets.index, method="ffill")  # an ECB holiday: the last fixing
    fx = (1.0 / usd_per_eur) if book == "desk" else pd.Series(1.0, index=rets.index)
    base_rets = (1.0 + rets).mul(fx / fx.shift(1), axis=0) - 1.0
    held = query(lake, f"select date, symbol, quantity from positions where portfolio = '{book}'")
    stored = query(lake, f"""select date, confidence, var, var_amount, es_amount from var_estimates
                             where portfolio = '{book}' and method = 'historical' and horizon_days = 1
                             order by date, confidence""")
    limits = query(lake, f"select date, measured_amount from limit_status where portfolio = '{book}'")
    limits = limits.set_index("date")["measured_amount"]
    days = pd.DatetimeIndex(held["date"].unique()).sort_values()
    assert set(stored["date"]) == set(days[1:]) == set(limits.index)  # from the day after its first positions
    checked = 0
    for day in days[1:][::9]:
        t = rets.index.get_loc(day)
        previous = rets.index[t - 1]
        own = held.loc[held["date"] == previous]
        values = {s: q * closes.at[previous, s] * fx[previous] for s, q in zip(own["symbol"], own["quantity"])}
        value, gross = sum(values.values()), sum(abs(v) for v in values.values())
        pnl = np.array([sum(v * base_rets[s].iloc[k] for s, v in values.items()) for k in range(t - 20, t)])
        scale = value if value >= MIN_NET_SHARE * gross else gross
        assert limits[day] == pytest.approx(np.quantile(-pnl, 0.99), rel=1e-9)  # limits.yaml: var, 1 day, 99%
        for _, row in stored.loc[stored["date"] == day].iterrows():
            expected = np.quantile(-pnl / scale, row["confidence"])
            assert row["var_amount"] == pytest.approx(expected * scale, rel=1e-9)
            if scale == value:
                assert row["var"] == pytest.approx(expected, rel=1e-9)
            else:
                assert np.isnan(row["var"])
            checked += 1
    assert checked >= 12


def test_a_near_zero_book_has_amounts_but_its_backtests_skip_those_days(lake):
    stored = query(lake, "select date, var, var_amount from var_estimates where portfolio = 'hedged' "
                         "and method = 'historical'")
    empty = stored["var"].isna()
    assert 0 < empty.sum() < len(stored) and stored["var_amount"].notna().all()
    backtests = query(lake, "select as_of, n_obs from var_backtests where portfolio = 'hedged' and "
                            "method = 'historical' and confidence = 0.99 order by as_of")
    days_with_var = stored.loc[~empty, "date"].nunique()
    assert len(backtests) > 0 and 0 < backtests["n_obs"].max() <= days_with_var
    assert query(lake, "select count(*) as n from forecast_scores where portfolio = 'hedged'")["n"][0] > 0


def test_books_of_record_have_backtests_scores_and_every_method(lake):
    for table in ("var_backtests", "forecast_scores", "var_scores"):
        books = set(query(lake, f"select distinct portfolio from {table}")["portfolio"])
        assert {"desk", "hedged", "balanced"} <= books, table
    methods = query(lake, "select portfolio, list(distinct method order by method) as m from var_estimates group by 1")
    methods = dict(zip(methods["portfolio"], methods["m"].map(list)))
    assert methods["balanced"] == methods["desk"] == methods["hedged"] == ["historical", "monte_carlo",
                                                                           "parametric_normal"]


def test_books_of_record_have_their_official_figures_in_risk_summary(lake):
    """risk_summary read the portfolios file's books only: the books of record had no official figure and no row
    in the morning table."""
    rows = query(lake, """
        select s.date, s.portfolio, s.var_1d_amount, v.var_amount, s.es_10d_amount, w.es_amount as es_10d_stored
        from risk_summary s
        join var_estimates v on v.date = s.date and v.portfolio = s.portfolio and v.method = s.method
         and v.confidence = 0.99 and v.horizon_days = 1
        left join var_estimates w on w.date = s.date and w.portfolio = s.portfolio and w.method = s.method
         and w.confidence = 0.99 and w.horizon_days = 10""")
    assert {"desk", "hedged", "balanced"} <= set(rows["portfolio"])
    assert (rows.groupby("portfolio")["date"].max() == rows["date"].max()).all()
    assert np.allclose(rows["var_1d_amount"], rows["var_amount"])
    assert np.allclose(rows["es_10d_amount"], rows["es_10d_stored"], equal_nan=True)


def test_the_bundled_trading_books_get_var_rows(tmp_path, monkeypatch):
    with module_lake(tmp_path, shipped_portfolios()):
        assets = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <=
                  {"prices", "returns", "fx_rates", "positions", "trades", "portfolio_pnl", "var_estimates"}]
        assert materialize_range("2019-11-01", "2019-12-31", run_config=CONFIG, assets=assets).success
        got = query(tmp_path / "data", "select portfolio, count(distinct date) as days, min(var) as low from "
                                       "var_estimates where method = 'historical' group by 1")
    got = got.set_index("portfolio")
    for book in ("monthly_rebalanced", "momentum_12_1"):
        assert got.at[book, "days"] >= 15 and got.at[book, "low"] > 0


def test_pre_trade_on_a_book_of_record_adds_the_trade_to_its_latest_positions(lake, capsys):
    """risk-pipeline pre-trade on the positions stored for the close before the latest day: the value before
    the trade is limit_status's of that day, the value after the plain loop's on the positions plus the trade."""
    from risk_pipeline.cli import main

    closes, rets = _wide(lake, "prices", "close"), _wide(lake, "returns", "simple_return")
    day, previous = rets.index[-1], rets.index[-2]
    held = query(lake, "select symbol, quantity from positions where portfolio = 'hedged' and "
                       f"date = '{previous.date()}'")
    after = dict(zip(held["symbol"], held["quantity"]))
    after["AAPL"] += 400.0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISK_PIPELINE_DATA", str(lake))
        mp.setenv("RISK_PIPELINE_PORTFOLIOS", str(lake.parent / "portfolios.yaml"))
        code = main(["pre-trade", "--portfolio", "hedged", "--trade", "AAPL=400", "--limits",
                     str(lake.parent / "limits.yaml"), "--lookback", "20", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["as_of"] == str(day.date()) and out["positions_close"] == str(previous.date()) and code in (0, 1)
    row = next(r for r in out["limits"] if r["measure"] == "var" and r["horizon_days"] == 1)
    measured = query(lake, "select measured_amount from limit_status where portfolio = 'hedged' and "
                           f"date = '{day.date()}'")
    assert row["value_before"] == pytest.approx(measured["measured_amount"][0], rel=1e-10)
    t = rets.index.get_loc(day)
    pnl = np.array([sum(q * closes.at[previous, s] * rets[s].iloc[k] for s, q in after.items())
                    for k in range(t - 20, t)])
    assert row["value_after"] == pytest.approx(np.quantile(-pnl, 0.99), rel=1e-10)


def test_stress_of_a_book_of_record_shocks_the_previous_closes_positions(lake):
    """Every equity -20%: -20% of the positions' base-currency value at the previous close; the base currency
    up 10%: the USD positions of the EUR book lose 1 - 1/1.1 of their value; the historical replay and the
    reverse stress have the books' rows too."""
    closes = _wide(lake, "prices", "close")
    usd_per_eur = query(lake, "select date, rate from fx_rates where currency = 'USD'").set_index("date")["rate"]
    usd_per_eur = usd_per_eur.sort_index().reindex(closes.index, method="ffill")
    held = query(lake, "select date, portfolio, symbol, quantity from positions where portfolio in ('desk', 'hedged')")
    stress = query(lake, "select date, portfolio, scenario, pnl from stress_results where portfolio in "
                         "('desk', 'hedged')").set_index(["date", "portfolio", "scenario"])["pnl"]
    days = sorted(held["date"].unique())
    assert {d for d, _, _ in stress.index} == set(days[1:])
    for previous, day in list(zip(days[:-1], days[1:]))[::7]:
        for book in ("desk", "hedged"):
            own = held.loc[(held["date"] == previous) & (held["portfolio"] == book)]
            fx = 1.0 / usd_per_eur[previous] if book == "desk" else 1.0
            value = sum(q * closes.at[previous, s] * fx for s, q in zip(own["symbol"], own["quantity"]))
            assert stress[(day, book, "down20")] == pytest.approx(-0.2 * value, rel=1e-10)
            assert stress[(day, book, "fx_up")] == pytest.approx(value * (1 / 1.1 - 1) if book == "desk" else 0.0,
                                                                 rel=1e-10)
    for table in ("reverse_stress", "historical_replay"):
        books = set(query(lake, f"select distinct portfolio from {table}")["portfolio"])
        assert {"desk", "hedged"} <= books, table


def test_attribution_of_a_book_of_record_covers_the_positions_held_that_day(lake):
    """Component VaR amounts: z e_i (C e)_i / sqrt(e' C e), e the base-currency values held at the previous
    close and C sklearn's Ledoit-Wolf covariance of the 20 days before over the instruments held that day."""
    closes, rets = _wide(lake, "prices", "close"), _wide(lake, "returns", "simple_return")
    usd_per_eur = query(lake, "select date, rate from fx_rates where currency = 'USD'").set_index("date")["rate"]
    usd_per_eur = usd_per_eur.sort_index().reindex(rets.index, method="ffill")
    rows = query(lake, "select date, portfolio, symbol, component_var_amount from var_decomposition "
                       "where portfolio in ('desk', 'hedged')")
    held = query(lake, "select date, portfolio, symbol, quantity from positions where portfolio in ('desk', 'hedged')")
    checked = 0
    for book, fx in (("desk", 1.0 / usd_per_eur), ("hedged", pd.Series(1.0, index=rets.index))):
        base_rets = (1.0 + rets).mul(fx / fx.shift(1), axis=0) - 1.0
        days = sorted(held.loc[held["portfolio"] == book, "date"].unique())
        for previous, day in list(zip(days[:-1], days[1:]))[::4]:
            own = held.loc[(held["date"] == previous) & (held["portfolio"] == book)].set_index("symbol")["quantity"]
            e = own * closes.loc[previous, own.index] * fx[previous]
            got = rows.loc[(rows["date"] == day) & (rows["portfolio"] == book)].set_index("symbol")
            assert set(got.index) == set(own.index)  # the positions held that day, no other instrument
            t = rets.index.get_loc(day)
            cov = LedoitWolf().fit(base_rets[list(e.index)].iloc[t - 20:t].to_numpy()).covariance_
            c_e = cov @ e.to_numpy()
            expected = norm.ppf(0.99) * e.to_numpy() * c_e / np.sqrt(e.to_numpy() @ c_e)
            np.testing.assert_allclose(got.loc[e.index, "component_var_amount"], expected, rtol=1e-8)
            checked += 1
    assert checked >= 20
