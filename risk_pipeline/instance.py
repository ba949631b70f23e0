"""The event log of the project's Dagster instance: Dagster's SQLite storage, one transaction per
batch of events instead of one per event.

A single-run backfill of 30 years writes a materialization event per business day and asset
(8,607 x 12). Dagster hands such a range's events to ``store_event_batch`` in batches of
``DAGSTER_EVENT_BATCH_SIZE`` when that variable is set; its SQLite storage then still stores them
one at a time (base class: a new engine, a transaction and an fsync per event, twice for asset
events: the run's shard and the cross-run index). This storage writes a batch in one transaction
per shard (the rows through the driver's ``executemany``: :func:`_insert_statement`, the run file's values bound once for the index too), announces that it stores a run's planned partitions as one event per asset
(``partitions_subset``) instead of one per partition, and plans a range run's check evaluation as
the one row it is instead of a row per partition. It also keeps one SQLAlchemy engine, and so one
open SQLite connection, per database file it uses (the index and the latest few runs' files)
instead of creating an engine and a connection for every statement (about 750 in one day's run):
an idle SQLite connection in WAL mode holds no lock, so other processes (the daemon, the UI,
concurrent runs) read and write as before. A new run's file gets Dagster's tables and indexes in
one transaction instead of one each (one fsync instead of about 60: 25 ms instead of 0.3-0.4 s
per run). The events of a step's batch are serialized once around each event's own data and
timestamp, and a run of materializations equal but for their partition and the numbers of their
metadata once around those (:func:`serialized_events`): the same text in a fraction of the time. The
files it creates (a run's, a new instance's index) are in pages of 16 kB (``PAGE_SIZE``). The index's schema, which Dagster
probes before many reads and writes (a table, a column of the asset table, a completed data migration:
about 230 probes in one day's run, each a query, a table probe with a new engine and connection), is
probed once per process and fact once found: a schema only gains tables, columns and migrations
(:meth:`BatchingSqliteEventLogStorage.has_table`). Everything else is Dagster's SQLite event log,
in the same folder (``<DAGSTER_HOME>/history/runs``) and schema, so an instance created with
Dagster's default storage keeps its history. ``benchmarks/bench_instance.py`` measures it against
the in-memory and the plain SQLite event logs. Importing this module also hands a range run's
materializations to the instance without Python's logging in between (:mod:`risk_pipeline.asset_event_logging`).

Configured in ``dagster.yaml``::

    event_log_storage:
      module: risk_pipeline.instance
      class: BatchingSqliteEventLogStorage
"""

from __future__ import annotations

import logging
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, partial
from itertools import groupby

import sqlalchemy
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from dagster import AssetKey, DagsterInstance
from dagster._config import Field, StringSource
from dagster._core.events import (
    ASSET_CHECK_EVENTS,
    ASSET_EVENTS,
    EVENT_TYPE_TO_PIPELINE_RUN_STATUS,
    DagsterEventType,
    StepMaterializationData,
)
from dagster._core.definitions.metadata.metadata_value import FloatMetadataValue, IntMetadataValue
from dagster._core.events.log import EventLogEntry
from dagster._core.instance import InstanceType
from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
from dagster._core.run_coordinator import DefaultRunCoordinator
from dagster._core.storage.event_log import InMemoryEventLogStorage, SqliteEventLogStorage
from dagster._core.storage.event_log.base import EventLogCursor
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetEventTagsTable,
    SqlEventLogStorageMetadata,
    SqlEventLogStorageTable,
)
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
from dagster._core.storage.root import TemporaryLocalArtifactStorage
from dagster._core.storage.runs import InMemoryRunStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData, serialize_value

from risk_pipeline import asset_event_logging
from risk_pipeline.run_liveness import PROCESS_TAG, process_tag

# a step's asset events straight to the instance when only it would see them (every process of this instance)
asset_event_logging.install()

