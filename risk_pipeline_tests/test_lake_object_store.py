"""The lake on object storage (``RISK_PIPELINE_LAKE_URI=s3://bucket/prefix``) on an S3-compatible
server started for this module (moto's, on 127.0.0.1) and stopped after it: the graph stores
there what it stores in a folder, concurrent commits are serialized by S3's conditional put, and
the catalog is the in-memory one of ``object_store_catalog``."""

import datetime as dt
import threading

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from risk_pipeline.storage import catalog, lake, maintenance
from risk_pipeline.storage.object_store_catalog import VERSIONS_TABLE
from risk_pipeline.storage.schemas import TABLES
from risk_pipeline.local_servers import s3_server
from risk_pipeline_tests.pipeline_helpers import materialize_range

BUCKET = "risk-lake"


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture()
def s3_env(s3, monkeypatch):
    for name, value in s3.environment.items():
        monkeypatch.setenv(name, value)
    return s3


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), ignore_index=True)


def test_the_graph_stores_on_s3_what_it_stores_in_a_folder(data_dir, s3_env, tmp_path, monkeypatch):
    start, end = "2021-01-04", "2021-02-05"
    assert materialize_range(start, end).success
    local = data_dir / "lake"
    with catalog.connect() as con:
        local_catalog = {name: _sorted(con.execute(f'select * from "{name}"').df()) for name in TABLES}

    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data_s3"))
    monkeypatch.setenv("RISK_PIPELINE_LAKE_URI", f"s3://{BUCKET}/graph/")
    assert materialize_range(start, end).success
    assert not (tmp_path / "data_s3" / "lake").exists() and not (tmp_path / "data_s3" / "risk.duckdb").exists()

    stored = 0
    for name in TABLES:
        here = lake.read_range(name, root=local).to_pandas()
        there = lake.read_range(name).to_pandas()
        pd.testing.assert_frame_equal(_sorted(there), _sorted(here), check_exact=True)
        stored += len(there)
    assert stored > 0 and len(lake.read_range("var_backtests").to_pandas()) > 0
    assert lake.table_uri("prices") == f"s3://{BUCKET}/graph/prices"
    # the catalog of the bucket: every table as the folder's catalog shows it, and its versions
    with catalog.connect() as con:
        for name in TABLES:
            pd.testing.assert_frame_equal(_sorted(con.execute(f'select * from "{name}"').df()), local_catalog[name],
                                          check_exact=True)
        versions = dict(con.execute(f"select table_name, version from {VERSIONS_TABLE}").fetchall())
    assert versions == {name: lake.table_version(name) for name in TABLES if lake.table_version(name) is not None}


def test_concurrent_commits_on_s3_lose_nothing(data_dir, s3_env, monkeypatch):
    """Two writers commit to one table at once: S3's conditional put lets one create the next log
    entry, the other's commit fails and is retried from the new version; both sets of rows stay."""
    monkeypatch.setenv("RISK_PIPELINE_LAKE_URI", f"s3://{BUCKET}/concurrent")
    days = [d.date() for d in pd.bdate_range("2022-03-01", "2022-03-10")]

    def frame(symbol: str, close: float) -> pd.DataFrame:
        return pd.DataFrame({"date": pd.to_datetime(days), "symbol": symbol, "close": close, "currency": "USD",
                             "source": "test"})

    lake.write_days("prices", frame("SEED", 1.0), days, keys=["SEED"])
    start = threading.Barrier(2)
    errors = []

    def write(symbol: str, close: float) -> None:
        try:
            start.wait()
            lake.write_days("prices", frame(symbol, close), days, keys=[symbol])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(symbol, close)) for symbol, close in (("AAA", 2.0), ("BBB", 3.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = lake.read_range("prices").to_pandas()
    assert stored.groupby("symbol")["close"].agg(["count", "first"]).to_dict("index") == {
        "AAA": {"count": len(days), "first": 2.0}, "BBB": {"count": len(days), "first": 3.0},
        "SEED": {"count": len(days), "first": 1.0}}
    assert lake.table_version("prices") == 2
    # maintenance on the bucket: compaction into one file, vacuum of the replaced ones, same rows
    done = maintenance.maintain("prices", retention_days=0)
    assert (done.files_before, done.files_after, done.files_deleted) == (3, 1, 3)
    pd.testing.assert_frame_equal(_sorted(lake.read_range("prices").to_pandas()), _sorted(stored))


def test_a_commit_from_a_stale_version_does_not_replace_the_commit_made_since(data_dir, s3_env, monkeypatch):
    """Two writers read version 0; the first commits version 1. The second, still at version 0,
    commits too: its log entry of version 1 must not replace the first's (an unconditional put
    would, losing the first's rows). S3's conditional put refuses it, and delta-rs, finding no
    conflict with the first's change (another symbol), commits it as version 2."""
    monkeypatch.setenv("RISK_PIPELINE_LAKE_URI", f"s3://{BUCKET}/stale")
    day = dt.date(2022, 3, 1)

    def row(symbol: str, close: float) -> pd.DataFrame:
        return pd.DataFrame({"date": [pd.Timestamp(day)], "symbol": [symbol], "close": [close], "currency": ["USD"],
                             "source": ["test"]})

    lake.write_days("prices", row("SEED", 1.0), [day], keys=["SEED"])
    stale = lake.open_table("prices")
    lake.write_days("prices", row("AAA", 1.0), [day], keys=["AAA"])  # version 1
    arrow = lake.to_arrow(row("SEED", 2.0), TABLES["prices"]).append_column("year", pa.array([2022], pa.int32()))
    assert stale.version() == 0
    write_deltalake(stale, arrow, mode="overwrite", predicate="symbol = 'SEED'", partition_by=["year"])
    assert stale.version() == 2 and lake.table_version("prices") == 2
    stored = lake.read_range("prices").to_pandas()
    assert dict(zip(stored["symbol"], stored["close"])) == {"AAA": 1.0, "SEED": 2.0}
    # time travel on the bucket: version 1 as it was
    then = maintenance.snapshot("prices", version=1).to_pandas()
    assert dict(zip(then["symbol"], then["close"])) == {"AAA": 1.0, "SEED": 1.0}
