"""Where the data folder is: ``$RISK_PIPELINE_DATA`` or ``data/`` in the checkout; where the lake is:
``$RISK_PIPELINE_LAKE_URI`` (a bucket: ``s3://bucket/prefix``, ``gs://``, ``abfss://``) or the
folder ``lake/`` of the data folder."""

from __future__ import annotations

import functools
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The data folder holding ``lake/``, ``risk.duckdb`` and ``reports/``."""
    configured = os.environ.get("RISK_PIPELINE_DATA")
    if not configured:
        return REPO_ROOT / "data"
    return _resolved(configured, "" if os.path.isabs(os.path.expanduser(configured)) else os.getcwd())


@functools.lru_cache(maxsize=64)
def _resolved(configured: str, cwd: str) -> Path:
    """``configured`` as an absolute path with its links resolved, once per value (and working folder,
    for a relative one): a resolution costs a ``stat`` of every component, and the lake's location is
    asked for about 2,000 times in a day's run."""
    return Path(configured).expanduser().resolve()


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
