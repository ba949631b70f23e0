"""A step's asset events handed to the instance without Python's logging in between, when nothing
but the instance would see them.

Dagster logs every event of a step through its log manager: a ``logging.LogRecord`` (the caller's
frame looked up), a copy of the record's Dagster metadata with a new uuid and a formatted message,
the ``extra`` of every user logger (compared key by key with a second, empty ``LogRecord``) even when
that logger's level drops the record, and only then the instance's handler builds the
``EventLogEntry`` it stores. A run over a range of partitions logs a materialization per asset and
partition (232,000 in ``make run``'s 30 years) and that path was about a third of each one's cost.

:func:`log_dagster_event` replaces ``DagsterLogManager.log_dagster_event`` for the events Dagster
logs with batch metadata (a step's materializations and observations of partitions): when the only
handler that takes a DEBUG record is the instance's and no user logger is enabled for it (the
console logger of ``risk-pipeline backfill`` is at INFO, Dagster logs these events at DEBUG), it builds the ``EventLogEntry``
that handler would build (the same fields; the timestamp, as the record's, ``time.time()`` of the
call) and hands it to the instance as that handler does, under the same locks and with the same
capture guard (:func:`handle_batch_event`: what ``instance.handle_new_event`` does with it). In any other case (a console at DEBUG, a handler of ``dagster.yaml``,
an event logged while another is being handled) Dagster's own method runs. Installed when
``risk_pipeline.instance`` is imported: by every process of the project's instance.
"""

from __future__ import annotations

import inspect
import logging
import sys
import time

from dagster import DagsterInstance
from dagster._core.events import DagsterEvent, DagsterEventBatchMetadata, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.types import _EventListenerLogHandler
from dagster._core.log_manager import DagsterLogHandler, DagsterLogManager
from dagster._core.utils import coerce_valid_log_level

DAGSTERS_LOG_DAGSTER_EVENT = DagsterLogManager.log_dagster_event
# the events Dagster logs with batch metadata: it stores them all, and none changes the run's status
BATCHED_EVENT_TYPES = frozenset({DagsterEventType.ASSET_MATERIALIZATION.value, DagsterEventType.ASSET_OBSERVATION.value})


def _instance_handler(manager: DagsterLogManager, level: int) -> _EventListenerLogHandler | None:
    """The instance's handler if it alone would receive a record of ``level`` logged on ``manager``
    and nothing else would see it; else None."""
    dagster_handler = manager._dagster_handler  # noqa: SLF001 - Dagster's own fields, read as its methods do
    if (manager.disabled or manager.filters or manager.parent is not None
            or manager.handlers != [dagster_handler] or type(dagster_handler) is not DagsterLogHandler
            or level < dagster_handler.level
            or not getattr(dagster_handler._local_thread_context, "should_capture", True)):  # noqa: SLF001
        return None
    for logger in dagster_handler._loggers:  # noqa: SLF001
        if type(logger).log is not logging.Logger.log or logger.isEnabledFor(level):
            return None
    taking = [handler for handler in dagster_handler._handlers if level >= handler.level]  # noqa: SLF001
    if len(taking) != 1 or type(taking[0]) is not _EventListenerLogHandler or taking[0].filters:
        return None
    return taking[0]


def log_dagster_event(self: DagsterLogManager, level: str | int, msg: str, dagster_event: DagsterEvent,
                      batch_metadata: DagsterEventBatchMetadata | None = None) -> None:
    """``DagsterLogManager.log_dagster_event``: for an event of a batch that only the instance would
    see, what the instance's handler does with the record, without the record (module docstring)."""
    level = coerce_valid_log_level(level)
    handler = None if batch_metadata is None else _instance_handler(self, level)
    if handler is None:
        DAGSTERS_LOG_DAGSTER_EVENT(self, level, msg, dagster_event, batch_metadata)
        return
    dagster_handler = self._dagster_handler  # noqa: SLF001
    metadata = dagster_handler.metadata
    event = EventLogEntry(error_info=None, level=level, user_message=str(msg), run_id=metadata["run_id"],
                          timestamp=time.time(), step_key=metadata["step_key"] or dagster_event.step_key,
                          job_name=metadata["job_name"], dagster_event=dagster_event)
    # DagsterLogHandler.emit: no capture of what is logged while the event is handled
    dagster_handler._local_thread_context.should_capture = False  # noqa: SLF001
    try:
        with dagster_handler.lock, handler.lock:
            try:
                handle_batch_event(handler._instance, event, batch_metadata)  # noqa: SLF001
            except Exception as e:
                # _EventListenerLogHandler.emit: a Dagster event that could not be stored fails the step
                sys.stderr.write(f"Exception while writing logger call to event log: {e}\n")
                raise
    finally:
        dagster_handler._local_thread_context.should_capture = True  # noqa: SLF001


def handle_batch_event(instance: DagsterInstance, event: EventLogEntry, batch_metadata: DagsterEventBatchMetadata) -> None:
    """``instance.handle_new_event(event, batch_metadata=batch_metadata)`` for a materialization or
    observation: kept in the instance's buffer of its batch until the batch ends or holds the batch
    size, then the buffer stored in one ``store_event_batch`` (one event at a time if that fails),
    and each event handed to the run's subscribers. The steps of Dagster's method that cannot
    apply to such an event (its filter of asset failures, the run storage's update on a run event)
    are left out, and the instance's storage, buffer and subscribers read once: through its
    properties, each a check and an import, they were about 15 us of each event's 50-60 us there."""
    if event.dagster_event.event_type_value not in BATCHED_EVENT_TYPES:
        instance.handle_new_event(event, batch_metadata=batch_metadata)
        return
    size = instance._get_event_batch_size()  # noqa: SLF001 - Dagster's own reading of DAGSTER_EVENT_BATCH_SIZE
    if size <= 0:
        instance.handle_new_event(event, batch_metadata=batch_metadata)
        return
    buffers = instance._event_buffer  # noqa: SLF001
    buffer = buffers[batch_metadata.id]
    buffer.append(event)
    if not batch_metadata.is_end and len(buffer) != size:
        return
    del buffers[batch_metadata.id]
    storage = instance._event_storage  # noqa: SLF001
    if len(buffer) == 1:
        storage.store_event(buffer[0])
    else:
        try:
            storage.store_event_batch(buffer)
        except Exception as e:  # as Dagster's method: every event alone
            sys.stderr.write(f"Exception while storing event batch: {e}\n")
            sys.stderr.write("Falling back to storing multiple single-event storage requests...\n")
            for one in buffer:
                storage.store_event(one)
    subscribers = instance._subscribers  # noqa: SLF001
    for one in buffer:
        for subscriber in subscribers[one.run_id]:
            subscriber(one)


def install() -> None:
    """Make :func:`log_dagster_event` Dagster's ``DagsterLogManager.log_dagster_event`` in this process,
    if Dagster's method still takes the parameters it was written for (another Dagster within
    pyproject.toml's bounds may not: then Dagster's own method stays)."""
    if list(inspect.signature(DAGSTERS_LOG_DAGSTER_EVENT).parameters) == list(inspect.signature(log_dagster_event).parameters):
        DagsterLogManager.log_dagster_event = log_dagster_event
