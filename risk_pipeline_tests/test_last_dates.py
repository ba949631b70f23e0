"""A series that ends before the others (``prices.last_dates``): after its last date the symbol is not live,
so the blocking missing-days rule passes, later rows a source gives are dropped, and its book has no rows
while the other books go on, which ``positions_cover_the_books`` does not count as a book losing a day;
before it, a gap is still a gap. Bad settings are named in one line. On the whole graph (the shipped
nasdaq_index, across its end): no table, report or summary shows the book after its last day, by a
range's run or a day's."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from risk_pipeline.config import ConfigError
from risk_pipeline.config.last_dates import configured_last_dates
from risk_pipeline.definitions import defs
from risk_pipeline.defs.schedules import daily_risk_job
from risk_pipeline.instance import ephemeral_instance
from risk_pipeline.sources import quality
from risk_pipeline.storage.paths import REPO_ROOT
from risk_pipeline.storage.schemas import TABLES, table_schema
from risk_pipeline_tests.pipeline_helpers import (
    ALL_ASSETS, fast_run_config, materialize_range, module_lake, query, shipped_portfolios,
)

END_OF_B = dt.date(2018, 12, 31)


def _frame(days: pd.DatetimeIndex, ends: dict[str, str]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"date": days[days <= ends.get(s, days[-1])], "symbol": s, "close": 1.0})
                      for s in ("A", "B", "C")], ignore_index=True)


def test_missing_days_stop_at_a_symbols_last_date():
    days = pd.bdate_range("2018-12-20", "2019-01-08")
    asked = [d.date() for d in days]
    ended = _frame(days, {"B": "2018-12-31"})
    assert set(quality.missing_days(ended, asked, 0.5)["symbol"]) == {"B"}  # without the rule: a gap every day after
    assert quality.missing_days(ended, asked, 0.5, {"B": END_OF_B}).empty
    # a close missing on or before the last date is still a gap
    holed = ended.loc[~((ended["symbol"] == "B") & (ended["date"] == "2018-12-27"))]
    found = quality.missing_days(holed, asked, 0.5, {"B": END_OF_B})
    assert list(zip(found["date"].dt.date, found["symbol"])) == [(dt.date(2018, 12, 27), "B")]
    # a last date earlier than the series' end: a day after it with no close is not a gap either
    assert quality.missing_days(ended, asked, 0.5, {"B": dt.date(2018, 12, 28)}).empty


@pytest.fixture(scope="module")
def lake_run(tmp_path_factory):
    """A CSV whose symbol ENDED stops on 2018-12-31 while SP500 goes on, with one stray later row (a source
    giving a close after the date it ends on), and two books: ENDED alone, SP500 alone. Yields the data
    folder and the run's result (with the evaluation of ``positions_cover_the_books``)."""
    from risk_pipeline.defs.positions import positions_cover_the_books

    folder = tmp_path_factory.mktemp("last_dates")
    bundled = pd.read_parquet(REPO_ROOT / "data" / "bundled_prices.parquet")
    sp = bundled.loc[(bundled["symbol"] == "SP500") & bundled["date"].between("2018-09-01", "2019-01-31"),
                     ["date", "symbol", "close"]]
    ended = sp.loc[sp["date"] <= "2018-12-31"].assign(symbol="ENDED", close=lambda f: f["close"] / 2.0)
    stray = sp.loc[sp["date"] == "2019-01-15"].assign(symbol="ENDED")
    pd.concat([sp, ended, stray]).to_csv(folder / "prices.csv", index=False, date_format="%Y-%m-%d")
    (folder / "profile.yaml").write_text(f"prices:\n  source: csv\n  csv_path: {folder / 'prices.csv'}\n"
                                         f"  last_dates: [{{symbol: ENDED, date: 2018-12-31}}]\n")
    books = """portfolios:
  - {name: ended_book, base_currency: USD, notional: 1000000, positions: [{symbol: ENDED, weight: 1.0}]}
  - {name: index_book, base_currency: USD, notional: 1000000, positions: [{symbol: SP500, weight: 1.0}]}
"""
    names = {"prices", "returns", "fx_rates", "positions", "portfolio_pnl", "var_estimates"}
    assets = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= names]
    config = fast_run_config(estimation_window_days=20)
    config["ops"]["prices"]["config"].update(source="csv", csv_path=str(folder / "prices.csv"))
    with module_lake(folder, books) as mp:
        mp.setenv("RISK_PIPELINE_CONFIG", str(folder / "profile.yaml"))
        result = materialize_range("2018-10-01", "2019-01-31", run_config=config,
                                   assets=[*assets, positions_cover_the_books])
        assert result.success
        yield folder / "data", result


@pytest.fixture(scope="module")
def lake(lake_run):
    return lake_run[0]


