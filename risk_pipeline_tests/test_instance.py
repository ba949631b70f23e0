"""The project's Dagster instance (dagster.yaml -> risk_pipeline/instance.py): a range run records
what Dagster's own SQLite storage records, with one planned event per asset and one check row.
``risk-pipeline backfill`` on a persistent instance: ``test_ui.py`` (beside a UI backfill)."""

import datetime as dt
import re
import sqlite3
import threading
import warnings

import dagster as dg
import pytest
from dagster._core.events import DagsterEventBatchMetadata
from dagster._core.events.log import EventLogEntry
from dagster._core.log_manager import DagsterLogManager
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.base import EventLogRecord
from dagster._core.storage.event_log.schema import AssetEventTagsTable, AssetKeyTable, SqlEventLogStorageTable
from dagster._serdes import deserialize_value, serialize_value
from sqlalchemy import select, text

from risk_pipeline.defs.lake_assets import business_days, single_run
from risk_pipeline.cli.backfill import backfill
from risk_pipeline import asset_event_logging, instance as instance_module
from risk_pipeline.instance import (
    BatchingSqliteEventLogStorage, RangeRunInMemoryEventLogStorage, ephemeral_instance, serialized_events,
)
from risk_pipeline_tests.pipeline_helpers import check_rows, project_instance

START, END = "2021-03-01", "2021-03-31"
RANGE = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}


@dg.asset(partitions_def=business_days, backfill_policy=single_run)
def upstream() -> None:
    return None


@dg.asset(partitions_def=business_days, backfill_policy=single_run, deps=[upstream])
def downstream(context: dg.AssetExecutionContext) -> None:
    context.log.info("a log line between the events")


@dg.asset_check(asset=downstream, blocking=True)
def downstream_ok() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _range_run(instance: dg.DagsterInstance, assets: list, **run: object) -> dg.ExecuteInProcessResult:
    """``assets`` materialized over START..END as one run on ``instance`` (Dagster's preview warnings quiet)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = dg.materialize(assets, instance=instance, tags=RANGE, **run)
    assert result.success
    return result


def _recorded(instance: dg.DagsterInstance, run_id: str) -> dict:
    keys = [dg.AssetKey("upstream"), dg.AssetKey("downstream")]
    latest = instance.get_latest_materialization_events(keys)
    return {
        "partitions": {key: instance.get_materialized_partitions(key) for key in keys},
        "materializations": {key: len(instance.fetch_materializations(key, limit=10_000).records) for key in keys},
        "latest": {key: (event.run_id, event.dagster_event.partition) for key, event in latest.items()},
        "run log": sorted(event.dagster_event_type.value for event in instance.all_logs(run_id)
                          if event.dagster_event and event.dagster_event_type.value != "ASSET_MATERIALIZATION_PLANNED"),
        "planned": len(instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)),
    }


def test_a_range_run_records_what_dagsters_sqlite_storage_records(tmp_path):
    days = len(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(START, END)))
    found = {}
    for name, yaml in (("dagster", ""), ("project", None)):
        instance = project_instance(tmp_path / name, yaml)
        result = _range_run(instance, [upstream, downstream, downstream_ok])
        found[name] = (instance, result.run_id, _recorded(instance, result.run_id))
    (plain, _, dagster_side), (ours, run_id, project_side) = found["dagster"], found["project"]
    assert isinstance(ours.event_log_storage, BatchingSqliteEventLogStorage)
    assert not isinstance(plain.event_log_storage, BatchingSqliteEventLogStorage)
    assert all(len(partitions) == days for partitions in project_side["partitions"].values())
    assert project_side["partitions"] == dagster_side["partitions"]
    assert project_side["materializations"] == dagster_side["materializations"]
    assert {key: partition for key, (_, partition) in project_side["latest"].items()} == {
        key: partition for key, (_, partition) in dagster_side["latest"].items()}
    assert {run for run, _ in project_side["latest"].values()} == {run_id}
    assert project_side["run log"] == dagster_side["run log"]
    # planned: one event per asset instead of one per partition
    assert (project_side["planned"], dagster_side["planned"]) == (2, 2 * days)
    # the check: one evaluated row, and no row left planned for every day of the range
    assert check_rows(ours) == [("downstream_ok", None, "SUCCEEDED")]
    assert len(check_rows(plain)) == days + 1
    for instance, _, _ in found.values():
        instance.dispose()


def _tag_rows(instance: dg.DagsterInstance) -> list[tuple]:
    """The asset events' indexed tags: (asset key, tag) of each (the values, data versions, follow the run)."""
    with instance.event_log_storage.index_connection() as conn:
        return sorted(tuple(row) for row in conn.execute(select(AssetEventTagsTable.c.asset_key,
                                                                AssetEventTagsTable.c.key)))


