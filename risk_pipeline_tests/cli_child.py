"""``risk-pipeline`` commands in child processes that start in milliseconds, for tests that kill runs
or run many: the children are forked from a server process that imported the project once
(``multiprocessing``'s forkserver with the project preloaded) instead of each importing it again
(5-7 s on a loaded machine). Each child is a separate process with its own environment, stdout and
stderr (to a file), and may be told to SIGKILL itself at the k-th call of a function
(:func:`kill_at_call`)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

PRELOAD = ["risk_pipeline.definitions", "risk_pipeline.cli", "risk_pipeline.report.publish"]
_context = None


def _forkserver():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def fill_disk(ballast: str) -> None:
    """Write ``ballast`` until the disk it is on is full."""
    with open(ballast, "ab", buffering=0) as handle:  # unbuffered: closing it has nothing left to write
        try:
            while True:
                handle.write(bytes(1 << 16))
        except OSError:  # full
            pass


def kill_at_call(target: str, nth: int, under: str | None = None, delay: float = 0.0,
                 fill: str | None = None) -> None:
    """SIGKILL this process at the ``nth`` call of ``target`` (on a path below ``under``, if given), or
    with ``fill`` (a file's path), fill the disk with that file instead (the call then meets a full disk):
    ``commit`` (a lake commit: a frame's ``deltalake.write_deltalake``, or the one transaction of
    staged files, ``DeltaTable.create_write_transaction`` / ``create_table_with_add_actions``),
    ``catalog`` (a rewrite of the catalog after a commit, ``refresh_catalog`` of a frame's or of staged files'), ``write`` (a file of
    a report, ``publish._write``), ``rename``, ``symlink``, ``replace`` (``os``), ``rmtree`` (``shutil``); at
    the call, or ``delay`` seconds after it (while the call runs, if it still does)."""
    import shutil
    import threading

    from deltalake import DeltaTable

    from risk_pipeline.defs import chunks, lake_assets
    from risk_pipeline.report import publish
    from risk_pipeline.storage import lake, staging

    places = {"commit": [(lake, "write_deltalake"), (DeltaTable, "create_write_transaction"),
                         (staging, "create_table_with_add_actions")],
              "catalog": [(lake_assets, "refresh_catalog"), (chunks, "refresh_catalog")], "write": [(publish, "_write")],
              "rmtree": [(shutil, "rmtree")]}.get(target, [(os, target)])
    calls = [0]

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def counted(real):
        def dying(*args, **kwargs):
            if under is None or any(str(arg).startswith(under) for arg in args[:2]):
                calls[0] += 1
                if calls[0] == nth and fill:
                    fill_disk(fill)
                elif calls[0] == nth:
                    if not delay:
                        die()
                    threading.Timer(delay, die).start()
            return real(*args, **kwargs)
        return dying

    for owner, name in places:  # one count over every place of the target
        setattr(owner, name, counted(getattr(owner, name)))


def _main(argv: list[str], env: Mapping[str, str], output: str, kill: tuple | None) -> None:
    os.environ.pop("DAGSTER_HOME", None)
    os.environ.update(env)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    if kill is not None:
        kill_at_call(*kill)
    from risk_pipeline.cli import main

    status = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def start(argv: list[str], env: Mapping[str, str], output: Path, kill: tuple | None = None):
    """``risk-pipeline <argv>`` in a new child process (a ``multiprocessing.Process``, started);
    stdout and stderr appended to ``output``; ``kill``: the arguments of :func:`kill_at_call`; its
    ``exitcode`` is the command's exit status, or -9 when it was killed."""
    process = _forkserver().Process(target=_main, args=(argv, dict(env), str(output), kill))
    process.start()
    return process


def run(argv: list[str], env: Mapping[str, str], output: Path, timeout: float = 600) -> int:
    """``risk-pipeline <argv>`` in a child process, waited for; its exit status."""
    process = start(argv, env, output)
    process.join(timeout)
    if process.exitcode is None:
        process.kill()
        process.join()
        raise AssertionError(f"risk-pipeline {' '.join(argv)} ran more than {timeout} s:\n{output.read_text()[-3000:]}")
    return process.exitcode
