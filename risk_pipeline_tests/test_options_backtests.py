"""option_pnl and option_backtests through the pipeline: the P&L against a repricing by hand of the stored
positions (Black-Scholes-Merton of the pricing core at the next close's spot and proxy volatility, the payoff at
expiry), the backtest counts and Kupiec p-values against an independent recomputation on amounts."""

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.options import option_backtests, option_greeks, option_pnl, option_var
from risk_pipeline.report.html import _options_section
from risk_pipeline.report.options_section import load_options, options_text
from risk_pipeline.risk.options.pricing import bsm_price
from risk_pipeline.storage.schemas import table_schema
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import materialize_range, module_lake, query
from risk_pipeline_tests.test_options_assets import _dated, _proxy_atm

START, END = "2020-03-02", "2020-12-31"
EWMA, WINDOW, BACKTEST_WINDOWS = 40, 60, [20, 60]
HEADER = "book,option,option_type,underlying,strike,expiry,opened,quantity,multiplier,currency\n"
POSITIONS = HEADER + """hedged,c1,call,SP500,3300,2020-09-18,2020-06-19,-10,100,USD
hedged,p1,put,SP500,2800,2020-09-18,2020-06-19,-10,100,USD
hedged,c2,call,SP500,3700,2020-12-18,2020-09-18,-10,100,USD
hedged,p2,put,SP500,3100,2020-12-18,2020-09-18,-10,100,USD
naked,a,call,AAPL,115,2020-11-20,2020-08-03,5,100,USD
naked,s,put,SP500,3000,2020-10-17,2020-08-03,-4,100,USD
"""  # naked's SP500 put expires on a Saturday: between two closes


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("option_backtests")
    (folder / "options.csv").write_text(POSITIONS)
    options = {"positions_file": str(folder / "options.csv"), "delta_hedged_books": ["hedged"],
               "ewma_window_days": EWMA, "estimation_window_days": WINDOW, "horizons": [1, 3]}
    with module_lake(folder, SMALL_PORTFOLIOS):
        config = {"ops": {"prices": {"config": {"extra_symbols": ["SP500"]}},
                          "option_greeks": {"config": options}, "option_var": {"config": options},
                          "option_pnl": {"config": options},
                          "option_backtests": {"config": {"backtest_window_days": BACKTEST_WINDOWS}}}}
        result = materialize_range(START, END, config, assets=[prices, returns, option_greeks, option_var, option_pnl,
                                                               option_backtests])
        data = folder / "data"
        yield (result, _dated(query(data, "select * from option_greeks where level = 'position'")),
               _dated(query(data, "select * from option_pnl order by date, book")),
               _dated(query(data, "select * from option_var where horizon_days = 1")),
               _dated(query(data, "select * from option_backtests order by as_of, book, method, confidence")),
               _dated(query(data, "select * from returns where symbol in ('SP500', 'AAPL') order by date")),
               _dated(query(data, "select * from prices where symbol in ('SP500', 'AAPL') order by date")))


def test_pnl_is_the_stored_positions_repriced_by_hand_at_the_next_close(lake):
    result, greeks, pnl, _, _, stored_returns, closes = lake
    assert result.success
    assert list(pnl.columns) == table_schema("option_pnl").columns
    spot = closes.pivot(index="date", columns="symbol", values="close")
    atm = {s: _proxy_atm(stored_returns, s) for s in ("SP500", "AAPL")}
    calendar = list(spot.index)
    expected, expired = {}, {}
    for (close, book), held in greeks.groupby(["date", "book"]):
        after = calendar[calendar.index(close) + 1]
        total, n_expired = 0.0, 0
        for row in held.itertuples():
            s1 = spot.at[after, row.underlying]
            if row.option_type == "underlying":
                total += row.quantity * (s1 - row.spot)
                continue
            if row.expiry <= after:
                value, n_expired = max((s1 - row.strike) if row.option_type == "call" else (row.strike - s1), 0.0), \
                    n_expired + 1
            else:
                years = (row.expiry - after).days / 365.0
                vol = atm[row.underlying][after] - 0.5 * np.log(row.strike / s1)
                value = float(bsm_price(row.option_type == "call", s1, row.strike, years, vol, 0.02,
                                        0.02 if row.underlying == "SP500" else 0.0))
            total += row.quantity * row.contract_multiplier * value - row.position_value
        expected[(after, book)], expired[(after, book)] = total, n_expired
    stored = pnl.set_index(["date", "book"])
    assert set(stored.index) == set(expected)
    keys = sorted(expected)
    np.testing.assert_allclose(stored.loc[keys, "hypothetical_pnl"], [expected[k] for k in keys], rtol=1e-9, atol=1e-6)
    assert list(stored.loc[keys, "n_expired"]) == [expired[k] for k in keys]
    assert stored.loc[(dt.date(2020, 10, 19), "naked"), "n_expired"] == 1  # the Saturday expiry, paid on Monday
    assert stored["n_expired"].sum() == 6  # every option expires inside the range
    assert np.isfinite(stored["hypothetical_pnl"]).all() and (stored["hypothetical_pnl"] != 0).all()


