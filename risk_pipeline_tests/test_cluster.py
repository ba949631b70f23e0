"""A multi-process deployment (risk_pipeline/cluster_demo.py, docs/deployment.md): PostgreSQL, an
S3-compatible server, a ``dask scheduler`` and two ``dask worker`` processes, separate processes
talking TCP on 127.0.0.1, started by the test and stopped after it; a backfill through Dagster
on them, one worker killed while it processes tasks, gives the embedded default's tables."""

import datetime as dt

import pandas as pd

from risk_pipeline.cluster_demo import SHORT_WINDOWS, run_embedded, run_on_cluster

# a quarter of the whole graph (a year costs ~40 s of CPU per run here, too long for the suite), over
# the COVID crash: the historical scenarios and replays have their window
START, END = dt.date(2020, 1, 2), dt.date(2020, 3, 31)
# tables the compute resource's tasks write (with the two books of the test's portfolios)
COMPUTED = ("stress_results", "reverse_stress", "historical_replay", "var_decomposition")


def test_a_backfill_on_postgres_s3_and_dask_losing_a_worker_equals_the_embedded_default(data_dir, tmp_path):
    embedded = run_embedded(START, END, SHORT_WINDOWS, tmp_path / "embedded")
    cluster = run_on_cluster(START, END, SHORT_WINDOWS, tmp_path / "cluster")

    # a worker was killed while it held tasks: the scheduler took them from it and received each
    # one's result afterwards, from the one worker left
    assert cluster.kill is not None and cluster.kill.keys
    assert cluster.lost and cluster.rerun == cluster.lost
    assert len(cluster.workers_left) == 1 and cluster.kill.worker not in cluster.workers_left
    # the lakes: a folder for the embedded default, the bucket for the cluster
    assert (tmp_path / "embedded" / "lake").is_dir() and not (tmp_path / "cluster" / "lake").exists()
    # the run is recorded in PostgreSQL; every server listened on 127.0.0.1
    assert cluster.runs == [("risk_job", "SUCCESS")]
    assert all("127.0.0.1:" in address for address in cluster.addresses.values())
    assert cluster.addresses["PostgreSQL"].startswith("postgresql+psycopg2://postgres:@127.0.0.1:")

    assert {name: embedded[name]["portfolio"].nunique() for name in COMPUTED} == dict.fromkeys(COMPUTED, 2)
    assert sum(len(frame) > 0 for frame in embedded.values()) >= len(embedded) // 2
    assert cluster.tables.keys() == embedded.keys()
    for name, frame in embedded.items():
        pd.testing.assert_frame_equal(cluster.tables[name], frame, check_exact=True, obj=name)
