"""What the project's SQLite event log costs per materialization of a range run, on real events.

Reads the materializations of a few assets of a stored run (by default those of ``make run``'s
30-year backfill in ``--home``) from its run file, read-only (``file:...?mode=ro``), and stores
them through ``BatchingSqliteEventLogStorage`` of each ``--checkouts`` folder in turn (its folder
first on ``PYTHONPATH``, a process of its own, a new instance of the project's ``dagster.yaml``
under ``--scratch``), in the batches Dagster hands it: each asset's events in order, 2,000 at a
time and the rest at the asset's end. Prints, each round, the CPU and wall milliseconds per event
of the ``store_event_batch`` calls and of closing the files (the run's process's time, its commits
and checkpoints included), and of that wall time the ends of the transactions in each file (their
commits and any checkpoint) and the closing; then each checkout's median and its ratio to the
first's. It checks that every checkout stored the same rows in every table of both files (the
run's and ``index.db``; the times SQLite gives rows of ``asset_keys`` and ``secondary_indexes``
when they are inserted excepted: ``CLOCK_COLUMNS``) and that each event's text is the stored
run's. On a shared machine compare the CPU column; the wall time holds the commits' writes and syncs.

    /tmp/lake1/.venv/bin/python benchmarks/bench_event_log.py --checkouts /tmp/old . --repeat 3
    /tmp/lake1/.venv/bin/python benchmarks/bench_event_log.py --assets all --checkouts /tmp/old .  # 232,000 events
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import pickle
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BATCH = 2000
# columns SQLite fills with the time of the insert
CLOCK_COLUMNS = {("secondary_indexes", "create_timestamp"), ("secondary_indexes", "migration_completed"),
                 ("asset_keys", "create_timestamp")}
# a table whose materializations have the same metadata but for the partition (trades), one whose
# per-day rows differ (prices), the run's largest events (risk_summary, risk_report), two risk steps
ASSETS = ["prices", "trades", "var_estimates", "limit_status", "risk_summary", "risk_report"]


def read_events(run_file: str, assets: list[str]) -> list[tuple[str, list[str]]]:
    """Each asset's materialization texts in the run file, in the order they were stored."""
    conn = sqlite3.connect(f"file:{run_file}?mode=ro", uri=True)
    try:
        return [(asset, [text for (text,) in conn.execute(
            "SELECT event FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = ? "
            "ORDER BY id", (json.dumps([asset]),))]) for asset in assets]
    finally:
        conn.close()


def store(events_file: str, home: str) -> dict:
    """In this process (its risk_pipeline imported from PYTHONPATH): the events of ``events_file``
    stored through a new instance in ``home``; the seconds of the store_event_batch calls."""
    from dagster import DagsterInstance
    from dagster._serdes import deserialize_value

    with open(events_file, "rb") as f:
        texts = pickle.load(f)
    batches = []
    for _asset, asset_texts in texts:
        events = [deserialize_value(text) for text in asset_texts]
        batches += [events[n:n + BATCH] for n in range(0, len(events), BATCH)]
    shutil.copy(REPO / "dagster.yaml", os.path.join(home, "dagster.yaml"))
    instance = DagsterInstance.from_config(home)
    storage = instance.event_log_storage
    import risk_pipeline.instance as module
    assert type(storage).__name__ == "BatchingSqliteEventLogStorage", type(storage)
    commits = {"run": 0.0, "index": 0.0}
    connect = type(storage)._connect

    @contextmanager
    def timed(self, shard: str):
        # the end of a transaction of the storage: its commit and any checkpoint of the WAL
        with connect(self, shard) as conn:
            yield conn
            began = time.perf_counter()
        commits["index" if shard == "index" else "run"] += time.perf_counter() - began

    type(storage)._connect = timed
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        storage.store_event_batch(batch)
    # closing the files checkpoints what their WAL still holds: part of storing the events
    closing = time.perf_counter()
    storage.dispose()
    commits["close"] = time.perf_counter() - closing
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "events": sum(len(b) for b in batches), "module": module.__file__,
            "commits": commits}


