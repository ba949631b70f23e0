"""The Parquet lake and the DuckDB catalog: atomic, idempotent per-day writes and typed views."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
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


def test_write_then_rewrite_replaces_the_day_and_never_duplicates(data_dir):
    assert lake.write_days("prices", _prices([D1, D2]), [D1, D2]) == 2
    assert lake.write_days("prices", _prices([D1, D2], close=5.0), [D1, D2]) == 2
    stored = lake.read_days("prices", [D1, D2])
    assert len(stored) == 4
    assert sorted(stored["close"]) == [5.0, 5.0, 6.0, 6.0]
    assert lake.stored_days("prices") == [D1, D2]


def test_a_day_without_rows_in_the_written_range_loses_its_old_file(data_dir):
    lake.write_days("prices", _prices([D1, D2, D3]), [D1, D2, D3])
    lake.write_days("prices", _prices([D1, D3]), [D1, D2, D3])
    assert lake.stored_days("prices") == [D1, D3]


def test_rows_outside_the_written_days_are_refused_before_any_write(data_dir):
    with pytest.raises(ValueError, match="2021-01-06"):
        lake.write_days("prices", _prices([D1, D3]), [D1])
    assert lake.stored_days("prices") == []


def test_a_frame_missing_a_column_writes_nothing_and_names_the_column(data_dir):
    lake.write_days("prices", _prices([D1]), [D1])
    broken = _prices([D1, D2]).drop(columns=["currency"])
    with pytest.raises(lake.SchemaMismatchError, match="currency"):
        lake.write_days("prices", broken, [D1, D2])
    stored = lake.read_days("prices", [D1, D2])
    assert list(stored["date"].dt.date.unique()) == [D1]


def test_leftover_temporary_files_are_invisible_to_the_catalog_and_cleaned(data_dir):
    lake.write_days("prices", _prices([D1]), [D1])
    folder = data_dir / "lake" / "prices" / f"date={D1.isoformat()}"
    (folder / ".deadbeef.parquet.tmp").write_bytes(b"half a file")
    catalog.refresh_catalog()
    with duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from prices").fetchone()[0] == 2
    lake.write_days("prices", _prices([D1]), [D1])
    assert not list(folder.glob("*.tmp"))


def test_read_window_counts_lookback_in_stored_days(data_dir):
    days = [d.date() for d in pd.bdate_range("2021-01-04", "2021-01-29")]
    lake.write_days("prices", _prices(days, symbols=("AAA",)), days)
    frame = lake.read_window("prices", dt.date(2021, 1, 18), dt.date(2021, 1, 19), lookback=3)
    assert [d.date() for d in frame["date"]] == [
        dt.date(2021, 1, 13), dt.date(2021, 1, 14), dt.date(2021, 1, 15), dt.date(2021, 1, 18), dt.date(2021, 1, 19)
    ]


def test_catalog_views_have_the_design_columns_even_when_empty(data_dir):
    catalog.refresh_catalog()
    with duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True) as con:
        columns = [row[0] for row in con.execute("describe var_estimates").fetchall()]
        assert con.execute("select count(*) from var_backtests").fetchone()[0] == 0
    for required in ["date", "portfolio", "method", "confidence", "horizon_days", "var", "es", "var_amount", "es_amount"]:
        assert required in columns


def test_query_days_aggregates_the_chosen_day_files(data_dir):
    days = [D1, D2, D3]
    lake.write_days("prices", _prices(days), days)
    got = lake.query_days("prices", [D1, D3], "select symbol, sum(close) as total from days_of group by symbol order by symbol")
    assert got.to_dict("list") == {"symbol": ["AAA", "BBB"], "total": [2.0, 4.0]}
    empty = lake.query_days("prices", [dt.date(2021, 2, 1)], "select count(*) as n from days_of")
    assert empty["n"][0] == 0