def test_the_ended_symbol_and_its_book_have_no_rows_after_its_last_date(lake):
    prices = query(lake, "select symbol, max(date) as last, count(*) as n from prices group by symbol order by symbol")
    last = dict(zip(prices["symbol"], prices["last"].dt.date))
    assert last == {"ENDED": END_OF_B, "SP500": dt.date(2019, 1, 31)}  # the stray 2019-01-15 row dropped
    for table in ("portfolio_pnl", "var_estimates"):
        books = query(lake, f"select portfolio, max(date) as last from {table} group by portfolio")
        assert dict(zip(books["portfolio"], books["last"].dt.date)) == {"ended_book": END_OF_B,
                                                                          "index_book": dt.date(2019, 1, 31)}, table


def test_a_book_whose_symbol_ended_does_not_fail_the_coverage_check(lake_run):
    """ended_book held ENDED at the close of 2018-12-31 and nothing on 2019-01-02, as the series' end says:
    not a book that lost a day (the 30-year run's nasdaq_index after 2018-12-31 made the check fail)."""
    folder, result = lake_run
    held = query(folder, "select portfolio, max(date) as last from positions group by portfolio")
    assert dict(zip(held["portfolio"], held["last"].dt.date)) == {"ended_book": END_OF_B,
                                                                   "index_book": dt.date(2019, 1, 31)}
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "positions_cover_the_books"]
    assert check.passed and check.metadata["offending"].value == 0
    # without the last date the same rows are a book that lost a day
    trading = pd.DatetimeIndex(sorted(query(folder, "select distinct date from prices")["date"]))
    positions = query(folder, "select date, portfolio, symbol from positions")
    uncovered, _ = quality.uncovered_books(positions, trading, dt.date(2018, 10, 2))
    assert list(zip(uncovered["date"].dt.date, uncovered["portfolio"])) == [(dt.date(2019, 1, 2), "ended_book")]
    assert quality.uncovered_books(positions, trading, dt.date(2018, 10, 2), {"ENDED": END_OF_B})[0].empty


def test_a_bad_last_date_is_named(tmp_path, monkeypatch):
    for i, (setting, message) in enumerate((
            ("[{symbol: NASDAQ, date: 2018-13-01}]", r"entry 1: field 'date': '2018-13-01' is not a date"),
            ("[{symbol: NASDAQ}]", r"entry 1: field 'date': missing"),
            ("{NASDAQ: 2018-12-31}", r"field 'last_dates': must be a list of \{symbol, date\}"))):
        profile = tmp_path / f"profile{i}.yaml"  # settings are read once per file
        profile.write_text(f"prices:\n  last_dates: {setting}\n")
        monkeypatch.setenv("RISK_PIPELINE_CONFIG", str(profile))
        with pytest.raises(ConfigError, match=rf"profile{i}.yaml, section 'prices', field 'last_dates'.*{message}"
                           if "must be" not in message else message):
            configured_last_dates()


def test_the_shipped_nasdaq_is_archs_and_ends_on_its_declared_last_date(monkeypatch):
    """The bundled NASDAQ rows are arch's NASDAQ Composite closes, on the bundled trading days of 1999-2018,
    and the shipped settings end the symbol on its last close."""
    from arch.data import nasdaq

    monkeypatch.delenv("RISK_PIPELINE_CONFIG", raising=False)  # the shipped settings
    bundled = pd.read_parquet(REPO_ROOT / "data" / "bundled_prices.parquet")
    ours = bundled.loc[bundled["symbol"] == "NASDAQ"].set_index("date")["close"]
    theirs = nasdaq.load()["Adj Close"]
    assert list(ours.index) == list(theirs.index)
    assert (ours.to_numpy() == theirs.to_numpy()).all()
    index_days = bundled.loc[(bundled["symbol"] == "SP500") & bundled["date"].between(ours.index[0], ours.index[-1]),
                             "date"]
    assert list(index_days) == list(ours.index)  # no missing day while it is live
    assert configured_last_dates() == {"NASDAQ": ours.index[-1].date()} == {"NASDAQ": END_OF_B}


# the whole graph on the shipped books, whose nasdaq_index holds NASDAQ alone (it ends on END_OF_B), over a
# range across its end; windows short enough for the range to give estimates, backtests, scores and limits
GRAPH_CONFIG = fast_run_config(estimation_window_days=10)
GRAPH_CONFIG["ops"]["limit_status"] = {"config": {"estimation_window_days": 10}}
ENDED_BOOK = "nasdaq_index"
AFTER_THE_END = ("2019-01-02", "2019-01-31")


def _book_tables() -> dict[str, tuple[str, str]]:
    """Every table with a book column: its book column and its day column."""
    found = {}
    for table in TABLES:
        spec = table_schema(table)
        book = next((c for c in ("portfolio", "book") if c in spec.columns), None)
        if book is not None:
            found[table] = (book, spec.day_column)
    return found