def test_the_in_memory_instance_stores_a_steps_materializations_at_once_and_records_what_dagsters_does(monkeypatch):
    """``ephemeral_instance()`` (the tests' runs, ``risk-pipeline backfill`` without ``DAGSTER_HOME``) stores each
    step's materializations as one batch, and records what ``DagsterInstance.ephemeral()`` records."""
    days = len(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(START, END)))
    batches = []
    store_batch = RangeRunInMemoryEventLogStorage.store_event_batch

    def counted(self, events):
        batches.append(sorted({event.dagster_event_type.value for event in events}) + [len(events)])
        store_batch(self, events)

    monkeypatch.setattr(RangeRunInMemoryEventLogStorage, "store_event_batch", counted)
    found = {}
    for name, instance in (("dagster", dg.DagsterInstance.ephemeral()), ("project", ephemeral_instance())):
        result = _range_run(instance, [upstream, downstream, downstream_ok])
        found[name] = {**_recorded(instance, result.run_id), "tags": _tag_rows(instance),
                       # the asset table's row: its latest materialization's partition
                       "asset rows": {record.asset_entry.asset_key: record.asset_entry.last_materialization.dagster_event
                                      .partition for record in instance.get_asset_records()}}
        found[name].pop("planned")  # one event per asset in the project's, per partition in Dagster's
        instance.dispose()
    # each step's materializations at once (the plan's events, a batch too, are stored one by one)
    assert [batch for batch in batches if "ASSET_MATERIALIZATION" in batch] == [["ASSET_MATERIALIZATION", days]] * 2
    assert all(len(partitions) == days for partitions in found["project"]["partitions"].values())
    assert found["project"]["materializations"] == found["dagster"]["materializations"] == {
        dg.AssetKey("upstream"): days, dg.AssetKey("downstream"): days}
    assert {key: partition for key, (_, partition) in found["project"]["latest"].items()} == {
        key: partition for key, (_, partition) in found["dagster"]["latest"].items()}
    for side in found.values():
        side.pop("latest")  # run ids differ
    assert found["project"] == found["dagster"]


def test_a_range_runs_rows_are_what_dagsters_row_functions_give(tmp_path):
    """The storage writes a batch's rows through the driver and derives their ids from the last one
    (``_insert_rows``): every stored event row is Dagster's ``_event_to_row`` of its event, in the
    run's file and in the index; the tag rows are Dagster's tags of the events their ids point to;
    the asset table's latest materialization is the row of the range's last partition."""
    days = len(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(START, END)))
    instance = project_instance(tmp_path / "home")
    result = _range_run(instance, [upstream, downstream, downstream_ok])
    storage = instance.event_log_storage
    columns = [column.name for column in SqlEventLogStorageTable.c if column.name != "id"]
    with storage.run_connection(result.run_id) as conn:
        run_rows = {row.id: row for row in conn.execute(select(SqlEventLogStorageTable))}
    with storage.index_connection() as conn:
        index_rows = {row.id: row for row in conn.execute(select(SqlEventLogStorageTable))}
        tag_rows = sorted((row.event_id, row.asset_key, row.key, row.value, row.event_timestamp)
                          for row in conn.execute(select(AssetEventTagsTable)))
        latest = {row.asset_key: deserialize_value(row.last_materialization, EventLogRecord)
                  for row in conn.execute(select(AssetKeyTable))}
    for rows in (run_rows, index_rows):
        for row in rows.values():
            assert {column: getattr(row, column) for column in columns} == storage._event_to_row(  # noqa: SLF001
                deserialize_value(row.event, EventLogEntry))
    materialized = {event_id: deserialize_value(row.event, EventLogEntry) for event_id, row in index_rows.items()
                    if row.dagster_event_type == "ASSET_MATERIALIZATION"}
    assert len(materialized) == 2 * days
    expected = sorted((event_id, index_rows[event_id].asset_key, key, value, index_rows[event_id].timestamp)
                      for event_id, event in materialized.items()
                      for key, value in storage._tags_for_asset_event(event).items())  # noqa: SLF001
    assert tag_rows == expected and len(expected) >= 2 * days  # each event's data version at least
    assert sorted(latest) == ['["downstream"]', '["upstream"]']
    for key, record in latest.items():
        stored = materialized[record.storage_id]
        assert (stored.dagster_event.asset_key.to_string(), stored.dagster_event.partition) == (key, END)
        assert record.event_log_entry == stored
    instance.dispose()


