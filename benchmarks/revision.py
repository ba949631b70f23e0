"""The code of a git revision of this repository, exported to a folder: the baseline the benchmarks
compare this checkout with (put first on ``PYTHONPATH``, it is the ``risk_pipeline`` imported)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def export_revision(revision: str, folder: Path) -> Path:
    """Write the files of ``revision`` (``git archive``) into ``folder`` (created if missing), its package
    compiled to bytecode as ``make`` compiles this checkout's (else, where ``PYTHONDONTWRITEBYTECODE`` is
    set, every process of the baseline compiles it from source: 0.1-0.2 s); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder / "risk_pipeline")], check=True,
                   capture_output=True)
    return folder
