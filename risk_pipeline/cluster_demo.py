"""A multi-process deployment on this machine, run end to end (``make cluster-demo``; the test
``risk_pipeline_tests/test_cluster.py``; docs/deployment.md).

Separate processes talking TCP on 127.0.0.1 (``risk_pipeline.local_servers``): a PostgreSQL
server holding the Dagster instance (``deploy/dagster-postgres.yaml``), moto's S3-compatible
server holding the lake (``RISK_PIPELINE_LAKE_URI=s3://...``), a ``dask scheduler`` and two
``dask worker`` processes running the ``compute`` resource's tasks (engine ``dask`` at the
scheduler's address). A backfill runs through Dagster on them while a watcher kills one worker
(SIGKILL) as soon as the scheduler shows it processing tasks: Dask reruns them on the other.
The same backfill on the embedded default (a lake in a folder, the SQLite instance of
``dagster.yaml``, the ``inline`` engine) gives the tables to compare with, exactly. The demo
runs the configured portfolios with short estimation windows (``SHORT_WINDOWS``: the lake starts
empty, and the shipped windows need a year of history before their first estimate).

    .venv/bin/python -m risk_pipeline.cluster_demo [--start 2022-01-03] [--end 2022-12-28]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from risk_pipeline.compute import close_clients
from risk_pipeline.local_servers import DaskCluster, dask_cluster, postgres_server, s3_server, stop_process
from risk_pipeline.storage.paths import REPO_ROOT

BUCKET = "risk-lake"
WORKERS = 2
POLL_SECONDS = 0.01  # the watcher's look at the scheduler
WATCH_SECONDS = 3600.0  # the watcher gives up after this long without seeing a busy worker
LEFT_POLL_SECONDS = 0.5  # then, its look at the workers left
# short estimation windows, so that a backfill into an empty lake has estimates from its first weeks
SHORT_WINDOWS = {"ops": {
    "var_estimates": {"config": {"methods": ["historical"], "confidences": [0.95, 0.99], "horizons": [1],
                                 "estimation_window_days": 20}},
    "var_decomposition": {"config": {"estimation_window_days": 20}},
}}


@dataclass(frozen=True)
class Kill:
    """A worker killed while the scheduler showed it processing ``keys``."""

    worker: str  # its name
    address: str
    keys: tuple[str, ...]


@dataclass
class ClusterRun:
    """What the backfill on the cluster left: its tables and what happened on the way."""

    tables: dict[str, pd.DataFrame]
    seconds: float
    kill: Optional[Kill]
    lost: set[str]  # the tasks the scheduler took from the killed worker: processing on it, or results held only there
    rerun: set[str]  # of those, the ones whose result the scheduler received after it removed the worker
    workers_left: list[str]
    runs: list[tuple[str, str]]  # (job, status) of every run the PostgreSQL instance recorded
    addresses: dict[str, str] = field(default_factory=dict)  # the servers', by role


@contextmanager
def _environment(values: Mapping[str, str], drop: tuple[str, ...] = ()) -> Iterator[None]:
    """``values`` set and ``drop`` unset in ``os.environ`` while the block runs, restored after."""
    saved = {name: os.environ.get(name) for name in [*values, *drop]}
    os.environ.update(values)
    for name in drop:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def read_tables() -> dict[str, pd.DataFrame]:
    """Every table of the lake (where the environment points), its rows sorted by every column: a
    folder and a bucket list a table's files in different orders."""
    from risk_pipeline.storage import lake
    from risk_pipeline.storage.schemas import TABLES

    frames = {name: lake.read_range(name).to_pandas() for name in TABLES}
    return {name: frame.sort_values(list(frame.columns), ignore_index=True) for name, frame in frames.items()}


