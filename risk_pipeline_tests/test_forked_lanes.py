"""The ``forked_lanes`` executor (``risk_pipeline/forked_lanes.py``): its order of steps, its lanes, a lane
or the run's process killed, and the daily job on it storing what one process stores."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from risk_pipeline.defs import schedules
from risk_pipeline.definitions import defs
from risk_pipeline.forked_lanes import DEFAULT_STEP_SECONDS, step_ranks
from risk_pipeline.instance import ephemeral_instance
from risk_pipeline.storage.schemas import TABLES
from risk_pipeline_tests import lanes_jobs
from risk_pipeline_tests.pipeline_helpers import fast_run_config, materialize_range, query

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")


def _longest_chain(dependencies: dict[str, list[str]], seconds: dict[str, float], key: str) -> float:
    """The largest sum of seconds over every path from ``key`` down its dependents, by enumerating them."""
    dependents = {k: [d for d, ups in dependencies.items() if k in ups] for k in dependencies}
    best, stack = 0.0, [(key, seconds.get(key, DEFAULT_STEP_SECONDS))]
    while stack:
        node, total = stack.pop()
        best = max(best, total)
        stack.extend((d, total + seconds.get(d, DEFAULT_STEP_SECONDS)) for d in dependents[node])
    return best


def test_a_step_s_rank_is_its_longest_chain_of_expected_seconds_to_the_end():
    rng = random.Random(7)
    for _ in range(40):
        keys = [f"s{i}" for i in range(rng.randint(1, 12))]
        dependencies = {k: [u for u in keys[:i] if rng.random() < 0.3] for i, k in enumerate(keys)}
        seconds = {k: rng.choice([0.02, 0.5, 1.7, 3.0]) for k in keys if rng.random() < 0.8}
        ranks = step_ranks(dependencies, seconds)
        assert set(ranks) == set(keys)
        for k in keys:
            assert ranks[k] == pytest.approx(_longest_chain(dependencies, seconds, k), rel=1e-12)
    # a chain far longer than Python's recursion limit
    chain = {f"s{i}": [f"s{i - 1}"] if i else [] for i in range(5000)}
    assert step_ranks(chain, {})["s0"] == pytest.approx(5000 * DEFAULT_STEP_SECONDS)
    # the daily job's chain to its report outranks a step no other waits for
    ranks = step_ranks({"prices": [], "var": ["prices"], "report": ["var"], "fx": ["prices"]},
                       {"prices": 0.6, "var": 0.8, "report": 2.5, "fx": 0.1})
    assert ranks["var"] > ranks["fx"] and ranks["prices"] == pytest.approx(3.9)


@pytest.fixture()
def lanes_instance(tmp_path, monkeypatch):
    """A persistent instance with the project's event log, and the folder where the test jobs' ops record."""
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("LANES_TEST_DIR", str(marks))
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance, marks, home


def _marks(folder: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def _lanes_config(lanes: int) -> dict:
    return {"execution": {"config": {"lanes": lanes}}}


@pytest.mark.parametrize("lanes", [2, 1])
def test_two_lanes_run_independent_steps_at_once_in_processes_of_their_own(lanes_instance, lanes):
    instance, marks, _ = lanes_instance
    result = dg.execute_job(dg.reconstructable(lanes_jobs.diamond_job), instance=instance,
                            run_config=_lanes_config(lanes))
    assert result.success
    ran = _marks(marks)
    assert set(ran) == {"source", "left", "right", "joined"}
    assert ran["joined"]["start"] >= max(ran["left"]["end"], ran["right"]["end"])
    assert min(ran["left"]["start"], ran["right"]["start"]) >= ran["source"]["end"]
    pids = {mark["pid"] for mark in ran.values()}
    if lanes == 2:
        assert os.getpid() not in pids and len(pids) == 2
        # left and right (1.5 s each) ran at the same time, one on each lane
        assert ran["left"]["pid"] != ran["right"]["pid"]
        assert min(ran["left"]["end"], ran["right"]["end"]) > max(ran["left"]["start"], ran["right"]["start"])
    else:  # one lane: the steps in the run's process, one after the other
        assert pids == {os.getpid()}
    # the lanes stored their steps' events in the instance
    stored = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records
    assert sorted(r.event_log_entry.step_key for r in stored) == ["joined", "left", "right", "source"]


def _dead(pid: int) -> bool:
    """The process ``pid`` is gone or a zombie (its parent died and nobody reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def _wait_for(path: Path, process: subprocess.Popen | None = None, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        assert process is None or process.poll() is None, f"the run ended ({process.returncode}) before {path.name}"
        time.sleep(0.05)
    time.sleep(0.05)  # written whole
    return json.loads(path.read_text())


def test_a_lane_killed_during_a_step_fails_that_step_and_the_run_goes_on_without_it(lanes_instance):
    instance, marks, _ = lanes_instance
    killed: list[int] = []

    def kill_the_victim() -> None:
        pid = _wait_for(marks / "victim.started")["pid"]
        killed.append(pid)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_victim)
    killer.start()
    result = dg.execute_job(dg.reconstructable(lanes_jobs.victim_job), instance=instance,
                            run_config=_lanes_config(2), raise_on_error=False)
    killer.join()
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "victim"
    assert f"lane process {killed[0]} was killed by SIGKILL during step victim" in failure.step_failure_data.error.message
    ran = _marks(marks)
    assert "bystander" in ran and "after_victim" not in ran and "victim" not in ran
    skipped = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_SKIPPED}
    assert skipped == {"after_victim"} or "after_victim" not in {
        e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START}
    assert _dead(killed[0]) and _dead(ran["bystander"]["pid"])


