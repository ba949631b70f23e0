"""How much of the machine's cores ``make run``'s backfill keeps busy, step by step: it runs
``risk-pipeline backfill`` over the history with make run's config (the ``dask`` engine, one worker per core,
two books a task) into a new data folder and instance (the repository's inputs copied, nothing else), samples
the machine's busy share of all cores from ``/proc/stat`` every ``--interval`` seconds meanwhile, then
prints each step of the run (start, wall seconds from Dagster's step stats, the mean busy share during it)
and the core-seconds left idle during the steps: what running each step's own work in tasks on the workers
could still take out. Linux only (``/proc/stat``); the machine should be otherwise idle, since its other jobs
count as busy. ``--code`` runs another checkout (``git worktree add``) with this venv.

    .venv/bin/python benchmarks/bench_backfill_cores.py [--start 1990-01-02 --end 2022-12-28] [--code DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"resources": {"compute": {"config": {"engine": "dask", "workers": os.cpu_count() or 1, "books_per_task": 2}}}}


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot: /proc/stat's first line, idle and iowait as not busy."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def _sample(samples: list[tuple[float, float]], stop: threading.Event, interval: float) -> None:
    """Append (time, busy share of all cores over the last interval) until ``stop``."""
    busy, total = _cpu_times()
    while not stop.wait(interval):
        now_busy, now_total = _cpu_times()
        samples.append((time.time(), (now_busy - busy) / max(now_total - total, 1)))
        busy, total = now_busy, now_total


def _step_stats(env: dict[str, str], code: Path) -> list[tuple[str, float, float]]:
    """(step, start, end) of the instance's latest run, read in a subprocess on ``code``."""
    script = ("import json, dagster as dg\n"
              "with dg.DagsterInstance.get() as instance:\n"
              "    run = instance.get_run_records(limit=1)[0].dagster_run\n"
              "    print(json.dumps([(s.step_key, s.start_time, s.end_time) for s in instance.get_run_step_stats(run.run_id)"
              " if s.start_time and s.end_time]))\n")
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=code, capture_output=True, text=True, check=True)
    return [tuple(row) for row in json.loads(out.stdout)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", default="1990-01-02")
    parser.add_argument("--end", default="2022-12-28")
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout to run (default: this one)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples of /proc/stat")
    args = parser.parse_args()
    code = args.code.resolve()
    with tempfile.TemporaryDirectory(prefix="bench_cores_") as tmp:
        data, home = Path(tmp) / "data", Path(tmp) / "home"
        listed = subprocess.run(["git", "ls-files", "data"], cwd=code, capture_output=True, text=True, check=True)
        for name in listed.stdout.split():
            (data.parent / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(code / name, data.parent / name)
        home.mkdir()
        shutil.copy2(code / "dagster.yaml", home / "dagster.yaml")
        env = dict(os.environ, PYTHONPATH=str(code), RISK_PIPELINE_DATA=str(data), DAGSTER_HOME=str(home))
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        sampler = threading.Thread(target=_sample, args=(samples, stop, args.interval), daemon=True)
        sampler.start()
        began = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "risk-pipeline"), "backfill", "--start", args.start,
                        "--end", args.end, "--select", "*", "--config-json", json.dumps(CONFIG)],
                       env=env, cwd=code, check=True)
        wall = time.perf_counter() - began
        stop.set()
        sampler.join()
        steps = sorted(_step_stats(env, code), key=lambda row: row[1])
    cores = os.cpu_count() or 1
    first = steps[0][1]
    idle = 0.0
    print(f"{'start':>7s}  {'step':45s} {'wall':>7s} {'busy':>6s}")
    for key, start, end in steps:
        shares = [share for at, share in samples if start < at <= end + args.interval]
        busy = sum(shares) / len(shares) if shares else float("nan")
        if shares:
            idle += (end - start) * (1.0 - busy) * cores
        print(f"{start - first:7.1f}  {key:45s} {end - start:6.1f}s {100 * busy:5.0f}%")
    in_steps = sum(end - start for _, start, end in steps)
    print(f"backfill command {wall:.1f} s wall; steps {in_steps:.1f} s; core-seconds idle during the steps "
          f"{idle:.1f} of {in_steps * cores:.1f} ({cores} cores)")


if __name__ == "__main__":
    main()
