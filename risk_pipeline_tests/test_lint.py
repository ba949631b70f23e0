"""Lint and types as part of `make test`: ruff on the whole package and mypy on the numerical core
(risk_pipeline/risk), both configured in pyproject.toml, must report nothing."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing_in_the_package():
    result = _run("ruff", "check", "--no-cache", "risk_pipeline")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing_in_the_numerical_core(tmp_path):
    result = _run("mypy", "--cache-dir", str(tmp_path / "mypy"))  # files: pyproject.toml's [tool.mypy]
    assert result.returncode == 0, result.stdout + result.stderr
    checked = int(result.stdout.rsplit(" in ", 1)[1].split()[0])  # "Success: no issues found in N source files"
    assert checked >= len(list((ROOT / "risk_pipeline" / "risk").rglob("*.py")))