def _forks() -> set[int]:
    """This process's children that are forks of it (the same command line): its lanes."""
    ours = Path("/proc/self/cmdline").read_bytes()
    children = {int(pid) for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()}
    return {pid for pid in children if Path(f"/proc/{pid}/cmdline").read_bytes() == ours}


def test_a_lane_that_dies_while_idle_is_replaced_and_the_run_succeeds(lanes_instance):
    instance, marks, _ = lanes_instance
    killed: list[int] = []

    def kill_the_idle_lane() -> None:  # while source runs on one lane, the other waits for a step
        busy = _wait_for(marks / "source.started")["pid"]
        (idle,) = _forks() - {busy}
        killed.append(idle)
        os.kill(idle, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_idle_lane)
    killer.start()
    result = dg.execute_job(dg.reconstructable(lanes_jobs.diamond_job), instance=instance,
                            run_config=_lanes_config(2))
    killer.join()
    assert result.success
    ran = _marks(marks)
    assert len({ran["left"]["pid"], ran["right"]["pid"]}) == 2 and killed[0] not in {m["pid"] for m in ran.values()}
    notes = [e.message for e in result.all_events if e.event_type == dg.DagsterEventType.ENGINE_EVENT]
    assert any(f"lane process {killed[0]} was killed by SIGKILL while idle" in (n or "") for n in notes)


def test_the_lanes_die_with_the_run_s_process(lanes_instance):
    _, marks, home = lanes_instance
    process = subprocess.Popen([str(DAGSTER), "job", "execute", "-f", lanes_jobs.__file__, "-j", "victim_job"],
                               env={**os.environ, "DAGSTER_HOME": str(home)}, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lane = _wait_for(marks / "victim.started", process)["pid"]
        assert lane != process.pid and not _dead(lane)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 10
    while not _dead(lane):
        assert time.monotonic() < deadline, f"lane {lane} outlived its run's process"
        time.sleep(0.05)


DAY = "2021-03-05"


def _tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: query(data_dir, f'select * from "{name}" order by all') for name in TABLES}


def test_the_daily_job_on_forked_lanes_stores_what_one_process_stores(data_dir, tmp_path):
    config = fast_run_config()
    assert materialize_range("2021-02-01", "2021-03-04", config).success
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    run_config = tmp_path / "run.json"
    run_config.write_text(json.dumps({**config, **_lanes_config(2)}))
    # a process of its own, as a run worker is: this one has opened the lake's tables, which a fork would not keep
    subprocess.run([str(DAGSTER), "job", "execute", "-m", "risk_pipeline.definitions", "-j", schedules.daily_risk_job.name,
                    "-c", str(run_config), "--tags", json.dumps({"dagster/partition": DAY})],
                   env={**os.environ, "DAGSTER_HOME": str(home)}, cwd=ROOT, check=True, capture_output=True)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.get_run_records()
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        events = [r.event_log_entry.dagster_event for r in instance.get_records_for_run(record.dagster_run.run_id).records]
        (run_process,) = {e.pid for e in events if e and (e.message or "").startswith("Executing steps on 2 forked lanes")}
        lanes = {e.pid for e in events if e and e.event_type == dg.DagsterEventType.STEP_START}
        assert len(lanes) == 2 and run_process not in lanes
    on_lanes = _tables(data_dir)
    assert all(len(on_lanes[name]) for name in ("prices", "var_estimates", "var_backtests"))
    with ephemeral_instance() as instance:
        assert defs.resolve_job_def(schedules.daily_risk_job.name).execute_in_process(
            partition_key=DAY, run_config=config, instance=instance).success
    in_process = _tables(data_dir)
    for name in TABLES:
        pd.testing.assert_frame_equal(on_lanes[name], in_process[name], check_exact=True, obj=name)
