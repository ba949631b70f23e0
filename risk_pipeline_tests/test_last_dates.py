"""A series that ends before the others (``prices.last_dates``): after its last date the symbol is not live,
so the blocking missing-days rule passes, later rows a source gives are dropped, and its book has no rows
while the other books go on, which ``positions_cover_the_books`` does not count as a book losing a day;
before it, a gap is still a gap. Bad settings are named in one line."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from risk_pipeline.config import ConfigError
from risk_pipeline.config.last_dates import configured_last_dates
from risk_pipeline.sources import quality
from risk_pipeline.storage.paths import REPO_ROOT
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, fast_run_config, materialize_range, module_lake, query

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
