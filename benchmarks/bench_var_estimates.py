"""Benchmark of the var_estimates stage of ``make run``: the 30-year backfill of the bundled books
(every method, confidence and horizon of pipeline.yaml), on a copy of a built lake's inputs.

Each side runs the stage alone (``dagster.materialize([var_estimates])`` over the lake's whole
range, one run as the CLI's backfill) in a subprocess on its own scratch copy of the lake's
prices, returns, fx_rates and portfolio_pnl, and is timed. With ``--baseline CHECKOUT`` the same
is run with another checkout's code (e.g. the commit before the positions-held engine) and the
script prints the ratio of the times (wall, and the stage process's CPU time, which a machine
loaded by other jobs disturbs less) and, per book and method, the largest difference of the
stored ``var`` and ``es`` between the two.

Run:  .venv/bin/python benchmarks/bench_var_estimates.py [--lake data] [--baseline /path/to/other/checkout]
      [--last-days 1]   (one new day instead of the 30 years)
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

REPO = Path(__file__).resolve().parents[1]
INPUTS = ("prices", "returns", "fx_rates", "portfolio_pnl")


def _stage(out: str, last_days: int | None) -> None:
    """Run in the subprocess: time var_estimates over the stored range of prices (or its last days)."""
    import dagster as dg

    from risk_pipeline.definitions import defs
    from risk_pipeline.storage.lake import stored_days

    days = stored_days("prices")
    assets = [a for a in defs.assets if {k.to_user_string() for k in a.keys} == {"var_estimates"}]
    first = days[-last_days] if last_days else days[1]
    tags = {"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(days[-1])}
    start = time.perf_counter()
    assert dg.materialize(assets, tags=tags).success
    Path(out).write_text(f"{time.perf_counter() - start:.3f}")


def _side(code: Path, lake: Path, scratch: Path, last_days: int | None) -> tuple[float, float, Path]:
    data = scratch / "data"
    (data / "lake").mkdir(parents=True)
    for table in INPUTS:
        shutil.copytree(lake / "lake" / table, data / "lake" / table)
    out = scratch / "seconds"
    env = dict(os.environ, PYTHONPATH=str(code), RISK_PIPELINE_DATA=str(data))
    env.pop("DAGSTER_HOME", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stage = [sys.executable, str(Path(__file__).resolve()), "--stage", str(out)]
    stage += ["--last-days", str(last_days)] if last_days else []
    subprocess.run(stage, env=env, check=True,
                   cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(out.read_text()), cpu, data


def _compare(new: Path, old: Path) -> None:
    import numpy as np
    from deltalake import DeltaTable

    keys = ["date", "portfolio", "method", "confidence", "horizon_days"]
    a = DeltaTable(str(new / "lake" / "var_estimates")).to_pandas()
    b = DeltaTable(str(old / "lake" / "var_estimates")).to_pandas()
    merged = a.merge(b, on=keys, suffixes=("", "_old"), how="outer", indicator=True)
    print(f"  rows: {len(a):,} now, {len(b):,} baseline, {int((merged['_merge'] != 'both').sum()):,} in one only")
    both = merged.loc[merged["_merge"] == "both"]
    print("  largest |var - var_old|, |es - es_old| per book and method (fractions of value):")
    for (book, method), g in both.groupby(["portfolio", "method"]):
        dv = float(np.nanmax(np.abs(g["var"] - g["var_old"])))
        de = float(np.nanmax(np.abs(g["es"] - g["es_old"])))
        print(f"    {book:16s} {method:20s} {dv:10.3g} {de:10.3g}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", type=Path, default=REPO / "data", help="a data folder built by make run")
    parser.add_argument("--baseline", type=Path, help="another checkout to time and compare with")
    parser.add_argument("--last-days", type=int, help="only the last N stored days (N = 1: one new day)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        return _stage(args.stage, args.last_days)
    with tempfile.TemporaryDirectory(prefix="bench_var_") as tmp:
        seconds, cpu, data = _side(REPO, args.lake.resolve(), Path(tmp) / "now", args.last_days)
        print(f"var_estimates stage, {args.lake}: {seconds:8.1f} s wall, process CPU {cpu:8.1f} s (this checkout)")
        if args.baseline:
            base_seconds, base_cpu, base_data = _side(args.baseline.resolve(), args.lake.resolve(), Path(tmp) / "baseline",
                                                      args.last_days)
            print(f"var_estimates stage, {args.lake}: {base_seconds:8.1f} s wall, process CPU {base_cpu:8.1f} s "
                  f"(baseline {args.baseline})")
            print(f"  ratio this / baseline: wall {seconds / base_seconds:.3f}, CPU {cpu / base_cpu:.3f}")
            _compare(data, base_data)


if __name__ == "__main__":
    main()
