"""Tests of stress scenarios, reverse stress and historical replay (risk.stress: scenarios, reverse, replay)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.stress.grid import (
    HeldBook,
    replay_grid,
    resolve_scenarios,
    reverse_stress_grid,
    share_scenarios,
    stress_grid,
)
from risk_pipeline.risk.stress.replay import REPLAY_COLUMNS, replay_episodes, replay_path, summarize_path
from risk_pipeline.risk.stress.reverse import (
    REVERSE_STRESS_COLUMNS,
    reverse_stress,
    reverse_stress_table,
    solve_multiplier,
)
from risk_pipeline.risk.stress.scenarios import (
    STRESS_COLUMNS,
    FxScenario,
    HistoricalScenario,
    ScenarioShocks,
    SectorScenario,
    StressInputError,
    UniformEquityScenario,
    apply_scenario,
    available_scenarios,
    calibrate_scenario,
    scenario_shocks,
    stress_table,
)


def _history(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Generated daily returns of three stocks and a market index on business days from 2019."""
    rng = np.random.default_rng(seed)
    m = rng.normal(0.0003, 0.01, n)
    data = {
        "SP500": m,
        "AAA": 1.2 * m + rng.normal(0, 0.01, n),
        "BBB": 0.7 * m + rng.normal(0, 0.008, n),
        "CCC": 1.5 * m + rng.normal(0, 0.004, n),
    }
    return pd.DataFrame(data, index=pd.bdate_range("2019-01-01", periods=n))


def test_calibrated_scenario_reproduces_window_cumulative_returns():
    """shock = prod(1+r) - 1 over the window, computed independently with a Python loop."""
    rets = _history()
    start, end = rets.index[100], rets.index[140]
    cal = calibrate_scenario(rets, start.date(), end.date())
    assert cal.n_days == 41
    for sym in rets.columns:
        growth = 1.0
        for r in rets.loc[start:end, sym]:
            growth *= 1.0 + r
        assert cal.shocks[sym] == pytest.approx(growth - 1.0, rel=1e-12)
    assert not cal.proxied.any()
    prices = (1 + rets).cumprod()
    assert cal.shocks["AAA"] == pytest.approx(prices["AAA"][end] / prices["AAA"].shift(1)[start] - 1)


def test_missing_symbol_is_beta_proxied_and_flagged():
    """A symbol without data in the window gets beta * market daily returns, beta from the history."""
    rets = _history()
    rets.loc[: rets.index[300], "CCC"] = np.nan  # listed later
    start, end = rets.index[100], rets.index[120]
    cal = calibrate_scenario(rets, start, end)
    both = rets["CCC"].notna()
    beta = np.cov(rets.loc[both, "CCC"], rets.loc[both, "SP500"])[0, 1] / np.var(rets.loc[both, "SP500"], ddof=1)
    expected = np.prod(1 + beta * rets.loc[start:end, "SP500"]) - 1
    assert cal.proxied["CCC"] and not cal.proxied["AAA"]
    assert cal.proxy_beta["CCC"] == pytest.approx(beta)
    assert beta == pytest.approx(1.5, abs=0.1)
    assert cal.shocks["CCC"] == pytest.approx(expected, rel=1e-12)


def test_calibration_refuses_windows_the_data_does_not_cover():
    rets = _history()
    with pytest.raises(StressInputError, match="do not cover"):
        calibrate_scenario(rets, "2030-01-01", "2030-02-01")
    with pytest.raises(StressInputError, match="before start"):
        calibrate_scenario(rets, "2019-03-01", "2019-02-01")
    scen = [HistoricalScenario("late", "", dt.date(2030, 1, 1), dt.date(2030, 2, 1)),
            UniformEquityScenario("u", "", -0.2)]
    assert [s.name for s in available_scenarios(scen, rets.index[-1])] == ["u"]


