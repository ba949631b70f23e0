"""Where the heavy assets' independent tasks (one per book) run: the ``compute`` resource.

Two engines:

- ``inline`` (the default): in the run's own process, one task after another;
- ``dask``: on Dask distributed: a ``LocalCluster`` of ``workers`` worker processes on this machine
  (listening on 127.0.0.1 only) when no ``address`` is given, or the running scheduler at
  ``address`` (``tcp://scheduler:8786``: any ``dask scheduler``, dask-kubernetes, dask-jobqueue).
  The cluster of a process is started at its first use and kept for the process's later runs.

A task is a function of the project and its arguments, sent to the workers by pickle, so the
workers need the project installed (and its configuration files where the task reads them).
The results come back in the order of the tasks: the tables are the same with either engine
(``test_compute.py``). Chosen per run:

    risk-pipeline backfill ... --config-json '{"resources": {"compute": {"config": {"engine": "dask", "workers": 4}}}}'
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Sequence
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


class Compute(dg.ConfigurableResource):
    """The engine that runs a heavy asset's tasks (module docstring)."""

    engine: Literal["inline", "dask"] = "inline"
    workers: int = 2  # worker processes of the LocalCluster (dask engine, no address)
    address: Optional[str] = None  # a running Dask scheduler (dask engine)

    def map(self, function: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        """``function`` of every task, in the order of ``tasks``."""
        if self.engine == "inline" or not tasks:
            return [function(task) for task in tasks]
        if self.workers < 1:
            raise ValueError(f"compute: workers={self.workers} must be at least 1")
        client = dask_client(self.address, self.workers)
        return client.gather(client.map(function, list(tasks), pure=False))


# the resource the heavy assets carry (one object: Dagster refuses two different ones under one key
# in a job); a run's config (``resources: compute: config:``) chooses the engine
DEFAULT_COMPUTE = Compute()
