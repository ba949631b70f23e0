"""Compaction, vacuum and time travel of the Delta lake, through the functions and the CLI."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from risk_pipeline.cli import main
from risk_pipeline.storage import catalog, lake
from risk_pipeline.storage.maintenance import maintain, snapshot, table_history

DAYS = [d.date() for d in pd.bdate_range("2020-12-21", "2021-01-08")]


def _prices(day: dt.date, close: float) -> pd.DataFrame:
    return pd.DataFrame({"date": [pd.Timestamp(day)] * 2, "symbol": ["AAA", "BBB"], "close": [close, close + 1],
                         "currency": "USD", "source": "test"})


@pytest.fixture()
def daily_lake(data_dir):
    """One commit per day, as the daily schedule writes them, then a correction of the first day."""
    for i, day in enumerate(DAYS):
        lake.write_days("prices", _prices(day, 100.0 + i), [day], keys=["AAA", "BBB"])
    lake.write_days("prices", _prices(DAYS[0], 50.0), [DAYS[0]], keys=["AAA", "BBB"])
    catalog.refresh_catalog()
    return data_dir


def _rows(table=None) -> pd.DataFrame:
    frame = (table if table is not None else lake.read_range("prices")).to_pandas()
    return frame.sort_values(["date", "symbol"], ignore_index=True)


def test_compaction_leaves_one_file_per_year_and_the_same_rows(daily_lake):
    before = _rows()
    assert len(lake.open_table("prices").file_uris()) == len(DAYS)
    done = maintain("prices", retention_days=30)
    assert (done.files_before, done.files_after, done.files_deleted) == (len(DAYS), 2, 0)
    pd.testing.assert_frame_equal(_rows(), before)
    catalog.refresh_catalog()
    with duckdb.connect(str(daily_lake / "risk.duckdb"), read_only=True) as con:
        shown = con.execute("select * from prices order by date, symbol").df()
        version = con.execute("select version from lake_versions where table_name = 'prices'").fetchone()[0]
    assert version == done.version
    pd.testing.assert_frame_equal(shown.assign(date=shown["date"].dt.date), before)


def test_a_version_in_the_retention_period_stays_readable_after_maintenance(daily_lake):
    maintain("prices", retention_days=30)
    first = _rows(snapshot("prices", version=0))
    assert first["date"].tolist() == [DAYS[0], DAYS[0]] and first["close"].tolist() == [100.0, 101.0]
    corrected = _rows(snapshot("prices", version=len(DAYS)))
    assert corrected.loc[corrected["date"] == DAYS[0], "close"].tolist() == [50.0, 51.0]


def test_vacuum_with_no_retention_deletes_replaced_files_and_old_versions_are_refused(daily_lake):
    done = maintain("prices", retention_days=0)
    assert done.files_deleted == len(DAYS) + 1  # every daily file plus the replaced first day
    with pytest.raises(ValueError, match="no readable version 3"):
        snapshot("prices", version=3)
    assert len(_rows()) == 2 * len(DAYS)


def test_snapshot_at_a_time_reads_the_latest_commit_at_or_before_it(daily_lake):
    history = table_history("prices")
    assert history["version"].tolist() == list(range(len(DAYS), -1, -1))
    assert history["first_day"].iloc[0] == DAYS[0].isoformat()
    at = history.loc[history["version"] == 2, "committed_at"].iloc[0]
    assert sorted(set(_rows(snapshot("prices", at=at.to_pydatetime()))["date"])) == DAYS[:3]
    with pytest.raises(ValueError, match="no version at"):
        snapshot("prices", at=dt.datetime(2000, 1, 1))


def test_the_cli_shows_history_writes_a_snapshot_and_names_a_bad_version(daily_lake, tmp_path, capsys):
    assert main(["lake", "history", "prices", "--limit", "2"]) == 0
    assert f"{DAYS[0].isoformat()}" in capsys.readouterr().out
    out = tmp_path / "prices_v0.csv"
    assert main(["lake", "snapshot", "prices", "--version", "0", "--out", str(out)]) == 0
    assert pd.read_csv(out)["close"].tolist() == [100.0, 101.0]
    assert main(["lake", "snapshot", "prices", "--version", "99"]) == 2
    assert "no readable version 99" in capsys.readouterr().err
    assert main(["lake", "maintain", "--retention-days", "30"]) == 0
    assert "prices" in capsys.readouterr().out


def test_the_log_is_checkpointed_every_ten_commits(daily_lake):
    log = daily_lake / "lake" / "prices" / "_delta_log"
    checkpoints = sorted(p.name for p in log.glob("*.checkpoint.parquet"))
    assert lake.table_version("prices") == len(DAYS) and len(DAYS) >= 10
    assert checkpoints == ["00000000000000000009.checkpoint.parquet"]
    assert lake.open_table("prices").metadata().configuration == lake.TABLE_CONFIGURATION


def test_maintenance_gives_a_table_created_before_the_setting_its_checkpoints(data_dir):
    with pytest.MonkeyPatch.context() as before_the_setting:
        before_the_setting.setattr(lake, "TABLE_CONFIGURATION", {})
        for i, day in enumerate(DAYS[:3]):
            lake.write_days("prices", _prices(day, 100.0 + i), [day], keys=["AAA", "BBB"])
    log = data_dir / "lake" / "prices" / "_delta_log"
    assert not list(log.glob("*.checkpoint.parquet"))
    done = maintain("prices", retention_days=30)
    assert lake.open_table("prices").metadata().configuration == lake.TABLE_CONFIGURATION
    assert (log / f"{done.version:020d}.checkpoint.parquet").exists()
