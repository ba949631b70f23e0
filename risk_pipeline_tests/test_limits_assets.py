"""limit_status through the pipeline and the limits_respected asset check (WARN / ERROR / pass)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.defs.limits import limit_status, limits_respected
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.risk.limits import classify
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import fast_run_config, materialize_range, module_lake, query

WINDOW = 20
START, END = "2021-01-04", "2021-04-30"
DESIGN = ["date", "portfolio", "measure", "horizon_days", "confidence", "measured_amount", "limit_amount", "utilization",
          "status", "method"]


def _limits_yaml(balanced: float, held: float) -> str:
    return f"""
warning_fraction: 0.8
portfolios:
  balanced:
    - {{measure: var, horizon_days: 1, confidence: 0.99, amount: {balanced}}}
    - {{measure: es, horizon_days: 3, confidence: 0.99, amount: {balanced}}}
  held:
    - {{measure: var, horizon_days: 1, confidence: 0.99, amount: {held}}}
"""


def _run(folder, limits_text: str, start=START, end=END, upstream=True):
    (folder / "limits.yaml").write_text(limits_text)
    config = fast_run_config(estimation_window_days=WINDOW)
    config["ops"]["limit_status"] = {"config": {"limits_file": str(folder / "limits.yaml"), "estimation_window_days": WINDOW}}
    assets = [prices, returns, portfolio_pnl, var_estimates] if upstream else []
    if not upstream:
        config["ops"] = {"limit_status": config["ops"]["limit_status"]}
    result = materialize_range(start, end, config, assets=assets + [limit_status, limits_respected])
    (evaluation,) = result.get_asset_check_evaluations()
    return query(folder / "data", "select * from limit_status order by date, portfolio, measure"), evaluation


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits")
    with module_lake(folder, SMALL_PORTFOLIOS):
        table, evaluation = _run(folder, _limits_yaml(balanced=1, held=1e9))
        pnl = query(folder / "data", "select * from portfolio_pnl order by date")
        yield folder, table, evaluation, pnl


def test_columns_values_and_statuses(lake):
    _, table, _, _ = lake
    assert list(table.columns[: len(DESIGN)]) == DESIGN
    # the quantity book: np.quantile of the losses of the positions held over the day (the previous close's
    # quantities x closes) on each of the WINDOW daily returns before it
    folder = lake[0]
    closes = query(folder / "data", "select date, symbol, close from prices").pivot(
        index="date", columns="symbol", values="close").sort_index()
    daily = closes / closes.shift(1) - 1.0
    rows = table.loc[(table["portfolio"] == "held") & (table["measure"] == "var")].set_index("date")
    for date in rows.index[-3:]:
        before = closes.index[closes.index < date]
        exposures = pd.Series({"MSFT": 1000.0, "KO": -200.0}) * closes.loc[before[-1], ["MSFT", "KO"]]
        losses = -(daily.loc[before[-WINDOW:], ["MSFT", "KO"]].to_numpy() @ exposures.to_numpy())
        np.testing.assert_allclose(rows.loc[date, "measured_amount"], np.quantile(losses, 0.99, method="linear"), rtol=1e-10)
    assert set(table["method"]) == {"historical_positions"}
    # the weight book's 1-day value is var_estimates' historical VaR amount of the same day and window
    stored = query(folder / "data", "select date, var_amount from var_estimates where portfolio = 'balanced' and "
                   "method = 'historical' and confidence = 0.99 and horizon_days = 1").set_index("date")["var_amount"]
    var1 = table.loc[(table["portfolio"] == "balanced") & (table["measure"] == "var")].dropna(subset=["measured_amount"])
    assert len(var1) > 50
    np.testing.assert_allclose(var1["measured_amount"].to_numpy(), stored.loc[var1["date"]].to_numpy(), rtol=1e-10)
    es3 = table.loc[(table["portfolio"] == "balanced") & (table["measure"] == "es")]
    assert set(es3["horizon_days"]) == {3}
    assert (es3.dropna(subset=["measured_amount"])["measured_amount"] > 0).all()
    np.testing.assert_allclose(table["utilization"], table["measured_amount"] / table["limit_amount"])
    assert set(table.loc[table["portfolio"] == "balanced", "status"].dropna()) <= {"danger", "no_data"}
    assert set(table.loc[table["portfolio"] == "held", "status"]) <= {"within_limits", "no_data"}
    assert (table["status"] == "danger").sum() > 0


def test_check_fails_with_error_on_danger(lake):
    _, _, evaluation, _ = lake
    assert not evaluation.passed
    assert evaluation.severity.value == "ERROR"
    assert evaluation.metadata["danger_portfolios"].value == ["balanced"]
    assert evaluation.metadata["date"].value == END


def test_check_warns_at_warning_level_and_passes_within(lake):
    folder, table, _, _ = lake
    last = table.loc[table["date"] == table["date"].max()].set_index(["portfolio", "measure"])
    var_b, es_b = last.loc[("balanced", "var"), "measured_amount"], last.loc[("balanced", "es"), "measured_amount"]
    amount = max(var_b, es_b) / 0.9  # utilization 0.9 at most and at least 0.8 for the larger measure
    assert min(var_b, es_b) / amount < 1.0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISK_PIPELINE_DATA", str(folder / "data"))
        mp.setenv("RISK_PIPELINE_PORTFOLIOS", str(folder / "portfolios.yaml"))
        rows, evaluation = _run(folder, _limits_yaml(balanced=amount, held=1e9), start=END, end=END, upstream=False)
        day = rows.loc[rows["date"] == pd.Timestamp(END)]
        expected = classify(day["measured_amount"].to_numpy(), day["limit_amount"].to_numpy(), 0.8)
        assert list(day["status"]) == list(expected) and "warning" in set(day["status"])
        assert not evaluation.passed and evaluation.severity.value == "WARN"
        assert evaluation.metadata["warning_portfolios"].value == ["balanced"]
        rows, evaluation = _run(folder, _limits_yaml(balanced=1e9, held=1e9), start=END, end=END, upstream=False)
        assert set(rows.loc[rows["date"] == pd.Timestamp(END), "status"]) == {"within_limits"}
        assert evaluation.passed


def test_the_summary_shows_limit_status_s_latest_values_and_their_method(lake, capsys):
    from risk_pipeline.cli import main

    folder = lake[0]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISK_PIPELINE_DATA", str(folder / "data"))
        assert main(["summary"]) == 0
    out = capsys.readouterr().out
    section = out.split(f"Limits on {END} (limit_status), measured by historical_positions: historical simulation")[1]
    latest = query(folder / "data", f"select measured_amount, utilization from limit_status where date = '{END}'")
    assert len(latest) == 3  # balanced: var 1d, es 3d; held: var 1d
    for row in latest.itertuples():
        assert f"{row.measured_amount:,.2f}" in section and f"{100 * row.utilization:.1f}" in section
