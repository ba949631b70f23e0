"""Data-quality rules (risk_pipeline.sources.quality) and the Dagster asset checks built on them.

Each rule is made to fail on a planted defect and to pass on clean data; the checks run inside
real Dagster runs: an ERROR blocks the assets downstream, a WARN is shown and the run goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from risk_pipeline.config.last_dates import configured_last_dates
from risk_pipeline.sources import quality
from risk_pipeline.defs import market_data_checks as checks
from risk_pipeline.defs.quality_rules import Finding
from risk_pipeline.definitions import defs
from risk_pipeline.config.portfolios import Portfolio, Position
from risk_pipeline.sources import BundledSource
from risk_pipeline.storage.lake import write_days
from risk_pipeline_tests.pipeline_helpers import fast_run_config, materialize_range

GRAPH = list(defs.assets) + list(defs.asset_checks)


def _long(wide: pd.DataFrame, column: str = "close") -> pd.DataFrame:
    frame = wide.rename_axis(index="date", columns="symbol").stack().rename(column).reset_index()
    frame["currency"] = "USD"
    return frame


def _days(index) -> list[dt.date]:
    return [d.date() for d in index]


# ---------------------------------------------------------------- pure rules


def test_non_positive_prices_flags_zero_negative_and_nan():
    dates = pd.bdate_range("2024-01-01", periods=3)
    frame = _long(pd.DataFrame({"A": [1.0, 0.0, 2.0], "B": [3.0, -1.0, np.nan]}, index=dates).fillna(-0.0))
    frame.loc[(frame["symbol"] == "B") & (frame["date"] == dates[2]), "close"] = np.nan
    found = quality.non_positive_prices(frame)
    assert list(zip(found["date"], found["symbol"])) == [(dates[1], "A"), (dates[1], "B"), (dates[2], "B")]
    assert quality.non_positive_prices(frame.loc[frame["close"] > 0]).empty


def test_missing_days_flags_a_live_symbol_absent_on_a_trading_day_only():
    dates = pd.bdate_range("2024-01-01", periods=6)
    wide = pd.DataFrame(
        {
            "A": [1, 2, 3, np.nan, 5, 6],       # gap on day 3
            "B": [1, 2, 3, 4, 5, 6],
            "C": [np.nan, np.nan, np.nan, 4, 5, np.nan],  # lists on day 3, gap on day 5
            "D": [1, 2, 3, 4, 5, 6],
        },
        index=dates,
        dtype=float,
    )
    # day 2: only B trades (a half-holiday): coverage 1/3 < 0.5 is not a gap of A and D
    wide.iloc[2, [0, 3]] = np.nan
    frame = _long(wide).dropna()
    found = quality.missing_days(frame, _days(dates), min_coverage=0.5)
    assert list(zip(found["date"], found["symbol"])) == [(dates[3], "A"), (dates[5], "C")]
    np.testing.assert_allclose(found["coverage"], [3 / 4, 3 / 4])
    # only the asked days are reported; the others serve as lookback
    assert quality.missing_days(frame, _days(dates[4:5]), 0.5).empty
    assert quality.missing_days(_long(wide.fillna(1.0)), _days(dates), 0.5).empty


def test_stale_prices_reports_runs_longer_than_the_limit_touching_the_days():
    dates = pd.bdate_range("2024-01-01", periods=20)
    a = np.arange(1.0, 21.0)
    a[3:10] = a[3]          # closes 3..9 equal: 6 unchanged days (4..9)
    b = np.arange(1.0, 21.0)
    b[12:18] = b[12]        # 5 unchanged days (13..17): within the limit
    frame = _long(pd.DataFrame({"A": a, "B": b}, index=dates))
    found = quality.stale_prices(frame, _days(dates), max_unchanged_days=5)
    assert found[["symbol", "first_date", "last_date", "unchanged_days"]].values.tolist() == [
        ["A", dates[4], dates[9], 6]
    ]
    assert quality.stale_prices(frame, _days(dates), max_unchanged_days=4)["symbol"].tolist() == ["A", "B"]
    # the run lies wholly in the lookback of a later day: not reported for that day
    assert quality.stale_prices(frame, _days(dates[15:16]), max_unchanged_days=5).empty
    with pytest.raises(quality.QualityInputError, match="max_unchanged_days"):
        quality.stale_prices(frame, _days(dates), max_unchanged_days=0)


def test_return_outliers_match_a_loop_over_previous_windows():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2023-01-02", periods=120)
    wide = pd.DataFrame(rng.normal(0, 0.01, (120, 3)), index=dates, columns=["A", "B", "C"])
    wide.iloc[90, 1] = 0.25     # a 25-sigma day
    wide.iloc[100, 2] = -0.08   # about 8 sigma
    returns = _long(wide, "simple_return")
    window, k = 40, 6.0
    found = quality.return_outliers(returns, _days(dates), window=window, max_sigmas=k)
    expected = []
    for j, symbol in enumerate(wide.columns):
        r = wide[symbol].to_numpy()
        for t in range(window // 2, len(r)):
            past = r[max(0, t - window):t]
            z = abs(r[t] - past.mean()) / past.std(ddof=1)
            if z > k:
                expected.append((dates[t], symbol, z))
    expected.sort()
    got = sorted(zip(found["date"], found["symbol"], found["sigmas"]))
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    assert {(dates[90], "B"), (dates[100], "C")} <= {g[:2] for g in got}
    np.testing.assert_allclose([g[2] for g in got], [e[2] for e in expected], rtol=1e-10)
    # a move out of a perfectly flat window is flagged (infinitely many sigmas)
    flat = _long(pd.DataFrame({"A": [0.0] * 30 + [0.001]}, index=pd.bdate_range("2024-01-01", periods=31)),
                 "simple_return")
    assert np.isinf(quality.return_outliers(flat, _days(flat["date"]), 20, 10.0)["sigmas"]).all()


def test_unpriced_positions_names_the_symbol_of_a_live_book():
    prices = _long(pd.DataFrame({"AAPL": [1.0], "MSFT": [2.0]}, index=pd.bdate_range("2024-01-01", periods=1)))
    live = Portfolio("live", "USD", (Position("AAPL", quantity=1), Position("KO", quantity=2)))
    later = Portfolio("later", "USD", (Position("MTUM", quantity=1),))
    priced = Portfolio("priced", "USD", (Position("MSFT", quantity=1),))
    found = quality.unpriced_positions([live, later, priced], prices)
    assert found.values.tolist() == [["live", "KO"]]


def test_fx_gaps_separates_pre_history_from_holes_in_the_rates():
    dates = pd.bdate_range("2024-01-01", periods=15)
    prices = _long(pd.DataFrame({"AAPL": np.arange(1.0, 16.0)}, index=dates))
    # USD per EUR fixings from day 2, none on days 6..12: days 12+ are more than 5 days stale
    fixed = dates[[2, 3, 4, 5, 13, 14]]
    rates = pd.DataFrame({"date": fixed, "currency": "USD", "rate": 1.1})
    book = Portfolio("eur_book", "EUR", (Position("AAPL", weight=1.0),), notional=1e6)
    found = quality.fx_gaps([book], prices, rates, max_staleness_days=5)
    before = found.loc[found["reason"] == quality.FX_BEFORE_FIRST_FIXING, "date"].tolist()
    holes = found.loc[found["reason"] == quality.FX_MISSING_RATE, "date"].tolist()
    assert before == list(dates[:2])
    # day 5 is a Monday... check against a direct calendar computation
    last_fix = [max((f for f in fixed if f <= d), default=None) for d in dates]
    expected = [d for d, f in zip(dates, last_fix) if f is not None and (d - f).days > 5]
    assert holes == expected and len(holes) > 0
    # a USD book of the same stock needs no FX at all
    usd = Portfolio("usd_book", "USD", (Position("AAPL", weight=1.0),), notional=1e6)
    assert quality.fx_gaps([usd], prices, rates, 5).empty



def _fx_universe(n_books: int, seed: int = 7):
    """Prices of 30 symbols in USD, GBP or JPY over 400 days with holes; books in USD, EUR or GBP
    sharing those symbols (some positions with their own currency); rates with holes."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("1998-06-01", periods=400)
    symbols = [f"S{i:02d}" for i in range(30)]
    quoted = dict(zip(symbols, rng.choice(["USD", "GBP", "JPY"], len(symbols))))
    prices = pd.DataFrame({"date": np.repeat(dates, len(symbols)), "symbol": np.tile(symbols, len(dates)),
                           "close": 1.0}).sample(frac=0.9, random_state=seed)
    prices["currency"] = prices["symbol"].map(quoted)
    fixings = pd.bdate_range("1999-01-04", dates[-1])
    rates = pd.DataFrame({"date": np.repeat(fixings, 3), "currency": np.tile(["USD", "GBP", "JPY"], len(fixings)),
                          "rate": 1.0}).sample(frac=0.9, random_state=seed)
    books = [Portfolio(f"b{i}", str(rng.choice(["USD", "EUR", "GBP"])), tuple(
        Position(str(s), weight=0.2, currency="JPY" if rng.random() < 0.2 else None)
        for s in rng.choice(symbols, 5, replace=False)), notional=1.0) for i in range(n_books)]
    return books, prices, rates


