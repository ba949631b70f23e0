"""`risk-pipeline pre-trade`: VaR/ES before and after a trade from stored data, vs a plain reimplementation
and vs limit_status."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.defs.limits import limit_status
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.cli import main
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import fast_run_config, materialize_range, module_lake, query

LOOKBACK = 40
LIMITS = """
portfolios:
  held:
    - {measure: var, horizon_days: 1, confidence: 0.99, amount: 100000}
    - {measure: es, horizon_days: 3, confidence: 0.95, amount: 100000}
  balanced:
    - {measure: var, horizon_days: 1, confidence: 0.99, amount: 30000}
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrade")
    (folder / "limits.yaml").write_text(LIMITS)
    with module_lake(folder, SMALL_PORTFOLIOS) as mp:
        config = {"ops": {"prices": fast_run_config()["ops"]["prices"], "limit_status": {"config": {
            "limits_file": str(folder / "limits.yaml"), "estimation_window_days": LOOKBACK}}}}
        materialize_range("2021-01-04", "2021-04-30", config, assets=[prices, returns, limit_status])
        closes = query(folder / "data", "select date, symbol, close from prices").pivot(
            index="date", columns="symbol", values="close").sort_index()
        yield folder, closes, mp


def _historical(closes: pd.DataFrame, exposures: pd.Series, horizon: int, confidence: float) -> tuple[float, float]:
    """Plain historical simulation: the LOOKBACK daily returns before the last day, overlapping compounded h-day P&L."""
    r = (closes / closes.shift(1) - 1.0).iloc[-LOOKBACK - 1:-1][exposures.index]
    growth = np.array([(1 + r.iloc[s:s + horizon]).prod().to_numpy() for s in range(LOOKBACK - horizon + 1)])
    losses = -((growth - 1.0) @ exposures.to_numpy())
    var = np.quantile(losses, confidence, method="linear")
    return var, losses[losses >= var].mean()


def test_quantity_book_trade_before_and_after(lake, capsys):
    folder, closes, _ = lake
    code = main(["pre-trade", "--portfolio", "held", "--trade", "MSFT=100", "KO=-50", "--limits",
                 str(folder / "limits.yaml"), "--lookback", str(LOOKBACK), "--json"])
    out = json.loads(capsys.readouterr().out)
    last = closes.iloc[-2]  # the positions held over the last day: those of the close before it
    assert out["as_of"] == "2021-04-30" and out["positions_close"] == "2021-04-29"
    assert code == 0 and out["stays_within_limits"] and out["method"] == "historical_positions"
    np.testing.assert_allclose(out["trade_exposures"]["MSFT"], 100 * last["MSFT"])
    before = pd.Series({"MSFT": 1000 * last["MSFT"], "KO": -200 * last["KO"]})
    after = pd.Series({"MSFT": 1100 * last["MSFT"], "KO": -250 * last["KO"]})
    rows = {(r["measure"], r["horizon_days"]): r for r in out["limits"]}
    var_before, _ = _historical(closes, before, 1, 0.99)
    var_after, _ = _historical(closes, after, 1, 0.99)
    _, es3_after = _historical(closes, after, 3, 0.95)
    np.testing.assert_allclose(rows[("var", 1)]["value_before"], var_before, rtol=1e-10)
    np.testing.assert_allclose(rows[("var", 1)]["value_after"], var_after, rtol=1e-10)
    np.testing.assert_allclose(rows[("es", 3)]["value_after"], es3_after, rtol=1e-10)


def test_weight_book_breach_exit_code_and_text(lake, capsys):
    folder, closes, _ = lake
    code = main(["pre-trade", "--portfolio", "balanced", "--trade", "AAPL=2000000", "--limits",
                 str(folder / "limits.yaml"), "--lookback", str(LOOKBACK)])
    text = capsys.readouterr().out
    after = pd.Series({"AAPL": 4e5 + 2e6, "JPM": 3e5, "XOM": 3e5})
    var_after, _ = _historical(closes, after, 1, 0.99)
    assert var_after > 30000 and code == 1
    assert "BREACHES a limit" in text and "-> danger" in text and "AAPL +2,000,000.00" in text
    assert "30,000.00" in text and "e+0" not in text and "historical_positions: historical simulation" in text


