"""The Dagster UI for real: `dagster dev -w workspace.yaml` on localhost, checked through its
GraphQL API (every asset, dependency, check and the schedule; a run launched through it succeeds)
and a headless-Chromium screenshot of the asset graph that must not be blank.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it). The one-time "Join the
Dagster community" dialog is dismissed the way its "Skip" button does it, with the UI's own
``setNuxSeen`` mutation, before the screenshot.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image  # pillow: a dependency of matplotlib

from risk_pipeline.definitions import defs
from risk_pipeline.storage import lake
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).parent / "dagster"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOCATION = "risk_pipeline.definitions"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Ui:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def gql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        assert "errors" not in payload, payload["errors"]
        return payload["data"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    home, data = root / "home", root / "data"
    home.mkdir()
    data.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    (root / "portfolios.yaml").write_text(SMALL_PORTFOLIOS)
    env = {**os.environ, "DAGSTER_HOME": str(home), "RISK_PIPELINE_DATA": str(data),
           "RISK_PIPELINE_PORTFOLIOS": str(root / "portfolios.yaml"), "PYTHONWARNINGS": "ignore"}
    port = _free_port()
    log = open(root / "dagster_dev.log", "w")
    server = subprocess.Popen(
        [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    client = Ui(port)
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, (root / "dagster_dev.log").read_text()[-3000:]
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
    client.root = root
    client.data = data
    yield client
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def test_every_asset_dependency_check_and_the_schedule_are_in_the_ui(ui):
    nodes = ui.gql("{ assetNodes { assetKey { path } dependencyKeys { path } "
                   "assetChecksOrError { ... on AssetChecks { checks { name } } } } }")["assetNodes"]
    shown = {n["assetKey"]["path"][-1]: n for n in nodes}
    graph = defs.get_repository_def().asset_graph
    for key in graph.materializable_asset_keys:
        name = key.path[-1]
        assert name in shown, name
        expected_deps = {p.path[-1] for p in graph.get(key).parent_keys}
        assert {d["path"][-1] for d in shown[name]["dependencyKeys"]} == expected_deps, name
    for check_key in graph.asset_check_keys:
        checks = shown[check_key.asset_key.path[-1]]["assetChecksOrError"]["checks"]
        assert check_key.name in {c["name"] for c in checks}
    # the lineage the design promises
    assert {"prices"} <= {d["path"][-1] for d in shown["returns"]["dependencyKeys"]}
    assert {"var_estimates", "portfolio_pnl"} <= {d["path"][-1] for d in shown["var_backtests"]["dependencyKeys"]}

    schedules = ui.gql(
        "query($s: RepositorySelector!) { schedulesOrError(repositorySelector: $s) { "
        "... on Schedules { results { name cronSchedule executionTimezone pipelineName } } } }",
        {"s": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}},
    )["schedulesOrError"]["results"]
    assert {(s["name"], s["cronSchedule"], s["executionTimezone"], s["pipelineName"]) for s in schedules} == {
        ("daily_after_close", "30 18 * * 1-5", "America/New_York", "daily_risk_job")
    }


LAUNCH = """
mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }
"""


def test_a_materialization_launched_through_graphql_succeeds(ui):
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                     "pipelineName": "daily_risk_job", "assetSelection": [{"path": ["prices"]}],
                     "assetCheckSelection": []},
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2021-03-01"}]},
    }
    launched = ui.gql(LAUNCH, {"p": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 150
    status = None
    while time.monotonic() < deadline:
        status = ui.gql('query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }',
                        {"id": run_id})["runOrError"]["status"]
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(1)
    assert status == "SUCCESS"
    assert dt.date(2021, 3, 1) in lake.stored_days("prices", ui.data / "lake")
    events = ui.gql('{ assetOrError(assetKey: {path: ["prices"]}) { ... on Asset { '
                    'assetMaterializations(limit: 1) { partition runId } } } }')
    assert events["assetOrError"]["assetMaterializations"] == [{"partition": "2021-03-01", "runId": run_id}]


def test_screenshot_of_the_asset_graph_is_not_blank(ui):
    assert CHROMIUM, "headless Chromium is needed: apt-get install chromium (.ci/run does it)"
    ui.gql("mutation { setNuxSeen }")  # what the dialog's "Skip" does
    assert ui.gql("{ shouldShowNux }")["shouldShowNux"] is False
    png = ui.root / "asset_graph.png"
    page = f"{ui.url}/asset-groups"
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--window-size=1600,1000", "--virtual-time-budget=20000", f"--user-data-dir={ui.root / 'chrome'}"]
    subprocess.run([*common, f"--screenshot={png}", page], check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert pixels.shape == (1000, 1600)
    assert pixels.std() > 10, "the screenshot is blank"
    # the rendered graph shows every asset group (collapsed into one node each), and no dialog
    dom = subprocess.run([*common, "--dump-dom", page], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    assert "Global asset lineage" in dom
    graph = defs.get_repository_def().asset_graph
    groups = {graph.get(key).group_name for key in graph.materializable_asset_keys}
    assert {"market_data", "portfolios", "risk", "validation"} <= groups
    for group in groups:
        assert group in dom, group
    assert "Join the Dagster community" not in dom
