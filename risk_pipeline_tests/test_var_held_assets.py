"""var_estimates on the positions held, in the pipeline: the weight book's stored numbers are those
of its own return series for every method (what the engine gave before it revalued positions); the
quantity book's are the positions of the previous close revalued under the window's stored returns."""

from __future__ import annotations

import numpy as np
import pytest

from risk_pipeline.risk import var_es_grid
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import core_assets, fast_run_config, materialize_range, module_lake, query

METHODS = ["historical", "parametric_normal", "parametric_t", "cornish_fisher", "ewma", "filtered_historical",
           "conditional_evt", "monte_carlo"]
CONFIG = fast_run_config(methods=METHODS, horizons=[1, 3], monte_carlo_estimation_window_days=30,
                         evt_estimation_window_days=40, evt_exceedances=6, n_scenarios=500)
WINDOWS = {"monte_carlo": 30, "conditional_evt": 40}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("held")
    with module_lake(folder, SMALL_PORTFOLIOS):
        assert materialize_range("2020-08-03", "2020-10-30", run_config=CONFIG, assets=core_assets()).success
        yield folder / "data"


def test_weight_book_numbers_are_its_return_series_numbers_for_every_method(lake):
    pnl = query(lake, "select date, simple_return from portfolio_pnl where portfolio = 'balanced' order by date")
    series = pnl.set_index("date")["simple_return"]
    stored = query(lake, "select * from var_estimates where portfolio = 'balanced'")
    for method in METHODS[:-1]:
        params = {"n_exceedances": 6} if method == "conditional_evt" else {}
        expected = var_es_grid(series, method=method, confidences=[0.95, 0.99], horizons=[1, 3],
                               window=WINDOWS.get(method, 20), **params)
        got = stored.loc[stored["method"] == method].sort_values(["date", "confidence", "horizon_days"])
        assert len(got) == len(expected) > 0, method
        np.testing.assert_allclose(got["var"], expected["var"], rtol=0, atol=1e-12, err_msg=method)
        np.testing.assert_allclose(got["es"], expected["es"], rtol=0, atol=1e-12, err_msg=method)
        np.testing.assert_allclose(got["var_amount"], expected["var"] * 1e6, rtol=1e-12, err_msg=method)


def test_quantity_book_revalues_the_previous_closes_positions(lake):
    closes = query(lake, "select date, symbol, close from prices where symbol in ('MSFT', 'KO')").pivot(
        index="date", columns="symbol", values="close").sort_index()
    rets = query(lake, "select date, symbol, simple_return from returns where symbol in ('MSFT', 'KO')").pivot(
        index="date", columns="symbol", values="simple_return").sort_index()
    stored = query(lake, "select date, var, var_amount from var_estimates where portfolio = 'held' and "
                         "method = 'historical' and confidence = 0.99 and horizon_days = 1 order by date")
    assert len(stored) > 20
    quantities = {"MSFT": 1000.0, "KO": -200.0}
    for _, row in stored.iterrows():
        t = rets.index.get_loc(row["date"])
        held = {s: quantities[s] * closes.loc[rets.index[t - 1], s] for s in quantities}
        value = sum(held.values())
        pnl = np.array([sum(held[s] * rets[s].iloc[k] for s in held) for k in range(t - 20, t)])
        assert row["var"] == pytest.approx(np.quantile(-pnl / value, 0.99), rel=1e-12)
        assert row["var_amount"] == pytest.approx(np.quantile(-pnl / value, 0.99) * value, rel=1e-12)
