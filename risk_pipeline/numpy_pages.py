"""NumPy's large arrays on the kernel's base pages, unless the environment asks otherwise.

NumPy asks Linux for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every array of 4 MiB
or more. The pipeline's large arrays live for a fraction of a second (a task's bootstrap weights
and their prefix sums, a window's frames), so each of their 2 MiB pages is zeroed by the kernel on
first touch and freed soon after; on the project's 2-core virtual machine that took more system
time than the 4 KiB pages it saves faults on, and varied from run to run (``var_backtests``' tasks
of one new day: 0.6-0.8 s of system time without, 0.6-2.4 s with: docs/performance.md). The
arrays hold the same numbers either way.

NumPy reads ``NUMPY_MADVISE_HUGEPAGE`` when it is imported: where it is set (``1`` to keep huge
pages), it decides, and this module changes nothing.
"""

from __future__ import annotations

import os

import numpy as np

VARIABLE = "NUMPY_MADVISE_HUGEPAGE"


def base_pages_unless_set() -> bool:
    """Turn NumPy's ``MADV_HUGEPAGE`` off for this process unless ``NUMPY_MADVISE_HUGEPAGE`` is set;
    return whether NumPy asks for huge pages afterwards."""
    if VARIABLE not in os.environ:
        np._core.multiarray._set_madvise_hugepage(False)
    return bool(np._core.multiarray._get_madvise_hugepage())
