"""Runs whose process died are marked failed: the process of each run, and a run launcher that checks it.

A run killed with SIGKILL (or on an out-of-memory kill, a reboot) cannot report its own end: it
stays STARTED in the instance for ever and holds one of the run queue's slots (``dagster.yaml``
caps them at 4), so after four such deaths no scheduled or UI run starts again. Dagster's run
monitoring (the ``MONITORING`` daemon of ``dagster-daemon run`` / ``dagster dev``) marks such a
run failed when the instance's run launcher can tell that its worker is gone
(``check_run_worker_health``); Dagster's own local launcher cannot (it keeps no trace of the
worker), and the runs of ``risk-pipeline backfill`` and ``dagster job execute`` / ``asset
materialize`` execute in the command's own process, with no launcher at all.

So every run records the process that executes it: the project's event log
(:mod:`risk_pipeline.instance`) tags the run with :data:`PROCESS_TAG` (``host:pid:start``, the
start being the process's start time in clock ticks since boot, so that a pid reused by another
process is not taken for the run's) when it stores the run's ``RUN_START`` event, before the run
becomes STARTED. :class:`LocalRunLauncher` is Dagster's default launcher that answers
``check_run_worker_health`` from that tag: the worker has failed when no process of that pid and
start time exists on this host any more (or it is a zombie). A run of another host, or without the
tag (started before this version), is reported running: monitoring on one machine cannot tell.
"""

from __future__ import annotations

import os
import socket

from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

PROCESS_TAG = "risk_pipeline/process"


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, /proc/<pid>/stat field 22); None when
    no such process is alive (gone or a zombie) or the system has no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except FileNotFoundError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    state, start = fields[0], fields[19]
    return None if state in ("Z", "X") else start


def process_tag(pid: int | None = None) -> str:
    """``host:pid:start`` of this process (or of ``pid``)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or ''}"


def process_alive(tag: str) -> bool | None:
    """Whether the process of ``tag`` (:func:`process_tag`) still runs; None when this host cannot tell
    (another host's process)."""
    host, pid, start = tag.rsplit(":", 2)
    if host != socket.gethostname():
        return None
    if not os.path.exists("/proc/self/stat"):  # no /proc: a signal 0 tells whether the pid exists
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return _start_ticks(int(pid)) == start


class LocalRunLauncher(DefaultRunLauncher):
    """Dagster's default run launcher, able to tell the run monitoring daemon that a run's process
    died (module doc)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        tag = run.tags.get(PROCESS_TAG)
        alive = process_alive(tag) if tag else None
        if alive is False:
            host, pid, _ = tag.rsplit(":", 2)
            return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's process {pid} on {host} is gone "
                                                             "(killed, or its machine restarted)")
        # Dagster fails a run whose worker is anything but RUNNING or SUCCESS: a run of another host,
        # or one started before runs recorded their process, is taken as running
        return CheckRunHealthResult(WorkerStatus.RUNNING, "process alive" if alive else "process not known here")
