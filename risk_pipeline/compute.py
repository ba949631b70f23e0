"""Where the heavy assets' independent tasks (one per book) run: the ``compute`` resource.

Two engines:

- ``inline`` (the default): in the run's own process, one task after another;
- ``dask``: on Dask distributed: a ``LocalCluster`` of ``workers`` worker processes on this machine
  (listening on 127.0.0.1 only) when no ``address`` is given, or the running scheduler at
  ``address`` (``tcp://scheduler:8786``: any ``dask scheduler``, dask-kubernetes, dask-jobqueue).
  The cluster of a process is started in the background when a run using the engine starts
  (:meth:`Compute.setup_for_execution`), and its workers import the project's assets there
  (:func:`warm_up`), while the run's process goes on (``risk-pipeline backfill`` starts it before it
  loads the definitions): the first step on the engine (prices, whose source is read in parts there;
  else returns) waits only for what is left of the start. The workers are forked from one server process
  that imported the assets once (``risk_pipeline.dask_preload``), not each started anew importing
  them. The cluster is kept for the process's later runs.

A task is a function of the project and its arguments, sent to the workers by pickle, so the
workers need the project installed (and its configuration files where the task reads them). A
task runs with the run's ``RISK_PIPELINE_*`` environment variables (the lake, the data folder,
the configuration files named there), whatever the worker's own were. The results come back in
the order of the tasks: the tables are the same with either engine (``test_compute.py``).

The heavy assets give a task ``books_per_task`` books (:meth:`Compute.chunks`), the market-data tables a share of
their symbols and the option tables (one bundled book) a block of their days per worker (:meth:`Compute.spread`): each task writes
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
import importlib
import multiprocessing
import os
import pkgutil
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from functools import partial
from typing import Any, Literal, Optional

import dagster as dg

from risk_pipeline.gc_freeze import frozen_when_loaded

_CLIENTS: dict[tuple[Optional[str], int], Any] = {}
_STARTING = threading.Lock()  # held while a client (and its LocalCluster) is started: one start per key
ENVIRONMENT_PREFIX = "RISK_PIPELINE_"
# The LocalCluster's workers run a task as the run's process would (docs/performance.md): they keep glibc's
# own heap trimming, where Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536, which gives memory back to the
# system at almost every free and cost a task of a chunk of books (pandas frames allocated and freed over
# and over) a third more CPU (a task's memory is bounded by its chunk, and staging its rows trims the heap:
# lake.release_freed_memory); and they do not sample their stacks every 10 ms for Dask's dashboard (no
# dashboard here), which took about a tenth more. Their servers (the scheduler and the nannies in the
# run's process, each worker) time their event loop every second, not every 20 ms, sample the system for
# their metrics every 2 s, not 0.5 s, and the memory (the nanny's terminate, the worker's pause and spill
# thresholds) every 0.5 s, not 0.1 s: an idle cluster of 2 workers took some 5% of a core for these,
# competing with the tasks for the machine's cores, and about 1.5% so (docs/performance.md). The workers
# of an ``address`` take their own Dask configuration (docs/deployment.md).
# The workers are forked from a server process (multiprocessing's forkserver, where the platform has it)
# that imported the assets' modules once and froze them (PRELOAD), instead of spawned, each importing them:
# the start took the two workers some 7-9 s of CPU, on the cores where the run's process imports its
# definitions and computes prices, and takes the server about 4 s; the forked workers share those pages.
FORKSERVER = "forkserver" in multiprocessing.get_all_start_methods()
PRELOAD = ["distributed", "risk_pipeline.dask_preload"]
LOCAL_CLUSTER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                        "distributed.worker.profile.enabled": False,
                        "distributed.admin.tick.interval": "1s",
                        "distributed.admin.system-monitor.interval": "2s",
                        "distributed.worker.memory.monitor-interval": "500ms",
                        "distributed.worker.multiprocessing-method": "forkserver" if FORKSERVER else "spawn"}


def dask_client(address: Optional[str], workers: int):
    """This process's Dask client of ``address`` (None: a LocalCluster of ``workers`` processes), its
    workers warmed up (:func:`warm_up`); waits for a start under way in the background."""
    import dask
    from distributed import Client, LocalCluster

    key = (address, workers if address is None else 0)
    with _STARTING:
        if key not in _CLIENTS:
            if address is None:
                with dask.config.set(LOCAL_CLUSTER_CONFIG):
                    _preload_forkserver()
                    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None)
                client = Client(cluster)
                client.wait_for_workers(workers)
            else:
                client = Client(address)
            _CLIENTS[key] = client
            # an import that fails here fails again, with its traceback, in the first task that needs it
            client.run(partial(_in_environment, function=warm_up, environment=run_environment()), None,
                       on_error="ignore")
    return _CLIENTS[key]


def _preload_forkserver() -> None:
    """Have the forkserver the LocalCluster's workers are forked from import ``PRELOAD`` when it starts (the
    first worker of the process), where Dask's own list would (its dependencies only), under
    ``LOCAL_CLUSTER_CONFIG``. A server already started (an earlier cluster of the process) keeps its imports."""
    if FORKSERVER:
        from distributed.utils import get_mp_context

        # Dask sets its list at its first call, once: ours replaces it, and Dask does not set it again
        get_mp_context().set_forkserver_preload(PRELOAD)


def start_dask_client(address: Optional[str], workers: int) -> threading.Thread:
    """:func:`dask_client` started in a background thread (the run goes on meanwhile); a failure there is
    left to the first :meth:`Compute.map`, which starts the client again and raises it."""

    def start() -> None:
        try:
            dask_client(address, workers)
        except Exception:  # noqa: BLE001 - raised again by the first map (its own start)
            pass

    thread = threading.Thread(target=start, name="dask-client-start", daemon=True)
    thread.start()
    return thread


def warm_up(_: Any = None) -> list[str]:
    """Import every module of ``risk_pipeline.defs`` (the tasks' functions and what they import: Dagster,
    pandas, DuckDB, delta-rs, SciPy) in this process; the module names. What the first import loads lives
    as long as the worker: it is frozen out of the cyclic collector's walks (``risk_pipeline.gc_freeze``),
    which also shortens the worker's exit (its last full collection). A LocalCluster's worker forked from
    the forkserver finds them imported and frozen there (``risk_pipeline.dask_preload``). The project's
    intended Dagster beta/preview warnings are silenced first, as in the run's process
    (``risk_pipeline.dagster_warnings``): each worker printed them into the backfill's log, 68 in ``make run``'s."""
    import risk_pipeline.dagster_warnings  # noqa: F401 - before the assets load
    import risk_pipeline.defs as package

    names = [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    with frozen_when_loaded() if any(name not in sys.modules for name in names) else nullcontext():
        for name in names:
            importlib.import_module(name)
    return names


@atexit.register
def close_clients() -> None:
    """Close the Dask clients of this process and the LocalClusters it started (after a start under way)."""
    with _STARTING:
        while _CLIENTS:
            _, client = _CLIENTS.popitem()
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()


def run_environment() -> dict[str, str]:
    """This process's ``RISK_PIPELINE_*`` environment variables: the run's lake, data and configuration."""
    return {k: v for k, v in os.environ.items() if k.startswith(ENVIRONMENT_PREFIX)}


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
        """``items`` (books) in order, in the fewest tasks of at most ``books_per_task``, of sizes differing
        by one at most. On the ``dask`` engine the tasks are as many as a multiple of the workers (the
        cluster's threads at an ``address``) where there are items enough, so that the workers finish
        together: 50 books at 8 a task on 2 workers are 8 tasks of 6 or 7 books, not 6 of 8 and one of 2,
        which leave one worker 32 books and the other 18."""
        if self.books_per_task < 1:
            raise ValueError(f"compute: books_per_task={self.books_per_task} must be at least 1")
        n = -(-len(items) // self.books_per_task)  # the fewest tasks of at most books_per_task
        if self.engine == "dask" and n:
            slots = self._slots()
            n = min(len(items), -(-n // slots) * slots)
        return _balanced(items, n)

    def spread(self, items: Sequence[Any], weights: Optional[Sequence[float]] = None) -> list[list[Any]]:
        """``items`` (the symbols of a market-data table, the days of an option table, the books of
        ``limit_status`` and ``risk_summary``, the years of the positions' checks) in order, in one task inline
        and in as many tasks as the workers (the cluster's threads at an ``address``) on the ``dask`` engine, of
        sizes within one: the tasks of a step whose work per item is small and even (a pass over each symbol's
        rows, the bundled option book on each day). With ``weights`` (the work of each item) the tasks
        are contiguous runs of items whose weights come as near to an equal share as the items allow (at most
        as many; ``option_replay``'s later days reprice more episodes)."""
        n = min(len(items), 1 if self.engine == "inline" else self._slots())
        return _balanced(items, n) if weights is None else _weighed(items, weights, n)

    def _slots(self) -> int:
        """The tasks the ``dask`` engine runs at once: its workers, or the threads of the cluster at ``address``."""
        slots = self.workers if self.address is None else sum(dask_client(self.address, 0).nthreads().values())
        return max(slots, 1)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """At the start of a run on the ``dask`` engine, :meth:`start` it."""
        self.start()

    def start(self) -> None:
        """On the ``dask`` engine, start its client (and LocalCluster) and warm up the workers in the
        background, overlapping what the run's process does meanwhile (its first steps; ``risk-pipeline
        backfill`` starts it before loading the definitions); nothing on the ``inline`` engine."""
        if self.engine == "dask" and self.workers >= 1:
            start_dask_client(self.address, self.workers)

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

    def map(self, function: Callable[[Any], Any], tasks: Sequence[Any],
            weights: Optional[Sequence[float]] = None) -> list[Any]:
        """``function`` of every task, the results in the order of ``tasks``. With ``weights`` (each task's
        expected cost) the tasks run heaviest first (in the order of ``tasks`` among equal weights), so that on
        the ``dask`` engine the workers finish together instead of one computing a heavy task last while the
        other waits."""
        order = list(range(len(tasks))) if weights is None else sorted(range(len(tasks)), key=lambda i: -weights[i])
        ordered = [tasks[i] for i in order]
        if self.engine == "inline" or not tasks:
            results = [function(task) for task in ordered]
        else:
            client = self._client()
            results = client.gather(client.map(_in_environment, ordered, function=function,
                                               environment=run_environment(), pure=False))
        return [result for _, result in sorted(zip(order, results), key=lambda pair: pair[0])]

    def each(self, functions: Sequence[Callable[[Any], Any]], tasks: Sequence[Any]) -> Iterator[list[Any]]:
        """For each of ``functions`` in turn, the list of its results of every task (in the order of ``tasks``),
        as soon as they are done. On the ``dask`` engine every function's tasks are handed out at once and each
        task is sent to the workers once, not once per function: the run's process works on a function's
        results (a multi-asset's commit of one table and its materialization) while the workers compute the next
        functions'. Inline, one function's tasks after the other's."""
        if self.engine == "inline" or not tasks:
            for function in functions:
                yield [function(task) for task in tasks]
            return
        client = self._client()
        # on every worker (no task waits for the one worker holding its input), unhashed (no pass over it)
        sent = client.scatter(list(tasks), broadcast=True, hash=False)
        environment = run_environment()
        batches = [client.map(_in_environment, sent, function=function, environment=environment, pure=False)
                   for function in functions]
        for batch in batches:
            yield client.gather(batch)

    def _client(self) -> Any:
        if self.workers < 1:
            raise ValueError(f"compute: workers={self.workers} must be at least 1")
        return dask_client(self.address, self.workers)


def _weighed(items: Sequence[Any], weights: Sequence[float], n: int) -> list[list[Any]]:
    """``items`` in order in at most ``n`` runs, each cut after the item whose running weight first reaches the next
    ``n``-th of the total."""
    total, running, bounds = float(sum(weights)), 0.0, [0]
    for i, weight in enumerate(weights):
        running += weight
        if len(bounds) < n and running >= total * len(bounds) / n and i + 1 < len(items):
            bounds.append(i + 1)
    bounds.append(len(items))
    return [list(items[a:b]) for a, b in zip(bounds, bounds[1:])]


def _balanced(items: Sequence[Any], n: int) -> list[list[Any]]:
    """``items`` in order in ``n`` lists of sizes within one (the first ones one item more)."""
    size, extra = divmod(len(items), n) if n else (0, 0)
    bounds = [i * size + min(i, extra) for i in range(n + 1)]
    return [list(items[bounds[i]:bounds[i + 1]]) for i in range(n)]


# the resource the heavy assets carry (one object: Dagster refuses two different ones under one key
# in a job); a run's config (``resources: compute: config:``) chooses the engine
DEFAULT_COMPUTE = Compute()