def test_apply_uniform_and_sector_scenarios_linear_pnl():
    exposures = pd.Series({"AAA": 600.0, "BBB": 500.0, "CCC": -100.0})
    uni = scenario_shocks(UniformEquityScenario("down20", "", -0.2), exposures.index)
    res = apply_scenario(exposures, uni)
    assert res.pnl == pytest.approx(-0.2 * 1000.0)
    assert res.simple_return == pytest.approx(-0.2)
    sector = SectorScenario("tech", "", {"tech": -0.3, "energy": 0.1}, -0.05, {"AAA": "tech", "BBB": "energy"})
    res = apply_scenario(exposures, scenario_shocks(sector, exposures.index))
    assert res.pnl == pytest.approx(600 * -0.3 + 500 * 0.1 + -100 * -0.05)
    table = stress_table([res])
    assert tuple(table.columns) == STRESS_COLUMNS and table["pnl"].iloc[0] == pytest.approx(res.pnl)


def test_fx_shock_on_foreign_positions_is_multiplicative():
    """EUR-based book holding USD stocks: base +10% => USD assets lose 1 - 1/1.1 in EUR;
    combined with a local shock: pnl = E((1 + r_l)(1 + r_fx) - 1)."""
    exposures = pd.Series({"AAA": 800.0, "LOCAL": 200.0})
    currency_of = {"AAA": "USD", "LOCAL": "EUR"}
    fx = scenario_shocks(FxScenario("eur_up", "", 0.10), exposures.index, foreign_currencies=["USD"])
    res = apply_scenario(exposures, fx, currency_of=currency_of, base_currency="EUR")
    assert res.pnl == pytest.approx(800.0 * (1 / 1.1 - 1))
    both = ScenarioShocks("both", pd.Series({"AAA": -0.2, "LOCAL": -0.1}), pd.Series({"USD": -0.05}), ())
    res = apply_scenario(exposures, both, currency_of=currency_of, base_currency="EUR")
    assert res.pnl == pytest.approx(800 * ((0.8 * 0.95) - 1) + 200 * -0.1)
    with pytest.raises(StressInputError, match="JPY"):
        apply_scenario(pd.Series({"X": 1.0}), ScenarioShocks("b", pd.Series({"X": 0.0}), pd.Series(dtype=float), ()),
                       currency_of={"X": "JPY"}, base_currency="EUR")


def test_historical_scenario_shocks_with_fx_and_proxy_flag():
    rets = _history()
    fx = pd.DataFrame({"USD": np.full(len(rets), 0.001)}, index=rets.index)
    scen = HistoricalScenario("ep", "", rets.index[10].date(), rets.index[14].date())
    shocks = scenario_shocks(scen, ["AAA"], foreign_currencies=["USD"], asset_returns=rets, fx_returns=fx)
    assert shocks.fx["USD"] == pytest.approx(1.001**5 - 1)
    res = apply_scenario(pd.Series({"AAA": 100.0}), shocks, currency_of={"AAA": "USD"}, base_currency="EUR")
    assert res.pnl == pytest.approx(100 * ((1 + shocks.equity["AAA"]) * 1.001**5 - 1))
    assert not res.proxied


def test_reverse_stress_finds_linear_multiplier():
    """Linear book: k = target / loss_at_1; loss at k equals the target."""
    exposures = pd.Series({"AAA": 700.0, "BBB": 300.0})
    shocks = ScenarioShocks("s", pd.Series({"AAA": -0.04, "BBB": -0.01}), pd.Series(dtype=float), ())
    loss_at_1 = 700 * 0.04 + 300 * 0.01
    res = reverse_stress(exposures, shocks, target_loss_fraction=0.10)
    assert res.feasible
    assert res.target_loss == pytest.approx(100.0)
    assert res.multiplier == pytest.approx(100.0 / loss_at_1, abs=1e-8)
    assert res.achieved_loss == pytest.approx(100.0, rel=1e-8)
    assert res.iterations > 10
    table = reverse_stress_table([res])
    assert tuple(table.columns) == REVERSE_STRESS_COLUMNS


def test_reverse_stress_infeasible_cases():
    """A scenario in which the book gains, and one too mild for the bracket, are infeasible."""
    exposures = pd.Series({"AAA": 1000.0})
    gain = ScenarioShocks("gain", pd.Series({"AAA": 0.05}), pd.Series(dtype=float), ())
    res = reverse_stress(exposures, gain)
    assert not res.feasible and np.isnan(res.multiplier)
    mild = ScenarioShocks("mild", pd.Series({"AAA": -0.005}), pd.Series(dtype=float), ())
    res = reverse_stress(exposures, mild, bracket=(0.0, 10.0))  # max loss 5% < 10%
    assert not res.feasible and np.isnan(res.multiplier)
    assert reverse_stress(exposures, mild, bracket=(0.0, 30.0)).multiplier == pytest.approx(20.0, abs=1e-8)