def test_fx_gaps_of_many_books_are_each_books_own_gaps():
    books, prices, rates = _fx_universe(40)
    together = quality.fx_gaps(books, prices, rates, max_staleness_days=3)
    one_by_one = pd.concat([quality.fx_gaps([book], prices, rates, 3) for book in books], ignore_index=True)
    assert set(together["reason"]) == {quality.FX_BEFORE_FIRST_FIXING, quality.FX_MISSING_RATE}
    pd.testing.assert_frame_equal(together, one_by_one)


def test_fx_gaps_reads_the_prices_once_whatever_the_number_of_books(monkeypatch):
    """The work grows with the price rows of the held symbols, not books x price rows (issue 23): the
    rule scanned every price row for each book before. Counted, not timed: the per-symbol scan
    (``_fx_gap_days``, the real one, spied on) sees each held symbol's dates once per currency pair,
    whether 2 books hold the symbols or 200 do."""
    dates = pd.bdate_range("2000-01-03", periods=2_000)
    symbols = [f"S{i:03d}" for i in range(100)]
    prices = pd.DataFrame({"date": np.repeat(dates, len(symbols)), "symbol": np.tile(symbols, len(dates)),
                           "close": 1.0, "currency": "USD"})
    rates = pd.DataFrame({"date": np.concatenate([dates, dates]), "currency": ["USD"] * len(dates) + ["GBP"] * len(dates),
                          "rate": 1.0})
    scanned: list[int] = []
    real = quality._fx_gap_days

    def spy(dates_of_symbol, *args):
        scanned.append(len(dates_of_symbol))
        return real(dates_of_symbol, *args)

    monkeypatch.setattr(quality, "_fx_gap_days", spy)

    def rows_scanned(n_books: int) -> int:
        # every book in GBP holds 10 USD stocks: each position is foreign, so each needs the rates
        books = [Portfolio(f"b{i}", "GBP", tuple(Position(symbols[(10 * i + j) % 100], weight=0.1) for j in range(10)),
                           notional=1.0) for i in range(n_books)]
        scanned.clear()
        assert quality.fx_gaps(books, prices, rates, 3).empty
        return sum(scanned)

    assert rows_scanned(10) == 100 * len(dates)  # the 100 symbols, each once
    assert rows_scanned(200) == 100 * len(dates)  # not 20 times as many for 20 times the books
    assert rows_scanned(2) == 20 * len(dates)


