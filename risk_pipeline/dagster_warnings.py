"""Silence the Dagster preview/beta warnings of the APIs this project uses on purpose.

Each filter names one warning by category and message, so a new preview or beta API (or any
other warning) still shows. Imported by ``risk_pipeline.definitions`` before the assets load;
pytest applies the same filters from ``pyproject.toml``.

- ``backfill_policy`` of ``asset`` (beta): every table asset materializes a partition range
  as one run (``BackfillPolicy.single_run``, risk_pipeline/assets/partitions.py).
- ``partitions_def`` on an ``AssetCheckSpec`` (preview): the data-quality checks are
  partitioned like the assets they check (risk_pipeline/assets/quality.py).
- ``include_sources`` of ``AssetSelection.all`` (beta): Dagster passes it itself when it
  parses an asset selection string such as ``--select '*'``.
"""

import warnings

import dagster as dg

INTENDED_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    (dg.BetaWarning, r"Parameter `backfill_policy` of function `asset` "),
    (dg.PreviewWarning, r"Specifying a partitions_def on an AssetCheckSpec "),
    (dg.BetaWarning, r"Parameter `include_sources` of function `AssetSelection\.all` "),
)

for category, message in INTENDED_WARNINGS:
    warnings.filterwarnings("ignore", message=message, category=category)
