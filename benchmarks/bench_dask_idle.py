"""CPU that an idle Dask LocalCluster of the ``dask`` engine takes: its servers' periodic work (the
event-loop tick, the system monitor, the memory monitors of the nannies and the workers), which
competes with the tasks for the machine's cores and grows with a run's wall time, not its work.

Starts a LocalCluster of ``--workers`` worker processes as ``compute.dask_client`` does, with Dask's
own intervals (``dask``: only the nanny's and the stack sampler's settings of ``LOCAL_CLUSTER_CONFIG``)
and with the project's (``project``: the whole ``compute.LOCAL_CLUSTER_CONFIG``), leaves each idle for
``--seconds`` and prints the percent of a core used by this process (the scheduler and the nannies
run here) and by the workers:

    .venv/bin/python benchmarks/bench_dask_idle.py --seconds 30
"""

from __future__ import annotations

import argparse
import time

import psutil


def idle_cpu(config: dict[str, object], workers: int, seconds: float) -> tuple[float, float]:
    """Percent of a core used by this process and by the cluster's worker processes over ``seconds`` idle."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(config):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
    client = Client(cluster)
    client.wait_for_workers(workers)
    me = psutil.Process()
    children = me.children(recursive=True)

    def cpu() -> tuple[float, float]:
        own = me.cpu_times()
        theirs = sum(c.cpu_times().user + c.cpu_times().system for c in children)
        return own.user + own.system, theirs

    time.sleep(3)  # past the start
    (own0, theirs0), began = cpu(), time.perf_counter()
    time.sleep(seconds)
    (own1, theirs1), elapsed = cpu(), time.perf_counter() - began
    client.close()
    cluster.close()
    return 100 * (own1 - own0) / elapsed, 100 * (theirs1 - theirs0) / elapsed


def main() -> None:
    from risk_pipeline.compute import LOCAL_CLUSTER_CONFIG

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    dask_defaults = {k: v for k, v in LOCAL_CLUSTER_CONFIG.items()
                     if k.startswith(("distributed.nanny.", "distributed.worker.profile."))}
    for name, config in (("dask", dask_defaults), ("project", LOCAL_CLUSTER_CONFIG)):
        own, workers = idle_cpu(config, args.workers, args.seconds)
        print(f"{name:8s} this process {own:5.2f}% of a core, the {args.workers} workers {workers:5.2f}%, "
              f"in all {own + workers:5.2f}%", flush=True)


if __name__ == "__main__":
    main()
