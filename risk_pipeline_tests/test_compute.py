"""The ``compute`` resource (risk_pipeline/compute.py): the stress and attribution tables computed
inline and on a Dask LocalCluster of 2 worker processes (on 127.0.0.1, closed after the test) are
identical."""

import os
import time

import dagster as dg
import pandas as pd
import pytest

from risk_pipeline.compute import Compute, close_clients, dask_client
from risk_pipeline.defs.attribution import var_decomposition
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.stress import stress
from risk_pipeline.storage import lake
from risk_pipeline_tests.pipeline_helpers import fast_run_config

START, END = "2020-01-02", "2020-04-30"  # covers the COVID window: historical scenarios and replays too
TABLES = ("stress_results", "reverse_stress", "historical_replay", "var_decomposition")


def _pid(_task: int) -> int:
    time.sleep(0.2)  # long enough for both workers to take tasks
    return os.getpid()


def _stress(engine: dict) -> dict[str, pd.DataFrame]:
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    config = {"ops": {"var_decomposition": {"config": {"estimation_window_days": 20}}},
              "resources": {"compute": {"config": engine}}}
    assert dg.materialize([stress, var_decomposition], run_config=config, tags=tags).success
    return {name: lake.read_range(name).to_pandas() for name in TABLES}


def test_the_stress_and_attribution_tables_are_identical_inline_and_on_two_dask_workers(data_dir):
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    upstream = {"ops": {"prices": fast_run_config()["ops"]["prices"]}}
    assert dg.materialize([prices, returns, portfolio_pnl], run_config=upstream, tags=tags).success
    inline = _stress({"engine": "inline"})
    versions = {name: lake.table_version(name) for name in TABLES}
    try:
        on_dask = _stress({"engine": "dask", "workers": 2})
        # the run's cluster, kept for the process: its tasks ran in 2 other processes
        pids = Compute(engine="dask", workers=2).map(_pid, range(8))
        addresses = list(dask_client(None, 2).scheduler_info()["workers"])
        scheduler = dask_client(None, 2).scheduler.address
    finally:
        close_clients()
    assert len(set(pids)) == 2 and os.getpid() not in pids
    # the cluster listens on this machine only
    assert len(addresses) == 2 and all(a.startswith("tcp://127.0.0.1:") for a in [*addresses, scheduler])
    assert {name: lake.table_version(name) for name in TABLES} == {name: v + 1 for name, v in versions.items()}
    for name in TABLES:
        assert len(inline[name]) > 0 and inline[name]["portfolio"].nunique() == 2
        pd.testing.assert_frame_equal(on_dask[name], inline[name], check_exact=True)


def test_an_unknown_engine_is_refused():
    with pytest.raises(dg.DagsterInvalidConfigError, match="engine"):
        dg.materialize([stress], run_config={"resources": {"compute": {"config": {"engine": "spark"}}}})
