"""Dead runs are marked dead (dagster.yaml ``run_monitoring``, risk_pipeline/run_liveness.py).

With the real daemon (``dagster-daemon run``) on a temporary instance with the project's
dagster.yaml (run queue of 4): four runs executing in their own processes are killed with
SIGKILL; the daemon marks them FAILURE within a minute, and a run submitted to the queue
afterwards, as the schedule's would be, is dequeued and succeeds. Before this, the four stayed
STARTED for ever and the queue never started another run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from risk_pipeline.run_liveness import PROCESS_TAG, LocalRunLauncher, process_alive, process_tag
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GHOSTS = 4  # dagster.yaml's max_concurrent_runs
# a run executed in its own process, as `risk-pipeline backfill` and `dagster job execute` run one: it
# waits until killed (importing only Dagster keeps the four processes cheap to start)
GHOST_RUN = """
import time, dagster as dg
@dg.op
def wait():
    time.sleep(3600)
@dg.job
def ghost():
    wait()
ghost.execute_in_process(instance=dg.DagsterInstance.get())
"""
HOLIDAY = "2022-11-24"  # Thanksgiving: the daily job's run is short (an empty partition of every asset)


def test_a_process_tag_tells_a_live_process_from_a_dead_one():
    assert process_alive(process_tag()) is True
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tag = process_tag(child.pid)
    assert process_alive(tag) is True
    child.kill()
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, not yet reaped: a zombie
    assert process_alive(tag) is False
    child.wait()
    assert process_alive(tag) is False
    host, pid, start = tag.rsplit(":", 2)
    assert process_alive(f"{host}:{os.getpid()}:{start}") is False  # a reused pid is another process
    assert process_alive(f"another-host:{os.getpid()}:{start}") is None


def _runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs())


def _wait(condition, timeout: float, what: str, *processes: subprocess.Popen) -> float:
    began = time.monotonic()
    while not condition():
        for process in processes:
            assert process.poll() is None, f"{what}: a process ended (status {process.returncode})"
        assert time.monotonic() - began < timeout, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.5)
    return time.monotonic() - began


def _stop(process: subprocess.Popen) -> None:
    """Its process group, with the daemon's code server and run workers, ended whatever happened."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture()
def instance_env(tmp_path):
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    data.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    (tmp_path / "portfolios.yaml").write_text(SMALL_PORTFOLIOS)
    dg.DagsterInstance.from_config(str(home)).dispose()  # the schema, once, before several processes use it
    return {**os.environ, "DAGSTER_HOME": str(home), "RISK_PIPELINE_DATA": str(data),
            "RISK_PIPELINE_PORTFOLIOS": str(tmp_path / "portfolios.yaml"), "PYTHONWARNINGS": "ignore"}


def test_killed_runs_are_marked_failed_and_the_queue_starts_the_next_run(tmp_path, instance_env):
    instance = dg.DagsterInstance.from_config(instance_env["DAGSTER_HOME"])
    assert isinstance(instance.run_launcher, LocalRunLauncher) and instance.run_monitoring_enabled
    started = []
    daemon = None
    try:
        with open(tmp_path / "daemon.log", "w") as log:
            daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "risk_pipeline.definitions"],
                                      cwd=REPO, env=instance_env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        ghosts = [subprocess.Popen([sys.executable, "-c", GHOST_RUN], cwd=tmp_path, env=instance_env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                  for _ in range(GHOSTS)]
        started += ghosts

        def all_started() -> bool:
            runs = _runs(instance)
            return len(runs) == GHOSTS and all(r.status == dg.DagsterRunStatus.STARTED for r in runs)

        _wait(all_started, 120, "the four runs to start", *ghosts)
        # every STARTED run names its process: the pid of the process that executes it
        assert sorted(int(r.tags[PROCESS_TAG].rsplit(":", 2)[1]) for r in _runs(instance)) == sorted(
            g.pid for g in ghosts)
        for ghost in ghosts:
            os.killpg(ghost.pid, signal.SIGKILL)
            ghost.wait()
        killed = time.monotonic()

        # the queue is full of ghosts: a run submitted now waits, as the schedule's run would
        launch = subprocess.run(
            [str(BIN / "dagster"), "job", "launch", "-m", "risk_pipeline.definitions", "-j", "daily_risk_job",
             "--tags", json.dumps({"dagster/partition": HOLIDAY})],
            cwd=REPO, env=instance_env, capture_output=True, text=True, timeout=180)
        assert launch.returncode == 0, launch.stdout[-2000:] + launch.stderr[-2000:]
        (queued,) = [r for r in _runs(instance) if r.job_name == "daily_risk_job"]

        def ghosts_failed() -> bool:
            return all(r.status == dg.DagsterRunStatus.FAILURE for r in _runs(instance) if r.job_name == "ghost")

        _wait(ghosts_failed, 90, "the killed runs to be marked failed", daemon)
        assert time.monotonic() - killed < 60, "the killed runs were marked failed after more than a minute"
        for run in _runs(instance):
            if run.job_name == "ghost":
                failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
                assert "is gone" in failure[-1].message, failure[-1].message

        def finished() -> bool:
            return instance.get_run_by_id(queued.run_id).is_finished

        _wait(finished, 240, "the queued run to be dequeued and to finish", daemon)
        assert instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.SUCCESS
        # the run worker the daemon launched recorded its process too
        assert PROCESS_TAG in instance.get_run_by_id(queued.run_id).tags
    finally:
        for process in started + ([daemon] if daemon else []):
            _stop(process)
        instance.dispose()
