"""var_estimates in tasks of a chunk of books times a block of calendar years (the ``compute`` resource's
``years_per_task``): the rows of every method, book and day are those of one task of the range, to the last
bit, inline and on a Dask LocalCluster of 2 worker processes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from distributed import get_task_stream

from risk_pipeline.compute import Compute, close_clients, dask_client
from risk_pipeline.config.portfolios import Portfolio, Position, load_portfolios
from risk_pipeline.defs.var import OptionBooksTask, VarTask, var_tasks
from risk_pipeline.storage import lake
from risk_pipeline_tests.pipeline_helpers import (ALL_ASSETS, fast_run_config, materialize_range,
                                                  shipped_portfolios)

START, END = "2019-10-01", "2021-01-29"  # three calendar years: blocks of 2019, 2020 and 2021
METHODS = ["historical", "parametric_normal", "parametric_t", "cornish_fisher", "ewma", "filtered_historical",
           "conditional_evt", "monte_carlo"]
OPTION_METHODS = ["full_revaluation", "delta_gamma_vega", "delta_only"]
UPSTREAM = {"prices", "returns", "fx_rates", "positions", "trades", "portfolio_pnl"}


def _assets(names: set[str]) -> list:
    return [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= names]


def _var_estimates(compute: dict) -> pd.DataFrame:
    config = fast_run_config(methods=METHODS, horizons=[1, 3], monte_carlo_estimation_window_days=30,
                             evt_estimation_window_days=60, evt_exceedances=8, n_scenarios=200,
                             options={"estimation_window_days": 40, "horizons": [1]})
    config["ops"].pop("prices")
    config["resources"] = {"compute": {"config": compute}}
    assert materialize_range(START, END, run_config=config, assets=_assets({"var_estimates"})).success
    frame = lake.read_range("var_estimates").to_pandas()
    return frame.sort_values(["portfolio", "date", "method", "confidence", "horizon_days"], ignore_index=True)


def test_blocks_are_calendar_years_counted_from_the_first_day():
    days = [d.date() for d in pd.bdate_range("2019-12-30", "2022-01-04")]
    blocks = Compute(years_per_task=2).blocks(days)
    assert [(b[0], b[-1]) for b in blocks] == [(dt.date(2019, 12, 30), dt.date(2020, 12, 31)),
                                              (dt.date(2021, 1, 1), dt.date(2022, 1, 4))]
    assert sum(blocks, []) == days and Compute().blocks(days) == [days]
    with pytest.raises(ValueError, match="years_per_task=0"):
        Compute(years_per_task=0).blocks(days)


def test_every_book_method_and_day_is_in_exactly_one_task():
    days = [d.date() for d in pd.bdate_range(START, END)]
    books = [Portfolio(name, "USD", (Position("AAPL", quantity=1.0),)) for name in ("a", "b", "c")]
    option = OptionBooksTask(None, 20, (0.99,), (1,))
    items = [*books, "record", option]
    planned = var_tasks(Compute(books_per_task=2, years_per_task=1), items, days, METHODS)
    assert [chunk for chunk, _ in planned] == [books[:2], [books[2], "record"], [option]]
    covered = {}
    for _, tasks in planned:
        for task in tasks:
            for item in task.chunk:
                for method in task.methods or METHODS:
                    for day in task.days:
                        covered[(getattr(item, "name", item), method, day)] = \
                            covered.get((getattr(item, "name", item), method, day), 0) + 1
    names = ["a", "b", "c", "record", option.__class__.__name__]
    assert set(covered.values()) == {1}
    assert len(covered) == (len(names) - 1) * len(METHODS) * len(days) + len(METHODS) * len(days)
    # the portfolios' methods of a window in a task per year; monte_carlo, the books of record and the option
    # books in one task of the range (their last bits depend on the first day read)
    first = planned[0][1]
    assert [(t.days[0].year, t.days[-1].year, t.methods) for t in first] == [
        (2019, 2019, tuple(METHODS[:-1])), (2020, 2020, tuple(METHODS[:-1])), (2021, 2021, tuple(METHODS[:-1])),
        (2019, 2021, ("monte_carlo",))]
    assert [t.short for t in first] == [False, False, False, True]
    assert [(t.chunk, t.days, t.methods) for t in planned[1][1][-1:]] == [(["record"], days, None)]
    # one block: one task of every chunk, as without years_per_task
    assert var_tasks(Compute(books_per_task=2, years_per_task=5), items, days, METHODS) == \
        var_tasks(Compute(books_per_task=2), items, days, METHODS) == [(c, [VarTask(c, days)]) for c, _ in planned]


def test_var_estimates_in_blocks_of_one_year_are_the_rows_of_the_range_inline_and_on_two_dask_workers(data_dir):
    (data_dir.parent / "portfolios.yaml").write_text(shipped_portfolios())  # weight, quantity and record books
    prices = {"ops": {"prices": fast_run_config()["ops"]["prices"]}}
    assert materialize_range(START, END, run_config=prices, assets=_assets(UPSTREAM)).success

    whole = _var_estimates({"books_per_task": 4})
    years = {day.year for day in whole["date"]}
    # every method of the books, and the option books' (one task of the range)
    assert years == {2019, 2020, 2021} and set(whole["method"]) == {*METHODS, *OPTION_METHODS}
    assert whole["portfolio"].nunique() >= 8 and whole["var_amount"].notna().all()
    by_year = _var_estimates({"books_per_task": 4, "years_per_task": 1})
    pd.testing.assert_frame_equal(by_year, whole, check_exact=True)

    try:
        with get_task_stream(dask_client(None, 2)) as stream:
            on_dask = _var_estimates({"engine": "dask", "workers": 2, "books_per_task": 8, "years_per_task": 2})
        tasks = stream.data
    finally:
        close_clients()
    # the 10 portfolios and 2 books of record in chunks of 8 (2 of 6): per chunk a task of the portfolios per
    # block (2019-2020, 2021) and one of their monte_carlo, and one of the books of record; and the option
    # books' own task: 3 + 4 + 1 tasks
    assert len(load_portfolios()) == 10
    assert len({task["worker"] for task in tasks}) == 2 and len(tasks) == 8
    pd.testing.assert_frame_equal(on_dask, whole, check_exact=True)


def test_the_option_books_are_a_task_of_their_own_after_the_chunks():
    """var_estimates' option books (the heaviest task, handed out first) are not bundled with a chunk of
    portfolios: their own chunk and one task of the range, with or without blocks of years."""
    days = [d.date() for d in pd.bdate_range(START, END)]
    books = [Portfolio(name, "USD", (Position("AAPL", quantity=1.0),)) for name in ("a", "b", "c")]
    option = OptionBooksTask(None, 20, (0.99,), (1,))
    for compute in (Compute(books_per_task=2), Compute(books_per_task=2, years_per_task=1)):
        planned = var_tasks(compute, [*books, "record"], days, METHODS, option)
        assert [chunk for chunk, _ in planned] == [books[:2], [books[2], "record"], [option]]
        assert planned[-1][1] == [VarTask([option], days)]
        assert planned[:-1] == var_tasks(compute, [*books, "record"], days, METHODS)