def test_solve_multiplier_non_linear_loss():
    """Quadratic loss k^2: target 2 is reached at sqrt(2); the first crossing is found for a
    non-monotone loss (sin), not a later one."""
    sol = solve_multiplier(lambda k: k * k, 2.0)
    assert sol.feasible and sol.multiplier == pytest.approx(np.sqrt(2), abs=1e-9)
    sol = solve_multiplier(np.sin, 0.5, bracket=(0.0, 10.0))
    assert sol.multiplier == pytest.approx(np.pi / 6, abs=1e-9)


def test_replay_worst_point_on_hand_made_path():
    """Two assets, hand-computed buy-and-hold path: worst at day 3."""
    dates = pd.bdate_range("2020-02-24", periods=4)
    rets = pd.DataFrame({"AAA": [-0.10, -0.10, 0.0, 0.20], "BBB": [0.0, 0.10, -0.50, 0.0]}, index=dates)
    exposures = pd.Series({"AAA": 100.0, "BBB": 100.0})
    path = replay_path(exposures, rets)
    expected = [-10.0, 100 * (0.81 - 1) + 10.0, 100 * (0.81 - 1) + 100 * (0.55 - 1), 100 * (0.972 - 1) - 45.0]
    np.testing.assert_allclose(path["cum_pnl"], expected)
    summary = summarize_path("hand", path)
    assert summary.worst_date == dates[2].date()
    assert summary.worst_cum_pnl == pytest.approx(-64.0)
    assert summary.worst_cum_return == pytest.approx(-0.32)
    assert summary.final_cum_return == pytest.approx((-2.8 - 45.0) / 200)
    assert summary.n_days == 4


def test_replay_episodes_final_point_equals_historical_scenario():
    rets = _history()
    exposures = pd.Series({"AAA": 500.0, "BBB": 300.0, "CCC": 200.0})
    ep = HistoricalScenario("ep", "", rets.index[50].date(), rets.index[90].date())
    table = replay_episodes(exposures, rets, [ep])
    assert tuple(table.columns) == REPLAY_COLUMNS
    stressed = apply_scenario(exposures, scenario_shocks(ep, exposures.index, asset_returns=rets))
    assert table["final_cum_return"].iloc[0] == pytest.approx(stressed.simple_return, rel=1e-12)
    assert table["worst_cum_pnl"].iloc[0] <= stressed.pnl + 1e-9


def test_result_tables_keep_their_schema_and_dtypes_when_empty():
    from risk_pipeline.risk.stress.reverse import reverse_stress_table
    from risk_pipeline.risk.stress.scenarios import stress_table

    for table, columns in ((stress_table([]), STRESS_COLUMNS), (reverse_stress_table([]), REVERSE_STRESS_COLUMNS)):
        assert table.empty and tuple(table.columns) == columns
    assert stress_table([])["proxied"].dtype == bool
    assert reverse_stress_table([])["iterations"].dtype == "int64"
    assert replay_episodes(pd.Series(dtype=float), pd.DataFrame(), []).columns.tolist() == list(REPLAY_COLUMNS)


