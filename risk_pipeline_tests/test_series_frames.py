"""One frame per task from the series' arrays (``with_series_keys``): the rows a frame per series gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

from risk_pipeline.defs.backtests import SERIES_KEYS, _joined, with_series_keys
from risk_pipeline.risk.backtests.scoring import forecast_score_columns, score_forecasts
from risk_pipeline.risk.backtests.table import CODED_COLUMNS, backtest_columns, backtest_table
from risk_pipeline.storage.lake import to_arrow
from risk_pipeline.storage.schemas import table_schema


def _series(seed: int, n: int = 400, conf: float = 0.95):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2020-01-02", periods=n)
    returns = pd.Series(rng.standard_t(4, n) * 0.01, index=days)
    sigma = returns.rolling(40).std().shift(1).to_numpy() * rng.uniform(0.7, 1.1)
    forecasts = pd.DataFrame({"var": 1.65 * sigma, "es": 2.06 * sigma, "var_amount": 1e6 * 1.65 * sigma,
                              "es_amount": 1e6 * 2.06 * sigma}, index=days)
    return returns, forecasts


def _by_series_frames(frames: list[pd.DataFrame], keys: list[tuple], day: str) -> pd.DataFrame:
    """The frame of the rows the way a frame per series was concatenated before: keys added, stable sort by day."""
    frame = pd.concat([f.assign(**dict(zip(SERIES_KEYS, k))) for f, k in zip(frames, keys)], ignore_index=True)
    return frame.sort_values(day, kind="stable", ignore_index=True)


def _same_rows(table: str, got: pd.DataFrame, expected: pd.DataFrame) -> None:
    spec = table_schema(table)
    assert to_arrow(got, spec).equals(to_arrow(expected, spec))  # the stored rows, in the stored order
    assert_frame_equal(got[spec.columns], expected[spec.columns], check_exact=True, check_dtype=False)
    strings = [c for c in spec.columns if expected[c].dtype == "str"]  # pandas' own string columns, as a frame per series
    assert strings and [got[c].dtype for c in strings] == [expected[c].dtype for c in strings]


def test_backtests_of_many_series_in_one_frame_are_the_rows_of_one_frame_each():
    keys = [("a", "historical", 0.95, 1), ("a", "historical", 0.99, 10), ("b", "normal", 0.95, 1)]
    series = [_series(seed) for seed in range(len(keys))]
    as_of = series[0][0].index[-30:]
    kwargs = [dict(confidence=k[2], horizon_days=k[3], as_of=as_of, windows=[100, 250], n_sims=50,
                   day_number_offset=7) for k in keys]
    parts = [backtest_columns(r, f, **kw) for (r, f), kw in zip(series, kwargs)]
    frames = [backtest_table(r, f, **kw) for (r, f), kw in zip(series, kwargs)]
    got = with_series_keys(parts, keys, "var_backtests", coded=CODED_COLUMNS)
    assert parts == []  # emptied: the rows are held once
    assert len(got) == 3 * 30 * 2
    _same_rows("var_backtests", got, _by_series_frames(frames, keys, "as_of"))


def test_forecast_scores_of_many_series_in_one_frame_are_the_rows_of_one_frame_each():
    keys = [("a", "historical", 0.95, 1), ("a", "historical", 0.95, 10), ("opt", "full", 0.99, 1)]
    series = [_series(seed) for seed in range(len(keys))]
    kwargs = [dict(confidence=k[2], horizon_days=k[3], day_number_offset=3, amounts=k[0] == "opt") for k in keys]
    parts = [forecast_score_columns(r, f, **kw) for (r, f), kw in zip(series, kwargs)]
    frames = [score_forecasts(r, f, **kw) for (r, f), kw in zip(series, kwargs)]
    got = with_series_keys(parts, keys, "forecast_scores")
    assert set(got["score_basis"]) == {"fraction", "amount"}
    _same_rows("forecast_scores", got, _by_series_frames(frames, keys, "date"))


def test_the_latest_verdicts_table_is_tabulates_markdown_of_the_latest_rows():
    """The metadata's table skips tabulate's number parsing of the name columns: the same Markdown, names with
    digits ("ust10y") left-aligned as text, the numbers right-aligned on their decimal point."""
    from risk_pipeline.defs.backtests import _VERDICT_COLUMNS, _verdicts

    keys = [("ust10y", "historical", 0.95, 1), ("eur_ust10y", "normal", 0.99, 10)]
    series = [_series(seed) for seed in range(len(keys))]
    as_of = series[0][0].index[-3:]
    parts = [backtest_columns(r, f, confidence=k[2], horizon_days=k[3], as_of=as_of, windows=[100, 250], n_sims=50)
             for (r, f), k in zip(series, keys)]
    rows = with_series_keys(parts, keys, "var_backtests", coded=CODED_COLUMNS)
    latest = rows.loc[rows["as_of"] == rows["as_of"].max(), _VERDICT_COLUMNS]
    text = _verdicts(rows)["latest_verdicts"].value
    assert text == latest.to_markdown(index=False, floatfmt=".4g")
    assert text.count("\n") == 1 + 2 * 2 and "| ust10y " in text


def test_columns_joined_in_one_buffer_are_each_their_own_array():
    """_joined writes each column's parts into one reused buffer: what it returns equals np.concatenate's
    (dtype and values, every kind of column the tables hold), and a column taken from it in row order is not
    overwritten by the next column joined."""
    parts = [
        [np.arange(5), np.arange(3)],
        [np.array([1.5, np.nan]), np.arange(2)],  # mixed: float64, as np.concatenate gives
        [np.array(["2020-01-02", "2020-01-03"], "M8[ns]")] * 3,
        [np.array([True, False]), np.array([True])],
        [np.array([1, 2], np.int8)],
        [np.array(["a", "bcd"]), np.array(["ef"])],
        [np.array(["x", None], object)],  # objects: concatenated as before
    ]
    buffer, taken = np.empty(0, np.uint8), []
    for arrays in parts:
        joined, buffer = _joined(arrays, buffer)
        expected = np.concatenate(arrays)
        assert joined.dtype == expected.dtype and np.array_equal(joined, expected, equal_nan=expected.dtype.kind == "f")
        taken.append((joined[np.arange(joined.size)], expected))  # as with_series_keys takes a column in order
    assert buffer.size == max(np.concatenate(a).nbytes for a in parts if np.concatenate(a).dtype != object)
    for got, expected in taken:  # each still its own values after the later joins
        assert np.array_equal(got, expected, equal_nan=expected.dtype.kind == "f")
