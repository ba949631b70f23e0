"""The Delta lake and the DuckDB catalog: one commit per write replacing exactly its days,
time travel, and a catalog that follows the latest version."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from risk_pipeline.storage import catalog, lake


def _prices(days, symbols=("AAA", "BBB"), close=1.0):
    return pd.DataFrame(
        [
            {"date": pd.Timestamp(d), "symbol": s, "close": close + i, "currency": "USD", "source": "test"}
            for d in days
            for i, s in enumerate(symbols)
        ]
    )


D1, D2, D3 = dt.date(2021, 1, 4), dt.date(2021, 1, 5), dt.date(2021, 1, 6)
SYMBOLS = ("AAA", "BBB", "CCC")  # the symbols every write of these tests computed


def test_a_commit_is_found_by_its_id_when_another_writer_committed_after_it(data_dir):
    first = lake.write_days("prices", _prices([D1]), [D1], keys=SYMBOLS)
    (entry,) = [e for e in lake.open_table("prices").history() if int(e["version"]) == first.version]
    later = lake.write_days("prices", _prices([D2]), [D2], keys=SYMBOLS)
    assert later.version == first.version + 1
    assert lake.committed_version("prices", None, {lake.COMMIT_ID_KEY: entry[lake.COMMIT_ID_KEY]}) == first.version


def test_write_then_rewrite_replaces_the_day_and_never_duplicates(data_dir):
    first = lake.write_days("prices", _prices([D1, D2]), [D1, D2], keys=SYMBOLS)
    second = lake.write_days("prices", _prices([D1, D2], close=5.0), [D1, D2], keys=SYMBOLS)
    assert (first.days_with_rows, first.rows, second.version) == (2, 4, first.version + 1)
    stored = lake.read_days("prices", [D1, D2])
    assert len(stored) == 4
    assert sorted(stored["close"]) == [5.0, 5.0, 6.0, 6.0]
    assert lake.stored_days("prices") == [D1, D2]


def test_each_write_is_one_commit_and_older_versions_stay_readable(data_dir):
    first = lake.write_days("prices", _prices([D1, D2]), [D1, D2], keys=SYMBOLS)
    lake.write_days("prices", _prices([D2, D3], close=7.0), [D2, D3], keys=SYMBOLS)
    assert lake.table_version("prices") == first.version + 1
    old = lake.read_range("prices", delta=lake.open_table("prices", version=first.version)).to_pandas()
    new = lake.read_range("prices").to_pandas()
    assert sorted(old["close"]) == [1.0, 1.0, 2.0, 2.0]
    assert sorted(new["close"]) == [1.0, 2.0, 7.0, 7.0, 8.0, 8.0]


def test_a_write_touches_only_the_years_of_its_days(data_dir):
    old_day, new_day = dt.date(2019, 12, 31), dt.date(2021, 1, 4)
    lake.write_days("prices", _prices([old_day]), [old_day], keys=SYMBOLS)
    files_before = set(lake.open_table("prices").file_uris())
    lake.write_days("prices", _prices([new_day]), [new_day], keys=SYMBOLS)
    files_after = set(lake.open_table("prices").file_uris())
    assert files_before <= files_after and len(files_after - files_before) == 1
    assert [p.name for p in sorted((data_dir / "lake" / "prices").glob("year=*"))] == ["year=2019", "year=2021"]


def test_a_day_without_rows_in_the_written_range_loses_its_old_file(data_dir):
    lake.write_days("prices", _prices([D1, D2, D3]), [D1, D2, D3], keys=SYMBOLS)
    lake.write_days("prices", _prices([D1, D3]), [D1, D2, D3], keys=SYMBOLS)
    assert lake.stored_days("prices") == [D1, D3]


def test_a_write_replaces_only_the_keys_it_computed_and_keeps_the_others(data_dir):
    lake.write_days("prices", _prices([D1, D2], symbols=("AAA", "BBB")), [D1, D2], keys=["AAA", "BBB"])
    # a run of other symbols (another portfolios file) over the same days
    lake.write_days("prices", _prices([D1, D2], symbols=("CCC",), close=5.0), [D1, D2], keys=["CCC"])
    stored = lake.read_days("prices", [D1, D2])
    assert sorted(zip(stored["symbol"], stored["close"])) == sorted(
        [("AAA", 1.0), ("BBB", 2.0), ("CCC", 5.0)] * 2)
    # a computed key without rows on a day loses that day's rows; the keys not computed keep theirs
    lake.write_days("prices", _prices([D2], symbols=("AAA",), close=9.0), [D1, D2], keys=["AAA"])
    stored = lake.read_days("prices", [D1, D2])
    assert sorted(zip(stored["date"].dt.date, stored["symbol"], stored["close"])) == [
        (D1, "BBB", 2.0), (D1, "CCC", 5.0), (D2, "AAA", 9.0), (D2, "BBB", 2.0), (D2, "CCC", 5.0)]
    (entry,) = lake.open_table("prices").history(limit=1)
    assert entry[lake.KEYS_KEY] == '["AAA"]'


def test_a_write_without_its_keys_or_with_rows_of_other_keys_is_refused_before_any_write(data_dir):
    with pytest.raises(ValueError, match="name the symbol values the run computed"):
        lake.write_days("prices", _prices([D1]), [D1])
    with pytest.raises(ValueError, match="symbol 'BBB' fall outside"):
        lake.write_days("prices", _prices([D1]), [D1], keys=["AAA", "it's"])
    with pytest.raises(ValueError, match="no key column"):
        lake.write_days("frtb_capital", lake.empty_frame("frtb_capital"), [D1], keys=["bank"])
    assert lake.stored_days("prices") == []
    lake.write_days("prices", _prices([D1], symbols=("it's",)), [D1], keys=["it's"])  # quoted in the predicate
    lake.write_days("prices", _prices([D1], symbols=("it's",), close=3.0), [D1], keys=["it's"])
    assert lake.read_days("prices", [D1])["close"].tolist() == [3.0]


def test_rows_outside_the_written_days_are_refused_before_any_write(data_dir):
    with pytest.raises(ValueError, match="2021-01-06"):
        lake.write_days("prices", _prices([D1, D3]), [D1], keys=SYMBOLS)
    assert lake.stored_days("prices") == []


def test_a_frame_missing_a_column_writes_nothing_and_names_the_column(data_dir):
    lake.write_days("prices", _prices([D1]), [D1], keys=SYMBOLS)
    broken = _prices([D1, D2]).drop(columns=["currency"])
    with pytest.raises(lake.SchemaMismatchError, match="currency"):
        lake.write_days("prices", broken, [D1, D2], keys=SYMBOLS)
    stored = lake.read_days("prices", [D1, D2])
    assert list(stored["date"].dt.date.unique()) == [D1]


def test_an_uncommitted_data_file_is_invisible_to_readers_and_the_catalog(data_dir):
    lake.write_days("prices", _prices([D1]), [D1], keys=SYMBOLS)
    folder = data_dir / "lake" / "prices" / "year=2021"
    (folder / "part-00000-orphan-c000.zstd.parquet").write_bytes(b"half a file of a killed writer")
    catalog.refresh_catalog()
    with duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from prices").fetchone()[0] == 2
    assert len(lake.read_days("prices", [D1])) == 2


def test_the_catalog_follows_each_commit_and_records_the_version_it_shows(data_dir):
    lake.write_days("prices", _prices([D1, D2, D3]), [D1, D2, D3], keys=SYMBOLS)
    catalog.refresh_catalog()
    lake.write_days("prices", _prices([D2], close=9.0), [D2], keys=SYMBOLS)
    commit = lake.write_days("prices", lake.empty_frame("prices"), [D3], keys=SYMBOLS)
    catalog.refresh_catalog()
    with duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True) as con:
        rows = con.execute("select date, symbol, close from prices order by all").fetchall()
        shown = con.execute("select version from lake_versions where table_name = 'prices'").fetchone()[0]
    assert rows == [(D1, "AAA", 1.0), (D1, "BBB", 2.0), (D2, "AAA", 9.0), (D2, "BBB", 10.0)]
    assert shown == commit.version


_CLIENT = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("select count(*) from prices").fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute("select count(*) from prices").fetchone()[0], flush=True)
"""