def test_a_batch_is_stored_in_the_text_dagsters_storage_stores(tmp_path):
    """The same events (materializations of a range, one at a whole second: SQLAlchemy writes its
    timestamp with ``.000000``, Python's ``isoformat`` without) stored by Dagster's SQLite storage one
    at a time and by this one as a batch: the same text in every column of the event rows, in the
    run's file and in the index, and of the tag rows."""
    instance = project_instance(tmp_path / "home")
    result = _range_run(instance, [upstream])
    events = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    instance.dispose()
    events = [events[0]._replace(timestamp=float(int(events[0].timestamp))), *events[1:]]
    ours, dagsters = BatchingSqliteEventLogStorage(str(tmp_path / "ours")), SqliteEventLogStorage(str(tmp_path / "dagster"))
    ours.store_event_batch(events)
    for event in events:
        dagsters.store_event(event)
    ours.dispose()
    dagsters.dispose()
    found = {}
    for name in ("ours", "dagster"):
        for file, query in ((f"{result.run_id}.db", "select * from event_logs order by id"),
                            ("index.db", "select * from event_logs order by id"),
                            ("index.db", "select * from asset_event_tags order by id")):
            con = sqlite3.connect(tmp_path / name / file)
            found[name, file, query] = con.execute(query).fetchall()
            con.close()
    assert found[("ours", "index.db", "select * from event_logs order by id")][0][4].endswith(".000000")
    assert all(found["ours", *where] == rows and rows for (name, *where), rows in found.items() if name == "dagster")