def test_shipped_data_passes_the_error_rules_and_the_warnings_are_the_known_ones():
    snapshot = BundledSource().fetch(None, dt.date(1990, 1, 2), dt.date(2022, 12, 28))
    days = _days(pd.DatetimeIndex(snapshot["date"].unique()))
    assert quality.non_positive_prices(snapshot).empty
    # the NASDAQ Composite ends on 2018-12-31: a gap every day after it, unless its last date is declared
    ended = quality.missing_days(snapshot, days, min_coverage=0.5)
    assert set(ended["symbol"]) == {"NASDAQ"} and ended["date"].min() == pd.Timestamp("2019-01-02")
    assert quality.missing_days(snapshot, days, min_coverage=0.5, last_dates=configured_last_dates()).empty
    stale = quality.stale_prices(snapshot, days, max_unchanged_days=5)
    # only RRC in 1990-1993 (thinly traded then): 22 flat runs, the longest its close frozen
    # at 3.322 for 68 days in early 1990 (then a 67% fall)
    assert set(stale["symbol"]) == {"RRC"} and len(stale) == 22
    assert stale["last_date"].max() < pd.Timestamp("1994-01-01")
    assert stale["unchanged_days"].max() == 68


# ---------------------------------------------------------------- checks in Dagster runs

START, END = "2021-02-01", "2021-03-31"


