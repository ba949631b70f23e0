"""NumPy's large arrays on the kernel's base pages, unless the environment asks otherwise.

NumPy asks Linux for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every array of 4 MiB
or more. The pipeline's large arrays live for a fraction of a second (a task's bootstrap weights
and their prefix sums, a window's frames), so the kernel zeroes each of their 2 MiB pages on first
touch for an array soon freed: on a virtual machine that took more system time than the 4 KiB
pages' faults it saves, and varied from run to run (docs/performance.md, "NumPy's arrays on the
kernel's base pages"). The arrays hold the same numbers either way.

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
