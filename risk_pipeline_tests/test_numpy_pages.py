"""NumPy's huge-page policy in a process that imports the project (risk_pipeline/numpy_pages.py)."""

import os
import subprocess
import sys

import pytest

PROBE = ("import numpy._core.multiarray as m; before = m._get_madvise_hugepage(); import risk_pipeline; "
         "print(before, m._get_madvise_hugepage())")


@pytest.mark.parametrize(("variable", "expected"), [(None, "True False"), ("1", "True True"), ("0", "False False")])
def test_importing_the_project_turns_numpy_huge_pages_off_unless_the_environment_says(variable, expected):
    """Unset: NumPy's default (huge pages on Linux) is turned off when the project is imported; set, NumPy's own
    reading of NUMPY_MADVISE_HUGEPAGE stands, 1 keeping them."""
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if variable is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = variable
    printed = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert printed.stdout.split() == expected.split()