def _backfill(start: dt.date, end: dt.date, run_config: dict[str, Any], home: Path,
              instance_yaml: Path) -> list[tuple[str, str]]:
    """``risk-pipeline backfill``'s function over ``start..end`` on a new instance in ``home``
    configured by ``instance_yaml``; RuntimeError with its one line if it fails. The instance's runs."""
    import dagster as dg

    from risk_pipeline.cli.backfill import backfill

    home.mkdir(parents=True)
    shutil.copy(instance_yaml, home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        report = backfill(start, end, run_config=run_config, instance=instance)
        if not report.success:
            raise RuntimeError(f"backfill {start}..{end} failed: {report.failure.line}")
        return [(run.job_name, run.status.value) for run in instance.get_runs()]
    finally:
        instance.dispose()


def run_embedded(start: dt.date, end: dt.date, run_config: dict[str, Any], data: Path) -> dict[str, pd.DataFrame]:
    """The backfill on the embedded default: the lake in ``data/lake``, the SQLite instance of the
    project's ``dagster.yaml``, the inline engine. Its tables (:func:`read_tables`)."""
    with _environment({"RISK_PIPELINE_DATA": str(data)}, drop=("RISK_PIPELINE_LAKE_URI",)):
        _backfill(start, end, run_config, data / "dagster_home", REPO_ROOT / "dagster.yaml")
        return read_tables()


def _worker_names(client) -> dict[str, str]:
    """Address -> name of every worker the scheduler has, asked now (``Client.scheduler_info()``
    returns the client's cached copy, which its periodic refresh may replace by one without
    workers)."""
    identity = client.sync(client.scheduler.identity, n_workers=-1)
    return {address: info["name"] for address, info in identity["workers"].items()}


class _WorkerKiller(threading.Thread):
    """Kills the first worker the scheduler shows processing tasks (its whole process, SIGKILL);
    then, should every worker be gone, stops the scheduler, so that the run fails instead of
    waiting for a worker for ever."""

    def __init__(self, cluster: DaskCluster):
        super().__init__(name="worker-killer", daemon=True)
        self.cluster = cluster
        self.kill: Optional[Kill] = None
        self.error: Optional[BaseException] = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            self._kill_a_busy_worker()
            while self.kill is not None and not self._stop_event.wait(LEFT_POLL_SECONDS):
                if all(process.poll() is not None for process in self.cluster.workers.values()):
                    self.error = RuntimeError("every Dask worker died: the scheduler was stopped to end the run")
                    stop_process(self.cluster.scheduler)
                    return
        except BaseException as exc:  # noqa: BLE001 - raised again by run_on_cluster
            self.error = exc

    def _kill_a_busy_worker(self) -> None:
        from distributed import Client

        with Client(self.cluster.address, timeout=30) as client:
            deadline = time.monotonic() + WATCH_SECONDS
            while not self._stop_event.is_set() and time.monotonic() < deadline:
                busy = sorted((address, keys) for address, keys in client.processing().items() if keys)
                if busy:
                    address, keys = busy[0]
                    name = _worker_names(client)[address]
                    self.cluster.kill_worker(name)
                    self.kill = Kill(name, address, tuple(str(key) for key in keys))
                    return
                self._stop_event.wait(POLL_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(60)


def _after_the_kill(address: str, kill: Optional[Kill]) -> tuple[set[str], set[str], list[str]]:
    """What the scheduler says of the killed worker: the tasks it took from it when it found it
    gone (its ``remove-worker`` event: those processing on it and the computed results held only
    by it), those of them whose result it received after that (its transition log), and the
    workers it still has."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        workers = sorted(_worker_names(client).values())
        if kill is None:
            return set(), set(), workers
        removals = [(stamp, event) for stamp, event in client.get_events(kill.address)
                    if event.get("action") == "remove-worker" and not event.get("expected")]
        if not removals:
            return set(), set(), workers
        removed_at, event = removals[0]
        lost = {str(key) for key in [*event["processing-tasks"], *event["lost-computed-tasks"]]}
        story = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.story(*lost))
    rerun = {str(key) for key, _start, finish, *_, stamp in story if finish == "memory" and stamp > removed_at}
    return lost, rerun, workers


def run_on_cluster(start: dt.date, end: dt.date, run_config: dict[str, Any], data: Path) -> ClusterRun:
    """The backfill with the instance on PostgreSQL, the lake on S3 and the ``dask`` engine on a
    scheduler and two worker processes, all started here and stopped before returning; one worker
    is killed while it processes tasks. ``data``: the data folder (reports, logs; the lake is in
    the bucket)."""
    with ExitStack() as stack:
        postgres_url = stack.enter_context(postgres_server(durable=False, tcp=True))
        s3 = stack.enter_context(s3_server())
        s3.create_bucket(BUCKET)
        stack.enter_context(_environment({**s3.environment, "RISK_PIPELINE_LAKE_URI": f"s3://{BUCKET}/lake",
                                          "RISK_PIPELINE_DATA": str(data), "DAGSTER_POSTGRES_URL": postgres_url}))
        # the workers get this environment: the lake's location and credentials
        cluster = stack.enter_context(dask_cluster(WORKERS))
        stack.callback(close_clients)  # the run's client of the scheduler, closed before the cluster stops
        config = {**run_config, "resources": {**run_config.get("resources", {}),
                                              "compute": {"config": {"engine": "dask", "address": cluster.address}}}}
        killer = _WorkerKiller(cluster)
        killer.start()
        stack.callback(killer.stop)
        began = time.perf_counter()
        runs = _backfill(start, end, config, data / "dagster_home", REPO_ROOT / "deploy" / "dagster-postgres.yaml")
        seconds = time.perf_counter() - began
        killer.stop()
        if killer.error is not None:
            raise RuntimeError(f"the watcher of the Dask scheduler failed: {killer.error!r}") from killer.error
        lost, rerun, workers = _after_the_kill(cluster.address, killer.kill)
        return ClusterRun(tables=read_tables(), seconds=seconds, kill=killer.kill, lost=lost, rerun=rerun,
                          workers_left=workers, runs=runs,
                          addresses={"PostgreSQL": postgres_url, "S3": s3.endpoint, "Dask scheduler": cluster.address})


def differences(ours: dict[str, pd.DataFrame], reference: dict[str, pd.DataFrame]) -> dict[str, str]:
    """Table name -> how ``ours`` differs from ``reference`` (exact comparison), for those that do."""
    found = {}
    for name, frame in reference.items():
        try:
            pd.testing.assert_frame_equal(ours[name], frame, check_exact=True)
        except AssertionError as exc:
            found[name] = " ".join(str(exc).split())[:300]
    return found


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2022, 1, 3))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2022, 12, 28))
    args = parser.parse_args(argv)
    run_config = {**SHORT_WINDOWS, "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    folder = Path(tempfile.mkdtemp(prefix="risk_pipeline_cluster_demo_"))
    try:
        print(f"Backfill {args.start}..{args.end} on PostgreSQL + S3 (moto) + dask scheduler and {WORKERS} workers, "
              "one worker killed mid-run ...", flush=True)
        cluster = run_on_cluster(args.start, args.end, run_config, folder / "cluster")
        for role, address in cluster.addresses.items():
            print(f"  {role:<15} {address}")
        if cluster.kill is None:
            print("  no worker was seen processing a task: none killed")
        else:
            print(f"  killed {cluster.kill.worker} while it processed {len(cluster.kill.keys)} task(s); the scheduler "
                  f"took {len(cluster.lost)} task(s) from it and received {len(cluster.rerun)} of them from elsewhere "
                  f"after; workers left: {', '.join(cluster.workers_left)}")
        print(f"  runs in PostgreSQL: {cluster.runs}; {cluster.seconds:.1f} s")
        print("The same backfill on the embedded default (folder, SQLite, inline) ...", flush=True)
        began = time.perf_counter()
        embedded = run_embedded(args.start, args.end, run_config, folder / "embedded")
        print(f"  {time.perf_counter() - began:.1f} s")
        different = differences(cluster.tables, embedded)
        for name, frame in embedded.items():
            print(f"  {name:<28} {len(frame):>8} rows  {'DIFFERENT: ' + different[name] if name in different else 'equal'}")
        whole = not different and cluster.lost and cluster.rerun == cluster.lost
        print("Every table equal to the embedded default's." if whole else "NOT as expected (above).")
        return 0 if whole else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
