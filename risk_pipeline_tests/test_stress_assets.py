"""stress_results, reverse_stress, historical_replay through the pipeline, and the EUR book's FX move."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.stress import stress
from risk_pipeline.sources.bundled import SHIPPED_DATA_DIR
from risk_pipeline.storage.lake import table_version
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import fast_run_config, materialize_range, query

PORTFOLIOS = SMALL_PORTFOLIOS + """  - name: eur_us
    base_currency: EUR
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.5}
      - {symbol: KO, weight: 0.5}
"""
SCENARIOS = """
sectors: {AAPL: technology, MSFT: technology, JPM: financials}
scenarios:
  - {name: covid, type: historical, description: c, start: 2020-02-20, end: 2020-03-23}
  - {name: later, type: historical, description: ends after the run, start: 2020-05-01, end: 2020-07-31}
  - {name: down20, type: uniform_equity, description: d, equity_shock: -0.2}
  - {name: up10, type: uniform_equity, description: u, equity_shock: 0.1}
  - {name: tech, type: sector, description: s, shocks: {technology: -0.3}, default_shock: -0.05}
  - {name: fx_up, type: fx, description: f, base_currency_change: 0.1}
"""
START, END = "2020-01-02", "2020-05-29"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stress")
    (folder / "portfolios.yaml").write_text(PORTFOLIOS)
    (folder / "scenarios.yaml").write_text(SCENARIOS)
    stress_config = {"config": {"scenarios_file": str(folder / "scenarios.yaml"), "proxy_beta_lookback": 20}}
    config = {"ops": {"prices": fast_run_config()["ops"]["prices"], "stress": stress_config}}
    data = folder / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISK_PIPELINE_DATA", str(data))
        mp.setenv("RISK_PIPELINE_PORTFOLIOS", str(folder / "portfolios.yaml"))
        materialize_range(START, END, config, assets=[prices, returns, portfolio_pnl, stress])
        tables = {t: query(data, f"select * from {t}") for t in
                  ("stress_results", "reverse_stress", "historical_replay", "portfolio_pnl")}
        # one table of the multi-asset alone: only its files are rewritten, with the same rows
        before = {t: table_version(t) for t in ("stress_results", "historical_replay")}
        tags = {"dagster/asset_partition_range_start": END, "dagster/asset_partition_range_end": END}
        result = dg.materialize([prices, returns, portfolio_pnl, stress], selection=["historical_replay"],
                                run_config={"ops": {"stress": stress_config}}, tags=tags)
        assert [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()] == ["historical_replay"]
        after = {t: table_version(t) for t in before}
        assert after["stress_results"] == before["stress_results"]
        assert after["historical_replay"] > before["historical_replay"]
        again = query(data, "select * from historical_replay order by all")
        pd.testing.assert_frame_equal(again, tables["historical_replay"].sort_values(list(again.columns))
                                      .reset_index(drop=True))
    tables["closes"] = query(data, "select date, symbol, close from prices").pivot(
        index="date", columns="symbol", values="close").sort_index()
    tables["returns"] = query(data, "select date, symbol, simple_return from returns").pivot(
        index="date", columns="symbol", values="simple_return").sort_index()
    return tables


def _eur_per_usd(dates) -> pd.Series:
    """Price in EUR of one USD on ``dates`` straight from the shipped ECB file (last fixing at or before)."""
    ecb = pd.read_parquet(SHIPPED_DATA_DIR / "ecb_fx.parquet")
    usd = ecb.loc[ecb["currency"] == "USD"].set_index("date")["rate"].sort_index()
    usd.index = pd.to_datetime(usd.index)
    return 1.0 / usd.asof(pd.DatetimeIndex(dates))


def _held_exposures(closes: pd.DataFrame, date) -> dict[str, pd.Series]:
    prev = closes.index[closes.index < date][-1]
    eur = _eur_per_usd([prev]).iloc[0]
    return {
        "balanced": pd.Series({"AAPL": 4e5, "JPM": 3e5, "XOM": 3e5}),
        "held": pd.Series({"MSFT": 1000 * closes.loc[prev, "MSFT"], "KO": -200 * closes.loc[prev, "KO"]}),
        "eur_us": pd.Series({"AAPL": 5e5, "KO": 5e5}),
        "_eur_price": eur,
    }


def test_tables_have_design_columns(lake):
    design = {"stress_results": ["date", "portfolio", "scenario", "pnl", "simple_return"],
              "reverse_stress": ["date", "portfolio", "scenario", "target_loss", "multiplier", "feasible"],
              "historical_replay": ["date", "portfolio", "episode", "worst_date", "worst_cum_pnl", "worst_cum_return"]}
    for table, columns in design.items():
        assert list(lake[table].columns[: len(columns)]) == columns
        assert set(lake[table]["portfolio"]) == {"balanced", "held", "eur_us"}


def test_historical_scenario_only_after_its_window(lake):
    stress = lake["stress_results"]
    covid_dates = stress.loc[stress["scenario"] == "covid", "date"]
    assert covid_dates.min() == pd.Timestamp("2020-03-24")  # first trading day after the window
    assert "later" not in set(stress["scenario"])  # window ends after the run: never reported
    hypothetical = stress.loc[stress["scenario"] == "down20"]
    assert hypothetical["date"].min() < pd.Timestamp("2020-01-10")


def test_historical_pnl_is_exposures_times_window_returns(lake):
    closes, stress = lake["closes"], lake["stress_results"]
    before = closes.index[closes.index < pd.Timestamp("2020-02-20")][-1]
    shocks = closes.loc[pd.Timestamp("2020-03-23")] / closes.loc[before] - 1.0  # cumulative window return
    fx_shock = _eur_per_usd(["2020-03-23"]).iloc[0] / _eur_per_usd([before]).iloc[0] - 1.0
    for date in (pd.Timestamp("2020-03-24"), pd.Timestamp("2020-05-29")):
        exposures = _held_exposures(closes, date)
        rows = stress.loc[(stress["date"] == date) & (stress["scenario"] == "covid")].set_index("portfolio")
        for name in ("balanced", "held"):
            e = exposures[name]
            np.testing.assert_allclose(rows.loc[name, "pnl"], (e * shocks[e.index]).sum(), rtol=1e-10)
            np.testing.assert_allclose(rows.loc[name, "simple_return"], rows.loc[name, "pnl"] / e.sum(), rtol=1e-10)
        e = exposures["eur_us"]  # EUR base: the dollar's move over the window multiplies in
        expected = (e * ((1 + shocks[e.index]) * (1 + fx_shock) - 1)).sum()
        np.testing.assert_allclose(rows.loc["eur_us", "pnl"], expected, rtol=1e-10)


def test_hypothetical_and_fx_scenarios(lake):
    stress = lake["stress_results"]
    day = stress.loc[stress["date"] == stress["date"].max()].set_index(["portfolio", "scenario"])
    np.testing.assert_allclose(day.loc[("balanced", "down20"), "pnl"], -2e5, rtol=1e-12)
    np.testing.assert_allclose(day.loc[("balanced", "tech"), "pnl"], -0.3 * 4e5 - 0.05 * 6e5, rtol=1e-12)
    assert day.loc[("balanced", "fx_up"), "pnl"] == 0.0  # no foreign position
    np.testing.assert_allclose(day.loc[("eur_us", "fx_up"), "pnl"], 1e6 * (1 / 1.1 - 1), rtol=1e-12)


def test_reverse_stress_multiplier_and_infeasible(lake):
    rev = lake["reverse_stress"].set_index(["date", "portfolio", "scenario"])
    stress = lake["stress_results"].set_index(["date", "portfolio", "scenario"])
    date = rev.index.get_level_values("date").max()
    for scenario in ("covid", "down20", "tech"):
        row, loss = rev.loc[(date, "balanced", scenario)], -stress.loc[(date, "balanced", scenario), "pnl"]
        assert row["feasible"]
        np.testing.assert_allclose(row["multiplier"] * loss, row["target_loss"], rtol=1e-8)  # linear book
        np.testing.assert_allclose(row["target_loss"], 0.10 * 1e6)
    for scenario in ("up10", "fx_up"):  # a long book gains, or does not move: no multiplier reaches the loss
        row = rev.loc[(date, "balanced", scenario)]
        assert not row["feasible"] and np.isnan(row["multiplier"])
    assert rev.loc[(date, "eur_us", "fx_up"), "feasible"]


def test_replay_worst_point(lake):
    closes, replay = lake["closes"], lake["historical_replay"]
    date = pd.Timestamp("2020-04-15")
    before = closes.index[closes.index < pd.Timestamp("2020-02-20")][-1]
    window = closes.loc[pd.Timestamp("2020-02-20"):pd.Timestamp("2020-03-23")]
    for name in ("balanced", "held"):
        e = _held_exposures(closes, date)[name]
        path = ((window[e.index] / closes.loc[before, e.index] - 1.0) * e).sum(axis=1)
        row = replay.loc[(replay["date"] == date) & (replay["portfolio"] == name)].iloc[0]
        assert row["worst_date"] == path.idxmin()
        np.testing.assert_allclose(row["worst_cum_pnl"], path.min(), rtol=1e-10)
        np.testing.assert_allclose(row["final_cum_return"], path.iloc[-1] / e.sum(), rtol=1e-10)
    held = replay.loc[(replay["date"] == date) & (replay["portfolio"] == "held")].iloc[0]
    assert held["worst_date"] < pd.Timestamp("2020-03-23")  # the worst point is not the last day


def test_eur_book_return_is_usd_return_times_fx_move(lake):
    pnl = lake["portfolio_pnl"]
    eur = pnl.loc[pnl["portfolio"] == "eur_us"].set_index("date")["simple_return"].sort_index().iloc[1:]
    rets = lake["returns"]
    fx = _eur_per_usd(rets.index)
    r_fx = (fx / fx.shift(1) - 1.0).reindex(eur.index)
    expected = 0.5 * ((1 + rets["AAPL"]) * (1 + r_fx) - 1) + 0.5 * ((1 + rets["KO"]) * (1 + r_fx) - 1)
    np.testing.assert_allclose(eur.to_numpy(), expected.reindex(eur.index).to_numpy(), rtol=1e-10)
    assert np.abs(r_fx).max() > 0.005  # the dollar moved: the test can tell FX from no FX


def test_reverse_stress_of_fx_book_matches_single_date_solver(lake):
    """EUR book under covid: loss(k) = -sum E[(1 + k s)(1 + k f) - 1] is not linear; the grid
    version must give the single-date bisection's multiplier."""
    from risk_pipeline.risk.stress.reverse import reverse_stress as solve_one
    from risk_pipeline.risk.stress.scenarios import ScenarioShocks

    closes, rev = lake["closes"], lake["reverse_stress"]
    before = closes.index[closes.index < pd.Timestamp("2020-02-20")][-1]
    shocks = (closes.loc[pd.Timestamp("2020-03-23")] / closes.loc[before] - 1.0)[["AAPL", "KO"]]
    fx_shock = _eur_per_usd(["2020-03-23"]).iloc[0] / _eur_per_usd([before]).iloc[0] - 1.0
    scenario = ScenarioShocks("covid", shocks, pd.Series({"USD": fx_shock}), ())
    expected = solve_one(pd.Series({"AAPL": 5e5, "KO": 5e5}), scenario, currency_of={"AAPL": "USD", "KO": "USD"},
                         base_currency="EUR")
    row = rev.loc[(rev["portfolio"] == "eur_us") & (rev["scenario"] == "covid")].iloc[-1]
    assert row["feasible"] and expected.feasible
    np.testing.assert_allclose(row["multiplier"], expected.multiplier, atol=1e-9)
    np.testing.assert_allclose(row["achieved_loss"], 1e5, rtol=1e-8)
    linear = 1e5 / -(5e5 * ((1 + shocks) * (1 + fx_shock) - 1)).sum()
    assert abs(row["multiplier"] - linear) > 1e-4  # the cross term matters: not the linear answer
