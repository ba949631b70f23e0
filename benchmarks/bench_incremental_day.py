"""Cost of one new business day for the whole graph vs the length of stored history.

For each history length (4 and 30 years by default: the shipped Monte Carlo window of 756 days
needs more than 2 years of stored history before the new day) the script builds a temp data folder,
writes the bundled closes up to the day before ``--new-day`` into a CSV (the CSV price source),
backfills that history as one single-run backfill, then appends the new day's closes to the CSV
(new prices arriving) and materializes only the new day's partition of every asset and check:

- in process (``dg.materialize``): per-step seconds, to see what dominates;
- with the CLI (``dagster asset materialize``, a new process: Python start-up, loading the
  definitions, the run on a persistent SQLite instance), in one process like the daily job.

Prints the figures and the ratio long/short history (target <= 1.5; whole graph < 20 s).

    .venv/bin/python benchmarks/bench_incremental_day.py            # 4 vs 30 years
    .venv/bin/python benchmarks/bench_incremental_day.py --years 4 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _write_csv(prices: pd.DataFrame, path: Path) -> None:
    prices[["date", "symbol", "close", "currency"]].to_csv(path, index=False, date_format="%Y-%m-%d")


def _run_config(csv: Path) -> dict:
    return {"ops": {"prices": {"config": {"source": "csv", "csv_path": str(csv)}}}}


def measure(years: int, new_day: dt.date, work: Path) -> dict[str, float]:
    folder = work / f"history_{years}y"
    data = folder / "data"
    data.mkdir(parents=True)
    os.environ["RISK_PIPELINE_DATA"] = str(data)
    os.environ["DAGSTER_HOME"] = str(folder / "dagster_home")
    Path(os.environ["DAGSTER_HOME"]).mkdir()
    (Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())

    import dagster as dg

    from risk_pipeline.definitions import defs
    from risk_pipeline.sources import BundledSource

    bundled = BundledSource().fetch(None, dt.date(1990, 1, 2), new_day)
    first = pd.bdate_range(end=new_day, periods=years * 261)[0].date()
    history = bundled.loc[bundled["date"].dt.date.between(first, new_day - dt.timedelta(days=1))]
    csv = folder / "prices.csv"
    _write_csv(history, csv)
    last_stored = history["date"].max().date()

    graph = list(defs.assets) + list(defs.asset_checks)
    # an in-memory Dagster instance: the backfill's per-partition events are not the subject here
    instance = dg.DagsterInstance.ephemeral()
    t0 = time.perf_counter()
    tags = {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last_stored.isoformat()}
    result = dg.materialize(graph, run_config=_run_config(csv), tags=tags, instance=instance)
    assert result.success
    backfill_s = time.perf_counter() - t0

    # new prices arrive: the CSV gains one day
    _write_csv(bundled.loc[bundled["date"].dt.date.between(first, new_day)], csv)
    t0 = time.perf_counter()
    one_day = {"dagster/asset_partition_range_start": new_day.isoformat(),
               "dagster/asset_partition_range_end": new_day.isoformat()}
    result = dg.materialize(graph, run_config=_run_config(csv), tags=one_day, instance=instance)
    in_process_s = time.perf_counter() - t0
    assert result.success
    steps = {e.step_key: e.event_specific_data.duration_ms / 1000 for e in result.get_step_success_events()}

    # the same day again through the CLI in a fresh process (replaces the day's rows)
    # in one process, as the daily job runs (a step process each would re-import the code ~20 times)
    config = json.dumps({**_run_config(csv), "execution": {"config": {"in_process": {}}}})
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "risk_pipeline.definitions", "--select", "*",
         "--partition", new_day.isoformat(), "--config-json", config],
        cwd=REPO, capture_output=True, text=True,
    )
    cli_s = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"CLI run failed:\n{out.stderr[-3000:]}")
    return {"days": len(history["date"].unique()), "backfill_s": backfill_s, "in_process_s": in_process_s,
            "cli_s": cli_s, **{f"step:{k}": v for k, v in steps.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", type=int, nargs=2, default=[4, 30], metavar=("SHORT", "LONG"))
    parser.add_argument("--new-day", default="2022-12-28")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    new_day = dt.date.fromisoformat(args.new_day)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench_incremental_") as tmp:
        for years in args.years:
            rows[f"{years}y"] = measure(years, new_day, Path(tmp))
    table = pd.DataFrame(rows)
    short, long = (f"{y}y" for y in args.years)
    table["long/short"] = table[long] / table[short]
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 160):
        print(f"One new day ({new_day}) for every asset and check, after a backfill of the history before it")
        print(table.to_string())
    cli_ratio = rows[long]["cli_s"] / rows[short]["cli_s"]
    run_ratio = rows[long]["in_process_s"] / rows[short]["in_process_s"]
    print(f"\nratio {long}/{short}: in-process run {run_ratio:.2f}, CLI (process start + run) {cli_ratio:.2f} "
          f"(target <= 1.5); one new day via the CLI at {long}: {rows[long]['cli_s']:.1f} s (target < 20 s)")


if __name__ == "__main__":
    main()