def test_scenarios_calibrated_once_on_the_union_of_two_books_give_each_book_its_own_rows():
    """Two books of one base with different positions and currencies share one calibration over the
    union of their positions: every stress, reverse-stress and replay row is bit for bit the one of
    the book calibrated alone (proxied flags included: only the first book holds a proxied stock and currency)."""
    rets = _history()
    rets.loc[rets.index[300:305], "AAA"] = np.nan  # AAA misses days of the window: beta-proxied
    rets.loc[rets.index[:100], "CCC"] = np.nan  # listed later: AAA's proxy beta must not lose these days
    fx = pd.DataFrame({"EUR": np.linspace(-0.004, 0.005, len(rets)), "GBP": np.linspace(0.003, -0.002, len(rets))},
                      index=rets.index)
    fx.loc[rets.index[303], "GBP"] = np.nan  # a missing GBP fixing in the window: no move, flagged
    window = HistoricalScenario("ep", "", rets.index[298].date(), rets.index[310].date())
    scenarios = [window, UniformEquityScenario("down", "", -0.2), FxScenario("usd_up", "", 0.1)]
    dates = rets.index[320:326]
    growth = pd.Series(np.linspace(1.0, 1.3, len(dates)), index=dates)

    def book(currency_of: dict[str, str]) -> HeldBook:
        exposures = pd.DataFrame({s: 100.0 * (i + 1) * growth for i, s in enumerate(currency_of)}, index=dates)
        exposures.iloc[:, -1] *= -0.5  # a short
        return HeldBook(exposures, exposures.sum(axis=1) + 1000.0, currency_of, "USD")

    def windows(foreign: list[str]) -> dict:
        return {"ep": (rets, fx.loc[:, foreign])}

    first = book({"AAA": "GBP", "BBB": "EUR"})
    second = book({"CCC": "EUR", "BBB": "EUR", "SP500": "USD"})
    union_of = {**first.currency_of, **second.currency_of}
    no_dates = pd.DatetimeIndex([])
    union = HeldBook(pd.DataFrame(columns=sorted(union_of), index=no_dates, dtype=float),
                     pd.Series(index=no_dates, dtype=float), union_of, "USD")
    shared = resolve_scenarios(union, scenarios, windows(["EUR", "GBP"]))
    proxied = []
    for held, foreign in ((first, ["EUR", "GBP"]), (second, ["EUR"])):
        alone = resolve_scenarios(held, scenarios, windows(foreign))
        taken = share_scenarios(held, scenarios, shared)
        for grid in (
            lambda r: stress_grid(held, r.shocks, r.available),
            lambda r: reverse_stress_grid(held, r.shocks, r.available, target_loss_fraction=0.05),
            lambda r: replay_grid(held, r.episodes, r.episodes_available),
        ):
            expected, got = grid(alone), grid(taken)
            assert len(expected) > 0
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
        rows = stress_grid(held, taken.shocks, taken.available)
        proxied.append(bool(rows.loc[rows["scenario"] == "ep", "proxied"].all()))
    assert proxied == [True, False]


def test_reverse_stress_grid_of_many_scenarios_is_each_scenarios_own_bisection():
    """reverse_stress_grid bisects the rows of every scenario at once, each scenario stopping at its
    own step count: every row (multiplier, achieved loss, iterations) is bit for bit that of the
    scenario's grid alone (a linear, a non-linear FX, an infeasible and a partly available
    scenario), and each multiplier is the single-date solver's."""
    from risk_pipeline.risk.stress.reverse import reverse_stress as solve_one

    dates = pd.bdate_range("2022-01-03", periods=7)
    exposures = pd.DataFrame({"AAA": np.linspace(4e5, 6e5, 7), "BBB": np.linspace(3e5, 1e5, 7),
                              "CCC": np.linspace(-5e4, -2e5, 7)}, index=dates)
    currency_of = {"AAA": "USD", "BBB": "EUR", "CCC": "USD"}
    book = HeldBook(exposures, exposures.sum(axis=1), currency_of, "USD")
    scenarios = [
        ScenarioShocks("down", pd.Series({"AAA": -0.2, "BBB": -0.15, "CCC": -0.1}), pd.Series({"EUR": 0.0}), ()),
        ScenarioShocks("eur_down", pd.Series({"AAA": -0.05, "BBB": -0.3, "CCC": 0.02}), pd.Series({"EUR": -0.12}), ()),
        ScenarioShocks("up", pd.Series({"AAA": 0.1, "BBB": 0.1, "CCC": 0.1}), pd.Series({"EUR": 0.05}), ()),
        ScenarioShocks("late", pd.Series({"AAA": -0.33, "BBB": -0.01, "CCC": -0.4}), pd.Series({"EUR": 0.08}), ()),
    ]
    available = np.ones((len(dates), len(scenarios)), dtype=bool)
    available[:3, 3] = False
    together = reverse_stress_grid(book, scenarios, available, target_loss_fraction=0.1, n_grid=9)
    alone = pd.concat([reverse_stress_grid(book, [sc], available[:, [j]], target_loss_fraction=0.1, n_grid=9)
                       for j, sc in enumerate(scenarios)], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone, check_exact=True)
    assert len(together) == 7 * 3 + 4 and not together.loc[together["scenario"] == "up", "feasible"].any()
    assert (together.loc[together["feasible"], "iterations"] > 0).all()
    for row in together.itertuples():
        one = solve_one(exposures.loc[row.date], scenarios[[sc.scenario for sc in scenarios].index(row.scenario)],
                        target_loss_fraction=0.1, currency_of=currency_of, base_currency="USD")
        assert one.feasible == row.feasible
        if row.feasible:
            assert row.multiplier == pytest.approx(one.multiplier, abs=1e-9)


