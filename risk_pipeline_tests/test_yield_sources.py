"""Yield sources: a user's CSV (validation naming file and line) and Yahoo yield tickers offline.

The yfinance path runs whole (yfinance and curl_cffi) against Yahoo's chart API served from
127.0.0.1 with hand-made responses (risk_pipeline_tests/yahoo_server.py, fixtures/yahoo_chart).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.sources.yields import (
    YIELD_COLUMNS,
    CsvYieldSource,
    YahooYieldSource,
    YieldDataError,
    make_yield_source,
    read_yield_csv,
    yields_on,
)
from risk_pipeline_tests.test_yahoo_source import DAYS, bars, served


def _csv(tmp_path, text: str):
    path = tmp_path / "yields.csv"
    path.write_text(text)
    return path


def test_csv_happy_path_and_range(tmp_path):
    path = _csv(tmp_path, "date,series,yield\n2024-03-05,UST10Y,0.0415\n2024-03-04,UST10Y,0.0418\n"
                          "2024-03-04,BUND10Y,0.0232\n2024-03-06,UST10Y,0.0410\n")
    table = read_yield_csv(path)
    assert tuple(table.columns) == YIELD_COLUMNS and table["date"].dtype == np.dtype("datetime64[ns]")
    assert table["series"].tolist() == ["BUND10Y", "UST10Y", "UST10Y", "UST10Y"]  # sorted by (date, series)
    out = CsvYieldSource(path).fetch(["UST10Y"], dt.date(2024, 3, 5), dt.date(2024, 3, 6))
    assert out["yield"].tolist() == [0.0415, 0.0410]
    with pytest.raises(YieldDataError, match="unknown yield series NOPE"):
        CsvYieldSource(path).fetch(["UST10Y", "NOPE"], dt.date(2024, 3, 4), dt.date(2024, 3, 6))


def test_csv_is_read_once_per_version_of_the_file(tmp_path, monkeypatch):
    """Five steps of a day's run fetch the bond yields: the file is read and validated once, and again
    when it changes (a corrected file); a bad or missing file is refused at every fetch."""
    import os

    from risk_pipeline.sources import yields
    from risk_pipeline.sources.csv_file import read_text_csv

    reads = []
    monkeypatch.setattr(yields, "read_text_csv", lambda *args: reads.append(args[0]) or read_text_csv(*args))
    path = _csv(tmp_path, "date,series,yield\n2024-03-04,UST10Y,0.0418\n2024-03-05,UST10Y,0.0415\n")
    source = CsvYieldSource(path)
    for _ in range(3):
        assert source.fetch(["UST10Y"], dt.date(2024, 3, 4), dt.date(2024, 3, 5))["yield"].tolist() == [0.0418, 0.0415]
    assert CsvYieldSource(path).fetch(["UST10Y"], dt.date(2024, 3, 5), dt.date(2024, 3, 5))["yield"].tolist() == [0.0415]
    assert len(reads) == 1
    path.write_text("date,series,yield\n2024-03-04,UST10Y,0.0418\n2024-03-05,UST10Y,0.0420\n")
    os.utime(path, ns=(1, 1))  # another modification time even where the clock is coarse
    assert source.fetch(["UST10Y"], dt.date(2024, 3, 5), dt.date(2024, 3, 5))["yield"].tolist() == [0.0420]
    assert len(reads) == 2
    path.write_text("date,series,yield\n2024-03-04,UST10Y,4.18\n")
    for _ in range(2):
        with pytest.raises(YieldDataError, match="yield outside"):
            source.fetch(["UST10Y"], dt.date(2024, 3, 4), dt.date(2024, 3, 4))
    path.unlink()
    with pytest.raises(YieldDataError, match="yield file not found"):
        source.fetch(["UST10Y"], dt.date(2024, 3, 4), dt.date(2024, 3, 4))


@pytest.mark.parametrize(("body", "message"), [
    ("2024-03-04,UST10Y,0.04\nnot-a-date,UST10Y,0.04\n", r"unparsable date in row 3 \(series 'UST10Y'"),
    ("2024-03-04,UST10Y,0.04\n2024-03-05,UST10Y,\n", r"missing, non-numeric or non-finite yield in row 3"),
    ("2024-03-04,UST10Y,abc\n", r"non-finite yield in row 2"),
    ("2024-03-04,UST10Y,inf\n", r"non-finite yield in row 2"),
    ("2024-03-04,UST10Y,4.12\n", r"yield outside .* in row 2"),
    ("2024-03-04,,0.04\n", r"missing series in row 2"),
    ("2024-03-04,UST10Y,0.04\n2024-03-04,UST10Y,0.05\n", r"duplicate \(date, series\) rows: UST10Y on 2024-03-04 "
                                                          r"\(row 2\); UST10Y on 2024-03-04 \(row 3\)"),
])
def test_csv_errors_name_file_and_row(tmp_path, body, message):
    path = _csv(tmp_path, "date,series,yield\n" + body)
    with pytest.raises(YieldDataError, match=message) as info:
        read_yield_csv(path)
    assert str(info.value).startswith(str(path))


def test_csv_structural_errors(tmp_path):
    with pytest.raises(YieldDataError, match="missing column.*yield"):
        read_yield_csv(_csv(tmp_path, "date,series,rate\n2024-03-04,A,0.01\n"))
    with pytest.raises(YieldDataError, match="no yield rows"):
        read_yield_csv(_csv(tmp_path, "date,series,yield\n"))
    with pytest.raises(YieldDataError, match="file is empty"):
        read_yield_csv(_csv(tmp_path, ""))
    with pytest.raises(YieldDataError, match="yield file not found"):
        read_yield_csv(tmp_path / "absent.csv")
    with pytest.raises(YieldDataError, match=r"unparsable CSV at row 3"):
        read_yield_csv(_csv(tmp_path, "date,series,yield\n2024-03-04,A,0.01\n2024-03-05,A,0.01,extra\n"))


def test_yahoo_yield_tickers_are_percent_divided_by_100(yahoo):
    out = YahooYieldSource().fetch(["^TNX", "^IRX"], dt.date(2024, 3, 5), dt.date(2024, 3, 7))
    assert tuple(out.columns) == YIELD_COLUMNS
    for ticker in ("^TNX", "^IRX"):
        rows = out[out["series"] == ticker]
        percent = served(yahoo, ticker)[DAYS[1:4]].to_numpy()  # Yahoo quotes 4.145 for 4.145%
        np.testing.assert_allclose(rows["yield"], percent / 100.0, rtol=0, atol=1e-15)
        assert list(rows["date"]) == list(DAYS[1:4])
    assert [q["period1"] for q in yahoo.chart_requests("^TNX") if "period1" in q]  # the dated request was made


def test_yahoo_empty_download_names_the_ticker(yahoo):
    with pytest.raises(YieldDataError, match=r"empty download for yield ticker \^FVX over 2024-03-04..2024-03-08"):
        YahooYieldSource().fetch(["^TNX", "^FVX"], dt.date(2024, 3, 4), dt.date(2024, 3, 8))


def test_yahoo_nonsense_quote_is_refused(yahoo):
    day = served(yahoo, "^TNX").index.get_loc(pd.Timestamp("2024-03-06"))
    for series in bars(yahoo, "^TNX").values():
        for name in series:
            series[name][day] = 250.0 if name != "volume" else 0
    with pytest.raises(YieldDataError, match=r"yfinance: yield outside .* row 2 \(series '\^TNX'"):
        YahooYieldSource().fetch(["^TNX"], dt.date(2024, 3, 4), dt.date(2024, 3, 8))


def test_make_yield_source_and_yields_on(tmp_path):
    assert isinstance(make_yield_source("yfinance"), YahooYieldSource)
    with pytest.raises(ValueError, match="needs csv_path"):
        make_yield_source("csv")
    with pytest.raises(ValueError, match="unknown yield source kind 'ftp'"):
        make_yield_source("ftp")
    table = read_yield_csv(_csv(tmp_path, "date,series,yield\n2024-03-04,A,0.01\n2024-03-06,A,0.02\n"))
    dates = pd.DatetimeIndex(["2024-03-04", "2024-03-06"])
    assert yields_on(table, "A", dates).tolist() == [0.01, 0.02]
    with pytest.raises(YieldDataError, match=r"yield series 'A' has no value on 2024-03-05 \(needed by bond 'x'\)"):
        yields_on(table, "A", pd.DatetimeIndex(["2024-03-04", "2024-03-05"]), needed_by="bond 'x'")
