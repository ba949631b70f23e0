"""`risk-pipeline var` gives the numbers the pipeline stores for the same book and settings: the graph
runs over a few months on a temporary lake, then the command, and the two are compared; its
statistics are recomputed independently from the stored P&L; bad input is one line naming the
parameter, exit status 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.cli import main
from risk_pipeline_tests.pipeline_helpers import core_assets, materialize_range, module_lake, query

BOOK = """
portfolios:
  - name: apple_microsoft
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.6}
      - {symbol: MSFT, weight: 0.4}
"""
WINDOW, MC_WINDOW = 40, 60
RUN_CONFIG = {"ops": {"var_estimates": {"config": {
    "methods": ["historical", "parametric_t", "monte_carlo"], "confidences": [0.95, 0.99], "horizons": [1, 5],
    "estimation_window_days": WINDOW, "monte_carlo_estimation_window_days": MC_WINDOW}},
    "var_backtests": {"config": {"whole_sample": True}}}}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("var_cli")
    with module_lake(folder, BOOK):
        result = materialize_range("2021-01-04", "2021-06-30", RUN_CONFIG, assets=core_assets())
        assert result.success
        RUN["var_estimates"] = result.asset_materializations_for_node("var_estimates")
        yield folder / "data"


RUN: dict[str, object] = {}


def test_var_estimates_states_its_horizon_convention_in_its_metadata(lake):
    text = RUN["var_estimates"][-1].metadata["horizon_scaling"].value  # the run's last partition
    assert text.startswith("sqrt_time: ") and "times sqrt(h)" in text  # pipeline.yaml's default


def _run(tmp_path, *args: str) -> tuple[pd.DataFrame, dict]:
    csv, js = tmp_path / "days.csv", tmp_path / "summary.json"
    assert main(["var", "--symbols", "AAPL", "MSFT", "--weights", "0.6", "0.4", *args, "--csv", str(csv),
                 "--json", str(js)]) == 0
    return pd.read_csv(csv, parse_dates=["date"]), json.loads(js.read_text())


@pytest.mark.parametrize(("method", "confidence", "horizon", "window"), [
    ("historical", 0.99, 1, WINDOW), ("parametric_t", 0.95, 5, WINDOW), ("monte_carlo", 0.99, 1, MC_WINDOW),
])
def test_the_command_gives_the_pipelines_var_es_and_backtest(lake, tmp_path, method, confidence, horizon, window):
    days, summary = _run(tmp_path, "--method", method, "--confidence", str(confidence), "--horizon", str(horizon),
                         "--window", str(window))
    stored = query(lake, f"""select date, var, es from var_estimates where portfolio = 'apple_microsoft' and
        method = '{method}' and confidence = {confidence} and horizon_days = {horizon} order by date""")
    assert len(stored) > 50
    assert list(days["date"]) == list(stored["date"])  # the same first forecast day: the window's
    np.testing.assert_allclose(days[["var", "es"]].to_numpy(), stored[["var", "es"]].to_numpy(), rtol=1e-9, atol=0)
    row = query(lake, f"""select * from var_backtests where portfolio = 'apple_microsoft' and method = '{method}'
        and confidence = {confidence} and horizon_days = {horizon} and whole_sample
        and as_of = (select max(as_of) from var_backtests)""").iloc[0]
    assert row["n_obs"] == days["backtested"].sum()  # every day at h = 1, every h-th day with a known loss else
    assert days["backtested"].all() or horizon > 1
    backtest = summary["backtest"]
    for name in ("n_obs", "n_breaches", "n00", "n01", "n10", "n11", "traffic_light", "verdict"):
        assert backtest[name] == row[name], name
    for name in ("kupiec_lr", "kupiec_p", "christoffersen_lr", "christoffersen_p", "cc_lr", "cc_p"):
        assert backtest[name] == pytest.approx(row[name], rel=1e-9, abs=1e-12), name
    assert backtest["n_breaches"] == int(days.loc[days["backtested"], "breach"].sum())
    assert summary["median_var"] == pytest.approx(float(stored["var"].median()), rel=1e-9)
    assert summary["median_es"] == pytest.approx(float(stored["es"].median()), rel=1e-9)


def test_statistics_recomputed_from_the_stored_pnl(lake, tmp_path):
    days, summary = _run(tmp_path, "--window", str(WINDOW))  # historical, 0.99, 1 day
    r = query(lake, """select date, simple_return from portfolio_pnl where portfolio = 'apple_microsoft'
        order by date""").set_index("date")["simple_return"]
    r = r.loc[r.index >= days["date"].iloc[0]]
    growth = float(np.prod(1.0 + r.to_numpy()))
    ann_return = growth ** (252 / len(r)) - 1.0
    ann_vol = float(np.std(r.to_numpy(), ddof=1) * np.sqrt(252))
    wealth = np.cumprod(np.concatenate([[1.0], 1.0 + r.to_numpy()]))
    drawdown = max(1.0 - w / max(wealth[: i + 1]) for i, w in enumerate(wealth))
    assert summary["n_days"] == len(r)
    assert summary["annualized_return"] == pytest.approx(ann_return, rel=1e-10)
    assert summary["annualized_volatility"] == pytest.approx(ann_vol, rel=1e-10)
    assert summary["sharpe_ratio"] == pytest.approx(ann_return / ann_vol, rel=1e-10)
    assert summary["max_drawdown"] == pytest.approx(drawdown, rel=1e-10)
    np.testing.assert_allclose(days["equity"], np.cumprod(1.0 + r.to_numpy()), rtol=1e-12)
    np.testing.assert_allclose(days["loss"], -r.to_numpy(), rtol=1e-12)
    assert (days["breach"] == (days["loss"] > days["var"])).all()


@pytest.fixture()
def window_run(lake, tmp_path):
    """The command needs a window that fits the few stored months: 40 days."""
    return lambda *args: _run(tmp_path, "--window", str(WINDOW), *args)


def test_start_and_end_choose_the_days_reported_not_the_estimation_window(window_run):
    whole, _ = window_run()
    part, summary = window_run("--start", "2021-05-03", "--end", "2021-06-15")
    assert part["date"].iloc[0] == pd.Timestamp("2021-05-03") and part["date"].iloc[-1] == pd.Timestamp("2021-06-15")
    same = whole.set_index("date").loc[part["date"], ["var", "es"]]
    np.testing.assert_array_equal(part[["var", "es"]].to_numpy(), same.to_numpy())
    assert summary["n_days"] == len(part) and summary["start"] == "2021-05-03"


def test_the_conventions_are_those_of_the_core(lake, window_run):
    from risk_pipeline.risk import var_es_grid

    days, summary = window_run("--method", "parametric_normal", "--horizon", "10", "--horizon-scaling", "drift",
                               "--return-type", "log")
    assert (summary["horizon_scaling"], summary["return_type"]) == ("drift", "log")
    r = query(lake, "select date, simple_return from portfolio_pnl where portfolio = 'apple_microsoft' order by date")
    grid = var_es_grid(r.set_index("date")["simple_return"], method="parametric_normal", confidences=[0.99],
                       horizons=[10], window=WINDOW, horizon_scaling="drift", return_type="log")
    # to the last bits: the stored P&L is of a notional of 1,000,000, the command's of 1
    np.testing.assert_allclose(days["var"].to_numpy(), grid["var"].to_numpy(), rtol=1e-13, atol=0)


def test_a_csv_of_the_same_closes_gives_the_same_numbers(lake, tmp_path, window_run):
    from_lake, summary = window_run()
    prices = query(lake, "select date, symbol, close, currency from prices where symbol in ('AAPL', 'MSFT')")
    csv = tmp_path / "closes.csv"
    prices.assign(date=prices["date"].dt.date).to_csv(csv, index=False)
    from_csv, csv_summary = window_run("--prices-csv", str(csv))
    pd.testing.assert_frame_equal(from_csv, from_lake)
    assert csv_summary == summary


def test_equal_weights_by_default_and_rescaled_weights_with_a_note(lake, tmp_path, capsys):
    assert main(["var", "--symbols", "AAPL", "MSFT", "--window", str(WINDOW), "--json", str(tmp_path / "a.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["weights"] == {"AAPL": 0.5, "MSFT": 0.5}
    capsys.readouterr()
    assert main(["var", "--symbols", "AAPL", "MSFT", "--weights", "3", "2", "--window", str(WINDOW),
                 "--json", str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["weights"] == {"AAPL": 0.6, "MSFT": 0.4}
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["note: --weights sum to 5; rescaled to sum to 1: AAPL 0.6, MSFT 0.4"]


@pytest.mark.parametrize(("args", "parameter"), [
    (["--symbols", "AAPL", "MSFT", "--weights", "1"], "--weights"),
    (["--symbols", "AAPL", "MSFT", "--weights", "1", "-1"], "--weights"),
    (["--symbols", "AAPL", "NOPE"], "--symbols"),
    (["--symbols", "AAPL", "--method", "magic"], "--method"),
    (["--symbols", "AAPL", "--confidence", "1.5"], "--confidence"),
    (["--symbols", "AAPL", "--window", "ten"], "--window"),
    (["--symbols", "AAPL", "--window", "5000"], "--window"),
    (["--symbols", "AAPL", "--horizon", "0"], "--horizon"),
    (["--symbols", "AAPL", "--horizon-scaling", "linear"], "--horizon-scaling"),
    (["--symbols", "AAPL", "--return-type", "levels"], "--return-type"),
    (["--symbols", "AAPL", "--start", "2021-13-01"], "--start"),
    (["--symbols", "AAPL", "--prices-csv", "/nonexistent/closes.csv"], "/nonexistent/closes.csv"),
])
def test_bad_input_is_one_line_naming_the_parameter(lake, tmp_path, capsys, args, parameter):
    out = tmp_path / "never.csv"
    assert main(["var", *args, "--csv", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and parameter in err[0], err
    assert not out.exists()
