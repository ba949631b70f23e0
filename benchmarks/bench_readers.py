"""Run time with and without readers of the catalog: a day's run and a backfill, on a copy of a lake.

Copies the lake of the data folder (``--data``, default ``$RISK_PIPELINE_DATA`` or ``data/``, built
by ``make run``) to a temporary folder, rewrites its catalog, then runs ``risk-pipeline backfill``
over one day (``--day``) and over ``--start``..``--end`` (every asset, an in-memory Dagster
instance), ``--repeat`` times each, alternately alone and with two readers in other processes: one
read-only connection held open and queried in a loop, one opening the catalog read-only every 0.2 s
and querying it (each query: ``lake_versions`` and one date of ``var_estimates``, as a dashboard
would; ``--query versions``: ``lake_versions`` only). A rerun replaces the same days with the same rows, so every run starts from the same
state. Prints each run's wall and CPU seconds (user + system of the run's process: what the readers
could add to the run's own work, less sensitive than the wall to the CPU the readers' own queries take
from it on a small machine) with the load average, the readers' queries and failures, and per run
kind the medians alone and with readers and their ratios.

    .venv/bin/python benchmarks/bench_readers.py
    .venv/bin/python benchmarks/bench_readers.py --start 2022-01-03 --end 2022-12-28 --repeat 3
    .venv/bin/python benchmarks/bench_readers.py --only-day --query versions
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

READER = r"""
import json, sys, time
from pathlib import Path
import duckdb

mode, catalog, stop, light = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4] == "versions"
queries, failures = 0, []
held = duckdb.connect(catalog, read_only=True) if mode == "held" else None
day = held.execute("select max(date) from var_estimates").fetchone()[0] if held else None
while not stop.exists():
    try:
        con = held or duckdb.connect(catalog, read_only=True)
        try:
            con.execute("select * from lake_versions").fetchall()
            if not light:
                con.execute("select * from var_estimates where date = $day", {"day": day or "2022-12-28"}).fetchall()
        finally:
            if con is not held:
                con.close()
        queries += 1
    except duckdb.Error as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    time.sleep(0.2)  # each reader about 5 queries a second
print(json.dumps({"mode": mode, "queries": queries, "failures": len(failures), "first": failures[:1]}))
"""


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(first: str, last: str, data: Path, with_readers: bool, query: str) -> tuple[float, float, list[dict]]:
    """Wall and CPU seconds of ``risk-pipeline backfill --start first --end last`` and the readers'
    counts (the run's CPU is read when it ends, before the readers end and are counted in it)."""
    env = {**os.environ, "RISK_PIPELINE_DATA": str(data), "PYTHONWARNINGS": "ignore"}
    env.pop("DAGSTER_HOME", None)
    stop = data.parent / "stop"
    stop.unlink(missing_ok=True)
    readers = [subprocess.Popen([sys.executable, "-c", READER, mode, str(data / "risk.duckdb"), str(stop), query],
                                stdout=subprocess.PIPE, text=True) for mode in ("held", "poll")] if with_readers else []
    time.sleep(1.0 if readers else 0)  # the readers are up
    began, cpu = time.perf_counter(), _children_cpu()
    out = subprocess.run([str(BIN / "risk-pipeline"), "backfill", "--start", first, "--end", last],
                         cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds, cpu = time.perf_counter() - began, _children_cpu() - cpu
    stop.touch()
    counts = [json.loads(reader.communicate(timeout=60)[0]) for reader in readers]
    if out.returncode:
        raise SystemExit(f"the run over {first}..{last} failed:\n{out.stderr[-3000:]}")
    return seconds, cpu, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.getenv("RISK_PIPELINE_DATA", str(REPO / "data")))
    parser.add_argument("--day", default="2022-12-28")
    parser.add_argument("--start", default="2022-10-03")
    parser.add_argument("--end", default="2022-12-28")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--query", choices=["dashboard", "versions"], default="dashboard",
                        help="the readers' query: lake_versions and one date of var_estimates, or lake_versions only "
                             "(opens and small reads: what a run could wait for, without the CPU of a scan)")
    parser.add_argument("--only-day", action="store_true", help="the day's run only, not the backfill")
    args = parser.parse_args()
    source = Path(args.data).resolve()
    if not (source / "lake").is_dir():
        raise SystemExit(f"no lake in {source}: run `make run` first")
    with tempfile.TemporaryDirectory(prefix="bench_readers_") as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(source, data, ignore=shutil.ignore_patterns("risk.duckdb*", "reports", "logs"))
        env = {**os.environ, "RISK_PIPELINE_DATA": str(data)}
        subprocess.run([str(BIN / "risk-pipeline"), "lake", "catalog"], env=env, check=True, capture_output=True)
        kinds = {f"one day {args.day}": (args.day, args.day)}
        if not args.only_day:
            kinds[f"backfill {args.start}..{args.end}"] = (args.start, args.end)
        times: dict[tuple[str, bool], list[float]] = {}
        cpus: dict[tuple[str, bool], list[float]] = {}
        for name, (first, last) in kinds.items():
            _run(first, last, data, False, args.query)  # warms the OS cache; not counted
            for round_ in range(args.repeat):
                for with_readers in ((False, True) if round_ % 2 == 0 else (True, False)):
                    load = _load()
                    seconds, cpu, counts = _run(first, last, data, with_readers, args.query)
                    times.setdefault((name, with_readers), []).append(seconds)
                    cpus.setdefault((name, with_readers), []).append(cpu)
                    readers = "; ".join(f"{c['mode']}: {c['queries']} queries, {c['failures']} failed {c['first']}"
                                        for c in counts) or "no readers"
                    print(f"{name:<36} {seconds:7.1f} s wall {cpu:7.1f} s CPU  load {load:<15} {readers}", flush=True)
        print(f"\n{'median':<36} {'alone':>9} {'readers':>9} {'ratio':>7}")
        for name in kinds:
            for what, values in (("wall", times), ("CPU", cpus)):
                alone, read = statistics.median(values[(name, False)]), statistics.median(values[(name, True)])
                print(f"{name + ', ' + what:<36} {alone:8.1f}s {read:8.1f}s {read / alone:7.2f}")


if __name__ == "__main__":
    main()