def test_an_open_catalog_client_in_another_process_blocks_no_refresh_and_keeps_its_snapshot(data_dir):
    lake.write_days("prices", _prices([D1]), [D1], keys=SYMBOLS)
    catalog.refresh_catalog()
    client = subprocess.Popen([sys.executable, "-c", _CLIENT, str(data_dir / "risk.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout.readline().strip() == "2"
        lake.write_days("prices", _prices([D2]), [D2], keys=SYMBOLS)
        catalog.refresh_catalog()
        client.stdin.write("\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "2"
    finally:
        client.stdin.close()
        client.wait(timeout=30)
    with duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True) as fresh:
        assert fresh.execute("select count(*) from prices").fetchone()[0] == 4
    assert [p.name for p in data_dir.glob(".risk.duckdb.*")] == [".risk.duckdb.views"]  # no refresh's file left


_WRITER = """
import sys, duckdb
with duckdb.connect(sys.argv[1]) as con:
    print(con.execute("select count(*) from prices").fetchone()[0])
"""


def test_a_failed_refresh_leaves_the_catalog_unchanged_and_free_for_other_processes(data_dir):
    lake.write_days("prices", _prices([D1]), [D1], keys=SYMBOLS)
    catalog.refresh_catalog()
    lake.write_days("prices", _prices([D2]), [D2], keys=SYMBOLS)
    (data_dir / "lake" / "returns" / "date=2021-01-04").mkdir(parents=True)  # a table the refresh cannot read
    with pytest.raises(lake.LakeLayoutError, match="returns"):
        catalog.refresh_catalog()
    # the catalog is the one before (another process even opens it read-write), nothing of the refresh is left
    out = subprocess.run([sys.executable, "-c", _WRITER, str(data_dir / "risk.duckdb")],
                         capture_output=True, text=True, timeout=60, check=False)
    assert (out.returncode, out.stdout.strip()) == (0, "2"), out.stderr
    with catalog.connect() as con:
        assert con.execute("select version from lake_versions where table_name = 'prices'").fetchone()[0] == 0
    assert sorted(p.name for p in data_dir.iterdir()) == [".catalog.lock", ".risk.duckdb.views", "lake", "risk.duckdb"]


def test_after_the_data_folder_moved_the_catalog_is_rebuilt_by_a_refresh(data_dir, monkeypatch):
    lake.write_days("prices", _prices([D1]), [D1], keys=SYMBOLS)
    catalog.refresh_catalog()
    moved = data_dir.parent / "moved"
    data_dir.rename(moved)
    # its views name the old folder's files
    with duckdb.connect(str(moved / "risk.duckdb"), read_only=True) as con, pytest.raises(duckdb.IOException,
                                                                                          match=str(data_dir)):
        con.execute("select count(*) from prices").fetchone()
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(moved))
    catalog.refresh_catalog()  # `risk-pipeline lake catalog`
    with duckdb.connect(str(moved / "risk.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from prices").fetchone()[0] == 2


def test_a_lake_of_the_old_day_file_layout_is_named_with_the_way_to_rebuild(data_dir):
    (data_dir / "lake" / "prices" / "date=2021-01-04").mkdir(parents=True)
    with pytest.raises(lake.LakeLayoutError, match="make clean run"):
        lake.stored_days("prices")


def test_a_column_of_the_wrong_type_writes_nothing_and_names_the_column(data_dir):
    lake.write_days("prices", _prices([D1]), [D1], keys=SYMBOLS)
    bad = _prices([D1, D2]).assign(close="n/a")
    with pytest.raises(lake.SchemaMismatchError, match="'close'"):
        lake.write_days("prices", bad, [D1, D2], keys=SYMBOLS)
    assert lake.table_version("prices") == 0


def test_to_arrow_puts_the_rows_of_concatenated_frames_in_date_order_as_pandas_sorting_them_would():
    # each symbol's rows in date order, the symbols one after the other: string columns in several chunks,
    # a missing close and a missing source, as a task's concatenated frames are
    frames = [_prices([D3, D1, D2][:k] if s != "BBB" else [D2, D3], symbols=(s,), close=float(k))
              for k, s in enumerate(SYMBOLS, start=1)]
    frame = pd.concat(frames, ignore_index=True)
    frame.loc[1, "close"], frame.loc[2, "source"] = float("nan"), None
    spec = lake.table_schema("prices")
    order = frame["date"].argsort(kind="stable").to_numpy()
    expected = pa.Table.from_pandas(frame.iloc[order][list(spec.columns)].astype({"date": "datetime64[s]"}),
                                    preserve_index=False).cast(spec.schema)
    got = lake.to_arrow(frame, spec, order)
    assert got.equals(expected)
    assert got.column("date").to_pylist() == sorted(frame["date"].dt.date)


def test_read_window_counts_lookback_in_stored_days(data_dir):
    days = [d.date() for d in pd.bdate_range("2021-01-04", "2021-01-29")]
    lake.write_days("prices", _prices(days, symbols=("AAA",)), days, keys=SYMBOLS)
    frame = lake.read_window("prices", dt.date(2021, 1, 18), dt.date(2021, 1, 19), lookback=3)
    assert [d.date() for d in frame["date"]] == [
        dt.date(2021, 1, 13), dt.date(2021, 1, 14), dt.date(2021, 1, 15), dt.date(2021, 1, 18), dt.date(2021, 1, 19)
    ]


def test_catalog_tables_have_the_design_columns_even_when_empty(data_dir):
    catalog.refresh_catalog()
    with duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True) as con:
        columns = [row[0] for row in con.execute("describe var_estimates").fetchall()]
        assert con.execute("select count(*) from var_backtests").fetchone()[0] == 0
    for required in ["date", "portfolio", "method", "confidence", "horizon_days", "var", "es", "var_amount", "es_amount"]:
        assert required in columns


def test_query_days_aggregates_the_chosen_day_files(data_dir):
    days = [D1, D2, D3]
    lake.write_days("prices", _prices(days), days, keys=SYMBOLS)
    got = lake.query_days("prices", [D1, D3], "select symbol, sum(close) as total from days_of group by symbol order by symbol")
    assert got.to_dict("list") == {"symbol": ["AAA", "BBB"], "total": [2.0, 4.0]}
    empty = lake.query_days("prices", [dt.date(2021, 2, 1)], "select count(*) as n from days_of")
    assert empty["n"][0] == 0


def test_query_days_reads_only_the_columns_named(data_dir):
    lake.write_days("prices", _prices([D1, D2]), [D1, D2], keys=SYMBOLS)
    got = lake.query_days("prices", [D2], "select * from days_of order by symbol", columns=["symbol", "close"])
    assert list(got.columns) == ["date", "symbol", "close"]  # the day column always, in the table's order
    assert got["close"].tolist() == [1.0, 2.0]


def test_latest_day_is_the_last_stored_day_up_to_the_date_near_it_or_years_before(data_dir):
    assert lake.latest_day("prices", D3) is None  # never written
    assert lake.latest_day("not_a_table", D3) is None
    old, recent = [dt.date(2015, 6, 1), dt.date(2015, 6, 2)], [D1, D3]
    lake.write_days("prices", _prices(old + recent), old + recent, keys=SYMBOLS)
    assert lake.latest_day("prices", dt.date(2021, 12, 31)) == D3
    assert lake.latest_day("prices", D2) == D1  # a day without rows is not stored
    # more than LATEST_DAY_LOOKBACK after the last row before it: from every stored day
    assert lake.latest_day("prices", dt.date(2020, 12, 31)) == dt.date(2015, 6, 2)
    assert lake.latest_day("prices", dt.date(2015, 5, 29)) is None
    for day in (D2, dt.date(2018, 3, 1), dt.date(2021, 1, 6)):
        assert lake.latest_day("prices", day) == max(d for d in lake.stored_days("prices") if d <= day)


def test_a_table_kept_open_sees_commits_of_other_processes(data_dir):
    lake.write_days("prices", _prices([D1]), [D1], keys=SYMBOLS)
    assert lake.stored_days("prices") == [D1]  # the table is now held open by this process
    writer = ("import datetime as dt, pandas as pd; from risk_pipeline.storage import lake; "
              "d = dt.date(2021, 1, 5); lake.write_days('prices', pd.DataFrame([{'date': pd.Timestamp(d), "
              "'symbol': 'AAA', 'close': 9.0, 'currency': 'USD', 'source': 'other'}]), [d], keys=['AAA'])")
    subprocess.run([sys.executable, "-c", writer], check=True)
    assert lake.stored_days("prices") == [D1, D2]
    assert lake.read_days("prices", [D2])["source"].tolist() == ["other"]


def test_a_table_deleted_and_written_anew_is_not_read_from_the_old_one(data_dir):
    import shutil

    for days in ([D1], [D1, D2]):  # the same versions (0, 1) as the table held open, other rows
        lake.write_days("prices", _prices([D1, D2, D3]), [D1, D2, D3], keys=SYMBOLS)
        lake.write_days("prices", _prices([D3], close=3.0), [D3], keys=SYMBOLS)
        assert lake.stored_days("prices") == [D1, D2, D3]
        shutil.rmtree(data_dir / "lake" / "prices")
        lake.write_days("prices", _prices(days, close=7.0), days, keys=SYMBOLS)
        assert lake.stored_days("prices") == days
        assert set(lake.read_days("prices", days)["close"]) == {7.0, 8.0}
        shutil.rmtree(data_dir / "lake" / "prices")


def test_read_days_where_keeps_the_rows_equal_to_its_values_and_names_an_unknown_column(data_dir):
    lake.write_days("prices", _prices([D1, D2], symbols=("AAA", "BBB", "CCC")), [D1, D2], keys=SYMBOLS)
    rows = lake.read_days("prices", [D1, D2], columns=["close"], where={"symbol": "BBB"})
    assert rows["close"].tolist() == [2.0, 2.0] and list(rows.columns) == ["date", "close"]
    assert lake.read_days("prices", [D1], where={"symbol": "BBB", "close": 3.0}).empty
    with pytest.raises(lake.SchemaMismatchError, match="no columns \\['ticker'\\]"):
        lake.read_days("prices", [D1], where={"ticker": "BBB"})


def test_the_days_after_commits_of_this_process_are_those_a_full_read_finds(data_dir, monkeypatch):
    from risk_pipeline.storage import maintenance

    scans = []
    scanned = lake._scanned_days
    monkeypatch.setattr(lake, "_scanned_days", lambda *a: scans.append(a[2:]) or scanned(*a))
    D0, D4 = dt.date(2020, 12, 31), dt.date(2021, 1, 7)

    def check(expected, ranges):
        scans.clear()
        days = lake.stored_days("prices")
        assert sorted(scans) == ranges  # what was read: the days of the commits since, or everything
        lake._DAYS_CACHE.clear()
        assert lake.stored_days("prices") == days == expected  # as a full read in a new process

    lake.write_days("prices", _prices([D0, D1, D2]), [D0, D1, D2], keys=SYMBOLS)
    check([D0, D1, D2], [()])
    lake.write_days("prices", _prices([D4]), [D4], keys=SYMBOLS)  # a day added
    check([D0, D1, D2, D4], [(D4, D4)])
    lake.write_days("prices", _prices([D1], symbols=("AAA",)), [D1, D2, D3], keys=["AAA"])  # D2 keeps BBB's row
    lake.write_days("prices", lake.empty_frame("prices"), [D4], keys=SYMBOLS)  # D4 emptied
    check([D0, D1, D2], [(D1, D3), (D4, D4)])
    lake.delete_key("prices", "BBB")  # D2 had only BBB's row left
    check([D0, D1], [(D0, D2)])
    lake.write_days("prices", _prices([D4]), [D4], keys=SYMBOLS)
    check([D0, D1, D4], [(D4, D4)])
    lake.stored_days("prices")
    version = lake.table_version("prices")
    maintenance.maintain("prices", retention_days=30)  # a compaction: not a commit of lake.py, all read again
    assert lake.table_version("prices") > version
    check([D0, D1, D4], [()])


@pytest.mark.parametrize("values", [
    pd.Series(pd.to_datetime(["2021-01-04 00:00", "2021-01-04 23:59", "1969-12-31 12:00", "1960-03-01 23:00", None])),
    pd.Series(pd.to_datetime(["2021-01-04 23:30", "2021-01-05 00:30"]).tz_localize("America/New_York")),
    pd.Series([dt.date(2021, 1, 4), dt.date(2021, 1, 4), dt.date(1965, 7, 1)]),
])
def test_a_tables_days_are_the_calendar_days_of_python_s_dates(values):
    """The day of each value (a write's date32 column, the rows per day of a run's metadata) is the one
    ``.dt.date`` names, before 1970 and at a time of day too (a floor, not a rounding), and NaT none."""
    dates = pd.to_datetime(values)
    expected = dates.dt.date.value_counts().to_dict()
    assert lake.day_counts(values) == expected
    assert pa.array(lake.calendar_days(values), type=pa.date32(), from_pandas=True).to_pylist() == [
        None if pd.isna(d) else d for d in dates.dt.date]


def _scans_recorded(monkeypatch) -> list[tuple]:
    """The ranges of the reads of days (``lake._scanned_days``) made from now on: () for every day."""
    scans = []
    scanned = lake._scanned_days
    monkeypatch.setattr(lake, "_scanned_days", lambda *a: scans.append(a[2:]) or scanned(*a))
    return scans


def test_a_window_reads_the_days_of_its_span_only_and_finds_those_every_day_holds(data_dir, monkeypatch):
    """``read_window``'s days come from the files of a span before its start long enough for the
    lookback (widened until it is), not from every file: the same days as from the whole list."""
    stored = [d.date() for d in pd.bdate_range("2012-01-02", "2021-12-31") if not 2016 <= d.year <= 2019]
    lake.write_days("prices", _prices(stored, symbols=("AAA",)), stored, keys=SYMBOLS)
    scans = _scans_recorded(monkeypatch)
    start, end = dt.date(2021, 6, 1), dt.date(2021, 6, 3)
    for lookback in (0, 3, 100, 200, 1200, 5000):  # 200 and more reach across 2016-2019, which hold no day
        lake._DAYS_CACHE.clear()
        scans.clear()
        before = [d for d in stored if d < start]
        expected = (before[-lookback:] if lookback else []) + [d for d in stored if start <= d <= end]
        assert lake.window_days("prices", start, end, lookback) == expected
        assert [d.date() for d in lake.read_window("prices", start, end, lookback)["date"]] == expected
        assert all(s for s in scans)  # never every day at once
        if lookback <= 100:
            assert min(s[0] for s in scans) >= dt.date(2020, 12, 1)  # the files of 2021 and 2020 only
    lake._DAYS_CACHE.clear()
    assert lake.stored_days("prices") == stored


def test_the_days_of_a_range_are_read_once_and_a_wider_range_reads_only_what_is_new(data_dir, monkeypatch):
    stored = [d.date() for d in pd.bdate_range("2019-01-01", "2021-12-31")]
    lake.write_days("prices", _prices(stored, symbols=("AAA",)), stored, keys=SYMBOLS)
    scans = _scans_recorded(monkeypatch)
    a, b = dt.date(2020, 3, 1), dt.date(2020, 9, 30)
    assert lake.stored_days("prices", first=a, last=b) == [d for d in stored if a <= d <= b]
    assert lake.stored_days("prices", first=dt.date(2020, 4, 1), last=b) == [d for d in stored if dt.date(2020, 4, 1) <= d <= b]
    assert scans == [(a, b)]  # the second range is within the first: nothing read
    assert lake.stored_days("prices", last=dt.date(2020, 12, 31)) == [d for d in stored if d <= dt.date(2020, 12, 31)]
    assert scans[1:] == [(dt.date.min, a - dt.timedelta(days=1)), (b + dt.timedelta(days=1), dt.date(2020, 12, 31))]
    assert lake.stored_days("prices", first=dt.date(2020, 6, 1), last=dt.date(2020, 5, 1)) == []  # an empty range
    # a commit inside the range read is read again, one outside it is left for a read that reaches it
    inside, outside = dt.date(2020, 6, 6), dt.date(2021, 6, 5)  # Saturdays: no rows yet
    lake.write_days("prices", _prices([inside, outside], symbols=("AAA",)), [inside, outside], keys=SYMBOLS)
    scans.clear()
    assert lake.stored_days("prices", first=a, last=b) == sorted([d for d in stored if a <= d <= b] + [inside])
    assert scans == [(inside, dt.date(2020, 12, 31))]  # the commit's days within the range read
    assert lake.stored_days("prices") == sorted(stored + [inside, outside])
    assert scans[1:] == [(dt.date(2021, 1, 1), dt.date.max)]


def test_the_files_of_a_range_are_those_delta_rs_prunes_to(data_dir):
    """``data_files`` selects a version's files from its add actions' years and day statistics, in the
    log's order: the list delta-rs' pruning by the same predicate gives."""
    for year in (2019, 2020, 2021):  # several files a year, of days and keys written apart
        for month in (1, 6, 12):
            days = [d.date() for d in pd.bdate_range(f"{year}-{month:02d}-01", f"{year}-{month:02d}-10")]
            lake.write_days("prices", _prices(days, symbols=("AAA",)), days, keys=["AAA"])
            lake.write_days("prices", _prices(days[2:4], symbols=("BBB",)), days[2:4], keys=["BBB"])
    delta, spec = lake.open_table("prices"), lake.table_schema("prices")
    assert len(delta.file_uris()) == 18
    for first, last in [(dt.date(2020, 6, 3), dt.date(2020, 6, 3)), (dt.date(2019, 12, 31), dt.date(2020, 1, 2)),
                        (dt.date(2018, 1, 1), dt.date(2022, 1, 1)), (dt.date(2020, 2, 1), dt.date(2020, 5, 31)),
                        (dt.date(2021, 12, 10), dt.date(2021, 12, 10)), (dt.date(2021, 1, 1), dt.date(2020, 1, 1))]:
        pruned = delta.file_uris(file_pruning_predicate=lake._range_predicate("date", first, last))
        assert lake.data_files(delta, spec, first, last) == pruned


def test_held_symbols_are_the_positions_instruments_and_with_trades_the_traded_ones_too(data_dir):
    from risk_pipeline.defs.portfolios import held_symbols

    def positions(day, symbols):
        return pd.DataFrame({"date": pd.Timestamp(day), "portfolio": "desk", "symbol": list(symbols), "quantity": 1.0,
                             "currency": "USD"})

    lake.write_days("positions", pd.concat([positions(D1, ["AAA"]), positions(D2, ["AAA", "BBB"])]), [D1, D2],
                    keys=["desk"])
    # CCC bought and sold on D2 (held at no close), DDD traded on D3, after the range
    trades = pd.DataFrame({"date": pd.to_datetime([D2, D2, D3]), "portfolio": "desk", "symbol": ["CCC", "CCC", "DDD"],
                           "quantity": [5.0, -5.0, 1.0], "price": 10.0, "fees": 0.0, "currency": "USD",
                           "trade_id": ["t1", "t2", "t3"]})
    lake.write_days("trades", trades, [D2, D3], keys=["desk"])
    assert held_symbols(D2, D2, ["desk"]) == ["AAA", "BBB", "CCC"]
    assert held_symbols(D2, D2, ["desk"], with_trades=False) == ["AAA", "BBB"]
    assert held_symbols(D2, D2, ["other"]) == []
