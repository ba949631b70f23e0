"""One new day through the CLI, this checkout against a baseline revision, on the same lake and instance.

After ``make run`` (30 years in ``data/`` and ``.dagster_home``), runs
``dagster asset materialize -m risk_pipeline.definitions --select '*' --partition <day>`` (in one
process, as the daily job) alternately with the code of this checkout and with the code of
``--baseline`` (a git revision, exported to a temporary folder and put first on ``PYTHONPATH``; same
venv, same data folder, same instance), ``--repeat`` times each. After every run it reads back the
day's rows of every table and the report's CSVs and summary (without its table versions) and
checks that both codes wrote the same values. Prints each run's wall and CPU seconds (user +
system of the process: less sensitive than the wall to other jobs on a shared machine) with the
load average, the per-step seconds of the last run of each (from the run's events), the medians
and their ratios.

With ``--daily-job`` each run is the daily job itself, ``dagster job execute -m risk_pipeline.definitions
-j daily_risk_job --tags '{"dagster/partition": "<day>"}'``, on each code's own executor (the
``forked_lanes`` executor's two lanes where the code has it); the CPU then counts the lanes too.

    .venv/bin/python benchmarks/bench_new_day.py --baseline 75660b6
    .venv/bin/python benchmarks/bench_new_day.py --baseline 75660b6 --repeat 3 --day 2022-12-28
    .venv/bin/python benchmarks/bench_new_day.py --baseline 2909906 --repeat 4 --daily-job
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from revision import export_revision

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONFIG = {"execution": {"config": {"in_process": {}}}}


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_day(day: str, code: Path | None, data: Path, home: Path, daily_job: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds of one run of the day (with ``daily_job``, of the daily job's run)."""
    env = {**os.environ, "DAGSTER_HOME": str(home), "RISK_PIPELINE_DATA": str(data), "PYTHONWARNINGS": "ignore"}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    command = ([str(BIN / "dagster"), "job", "execute", "-m", "risk_pipeline.definitions", "-j", "daily_risk_job",
                "--tags", json.dumps({"dagster/partition": day})] if daily_job else
               [str(BIN / "dagster"), "asset", "materialize", "-m", "risk_pipeline.definitions",
                "--select", "*", "--partition", day, "--config-json", json.dumps(CONFIG)])
    began, cpu = time.perf_counter(), _children_cpu()
    out = subprocess.run(command, cwd=code or REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if out.returncode:
        raise SystemExit(f"the run with {code or REPO} failed:\n{out.stderr[-3000:]}")
    return seconds, _children_cpu() - cpu


def step_seconds(home: Path) -> dict[str, float]:
    """Seconds of each step of the instance's latest run (STEP_START to STEP_SUCCESS)."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    run = instance.get_runs(limit=1)[0]
    began, out = {}, {}
    for record in instance.all_logs(run.run_id):
        event = record.dagster_event
        if event is None or record.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            began[record.step_key] = record.timestamp
        elif event.event_type_value == "STEP_SUCCESS" and record.step_key in began:
            out[record.step_key] = record.timestamp - began[record.step_key]
    return out


def fingerprint(day: str, data: Path) -> dict[str, str]:
    """A hash of the day's rows of every stored table (exact) and of the values of the report's CSVs
    and summary (to 12 significant digits, see ``_values``)."""
    os.environ["RISK_PIPELINE_DATA"] = str(data)
    from risk_pipeline.storage.lake import read_days, stored_days
    from risk_pipeline.storage.schemas import TABLES

    when = pd.Timestamp(day).date()
    out = {}
    for table in TABLES:
        if when in stored_days(table):
            rows = read_days(table, [when])
            rows = rows.sort_values(list(rows.columns), ignore_index=True)  # values, whatever the read order
            out[table] = _hash(rows)
    folder = data / "reports" / day
    for path in sorted(folder.glob("*.csv")):
        out[f"report/{path.name}"] = _hash(_values(pd.read_csv(path)))
    summary = json.loads((folder / "summary.json").read_text(), parse_float=lambda text: float(f"{float(text):.12g}"))
    summary.pop("table_versions")
    out["report/summary.json"] = hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()
    return out


def _hash(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    """A report CSV's values, not its text: numbers as floats to 12 significant digits (a CSV writer
    may print 0 or 0.0, and DuckDB's parallel average of earlier versions changed the 16th digit)."""
    numbers = frame.select_dtypes("number").columns
    frame[numbers] = frame[numbers].astype(float).map(lambda x: float(f"{x:.12g}"))
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision to compare with (e.g. main)")
    parser.add_argument("--day", default="2022-12-28")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data", default=str(REPO / "data"))
    parser.add_argument("--home", default=str(REPO / ".dagster_home"))
    parser.add_argument("--daily-job", action="store_true", help="run the daily job on its own executor")
    args = parser.parse_args()
    data, home = Path(args.data).resolve(), Path(args.home).resolve()
    if not (home / "dagster.yaml").exists() or not (data / "lake").is_dir():
        raise SystemExit(f"no lake in {data} or no instance in {home}: run `make run` first")
    with tempfile.TemporaryDirectory(prefix="bench_new_day_") as tmp:
        base = export_revision(args.baseline, Path(tmp))
        variants = {f"baseline {args.baseline}": base, "this checkout": None}
        times: dict[str, list[float]] = {name: [] for name in variants}
        cpus: dict[str, list[float]] = {name: [] for name in variants}
        steps, prints, texts = {}, {}, {}
        for round_ in range(args.repeat):
            order = list(variants.items())
            for name, code in order if round_ % 2 == 0 else order[::-1]:
                load = _load()
                wall, cpu = one_day(args.day, code, data, home, args.daily_job)
                times[name].append(wall)
                cpus[name].append(cpu)
                steps[name] = step_seconds(home)
                prints[name] = fingerprint(args.day, data)
                texts[name] = {f"report/{p.name}": p.read_text().splitlines()
                               for p in sorted((data / "reports" / args.day).glob("*.csv"))}
                print(f"{name:<24} wall {wall:6.2f} s  CPU {cpu:6.2f} s   load average before {load}", flush=True)
    print("\nsteps of the last run of each (s):")
    table = pd.DataFrame(steps).fillna(0.0)
    table = table.loc[table.max(axis=1).sort_values(ascending=False).index]
    print(table.loc[table.max(axis=1) >= 0.3].round(2).to_string())
    print("steps under 0.3 s: " + ", ".join(table.index[table.max(axis=1) < 0.3]))
    (b_name, first), (c_name, second) = prints.items()
    differ = sorted(k for k in set(first) | set(second) if first.get(k) != second.get(k))
    print(f"\nsame rows and report files in both: {not differ} ({len(first)} tables and files compared)"
          + (f"; DIFFER: {differ}" if differ else ""))
    for key in differ:
        if key in texts[b_name] and key in texts[c_name]:
            changed = [line for line in difflib.unified_diff(texts[b_name][key], texts[c_name][key], lineterm="", n=0)
                       if line[:1] in "+-" and line[:3] not in ("+++", "---")]
            print(f"  {key}: {len(changed)} lines differ, e.g. " + " | ".join(changed[:4]))
    for label, values in (("wall", times), ("CPU", cpus)):
        (b_name, b), (c_name, c) = ((name, statistics.median(v)) for name, v in values.items())
        print(f"median {label}: {b_name} {b:.2f} s, {c_name} {c:.2f} s; ratio {c / b:.2f}")
    print(f"load average now {_load()}")


if __name__ == "__main__":
    main()
