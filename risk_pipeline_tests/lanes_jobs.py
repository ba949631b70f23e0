"""Small jobs on the ``forked_lanes`` executor for ``test_forked_lanes.py`` (at module level, so that Dagster
can load them from this file). Each op records, in the folder of ``LANES_TEST_DIR``, the process it ran in
and when it started and ended."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg

from risk_pipeline.forked_lanes import forked_lanes_executor


def _record(name: str, seconds: float) -> None:
    folder = Path(os.environ["LANES_TEST_DIR"])
    start = time.time()
    (folder / f"{name}.started").write_text(json.dumps({"pid": os.getpid(), "start": start}))
    time.sleep(seconds)
    (folder / f"{name}.json").write_text(json.dumps({"pid": os.getpid(), "start": start, "end": time.time()}))


@dg.op(out=dg.Out(dg.Nothing))
def source() -> None:
    _record("source", 1.0)  # long enough for a test to act on the idle lane meanwhile


@dg.op(ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
def left() -> None:
    _record("left", 1.5)


@dg.op(ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
def right() -> None:
    _record("right", 1.5)


@dg.op(ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
def joined() -> None:
    _record("joined", 0.1)


@dg.job(executor_def=forked_lanes_executor)
def diamond_job() -> None:
    done = source()
    joined([left(after=done), right(after=done)])


@dg.op(out=dg.Out(dg.Nothing))
def victim() -> None:
    _record("victim", 120.0)  # until the test kills its process


@dg.op(out=dg.Out(dg.Nothing))
def bystander() -> None:
    _record("bystander", 2.0)


@dg.op(ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
def after_victim() -> None:
    _record("after_victim", 0.1)


@dg.job(executor_def=forked_lanes_executor)
def victim_job() -> None:
    after_victim(after=victim())
    bystander()


defs = dg.Definitions(jobs=[diamond_job, victim_job])
