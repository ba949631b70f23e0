"""Crashes and concurrency, with the real CLI in separate processes.

- A run killed with SIGKILL while it writes leaves every table at its last commit (a data file
  the killed commit wrote is invisible), and re-running it gives exactly the tables of a clean run.
- Two runs over different ranges at once, two over the same range, and several
  single-partition runs at once (each with Dagster's multiprocess executor, so several steps
  of a run are in flight too): no lock error, no lost or duplicated row, the tables and the
  catalog equal those of one clean run.

The concurrent runs work on a lake already holding a clean run of the whole span, so every
read sees stored neighbours with the same content whatever the interleaving: the final state
must then equal the clean run exactly. (On an empty lake, a range's lookback reads whatever is
stored before it at that moment; adjacent ranges are therefore backfilled in date order or as
one run: docs/storage.md, "Faults and concurrency".)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from risk_pipeline.storage import lake
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import CORE_ASSET_NAMES, core_assets, fast_run_config, materialize_range

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).parent / "dagster"
CORE = list(CORE_ASSET_NAMES)
CONFIG = fast_run_config()


def _env(data: Path, home: Path, portfolios: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    # create the instance's SQLite schema once: two CLI processes creating it at the same
    # moment race on Dagster's migration table ("alembic_version has more than one head")
    dg.DagsterInstance.from_config(str(home)).dispose()
    return {**os.environ, "RISK_PIPELINE_DATA": str(data), "RISK_PIPELINE_PORTFOLIOS": str(portfolios),
            "DAGSTER_HOME": str(home), "PYTHONWARNINGS": "ignore"}


# a process per step, forked from a server process that imported the project once (the executor's
# ``forkserver`` start method) rather than spawned to import it again (5-7 s per step on a loaded machine).
# The modules are named: the CLI's ``-m`` target gives the executor no module to preload, so its forkserver
# held Dagster alone and each step imported the project and the instance's storage again (a run of the 12
# steps 83 s -> 27 s wall under py-spy at load 10).
PRELOAD = ["risk_pipeline.definitions", "risk_pipeline.instance"]
EXECUTORS = {"in_process": {}, "multiprocess": {"start_method": {"forkserver": {"preload_modules": PRELOAD}}}}


def _launch(env: dict[str, str], log: Path, *, partition: str | None = None, span: str | None = None,
            executor: str = "in_process"):
    """The CLI in its own process group; ``executor``: in_process, or multiprocess (a process per step)."""
    target = ["--partition", partition] if partition else ["--partition-range", span]
    config = {**CONFIG, "execution": {"config": {executor: EXECUTORS[executor]}}}
    command = [str(DAGSTER), "asset", "materialize", "-m", "risk_pipeline.definitions",
               "--select", ",".join(CORE), *target, "--config-json", json.dumps(config)]
    handle = open(log, "w")
    # own session: a SIGKILL of the group also kills the executor's step processes
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _finish(process: subprocess.Popen, log: Path, timeout: float = 600) -> str:
    process.wait(timeout=timeout)
    text = log.read_text()
    assert process.returncode == 0, text[-4000:]
    return text


def _tables(data: Path) -> dict[str, pd.DataFrame]:
    """Every stored table at its latest version, sorted, and the catalog's copy of it."""
    out = {}
    root = data / "lake"
    with duckdb.connect(str(data / "risk.duckdb"), read_only=True) as con:
        for name in CORE:
            frame = lake.read_range(name, root=root).to_pandas()
            out[name] = frame.sort_values(list(frame.columns), ignore_index=True)
            shown = con.execute(f"select * from {name}").df()
            out[f"{name}:catalog"] = shown.sort_values(list(shown.columns), ignore_index=True)
    return out


