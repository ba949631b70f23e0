"""The daily job's executor: the run's steps on lanes, processes forked from the run's process once.

One business day is 36 small steps (0.02-2.5 s each) that hold the interpreter lock for most of their
time, so two threads of one process take turns on one core, and Dagster's multiprocess executor pays
for each step a process that loads the job, the instance and the resources again and reads the lake
cold: more than the steps themselves (docs/performance.md). This executor forks ``lanes`` processes
(default 2) from the run's process once, when the run's resources are up and before any step ran: each
lane starts with the run's imports, definitions and resources and keeps its own caches (the lake's
open tables, what its steps read) from one step to the next. The run's process only orchestrates,
with Dagster's own ``ActiveExecution`` (dependencies, skips, retries, interrupts): it hands the ready
step with the longest chain of expected seconds after it (:func:`step_ranks`: each step's duration in
the job's last successful run, ``DEFAULT_STEP_SECONDS`` for a step that has none) to an idle lane. A
lane runs the step as Dagster's in-process executor does (``dagster_event_sequence_for_step``: the
step's events are stored in the instance by the lane) and sends each event back, serialized, for the
run's process to track and yield.

The lanes fork from a process that has not opened a Delta table or a DuckDB connection (the run's
process runs no step), which neither library would survive in a child. On the ``dask`` engine of the
``compute`` resource the heavy steps' tasks already take the machine's cores, and the run's process
holds a Dask client whose threads a fork would not copy: there, as with ``lanes`` 1 or where the
platform has no ``fork``, the steps run in the run's process, as the in-process executor runs them.

Faults: a lane that dies during a step (killed, out of memory) fails that step with a message naming
the lane and how it ended; a new lane is forked in its place and the run goes on with the steps that do
not depend on the failed one, as after any failed step. The lanes die with the run's process (Linux's
``PR_SET_PDEATHSIG``), so a run killed with SIGKILL leaves no lane writing after it: what a killed step
left is what any killed run leaves, which the next run heals. An interrupt of the run (its termination
from the UI) is forwarded to the lanes, whose steps stop as the in-process executor's would.

Requirements: a persistent instance (the lanes store their steps' events in its storage) and no output
passed in memory from one step to another (the project's assets pass none: they read the lake).
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from multiprocessing.connection import Connection, Pipe, wait

import dagster as dg
from dagster._core.definitions.executor_definition import ExecutorRequirement
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.active import ActiveExecution
from dagster._core.execution.plan.execute_plan import _trigger_hook, dagster_event_sequence_for_step
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.executor.base import Executor
from dagster._core.executor.in_process import inprocess_execution_iterator
from dagster._serdes import deserialize_value, serialize_value
from dagster._utils.error import SerializableErrorInfo

# a step the job's last successful run did not time (a new asset, the job's first run)
DEFAULT_STEP_SECONDS = 0.1
_STEP_DONE = "done"  # what a lane sends after a step's last event
_PR_SET_PDEATHSIG = 1  # prctl(2)


def step_ranks(dependencies: Mapping[str, Sequence[str]], seconds: Mapping[str, float]) -> dict[str, float]:
    """Each step's expected seconds to the end of the run through its longest chain of dependents: its
    own (``seconds``, ``DEFAULT_STEP_SECONDS`` where absent) plus the largest rank of the steps that
    depend on it (``dependencies``: each step's upstream steps). The ready step of the largest rank runs
    first: the list scheduling of Hu's critical-path rule (T. C. Hu, "Parallel sequencing and assembly
    line problems", Operations Research 9(6), 1961), which keeps the run's longest chain moving."""
    dependents: dict[str, list[str]] = {key: [] for key in dependencies}
    for key, upstream in dependencies.items():
        for other in upstream:
            dependents.setdefault(other, []).append(key)
    ranks: dict[str, float] = {}
    for root in dependencies:  # depth first, each step ranked once its dependents are (no recursion limit)
        stack = [(root, False)]
        while stack:
            key, expanded = stack.pop()
            if key in ranks:
                continue
            if expanded:
                after = [ranks[other] for other in dependents.get(key, ())]
                ranks[key] = float(seconds.get(key, DEFAULT_STEP_SECONDS)) + max(after, default=0.0)
            else:
                stack.append((key, True))
                stack.extend((other, False) for other in dependents.get(key, ()) if other not in ranks)
    return {key: ranks[key] for key in dependencies}


def _last_step_seconds(job_context: PlanExecutionContext) -> dict[str, float]:
    """Each step's seconds (start to end, Dagster's step stats) in the job's last successful run."""
    instance = job_context.instance
    records = instance.get_run_records(dg.RunsFilter(job_name=job_context.job_name,
                                                     statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1)
    if not records:
        return {}
    return {stat.step_key: stat.end_time - stat.start_time
            for stat in instance.get_run_step_stats(records[0].dagster_run.run_id)
            if stat.end_time is not None and stat.start_time is not None}


def _die_with_parent() -> None:
    """Have the kernel kill this process when the process that forked it dies (Linux; elsewhere a lane
    ends when it finds its pipe closed)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _lane(job_context: PlanExecutionContext, execution_plan: ExecutionPlan, conn: Connection, parent: int) -> None:
    """A lane's loop: each step named by the run's process, its events sent back, then ``_STEP_DONE``."""
    _die_with_parent()
    if os.getppid() != parent:  # the run's process died before the line above took effect
        return
    gc.freeze()  # what the lane inherited stays shared with the run's process, out of its collector's walks
    while True:
        message = conn.recv()
        if message is None:
            return
        key, known_state = message
        step = execution_plan.get_step_by_key(key)
        step_context = job_context.for_step(step, deserialize_value(known_state))
        events = []
        for event in dagster_event_sequence_for_step(step_context):
            events.append(event)
            conn.send(serialize_value(event))
        for event in _trigger_hook(step_context, events):
            conn.send(serialize_value(event))
        conn.send(_STEP_DONE)


class _Lanes:
    """The run's lanes: each a forked process and the run's end of its pipe."""

    def __init__(self, job_context: PlanExecutionContext, execution_plan: ExecutionPlan):
        self._job_context, self._plan = job_context, execution_plan
        self.pids: dict[Connection, int] = {}

    def fork(self) -> Connection:
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        ours, theirs = Pipe()
        pid = os.fork()
        if pid == 0:  # the lane: never returns into the run's code (os._exit)
            code = 0
            try:
                ours.close()
                _lane(self._job_context, self._plan, theirs, parent)
            except BaseException:  # noqa: BLE001 - the run's process sees the pipe close and fails the step
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        theirs.close()
        self.pids[ours] = pid
        return ours

    def ended(self, conn: Connection) -> str:
        """Reap the lane of ``conn``, whose pipe closed; how it ended."""
        pid = self.pids.pop(conn)
        conn.close()
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            return f"lane process {pid} was killed by {signal.Signals(os.WTERMSIG(status)).name}"
        return f"lane process {pid} exited with status {os.waitstatus_to_exitcode(status)}"

    def signal_all(self, signum: int) -> None:
        for pid in self.pids.values():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        """Tell every lane to end, and reap them."""
        for conn, pid in list(self.pids.items()):
            try:
                conn.send(None)
            except OSError:  # its pipe already closed: it ended
                pass
            conn.close()
            os.waitpid(pid, 0)
        self.pids.clear()

    def kill(self) -> None:
        self.signal_all(signal.SIGKILL)
        for conn, pid in list(self.pids.items()):
            conn.close()
            os.waitpid(pid, 0)
        self.pids.clear()


def _lanes_iterator(executor: ForkedLanesExecutor, job_context: PlanExecutionContext,
                    execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
    """The run's steps on ``executor.lanes`` forked lanes (the module's docstring)."""
    steps = execution_plan.get_steps_to_execute_in_topo_order()
    dependencies = {step.key: [key for step_input in step.step_inputs for key in step_input.dependency_keys]
                    for step in steps}
    ranks = step_ranks(dependencies, _last_step_seconds(job_context))
    compute_log_manager = job_context.instance.compute_log_manager
    with ExitStack() as stack:
        concurrency = stack.enter_context(InstanceConcurrencyContext(job_context.instance, job_context.dagster_run))
        active = stack.enter_context(ActiveExecution(
            execution_plan, retry_mode=job_context.retry_mode, sort_key_fn=lambda step: -ranks.get(step.key, 0.0),
            instance_concurrency_context=concurrency, step_dependency_config=job_context.step_dependency_config))
        # the whole process's output captured before the lanes fork: theirs goes to the same files
        log_key = compute_log_manager.build_log_key_for_run(job_context.run_id, create_compute_log_file_key())
        log_context = stack.enter_context(compute_log_manager.capture_logs(log_key))
        yield DagsterEvent.capture_logs(job_context, [step.key for step in steps], log_key, log_context)
        lanes = _Lanes(job_context, execution_plan)
        idle = [lanes.fork() for _ in range(executor.lanes)]
        busy: dict[Connection, str] = {}
        stopping = False
        try:
            while busy or (not stopping and not active.is_complete):
                if not stopping and active.check_for_interrupts():
                    yield DagsterEvent.engine_event(job_context, "Forked lanes: the run was interrupted, "
                                                    "forwarding it to the lanes' steps",
                                                    EngineEventData.interrupted(list(busy.values())))
                    stopping = True
                    active.mark_interrupted()
                    lanes.signal_all(signal.SIGINT)
                while idle and not stopping and not active.is_complete:
                    step = active.get_next_step()
                    yield from active.concurrency_event_iterator(job_context)
                    if step is None:
                        break
                    conn, message = idle.pop(), (step.key, serialize_value(active.get_known_state()))
                    try:
                        conn.send(message)
                    except OSError:  # the lane died while it waited (killed, out of memory): a new one
                        how = lanes.ended(conn)
                        yield DagsterEvent.engine_event(job_context, f"Forked lanes: the {how} while idle; "
                                                        "a new lane takes its steps", EngineEventData())
                        conn = lanes.fork()
                        conn.send(message)
                    busy[conn] = step.key
                if not busy:
                    if not stopping and not active.is_complete:
                        active.sleep_til_ready()
                    continue
                for conn in wait(list(busy), timeout=1.0):
                    try:
                        message = conn.recv()
                    except EOFError:  # the lane died during its step
                        key = busy.pop(conn)
                        yield from _lane_died(executor, job_context, active, key, lanes.ended(conn))
                        if not stopping:
                            idle.append(lanes.fork())
                        continue
                    if message == _STEP_DONE:
                        key = busy.pop(conn)
                        idle.append(conn)
                        active.verify_complete(job_context, key)
                        yield from active.plan_events_iterator(job_context)
                        continue
                    event = deserialize_value(message, DagsterEvent)
                    yield event
                    active.handle_event(event)
        except BaseException:
            lanes.kill()
            raise
        lanes.close()
        if stopping:
            raise dg.DagsterExecutionInterruptedError()


def _lane_died(executor: ForkedLanesExecutor, job_context: PlanExecutionContext, active: ActiveExecution,
               key: str, how: str) -> Iterator[DagsterEvent]:
    """The step ``key``'s failure (or retry) after its lane died (``how``)."""
    step_context = job_context.for_step(active.get_step_by_key(key))
    message = f"Forked lanes: the {how} during step {key}"
    error = SerializableErrorInfo(message=message, stack=[], cls_name="LaneDiedError")
    yield DagsterEvent.engine_event(step_context, message, EngineEventData.engine_error(error))
    event = executor.log_failure_or_retry_event_after_error(step_context, error, active.get_known_state())
    yield event
    active.handle_event(event)
    active.verify_complete(job_context, key)
    yield from active.plan_events_iterator(job_context)


class ForkedLanesExecutor(Executor):
    """Runs a run's steps on ``lanes`` processes forked from the run's process (the module's docstring)."""

    def __init__(self, lanes: int, retries: RetryMode):
        if lanes < 1:
            raise ValueError(f"forked_lanes: lanes={lanes} must be at least 1")
        self.lanes = lanes
        self._retries = retries

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def _forks(self, job_context: PlanExecutionContext) -> bool:
        compute = job_context.scoped_resources_builder.resource_instance_dict.get("compute")
        return self.lanes > 1 and hasattr(os, "fork") and getattr(compute, "engine", "inline") != "dask"

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        def iterator(job_context: PlanExecutionContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
            forks = self._forks(job_context)
            yield DagsterEvent.engine_event(
                job_context,
                f"Executing steps on {self.lanes} forked lanes of process {os.getpid()}" if forks
                else f"Executing steps in process (pid: {os.getpid()})",
                event_specific_data=EngineEventData.in_process(os.getpid(), execution_plan.step_keys_to_execute))
            yield from (_lanes_iterator(self, job_context, execution_plan) if forks
                        else inprocess_execution_iterator(job_context, execution_plan))

        yield from iter(ExecuteRunWithPlanIterable(
            execution_plan=plan_context.execution_plan,
            iterator=iterator,
            execution_context_manager=PlanExecutionContextManager(
                job=plan_context.job,
                retry_mode=plan_context.retry_mode,
                execution_plan=plan_context.execution_plan,
                run_config=plan_context.run_config,
                dagster_run=plan_context.dagster_run,
                instance=plan_context.instance,
                raise_on_error=plan_context.raise_on_error,
                output_capture=plan_context.output_capture,
            ),
        ))


@dg.executor(
    name="forked_lanes",
    config_schema={
        "lanes": dg.Field(int, default_value=2, description="Processes running the steps, forked from the run's "
                          "process at its start (1: the steps in the run's process)."),
        "retries": get_retries_config(),
    },
    requirements=[ExecutorRequirement.NON_EPHEMERAL_INSTANCE, ExecutorRequirement.PERSISTENT_OUTPUTS],
)
def forked_lanes_executor(init_context: dg.InitExecutorContext) -> ForkedLanesExecutor:
    """The run's steps on processes forked from the run's process once (``risk_pipeline.forked_lanes``)."""
    config = init_context.executor_config
    return ForkedLanesExecutor(lanes=int(config["lanes"]), retries=RetryMode.from_config(config["retries"]))
