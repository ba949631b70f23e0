"""``dagster dev`` (webserver + daemon) on a temporary instance and data folder, driven through its
GraphQL API: used by ``test_ui.py`` and ``benchmarks/bench_ui_backfill.py``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd

from risk_pipeline.defs.lake_assets import business_days
from risk_pipeline.storage.lake import read_days, stored_days
from risk_pipeline.storage.schemas import TABLES

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).parent / "dagster"
LOCATION = "risk_pipeline.definitions"
REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Ui:
    def __init__(self, port: int, root: Path, home: Path, data: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.root, self.home, self.data = root, home, data

    def gql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # the server's answer says why
            raise AssertionError(f"GraphQL HTTP {exc.code}: {exc.read().decode()[:3000]}") from exc
        assert "errors" not in payload, payload["errors"]
        return payload["data"]


@contextlib.contextmanager
def dagster_dev(root: Path, portfolios: str | None = None, startup_timeout: float = 120) -> Iterator[Ui]:
    """``dagster dev -w workspace.yaml`` on loopback with ``root/home`` (the project's dagster.yaml)
    and ``root/data``; ``portfolios``: the text of a portfolio file (default: the shipped one).
    The process group is killed on exit, whatever happened."""
    home, data = root / "home", root / "data"
    home.mkdir(parents=True)
    data.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "RISK_PIPELINE_DATA": str(data), "PYTHONWARNINGS": "ignore"}
    if portfolios is not None:
        (root / "portfolios.yaml").write_text(portfolios)
        env["RISK_PIPELINE_PORTFOLIOS"] = str(root / "portfolios.yaml")
    port = _free_port()
    log_path = root / "dagster_dev.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        client = Ui(port, root, home, data)
        deadline = time.monotonic() + startup_timeout
        while True:
            assert server.poll() is None, log_path.read_text()[-3000:]
            try:
                status = client.gql("{ workspaceOrError { ... on Workspace { locationEntries { "
                                    "locationOrLoadError { __typename } } } } }")
                entries = status["workspaceOrError"]["locationEntries"]
                if entries and entries[0]["locationOrLoadError"]:
                    kind = entries[0]["locationOrLoadError"]["__typename"]
                    assert kind == "RepositoryLocation", kind
                    break
            except (OSError, urllib.error.URLError):
                pass
            assert time.monotonic() < deadline, "the UI did not start"
            time.sleep(1)
        yield client
    finally:
        # a moment to stop on its own, then killed: `dagster dev` sometimes outlived 30 s after its
        # daemon's threads had stopped, and nothing here is asserted about its shutdown
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


LAUNCH_BACKFILL = """
mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on UnauthorizedError { message } } }
"""

BACKFILL = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status runs { runId status endTime } } ... on PythonError { message } } }
"""


def launch_asset_backfill(ui: Ui, start: str, end: str, run_config: dict) -> str:
    """What the UI's "Materialize all" -> partition range -> "Launch backfill" sends: every asset
    and the range's partition keys; returns the backfill's id."""
    assets = ui.gql("{ assetNodes { assetKey { path } isMaterializable } }")["assetNodes"]
    keys = [{"path": node["assetKey"]["path"]} for node in assets if node["isMaterializable"]]
    names = business_days.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
    params = {"assetSelection": keys, "partitionNames": names, "runConfigData": run_config}
    launched = ui.gql(LAUNCH_BACKFILL, {"p": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def wait_for_backfill(ui: Ui, backfill_id: str, timeout: float, complete: bool = True) -> list[dict]:
    """Poll until the backfill is complete (``complete``), or only until it has runs and all have
    ended (the daemon marks it complete at its next iteration, up to 30 s later); returns its runs.
    Fails on a failed or canceled backfill or run, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        backfill = ui.gql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        status, runs = backfill["status"], backfill["runs"]
        failed = status in {"FAILED", "CANCELED", "COMPLETED_FAILED"} or any(
            run["status"] in {"FAILURE", "CANCELED"} for run in runs)
        assert not failed, (status, runs, (ui.root / "dagster_dev.log").read_text()[-3000:])
        runs_ended = bool(runs) and all(run["status"] == "SUCCESS" for run in runs)
        if runs_ended and (not complete or status in {"COMPLETED", "COMPLETED_SUCCESS"}):
            return runs
        assert time.monotonic() < deadline, f"backfill {backfill_id} still {status} after {timeout:.0f} s"
        time.sleep(1)


@contextlib.contextmanager
def _data_folder(folder: Path) -> Iterator[None]:
    before = os.environ.get("RISK_PIPELINE_DATA")
    os.environ["RISK_PIPELINE_DATA"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            del os.environ["RISK_PIPELINE_DATA"]
        else:
            os.environ["RISK_PIPELINE_DATA"] = before


def _table(folder: Path, table: str) -> tuple[list, pd.DataFrame]:
    """The stored days and rows (sorted) of ``table`` in data folder ``folder``."""
    with _data_folder(folder):
        days = stored_days(table)
        rows = read_days(table, days)
    key = sorted(rows.columns)
    return days, rows.sort_values(key).reset_index(drop=True)[key]


def assert_same_tables(expected: Path, actual: Path) -> set[str]:
    """Every lake table of data folder ``expected`` equals that of ``actual`` (same days, same rows,
    read through ``risk_pipeline.storage.lake``); returns the names of the tables holding rows."""
    compared = set()
    for table in TABLES:
        want_days, want = _table(expected, table)
        got_days, got = _table(actual, table)
        assert got_days == want_days, table
        pd.testing.assert_frame_equal(got, want, obj=table)
        if len(want):
            compared.add(table)
    return compared