def test_the_stored_event_texts_are_dagsters_serialization_of_each_event(tmp_path):
    """``serialized_events`` serializes what a step's events share once and puts each event's own data and
    timestamp (and a materialization's partition) in its place: the text is ``serialize_value``'s, for the
    events of a range run whose materializations carry metadata of several kinds or none, a log line between
    them, partitions that need JSON's escapes, and events it serializes whole (one whose message, one whose
    metadata, one whose partition is a stand-in of the template)."""

    @dg.asset(partitions_def=business_days, backfill_policy=single_run, deps=[upstream])
    def described(context: dg.AssetExecutionContext) -> None:
        for i, key in enumerate(context.partition_keys):
            context.add_asset_metadata({"rows": i, "share": i / 7, "note": f"day {key}", "flag": i % 2 == 0},
                                       partition_key=key)
        context.log.info("a log line between the events")

    instance = project_instance(tmp_path / "home")
    result = _range_run(instance, [upstream, described])
    events = instance.all_logs(result.run_id)
    instance.dispose()
    # what the storage wrote (through serialized_events) is serialize_value's text of the event read back
    for path in (tmp_path / "home" / "history" / "runs" / f"{result.run_id}.db", tmp_path / "home" / "history" / "runs" / "index.db"):
        con = sqlite3.connect(path)
        stored = [row[0] for row in con.execute("select event from event_logs where run_id = ?", (result.run_id,))]
        con.close()
        assert stored and all(serialize_value(deserialize_value(text, EventLogEntry)) == text for text in stored)
    materialized = [e for e in events if e.dagster_event and e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]
    days = len(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(START, END)))
    assert len(materialized) == 2 * days
    assert len({e.timestamp for e in materialized}) > 1 and len({e.dagster_event.partition for e in materialized}) == days
    odd = materialized[3]._replace(user_message=instance_module._DATA_MARK)  # noqa: SLF001 - the stand-in itself
    # materializations whose partition needs JSON's escapes, or whose metadata holds the partition's stand-in
    odd_data = [_with_materialization(materialized[4], partition='a "quoted" \\ partition, \u00e9t\u00e9'),
                _with_materialization(materialized[5], metadata={"note": dg.MetadataValue.text(instance_module._PARTITION_MARK)}),  # noqa: SLF001
                _with_materialization(materialized[6], partition=instance_module._PARTITION_MARK)]  # noqa: SLF001
    mixed = [*events[:len(events) // 2], odd, *odd_data, *events[len(events) // 2:], odd]
    texts = serialized_events(mixed)
    assert texts == [serialize_value(event) for event in mixed]
    assert deserialize_value(texts[-1], EventLogEntry) == odd


def test_a_materializations_numbers_are_put_in_the_text_of_the_rest_serialized_once(tmp_path, monkeypatch):
    """Materializations equal but for their partition and the numbers of their metadata (a day's
    ``rows``, a book's VaR amount) are serialized once around stand-ins for those, and each event's
    numbers are put in their place: ``serialize_value``'s text for ints of any size, floats of any
    magnitude, -0.0, and whole for what has no stand-in (NaN, infinities, None, bools) or holds the
    text of one (a metadata value equal to a stand-in, a text metadata holding one), and for what
    Python's ``==`` finds equal to the one before but is not the same text (a value's class, the
    order of the metadata's names or of the tags)."""
    instance = project_instance(tmp_path / "home")
    result = _range_run(instance, [upstream])
    materialized = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    instance.dispose()
    int_mark, float_mark = instance_module._INT_MARK, instance_module._FLOAT_MARK  # noqa: SLF001 - the stand-ins
    ints = [0, -1, 7, 2**70, -(2**64) - 3, 123456]
    floats = [0.1, -0.0, 1e300, 5e-324, 1 / 3, 2.0**70, -12345678.9, 1e16, 1e-7]

    def numbers(i: int, **odd: dg.MetadataValue) -> dict:
        return {"rows": dg.IntMetadataValue(ints[i % len(ints)]), "note": dg.TextMetadataValue("the same"),
                "amount": dg.FloatMetadataValue(floats[i % len(floats)]), "flag": dg.BoolMetadataValue(True),
                "rows_before": dg.IntMetadataValue(i), **odd}

    plain = [_with_materialization(event, metadata=numbers(i)) for i, event in enumerate(materialized)]
    odd = [_with_materialization(materialized[0], metadata=numbers(0, amount=dg.FloatMetadataValue(value)))
           for value in (float("nan"), float("inf"), -float("inf"), None)]
    odd += [_with_materialization(materialized[1], metadata=numbers(1, rows=dg.IntMetadataValue(None))),
            _with_materialization(materialized[2], metadata=numbers(2, rows=dg.IntMetadataValue(int_mark))),
            _with_materialization(materialized[3], metadata=numbers(3, amount=dg.FloatMetadataValue(float_mark))),
            _with_materialization(materialized[4], metadata=numbers(4, note=dg.TextMetadataValue(f"{int_mark}"))),
            _with_materialization(materialized[5], metadata=numbers(5, flag=dg.IntMetadataValue(True)))]
    # each after one equal to it (==) but in text: a value's class, the order of names or tags
    same = _with_materialization(materialized[6], metadata=numbers(6))
    tags = same.dagster_event.event_specific_data.materialization.tags
    odd += [same, _with_materialization(same, metadata=numbers(6, flag=dg.IntMetadataValue(True))),
            same, _with_materialization(same, metadata=dict(reversed(numbers(6).items()))),
            same, _with_materialization(same, tags=dict(reversed(tags.items())))]
    events = [*plain, *odd, *plain]
    serialized = []

    def counted(value, **kwargs):
        serialized.append(type(value).__name__)
        return serialize_value(value, **kwargs)

    monkeypatch.setattr(instance_module, "serialize_value", counted)
    texts = serialized_events(events)
    monkeypatch.undo()
    assert len(plain) > 15 and texts == [serialize_value(event) for event in events]
    # the plain events' data serialized once per run of them (twice), each odd one whole
    assert serialized.count("StepMaterializationData") <= 2 + 2 * len(odd)
    assert {value for event in plain for value in (event.dagster_event.event_specific_data.materialization
                                                   .metadata["amount"].value,)} == set(floats)


def _with_materialization(event: EventLogEntry, **fields: object) -> EventLogEntry:
    """``event`` (a materialization) with some fields of its ``AssetMaterialization`` replaced."""
    data = event.dagster_event.event_specific_data
    data = data._replace(materialization=data.materialization._replace(**fields))
    return event._replace(dagster_event=event.dagster_event._replace(event_specific_data=data))


def test_the_storage_needs_no_base_dir_and_keeps_dagsters_folder(tmp_path):
    instance = project_instance(tmp_path / "home")
    try:
        assert (tmp_path / "home" / "history" / "runs" / "index.db").exists()
    finally:
        instance.dispose()


def _file_schema(path) -> tuple:
    con = sqlite3.connect(path)
    try:
        return (sorted(con.execute("select type, name, tbl_name, sql from sqlite_master").fetchall()),
                con.execute("select version_num from alembic_version").fetchall(),
                con.execute("pragma journal_mode").fetchone()[0])
    finally:
        con.close()


def test_a_new_runs_file_has_dagsters_schema_also_when_two_storages_create_it_at_once(tmp_path):
    plain = SqliteEventLogStorage(str(tmp_path / "plain"))
    with plain.run_connection("a_run") as conn:
        conn.execute(text("select 1"))
    # two storages (as two processes: each its own lock) creating the same new file
    ours = [BatchingSqliteEventLogStorage(str(tmp_path / "ours")) for _ in range(2)]
    errors, start = [], threading.Barrier(2)

    def first_use(storage):
        start.wait()
        try:
            with storage.run_connection("a_run") as conn:
                conn.execute(text("select count(*) from event_logs")).fetchall()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(storage,)) for storage in ours]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    expected = _file_schema(tmp_path / "plain" / "a_run.db")
    assert expected[2] == "wal" and len(expected[0]) > 20
    assert _file_schema(tmp_path / "ours" / "a_run.db") == expected
    for storage in [plain, *ours]:
        storage.dispose()


