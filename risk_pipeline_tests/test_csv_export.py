"""The CSV exports (storage.csv_export.csv_bytes): read back by pandas as the same rows."""

import datetime as dt
import io

import numpy as np
import pandas as pd
import pyarrow as pa

from risk_pipeline.storage.csv_export import csv_bytes


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.to_datetime(["2022-12-27", "2022-12-28"]),
        "portfolio": ["a,b", 'say "x"'],
        "var": [0.1 + 0.2, 1e-300],
        "breach": [True, False],
        "n_obs": [250, 1000],
        "p": [np.nan, 0.5],
    })


def test_round_trip_through_pandas():
    frame = _frame()
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)), parse_dates=["date"])
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert back["var"].iloc[0] == 0.1 + 0.2  # shortest round-trip repr, no digits lost


def test_days_written_as_dates_and_timestamps_kept():
    frame = _frame()
    text = csv_bytes(frame).decode()
    assert text.splitlines()[1].startswith("2022-12-27,")
    frame["at"] = pd.to_datetime(["2022-12-27 10:30", "2022-12-28 00:00"])
    assert "2022-12-27 10:30:00" in csv_bytes(frame).decode()


def test_arrow_table_as_stored():
    table = pa.table({"date": pa.array([dt.date(2020, 1, 2)], pa.date32()), "close": [101.5]})
    assert csv_bytes(table).decode().splitlines() == ['"date","close"', "2020-01-02,101.5"]
