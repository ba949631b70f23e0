"""CPU seconds of each task of ``var_backtests`` (a chunk of books) in the run's process (``inline``)
and on a Dask LocalCluster's worker (``dask``), on a lake whose chain is backfilled: the same
tasks, so a difference is the worker's (its environment, its threads), not the work.

Each task reports its process's CPU seconds (every thread: the worker's own too) and its thread's.

    .venv/bin/python benchmarks/bench_task_cpu.py --data <data folder> --portfolios <portfolios.yaml> \\
        --start 2017-12-29 --end 2022-12-29 --engine inline dask

on a lake backfilled through var_estimates (e.g. ``risk-pipeline backfill`` on the inputs that
``bench_scale.generate`` writes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from functools import partial


def timed(task, function):
    """``function(task)``'s CPU seconds: its process's and its thread's."""
    process, thread = time.process_time(), time.thread_time()
    function(task)
    return round(time.process_time() - process, 2), round(time.thread_time() - thread, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the data folder (RISK_PIPELINE_DATA) of a backfilled lake")
    parser.add_argument("--portfolios", required=True, help="its portfolios file (RISK_PIPELINE_PORTFOLIOS)")
    parser.add_argument("--start", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--end", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--engine", nargs="+", choices=["inline", "dask"], default=["inline", "dask"])
    parser.add_argument("--books-per-task", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=6, help="the first tasks only")
    args = parser.parse_args()
    os.environ.update(RISK_PIPELINE_DATA=args.data, RISK_PIPELINE_PORTFOLIOS=args.portfolios)

    from risk_pipeline.compute import Compute, close_clients
    from risk_pipeline.defs.backtests import BacktestConfig, _backtest_rows, longest_horizon, tested_portfolios
    from risk_pipeline.risk.backtests.table import checked_windows

    config = BacktestConfig()
    lookback = max(checked_windows(config.backtest_window_days)) + longest_horizon(args.end)
    rows = partial(_backtest_rows, config=config, start=args.start, end=args.end, lookback=lookback)
    for engine in args.engine:
        compute = Compute(engine=engine, workers=2, books_per_task=args.books_per_task)
        chunks = compute.chunks(tested_portfolios(args.start, args.end))[:args.tasks]
        compute.map(abs, [1, 2])  # the cluster started and warmed up (inline: nothing)
        cpu = compute.map(partial(timed, function=rows), chunks)
        print(f"{engine}: each task's (process, thread) CPU s {cpu}; process sum {sum(c[0] for c in cpu):.1f} s, "
              f"thread sum {sum(c[1] for c in cpu):.1f} s", flush=True)
    close_clients()


if __name__ == "__main__":
    main()
