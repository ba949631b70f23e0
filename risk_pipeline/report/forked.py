"""Part of a report's work done in a forked child process while this process does the rest: the report's
charts are matplotlib's and Pillow's work on one core each (the GIL), and the report is the last step of a
day, when the machine's other cores are idle. Where there is no second core to use, or no ``fork`` (a
platform without it, a daemonic process such as a Dask worker, which may not have children), the work is
done in this process, the same result.

The child is a fork of this process: it sees the data already read and the modules already imported,
and sends its result (bytes, plain objects) back through a pipe; it ends with ``os._exit`` (no exit
handler of this process runs twice). An error in the child is raised here, with the child's traceback.
A child that has not answered after ``timeout`` seconds (a fork of a process with other threads can
inherit a lock another thread held: the child would wait for it forever) is killed and the job done in
this process instead, so the report is never held up by more than that.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import traceback
import warnings
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# far above a day's charts (about 2 s) and the 30-year run's, far below a run's patience
TIMEOUT_SECONDS = 120.0


def can_fork() -> bool:
    """True where a forked child would run on a core of its own: ``fork`` available, this process not
    daemonic, and two cores or more for it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon \
        and cores > 1


def _run(job: Callable[[], object], writer) -> None:
    # what the child inherited is never its garbage (it ends with os._exit): out of its collector's sight
    # (gc.freeze), whose collections then walk only what the child makes (a day's report: 0.2-0.27 s of the
    # child's collections -> 0.03 s), and leave the inherited objects' pages shared with this process
    gc.freeze()
    # not this process's handlers (Dagster's, which let a run's process finish its step): a signal to stop
    # stops the child
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        outcome = ("value", job())
    except BaseException as exc:  # sent to the parent, which raises it
        outcome = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    writer.send(outcome)
    writer.close()


class Forked(Generic[T]):
    """``job()`` in a forked child (:func:`can_fork`), else at once in this process; :meth:`result`
    waits for it. Used as a context manager: a child whose result was not taken (an error here) is
    killed at the block's end (it may be blocked writing a result nobody reads)."""

    def __init__(self, job: Callable[[], T], what: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.what, self._job, self._timeout, self._process, self._value = what, job, timeout, None, None
        if not can_fork():
            self._value = job()
            return
        context = multiprocessing.get_context("fork")
        self._reader, writer = context.Pipe(duplex=False)
        self._process = context.Process(target=_run, args=(job, writer), name=what, daemon=True)
        self._process.start()
        writer.close()

    def result(self) -> T:
        process = self._process
        if process is None:
            return self._value
        self._process = None
        if not self._reader.poll(self._timeout):
            process.kill()
            process.join()
            self._reader.close()
            warnings.warn(f"{self.what}: the child process gave no result in {self._timeout:g} s; done in this "
                          "process instead", RuntimeWarning, stacklevel=2)
            return self._job()
        try:
            kind, value = self._reader.recv()
        except EOFError:
            process.join()
            raise RuntimeError(f"{self.what}: the child process ended without a result (exit code "
                               f"{process.exitcode})") from None
        finally:
            self._reader.close()
        process.join()
        if kind == "error":
            raise RuntimeError(f"{self.what} (in a child process): {value}")
        return value

    def __enter__(self) -> Forked[T]:
        return self

    def __exit__(self, *_) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._reader.close()
            self._process = None