def test_scenario_history_is_read_once_per_version_of_the_returns(data_dir, monkeypatch):
    """The stress step and the option stress steps of a day's run read the same historical windows:
    read once per version of the returns table (a copy each time: a caller changing it changes no
    other's), and again after a commit of the returns, whose rows it then shows."""
    from risk_pipeline.defs import stress
    from risk_pipeline.storage.lake import read_days, write_days

    rets = _history(80)
    days = [d.date() for d in rets.index]
    long = rets.stack().rename("simple_return").rename_axis(["date", "symbol"]).reset_index()
    long = long.assign(log_return=np.log1p(long["simple_return"]), currency="USD")
    write_days("returns", long, days, keys=list(rets.columns))
    window = HistoricalScenario("ep", "", days[40], days[45])
    scenarios = (window, UniformEquityScenario("down", "", -0.2))
    reads = []
    monkeypatch.setattr(stress, "read_days", lambda *args, **kwargs: reads.append(args) or read_days(*args, **kwargs))

    wide, usable, skipped = stress.scenario_history(scenarios, days[-1], 10)
    assert len(reads) == 1 and skipped == [] and list(usable) == ["ep"]
    assert list(usable["ep"][1].date) == days[30:46]
    np.testing.assert_array_equal(wide.loc[usable["ep"][1], rets.columns].to_numpy(), rets.iloc[30:46].to_numpy())
    wide.iloc[:, :] = 0.0  # the caller's copy
    again, _, _ = stress.scenario_history(scenarios, days[-1], 10)
    assert len(reads) == 1 and (again.loc[usable["ep"][1], "AAA"] == rets["AAA"].iloc[30:46].to_numpy()).all()
    stress.scenario_history(scenarios, days[-1], 12)  # another lookback: its own read
    assert len(reads) == 2
    write_days("returns", long.loc[long["date"] == rets.index[42]].assign(simple_return=0.5), [days[42]],
               keys=list(rets.columns))
    changed, _, _ = stress.scenario_history(scenarios, days[-1], 10)
    assert len(reads) == 3 and (changed.loc[rets.index[42]] == 0.5).all()


def test_a_books_shocks_taken_by_position_are_the_label_selections():
    """share_scenarios takes each shared shock (episode) of a book by the positions of its symbols, looked up once
    per index: the Series (frames) of pandas' label selection, values, index, names and types, whether the shared
    indexes are named or not, for no labels (no foreign currency), and pandas' own error for a missing label."""
    from risk_pipeline.risk.stress.grid import _Take

    union = ["KO", "MSFT", "SAP", "AAPL", "JNJ"]
    named = pd.Index(union, name="symbol")
    shocks = [pd.Series(np.arange(5.0) * k, index=index, name=name)
              for k, (index, name) in enumerate([(named, None), (pd.Index(union), "s"), (pd.Index(list(union)), None),
                                                 (named, "t")])]
    for labels in (["AAPL", "KO"], [], union[::-1]):
        take = _Take(labels)
        for series in shocks:
            got, want = take(series), series[labels]
            pd.testing.assert_series_equal(got, want, check_exact=True, check_index_type=True)
            assert (got.index.name, got.name) == (want.index.name, want.name)
        frame = pd.DataFrame(np.arange(15.0).reshape(3, 5), columns=named)
        pd.testing.assert_frame_equal(take.columns(frame), frame.loc[:, labels], check_exact=True,
                                      check_column_type=True)
    with pytest.raises(KeyError):
        _Take(["KO", "XOM"])(shocks[0])
