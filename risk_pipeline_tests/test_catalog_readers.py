"""Readers of the catalog while runs go on: never refused, always a whole snapshot.

Two readers in their own processes (risk_pipeline_tests/catalog_snapshots.py): one read-only
connection held open and queried in a loop, and a poller opening the catalog read-only every 0.2 s,
across a multi-month backfill and a day's run (in process, the core assets). Every open and query
succeeds; every observation shows, for every table, exactly the rows of the Delta version that the
catalog's ``lake_versions`` names (old or new, never a mix); the held connection keeps its snapshot
from before the runs after the catalog was replaced under it; the poller never goes back to an older
version. How much readers slow a run is a figure, not a test: benchmarks/bench_readers.py.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from risk_pipeline.storage import catalog, lake, maintenance
from risk_pipeline_tests.catalog_snapshots import mismatches, observe, wrong_columns
from risk_pipeline_tests.pipeline_helpers import (
    CORE_ASSET_NAMES,
    core_assets,
    materialize_range,
)

REPO = Path(__file__).resolve().parents[1]


def _reader(mode: str, data: Path, out: Path, stop: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "risk_pipeline_tests.catalog_snapshots", mode,
                             str(data / "risk.duckdb"), str(out), str(stop)], cwd=REPO)


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _wait_for_a_record(out: Path, reader: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not _records(out):
        assert reader.poll() is None and time.monotonic() < deadline, "the reader made no observation"
        time.sleep(0.05)


def test_readers_in_other_processes_are_never_refused_and_see_whole_snapshots_across_runs(data_dir, tmp_path):
    materialize_range("2021-10-01", "2021-11-30", assets=core_assets())
    stop = tmp_path / "stop"
    held_out, poll_out = tmp_path / "held.jsonl", tmp_path / "poll.jsonl"
    held = _reader("held", data_dir, held_out, stop)
    poller = _reader("poll", data_dir, poll_out, stop)
    try:
        _wait_for_a_record(held_out, held)
        _wait_for_a_record(poll_out, poller)
        with catalog.connect() as con:
            before = observe(con)
        materialize_range("2021-12-01", "2022-02-28", assets=core_assets())  # a backfill of three months
        materialize_range("2022-03-01", "2022-03-01", assets=core_assets())  # a day
        with catalog.connect() as con:
            after = observe(con)
        stop.touch()
        assert held.wait(timeout=120) == 0 and poller.wait(timeout=120) == 0
    finally:
        stop.touch()
        for reader in (held, poller):
            if reader.poll() is None:
                reader.kill()
    held_seen, polled = _records(held_out), _records(poll_out)
    failures = [r["error"] for r in held_seen + polled if "error" in r]
    assert failures == [], failures[:3]
    assert all(r["seen"] == before for r in held_seen), "the held connection left its snapshot"
    assert len(held_seen) > 10
    assert polled[-1]["seen"] == after  # the last observation began after the runs
    for record in (held_seen[0], *polled):
        assert mismatches(record["seen"], data_dir / "lake") == []
    versions = [{name: seen[0] for name, seen in r["seen"].items()} for r in polled]
    for earlier, later in pairwise(versions):
        assert all((later[t] or -1) >= (earlier[t] or -1) for t in later), (earlier, later)
    # the poller saw the catalog change while the runs went on: more than the states before and after
    assert len({json.dumps(v, sort_keys=True) for v in versions}) > 2
    assert {t for t in CORE_ASSET_NAMES if before[t][0] != after[t][0]} == set(CORE_ASSET_NAMES)


def _prices(days, close):
    return pd.DataFrame([{"date": pd.Timestamp(d), "symbol": s, "close": close + i, "currency": "USD", "source": "test"}
                         for d in days for i, s in enumerate(("AAA", "BBB"))])


DAYS = [dt.date(2021, 1, 4), dt.date(2021, 1, 5)]


def test_a_reader_keeps_its_snapshot_through_compaction_and_the_vacuum_of_the_retention_period(data_dir):
    for day in DAYS:  # two files in the year's folder, which compaction will replace by one
        lake.write_days("prices", _prices([day], 1.0), [day], keys=["AAA", "BBB"])
    catalog.refresh_catalog()
    with duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True) as held:
        before = observe(held)
        compacted = maintenance.maintain("prices", retention_days=1)  # the two files replaced by one
        catalog.refresh_catalog()
        lake.write_days("prices", _prices(DAYS, 5.0), DAYS, keys=["AAA", "BBB"])  # which this commit replaces
        catalog.refresh_catalog()
        vacuumed = maintenance.maintain("prices", retention_days=1)
        catalog.refresh_catalog()
        assert (compacted.files_before, compacted.files_after, compacted.files_deleted) == (2, 1, 0)
        assert vacuumed.files_deleted == 0
        assert observe(held) == before
        assert mismatches(before, data_dir / "lake") == []
        # the limit of the guarantee: a vacuum with no retention deletes the files of the replaced versions
        # (the held snapshot's two and the compacted one)
        assert maintenance.maintain("prices", retention_days=0).files_deleted == 3
        with pytest.raises(duckdb.IOException):
            observe(held)
    with catalog.connect() as fresh:
        assert mismatches(observe(fresh), data_dir / "lake") == []
        assert fresh.execute("select sum(close) from prices").fetchone()[0] == 2 * (5.0 + 6.0)


def test_every_view_has_the_columns_and_types_of_its_table_empty_or_not(data_dir):
    catalog.refresh_catalog()
    with catalog.connect() as con:
        assert wrong_columns(con) == []
        assert con.execute("select count(*) from lake_versions").fetchone()[0] == 0
    lake.write_days("prices", _prices(DAYS, 1.0), DAYS, keys=["AAA", "BBB"])
    catalog.refresh_catalog()
    with catalog.connect() as con:
        assert wrong_columns(con) == []  # the partition column `year` of the folder names is not returned
        assert con.execute("select table_name, version from lake_versions").fetchall() == [("prices", 0)]
        assert mismatches(observe(con), data_dir / "lake") == []


def test_the_catalog_s_and_the_lake_s_connections_draw_no_progress_bar(data_dir):
    # DuckDB draws its bar on the process's stdout for a query over 2 s (in the middle of the summary's tables);
    # its default differs between processes (on in a command's, off under pytest): asked in a command's process
    catalog.refresh_catalog()
    script = ("from risk_pipeline.storage import catalog, lake\n"
              "setting = \"select current_setting('enable_progress_bar')\"\n"
              "print(catalog.connect().execute(setting).fetchone()[0],"
              " lake.kept_database(lake.NO_FILE_CACHE).cursor().execute(setting).fetchone()[0])\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
