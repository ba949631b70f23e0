"""The event log of a Dagster instance on PostgreSQL, for a deployment whose webserver, daemon and
runs live on different machines (docs/deployment.md, ``deploy/dagster-postgres.yaml``).

Dagster's PostgreSQL storage (``dagster-postgres``) with what ``risk_pipeline.instance`` does for
SQLite where it matters on a server:

- a run over a range of partitions records its planned partitions as one event per asset and its
  check evaluations as one row each (:class:`risk_pipeline.instance.RangeRunEvents`), where
  Dagster's storage writes one event and one check row per partition, each in a statement of
  its own;
- materializations are handed to the storage in batches (``DAGSTER_EVENT_BATCH_SIZE``, set as for
  SQLite), which Dagster's PostgreSQL storage already writes with one ``INSERT`` per batch;
- one connection is kept open per process (a pool of one, more while threads need them) instead
  of a new connection for every statement (Dagster's ``NullPool``: a connection to PostgreSQL
  costs a backend process start, a few milliseconds). A forked child opens its own.

Runs and schedules stay Dagster's own PostgreSQL storages. ``benchmarks/bench_instance.py``
measures it against Dagster's PostgreSQL storage and the project's SQLite one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

from risk_pipeline.instance import EVENT_BATCH_SIZE, EVENT_BATCH_SIZE_VARIABLE, RangeRunEvents

# connections a process opens beyond the kept one while several threads use the storage at once
# (the webserver); they are closed when returned
EXTRA_CONNECTIONS = 8


class BatchingPostgresEventLogStorage(RangeRunEvents, PostgresEventLogStorage):
    """Dagster's PostgreSQL event log with a range run's plan recorded once and one kept connection.

    Configured as ``dagster_postgres``' event log is (``postgres_url`` or ``postgres_db``)."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, token_provider=None):
        # every process that stores events through this class batches them (CLI, daemon, run workers)
        os.environ.setdefault(EVENT_BATCH_SIZE_VARIABLE, str(EVENT_BATCH_SIZE))
        self._engine_pid = os.getpid()
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._engine.dispose()
        self._engine = create_pg_engine(self.postgres_url, self._token_provider, isolation_level="AUTOCOMMIT",
                                        pool_size=1, max_overflow=EXTRA_CONNECTIONS, pool_recycle=3600)

    def _connect(self):
        if self._engine_pid != os.getpid():
            # a forked child: the parent's connection is not its own to use (nor to close)
            self._engine.dispose(close=False)
            self._engine_pid = os.getpid()
        return super()._connect()

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> BatchingPostgresEventLogStorage:
        return cls(inst_data=inst_data, postgres_url=pg_url_from_config(config_value),
                   should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                   token_provider=get_token_provider_from_config(config_value))
