"""Price sources: the bundled snapshot, the CSV source, the shared validation and ``make_source``.

The ``fixtures/skfolio_*_sample.csv`` files are verbatim lines of skfolio 1.12.2's
``skfolio/datasets/data/*.csv.gz`` (header, first 3 rows, every 997th line and the last line),
made with ``zcat X.csv.gz | awk 'NR<=4 || NR%997==0 {print} {l=$0} END {print l}'``; the bundled
Parquet must reproduce them exactly.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.sources import (
    PRICE_COLUMNS,
    BundledSource,
    CsvSource,
    PriceDataError,
    PriceSource,
    YahooSource,
    make_source,
    validate_prices,
)
from risk_pipeline.sources.bundled import BUNDLED_PRICES_FILE, SHIPPED_DATA_DIR, bundled_data_dir

FIXTURES = Path(__file__).parent / "fixtures"
STOCKS = ("AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM").split()
ETFS = ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")
FULL = (dt.date(1980, 1, 1), dt.date(2030, 1, 1))


@pytest.fixture(scope="module")
def bundled_all() -> pd.DataFrame:
    return BundledSource().fetch(None, *FULL)


def assert_price_schema(frame: pd.DataFrame) -> None:
    assert tuple(frame.columns) == PRICE_COLUMNS
    assert frame["date"].dtype == np.dtype("datetime64[ns]")
    assert frame["close"].dtype == np.dtype("float64")
    assert pd.api.types.is_string_dtype(frame["symbol"]) and pd.api.types.is_string_dtype(frame["currency"])
    assert (frame["date"] == frame["date"].dt.normalize()).all()
    assert list(frame.index) == list(range(len(frame)))
    assert frame.equals(frame.sort_values(["date", "symbol"], ignore_index=True))


# --- bundled snapshot ---------------------------------------------------------------------------


def test_bundled_has_8313_days_for_every_stock_and_the_index(bundled_all):
    assert_price_schema(bundled_all)
    counts = bundled_all.groupby("symbol")["date"].agg(["count", "min", "max"])
    for symbol in (*STOCKS, "SP500"):
        assert counts.loc[symbol, "count"] == 8313, symbol
        assert counts.loc[symbol, "min"] == pd.Timestamp("1990-01-02")
        assert counts.loc[symbol, "max"] == pd.Timestamp("2022-12-28")
    assert bundled_all["date"].nunique() == 8313
    assert set(bundled_all["currency"]) == {"USD"} and set(bundled_all["source"]) == {"bundled"}
    assert len(bundled_all) == 21 * 8313 + 5 * 2264 + 5031  # + the NASDAQ Composite 1999-2018


def test_factor_etfs_start_in_2014(bundled_all):
    etfs = bundled_all[bundled_all["symbol"].isin(ETFS)].groupby("symbol")["date"].agg(["count", "min", "max"])
    assert list(etfs.index) == sorted(ETFS)
    assert (etfs["min"] == pd.Timestamp("2014-01-02")).all()
    assert (etfs["max"] == pd.Timestamp("2022-12-28")).all()
    assert (etfs["count"] == 2264).all()


@pytest.mark.parametrize("sample", ["sp500_dataset", "sp500_index", "factors_dataset"])
def test_bundled_matches_raw_skfolio_csv(sample, bundled_all):
    raw = pd.read_csv(FIXTURES / f"skfolio_{sample}_sample.csv", parse_dates=["Date"])
    wide = bundled_all.pivot(index="date", columns="symbol", values="close")
    for _, row in raw.iterrows():
        for symbol in raw.columns[1:]:
            assert wide.at[row["Date"], symbol] == row[symbol], (sample, row["Date"], symbol)


def test_fetch_one_day_is_inclusive_and_filters_symbols():
    source = BundledSource()
    day = source.fetch(["SP500", "AAPL", "AAPL"], dt.date(2008, 10, 15), dt.date(2008, 10, 15))
    assert_price_schema(day)
    assert list(day["symbol"]) == ["AAPL", "SP500"]
    assert day["close"].tolist() == [2.973, 907.84]
    all_symbols = source.fetch(None, dt.date(2020, 3, 16), dt.date(2020, 3, 20))
    assert all_symbols["date"].nunique() == 5 and len(all_symbols) == 5 * 26
    assert source.symbols == tuple(sorted((*STOCKS, *ETFS, "SP500", "NASDAQ")))  # NASDAQ: no rows after 2018


def test_range_without_trading_days_is_empty_with_schema():
    weekend = BundledSource().fetch(["AAPL"], dt.date(2020, 3, 14), dt.date(2020, 3, 15))
    assert weekend.empty
    assert tuple(weekend.columns) == PRICE_COLUMNS and weekend["date"].dtype == np.dtype("datetime64[ns]")


def test_unknown_symbol_is_named():
    with pytest.raises(PriceDataError, match=r"unknown symbol\(s\) NOPE, ZZZ"):
        BundledSource().fetch(["AAPL", "ZZZ", "NOPE"], *FULL)


def test_start_after_end_is_refused():
    with pytest.raises(ValueError, match="start 2020-01-03 is after end 2020-01-02"):
        BundledSource().fetch(None, dt.date(2020, 1, 3), dt.date(2020, 1, 2))


def test_bundled_dir_comes_from_the_package_not_the_lake_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("RISK_PIPELINE_BUNDLED_DATA", raising=False)
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path))
    assert bundled_data_dir() == SHIPPED_DATA_DIR
    assert (SHIPPED_DATA_DIR / BUNDLED_PRICES_FILE).is_file()


def test_bundled_dir_env_override(monkeypatch, tmp_path):
    frame = pd.DataFrame({"date": pd.to_datetime(["2021-01-04", "2021-01-05"]), "symbol": ["X", "X"],
                          "close": [10.0, 11.0], "currency": ["CHF", "CHF"]})
    frame.to_parquet(tmp_path / BUNDLED_PRICES_FILE)
    monkeypatch.setenv("RISK_PIPELINE_BUNDLED_DATA", str(tmp_path))
    out = make_source("bundled").fetch(None, *FULL)
    assert out["close"].tolist() == [10.0, 11.0] and set(out["currency"]) == {"CHF"}
    assert BundledSource(data_dir=SHIPPED_DATA_DIR).fetch(["AAPL"], dt.date(1990, 1, 2), dt.date(1990, 1, 2))["close"].item() == 0.264


# --- validate_prices ----------------------------------------------------------------------------


def good_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "date": ["2020-01-03", "2020-01-02", "2020-01-02"],
        "symbol": ["AAA", "AAA", "BBB"],
        "close": [11.0, 10.0, 5.0],
        "currency": ["USD", "USD", "EUR"],
        "source": ["test"] * 3,
        "extra": [1, 2, 3],
    })


def test_validate_returns_clean_sorted_copy():
    raw = good_frame()
    clean = validate_prices(raw, origin="unit")
    assert_price_schema(clean)
    assert clean["symbol"].tolist() == ["AAA", "BBB", "AAA"]
    assert clean["close"].tolist() == [10.0, 5.0, 11.0]
    assert raw["date"].tolist()[0] == "2020-01-03"  # input untouched


def test_validate_accepts_tz_aware_dates_as_local_days():
    raw = good_frame()
    raw["date"] = pd.to_datetime(raw["date"]).dt.tz_localize("America/New_York") + pd.Timedelta(hours=16)
    clean = validate_prices(raw, origin="unit")
    assert clean["date"].dt.strftime("%Y-%m-%d").tolist() == ["2020-01-02", "2020-01-02", "2020-01-03"]


@pytest.mark.parametrize(
    ("column", "row", "value", "pattern"),
    [
        ("close", 1, np.nan, r"unit: missing, non-finite or non-positive close in row 1 \(symbol 'AAA', date '2020-01-02'"),
        ("close", 2, 0.0, r"non-positive close in row 2 \(symbol 'BBB'"),
        ("close", 0, -3.0, r"non-positive close in row 0 \(symbol 'AAA', date '2020-01-03'"),
        ("close", 0, np.inf, r"non-positive close in row 0"),
        ("close", 2, "abc", r"non-positive close in row 2 \(symbol 'BBB'.*'abc'"),
        ("date", 2, "2020-02-30", r"unit: missing or unparsable date in row 2 \(symbol 'BBB', date '2020-02-30'"),
        ("date", 0, None, r"missing or unparsable date in row 0"),
        ("symbol", 1, None, r"missing symbol in row 1"),
        ("symbol", 1, "  ", r"missing symbol in row 1"),
        ("currency", 2, "usd", r"3-letter upper-case code in row 2 \(symbol 'BBB', currency 'usd'\)"),
    ],
)
def test_validate_names_the_bad_row(column, row, value, pattern):
    raw = good_frame().astype({column: object})
    raw.loc[row, column] = value
    with pytest.raises(PriceDataError, match=pattern):
        validate_prices(raw, origin="unit")


def test_validate_names_duplicate_dates():
    raw = good_frame()
    raw.loc[0, "date"] = "2020-01-02"
    with pytest.raises(PriceDataError, match=r"duplicate \(date, symbol\) rows: AAA on 2020-01-02 \(row 0\); AAA on 2020-01-02 \(row 1\)"):
        validate_prices(raw, origin="unit")


def test_validate_of_rows_in_order_checks_them_as_it_sorts_others():
    """A frame already in (date, symbol) order is checked, not sorted again (sources.base.sorted_unique):
    a pair repeated on adjacent rows is still refused, padded symbols are stripped before the order is
    judged, and the rows in order and shuffled give the same frame."""
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2020-01-01", periods=40)
    ordered = pd.DataFrame({"date": np.repeat(days, 3), "symbol": np.tile([" A", "B ", "C"], len(days)),
                            "close": rng.uniform(1, 2, 3 * len(days)), "currency": "USD", "source": "test"})
    clean = validate_prices(ordered, origin="unit")
    assert clean["symbol"].tolist()[:4] == ["A", "B", "C", "A"]
    assert clean.index.tolist() == list(range(len(ordered)))
    shuffled = ordered.sample(frac=1.0, random_state=4)
    pd.testing.assert_frame_equal(validate_prices(shuffled, origin="unit"), clean, check_exact=True)
    # the second day of " A" written twice, one after the other: in order but for the repeat
    repeated = pd.concat([ordered.iloc[:4], ordered.iloc[3:]], ignore_index=True)
    with pytest.raises(PriceDataError, match=r"duplicate \(date, symbol\) rows: A on 2020-01-02 \(row 3\); A on 2020-01-02 \(row 4\)"):
        validate_prices(repeated, origin="unit")
    # " A" and "A" are one symbol once stripped: two rows of A on one day
    twice = ordered.iloc[:3].assign(symbol=[" A", "A", "C"])
    with pytest.raises(PriceDataError, match=r"duplicate \(date, symbol\) rows: A on 2020-01-01 \(row 0\); A on 2020-01-01 \(row 1\)"):
        validate_prices(twice, origin="unit")


def test_validate_missing_column_empty_frame_and_mixed_currency():
    with pytest.raises(PriceDataError, match="unit: missing column.s. close"):
        validate_prices(good_frame().drop(columns="close"), origin="unit")
    with pytest.raises(PriceDataError, match="unit: no price rows"):
        validate_prices(good_frame().iloc[:0], origin="unit")
    mixed = good_frame()
    mixed.loc[0, "currency"] = "EUR"
    with pytest.raises(PriceDataError, match="more than one currency: AAA"):
        validate_prices(mixed, origin="unit")


# --- CSV source ---------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_happy_path_default_currency_and_range(tmp_path):
    path = write(tmp_path, "date,symbol,close\n2021-01-05,AAA,10.5\n2021-01-04,AAA,10\n2021-01-04,BBB,20\n2021-01-06,BBB,21\n")
    source = make_source("csv", path=path)
    assert isinstance(source, CsvSource) and isinstance(source, PriceSource)
    out = source.fetch(None, dt.date(2021, 1, 4), dt.date(2021, 1, 5))
    assert_price_schema(out)
    assert out[["symbol", "close"]].values.tolist() == [["AAA", 10.0], ["BBB", 20.0], ["AAA", 10.5]]
    assert set(out["currency"]) == {"USD"} and set(out["source"]) == {"csv:prices.csv"}
    assert source.fetch(["BBB"], *FULL)["close"].tolist() == [20.0, 21.0]
    with pytest.raises(PriceDataError, match=r"prices.csv: unknown symbol\(s\) CCC"):
        source.fetch(["CCC"], *FULL)


def test_csv_currency_column_and_reread_after_change(tmp_path):
    path = write(tmp_path, "Date, Symbol, Close, Currency\n2021-01-04, SAP, 100.0, EUR\n")
    source = CsvSource(path)
    assert source.fetch(None, *FULL)[["symbol", "close", "currency"]].values.tolist() == [["SAP", 100.0, "EUR"]]
    path.write_text("date,symbol,close,currency\n2021-01-04,SAP,101.25,EUR\n2021-01-05,SAP,102.0,EUR\n")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert source.fetch(None, *FULL)["close"].tolist() == [101.25, 102.0]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("date,symbol,close\n2021-01-04,AAA,1\n2021-01-05,AAA,2,7\n", r"prices.csv: unparsable CSV at row 3"),
        ('date,symbol,close\n2021-01-04,AAA,1\n2021-01-05,AAA,"2\n', r"prices.csv: unparsable CSV at row 3"),
        ("", r"prices.csv: file is empty"),
        ("date,ticker,close\n2021-01-04,AAA,1\n", r"prices.csv: missing column\(s\) symbol"),
        ("date,symbol,close\n2021-01-04,AAA,1\n2021-13-05,AAA,2\n", r"unparsable date in row 3 \(symbol 'AAA', date '2021-13-05'"),
        ("date,symbol,close\n2021-01-04,AAA,1\n2021-01-05,AAA,\n", r"non-positive close in row 3 \(symbol 'AAA', date '2021-01-05'"),
        ("date,symbol,close\n2021-01-04,AAA,0\n", r"non-positive close in row 2 \(symbol 'AAA'"),
        ("date,symbol,close\n2021-01-04,AAA,-1.5\n", r"non-positive close in row 2"),
        ("date,symbol,close\n2021-01-04,AAA,N/A\n", r"non-positive close in row 2 .*'N/A'"),
        ("date,symbol,close\n2021-01-04,AAA,1\n2021-01-04,AAA,1\n", r"duplicate \(date, symbol\) rows: AAA on 2021-01-04 \(row 2\); AAA on 2021-01-04 \(row 3\)"),
    ],
)
def test_csv_errors_name_file_and_row(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(PriceDataError, match=pattern) as info:
        CsvSource(path).fetch(None, *FULL)
    assert str(path) in str(info.value)


def test_csv_missing_file(tmp_path):
    with pytest.raises(PriceDataError, match="nothere.csv: price file not found"):
        CsvSource(tmp_path / "nothere.csv").fetch(None, *FULL)


# --- make_source --------------------------------------------------------------------------------


def test_make_source_kinds_and_errors(tmp_path):
    assert isinstance(make_source(), BundledSource)
    assert make_source().name == "bundled"
    yahoo = make_source("yfinance", currency_map={"SAP.DE": "EUR"})
    assert isinstance(yahoo, YahooSource) and yahoo.currency_map == {"SAP.DE": "EUR"}
    with pytest.raises(ValueError, match="unknown price source kind 'bloomberg'"):
        make_source("bloomberg")
    with pytest.raises(ValueError, match="price source 'csv': missing option.s. path"):
        make_source("csv")
    with pytest.raises(ValueError, match="price source 'bundled': unknown option.s. pth"):
        make_source("bundled", pth=tmp_path)


def test_callers_cannot_corrupt_the_cached_snapshot():
    source = BundledSource()
    first = source.fetch(["AAPL"], dt.date(1990, 1, 2), dt.date(1990, 1, 2))
    first.loc[0, "close"] = -1.0
    again = source.fetch(None, *FULL)
    again["close"] = 0.0
    assert source.fetch(["AAPL"], dt.date(1990, 1, 2), dt.date(1990, 1, 2))["close"].item() == 0.264


def test_missing_bundled_file_is_named(tmp_path):
    with pytest.raises(PriceDataError, match=f"{tmp_path / BUNDLED_PRICES_FILE}: bundled price file not found"):
        BundledSource(data_dir=tmp_path).fetch(None, *FULL)
