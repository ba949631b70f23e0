"""Objects that live as long as the process, kept out of the cyclic garbage collector's sight.

Loading the definitions imports Dagster, pandas, scipy, matplotlib, DuckDB and the project:
about 240,000 objects the collector tracks, none of which ever becomes garbage (a collection
right after the loading finds about 20 unreachable objects). Every full collection walks them
all: during the loading itself (0.15-0.3 s), during one new day's run (0.7 s) and once more at
the interpreter's exit (0.9 s) (docs/performance.md). :func:`frozen_when_loaded` pauses the
collector while they load and then moves them to its permanent generation (``gc.freeze``), which
no collection walks; the collector then works as before on the objects created afterwards.
Nothing frozen accumulates when definitions are reloaded: Dagster reloads a code location in a
new code server process.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_when_loaded() -> Iterator[None]:
    """Pause the cyclic collector for the block; when the block completes, freeze every object
    tracked so far. The collector is on again after the block (if it was on before), also when
    the block raises, and then nothing is frozen."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