@pytest.fixture(scope="module")
def graph_lake(tmp_path_factory):
    """The whole graph over 2018-11-01..2019-01-31 on the shipped portfolios and settings (NASDAQ ends on
    2018-12-31), then the daily job on two days after the end, in the same lake."""
    root = tmp_path_factory.mktemp("ended_book")
    (root / "data").mkdir()
    with module_lake(root, shipped_portfolios()) as mp:
        mp.delenv("RISK_PIPELINE_CONFIG", raising=False)  # the shipped settings, their last_dates
        assert materialize_range("2018-11-01", "2019-01-31", GRAPH_CONFIG).success
        ranged = {table: query(root / "data", f"select * from {table} order by all") for table in ("var_scores",)}
        with ephemeral_instance() as instance:
            for day in AFTER_THE_END:  # as the schedule launches it: every asset and check of the day
                result = defs.resolve_job_def(daily_risk_job.name).execute_in_process(
                    partition_key=day, run_config=GRAPH_CONFIG, instance=instance, raise_on_error=False)
                assert result.success, f"{day}: failed steps {[e.step_key for e in result.all_events if e.is_step_failure]}"
                written = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
                assert written == {k.to_user_string() for a in ALL_ASSETS for k in a.keys}, day
        yield root / "data", ranged


def test_an_ended_book_has_no_row_after_its_last_day_in_any_table(graph_lake):
    """nasdaq_index has no row after 2018-12-31 in any table, by the range's run and by the days' runs after
    it: var_scores' trailing windows still held its scores (the 30-year lake of make run held 79,616 such
    rows, up to 2022-12-16); its history up to its end stays, in the validation tables as in var_estimates."""
    lake, _ = graph_lake
    for table, (book, day) in _book_tables().items():
        last = query(lake, f"select max({day}) as last, count(*) as n from {table} where {book} = '{ENDED_BOOK}'")
        assert pd.isna(last["last"][0]) or last["last"][0].date() <= END_OF_B, table
    for table, day in (("var_estimates", "date"), ("var_backtests", "as_of"), ("forecast_scores", "date"),
                       ("var_scores", "as_of"), ("risk_summary", "date"), ("limit_status", "date")):
        last = query(lake, f"select max({day}) as last from {table} where portfolio = '{ENDED_BOOK}'")["last"][0]
        assert last.date() == END_OF_B, table  # up to its last day
        books = query(lake, f"select distinct portfolio from {table} where {day} = '2019-01-31'")["portfolio"]
        assert len(books) and ENDED_BOOK not in set(books), table  # the others go on
    # its MCS as of its last day (a month-end), as the other books'
    mcs = query(lake, "select distinct portfolio from var_scores where as_of = '2018-12-31' and mcs_computed")
    assert ENDED_BOOK in set(mcs["portfolio"])


def test_a_days_run_after_the_end_equals_the_ranges(graph_lake):
    """The days' runs after the end rewrote their var_scores rows: the same books as the range's run (the MCS,
    computed as of a run's last day, aside), no nasdaq_index."""
    lake, ranged = graph_lake
    after = query(lake, "select * from var_scores order by all")
    keys = ["as_of", "portfolio", "method", "confidence", "horizon_days", "backtest_window_days", "n_obs",
            "mean_tick_loss", "mean_fz0_loss"]
    for day in AFTER_THE_END:
        mine = after.loc[after["as_of"].eq(day), keys].reset_index(drop=True)
        theirs = ranged["var_scores"].loc[ranged["var_scores"]["as_of"].eq(day), keys].reset_index(drop=True)
        assert len(mine) and ENDED_BOOK not in set(mine["portfolio"]), day
        pd.testing.assert_frame_equal(mine, theirs)


def test_the_report_and_the_summary_do_not_show_the_ended_book(graph_lake, capsys):
    """The report as of 2019-01-31 and the summary show the books held that day: not nasdaq_index's
    statistics, P&L or scores of 2018 (the 30-year report showed its 'last 5y' ending 2018-12-31); the
    summary names it once, with its last day, instead of its VaR, verdicts and MCS as of old days."""
    from risk_pipeline.cli import main

    lake, _ = graph_lake
    folder = lake / "reports" / AFTER_THE_END[-1]
    for name in ("statistics.csv", "pnl_vs_var.csv", "scores.csv", "backtests.csv", "latest_var.csv"):
        shown = pd.read_csv(folder / name)
        assert len(shown) and ENDED_BOOK not in set(shown["portfolio"]), name
    assert ENDED_BOOK not in (folder / "risk_report.html").read_text()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISK_PIPELINE_DATA", str(lake))
        mp.delenv("RISK_PIPELINE_CONFIG", raising=False)
        capsys.readouterr()
        assert main(["summary"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if ENDED_BOOK in line]
    assert lines == [f"Not shown, no VaR on the latest day: {ENDED_BOOK} (last 2018-12-31)"]
