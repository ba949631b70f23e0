"""The example notebook (examples/notebooks/explore_catalog.ipynb) runs from top to bottom on a small
lake, so it never goes stale: its own assertion checks the breaches it counts against the stored
backtest, and it shows the chart and the ranking of the book's methods."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, REPO, fast_run_config, materialize_range

NOTEBOOK = REPO / "examples" / "notebooks" / "explore_catalog.ipynb"
ASSETS = {"prices", "returns", "portfolio_pnl", "var_estimates", "var_backtests", "forecast_scores", "var_scores"}


@pytest.fixture()
def small_lake(data_dir):
    assets = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= ASSETS]
    config = fast_run_config(methods=["historical", "parametric_normal", "ewma"])
    config["ops"]["var_scores"] = {"config": {"mcs_reps": 200}}  # a small bootstrap: the notebook reads, not tests, it
    assert materialize_range("2021-01-04", "2021-06-30", config, assets=assets).success
    return data_dir


def test_the_notebook_runs_on_the_catalog_and_shows_var_breaches_and_ranking(small_lake, tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # stored clean
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the VaR against the P&L
    text = "".join(o.get("text", "") for o in outputs)
    assert "breaches in the last 250 trading days" in text
    ranking = notebook.cells[-1].outputs[0]["data"]["text/plain"]
    assert all(method in ranking for method in ("historical", "parametric_normal", "ewma"))
