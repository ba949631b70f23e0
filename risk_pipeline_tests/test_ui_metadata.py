"""What the Dagster UI shows per partition of a range run: each day's own row count, each book's
official 1-day VaR (risk_summary) and the limits breached and at warning level (limit_status), the
numbers Dagster plots across partitions on an asset's page, checked against the stored rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.defs.limits import limit_status
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.risk_summary import risk_summary
from risk_pipeline.defs.var import var_estimates
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import fast_run_config, materialize_range, module_lake, query

START, END = "2021-02-01", "2021-03-31"
WINDOW = 20


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui_metadata")
    # balanced's 1-day VaR limit is below any VaR: breached every day it is measured; held's is far above it
    (folder / "limits.yaml").write_text("warning_fraction: 0.8\nportfolios:\n"
                                        "  balanced: [{measure: var, horizon_days: 1, confidence: 0.99, amount: 1}]\n"
                                        "  held: [{measure: var, horizon_days: 1, confidence: 0.99, amount: 1000000000}]\n")
    config = fast_run_config(estimation_window_days=WINDOW)
    config["ops"]["limit_status"] = {"config": {"limits_file": str(folder / "limits.yaml"),
                                                "estimation_window_days": WINDOW}}
    with module_lake(folder, SMALL_PORTFOLIOS):
        result = materialize_range(START, END, config, assets=[prices, returns, portfolio_pnl, var_estimates,
                                                               risk_summary, limit_status])
    assert result.success
    return folder / "data", result


def _per_partition(result, table: str) -> dict[str, dict]:
    return {m.partition: {k: v.value for k, v in m.metadata.items()}
            for m in result.asset_materializations_for_node(table)}


def test_each_partition_has_each_books_official_var_of_its_day(run):
    data, result = run
    metadata = _per_partition(result, "risk_summary")
    assert list(metadata) == [d.date().isoformat() for d in pd.bdate_range(START, END)]
    stored = query(data, "select strftime(date, '%Y-%m-%d') as d, portfolio, var_1d_amount from risk_summary")
    assert stored["var_1d_amount"].notna().sum() > 20
    for day, meta in metadata.items():
        rows = stored.loc[stored["d"] == day]
        expected = {f"var_1d_amount.{p}": v for p, v in zip(rows["portfolio"], rows["var_1d_amount"]) if np.isfinite(v)}
        assert {k: v for k, v in meta.items() if k.startswith("var_1d_amount.")} == pytest.approx(expected), day
        assert meta["rows"] == len(rows), day
    # the run's figures on its last partition, the latest materialization the asset's page shows
    assert [day for day, meta in metadata.items() if "rows_in_run" in meta] == [END]
    assert metadata[END]["rows_in_run"] == len(stored)


def test_each_partition_counts_the_limits_breached_and_at_warning_on_its_day(run):
    data, result = run
    metadata = _per_partition(result, "limit_status")
    stored = query(data, "select strftime(date, '%Y-%m-%d') as d, portfolio, status from limit_status")
    counted = 0
    for day, meta in metadata.items():
        rows = stored.loc[stored["d"] == day]
        if rows.empty:  # no limit measured on the day (a holiday): nothing to plot
            assert "limits_breached" not in meta and meta["rows"] == 0, day
            continue
        measured = rows["status"] != "no_data"  # before the estimation window fills
        assert meta["limits_breached"] == (rows["status"] == "danger").sum() == (measured & (rows["portfolio"] == "balanced")).sum()
        assert meta["limits_at_warning"] == (rows["status"] == "warning").sum() == 0
        counted += meta["limits_breached"]
    assert counted == (stored["status"] == "danger").sum() > 20
