"""One new day through the CLI on a lake that holds the history, with the instance that recorded that
history against a fresh instance with Dagster's default storage.

After ``make run`` (30 years in ``data/`` and in ``.dagster_home``), runs
``dagster asset materialize --select '*' --partition <day>`` (in one process, as the daily job
runs) alternately on ``.dagster_home`` (the project's event log, 120,000 events already stored)
and on an empty temporary instance with Dagster's default SQLite storage, ``--repeat`` times each
(the day is rewritten each time: the lake's content is the same; the order alternates, since the
first run of a round reads the lake's files from disk and the second from the page cache). Prints the seconds of each run,
the medians and their ratio: what the instance costs one day's run.

    .venv/bin/python benchmarks/bench_day_on_instance.py                 # after make run
    .venv/bin/python benchmarks/bench_day_on_instance.py --day 2022-12-28 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"execution": {"config": {"in_process": {}}}}


def one_day(day: str, home: Path) -> float:
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    began = time.perf_counter()
    out = subprocess.run([str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m",
                          "risk_pipeline.definitions", "--select", "*", "--partition", day,
                          "--config-json", json.dumps(CONFIG)], cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if out.returncode:
        raise SystemExit(f"the run on {home} failed:\n{out.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", default="2022-12-28")
    parser.add_argument("--home", default=str(REPO / ".dagster_home"), help="the instance holding the history")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    project = Path(args.home)
    if not (project / "dagster.yaml").exists():
        raise SystemExit(f"no instance in {project}: run `make run` first (or pass --home)")
    times: dict[str, list[float]] = {"project instance with the history": [], "fresh Dagster default instance": []}
    with tempfile.TemporaryDirectory(prefix="bench_day_") as tmp:
        fresh = Path(tmp)
        (fresh / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        for round_ in range(args.repeat):
            order = list(zip(times, (project, fresh)))
            for name, home in order if round_ % 2 == 0 else order[::-1]:  # alternate who reads the lake first
                times[name].append(one_day(args.day, home))
                print(f"{name:<36} {times[name][-1]:6.1f} s", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    first, second = medians.values()
    print("\nmedians: " + ", ".join(f"{name} {value:.1f} s" for name, value in medians.items())
          + f"; ratio {first / second:.2f}")


if __name__ == "__main__":
    main()
