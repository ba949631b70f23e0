"""The one Dagster ``Definitions`` object of the project (``workspace.yaml`` points here).

Every asset, asset check, job and schedule lives in a module of ``risk_pipeline.defs`` (one per
domain) and is found there by ``dagster.load_definitions_from_package_module``: adding a module
is all it takes to add it to the graph.
"""

import gc

import dagster as dg

import risk_pipeline.dagster_warnings  # noqa: F401 - before the assets load: their intended preview/beta warnings
import risk_pipeline.defs
from risk_pipeline.defs.schedules import risk_job

# Dagster's default executor, with one process for all the steps of a run by default instead of one
# process per step: every step process imports the project again (seconds each), which made a UI
# backfill several times slower than `risk-pipeline backfill` (benchmarks/bench_ui_backfill.py).
# `execution: config: multiprocess:` in a run's config still selects a process per step.
in_process_by_default = dg.ExecutorDefinition(
    name="in_process_or_multiprocess",
    config_schema=dg.Field(dg.multi_or_in_process_executor.config_schema.as_field().config_type,
                           default_value={"in_process": {}}),
    executor_creation_fn=dg.multi_or_in_process_executor.executor_creation_fn,
    requirements=dg.multi_or_in_process_executor.get_requirements,
    description="Dagster's multi_or_in_process_executor, in process unless the run's config says multiprocess.",
)

defs = dg.load_definitions_from_package_module(risk_pipeline.defs, executor=in_process_by_default)

# Everything loaded so far (Dagster, pandas, scipy, matplotlib, DuckDB, the definitions: about
# 240,000 objects the collector tracks) lives as long as the process. Frozen, the cyclic garbage
# collector's full collections no longer walk it: in one new day's run they took 0.7 s, and the
# one at the interpreter's exit 0.9 s more (docs/performance.md). The imports leave next to no
# garbage to freeze with it (a collection here finds about 20 objects; it would cost 0.1 s).
# Nothing accumulates on a reload: Dagster reloads a code location in a new code server process.
gc.freeze()

__all__ = ["defs", "risk_job"]
