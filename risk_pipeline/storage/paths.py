"""Where the data folder is: ``$RISK_PIPELINE_DATA`` or ``data/`` in the checkout."""

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


def catalog_path() -> Path:
    return data_dir() / "risk.duckdb"


def reports_dir() -> Path:
    return data_dir() / "reports"