# Dagster reads it at every event; without it, every event goes to ``store_event`` alone
EVENT_BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 2000
# the dagster_event_type column of the events the index also stores (asset events)
ASSET_EVENT_TYPES = frozenset(event_type.value for event_type in ASSET_EVENTS)
# those the index stores through Dagster's own code: check evaluations, run status changes
ASSET_CHECK_EVENT_TYPES = frozenset(event_type.value for event_type in ASSET_CHECK_EVENTS)
MATERIALIZATION = DagsterEventType.ASSET_MATERIALIZATION.value
RUN_STATUS_EVENT_TYPES = frozenset(event_type.value for event_type in EVENT_TYPE_TO_PIPELINE_RUN_STATUS)
# database files whose engine (and idle connection) a process keeps: the index and the runs it
# writes or reads last (a UI reading many runs reopens the older ones, as Dagster's storage does)
OPEN_SHARDS = 8


# the page size of a new event log file, a run's or the index (SQLite's default 4,096): a range run's
# events are rows of 1.6-3.9 kB (a page of 4,096 bytes holds one or two), and a commit writes each page
# it fills to the WAL and each checkpoint copies it to the file, a system call or two per page; in pages
# of 16 kB a file takes half the time to commit and checkpoint (docs/performance.md, "The Dagster instance")
PAGE_SIZE = 16384

# stand-ins for an event's own parts in the text of the rest of it (serialized_events)
_DATA_MARK = "risk_pipeline.instance:event_specific_data"
_TIME_MARK = 1.2345678901234567e-300
_PARTITION_MARK = "risk_pipeline.instance:partition"
_INT_MARK = -7316432951000000
_FLOAT_MARK = 1.2345678901234567e-299


def serialized_events(events: Sequence[EventLogEntry]) -> list[str]:
    """Dagster's ``serialize_value`` of each event, the same text: the events of a step's batch differ
    only in their specific data (a materialization's asset, partition, metadata and tags) and their
    timestamp; the rest (the step, the run, the logging tags...: about half of what serializing a
    materialization costs, 0.035 of 0.08 ms, so some 8 s of CPU for the 232,000 of a 30-year run)
    is serialized once per run of events in which it is equal, with stand-ins for those two parts,
    and each event's own parts are put in their place (:class:`_DataTexts`: a materialization's data
    the same way around its partition and metadata numbers). An event without specific data, or whose text would not
    hold each stand-in once, is serialized whole."""
    texts, shell, template = [], None, None
    data_texts = _DataTexts()
    for event in events:
        dagster_event = event.dagster_event
        if dagster_event is None or dagster_event.event_specific_data is None:
            texts.append(serialize_value(event))
            continue
        # NamedTuples' _replace: a copy without the checks of their constructors
        bare = event._replace(timestamp=_TIME_MARK, dagster_event=dagster_event._replace(event_specific_data=_DATA_MARK))
        if bare != shell:
            shell, template = bare, _template(serialize_value(bare), f'"{_DATA_MARK}"', repr(_TIME_MARK))
        if template is None:
            texts.append(serialize_value(event))
            continue
        head, middle, tail = template
        texts.append(head + data_texts(dagster_event.event_specific_data) + middle + repr(event.timestamp) + tail)
    return texts


class _DataTexts:
    """``serialize_value`` of events' specific data, the same text. A range's materializations of an
    asset differ mostly in their partition and in numbers of their metadata (88% of the 232,000 of a
    30-year run have the metadata and tags of the one before; most of the others differ in a day's
    ``rows`` or a book's VaR amount), so a materialization's data is serialized once per run of them
    that are equal but for the partition and the values of their int and (finite) float metadata,
    with stand-ins for those (:func:`_number_mark`), and each event's partition and numbers are put
    in their place: the JSON text of an int or a finite float is its ``repr``."""

    def __init__(self) -> None:
        self._shell, self._template = None, None

    def __call__(self, data: object) -> str:
        if not isinstance(data, StepMaterializationData) or not isinstance(data.materialization.partition, str):
            return serialize_value(data)
        materialization = data.materialization
        metadata, numbers, marks, kinds = {}, [], [], []
        for name, value in materialization.metadata.items():
            kind = type(value)
            if (kind is IntMetadataValue and type(value.value) is int) or (
                    kind is FloatMetadataValue and type(value.value) is float and math.isfinite(value.value)):
                metadata[name], mark = _number_mark(kind, len(numbers))
                numbers.append(value.value)
                marks.append(mark)
            else:
                metadata[name] = value
                kind = repr(value)
            kinds.append((name, kind))
        bare = data._replace(materialization=materialization._replace(metadata=metadata, partition=_PARTITION_MARK))
        # what == does not tell apart and the text does: the order of names, a value's class (records
        # of equal fields are equal), its fields' types and -0.0 (1 == 1.0 == True, 0.0 == -0.0)
        shell = (bare, kinds, list(materialization.tags or ()))
        if shell != self._shell:
            self._shell = shell
            self._template = _template(serialize_value(bare), *marks, serialize_value(_PARTITION_MARK))
        if self._template is None:
            return serialize_value(data)
        parts = self._template
        texts = [*map(repr, numbers), serialize_value(materialization.partition)]
        return parts[0] + "".join(text + part for text, part in zip(texts, parts[1:]))


