"""The one Dagster ``Definitions`` object of the project (``workspace.yaml`` points here).

Every asset, asset check, job and schedule lives in a module of ``risk_pipeline.defs`` (one per
domain) and is found there by ``dagster.load_definitions_from_package_module``: adding a module
is all it takes to add it to the graph.
"""

from risk_pipeline.gc_freeze import frozen_when_loaded

with frozen_when_loaded():  # what loads here lives as long as the process (risk_pipeline.gc_freeze)
    import dagster as dg

    import risk_pipeline.dagster_warnings  # noqa: F401 - before the assets load: their intended preview/beta warnings
    from risk_pipeline import asset_event_tags, partition_ranges
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

    # what Dagster does per partition of a range run, made cheaper: risk_pipeline/partition_ranges.py, asset_event_tags.py
    partition_ranges.install()
    asset_event_tags.install()
    defs = dg.load_definitions_from_package_module(risk_pipeline.defs, executor=in_process_by_default)

__all__ = ["defs", "risk_job"]