def _csv_config(path) -> dict:
    config = fast_run_config()
    config["ops"]["prices"]["config"].update({"source": "csv", "csv_path": str(path)})
    return config


def _bundled_csv(path, mutate=None) -> pd.DataFrame:
    frame = BundledSource().fetch(["AAPL", "JPM", "XOM", "MSFT", "KO", "SP500"], dt.date(2021, 1, 4),
                                  dt.date(2021, 3, 31))
    frame = mutate(frame) if mutate else frame
    frame.to_csv(path, index=False)
    return frame


def _evaluations(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _materialized(result) -> set[str]:
    return {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}


def test_an_error_check_blocks_everything_downstream(data_dir, tmp_path):
    # a stale close is a warning in pipeline.yaml, so the audit lets it be committed; this run makes
    # its check an error: it fails after the commit and stops every asset downstream of prices
    csv = tmp_path / "prices.csv"
    _bundled_csv(csv, lambda f: f.assign(close=f["close"].where(
        ~((f["symbol"] == "KO") & f["date"].between("2021-03-01", "2021-03-12")), 50.0)))
    config = _csv_config(csv)
    config["ops"]["prices_prices_not_stale"] = {"config": {"severity": "error"}}
    result = materialize_range(START, END, config, assets=GRAPH, raise_on_error=False)
    assert not result.success
    stale = _evaluations(result)["prices_not_stale"]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.ERROR
    assert stale.metadata["offending"].value == 1
    assert _materialized(result) == {"prices"}


@pytest.mark.parametrize("frozen_from, spike_day, fails", [
    ("2021-03-01", "2021-03-22", False),  # findings before the run's last day: reported, the checks pass
    ("2021-03-22", "2021-03-31", True),   # KO still frozen and AAPL's spike on the run's last day: warnings
])
def test_a_warning_fails_for_the_runs_last_day_only_and_the_run_goes_on(data_dir, tmp_path, frozen_from, spike_day,
                                                                        fails):
    csv = tmp_path / "prices.csv"
    frozen = pd.bdate_range(frozen_from, periods=10)

    def freeze_ko(frame):
        ko = (frame["symbol"] == "KO") & frame["date"].isin(frozen)
        frame.loc[ko, "close"] = 50.0
        spike = (frame["symbol"] == "AAPL") & (frame["date"] == spike_day)
        frame.loc[spike, "close"] *= 2.0
        return frame

    _bundled_csv(csv, freeze_ko)
    config = _csv_config(csv)
    # a 20-day band: the range is too short for the default 63
    config["ops"]["returns_returns_within_sigmas"] = {"config": {"window": 20}}
    result = materialize_range(START, END, config, assets=GRAPH)
    found = _evaluations(result)
    stale, outliers = found["prices_not_stale"], found["returns_within_sigmas"]
    assert stale.severity == outliers.severity == dg.AssetCheckSeverity.WARN
    assert stale.metadata["offending"].value == 1  # one run of 10 unchanged closes, over the 5 allowed
    assert "KO" in stale.metadata["preview"].value
    # AAPL doubles for a day: far beyond 10 sigmas of its previous 20 returns
    assert spike_day in outliers.metadata["preview"].value
    if fails:
        assert not stale.passed and not outliers.passed
        assert stale.metadata["failing"].value == 1 and outliers.metadata["failing"].value == 1
    else:
        assert stale.passed and outliers.passed
        assert stale.metadata["failing"].value == outliers.metadata["failing"].value == 0
        assert "reported, not failed (none on the run's last day 2021-03-31)" in stale.description
    for name in ("prices_positive", "prices_no_missing_days", "portfolio_symbols_priced", "fx_coverage"):
        assert found[name].passed, name
    assert {"var_estimates", "var_backtests"} <= _materialized(result)


def _run_checks_only(selection, partition_key: str):
    tags = {"dagster/asset_partition_range_start": partition_key, "dagster/asset_partition_range_end": partition_key}
    return dg.materialize(GRAPH, selection=selection, tags=tags, raise_on_error=False)


def test_non_positive_stored_price_fails_its_check(data_dir):
    day = dt.date(2021, 3, 1)
    frame = pd.DataFrame({"date": [pd.Timestamp(day)] * 2, "symbol": ["AAPL", "KO"], "close": [120.0, -1.0],
                          "currency": "USD", "source": "manual"})
    write_days("prices", frame, [day], keys=frame["symbol"])
    result = _run_checks_only(dg.AssetSelection.checks(checks.prices_positive), day.isoformat())
    evaluation = _evaluations(result)["prices_positive"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR


def test_portfolio_symbol_without_stored_prices_fails(data_dir):
    # the audit refuses such prices before a commit (test_audit.py); the check reports stored rows
    day = dt.date(2021, 3, 1)
    frame = pd.DataFrame({"date": [pd.Timestamp(day)] * 4, "symbol": ["AAPL", "JPM", "XOM", "MSFT"],
                          "close": [120.0, 150.0, 60.0, 230.0], "currency": "USD", "source": "manual"})
    write_days("prices", frame, [day], keys=frame["symbol"])
    result = _run_checks_only(dg.AssetSelection.checks(checks.portfolio_symbols_priced), day.isoformat())
    evaluation = _evaluations(result)["portfolio_symbols_priced"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "KO" in evaluation.metadata["preview"].value


def test_fx_coverage_reports_the_days_before_the_first_fixing(data_dir, tmp_path, monkeypatch):
    book = tmp_path / "eur.yaml"
    book.write_text("portfolios:\n  - name: eur_book\n    base_currency: EUR\n    notional: 1000000\n"
                    "    positions:\n      - {symbol: AAPL, weight: 1.0}\n")
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(book))
    result = dg.materialize(GRAPH, selection=dg.AssetSelection.assets("prices").without_checks()
                            | dg.AssetSelection.checks(checks.fx_coverage),
                            tags={"dagster/asset_partition_range_start": "1998-12-21",
                                  "dagster/asset_partition_range_end": "1999-01-08"},
                            run_config={"ops": {"prices": {"config": {"extra_symbols": []}}}}, raise_on_error=False)
    evaluation = _evaluations(result)["fx_coverage"]
    # no history before the euro existed is information (before_first_fixing_severity: info): it passes
    assert evaluation.passed and evaluation.metadata["failing"].value == 0
    # 1998-12-21..1998-12-31 are US trading days before the euro's first fixing (1999-01-04)
    assert evaluation.metadata["days_before_first_fixing"].value == 8
    assert "reported, not failed (severity info)" in evaluation.description


def test_a_bad_severity_is_an_error_naming_it():
    with pytest.raises(ValueError, match="severity"):
        Finding(pd.DataFrame(), "fatal", 0)


def test_the_returns_audit_of_chunks_of_symbols_finds_the_whole_table_s_offending_rows(data_dir, monkeypatch):
    """``returns``' tasks each audit their own symbols (``keys_only``): with ``returns_within_sigmas``
    made blocking, the offending rows of two chunks of symbols, put together (``chunks_failures``), are
    those of the audit of the whole table, in its order."""
    from risk_pipeline.defs.market_data import prices, returns
    from risk_pipeline.defs.quality_rules import RULES, OutlierConfig, audit_failures, chunks_failures
    from risk_pipeline.storage.lake import read_range

    config = {"ops": {"prices": fast_run_config()["ops"]["prices"]}}
    assert materialize_range("2020-01-02", END, config, assets=[prices, returns]).success
    rule = RULES["returns_within_sigmas"]
    strict = dataclasses.replace(rule, config=lambda: OutlierConfig(severity="error", window=20, max_sigmas=2.0))
    monkeypatch.setitem(RULES, "returns_within_sigmas", strict)
    days = [d.date() for d in pd.bdate_range(START, END)]
    staged = read_range("returns", days[0], days[-1]).to_pandas()
    staged["date"] = pd.to_datetime(staged["date"])
    symbols = sorted(staged["symbol"].unique())
    whole = audit_failures("returns", staged, days, symbols)["returns_within_sigmas"]
    halves = [symbols[:3], symbols[3:]]
    chunks = [audit_failures("returns", staged.loc[staged["symbol"].isin(half)], days, half, keys_only=True)
              for half in halves]
    assert len(whole) > 1 and all(set(whole["symbol"]) & set(half) for half in halves)  # both chunks find some
    pd.testing.assert_frame_equal(chunks_failures(chunks)["returns_within_sigmas"], whole, check_exact=True)


def _calendars_apart() -> pd.DataFrame:
    """Closes of six symbols over 120 weekdays, two of them on a calendar of their own (``M1`` has no
    price on every fifth weekday, ``M2`` none on every seventh), with a planted non-positive close, stale
    runs, return spikes and a missing day in symbols of both halves of the alphabet."""
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2021-01-04", periods=120)
    wide = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (120, 6)), axis=0)), index=dates,
                        columns=["A", "B", "C", "M1", "M2", "Z"])
    wide.iloc[70:80, 1] = wide.iloc[70, 1]   # B: 9 unchanged days
    wide.iloc[40:48, 5] = wide.iloc[40, 5]   # Z: 7 unchanged days
    wide.iloc[90, 0] *= 1.4                  # spikes: A, M1, Z
    wide.iloc[96, 3] *= 0.7
    wide.iloc[101, 5] *= 1.5
    wide.iloc[60, 2], wide.iloc[66, 4] = -1.0, 0.0  # non-positive: C, M2
    frame = _long(wide)
    off = (frame["symbol"].eq("M1") & (frame["date"].dt.dayofyear % 5 == 0)) \
        | (frame["symbol"].eq("M2") & (frame["date"].dt.dayofyear % 7 == 0)) \
        | (frame["symbol"].eq("A") & frame["date"].eq(dates[50]))  # and A one day
    return frame.loc[~off].assign(source="test").reset_index(drop=True)