def table_digests(home: str) -> dict[str, str]:
    """A digest of each table's rows (sorted), per database file of the instance's event log."""
    digests = {}
    for path in sorted(glob.glob(os.path.join(home, "history", "runs", "*.db"))):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        name = "index" if path.endswith("index.db") else "run"
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")') if (table, row[1]) not in CLOCK_COLUMNS]
            digest = hashlib.sha256()
            rows = conn.execute('SELECT ' + ", ".join(f'"{c}"' for c in columns) + f' FROM "{table}"').fetchall()
            for row in sorted(rows, key=repr):
                digest.update(repr(row).encode())
            digests[f"{name}.{table}"] = f"{len(rows)} rows {digest.hexdigest()[:16]}"
        conn.close()
    return digests


def event_texts(home: str) -> list[str]:
    (path,) = [p for p in glob.glob(os.path.join(home, "history", "runs", "*.db")) if not p.endswith("index.db")]
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [text for (text,) in conn.execute("SELECT event FROM event_logs ORDER BY id")]
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default="/tmp/lake1/.dagster_home", help="the instance holding the run (read only)")
    parser.add_argument("--run", help="the run's id (default: the instance's one run file)")
    parser.add_argument("--assets", nargs="+", default=ASSETS, help="the assets whose events to store; all: the run's every asset")
    parser.add_argument("--checkouts", nargs="+", default=[str(REPO)])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--scratch", default="/tmp/bench_event_log")
    parser.add_argument("--store", nargs=2, metavar=("EVENTS", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.store:
        print(json.dumps(store(*args.store)))
        return

    runs = os.path.join(args.home, "history", "runs")
    run_file = os.path.join(runs, f"{args.run}.db") if args.run else \
        next(p for p in sorted(glob.glob(os.path.join(runs, "*.db"))) if not p.endswith("index.db"))
    os.makedirs(args.scratch, exist_ok=True)
    if args.assets == ["all"]:
        conn = sqlite3.connect(f"file:{run_file}?mode=ro", uri=True)
        args.assets = [json.loads(key)[0] for (key,) in conn.execute(
            "SELECT asset_key FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key ORDER BY MIN(id)")]
        conn.close()
    texts = read_events(run_file, args.assets)
    events_file = os.path.join(args.scratch, "events.pickle")
    with open(events_file, "wb") as f:
        pickle.dump(texts, f)
    expected = [text for _asset, asset_texts in texts for text in asset_texts]
    print(f"{len(expected):,} materializations of {len(args.assets)} assets from {run_file}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)

    figures: dict[str, list[dict]] = {checkout: [] for checkout in args.checkouts}
    digests: dict[str, dict] = {}
    for round_ in range(args.repeat):
        for n, checkout in enumerate(args.checkouts):
            home = os.path.join(args.scratch, f"home{n}")
            shutil.rmtree(home, ignore_errors=True)
            os.makedirs(home)
            env = {**os.environ, "PYTHONPATH": os.path.abspath(checkout), "DAGSTER_HOME": home}
            out = subprocess.run([sys.executable, __file__, "--store", events_file, home], env=env,
                                 check=True, capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            figures[checkout].append(result)
            print(f"round {round_ + 1} {checkout}: CPU {1e3 * result['cpu'] / result['events']:.4f} ms, "
                  f"wall {1e3 * result['wall'] / result['events']:.4f} ms per event, of which commits "
                  + ", ".join(f"{name} {1e3 * seconds / result['events']:.4f}" for name, seconds in result["commits"].items())
                  + " "
                  f"(load {os.getloadavg()[0]:.1f}; {result['module']})", flush=True)
            if round_ == 0:
                digests[checkout] = table_digests(home)
                assert event_texts(home) == expected, f"{checkout}: the stored texts are not the run's"
    base = args.checkouts[0]
    base_cpu = statistics.median(r["cpu"] for r in figures[base])
    base_wall = statistics.median(r["wall"] for r in figures[base])
    for checkout, results in figures.items():
        cpu = statistics.median(r["cpu"] for r in results)
        wall = statistics.median(r["wall"] for r in results)
        print(f"{checkout}: median CPU {1e3 * cpu / results[0]['events']:.4f} ms ({cpu / base_cpu:.2f} x), "
              f"wall {1e3 * wall / results[0]['events']:.4f} ms ({wall / base_wall:.2f} x) per event")
    for checkout in args.checkouts[1:]:
        different = [table for table in digests[base] if digests[base][table] != digests[checkout].get(table)]
        assert not different and digests[base].keys() == digests[checkout].keys(), (checkout, different)
    print("the same rows in every table of both files:", ", ".join(f"{t} {d.split(' rows')[0]}"
                                                             for t, d in digests[base].items()))


if __name__ == "__main__":
    main()
