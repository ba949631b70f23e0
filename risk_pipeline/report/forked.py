"""Part of a report's work done in a forked child process while this process does the rest: the report's
charts are matplotlib's and Pillow's work on one core each (the GIL), and the report is the last step of a
day, when the machine's other cores are idle. Where there is no second core to use, or no ``fork`` (a
platform without it, a daemonic process such as a Dask worker, which may not have children), the work is
done in this process, the same result.

The child is a fork of this process: it sees the data already read and the modules already imported,
and sends its result (bytes, plain objects) back through a pipe; it ends with ``os._exit`` (no exit
handler of this process runs twice). What this process reads after the fork can be sent to the child's
job through another pipe (:meth:`Forked.send`, from a thread: the child may still be busy with the job's
first part). An error in the child is raised here, with the child's traceback.
A child that has not answered after ``timeout`` seconds (a fork of a process with other threads can
inherit a lock another thread held: the child would wait for it forever) is killed and the job done in
this process instead, so the report is never held up by more than that.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import signal
import threading
import traceback
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_DONE = object()  # the end of what is sent to a child

# far above a day's charts (about 2 s) and the 30-year run's, far below a run's patience
TIMEOUT_SECONDS = 120.0


def can_fork() -> bool:
    """True where a forked child would run on a core of its own: ``fork`` available, this process not
    daemonic, and two cores or more for it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon \
        and cores > 1


def _run(job: Callable[..., object], writer, inbox) -> None:
    # what the child inherited is never its garbage (it ends with os._exit): out of its collector's sight
    # (gc.freeze), whose collections then walk only what the child makes (a day's report: 0.2-0.27 s of the
    # child's collections -> 0.03 s), and leave the inherited objects' pages shared with this process
    gc.freeze()
    # not this process's handlers (Dagster's, which let a run's process finish its step): a signal to stop
    # stops the child
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        outcome = ("value", job() if inbox is None else job(inbox.recv))
    except BaseException as exc:  # sent to the parent, which raises it
        outcome = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    writer.send(outcome)
    writer.close()


class Forked(Generic[T]):
    """``job()`` in a forked child (:func:`can_fork`), else in this process when its result is asked for;
    :meth:`result` waits for it. With ``inbox``, the job is called with a function that returns, one call
    after the other, what :meth:`send` sent (waiting for it). Used as a context manager: a child whose
    result was not taken (an error here) is killed at the block's end (it may be blocked writing a result
    nobody reads)."""

    def __init__(self, job: Callable[..., T], what: str, timeout: float = TIMEOUT_SECONDS, inbox: bool = False) -> None:
        self.what, self._job, self._timeout, self._process = what, job, timeout, None
        self._sent: list[Any] = []  # for the job run here (no child, or one that never answered)
        self._inbox = inbox
        self._sender: threading.Thread | None = None
        self._outbox: Connection | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        if not can_fork():
            return
        context = multiprocessing.get_context("fork")
        self._reader, writer = context.Pipe(duplex=False)
        received, self._outbox = context.Pipe(duplex=False) if inbox else (None, None)
        self._process = context.Process(target=_run, args=(job, writer, received), name=what, daemon=True)
        self._process.start()
        writer.close()
        if received is not None:
            received.close()

    def send(self, value: Any) -> None:
        """Give ``value`` to the job (``inbox``): to a child through its pipe, by one thread that sends the
        values in order (a value larger than the pipe's buffer waits there until the child reads it)."""
        self._sent.append(value)
        if self._process is not None:
            if self._sender is None:
                self._sender = threading.Thread(target=self._post, name=f"{self.what}: send", daemon=True)
                self._sender.start()
            self._queue.put(value)

    def _post(self) -> None:
        outbox = self._outbox
        assert outbox is not None  # a child with an inbox
        while (value := self._queue.get()) is not _DONE:
            try:
                outbox.send(value)
            except OSError:  # the child ended (or was killed) without reading it: result() says why
                return

    def _here(self) -> T:
        sent = iter(self._sent)
        return self._job(lambda: next(sent)) if self._inbox else self._job()

    def result(self) -> T:
        process = self._process
        if process is None:
            return self._here()
        self._process = None
        if not self._reader.poll(self._timeout):
            self._end(process)
            warnings.warn(f"{self.what}: the child process gave no result in {self._timeout:g} s; done in this "
                          "process instead", RuntimeWarning, stacklevel=2)
            return self._here()
        try:
            kind, value = self._reader.recv()
        except EOFError:
            process.join()
            raise RuntimeError(f"{self.what}: the child process ended without a result (exit code "
                               f"{process.exitcode})") from None
        finally:
            process.join()
            self._reader.close()
            self._close_outbox()
        if kind == "error":
            raise RuntimeError(f"{self.what} (in a child process): {value}")
        return value

    def __enter__(self) -> Forked[T]:
        return self

    def __exit__(self, *_) -> None:
        if self._process is not None:
            self._end(self._process)
            self._process = None

    def _end(self, process) -> None:
        """Kill the child and close the pipes."""
        process.kill()
        process.join()
        self._reader.close()
        self._close_outbox()

    def _close_outbox(self) -> None:
        """Once the child has ended: the sending thread ends (what the child did not read met its closed
        pipe), then the pipe is closed."""
        if self._outbox is not None:
            if self._sender is not None:
                self._queue.put(_DONE)
                self._sender.join()
            self._outbox.close()