def test_return_outliers_of_some_symbols_given_every_symbol_s_dates_are_those_of_the_whole_frame():
    """A rolling window counts rows of dates: the returns of a chunk of symbols judged alone (a task of the
    asset check) need the dates of every symbol's rows (``dates``); without them a symbol of its own
    calendar, missing on days the others trade, gets other windows and other sigmas."""
    closes = _calendars_apart()
    returns = closes.assign(simple_return=closes.groupby("symbol")["close"].pct_change()).dropna()
    days = _days(pd.DatetimeIndex(returns["date"].unique()))
    whole = quality.return_outliers(returns, days, window=20, max_sigmas=3.0)
    for chunk in (["A", "B", "C"], ["M1", "M2", "Z"]):
        alone = returns.loc[returns["symbol"].isin(chunk)]
        expected = whole.loc[whole["symbol"].isin(chunk)].reset_index(drop=True)
        got = quality.return_outliers(alone, days, 20, 3.0, dates=pd.DatetimeIndex(returns["date"].unique()))
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    m1 = returns.loc[returns["symbol"].eq("M1")]  # its own dates only: not the whole frame's sigmas
    own = quality.return_outliers(m1, days, 20, 3.0).set_index("date")["sigmas"]
    assert not own.equals(whole.loc[whole["symbol"].eq("M1")].set_index("date")["sigmas"])


