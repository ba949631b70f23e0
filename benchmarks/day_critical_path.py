"""How far running one day's steps side by side could take the day: the steps of a finished run of the
daily job, their sum, the job's critical path (the longest chain of steps each waiting for the one
before) and the span of an ideal schedule on ``--lanes`` lanes (each step the moment a lane is free and
its inputs are done, the step with the longest chain after it first, no cost for sharing the cores).

The steps' durations are Dagster's own (``DagsterInstance.get_run_step_stats``: start to end of each step,
its events included), the dependencies those of the daily job's execution plan. A bound, not a forecast:
steps on two threads of one process share its interpreter lock, and what the process pays outside the
steps (its imports, the definitions, the run's creation) stays serial.

    RISK_PIPELINE_DATA=<lake> DAGSTER_HOME=<instance> .venv/bin/python benchmarks/day_critical_path.py [--run-id ID]
"""

from __future__ import annotations

import argparse
from functools import cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-id", default=None, help="a run of daily_risk_job (default: the latest successful one)")
    parser.add_argument("--lanes", type=int, default=2, help="steps at once in the ideal schedule")
    args = parser.parse_args()

    import dagster as dg
    from dagster._core.execution.api import create_execution_plan

    from risk_pipeline.definitions import defs

    job = defs.resolve_job_def("daily_risk_job")
    with dg.DagsterInstance.get() as instance:
        run_id = args.run_id or instance.get_run_records(
            dg.RunsFilter(job_name=job.name, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1)[0].dagster_run.run_id
        seconds = {stat.step_key: stat.end_time - stat.start_time
                   for stat in instance.get_run_step_stats(run_id) if stat.end_time and stat.start_time}
    inputs = {step.key: {key for step_input in step.step_inputs for key in step_input.dependency_keys}
              for step in create_execution_plan(job).steps}
    after = {key: {other for other, needs in inputs.items() if key in needs} for key in inputs}

    @cache
    def done(key: str) -> float:  # the earliest end of a step when every chain before it ran at once
        return seconds.get(key, 0.0) + max((done(k) for k in inputs[key]), default=0.0)

    @cache
    def chain_from(key: str) -> float:  # the longest chain of steps from this one to the job's end
        return seconds.get(key, 0.0) + max((chain_from(k) for k in after[key]), default=0.0)

    path, key = [], max(inputs, key=done)
    while key:
        path.append(key)
        key = max(inputs[key], key=done) if inputs[key] else None
    ended: dict[str, float] = {}
    lanes = [0.0] * args.lanes
    while len(ended) < len(inputs):
        ready = [k for k in inputs if k not in ended and inputs[k] <= ended.keys()]
        key = max(ready, key=chain_from)
        ready_at = max((ended[k] for k in inputs[key]), default=0.0)
        lane = min(range(args.lanes), key=lambda i: max(lanes[i], ready_at))
        lanes[lane] = ended[key] = max(lanes[lane], ready_at) + seconds.get(key, 0.0)
    print(f"run {run_id}: {len(seconds)} steps")
    print(f"steps_sum_s={sum(seconds.values()):.2f}")
    print(f"critical_path_s={done(path[0]):.2f}  " + " <- ".join(f"{k} {seconds.get(k, 0.0):.2f}" for k in path))
    print(f"ideal_{args.lanes}_lanes_s={max(lanes):.2f}")


if __name__ == "__main__":
    main()
