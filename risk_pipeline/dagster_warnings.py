"""Silence the Dagster preview/beta warnings of the APIs this project uses on purpose.

Each filter names one warning by category and message, so a new preview or beta API (or any
other warning) still shows. Imported by ``risk_pipeline.definitions`` before the assets load (and by
``compute.warm_up`` in each Dask worker);
pytest applies the same filters from ``pyproject.toml``.

- ``backfill_policy`` of ``asset`` (beta): every table asset materializes a partition range
  as one run (``BackfillPolicy.single_run``, risk_pipeline/defs/lake_assets.py).
- ``include_sources`` of ``AssetSelection.all`` (beta): Dagster passes it itself when it
  parses an asset selection string such as ``--select '*'``.
- ``load_definitions_from_package_module`` and the ``load_definitions_from_modules`` it calls
  (preview): ``risk_pipeline.definitions`` loads every module
  of ``risk_pipeline.defs`` with them.
- ``resource_defs`` of ``asset`` and ``multi_asset`` (beta): ``var_decomposition`` and ``stress``
  carry their default ``compute`` resource (risk_pipeline/compute.py), so they run without one
  given (``dg.materialize`` in tests, scripts).
"""

import warnings

import dagster as dg

INTENDED_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    (dg.BetaWarning, r"Parameter `backfill_policy` of function `asset` "),
    (dg.BetaWarning, r"Parameter `include_sources` of function `AssetSelection\.all` "),
    (dg.PreviewWarning, r"Function `load_definitions_from_(package_module|modules)` is currently in preview"),
    (dg.BetaWarning, r"Parameter `resource_defs` of function `(multi_)?asset` "),
)

for category, message in INTENDED_WARNINGS:
    warnings.filterwarnings("ignore", message=message, category=category)
