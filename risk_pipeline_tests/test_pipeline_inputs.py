"""The pipeline fed from a user's CSV: bad input writes nothing; no look-ahead end to end.

The whole graph over START..END from a CSV of the bundled closes is built once per module; each test
that starts from it works on a copy of that lake (``copy_lake``)."""

from __future__ import annotations

import pandas as pd
import pytest

from risk_pipeline.sources import make_source
from risk_pipeline.storage import lake
from risk_pipeline.sources.base import PriceDataError
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import copy_lake, fast_run_config, materialize_range, module_lake, query

SYMBOLS = ["AAPL", "JPM", "XOM", "MSFT", "KO", "SP500"]
START, END = "2020-09-01", "2020-12-31"


def _csv_config(path, estimation_window_days=20):
    config = fast_run_config(estimation_window_days=estimation_window_days)
    config["ops"]["prices"]["config"].update({"source": "csv", "csv_path": str(path)})
    return config


def _bundled_csv(path, start=START, end=END):
    frame = make_source("bundled").fetch(SYMBOLS, pd.Timestamp(start).date(), pd.Timestamp(end).date())
    frame = frame.drop(columns=["source"])
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture(scope="module")
def good_lake(tmp_path_factory):
    """The data folder of the whole graph over START..END from ``prices.csv``, a CSV of the bundled closes."""
    root = tmp_path_factory.mktemp("csv_lake")
    (root / "data").mkdir()
    _bundled_csv(root / "prices.csv")
    with module_lake(root, SMALL_PORTFOLIOS):
        assert materialize_range(START, END, _csv_config(root / "prices.csv")).success
    return root / "data"


def test_changing_day_t_changes_no_estimate_dated_t_or_earlier(good_lake, data_dir, tmp_path):
    csv = tmp_path / "prices.csv"
    frame = _bundled_csv(csv)
    copy_lake(good_lake, data_dir)  # the graph run on ``frame``: as materialize_range(START, END, _csv_config(csv))
    before = query(data_dir, "select * from var_estimates order by all")

    shocked_day = "2020-12-01"
    mask = (frame["date"] == shocked_day) & (frame["symbol"] == "AAPL")
    frame.loc[mask, "close"] = frame.loc[mask, "close"] * 0.7
    frame.to_csv(csv, index=False)
    materialize_range(START, END, _csv_config(csv))
    after = query(data_dir, "select * from var_estimates order by all")

    key = ["date", "portfolio", "method", "confidence", "horizon_days"]
    merged = before.merge(after, on=key, suffixes=("_before", "_after"))
    assert len(merged) == len(before) == len(after)
    upto = merged["date"] <= pd.Timestamp(shocked_day)
    pd.testing.assert_series_equal(
        merged.loc[upto, "var_before"], merged.loc[upto, "var_after"], check_names=False
    )
    later = merged.loc[(merged["date"] > pd.Timestamp(shocked_day)) & (merged["portfolio"] == "balanced")]
    assert (later["var_before"] != later["var_after"]).any()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.assign(close=f["close"].where(f.index != 5, -1.0)), "row"),
        (lambda f: f.assign(close=f["close"].where(f.index != 7, 0.0)), "row"),
        (lambda f: pd.concat([f, f.iloc[[3]]]), "duplicate"),
        (lambda f: f.assign(close=f["close"].astype(object).where(f.index != 2, "n/a")), "row"),
    ],
    ids=["negative", "zero", "duplicate-date", "unparsable-price"],
)
def test_bad_csv_input_fails_naming_the_problem_and_keeps_stored_rows(good_lake, data_dir, tmp_path, mutate, message):
    good = tmp_path / "good.csv"
    _bundled_csv(good)
    copy_lake(good_lake, data_dir)  # the graph run on ``good``
    stored = query(data_dir, "select * from prices order by all")

    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(good)
    mutate(frame).to_csv(bad, index=False)
    with pytest.raises(PriceDataError, match=message):
        materialize_range(START, END, _csv_config(bad))
    pd.testing.assert_frame_equal(stored, query(data_dir, "select * from prices order by all"))


def test_a_portfolio_symbol_the_source_lacks_is_named(data_dir, tmp_path):
    csv = tmp_path / "prices.csv"
    frame = _bundled_csv(csv)
    frame.loc[frame["symbol"] != "KO"].to_csv(csv, index=False)
    with pytest.raises(PriceDataError, match="KO"):
        materialize_range(START, END, _csv_config(csv))
    assert lake.stored_days("prices") == []


def test_an_unparsable_csv_names_the_file(data_dir, tmp_path):
    csv = tmp_path / "broken.csv"
    csv.write_text('date,symbol,close\n2020-09-01,AAPL,"12\n2020-09-02,AAPL,13,14,15\n')
    with pytest.raises(PriceDataError, match="broken.csv"):
        materialize_range(START, END, _csv_config(csv))
