"""The code of a git revision of this repository, exported to a folder: the baseline the benchmarks
compare this checkout with (put first on ``PYTHONPATH``, it is the ``risk_pipeline`` imported)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def export_revision(revision: str, folder: Path) -> Path:
    """Write the files of ``revision`` (``git archive``) into ``folder`` (created if missing); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder
