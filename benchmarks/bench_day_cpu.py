"""CPU seconds of one new day's process through the CLI, split into the process's start (before the
first step) and each step, this checkout against a baseline revision, on the same lake and instance.

Runs ``dagster job execute -m risk_pipeline.definitions -j daily_risk_job --tags
'{"dagster/partition": <day>}'`` (the daily job's 36 steps in one process: ``lanes: 1`` for a code whose daily
job runs on the ``forked_lanes`` executor, whose lanes this process could not time), with Dagster's CLI
started in a process that times each step with ``time.process_time`` (every thread of the process)
around Dagster's iterator of the step's events: the step's work, its events and their storage.
The codes alternate (the baseline exported by ``git archive``, put first on ``PYTHONPATH``),
``--repeat`` processes each. CPU rather than wall: on a machine shared with other jobs the wall
mostly measures the others. Prints per code the median of the process's CPU, of its start and of
each step, the steps outside ``--others`` together (the process's own overhead and the middle steps).

    .venv/bin/python benchmarks/bench_day_cpu.py --baseline main --data <copy>/data --home <copy>/home
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

from revision import export_revision

REPO = Path(__file__).resolve().parents[1]
OTHERS = "risk_report,var_backtests,var_scores,forecast_scores,var_estimates"


def _child(out: str, cli: list[str]) -> None:
    """In the measured process: Dagster's CLI with each step's CPU seconds recorded, written to ``out``."""
    started = time.process_time()
    import atexit

    import dagster._core.execution.plan.execute_plan as execute_plan

    steps: dict[str, float] = {}
    first: list[float] = []
    step_events = execute_plan.dagster_event_sequence_for_step

    def timed(step_context, *args, **kwargs):
        events = step_events(step_context, *args, **kwargs)
        while True:
            began = time.process_time()
            if not first:
                first.append(began)
            try:
                event = next(events)
            except StopIteration:
                steps[step_context.step.key] = steps.get(step_context.step.key, 0.0) + time.process_time() - began
                return
            steps[step_context.step.key] = steps.get(step_context.step.key, 0.0) + time.process_time() - began
            yield event

    execute_plan.dagster_event_sequence_for_step = timed

    def write() -> None:
        Path(out).write_text(json.dumps({"process": time.process_time() - started,
                                         "start": (first[0] if first else time.process_time()) - started,
                                         "steps": steps}))

    atexit.register(write)
    from dagster._cli import main as dagster_main

    sys.argv = ["dagster", *cli]
    dagster_main()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision to compare with (e.g. main)")
    parser.add_argument("--day", default="2022-12-28")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data", required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--others", default=OTHERS, help="steps left out of the sum of the rest")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1:])
        return
    cli = ["job", "execute", "-m", "risk_pipeline.definitions", "-j", "daily_risk_job",
           "--tags", json.dumps({"dagster/partition": args.day})]
    env = {**os.environ, "DAGSTER_HOME": str(Path(args.home).resolve()),
           "RISK_PIPELINE_DATA": str(Path(args.data).resolve()), "PYTHONWARNINGS": "ignore"}
    others = set(args.others.split(","))
    with tempfile.TemporaryDirectory(prefix="bench_day_cpu_") as tmp:
        sides = {f"baseline {args.baseline}": export_revision(args.baseline, Path(tmp) / "code"), "this checkout": REPO}
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        one_lane = Path(tmp) / "one_lane.yaml"  # the daily job in one process where it has lanes
        one_lane.write_text("execution: {config: {lanes: 1}}\n")
        for repeat in range(args.repeat):
            for side, code in (list(sides.items()) if repeat % 2 == 0 else list(sides.items())[::-1]):
                out = Path(tmp) / "out.json"
                lanes = ["-c", str(one_lane)] if (code / "risk_pipeline" / "forked_lanes.py").exists() else []
                done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--baseline", args.baseline,
                                       "--data", args.data, "--home", args.home, "--child", str(out), *cli, *lanes],
                                      cwd=code, env={**env, "PYTHONPATH": str(code)}, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
                run = json.loads(out.read_text())
                run["rest"] = sum(v for k, v in run["steps"].items() if k not in others)
                runs[side].append(run)
                load = " ".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"{side:<22} process {run['process']:5.2f} s CPU: start {run['start']:4.2f}, steps "
                      f"{sum(run['steps'].values()):5.2f} (without {args.others}: {run['rest']:4.2f})  load {load}",
                      flush=True)
    print("\nmedian CPU seconds")
    steps = sorted({k for side in runs.values() for run in side for k in run["steps"]},
                   key=lambda k: -statistics.median(r["steps"].get(k, 0.0) for r in runs["this checkout"]))
    rows = [("process", "process"), ("start", "start"), ("the rest", "rest")]
    print(f"{'':<36}" + "".join(f"{side:>24}" for side in runs))
    for label, key in rows:
        print(f"{label:<36}" + "".join(f"{statistics.median(r[key] for r in side):>24.2f}" for side in runs.values()))
    for step in steps:
        print(f"{step:<36}" + "".join(f"{statistics.median(r['steps'].get(step, 0.0) for r in side):>24.2f}"
                                      for side in runs.values()))


if __name__ == "__main__":
    main()
