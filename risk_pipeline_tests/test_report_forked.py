"""report.forked: part of a report's work in a forked child process, its result or its error back in
this process; in this process where no child can be forked."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from risk_pipeline.report import forked
from risk_pipeline.report.forked import Forked

needs_fork = pytest.mark.skipif(not forked.can_fork(), reason="no fork or a single core here")


@needs_fork
def test_the_job_runs_in_a_child_process_and_its_result_comes_back():
    with Forked(lambda: (os.getpid(), b"\x89PNG" * 100_000), "a job") as job:  # more than a pipe's buffer
        pid, png = job.result()
    assert pid != os.getpid() and png == b"\x89PNG" * 100_000


@needs_fork
def test_an_error_in_the_child_is_raised_here_with_its_traceback():
    def failing():
        raise ValueError("no glyph for the title")

    with Forked(failing, "the report's P&L charts") as job:
        with pytest.raises(RuntimeError, match=r"the report's P&L charts \(in a child process\): ValueError: no glyph"):
            job.result()


@needs_fork
def test_a_child_that_dies_is_an_error_naming_its_exit_code():
    with Forked(lambda: os._exit(3), "a job") as job:
        with pytest.raises(RuntimeError, match=r"a job: the child process ended without a result \(exit code 3\)"):
            job.result()


@needs_fork
def test_a_child_whose_result_is_not_taken_is_stopped_at_the_block_s_end():
    # even where this process ignores SIGTERM (a handler of Dagster's lets a run's process end its step)
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        with pytest.raises(KeyError):
            with Forked(lambda: b"x" * 1_000_000, "a job") as job:  # blocked on a full pipe until it is read
                child = job._process
                raise KeyError("an error in this process before the result is taken")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not child.is_alive()


@needs_fork
def test_the_child_stops_at_sigterm_whatever_this_process_does_with_it():
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    started, running = os.pipe()
    try:
        with Forked(lambda: (os.write(running, b"1"), time.sleep(60)), "a job") as job:
            assert os.read(started, 1) == b"1"  # the child is in its job
            job._process.terminate()
            with pytest.raises(RuntimeError, match=r"exit code -15"):
                job.result()
    finally:
        signal.signal(signal.SIGTERM, previous)
        os.close(started)
        os.close(running)


def test_without_a_second_core_or_fork_the_job_runs_here(monkeypatch):
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    with Forked(os.getpid, "a job") as job:
        assert job.result() == os.getpid()


@needs_fork
def test_a_child_that_never_answers_is_killed_and_the_job_done_here():
    # the hazard of forking a process with threads: a lock another thread held at the fork stays held in the
    # child forever
    lock = threading.Lock()
    lock.acquire()

    def job():
        with lock:
            return os.getpid()

    with Forked(job, "a job", timeout=1.0) as forked_job:
        child = forked_job._process
        lock.release()  # released in this process only: the child's copy stays held
        with pytest.warns(RuntimeWarning, match=r"a job: the child process gave no result in 1 s; done in this process"):
            pid = forked_job.result()
    assert pid == os.getpid() and not child.is_alive()


@needs_fork
def test_the_child_s_collector_walks_only_what_the_child_makes():
    import gc
    import weakref

    inherited = [[] for _ in range(10_000)]  # objects this process's collector tracks

    def job():
        class Node:
            pass

        node = Node()
        node.itself = node  # a cycle the child makes, garbage at once
        ref = weakref.ref(node)
        del node
        gc.collect()
        return gc.get_freeze_count(), ref() is None

    frozen_here = gc.get_freeze_count()
    with Forked(job, "a job") as child:
        frozen, collected = child.result()
    assert frozen >= frozen_here + len(inherited)  # what the child inherited is out of its collector's sight
    assert collected  # and what it makes is collected as before


@needs_fork
def test_what_is_sent_after_the_fork_reaches_the_job_while_this_process_goes_on():
    large = b"\x89PNG" * 1_000_000  # far more than a pipe's buffer: sent while the child is still busy

    def job(receive):
        time.sleep(0.5)  # the job's first part, before it asks for what was sent
        first, second = receive(), receive()
        return os.getpid(), len(first), second

    with Forked(job, "a job", inbox=True) as child:
        began = time.perf_counter()
        child.send(large)
        child.send("the second")
        assert time.perf_counter() - began < 0.3  # this process did not wait for the child to read them
        pid, size, second = child.result()
    assert pid != os.getpid() and size == len(large) and second == "the second"


def test_without_a_child_the_job_runs_here_on_what_was_sent(monkeypatch):
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    with Forked(lambda receive: (os.getpid(), receive(), receive()), "a job", inbox=True) as job:
        job.send(1)
        job.send([2])
        assert job.result() == (os.getpid(), 1, [2])


@needs_fork
def test_a_child_that_fails_before_reading_what_was_sent_is_an_error_not_a_wait():
    def job(receive):
        raise ValueError("no chart")

    with Forked(job, "the report's P&L charts", inbox=True) as child:
        child.send(b"x" * 5_000_000)  # never read: the thread sending it ends when the pipe closes
        with pytest.raises(RuntimeError, match=r"in a child process\): ValueError: no chart"):
            child.result()
    assert not [t for t in threading.enumerate() if t.name.endswith(": send")]
