"""What the Dagster instance costs per asset-partition in a single-run backfill.

A toy graph of two business-day-partitioned assets (the project's partitions definition, nothing
computed, nothing stored) with one data-quality check on the second, backfilled over
``--start..--end`` as one run (``BackfillPolicy.single_run``), on each event log:

- ``in-memory``: ``DagsterInstance.ephemeral()`` (what ``risk-pipeline backfill`` used before);
- ``in-memory+subset``: the same with ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true``;
- ``sqlite``: Dagster's default SQLite instance on disk (an empty ``dagster.yaml``);
- ``sqlite+subset``: the same with ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true``
  (one planned event per asset and run instead of one per partition);
- ``batching``: the project's ``dagster.yaml`` (``risk_pipeline.instance.BatchingSqliteEventLogStorage``:
  planned partitions as one event, materializations written in batches of one transaction, the
  check's plan as one row).
- ``postgres``: Dagster's PostgreSQL storage (``dagster-postgres``, ``storage: postgres:``) for runs,
  events and schedules, on a PostgreSQL server this script starts on a unix socket
  (``risk_pipeline.local_servers``; a new database per variant);
- ``postgres+batching``: ``deploy/dagster-postgres.yaml``, the project's PostgreSQL instance
  (``risk_pipeline.instance.BatchingPostgresEventLogStorage``).

With ``--graph real``, the project's whole graph instead (every asset and check, the shipped
configuration, the bundled prices, a new data folder per variant) through ``risk-pipeline
backfill``'s function: the run's time then is mostly the data work, and the difference between
two variants is what the instance costs.

Each variant runs in its own process (the variables are read from the environment). Prints
milliseconds per asset-partition (the run's wall time / (assets x partitions); and the CPU time of
the run's process, which a loaded machine changes less; for the toy graph also the CPU of each
asset-partition beyond the run's fixed work: the run's CPU less that of a run of the range's last
5 days, over the asset-partitions between them), the ratio to the in-memory instance, and checks
that the instance then knows every partition as materialized. ``--checkouts`` measures the code
of several checkouts (e.g. a worktree of an older commit) in turn, ``--repeat`` times: on a loaded
machine, compare their CPU figures of one script run.

    .venv/bin/python benchmarks/bench_instance.py                          # 1990-2022: 30 min and more
    .venv/bin/python benchmarks/bench_instance.py --start 2013-01-02       # 10 years
    .venv/bin/python benchmarks/bench_instance.py --graph real --start 2018-01-02 --variants in-memory batching
    .venv/bin/python benchmarks/bench_instance.py --start 2020-01-02 --variants batching postgres postgres+batching
    git worktree add --detach /tmp/old <commit>
    .venv/bin/python benchmarks/bench_instance.py --start 2013-01-02 --variants batching --checkouts /tmp/old . --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]

# the toy graph's base run: its last days (measure)
BASE_DAYS = 5
# as risk-pipeline backfill runs: the console shows warnings only, not one line per event
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

VARIANTS = {
    # name: (dagster.yaml of the instance or None for in-memory, extra environment)
    "in-memory": (None, {}),
    "in-memory+subset": (None, {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}),
    "sqlite": ("", {}),
    "sqlite+subset": ("", {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}),
    "batching": ((REPO / "dagster.yaml").read_text(), {}),
    "postgres": ("storage:\n  postgres:\n    postgres_url:\n      env: DAGSTER_POSTGRES_URL\n", {}),
    "postgres+batching": ((REPO / "deploy" / "dagster-postgres.yaml").read_text(), {}),
}


def _instance(home: str, yaml: str | None) -> dg.DagsterInstance:
    if yaml is None:
        return dg.DagsterInstance.ephemeral()
    Path(home, "dagster.yaml").write_text(yaml)
    return dg.DagsterInstance.from_config(home)


def measure_real(start: str, end: str, yaml: str | None) -> dict:
    """In this process: the whole graph over start..end as risk-pipeline backfill runs it."""
    import datetime as dt
    import warnings

    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory(prefix="bench_instance_") as home:
        os.environ["RISK_PIPELINE_DATA"] = str(Path(home, "data"))
        from risk_pipeline.defs.lake_assets import business_days
        from risk_pipeline.cli.backfill import backfill
        from risk_pipeline.definitions import defs

        instance = _instance(home, yaml)
        began, cpu = time.perf_counter(), time.process_time()
        report = backfill(dt.date.fromisoformat(start), dt.date.fromisoformat(end), instance=instance)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert report.success
        keys = defs.resolve_asset_graph().materializable_asset_keys
        known = min(len(instance.get_materialized_partitions(key)) for key in keys)
        instance.dispose()
    expected = len(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(start, end)))
    return {"seconds": seconds, "cpu_seconds": cpu, "partitions": expected, "known": known, "assets": len(keys)}


def measure(start: str, end: str, yaml: str | None) -> dict:
    """In this process: one run of the toy graph over start..end; seconds and partitions known. Before it,
    two runs of the range's last ``BASE_DAYS`` days, each on its own new instance (the first warms up
    the process, the second is the base): the CPU of the run's start, its steps' and check's fixed work
    and its end, which the full run's CPU less the base's leaves out of the per-event figure."""
    from risk_pipeline.defs.lake_assets import business_days

    keys = business_days.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
    for _ in range(2):
        base = _measure_toy(keys[-BASE_DAYS], end, yaml)
    return {**_measure_toy(start, end, yaml), "base_cpu_seconds": base["cpu_seconds"], "base_partitions": base["partitions"]}


def _measure_toy(start: str, end: str, yaml: str | None) -> dict:
    """One run of the toy graph over start..end on a new instance; seconds and partitions known."""
    import warnings

    from risk_pipeline.defs.lake_assets import business_days, single_run

    warnings.filterwarnings("ignore")

    @dg.asset(partitions_def=business_days, backfill_policy=single_run)
    def upstream() -> None:
        return None

    @dg.asset(partitions_def=business_days, backfill_policy=single_run, deps=[upstream])
    def downstream() -> None:
        return None

    @dg.asset_check(asset=downstream, blocking=True)
    def downstream_ok() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    with tempfile.TemporaryDirectory(prefix="bench_instance_") as home:
        instance = _instance(home, yaml)
        began, cpu = time.perf_counter(), time.process_time()
        result = dg.materialize([upstream, downstream, downstream_ok], instance=instance, tags=tags,
                                run_config=QUIET)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert result.success
        known = len(instance.get_materialized_partitions(dg.AssetKey("downstream")))
        instance.dispose()
    expected = len(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(start, end)))
    return {"seconds": seconds, "cpu_seconds": cpu, "partitions": expected, "known": known, "assets": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", default="1990-01-02")
    parser.add_argument("--end", default="2022-12-28")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--graph", choices=["toy", "real"], default="toy")
    parser.add_argument("--checkouts", nargs="+", metavar="FOLDER",
                        help="measure the code of each of these checkouts (worktrees) in turn, round after round")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of runs (default 1)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one variant, print JSON
    args = parser.parse_args()
    if args.one:
        yaml, _ = VARIANTS[args.one]
        run = measure_real if args.graph == "real" else measure
        print(json.dumps(run(args.start, args.end, yaml)))
        return

    rows: dict = {}
    with ExitStack() as servers:
        runs = _measure_all(args, rows, servers)
    if args.checkouts or args.repeat > 1:
        _print_checkouts(runs)
    else:
        _print_ratios(args, rows)


def _measure_all(args: argparse.Namespace, rows: dict, servers: ExitStack) -> list[tuple[str, str | None, dict]]:
    """Each variant in a process of its own, ``--repeat`` times, on each checkout of ``--checkouts`` in
    turn (its folder first on ``PYTHONPATH``: its ``risk_pipeline`` measured); prints a line per run.
    ``rows``: the last run of each variant; returns every run, as (variant, checkout, row)."""
    postgres, runs = None, []
    for _ in range(args.repeat):
        for name in args.variants:
            for checkout in args.checkouts or [None]:
                _, extra = VARIANTS[name]
                env = {k: v for k, v in os.environ.items()
                       if k not in ("DAGSTER_EVENT_BATCH_SIZE", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS")}
                if checkout is not None:
                    env["PYTHONPATH"] = os.pathsep.join([checkout, *filter(None, [env.get("PYTHONPATH")])])
                if name.startswith("postgres"):
                    if postgres is None:
                        from risk_pipeline.local_servers import postgres_server

                        postgres = servers.enter_context(postgres_server())
                    extra = {**extra, "DAGSTER_POSTGRES_URL": _new_database(postgres, name)}
                out = subprocess.run([sys.executable, __file__, "--start", args.start, "--end", args.end, "--one", name,
                                      "--graph", args.graph],
                                     env={**env, **extra}, capture_output=True, text=True, cwd=REPO)
                if out.returncode:
                    raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
                row = json.loads(out.stdout.strip().splitlines()[-1])
                asset_partitions = row["assets"] * row["partitions"]
                row["ms_per_asset_partition"] = 1000 * row["seconds"] / asset_partitions
                row["cpu_ms"] = 1000 * row["cpu_seconds"] / asset_partitions
                line = (f"{name:<20} {row['seconds']:8.1f} s  {row['ms_per_asset_partition']:6.2f} ms per asset-partition"
                        f" (CPU of this process {row['cpu_ms']:.3f} ms")
                if "base_cpu_seconds" in row:
                    # the CPU of each event beyond the run's fixed work: the full run's less the base run's
                    row["event_cpu_ms"] = 1000 * (row["cpu_seconds"] - row["base_cpu_seconds"]) / (
                        row["assets"] * (row["partitions"] - row["base_partitions"]))
                    line += f", of each further one {row['event_cpu_ms']:.3f} ms"
                label = "" if checkout is None else f"  [{checkout}]"
                print(f"{line})  ({row['known']} of {row['partitions']} partitions known to the instance){label}", flush=True)
                rows[name] = row
                runs.append((name, checkout, row))
    return runs


def _print_checkouts(runs: list[tuple[str, str | None, dict]]) -> None:
    """Per variant and checkout: the median over the runs of the CPU per asset-partition beyond the
    run's fixed work (or of the whole run's, for the real graph), and its ratio to the first checkout's."""
    import statistics

    print("\nCPU ms per asset-partition (medians of the runs), checkout by checkout:")
    for name in dict.fromkeys(name for name, _, _ in runs):
        first = None
        for checkout in dict.fromkeys(checkout for variant, checkout, _ in runs if variant == name):
            figures = [row.get("event_cpu_ms", row["cpu_ms"]) for variant, at, row in runs
                       if variant == name and at == checkout]
            median = statistics.median(figures)
            first = median if first is None else first
            print(f"  {name:<20} {checkout}: {median:.3f} ms ({', '.join(f'{f:.3f}' for f in figures)})"
                  f"  {median / first:.2f} x the first")


def _print_ratios(args: argparse.Namespace, rows: dict) -> None:
    base = rows.get("in-memory")
    if base:
        print(f"\nratio to in-memory ({args.graph} graph, {args.start}..{args.end}, {base['partitions']} partitions"
              f" x {base['assets']} assets), and the difference in ms per asset-partition:")
        for name, row in rows.items():
            print(f"  {name:<32} {row['seconds'] / base['seconds']:5.2f}"
                  f"  {row['ms_per_asset_partition'] - base['ms_per_asset_partition']:+6.2f} ms")
    batching = rows.get("batching")
    if batching:
        print("\nratio to the batching SQLite instance (the default):")
        for name, row in rows.items():
            print(f"  {name:<32} {row['seconds'] / batching['seconds']:5.2f}")


def _new_database(url: str, name: str) -> str:
    """A new, empty database on the server of ``url`` for one variant; its URL."""
    import sqlalchemy

    database = "bench_" + name.replace("+", "_")
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database}")
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    engine.dispose()
    return url.replace("@/postgres?", f"@/{database}?")


if __name__ == "__main__":
    main()