def test_the_per_symbol_checks_on_two_dask_workers_find_what_they_find_on_the_whole_table(data_dir, tmp_path,
                                                                                          monkeypatch):
    """``prices_positive``, ``prices_not_stale``, ``returns_within_sigmas``, ``fx_coverage`` and
    ``portfolio_symbols_priced`` judge each symbol on its own rows, ``prices_no_missing_days`` a day's
    coverage of every symbol: on the dask
    engine the asset check evaluates them in a task of symbols per worker (``stored_findings``, the last
    from each task's matrix of dates x symbols priced); what the tasks find, put together, is the finding
    of the rule on the whole stored window: the same offending rows in the same order (fx_coverage's in
    the order of the books and their positions, which the tasks of symbols interleave), the rows
    checked as many."""
    from risk_pipeline.compute import Compute, close_clients
    from risk_pipeline.defs.quality_rules import (
        FxCoverageConfig, MissingDaysConfig, NonPositiveConfig, OutlierConfig, StaleConfig, UnpricedConfig,
        stored_findings,
    )
    from risk_pipeline.risk.returns import close_to_close_returns

    books = tmp_path / "books.yaml"  # B, M2 and Z quoted in a currency without any rate: a gap every day
    books.write_text("portfolios:\n"
                     "  - {name: eur_book, base_currency: EUR, notional: 1000000, positions: "
                     "[{symbol: Z, weight: 0.5}, {symbol: A, weight: 0.25}, {symbol: B, weight: 0.25}]}\n"
                     "  - {name: usd_book, base_currency: USD, notional: 1000000, positions: "
                     "[{symbol: M2, weight: 0.5}, {symbol: B, weight: 0.5}]}\n"
                     "  - {name: unpriced_book, base_currency: USD, notional: 1000000, positions: "
                     "[{symbol: A, weight: 0.4}, {symbol: NOPE, weight: 0.3}, {symbol: Z, weight: 0.3}]}\n")
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(books))
    closes = _calendars_apart()
    closes.loc[closes["symbol"].isin(["B", "M2", "Z"]), "currency"] = "XTS"
    days = _days(pd.DatetimeIndex(closes["date"].unique()))
    write_days("prices", closes, days, keys=closes["symbol"].unique())
    returns = close_to_close_returns(closes.loc[closes["close"] > 0], max_gap_days=10)
    write_days("returns", returns, days, keys=returns["symbol"].unique())
    start, end, checked_days = days[30], days[-1], days[30:]
    configs = {"prices_positive": NonPositiveConfig(), "prices_not_stale": StaleConfig(max_unchanged_days=5),
               "returns_within_sigmas": OutlierConfig(window=20, max_sigmas=3.0), "fx_coverage": FxCoverageConfig(),
               "prices_no_missing_days": MissingDaysConfig(min_coverage=0.5),
               "portfolio_symbols_priced": UnpricedConfig()}
    try:
        on_dask = Compute(engine="dask", workers=2)
        for name, config in configs.items():
            whole = stored_findings(name, config, start, end, checked_days)
            tasks = stored_findings(name, config, start, end, checked_days, on_dask)
            if name == "portfolio_symbols_priced":  # the one held symbol without a price, of the third book
                assert whole.offending.values.tolist() == [["unpriced_book", "NOPE"]]
            else:  # offending rows of symbols of both tasks
                found = set(whole.offending["symbol"])
                assert len(whole.offending) >= 2 and {"A", "B", "C"} & found and {"M1", "M2", "Z"} & found, name
            pd.testing.assert_frame_equal(tasks.offending, whole.offending, check_exact=True, obj=name)
            assert (tasks.checked, tasks.severity, tasks.extra, tasks.description) \
                == (whole.checked, whole.severity, whole.extra, whole.description)
        gaps = stored_findings("fx_coverage", configs["fx_coverage"], start, end, checked_days).offending
        assert list(dict.fromkeys(zip(gaps["portfolio"], gaps["symbol"]))) == [
            ("eur_book", "Z"), ("eur_book", "B"), ("usd_book", "M2"), ("usd_book", "B"), ("unpriced_book", "Z")]
    finally:
        close_clients()


