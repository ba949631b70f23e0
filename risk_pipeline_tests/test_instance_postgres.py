"""The Dagster instance on PostgreSQL (deploy/dagster-postgres.yaml, risk_pipeline/instance_postgres.py)
on a real PostgreSQL server started for this module (``pgserver``'s bundled binaries, a unix
socket in a temporary folder, no IP address) and stopped after it."""

import datetime as dt
import os
import warnings

import dagster as dg
import pytest
import sqlalchemy
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage

from risk_pipeline.cli.backfill import backfill
from risk_pipeline.defs.lake_assets import business_days
from risk_pipeline.instance_postgres import BatchingPostgresEventLogStorage
from risk_pipeline.local_servers import postgres_server
from risk_pipeline_tests.pipeline_helpers import (
    CORE_ASSET_NAMES,
    REPO,
    check_rows,
    fast_run_config,
    project_instance,
)
from risk_pipeline_tests.test_instance import END, START, _recorded, downstream, downstream_ok, upstream

CORE = " or ".join(f"key:{name}" for name in CORE_ASSET_NAMES)
PLAIN_POSTGRES = "storage:\n  postgres:\n    postgres_url:\n      env: DAGSTER_POSTGRES_URL\n"


@pytest.fixture(scope="module")
def server():
    with postgres_server(durable=False) as url:
        yield url


@pytest.fixture()
def database(server, request, monkeypatch):
    """A new database on the server for one test's instance; DAGSTER_POSTGRES_URL names it."""
    def create(name: str) -> str:
        engine = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        engine.dispose()
        url = server.replace("@/postgres?", f"@/{name}?")
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", url)
        return url
    return create


def _events(url: str, kind: str) -> int:
    """Events of ``kind`` stored in the database of ``url``, counted by a connection of its own."""
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sqlalchemy.text("select count(*) from event_logs where dagster_event_type = :kind"),
                             {"kind": kind}).scalar()
    engine.dispose()
    return count


def test_a_range_run_records_what_dagsters_postgres_storage_records(database, tmp_path):
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    days = len(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(START, END)))
    found = {}
    for name, yaml in (("dagster", PLAIN_POSTGRES), ("project", (REPO / "deploy" / "dagster-postgres.yaml").read_text())):
        url = database(f"range_{name}")
        instance = project_instance(tmp_path / name, yaml)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = dg.materialize([upstream, downstream, downstream_ok], instance=instance, tags=tags)
        assert result.success
        found[name] = (instance, url, _recorded(instance, result.run_id))
    (plain, plain_url, dagster_side), (ours, our_url, project_side) = found["dagster"], found["project"]
    assert isinstance(ours.event_log_storage, BatchingPostgresEventLogStorage)
    assert type(plain.event_log_storage) is PostgresEventLogStorage
    assert all(len(partitions) == days for partitions in project_side["partitions"].values())
    assert project_side["partitions"] == dagster_side["partitions"]
    assert project_side["materializations"] == dagster_side["materializations"]
    assert {key: partition for key, (_, partition) in project_side["latest"].items()} == {
        key: partition for key, (_, partition) in dagster_side["latest"].items()}
    assert project_side["run log"] == dagster_side["run log"]
    # planned: one event per asset instead of one per partition; the check: one row, not one per day
    assert (project_side["planned"], dagster_side["planned"]) == (2, 2 * days)
    assert check_rows(ours) == [("downstream_ok", None, "SUCCEEDED")]
    assert len(check_rows(plain)) == days + 1
    # and the events are in PostgreSQL, seen by another connection
    assert _events(our_url, "ASSET_MATERIALIZATION") == _events(plain_url, "ASSET_MATERIALIZATION") == 2 * days
    for instance, _, _ in found.values():
        instance.dispose()


def test_a_backfill_of_the_graph_is_recorded_in_postgres(database, data_dir, tmp_path):
    """The core chain of the graph (prices to var_backtests, with their checks) over two months on
    the PostgreSQL instance: the run, every asset's partitions and check evaluations are in the
    server's database, as a second instance (the webserver's, another machine's) reads them."""
    url = database("graph")
    home = tmp_path / "home"
    instance = project_instance(home, (REPO / "deploy" / "dagster-postgres.yaml").read_text())
    first, last = dt.date(2021, 1, 4), dt.date(2021, 2, 26)
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        report = backfill(first, last, selection=CORE, run_config=fast_run_config(), instance=instance)
        assert report.success
    finally:
        instance.dispose()
    other = dg.DagsterInstance.from_config(str(home))  # a new instance on the same database
    try:
        runs = other.get_runs()
        assert [(run.job_name, run.status) for run in runs] == [("risk_job", dg.DagsterRunStatus.SUCCESS)]
        expected = set(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(str(first), str(last))))
        keys = [dg.AssetKey(name) for name in CORE_ASSET_NAMES]
        assert {key: other.get_materialized_partitions(key) for key in keys} == {key: expected for key in keys}
        checks = check_rows(other)
        assert checks and all(status == "SUCCEEDED" for _, _, status in checks)
        assert _events(url, "ASSET_MATERIALIZATION") == len(keys) * len(expected)
        assert os.environ["DAGSTER_POSTGRES_URL"] == url
    finally:
        other.dispose()