def _page_size(path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("pragma page_size").fetchone()[0]
    finally:
        con.close()


def test_a_new_event_log_file_is_in_pages_of_16_kb_and_an_existing_file_keeps_its_own(tmp_path):
    """A file the storage creates, a run's or the index, is in pages of 16 kB (SQLite's default,
    Dagster's, is 4 kB) and in WAL mode; the files Dagster's storage created keep theirs."""
    plain = SqliteEventLogStorage(str(tmp_path / "plain"))
    with plain.run_connection("dagsters_run") as conn:
        conn.execute(text("select 1"))
    plain.dispose()
    for folder in ("plain", "ours"):
        ours = BatchingSqliteEventLogStorage(str(tmp_path / folder))
        for run_id in ("dagsters_run", "our_run"):
            with ours.run_connection(run_id) as conn:
                conn.execute(text("select count(*) from event_logs")).fetchall()
        ours.dispose()
    assert {str(path.relative_to(tmp_path)): _page_size(path) for path in sorted(tmp_path.glob("*/*.db"))} == {
        "ours/dagsters_run.db": 16384, "ours/index.db": 16384, "ours/our_run.db": 16384,
        "plain/dagsters_run.db": 4096, "plain/index.db": 4096, "plain/our_run.db": 16384}
    expected = _file_schema(tmp_path / "plain" / "index.db")
    assert expected[2] == "wal" and all(_file_schema(path) == expected for path in tmp_path.glob("*/index.db"))
    assert all(_file_schema(path)[1:] == expected[1:] for path in tmp_path.glob("*/*.db"))


def test_a_bad_selection_is_an_error_naming_it(data_dir):
    with pytest.raises(ValueError, match="no_such_asset"):
        backfill(dt.date(2021, 2, 1), dt.date(2021, 2, 5), selection="no_such_asset")


def test_the_backfill_records_its_runs_in_the_instance_of_dagster_home(data_dir, tmp_path, monkeypatch):
    home = tmp_path / "home"
    project_instance(home).dispose()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    report = backfill(dt.date(2020, 12, 28), dt.date(2021, 1, 8), selection="prices",
                      run_config={"ops": {"prices": {"config": {"extra_symbols": []}}}}, chunk_years=1)
    assert report.success and len(report.ranges) == 2
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert sorted((run.job_name, run.tags["dagster/asset_partition_range_start"]) for run in instance.get_runs()) \
            == [("risk_job", "2020-12-28"), ("risk_job", "2021-01-01")]
        expected = business_days.get_partition_keys_in_range(dg.PartitionKeyRange("2020-12-28", "2021-01-08"))
        assert instance.get_materialized_partitions(dg.AssetKey("prices")) == set(expected)
    finally:
        instance.dispose()


def test_the_event_log_commits_to_its_wal_without_a_sync_per_commit(tmp_path):
    """synchronous=NORMAL (1) on the storage's connections, Dagster's FULL (2) on its own; the
    file is in WAL mode either way, where NORMAL loses nothing when a process is killed."""
    plain, ours = SqliteEventLogStorage(str(tmp_path / "plain")), BatchingSqliteEventLogStorage(str(tmp_path / "ours"))
    settings = []
    for storage in (plain, ours):
        with storage.run_connection("a_run") as conn:
            settings.append((conn.execute(text("pragma synchronous")).scalar(),
                             conn.execute(text("pragma journal_mode")).scalar()))
        with storage.index_connection() as conn:
            settings.append((conn.execute(text("pragma synchronous")).scalar(),
                             conn.execute(text("pragma journal_mode")).scalar()))
        storage.dispose()
    assert settings == [(2, "wal"), (2, "wal"), (1, "wal"), (1, "wal")]


def test_the_index_schema_is_probed_once_per_fact_found_and_answers_as_dagsters(tmp_path, monkeypatch):
    """A table, an asset-table column or a completed data migration once found is not probed again
    (Dagster's probes: a query each, a table with a new engine and connection); one not found is
    probed at every call, and a wiped storage probes anew. The answers are those of Dagster's storage."""
    plain, ours = SqliteEventLogStorage(str(tmp_path / "plain")), BatchingSqliteEventLogStorage(str(tmp_path / "ours"))
    probes: list[tuple] = []
    for name in ("has_table", "_has_asset_key_col_on_connection", "has_secondary_index"):
        probe = getattr(SqliteEventLogStorage, name)
        monkeypatch.setattr(SqliteEventLogStorage, name,
                            lambda self, *args, _probe=probe, _name=name: probes.append((self, _name, args[-1]))
                            or _probe(self, *args))
    asked = [("has_table", AssetEventTagsTable.name), ("has_table", "no_such_table"),
             ("has_asset_key_col", "last_materialization_timestamp"), ("has_asset_key_col", "no_such_column"),
             ("has_secondary_index", "asset_key_index_columns"), ("has_secondary_index", "no_such_migration")]
    try:
        for _ in range(3):
            assert [getattr(ours, name)(arg) for name, arg in asked] == [getattr(plain, name)(arg) for name, arg in asked]
        assert [getattr(ours, name)(arg) for name, arg in asked] == [True, False, True, False, True, False]
        ours_probed = [(name, arg) for storage, name, arg in probes if storage is ours]
        # each fact found once; each fact missing at each of the four calls
        assert sorted(ours_probed) == sorted([("has_table", AssetEventTagsTable.name),
                                              ("_has_asset_key_col_on_connection", "last_materialization_timestamp"),
                                              ("has_secondary_index", "asset_key_index_columns")]
                                             + [("has_table", "no_such_table"),
                                                ("_has_asset_key_col_on_connection", "no_such_column"),
                                                ("has_secondary_index", "no_such_migration")] * 4)
        probes.clear()
        ours.wipe()  # which probes tables itself: the facts found before are probed anew
        assert ours.has_table(AssetEventTagsTable.name)
        assert ("has_table", AssetEventTagsTable.name) in [(name, arg) for storage, name, arg in probes if storage is ours]
    finally:
        plain.dispose()
        ours.dispose()


# as risk-pipeline backfill runs: the console shows warnings only
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


_COMPARED = {None, *(getattr(dg.DagsterEventType, name) for name in (
    "ASSET_MATERIALIZATION", "ASSET_MATERIALIZATION_PLANNED", "ASSET_CHECK_EVALUATION", "ASSET_CHECK_EVALUATION_PLANNED",
    "STEP_START", "STEP_OUTPUT", "HANDLED_OUTPUT", "LOADED_INPUT", "STEP_INPUT"))}


def _logged_events(tmp_path, name: str, run_config: dict | None) -> tuple[list[EventLogEntry], list[str]]:
    """A range run of two assets with code versions (the same data versions in every run), per-partition
    metadata and a check on a new project instance: its stored events as text with the run's id and the
    events' timestamps and process ids set aside (those of the assets, their checks and steps, and the
    log lines: not those that tell durations, of resources, steps and the run), and the types of the events Dagster's own ``log_dagster_event`` logged."""

    @dg.asset(partitions_def=business_days, backfill_policy=single_run, code_version="1")
    def first() -> None:
        return None

    @dg.asset(partitions_def=business_days, backfill_policy=single_run, code_version="2", deps=[first])
    def second(context: dg.AssetExecutionContext) -> None:
        for i, key in enumerate(context.partition_keys):
            context.add_asset_metadata({"rows": i, "day": key}, partition_key=key)
        context.log.info("a log line between the events")

    @dg.asset_check(asset=second, blocking=True)
    def second_ok() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    through_dagster = []
    dagsters = asset_event_logging.DAGSTERS_LOG_DAGSTER_EVENT

    def spied(self, level, msg, dagster_event, batch_metadata=None):
        through_dagster.append(dagster_event.event_type_value)
        dagsters(self, level, msg, dagster_event, batch_metadata)

    instance = project_instance(tmp_path / name)
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        warnings.simplefilter("ignore")
        mp.setattr(asset_event_logging, "DAGSTERS_LOG_DAGSTER_EVENT", spied)
        result = dg.materialize([first, second, second_ok], instance=instance, tags=RANGE, run_config=run_config)
    assert result.success
    events = [event._replace(dagster_event=event.dagster_event._replace(pid=0)) if event.dagster_event else event
              for event in instance.all_logs(result.run_id) if event.dagster_event_type in _COMPARED]
    instance.dispose()
    # the timestamps: the events' own and the check's of its materialization
    return [re.sub(r'"timestamp": [-+.e0-9]+', '"timestamp": 0', serialize_value(event)).replace(result.run_id, "RUN")
            for event in events], through_dagster


def test_a_range_runs_asset_events_reach_the_instance_as_through_dagsters_logging(tmp_path, monkeypatch):
    """The events a range run stores are, field for field (the run's id, timestamps and process ids
    aside), those of Dagster's own logging, whose path a console at DEBUG (Dagster's default) still
    takes: with the console at WARNING (``risk-pipeline backfill``'s) the materializations go straight
    to the instance, the rest through Dagster's ``log_dagster_event``."""
    direct, direct_through_dagster = _logged_events(tmp_path, "direct", QUIET)
    with monkeypatch.context() as mp:
        mp.setattr(DagsterLogManager, "log_dagster_event", asset_event_logging.DAGSTERS_LOG_DAGSTER_EVENT)
        plain, _ = _logged_events(tmp_path, "dagster", QUIET)
    printed, printed_through_dagster = _logged_events(tmp_path, "printed", None)
    days = len(business_days.get_partition_keys_in_range(dg.PartitionKeyRange(START, END)))
    assert sum('"ASSET_MATERIALIZATION"' in text for text in plain) == 2 * days
    assert direct == plain and printed == plain
    assert "ASSET_MATERIALIZATION" not in direct_through_dagster and "STEP_SUCCESS" in direct_through_dagster
    assert printed_through_dagster.count("ASSET_MATERIALIZATION") == 2 * days


@pytest.mark.parametrize("batch_size", ["7", "1", "0"])
@pytest.mark.parametrize("batches_fail", [False, True])
def test_a_batchs_event_is_kept_stored_and_announced_as_handle_new_event_does(tmp_path, monkeypatch, batch_size,
                                                                              batches_fail):
    """``handle_batch_event`` against Dagster's ``handle_new_event`` on the events of a range run: the same
    calls to the storage (batches of the batch size and the batch's end; one event at a time when a
    batch fails or batching is off), the same events to the run's subscribers, the same buffer left."""
    instance = project_instance(tmp_path / "home")
    result = _range_run(instance, [upstream], run_config=QUIET)
    events = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    instance.dispose()
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
    found = []
    for handle in (lambda instance, event, batch: instance.handle_new_event(event, batch_metadata=batch),
                   asset_event_logging.handle_batch_event):
        instance, calls, seen = dg.DagsterInstance.ephemeral(), [], []

        def store_batch(batch, calls=calls):
            calls.append(("batch", list(batch)))
            if batches_fail:
                raise RuntimeError("the batch fails")

        monkeypatch.setattr(instance.event_log_storage, "store_event_batch", store_batch)
        monkeypatch.setattr(instance.event_log_storage, "store_event", lambda event, calls=calls: calls.append(("one", event)))
        instance.add_event_listener(result.run_id, seen.append)
        for i, event in enumerate(events[:-3]):
            handle(instance, event, DagsterEventBatchMetadata("a batch", i == len(events) - 4))
        for event in events[-3:]:  # a batch left unfinished
            handle(instance, event, DagsterEventBatchMetadata("another", False))
        found.append((calls, seen, dict(instance._event_buffer)))  # noqa: SLF001
    assert found[0] == found[1]
    calls, seen, _ = found[0]
    assert len(seen) == len(events) - (3 if batch_size == "7" else 0) and len(calls) > 1