@cache
def _number_mark(kind: type, position: int) -> tuple[object, str]:
    """The stand-in of :class:`_DataTexts` for the ``position``-th number of a materialization's
    metadata, a value of ``kind`` (``IntMetadataValue``, ``FloatMetadataValue``), and its JSON text:
    a number no metadata is likely to hold (a text that holds it is serialized whole: :func:`_template`)."""
    number = _INT_MARK - position if kind is IntMetadataValue else _FLOAT_MARK * (position + 1)
    return kind(number), repr(number)


def _template(text: str, *marks: str) -> tuple[str, ...] | None:
    """``text`` cut around ``marks`` (the text of stand-ins of :func:`serialized_events`): the parts
    before, between and after them, or None unless each is in it once and they are in that order."""
    starts = [text.find(mark) for mark in marks]
    if any(text.count(mark) != 1 for mark in marks) or starts != sorted(starts):
        return None
    parts, rest = [], text
    for mark in marks:
        part, rest = rest.split(mark)
        parts.append(part)
    return (*parts, rest)


def create_tables_at_once(conn_string: str) -> None:
    """Create Dagster's event log tables and indexes in a new SQLite file in one transaction, in
    pages of ``PAGE_SIZE`` bytes.

    Dagster's ``_initdb`` creates them with pysqlite's default transaction handling, which commits
    every ``CREATE`` by itself: 20 commits of a rollback journal, about 60 fsyncs (0.3-0.4 s for a
    run's file). In one ``BEGIN IMMEDIATE`` transaction (SQLAlchemy's recipe for transactional DDL
    on pysqlite) it is one commit; a second process creating the same file waits for the lock and
    then finds the tables (``create_all`` checks first; the page size of a file that has tables
    stays what it is). ``_initdb`` then finds them too, switches the file to WAL and stamps its
    alembic revision, as for a file it created itself."""
    engine = create_engine(conn_string, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @sqlalchemy.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        # an empty file takes the page size before its first table
        dbapi_connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_immediate(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with engine.begin() as conn:
            SqlEventLogStorageMetadata.create_all(conn)
    finally:
        engine.dispose()


def _wal_without_fsync_per_commit(dbapi_connection, _record) -> None:
    """Every connection of the storage in WAL mode (Dagster switches a new file to WAL in its
    ``_initdb``, but a connection opened before that, as the kept one is, stays in rollback-journal
    mode) with ``synchronous=NORMAL``: a commit appends to the WAL without an fsync (SQLite syncs
    at checkpoints). A killed process loses nothing and no power loss corrupts the file; a power
    loss may lose the last commits, as it may the lake's own files, which delta-rs does not fsync
    either. Dagster's default, FULL, syncs every commit (1-4 ms here, ~200 a day)."""
    dbapi_connection.execute("PRAGMA journal_mode = WAL")
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")


class RangeRunEvents:
    """What a run over a range of partitions records, for any of Dagster's SQL event logs: its
    planned partitions as one event per asset and its check evaluations as one row each; and the
    process of every run."""

    def _record_run_process(self, event: EventLogEntry) -> None:
        """Tag a run with the process that executes it (``risk_pipeline.run_liveness``) when its
        RUN_START event is stored, i.e. in that process and before the run becomes STARTED: a STARTED
        run always names its process, which the run monitoring daemon checks."""
        if event.dagster_event is not None and event.dagster_event.event_type_value == DagsterEventType.RUN_START.value:
            self._instance.add_run_tags(event.run_id, {PROCESS_TAG: process_tag()})

    def store_event(self, event: EventLogEntry) -> None:
        self._record_run_process(event)
        super().store_event(event)

    def _event_rows(self, events: list[EventLogEntry]) -> list[dict]:
        """``_event_to_row`` of each event (the same dicts), reading each event's asset key and
        partition once: Dagster's reads them five times, each through the event's type checks (about
        a fifth of what building a materialization's row cost, its serialization included)."""
        keys: dict[AssetKey, str] = {}
        rows = []
        for event, text in zip(events, serialized_events(events)):
            dagster_event = event.dagster_event
            row = {"run_id": event.run_id, "event": text, "dagster_event_type": None,
                   "timestamp": self._event_insert_timestamp(event), "step_key": event.step_key,
                   "asset_key": None, "partition": None}
            if dagster_event is not None:
                key = dagster_event.asset_key
                if key and key not in keys:
                    keys[key] = key.to_string()
                row.update(dagster_event_type=dagster_event.event_type_value, step_key=dagster_event.step_key,
                           asset_key=keys[key] if key else None, partition=dagster_event.partition or None)
            rows.append(row)
        return rows

    @property
    def supports_partition_subset_in_asset_materialization_planned_events(self) -> bool:
        return True

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """A run over a range of partitions evaluates a check once, and Dagster stores that evaluation
        with no partition; Dagster's SQL storage would plan a row per partition of the range (left
        PLANNED for ever, and about 1 ms each: minutes for 8 checks over 30 years). Plan the one
        row the evaluation will update instead."""
        planned = event.get_dagster_event().event_specific_data
        if planned.partitions_subset is None or len(planned.partitions_subset) <= 1:
            super()._store_asset_check_evaluation_planned(event, event_id)
            return
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert().values(
                asset_key=planned.asset_key.to_string(),
                check_name=planned.check_name,
                partition=None,
                run_id=event.run_id,
                execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                evaluation_event=serialize_value(event),
                evaluation_event_timestamp=self._event_insert_timestamp(event),
                evaluation_event_storage_id=event_id,
            ))


class RangeRunInMemoryEventLogStorage(RangeRunEvents, InMemoryEventLogStorage):
    """Dagster's in-memory event log (that of ``DagsterInstance.ephemeral()``) recording a run over a range
    of partitions as the project's storages do: its planned partitions as one event per asset, its check
    evaluations as one row each, and a step's materializations in one transaction. Dagster's stored
    each alone (two transactions, a probe of the tags table and a write of the asset's row each): 45%
    of an in-process run of the whole graph over two months (``risk_pipeline_tests``' runs,
    ``risk-pipeline backfill`` without ``DAGSTER_HOME``)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, preload=None):
        # Dagster hands a step's materializations to store_event_batch only when this is set
        os.environ.setdefault(EVENT_BATCH_SIZE_VARIABLE, str(EVENT_BATCH_SIZE))
        super().__init__(inst_data, preload)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """What ``store_event`` does for each of a batch of asset events, in one transaction: the rows
        through one ``executemany``, their tags, the asset table's row from each asset's latest event;
        then the run's watchers called for each, in order. A batch of other events (Dagster batches only
        asset events) goes to ``store_event`` one by one."""
        if not events or any(event.dagster_event is None or event.dagster_event.event_type_value not in
                             ASSET_EVENT_TYPES or not event.dagster_event.asset_key for event in events):
            super().store_event_batch(events)
            return
        rows = self._event_rows(list(events))
        with self.index_transaction() as conn:  # the runs' events and the index: one database in memory
            ids = _insert_events_returning_ids(conn, *_insert_statement(conn.dialect, SqlEventLogStorageTable, rows))
            self._store_asset_event_tags(conn, events, ids)
            latest = {(row["asset_key"], row["dagster_event_type"]): (event_id, event)
                      for event, row, event_id in zip(events, rows, ids)}
            for event_id, event in sorted(latest.values(), key=lambda pair: pair[0]):
                self._store_asset_event(conn, event, event_id)
        for event in events:  # InMemoryEventLogStorage.store_event's part after the insert
            self._storage_id += 1
            for handler in list(self._handlers[event.run_id]):
                try:
                    handler(event, str(EventLogCursor.from_storage_id(self._storage_id)))
                except Exception:
                    logging.exception("Exception in callback for event watch on run %s.", event.run_id)


def ephemeral_instance() -> DagsterInstance:
    """An instance in memory, as ``dagster.DagsterInstance.ephemeral()`` creates, with the event log
    :class:`RangeRunInMemoryEventLogStorage`: for a run that need not be kept (``risk-pipeline
    backfill`` without ``DAGSTER_HOME``, the tests' in-process runs). Dagster's in-memory storage
    plans a run over a range one event per asset and partition, each its own SQLite transaction: the
    whole graph over four months (about 2,500 events) spent 5-18 s in that before its first step, on
    a machine idle to loaded; it now takes milliseconds."""
    return DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),
        run_storage=InMemoryRunStorage(),
        event_storage=RangeRunInMemoryEventLogStorage(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )


def _insert_statement(dialect: sqlalchemy.engine.Dialect, table: sqlalchemy.Table, rows: list[dict],
                      bound: frozenset[str] = frozenset()) -> tuple[str, list[tuple]]:
    """The driver's ``INSERT`` of ``rows`` (dicts of the same columns) into ``table`` and the rows'
    values for its ``executemany``, bound as SQLAlchemy binds them: each column type's bind processor
    for the dialect (SQLite's text of a timestamp, ``2021-03-01 18:00:00.000000``), except in the
    columns ``bound``, whose values are such text already. SQLAlchemy's own executemany processes
    every row's parameters in Python: for a range run's materializations (two rows and a tag row
    each) that was a fifth of what storing them cost."""
    columns = list(rows[0])
    processors = [(i, process) for i, column in enumerate(columns) if column not in bound
                  and (process := table.c[column].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    names = ", ".join(f'"{column}"' for column in columns)
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    values = [tuple(row[column] for column in columns) for row in rows]
    if processors:
        for n, row in enumerate(values):
            bound_row = list(row)
            for i, process in processors:
                bound_row[i] = process(bound_row[i])
            values[n] = tuple(bound_row)
    return statement, values


def _insert_rows(conn: Connection, table: sqlalchemy.Table, rows: list[dict], bound: frozenset[str] = frozenset()) -> None:
    """Insert ``rows`` (dicts of the same columns) into ``table`` with one ``executemany`` of the
    driver (:func:`_insert_statement`)."""
    if rows:
        conn.exec_driver_sql(*_insert_statement(conn.dialect, table, rows, bound))


def _insert_events_returning_ids(conn: Connection, statement: str, values: list[tuple]) -> list[int]:
    """Insert event rows into ``event_logs`` (``statement`` and ``values`` of :func:`_insert_statement`)
    and return their ids, in order. SQLite gives a new row the id one more than the largest in the
    table (an ``INTEGER PRIMARY KEY`` without ``AUTOINCREMENT``, as Dagster's schema declares it),
    and no other connection writes the file while this transaction holds its write lock, which it
    takes at the first insert: the rows get ``last - n + 1 .. last``, ``last`` being the
    connection's ``last_insert_rowid()``."""
    conn.exec_driver_sql(statement, values)
    last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
    return list(range(last - len(values) + 1, last + 1))


class BatchingSqliteEventLogStorage(RangeRunEvents, SqliteEventLogStorage):
    """SQLite event log storing each batch of events in one transaction per database file.

    ``base_dir`` (optional): the folder of the SQLite files; by default ``history/runs`` under the
    instance's own folder, where Dagster's default storage keeps them.
    """

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        # every process that stores events through this class batches them (CLI, daemon, run workers)
        os.environ.setdefault(EVENT_BATCH_SIZE_VARIABLE, str(EVENT_BATCH_SIZE))
        self._inst_data_before_init = inst_data
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._schema_found: set[tuple[str, str]] = set()
        if base_dir is not None:
            super().__init__(base_dir, inst_data)

    def register_instance(self, instance) -> None:
        if not hasattr(self, "_base_dir"):
            # no base_dir configured: the folder is known once the instance registers itself
            folder = os.path.join(instance.root_directory, "history", "runs")
            super().__init__(folder, self._inst_data_before_init)
        super().register_instance(instance)

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The engine of one database file, created at its first use in this process (a process
        forked from this one starts anew: the parent's connections are not its own to use)."""
        if self._engines_pid != os.getpid():
            self._engines, self._engines_pid = OrderedDict(), os.getpid()
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(self.conn_string_for_shard(shard), pool_size=1,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            sqlalchemy.event.listen(engine, "connect", _wal_without_fsync_per_commit)
            self._engines[shard] = engine
            while len(self._engines) > OPEN_SHARDS:
                self._engines.popitem(last=False)[1].dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    def _found_once(self, fact: tuple[str, str], probe: Callable[[], bool]) -> bool:
        """``probe()``, remembered in this process once true: the index gains tables, columns and
        completed data migrations (``dagster instance migrate``, ``reindex``) and never loses one
        while the instance is in use; a fact not yet true is probed again at every call."""
        if fact in self._schema_found:
            return True
        found = probe()
        if found:
            self._schema_found.add(fact)
        return found

    def has_table(self, table_name: str) -> bool:
        """Dagster's probe of the index (a new engine and SQLite connection each time), once true
        (:meth:`_found_once`)."""
        return self._found_once(("table", table_name), partial(super().has_table, table_name))

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        return self._found_once(("asset key column", column_name),
                                partial(super()._has_asset_key_col_on_connection, conn, column_name))

    def has_secondary_index(self, name: str) -> bool:
        return self._found_once(("secondary index", name), partial(super().has_secondary_index, name))

    def _initdb(self, engine: Engine, for_index_shard: bool = False) -> None:
        """Dagster's ``_initdb``; a file that does not exist yet (the index, which Dagster's
        ``__init__`` creates; a run's file is created by :func:`create_tables_at_once`) is first
        created empty in pages of ``PAGE_SIZE`` and WAL mode (switching to WAL writes its header)."""
        if not os.path.exists(engine.url.database):
            with engine.connect() as conn:
                conn.exec_driver_sql(f"PRAGMA page_size = {PAGE_SIZE}")
                conn.exec_driver_sql("PRAGMA journal_mode = WAL")
        super()._initdb(engine, for_index_shard)

    def _dispose_engines(self) -> None:
        while self._engines:
            self._engines.popitem()[1].dispose()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        """Dagster's ``_connect`` (one statement or transaction at a time per storage, under its lock)
        through the shard's kept engine instead of a new one."""
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                if not os.path.exists(self.path_for_shard(shard)):
                    create_tables_at_once(self.conn_string_for_shard(shard))
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def wipe(self) -> None:
        # the run files are deleted: their connections must not outlive them
        with self._db_lock:
            self._dispose_engines()
        self._schema_found.clear()
        super().wipe()

    def upgrade(self) -> None:
        with self._db_lock:
            self._dispose_engines()
        self._schema_found.clear()
        super().upgrade()

    def dispose(self) -> None:
        with self._db_lock:
            self._dispose_engines()
        super().dispose()

    def _event_rows(self, events: list[EventLogEntry]) -> tuple[list[dict], list[Mapping[str, str] | None]]:
        """``_event_to_row`` of each event (the same dicts) and, for a materialization, the tags the
        index keeps of it (``_tags_for_asset_event``'s), reading each event's asset key, partition and
        tags once: Dagster's reads them seven times, each through the event's type checks (about a
        fifth of what building a materialization's rows cost, its serialization included), and asks
        which tags to index once per set of tag names here instead of once per event."""
        keys: dict[AssetKey, str] = {}
        # the names of the tags to index, in the tags' order, per tuple of the tags' names
        indexed_names: dict[tuple[str, ...], list[str]] = {}
        rows, tags = [], []
        for event, text in zip(events, serialized_events(events)):
            dagster_event = event.dagster_event
            row = {"run_id": event.run_id, "event": text, "dagster_event_type": None,
                   "timestamp": self._event_insert_timestamp(event), "step_key": event.step_key,
                   "asset_key": None, "partition": None}
            event_tags = None
            if dagster_event is not None:
                data = dagster_event.event_specific_data
                if dagster_event.event_type_value == MATERIALIZATION and isinstance(data, StepMaterializationData):
                    materialization = data.materialization
                    key, partition = materialization.asset_key, materialization.partition
                    all_tags = materialization.tags or {}
                    names = tuple(all_tags)
                    indexed = indexed_names.get(names)
                    if indexed is None:
                        to_index = self.get_asset_tags_to_index(set(names))
                        indexed = indexed_names[names] = [name for name in names if name in to_index]
                    event_tags = {name: all_tags[name] for name in indexed}
                else:
                    key, partition = dagster_event.asset_key, dagster_event.partition
                if key and key not in keys:
                    keys[key] = key.to_string()
                row.update(dagster_event_type=dagster_event.event_type_value, step_key=dagster_event.step_key,
                           asset_key=keys[key] if key else None, partition=partition or None)
            rows.append(row)
            tags.append(event_tags)
        return rows, tags

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        for event in events:
            self._record_run_process(event)
        for run_id, run_events in groupby(events, key=lambda event: event.run_id):
            self._store_run_batch(run_id, list(run_events))

    def _store_run_batch(self, run_id: str, events: list[EventLogEntry]) -> None:
        """What ``store_event`` does for each event, with one transaction per database file."""
        rows, row_tags = self._event_rows(events)
        with self.run_connection(run_id) as conn:
            # the index stores the same values of its asset events: bound once
            statement, values = _insert_statement(conn.dialect, SqlEventLogStorageTable, rows)
            conn.exec_driver_sql(statement, values)

        positions = [n for n, row in enumerate(rows) if row["dagster_event_type"] in ASSET_EVENT_TYPES]
        at = list(rows[0]).index("timestamp")
        # each event, its row, the tags the index keeps (if read already) and its row's timestamp as bound
        indexed = [(events[n], rows[n], row_tags[n], values[n][at]) for n in positions]
        if indexed:
            with self.index_transaction() as conn:
                ids = _insert_events_returning_ids(conn, statement, [values[n] for n in positions])
                # Dagster's _store_asset_event_tags, with the asset key and timestamp of the event's row
                tags = [{"event_id": event_id, "asset_key": row["asset_key"], "key": key, "value": value,
                         "event_timestamp": timestamp}
                        for (event, row, event_tags, timestamp), event_id in zip(indexed, ids)
                        for key, value in (self._tags_for_asset_event(event) if event_tags is None
                                           else event_tags).items()]
                if tags and self.has_table(AssetEventTagsTable.name):
                    _insert_rows(conn, AssetEventTagsTable, tags, bound=frozenset({"event_timestamp"}))
                # the asset table keeps the latest event of each kind per asset: write only those
                latest = {(row["asset_key"], row["dagster_event_type"]): (event_id, event)
                          for (event, row, _, _), event_id in zip(indexed, ids)}
                for event_id, event in sorted(latest.values(), key=lambda pair: pair[0]):
                    self._store_asset_event(conn, event, event_id)

        for event, row in zip(events, rows):
            # the type's value in the row: the event's type is a new Enum lookup at each read
            if row["dagster_event_type"] in ASSET_CHECK_EVENT_TYPES:
                # few (one per check and run): Dagster's own path, which opens its own connections
                with self.index_connection() as conn:
                    event_id = conn.execute(SqlEventLogStorageTable.insert().values(**row)).inserted_primary_key[0]
                self.store_asset_check_event(event, event_id)
            elif row["dagster_event_type"] in RUN_STATUS_EVENT_TYPES:
                with self.index_connection() as conn:
                    conn.execute(SqlEventLogStorageTable.insert().values(**row))