def test_the_checks_of_one_window_of_prices_on_the_engine_list_its_symbols_once(data_dir, monkeypatch):
    """On the dask engine the run's process lists the window's symbols for a check's tasks of symbols: the
    checks of prices on the same window (a backfill's five, and returns' own list of prices' symbols) list
    them once, and again once the table has a new version; what each check finds is the same."""
    from risk_pipeline.defs.quality_rules import FxCoverageConfig, NonPositiveConfig, UnpricedConfig, stored_findings
    from risk_pipeline.storage import lake

    class Tasks:  # the dask engine's split of the symbols, run here
        engine = "dask"

        def spread(self, items):
            return [items[:3], items[3:]]

        def map(self, function, tasks):
            return [function(task) for task in tasks]

    listed = []
    query = lake.query_days
    monkeypatch.setattr(lake, "query_days", lambda *a, **k: listed.append(a[0]) or query(*a, **k))
    closes = _calendars_apart()
    days = _days(pd.DatetimeIndex(closes["date"].unique()))
    write_days("prices", closes, days, keys=closes["symbol"].unique())
    start, end = days[30], days[-1]
    configs = {"prices_positive": NonPositiveConfig(), "fx_coverage": FxCoverageConfig(),
               "portfolio_symbols_priced": UnpricedConfig()}
    found = {name: stored_findings(name, config, start, end, days[30:], Tasks()) for name, config in configs.items()}
    assert listed == ["prices"]
    window = lake.window_days("prices", start, end)
    assert list(lake.distinct_values("prices", window, "symbol")) == sorted(closes["symbol"].unique())
    assert listed == ["prices"]
    for name, config in configs.items():
        whole = stored_findings(name, config, start, end, days[30:])
        pd.testing.assert_frame_equal(found[name].offending, whole.offending, check_exact=True, obj=name)
    last = closes.loc[closes["date"] == closes["date"].max()]
    write_days("prices", last, days[-1:], keys=last["symbol"].unique())  # a new version: listed again
    stored_findings("prices_positive", configs["prices_positive"], start, end, days[30:], Tasks())
    assert listed == ["prices", "prices"]