def _assert_same(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for name, frame in expected.items():
        assert len(frame) > 0, name
        pd.testing.assert_frame_equal(got[name], frame, obj=name, check_dtype=False)


def _no_lock_errors(text: str) -> None:
    lowered = text.lower()
    assert "could not set lock" not in lowered and "conflicting lock" not in lowered
    assert "database is locked" not in lowered


@pytest.fixture(scope="module")
def portfolios(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("portfolios") / "portfolios.yaml"
    path.write_text(SMALL_PORTFOLIOS)
    return path


def _clean_run(folder: Path, portfolios: Path, start: str, end: str) -> Path:
    data = folder / "data"
    data.mkdir(parents=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISK_PIPELINE_DATA", str(data))
        patch.setenv("RISK_PIPELINE_PORTFOLIOS", str(portfolios))
        assert materialize_range(start, end, CONFIG, assets=core_assets()).success
    return data


SPAN = ("2020-09-01", "2020-12-31")


@pytest.fixture(scope="module")
def clean_span(tmp_path_factory, portfolios) -> tuple[Path, dict[str, pd.DataFrame]]:
    data = _clean_run(tmp_path_factory.mktemp("clean_span"), portfolios, *SPAN)
    return data, _tables(data)


def test_sigkill_mid_write_then_rerun_equals_a_clean_run(tmp_path, portfolios):
    start, end = "2019-01-02", "2020-12-31"
    expected = _tables(_clean_run(tmp_path / "clean", portfolios, start, end))
    data = tmp_path / "killed" / "data"
    env = _env(data, tmp_path / "killed" / "home", portfolios)
    log = tmp_path / "killed.log"
    process = _launch(env, log, span=f"{start}...{end}")
    written = data / "lake" / "returns"
    deadline = time.monotonic() + 300  # generous: a loaded machine starts the CLI slowly
    try:
        while not (written.exists() and any(written.glob("year=*/*.parquet"))):
            assert process.poll() is None, f"run ended before it was killed:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no returns data file appeared"
            time.sleep(0.002)
    finally:
        # kill the CLI (and any step process) while the second table's data files are written
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    root = data / "lake"
    committed = {t: lake.table_version(t, root) for t in CORE}
    assert committed["prices"] == 0 and committed[CORE[-1]] is None, f"not interrupted mid-run: {committed}"
    # every table reads at its last commit: the killed commit's files, if any, are not part of it
    for table in CORE:
        if committed[table] is not None:
            delta = lake.open_table(table, root)
            assert all(pq.read_metadata(uri).num_rows >= 0 for uri in delta.file_uris())
            lake.read_range(table, root=root)

    # the rerun (in process here; any launcher writes the same way) repairs everything
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISK_PIPELINE_DATA", str(data))
        patch.setenv("RISK_PIPELINE_PORTFOLIOS", str(portfolios))
        assert materialize_range(start, end, CONFIG, assets=core_assets()).success
    _assert_same(_tables(data), expected)


def _runs_at_once(tmp_path, portfolios, clean_span, launches: list[dict]) -> list[str]:
    """Launch the ``launches`` (keyword arguments of ``_launch``) at once on a copy of the clean span's
    lake, wait for each, check that no lock error was logged and that the tables equal the clean run's;
    returns the logs."""
    clean_data, expected = clean_span
    data = tmp_path / "data"
    shutil.copytree(clean_data, data)
    env = _env(data, tmp_path / "home", portfolios)
    runs = [(_launch(env, tmp_path / f"{i}.log", **kwargs), tmp_path / f"{i}.log") for i, kwargs in enumerate(launches)]
    logs = [_finish(process, log) for process, log in runs]
    for text in logs:
        _no_lock_errors(text)
    _assert_same(_tables(data), expected)
    return logs


def test_two_runs_over_different_ranges_at_once(tmp_path, portfolios, clean_span):
    _runs_at_once(tmp_path, portfolios, clean_span, [{"span": "2020-09-01...2020-10-30"},
                                                     {"span": "2020-11-02...2020-12-31"}])


def test_two_runs_over_the_same_range_at_once(tmp_path, portfolios, clean_span):
    _runs_at_once(tmp_path, portfolios, clean_span, [{"span": "2020-11-02...2020-12-31"}] * 2)


def test_several_partitions_in_flight_with_the_multiprocess_executor(tmp_path, portfolios, clean_span):
    launches = [{"partition": day, "executor": "multiprocess"} for day in ("2020-12-22", "2020-12-23")]
    for text in _runs_at_once(tmp_path, portfolios, clean_span, launches):
        assert "multiprocess executor" in text
