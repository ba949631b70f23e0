"""Where the heavy assets' independent tasks (one per book) run: the ``compute`` resource.

Two engines:

- ``inline`` (the default): in the run's own process, one task after another;
- ``dask``: on Dask distributed: a ``LocalCluster`` of ``workers`` worker processes on this machine
  (listening on 127.0.0.1 only) when no ``address`` is given, or the running scheduler at
  ``address`` (``tcp://scheduler:8786``: any ``dask scheduler``, dask-kubernetes, dask-jobqueue).
  The cluster of a process is started at its first use and kept for the process's later runs.

A task is a function of the project and its arguments, sent to the workers by pickle, so the
workers need the project installed (and its configuration files where the task reads them). A
task runs with the run's ``RISK_PIPELINE_*`` environment variables (the lake, the data folder,
the configuration files named there), whatever the worker's own were. The results come back in
the order of the tasks: the tables are the same with either engine (``test_compute.py``).

The heavy assets give a task ``books_per_task`` books (:meth:`Compute.chunks`): each task writes
its rows of a table as Parquet files and returns their description, and the run commits every
task's files in one Delta transaction (``storage/staging.py``), so no process holds more than a
chunk of books' rows of a table. With ``years_per_task`` a range run also splits the work of the
assets whose rows of a day depend only on a bounded look-back (``var_estimates``: its per-window
methods) into blocks of calendar years (:meth:`Compute.blocks`): a task is a chunk of books times a
block of years, reading the block's days and the windows before its first day. Chosen per run:

    risk-pipeline backfill ... --config-json '{"resources": {"compute": {"config": {"engine": "dask", "workers": 4}}}}'
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Optional

import dagster as dg

_CLIENTS: dict[tuple[Optional[str], int], Any] = {}


def dask_client(address: Optional[str], workers: int):
    """This process's Dask client of ``address`` (None: a LocalCluster of ``workers`` processes)."""
    from distributed import Client, LocalCluster

    key = (address, workers if address is None else 0)
    if key not in _CLIENTS:
        if address is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None)
            _CLIENTS[key] = Client(cluster)
        else:
            _CLIENTS[key] = Client(address)
    return _CLIENTS[key]


@atexit.register
def close_clients() -> None:
    """Close the Dask clients of this process and the LocalClusters it started."""
    while _CLIENTS:
        _, client = _CLIENTS.popitem()
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()


ENVIRONMENT_PREFIX = "RISK_PIPELINE_"


def _in_environment(task: Any, function: Callable[[Any], Any], environment: Mapping[str, str]) -> Any:
    """``function(task)`` in a worker with the run's ``RISK_PIPELINE_*`` variables (``environment``)."""
    before = {k: v for k, v in os.environ.items() if k.startswith(ENVIRONMENT_PREFIX)}
    for name in before.keys() - environment.keys():
        del os.environ[name]
    os.environ.update(environment)
    try:
        return function(task)
    finally:
        for name in environment.keys() - before.keys():
            del os.environ[name]
        os.environ.update(before)


class Compute(dg.ConfigurableResource):
    """The engine that runs a heavy asset's tasks (module docstring)."""

    engine: Literal["inline", "dask"] = "inline"
    workers: int = 2  # worker processes of the LocalCluster (dask engine, no address)
    address: Optional[str] = None  # a running Dask scheduler (dask engine)
    books_per_task: int = 8  # the books of one task of a heavy asset (chunks)
    years_per_task: Optional[int] = None  # the calendar years of one task of a range run (blocks); None: the range

    def chunks(self, items: Sequence[Any]) -> list[list[Any]]:
        """``items`` (books) in tasks of at most ``books_per_task``, in order."""
        if self.books_per_task < 1:
            raise ValueError(f"compute: books_per_task={self.books_per_task} must be at least 1")
        return [list(items[i:i + self.books_per_task]) for i in range(0, len(items), self.books_per_task)]

    def blocks(self, days: Sequence[dt.date]) -> list[list[dt.date]]:
        """The run's ``days`` in blocks of ``years_per_task`` calendar years counted from the first day's
        year (the blocks holding a day), in order; one block of every day when ``years_per_task`` is None."""
        if self.years_per_task is None or not days:
            return [list(days)]
        if self.years_per_task < 1:
            raise ValueError(f"compute: years_per_task={self.years_per_task} must be at least 1")
        blocks: dict[int, list[dt.date]] = {}
        for day in days:
            blocks.setdefault((day.year - days[0].year) // self.years_per_task, []).append(day)
        return list(blocks.values())

    def map(self, function: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        """``function`` of every task, in the order of ``tasks``."""
        if self.engine == "inline" or not tasks:
            return [function(task) for task in tasks]
        if self.workers < 1:
            raise ValueError(f"compute: workers={self.workers} must be at least 1")
        client = dask_client(self.address, self.workers)
        environment = {k: v for k, v in os.environ.items() if k.startswith(ENVIRONMENT_PREFIX)}
        return client.gather(client.map(_in_environment, list(tasks), function=function, environment=environment,
                                        pure=False))


# the resource the heavy assets carry (one object: Dagster refuses two different ones under one key
# in a job); a run's config (``resources: compute: config:``) chooses the engine
DEFAULT_COMPUTE = Compute()
