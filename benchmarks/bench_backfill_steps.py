"""Backfill steps of ``make run``, each alone over the whole stored history: this checkout against a
baseline revision, with a check that both store the same table.

For each side (this checkout, and ``--baseline`` REV exported by ``git archive`` to a temporary
folder) the script copies the lake of ``--data`` (a data folder built by ``make run``) to a
scratch folder, then runs each step of ``--steps`` in turn, in a fresh process with that code
first on ``PYTHONPATH``: its own table is deleted, then ``dagster.materialize`` of the one asset
over every stored day of ``prices`` (one run, as ``risk-pipeline backfill`` runs it) writes it
again, from the inputs stored in the copy, on the instance ``risk-pipeline backfill`` records a run on without
``DAGSTER_HOME`` (``risk_pipeline.instance.ephemeral_instance``) with Dagster's console at INFO, as ``make run``:
Dagster's own in-memory instance and its console at DEBUG stored and logged the step's 8,607 materializations one
by one, some 45 s of every step alone (``option_limit_status`` 49.5 s where its step of ``make run`` takes 2.5 s). With ``--engine dask`` the LocalCluster is started and its workers warmed up before the step, as ``make run``'s
first steps leave it, for an asset whose ``compute`` resource the run configures. It prints each step's wall and CPU seconds (user +
system of the process, imports included; less disturbed than the wall by other jobs on a shared
machine; with ``--engine dask`` it leaves out the workers' CPU, so compare walls on an idle machine),
the step's own wall (the run, without the process's imports and the cluster's start), the ratios, and whether the two sides' tables are equal: every row and column, the rows sorted,
exact (``pandas.testing.assert_frame_equal(check_exact=True)``; NaN equals NaN). A step of several
tables (``stress``) writes and compares each of them.

    .venv/bin/python benchmarks/bench_backfill_steps.py --data data --baseline main
    .venv/bin/python benchmarks/bench_backfill_steps.py --data data --steps var_scores --baseline HEAD~1
    .venv/bin/python benchmarks/bench_backfill_steps.py --data data --steps limit_status --engine dask --baseline main
    .venv/bin/python benchmarks/bench_backfill_steps.py --data data --steps stress --engine dask --baseline main

A step is an asset or a multi-asset (``stress``: its three tables, each compared).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from revision import export_revision

REPO = Path(__file__).resolve().parents[1]
STEPS = ("var_estimates", "var_backtests", "forecast_scores", "var_scores")
STEP_WALL = "step wall:"  # the subprocess's line of the step's own wall seconds (materialize, not the imports)


def _stage(step: str, engine: str) -> None:
    """In the subprocess: the step alone over every stored day of prices (its table deleted first), its
    heavy tasks on ``engine`` (``dask``: a LocalCluster of two workers, two books a task, as ``make run``)."""
    import dagster as dg

    from risk_pipeline.compute import dask_client
    from risk_pipeline.definitions import defs
    from risk_pipeline.instance import ephemeral_instance
    from risk_pipeline.storage.lake import stored_days
    from risk_pipeline.storage.paths import lake_dir

    tables = _tables(step)
    for table in tables:
        shutil.rmtree(lake_dir() / table, ignore_errors=True)
    days = stored_days("prices")
    assets = [a for a in defs.assets if {k.to_user_string() for k in a.keys} == set(tables)]
    tags = {"dagster/asset_partition_range_start": str(days[0]), "dagster/asset_partition_range_end": str(days[-1])}
    compute = {"engine": "dask", "workers": 2, "books_per_task": 2} if engine == "dask" else {"engine": "inline"}
    config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if any("compute" in a.required_resource_keys for a in assets):  # the asset's own resource, configured by the run
        config["resources"] = {"compute": {"config": compute}}
        if engine == "dask":  # started and warmed up before the step, as make run's first steps leave it
            dask_client(None, 2)
    began = time.perf_counter()
    assert dg.materialize(assets, tags=tags, selection=tables, instance=ephemeral_instance(), run_config=config).success
    print(f"{STEP_WALL} {time.perf_counter() - began}")


def _tables(step: str) -> list[str]:
    """The tables of ``step``: an asset's, or every table of a multi-asset (``stress``)."""
    from risk_pipeline.definitions import defs

    for asset in defs.assets:
        if asset.node_def.name == step and len(asset.keys) > 1:
            return sorted(k.to_user_string() for k in asset.keys)
    return [step]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_steps(code: Path, data: Path, steps: list[str], engine: str) -> dict[str, tuple[float, float]]:
    env = dict(os.environ, PYTHONPATH=str(code), RISK_PIPELINE_DATA=str(data), PYTHONWARNINGS="ignore")
    env.pop("DAGSTER_HOME", None)
    times = {}
    for step in steps:
        began, cpu = time.perf_counter(), _children_cpu()
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--stage", step, "--engine", engine], env=env, cwd=code,
                             capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{step} with {code} failed:\n{out.stderr[-3000:]}")
        times[step] = (time.perf_counter() - began, _children_cpu() - cpu)
        own = float(next(line for line in out.stdout.splitlines() if line.startswith(STEP_WALL)).split()[-1])
        print(f"  {step:18s} {times[step][0]:8.1f} s wall {times[step][1]:8.1f} s CPU, the step {own:6.1f} s wall  ({code}; load "
              f"{os.getloadavg()[0]:.1f})", flush=True)
    return times


