"""CPU seconds of some steps of one new day, each alone, this checkout against a baseline revision.

For each side (this checkout, and ``--baseline`` REV exported by ``git archive`` to a temporary
folder, put first on ``PYTHONPATH``) a fresh process materializes each asset of ``--steps`` for
``--day`` (``dagster.materialize`` of the one asset and partition, on the instance ``--home`` and the
data folder ``--data``: a copy of a lake built by ``make run``, whose day's rows are replaced),
``--rounds`` times in a row (the first round pays the process's first reads and caches, as the
daily job does), and reports each step's CPU seconds (``time.process_time``: every thread of the
process; less disturbed than the wall by other jobs on a shared machine) and wall seconds. The
sides alternate, ``--repeat`` processes each. After each process the day's rows of every table of
``--steps`` are hashed (sorted, exact): both codes must store the same rows.

    .venv/bin/python benchmarks/bench_day_steps.py --baseline main --data <copy>/data --home <copy>/home
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from revision import export_revision

REPO = Path(__file__).resolve().parents[1]
STEPS = "var_estimates,var_backtests,forecast_scores,var_scores"


def _run(steps: list[str], day: str, rounds: int) -> None:
    """In the subprocess: each step ``rounds`` times; prints one JSON line of CPU and wall seconds and row hashes."""
    import dagster as dg
    import pandas as pd

    from risk_pipeline.definitions import defs
    from risk_pipeline.storage.lake import read_days

    instance = dg.DagsterInstance.get()
    seconds: dict[str, list[tuple[float, float]]] = {step: [] for step in steps}
    for _ in range(rounds):
        for step in steps:
            asset = defs.resolve_assets_def(dg.AssetKey(step))
            cpu, wall = time.process_time(), time.perf_counter()
            if not dg.materialize([asset], partition_key=day, instance=instance).success:
                raise SystemExit(f"{step} failed")
            seconds[step].append((time.process_time() - cpu, time.perf_counter() - wall))
    hashes = {}
    for step in steps:
        rows = read_days(step, [pd.Timestamp(day).date()])
        rows = rows.sort_values(list(rows.columns), ignore_index=True)
        hashes[step] = hashlib.sha256(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes()).hexdigest()
    print(json.dumps({"seconds": seconds, "hashes": hashes}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision to compare with (e.g. main)")
    parser.add_argument("--steps", default=STEPS, help="assets, comma-separated")
    parser.add_argument("--day", default="2022-12-28")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data", required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps = args.steps.split(",")
    if args.child:
        _run(steps, args.day, args.rounds)
        return
    env = {**os.environ, "DAGSTER_HOME": str(Path(args.home).resolve()),
           "RISK_PIPELINE_DATA": str(Path(args.data).resolve()), "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory(prefix="bench_day_steps_") as tmp:
        sides = {f"baseline {args.baseline}": export_revision(args.baseline, Path(tmp)), "this checkout": REPO}
        cpu: dict[str, dict[str, list[float]]] = {side: {s: [] for s in steps} for side in sides}
        hashes = {}
        for repeat in range(args.repeat):
            for side, code in (list(sides.items()) if repeat % 2 == 0 else list(sides.items())[::-1]):
                out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--baseline",
                                      args.baseline, "--steps", args.steps, "--day", args.day, "--rounds",
                                      str(args.rounds), "--data", args.data, "--home", args.home],
                                     cwd=code, env={**env, "PYTHONPATH": str(code)}, capture_output=True, text=True)
                if out.returncode:
                    raise SystemExit(f"{side} failed:\n{out.stderr[-3000:]}")
                result = json.loads(out.stdout.strip().splitlines()[-1])
                hashes[side] = result["hashes"]
                load = " ".join(f"{x:.1f}" for x in os.getloadavg())
                for step in steps:
                    cpu[side][step] += [c for c, _ in result["seconds"][step]]
                    print(f"{side:<22} {step:<16} CPU " + " ".join(f"{c:5.2f}" for c, _ in result["seconds"][step])
                          + "  wall " + " ".join(f"{w:5.2f}" for _, w in result["seconds"][step]) + f"  load {load}",
                          flush=True)
    print("\nleast CPU seconds of each step (all rounds and processes):")
    for side in sides:
        print(f"{side:<22} " + "  ".join(f"{s} {min(cpu[side][s]):.2f}" for s in steps)
              + f"  together {sum(min(cpu[side][s]) for s in steps):.2f}")
    first, second = hashes.values()
    print(f"same rows of the day in both: {first == second}"
          + ("" if first == second else f"; DIFFER: {sorted(s for s in steps if first[s] != second[s])}"))


if __name__ == "__main__":
    main()