def test_backtest_counts_and_kupiec_equal_an_independent_count_on_amounts(lake):
    _, _, pnl, var, backtests, _, _ = lake
    assert list(backtests.columns) == table_schema("option_backtests").columns
    assert set(backtests["method"]) == {"full_revaluation", "delta_gamma_vega", "delta_only"}
    assert set(backtests["horizon_days"]) == {1}
    backtests = backtests.assign(as_of=pd.to_datetime(backtests["as_of"]).dt.date)
    calendar = sorted(set(pnl["date"]))
    realized = pnl.set_index(["book", "date"])["hypothetical_pnl"]
    checked = 0
    for row in backtests.itertuples():
        days = calendar[max(0, calendar.index(row.as_of) - row.backtest_window_days + 1): calendar.index(row.as_of) + 1]
        forecasts = var.loc[(var["book"] == row.book) & (var["method"] == row.method)
                            & (var["confidence"] == row.confidence) & var["date"].isin(days)]
        loss = -realized.loc[[(row.book, d) for d in forecasts["date"]]].to_numpy()
        n, x = len(forecasts), int((loss > forecasts["var_amount"].to_numpy()).sum())
        assert (row.n_obs, row.n_breaches) == (n, x)
        p = 1 - row.confidence
        if n * p >= 1:
            rate = x / n
            lr = -2 * ((n - x) * np.log(1 - p) + x * np.log(p)
                       - ((n - x) * np.log(1 - rate) if x < n else 0) - (x * np.log(rate) if x else 0))
            assert row.kupiec_p == pytest.approx(chi2.sf(lr, 1), rel=1e-9, abs=1e-12)
            checked += 1
    assert checked > 0
    assert backtests["n_breaches"].max() > 0  # some loss exceeded its forecast: the comparison is exercised
    assert set(backtests["backtest_window_days"]) == set(BACKTEST_WINDOWS)


def test_the_report_and_the_summary_show_each_methods_light_of_the_latest_day(lake):
    _, _, _, _, backtests, _, _ = lake
    backtests = backtests.assign(as_of=pd.to_datetime(backtests["as_of"]).dt.date)
    day = max(backtests["as_of"])
    view = load_options(day)
    latest = backtests.loc[(backtests["as_of"] == day) & (backtests["confidence"] == 0.99)
                           & (backtests["backtest_window_days"] == min(BACKTEST_WINDOWS))]
    assert len(view.lights) == len(latest) == 3 * 2  # three methods of each book
    text, page = options_text(view), _options_section(SimpleNamespace(options=view, as_of=day))
    assert f"backtest as of {day}" in text and f"backtest as of {day}" in page
    assert view.books == ["hedged"]  # the book holding options at the last close; naked's rows are not shown
    for row in latest.loc[latest["book"] == "hedged"].itertuples():
        assert f"{row.method} {row.n_breaches}/{row.expected_breaches:.1f} {row.traffic_light}" in text
    assert set(latest["traffic_light"]) <= {"green", "yellow", "red", "insufficient_data"}
    assert "traffic light" in page and latest["traffic_light"].iloc[0] in page
