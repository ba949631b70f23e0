"""Lint and types as part of `make test`: ruff on the package, its tests and benchmarks and mypy on the numerical core
(risk_pipeline/risk), both configured in pyproject.toml, must report nothing; the files `make test`
hands out first exist."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing_in_the_package_its_tests_and_benchmarks():
    result = _run("ruff", "check", "--no-cache", "risk_pipeline", "risk_pipeline_tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing_in_the_numerical_core(tmp_path):
    result = _run("mypy", "--cache-dir", str(tmp_path / "mypy"))  # files: pyproject.toml's [tool.mypy]
    assert result.returncode == 0, result.stdout + result.stderr
    checked = int(result.stdout.rsplit(" in ", 1)[1].split()[0])  # "Success: no issues found in N source files"
    assert checked >= len(list((ROOT / "risk_pipeline" / "risk").rglob("*.py")))


def test_no_file_of_the_repository_holds_a_merge_conflict_marker():
    """A merge's conflict left in a page or a module (docs/performance.md once held one): the markers
    at the start of a line, in every file git tracks."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    markers = ("<<<<<<< ", ">>>>>>> ", "=======\n")
    found = [f"{name}:{number}" for name in listed.decode().split("\0") if name and (ROOT / name).is_file()
             for number, line in enumerate((ROOT / name).read_bytes().decode(errors="replace").splitlines(True), 1)
             if line.startswith(markers)]
    assert not found, found


def test_the_files_make_test_hands_out_first_exist():
    """conftest.LONGEST_FILES orders `make test`'s files: a renamed file would silently drop out of it."""
    from risk_pipeline_tests.conftest import LONGEST_FILES

    assert [name for name in LONGEST_FILES if not (ROOT / "risk_pipeline_tests" / name).is_file()] == []
    assert len(set(LONGEST_FILES)) == len(LONGEST_FILES)