def _same_table(new: Path, old: Path, step: str) -> str:
    """Whether the step's table is the same in two data folders, one partition (year) at a time: both
    30-year tables of var_backtests at once took 10 GB and were stopped by the kernel."""
    import pandas as pd
    from deltalake import DeltaTable

    tables = [DeltaTable(str(data / "lake" / step)) for data in (new, old)]
    parts = [sorted(tuple(sorted(p.items())) for p in t.partitions()) for t in tables]
    if parts[0] != parts[1]:
        return f"DIFFERENT partitions: {sorted(set(parts[0]) ^ set(parts[1]))[:5]}"
    rows = 0
    for part in parts[0] or [()]:
        where = [(name, "=", value) for name, value in part] or None
        frames = [t.to_pandas(partitions=where) for t in tables]
        frames = [f.sort_values(list(f.columns), kind="stable", ignore_index=True) for f in frames]
        try:
            pd.testing.assert_frame_equal(*frames, check_exact=True)
        except AssertionError as error:
            return f"DIFFERENT in {dict(part)}: " + " ".join(str(error).split())[:300]
        rows += len(frames[0])
    return f"equal ({rows:,} rows)"


def _scratch_copy(data: Path, into: Path) -> Path:
    (into / "lake").mkdir(parents=True)
    for entry in data.iterdir():
        if entry.name not in ("lake", "reports", "logs", "risk.duckdb") and entry.name[0] != ".":
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, into / entry.name)
    for table in (data / "lake").iterdir():
        shutil.copytree(table, into / "lake" / table.name)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data", help="a data folder built by make run")
    parser.add_argument("--steps", nargs="+", default=list(STEPS), help=f"assets to time (default: {' '.join(STEPS)})")
    parser.add_argument("--baseline", help="a git revision to time and compare with")
    parser.add_argument("--engine", choices=("inline", "dask"), default="inline",
                        help="the compute resource's engine (dask: two workers, two books a task, as make run)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        return _stage(args.stage, args.engine)
    with tempfile.TemporaryDirectory(prefix="bench_steps_") as tmp:
        scratch = Path(tmp)
        sides = {"this checkout": REPO}
        if args.baseline:
            sides[f"baseline {args.baseline}"] = export_revision(args.baseline, scratch / "baseline_code")
        results, folders = {}, {}
        for name, code in sides.items():
            print(f"{name}:", flush=True)
            folders[name] = _scratch_copy(args.data.resolve(), scratch / name.replace(" ", "_"))
            results[name] = _run_steps(code, folders[name], args.steps, args.engine)
        if not args.baseline:
            return
        this, base = results["this checkout"], results[f"baseline {args.baseline}"]
        print(f"{'step':18s} {'wall':>8s} {'baseline':>9s} {'ratio':>6s} {'CPU':>8s} {'baseline':>9s} {'ratio':>6s}  table")
        for step in args.steps:
            same = "; ".join(_same_table(folders["this checkout"], folders[f"baseline {args.baseline}"], table)
                             for table in _tables(step))
            print(f"{step:18s} {this[step][0]:8.1f} {base[step][0]:9.1f} {this[step][0] / base[step][0]:6.2f} "
                  f"{this[step][1]:8.1f} {base[step][1]:9.1f} {this[step][1] / base[step][1]:6.2f}  {same}")


if __name__ == "__main__":
    main()
