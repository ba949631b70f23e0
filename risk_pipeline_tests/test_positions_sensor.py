"""The drop-folder sensor: a landing file launches its day once; a corrected past day launches the re-run
of that day through the latest stored day, and that re-run leaves the tables a clean run writes."""

from __future__ import annotations

import datetime as dt
import json
import os

import dagster as dg
import pandas as pd
import pytest

from risk_pipeline.defs.positions_sensor import positions_drop_folder
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, query
from risk_pipeline_tests.test_positions import HOLDINGS, PORTFOLIOS, write_drop

TABLES = {"prices", "returns", "fx_rates", "positions", "trades", "portfolio_pnl"}
FIRST_DAYS = {d: h for d, h in HOLDINGS.items() if d <= dt.date(2022, 3, 4)}


def evaluate(cursor: str | None):
    context = dg.build_sensor_context(cursor=cursor)
    return positions_drop_folder(context)


def run(request: dg.RunRequest) -> None:
    """The request's run, over the tables of the positions and the P&L (the whole graph needs a year of history)."""
    tags = dict(request.tags)
    if request.partition_key:
        tags.update({"dagster/asset_partition_range_start": request.partition_key,
                     "dagster/asset_partition_range_end": request.partition_key})
    assets = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= TABLES]
    assert dg.materialize(assets, tags=tags).success


def tables(data) -> dict[str, pd.DataFrame]:
    return {t: query(data, f"select * from {t} order by all") for t in ("positions", "trades", "portfolio_pnl")}


@pytest.fixture()
def desk(tmp_path, monkeypatch):
    (tmp_path / "portfolios.yaml").write_text(PORTFOLIOS)
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(tmp_path / "portfolios.yaml"))
    return tmp_path


def test_each_landing_file_launches_its_day_once(desk):
    write_drop(desk / "drop", {dt.date(2022, 3, 1): FIRST_DAYS[dt.date(2022, 3, 1)]}, trades=[])
    first = evaluate(None)
    [request] = first.run_requests
    assert request.partition_key == "2022-03-01"
    assert isinstance(evaluate(first.cursor), dg.SkipReason)  # nothing new: no run
    path = desk / "drop" / "positions_2022-03-01.csv"
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 60))
    assert isinstance(evaluate(first.cursor), dg.SkipReason)  # touched, not changed: no run
    write_drop(desk / "drop", {dt.date(2022, 3, 2): FIRST_DAYS[dt.date(2022, 3, 2)]}, trades=[])
    [second] = evaluate(first.cursor).run_requests
    assert second.partition_key == "2022-03-02" and second.run_key != request.run_key


def test_a_file_after_the_datas_last_day_waits_and_launches_nothing(desk):
    # the bundled prices end on 2022-12-28, the last partition: a file of 2022-12-29 has no run yet
    write_drop(desk / "drop", {dt.date(2022, 12, 28): FIRST_DAYS[dt.date(2022, 3, 1)]}, trades=[])
    first = evaluate(None)
    [request] = first.run_requests
    assert request.partition_key == "2022-12-28"
    write_drop(desk / "drop", {dt.date(2022, 12, 29): FIRST_DAYS[dt.date(2022, 3, 1)]}, trades=[])
    later = evaluate(first.cursor)
    assert isinstance(later, dg.SkipReason)
    assert "1 file(s) of days after the last partition 2022-12-28 wait" in later.skip_message
    # another file lands: its day runs, and the waiting file stays out of the cursor, still waiting
    write_drop(desk / "drop", {dt.date(2022, 12, 27): FIRST_DAYS[dt.date(2022, 3, 1)]}, trades=[])
    third = evaluate(first.cursor)
    [request] = third.run_requests
    assert request.partition_key == "2022-12-27"
    assert sorted(path[-14:-4] for path in json.loads(third.cursor)) == ["2022-12-27", "2022-12-28"]
    assert "wait for the price source's data" in evaluate(third.cursor).skip_message


def test_a_corrected_past_day_reruns_it_and_the_later_days_to_a_clean_runs_tables(desk, tmp_path_factory):
    write_drop(desk / "drop", FIRST_DAYS)
    first = evaluate(None)
    [request] = first.run_requests  # four new days at once: one run over them
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) \
        == ("2022-03-01", "2022-03-04")
    run(request)
    corrected = {**FIRST_DAYS, dt.date(2022, 3, 2): {"AAPL": 120.0, "MSFT": -50.0}}
    write_drop(desk / "drop", {dt.date(2022, 3, 2): corrected[dt.date(2022, 3, 2)]}, trades=[])
    [rerun] = evaluate(first.cursor).run_requests
    # the day read by the next day's P&L (previous close) and every later stored day
    assert (rerun.tags["dagster/asset_partition_range_start"], rerun.tags["dagster/asset_partition_range_end"]) \
        == ("2022-03-02", "2022-03-04")
    before = tables(desk / "data")
    run(rerun)
    after = tables(desk / "data")
    changed = after["portfolio_pnl"].merge(before["portfolio_pnl"], on=["date", "portfolio"], suffixes=("", "_old"))
    moved = changed.loc[changed["hypothetical_pnl"] != changed["hypothetical_pnl_old"], ["date", "portfolio"]]
    assert moved.values.tolist() == [[pd.Timestamp("2022-03-03"), "desk"]]  # the 2nd's positions, held over the 3rd
    # a clean lake built from the corrected files in one run
    clean = tmp_path_factory.mktemp("clean")
    write_drop(clean / "drop", corrected)
    (clean / "portfolios.yaml").write_text(PORTFOLIOS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISK_PIPELINE_DATA", str(clean / "data"))
        mp.setenv("RISK_PIPELINE_PORTFOLIOS", str(clean / "portfolios.yaml"))
        run(dg.RunRequest(tags={"dagster/asset_partition_range_start": "2022-03-01",
                                "dagster/asset_partition_range_end": "2022-03-04"}))
        expected = tables(clean / "data")
    for table, frame in expected.items():
        pd.testing.assert_frame_equal(after[table], frame, check_exact=True)
