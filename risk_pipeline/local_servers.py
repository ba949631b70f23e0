"""Servers started on this machine for the tests, the benchmarks and a trial of a deployment:
a PostgreSQL server (the ``pgserver`` package's bundled binaries) for the Dagster instance and an
S3-compatible server (moto's) for the lake. Both listen on this machine only (PostgreSQL on a
unix socket in its data folder and on no IP address, moto on 127.0.0.1) and stop when the
``with`` block ends. A team runs its own PostgreSQL and MinIO or a cloud bucket instead
(docs/deployment.md); ``pgserver`` and ``moto[server]`` are in the ``dev`` extra.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# moto accepts any credentials; these only have to be present
S3_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@contextmanager
def postgres_server(durable: bool = True) -> Iterator[str]:
    """A new PostgreSQL server in a new folder of the system's temporary folder, listening on a unix
    socket in that folder only; yields its SQLAlchemy URL
    (``postgresql+psycopg2://postgres:@/postgres?host=...``: psycopg2 is the driver dagster-postgres
    installs). The server is stopped and its folder deleted when the block ends. (Run as root,
    ``pgserver`` runs the server as its own system user ``pgserver``, which must be able to reach
    the folder: a folder directly in /tmp, not in pytest's private one.) ``durable=False`` (tests):
    no fsync and no wait for the WAL's flush at commit, for a server whose data is thrown away."""
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="risk_pipeline_postgres_"))
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        if not durable:
            server.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off; "
                        "SELECT pg_reload_conf();")
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)
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
                               env={**os.environ, **S3_TEST_CREDENTIALS})
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's S3 server did not start on 127.0.0.1:{port}") from None
                time.sleep(0.1)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
