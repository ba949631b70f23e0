"""Where the data folder is: ``$RISK_PIPELINE_DATA`` or ``data/`` in the checkout; where the lake is:
``$RISK_PIPELINE_LAKE_URI`` (a bucket: ``s3://bucket/prefix``, ``gs://``, ``abfss://``) or the
folder ``lake/`` of the data folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The data folder holding ``lake/``, ``risk.duckdb`` and ``reports/``."""
    configured = os.environ.get("RISK_PIPELINE_DATA")
    return Path(configured).expanduser().resolve() if configured else REPO_ROOT / "data"


def lake_dir() -> Path:
    return data_dir() / "lake"


LAKE_URI_VARIABLE = "RISK_PIPELINE_LAKE_URI"


def lake_uri() -> str:
    """The lake's location: ``$RISK_PIPELINE_LAKE_URI`` (an object store URI, passed to delta-rs
    with the storage options of the environment: docs/deployment.md) or :func:`lake_dir`."""
    configured = os.environ.get(LAKE_URI_VARIABLE, "").strip()
    if not configured:
        return str(lake_dir())
    return configured.rstrip("/") if is_object_store(configured) else str(Path(configured).expanduser().resolve())


def is_object_store(uri: str) -> bool:
    """Whether ``uri`` names an object store (``s3://``, ``gs://``, ``abfss://``, ...), not a folder."""
    scheme, separator, _ = uri.partition("://")
    return bool(separator) and scheme != "file"


def catalog_path() -> Path:
    return data_dir() / "risk.duckdb"


def reports_dir() -> Path:
    return data_dir() / "reports"
