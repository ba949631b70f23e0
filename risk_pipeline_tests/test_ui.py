"""The Dagster UI for real: `dagster dev -w workspace.yaml` on localhost, checked through its
GraphQL API (every asset, dependency, check and the schedule; a run launched through it succeeds;
a backfill launched through it is one run that stores what ``risk-pipeline backfill`` stores)
and a headless-Chromium screenshot of the asset graph that must not be blank.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it). The one-time "Join the
Dagster community" dialog is dismissed the way its "Skip" button does it, with the UI's own
``setNuxSeen`` mutation, before the screenshot.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time

import dagster as dg
import numpy as np
import pytest
from PIL import Image  # pillow: a dependency of matplotlib

from risk_pipeline.defs.lake_assets import business_days
from risk_pipeline.cli.backfill import backfill
from risk_pipeline.definitions import defs
from risk_pipeline.instance import BatchingSqliteEventLogStorage
from risk_pipeline.storage import lake
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import check_rows, fast_run_config, project_instance
from risk_pipeline_tests.ui_server import (
    LOCATION,
    assert_same_tables,
    dagster_dev,
    launch_asset_backfill,
    wait_for_backfill,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    with dagster_dev(tmp_path_factory.mktemp("ui"), portfolios=SMALL_PORTFOLIOS) as client:
        yield client


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
        ("daily_after_close", "30 18 * * 1-5", "America/New_York", "daily_risk_job"),
        ("weekly_lake_maintenance", "0 6 * * 6", "America/New_York", "lake_maintenance_job"),
    }


BACKFILL_START, BACKFILL_END = "2022-12-01", "2022-12-28"


def test_a_backfill_launched_from_the_ui_is_one_run_storing_what_the_cli_stores(ui, tmp_path, monkeypatch):
    config = fast_run_config(estimation_window_days=10)
    # the CLI's backfill computes the range on a copy of the lake as the UI's backfill finds it
    cli_data = tmp_path / "cli_data"
    shutil.copytree(ui.data, cli_data)
    backfill_id = launch_asset_backfill(ui, BACKFILL_START, BACKFILL_END, config)

    # while the daemon picks the backfill up (up to 30 s), the same range through risk-pipeline
    # backfill, on a persistent instance of its own
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(cli_data))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(ui.root / "portfolios.yaml"))
    cli_instance = project_instance(tmp_path / "cli_home")
    assert backfill(dt.date.fromisoformat(BACKFILL_START), dt.date.fromisoformat(BACKFILL_END),
                    run_config=config, instance=cli_instance).success

    runs = wait_for_backfill(ui, backfill_id, timeout=300, complete=False)
    assert len(runs) == 1  # BackfillPolicy.single_run on every asset
    compared = assert_same_tables(cli_data, ui.data)
    assert {"prices", "returns", "portfolio_pnl", "var_estimates", "var_backtests", "stress_results"} <= compared

    graph = defs.get_repository_def().asset_graph
    days = set(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(BACKFILL_START, BACKFILL_END)))
    assert len(days) == 20
    (cli_run,) = cli_instance.get_runs()
    assert cli_run.job_name == "risk_job"
    # every check evaluated once in the CLI's run, none left planned
    assert sorted((name, status) for name, _, status in check_rows(cli_instance)) == sorted(
        (key.name, "SUCCEEDED") for key in graph.asset_check_keys)
    # what the asset's page shows: every day of the range materialized by the backfill's run, the
    # run's figures on its last day, each day its own rows and the table version holding them
    shown = ui.gql(PARTITIONS_SHOWN, {"key": {"path": ["var_estimates"]}})["assetNodeOrError"]
    assert shown["partitionStats"]["numMaterialized"] == len(days)
    events = {event["partition"]: event for event in shown["assetMaterializations"]}
    assert sorted(events) == [BACKFILL_START, BACKFILL_END]
    assert {event["runId"] for event in events.values()} == {runs[0]["runId"]}
    labels = {day: {entry["label"] for entry in event["metadataEntries"]} for day, event in events.items()}
    assert {"rows", "table_version", "rows_in_run", "run_first_day"} <= labels[BACKFILL_END]
    assert {"rows", "table_version"} <= labels[BACKFILL_START] and "rows_in_run" not in labels[BACKFILL_START]
    ui_instance = dg.DagsterInstance.from_config(str(ui.home))
    try:
        for instance in (cli_instance, ui_instance):
            assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)
            for key in graph.materializable_asset_keys:
                assert days <= instance.get_materialized_partitions(key), key
    finally:
        ui_instance.dispose()
        cli_instance.dispose()


PARTITIONS_SHOWN = """
query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  partitionStats { numMaterialized }
  assetMaterializations(partitions: ["%s", "%s"]) { partition runId metadataEntries { label } } } } }
""" % (BACKFILL_START, BACKFILL_END)

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
