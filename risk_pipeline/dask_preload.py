"""Imported by the server process the LocalCluster's workers are forked from (``compute.PRELOAD``), before it
forks them: the assets' modules (:func:`risk_pipeline.compute.warm_up`: Dagster, pandas, DuckDB, delta-rs, SciPy
and ``risk_pipeline.defs``), loaded once for every worker and frozen out of the cyclic collector's walks, so
that a forked worker starts with them instead of importing them (docs/performance.md). A failure here is left
to the workers' own warm-up, which fails again, with its traceback, in the first task that needs the module."""

from risk_pipeline.compute import warm_up

try:
    warm_up()
except Exception:  # noqa: BLE001 - the workers' warm-up and their first task raise it again
    pass