@pytest.mark.parametrize("as_of", ["2021-04-30", "2021-03-15"])
@pytest.mark.parametrize("portfolio", ["held", "balanced"])
def test_the_value_before_the_trade_is_limit_status_s_value_of_the_day(lake, capsys, portfolio, as_of):
    folder = lake[0]
    code = main(["pre-trade", "--portfolio", portfolio, "--trade", "XOM=10", "--limits", str(folder / "limits.yaml"),
                 "--lookback", str(LOOKBACK), "--as-of", as_of, "--json"])
    out = json.loads(capsys.readouterr().out)
    stored = query(folder / "data", f"select measure, horizon_days, confidence, measured_amount, status, method from limit_status "
                                    f"where portfolio = '{portfolio}' and date = '{as_of}'")
    assert code in (0, 1) and out["as_of"] == as_of and len(stored) == len(out["limits"]) > 0
    for row in out["limits"]:
        same = stored.loc[(stored["measure"] == row["measure"]) & (stored["horizon_days"] == row["horizon_days"])
                          & np.isclose(stored["confidence"], row["confidence"])].iloc[0]
        np.testing.assert_allclose(row["value_before"], same["measured_amount"], rtol=1e-12)
        assert row["status_before"] == same["status"] and same["method"] == out["method"]


def test_bad_input_is_a_clear_error(lake, capsys):
    folder, _, _ = lake
    assert main(["pre-trade", "--portfolio", "nope", "--trade", "AAPL=1", "--limits", str(folder / "limits.yaml")]) == 2
    assert "unknown portfolio 'nope'" in capsys.readouterr().err
    assert main(["pre-trade", "--portfolio", "held", "--trade", "AAPL", "--limits", str(folder / "limits.yaml")]) == 2
    assert "SYMBOL=AMOUNT" in capsys.readouterr().err
    assert main(["pre-trade", "--portfolio", "held", "--trade", "ZZZZ=5", "--limits", str(folder / "limits.yaml"),
                 "--lookback", "10"]) == 2
    assert "ZZZZ" in capsys.readouterr().err


def test_a_malformed_portfolios_file_is_one_line_and_status_2(lake, capsys, tmp_path):
    folder, _, mp = lake
    bad = tmp_path / "portfolios.yaml"
    bad.write_text("portfolios:\n  - name: held\n  base_currency: USD\n")
    mp.setenv("RISK_PIPELINE_PORTFOLIOS", str(bad))
    try:
        code = main(["pre-trade", "--portfolio", "held", "--trade", "MSFT=1", "--limits", str(folder / "limits.yaml")])
    finally:
        mp.setenv("RISK_PIPELINE_PORTFOLIOS", str(folder / "portfolios.yaml"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"risk-pipeline pre-trade: {bad}, line 3, column")


def test_a_portfolio_holding_an_unpriced_symbol_names_the_symbol_not_the_limits(lake, capsys, tmp_path):
    folder, _, mp = lake
    books = tmp_path / "portfolios.yaml"
    books.write_text(SMALL_PORTFOLIOS + "  - {name: newbook, base_currency: USD, positions: [{symbol: NVDA, quantity: 5}]}\n")
    mp.setenv("RISK_PIPELINE_PORTFOLIOS", str(books))
    try:
        code = main(["pre-trade", "--portfolio", "newbook", "--trade", "MSFT=1", "--limits", str(folder / "limits.yaml"),
                     "--lookback", "10"])
    finally:
        mp.setenv("RISK_PIPELINE_PORTFOLIOS", str(folder / "portfolios.yaml"))
    err = capsys.readouterr().err
    assert code == 2
    assert "portfolio 'newbook' holds symbol(s) ['NVDA'] with no stored prices" in err
    assert "no limits" not in err
