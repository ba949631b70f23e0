"""Servers started on this machine for the tests, the benchmarks and a trial of a deployment:
a PostgreSQL server (the ``pgserver`` package's bundled binaries) for the Dagster instance, an
S3-compatible server (moto's) for the lake and a Dask cluster (a ``dask scheduler`` and ``dask
worker`` processes) for the ``compute`` resource. All listen on this machine only (PostgreSQL on
a unix socket in its data folder, and on 127.0.0.1 when asked; moto and Dask on 127.0.0.1) and
stop when the ``with`` block ends. A team runs its own PostgreSQL, MinIO or a cloud bucket and a
Dask cluster instead (docs/deployment.md); ``pgserver`` and ``moto[server]`` are in the ``dev``
extra.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from risk_pipeline.storage.paths import REPO_ROOT

# moto accepts any credentials; these only have to be present
S3_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@contextmanager
def postgres_server(durable: bool = True, tcp: bool = False) -> Iterator[str]:
    """A new PostgreSQL server in a new folder of the system's temporary folder, listening on a unix
    socket in that folder only; yields its SQLAlchemy URL
    (``postgresql+psycopg2://postgres:@/postgres?host=...``: psycopg2 is the driver dagster-postgres
    installs). The server is stopped and its folder deleted when the block ends. (Run as root,
    ``pgserver`` runs the server as its own system user ``pgserver``, which must be able to reach
    the folder: a folder directly in /tmp, not in pytest's private one.) ``durable=False`` (tests):
    no fsync and no wait for the WAL's flush at commit, for a server whose data is thrown away.
    ``tcp=True``: the server listens on 127.0.0.1 and a free port too, as a server on another
    machine would be reached (``pgserver`` starts it on no IP address: it is restarted so), and the
    URL is ``postgresql+psycopg2://postgres:@127.0.0.1:<port>/postgres``."""
    import pgserver
    from pgserver.utils import PostmasterInfo

    folder = Path(tempfile.mkdtemp(prefix="risk_pipeline_postgres_"))
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        if not durable:
            server.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off; "
                        "SELECT pg_reload_conf();")
        if not tcp:
            yield server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)
            return
        port = _free_port()
        socket_dir = server.get_postmaster_info().socket_dir
        pgserver.pg_ctl(["-w", "-o", f"-h 127.0.0.1 -p {port} -k {socket_dir}", "-l", str(folder / "log"), "restart"],
                        pgdata=folder, user=server.system_user, timeout=60)
        # pgserver's clean-up stops the server process it knows: the restarted one now
        server._postmaster_info = PostmasterInfo.read_from_pgdata(folder)
        yield f"postgresql+psycopg2://postgres:@127.0.0.1:{port}/postgres"
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class S3Server:
    """An S3-compatible server on 127.0.0.1: its endpoint and the environment a client needs."""

    endpoint: str

    @property
    def environment(self) -> dict[str, str]:
        """What ``lake.uri`` on this server needs (docs/deployment.md): endpoint, plain HTTP,
        credentials, region."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ALLOW_HTTP": "true", **S3_TEST_CREDENTIALS}

    def create_bucket(self, bucket: str) -> None:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, region_name=S3_TEST_CREDENTIALS["AWS_REGION"],
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket=bucket)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def s3_server(timeout: float = 30.0) -> Iterator[S3Server]:
    """moto's S3-compatible server in its own process on 127.0.0.1 and a free port (a process of its
    own: in this one, its Python thread would wait for the interpreter lock while delta-rs waits for
    its answers); stopped when the block ends."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **S3_TEST_CREDENTIALS}, start_new_session=True)
    try:
        _wait_for_port(port, process, timeout, "moto's S3 server")
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        stop_process(process)


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float, what: str) -> None:
    """Until something accepts connections on 127.0.0.1:``port``; RuntimeError if ``process``
    ends or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start on 127.0.0.1:{port}") from None
            time.sleep(0.1)


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    """End ``process`` and its process group (started with ``start_new_session``): SIGTERM, then
    SIGKILL after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:  # already gone
            pass
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
    process.wait()


@dataclass(frozen=True)
class DaskCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (:func:`dask_cluster`)."""

    address: str  # the scheduler's, tcp://127.0.0.1:<port>: the compute resource's ``address``
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen]  # by the worker's name (``--name``)

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker ``name`` (its process group), as a machine lost: no goodbye to the
        scheduler, which finds its connection closed and reschedules its tasks."""
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait()


@contextmanager
def dask_cluster(workers: int = 2, environment: dict[str, str] | None = None,
                 timeout: float = 60.0) -> Iterator[DaskCluster]:
    """A Dask cluster of separate processes talking TCP on 127.0.0.1, started with Dask's command
    line as on any machine: ``dask scheduler`` on a free port and ``workers`` ``dask worker``
    processes (one thread each, no nanny: a killed worker stays dead) named ``worker-0``,
    ``worker-1``, ...; every process in a process group of its own, ended with it when the block
    ends. The workers get ``environment`` (default: this process's; the lake's location and
    credentials belong there) and import this process's copy of the project (``PYTHONPATH``)."""
    from distributed import Client

    folder = Path(tempfile.mkdtemp(prefix="risk_pipeline_dask_"))
    env = dict(os.environ if environment is None else environment)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes: dict[str, subprocess.Popen] = {}

    def start(name: str, *arguments: str) -> subprocess.Popen:
        with open(folder / f"{name}.log", "wb") as log:
            processes[name] = subprocess.Popen([sys.executable, "-m", "dask", *arguments], stdout=log,
                                               stderr=subprocess.STDOUT, env=env, cwd=folder,
                                               start_new_session=True)
        return processes[name]

    try:
        scheduler = start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
        _wait_for_port(port, scheduler, timeout, "dask scheduler")
        names = [f"worker-{i}" for i in range(workers)]
        for name in names:
            start(name, "worker", address, "--name", name, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                  "--no-dashboard", "--local-directory", str(folder / name), "--death-timeout", str(timeout))
        with Client(address, timeout=timeout) as client:
            client.wait_for_workers(workers, timeout=timeout)
        yield DaskCluster(address, scheduler, {name: processes[name] for name in names})
    finally:
        for process in reversed(processes.values()):
            stop_process(process)
        shutil.rmtree(folder, ignore_errors=True)
