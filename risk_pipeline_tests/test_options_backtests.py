"""option_pnl, and the option books' VaR/ES series in var_backtests, forecast_scores and var_scores: the P&L against
a repricing by hand of the stored positions (Black-Scholes-Merton of the pricing core at the next close's spot and
proxy volatility, the payoff at expiry); the backtest counts, Kupiec p-values and scores against an independent
recomputation on amounts (1- and 3-day horizons); the portfolios' rows of every table unchanged by the option books."""

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from risk_pipeline.config.reader import ConfigError
from risk_pipeline.defs.backtests import var_backtests
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.option_config import OptionsConfig
from risk_pipeline.defs.options import option_greeks, option_pnl
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.scores import forecast_scores, var_scores
from risk_pipeline.defs.var import option_book_names, var_estimates
from risk_pipeline.report.html import _options_section
from risk_pipeline.report.options_section import load_options, options_text
from risk_pipeline.risk.options.pricing import bsm_price
from risk_pipeline.storage.schemas import table_schema
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import materialize_range, module_lake, query
from risk_pipeline_tests.test_options_assets import HEADER, _dated, _proxy_atm

START, END = "2020-03-02", "2020-12-31"
EWMA, WINDOW, BACKTEST_WINDOWS = 40, 60, [20, 60]
BOOKS = ("hedged", "naked")
POSITIONS = HEADER + """hedged,c1,call,SP500,3300,2020-09-18,2020-06-19,-10,100,USD
hedged,p1,put,SP500,2800,2020-09-18,2020-06-19,-10,100,USD
hedged,c2,call,SP500,3700,2020-12-18,2020-09-18,-10,100,USD
hedged,p2,put,SP500,3100,2020-12-18,2020-09-18,-10,100,USD
naked,a,call,AAPL,115,2020-11-20,2020-08-03,5,100,USD
naked,s,put,SP500,3000,2020-10-17,2020-08-03,-4,100,USD
"""  # naked's SP500 put expires on a Saturday: between two closes
LINEAR_TABLES = ("var_estimates", "var_backtests", "forecast_scores", "var_scores")


def _run(folder, positions_file):
    """The pipeline from prices to var_scores over START..END, with the option books of ``positions_file`` (None:
    none); returns the run's result and each table's rows."""
    options = {"positions_file": positions_file, "delta_hedged_books": ["hedged"], "ewma_window_days": EWMA,
               "estimation_window_days": WINDOW, "horizons": [1, 3]}
    with module_lake(folder, SMALL_PORTFOLIOS):
        config = {"ops": {"prices": {"config": {"extra_symbols": ["SP500"]}},
                          "option_greeks": {"config": options}, "option_pnl": {"config": options},
                          "var_estimates": {"config": {"methods": ["historical", "parametric_normal"],
                                                       "confidences": [0.95, 0.99], "horizons": [1, 3],
                                                       "estimation_window_days": 20, "options": options}},
                          "var_backtests": {"config": {"backtest_window_days": BACKTEST_WINDOWS}},
                          "var_scores": {"config": {"backtest_window_days": BACKTEST_WINDOWS, "mcs_reps": 200}}}}
        result = materialize_range(START, END, config, assets=[prices, returns, portfolio_pnl, option_greeks,
                                                               option_pnl, var_estimates, var_backtests,
                                                               forecast_scores, var_scores])
        data = folder / "data"
        tables = {t: _dated(query(data, f"select * from {t}")) for t in
                  ("option_pnl", "portfolio_pnl", "prices", "returns") + LINEAR_TABLES}
        tables["option_greeks"] = _dated(query(data, "select * from option_greeks where level = 'position'"))
    for name in ("var_backtests", "var_scores"):
        tables[name]["as_of"] = pd.to_datetime(tables[name]["as_of"]).dt.date
    tables["forecast_scores"]["forecast_date"] = pd.to_datetime(tables["forecast_scores"]["forecast_date"]).dt.date
    return result, tables


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("option_backtests")
    (folder / "options.csv").write_text(POSITIONS)
    result, tables = _run(folder, str(folder / "options.csv"))
    return SimpleNamespace(result=result, folder=folder, **tables)


def test_pnl_is_the_stored_positions_repriced_by_hand_at_the_next_close(lake):
    greeks, pnl, stored_returns, closes = lake.option_greeks, lake.option_pnl, lake.returns, lake.prices
    stored_returns = stored_returns.loc[stored_returns["symbol"].isin(["SP500", "AAPL"])].sort_values("date")
    closes = closes.loc[closes["symbol"].isin(["SP500", "AAPL"])]
    assert lake.result.success
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


def _pnl_and_calendar(lake):
    """Each option book's daily P&L by date, and the lake's trading days (the stored days of portfolio_pnl)."""
    return lake.option_pnl.set_index(["book", "date"])["hypothetical_pnl"], sorted(set(lake.portfolio_pnl["date"]))


def _observations(lake, book, method, confidence, horizon):
    """The realized forecasts of one option series by a plain loop: forecast days t whose number in the lake's
    calendar is a multiple of the horizon, with P&L on each of its days; loss = -(sum of the P&L), var/es the
    var_amount/es_amount of t. Rows (t, end day, loss, var, es)."""
    pnl, calendar = _pnl_and_calendar(lake)
    var = lake.var_estimates
    rows = var.loc[(var["portfolio"] == book) & (var["method"] == method) & (var["confidence"] == confidence)
                   & (var["horizon_days"] == horizon)]
    out = []
    for row in rows.itertuples():
        i = calendar.index(row.date)
        days = calendar[i:i + horizon]
        if i % horizon or len(days) < horizon or any((book, d) not in pnl.index for d in days):
            continue
        out.append((row.date, days[-1], -sum(pnl[(book, d)] for d in days), row.var_amount, row.es_amount))
    return pd.DataFrame(out, columns=["date", "end", "loss", "var", "es"])


def test_option_methods_are_backtested_on_amounts_at_1_and_3_days_as_a_plain_count(lake):
    """var_backtests of an option book: n_obs and n_breaches (loss > var_amount) of each window, and Kupiec's p, equal
    a plain loop over option_pnl and the book's var_estimates rows."""
    assert lake.result.success
    backtests = lake.var_backtests.loc[lake.var_backtests["portfolio"].isin(BOOKS)]
    assert set(backtests["method"]) == {"full_revaluation", "delta_gamma_vega", "delta_only"}
    assert set(backtests["horizon_days"]) == {1, 3} and set(backtests["portfolio"]) == set(BOOKS)
    _, calendar = _pnl_and_calendar(lake)
    checked, breaches = 0, {1: 0, 3: 0}
    for keys, rows in backtests.groupby(["portfolio", "method", "confidence", "horizon_days"]):
        obs = _observations(lake, *keys)
        for row in rows.itertuples():
            last = calendar.index(row.as_of)
            window = obs.loc[(obs["end"] <= row.as_of)
                             & (obs["end"] >= calendar[max(0, last - row.backtest_window_days + 1)])]
            n, x = len(window), int((window["loss"] > window["var"]).sum())
            assert (row.n_obs, row.n_breaches, row.n_actual_breaches) == (n, x, x)
            p = 1 - row.confidence
            if n * p >= 1:
                rate = x / n
                lr = -2 * ((n - x) * np.log(1 - p) + x * np.log(p)
                           - ((n - x) * np.log(1 - rate) if x < n else 0) - (x * np.log(rate) if x else 0))
                assert row.kupiec_p == pytest.approx(chi2.sf(lr, 1), rel=1e-9, abs=1e-12)
                checked += 1
            breaches[keys[3]] += x
    assert checked > 0 and breaches[1] > 0 and breaches[3] > 0  # losses above the forecast: the count is exercised
    assert not backtests["overlapping"].any()


def test_option_methods_scores_equal_tick_and_fz0_on_amounts(lake):
    """forecast_scores of an option book: its observations, in base currency (loss_amount, var_amount, es_amount;
    the fractions loss, var, es empty, score_basis amount), with the tick and FZ0 losses computed here from the P&L
    and the var_estimates amounts."""
    scores = lake.forecast_scores.loc[lake.forecast_scores["portfolio"].isin(BOOKS)]
    assert set(scores["horizon_days"]) == {1, 3}
    assert scores[["loss", "var", "es"]].isna().all().all() and set(scores["score_basis"]) == {"amount"}
    compared = 0
    for keys, rows in scores.groupby(["portfolio", "method", "confidence", "horizon_days"]):
        obs = _observations(lake, *keys).set_index("date")
        rows = rows.set_index("forecast_date").sort_index()
        assert list(rows.index) == list(obs.index)  # the forecasts whose loss is known by END
        obs = obs.loc[rows.index]
        alpha = 1 - keys[2]
        hit = obs["loss"] > obs["var"]
        tick = (hit - alpha) * (obs["loss"] - obs["var"])
        positive = obs["es"] > 0
        fz0 = (hit * (obs["loss"] - obs["var"]) / (alpha * obs["es"]) + obs["var"] / obs["es"] + np.log(obs["es"]) - 1
               ).where(positive)
        np.testing.assert_allclose(rows["loss_amount"], obs["loss"], rtol=1e-12)
        np.testing.assert_allclose(rows[["var_amount", "es_amount"]], obs[["var", "es"]], rtol=0)
        np.testing.assert_allclose(rows["tick_loss"], tick, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(rows["fz0_loss"][positive], fz0[positive], rtol=1e-12)
        assert rows["fz0_loss"][~positive].isna().all()
        compared += len(rows)
    assert compared > 0


def test_a_portfolios_scores_are_on_fractions_with_the_amounts_of_its_forecasts_and_pnl(lake):
    """forecast_scores of a portfolio: score_basis fraction; var_amount and es_amount those of var_estimates;
    loss_amount the loss times the value the forecast was scaled by, at 1 day minus portfolio_pnl's P&L of the day,
    at 3 days the 3-day compounded return's loss on the previous close's value. var_scores: one score_basis a book."""
    scores = lake.forecast_scores.loc[~lake.forecast_scores["portfolio"].isin(BOOKS)]
    assert len(scores) and set(scores["score_basis"]) == {"fraction"} and scores["loss"].notna().all()
    keys = ["portfolio", "method", "confidence", "horizon_days"]
    var = lake.var_estimates.rename(columns={"date": "forecast_date"})
    joined = scores.merge(var, on=[*keys, "forecast_date"], suffixes=("", "_estimate"), validate="one_to_one")
    assert len(joined) == len(scores)
    np.testing.assert_array_equal(joined[["var_amount", "es_amount"]], joined[["var_amount_estimate",
                                                                               "es_amount_estimate"]])
    pnl = lake.portfolio_pnl.set_index(["portfolio", "date"]).sort_index()
    calendar = sorted(set(lake.portfolio_pnl["date"]))
    checked = {1: 0, 3: 0}
    for row in joined.itertuples():
        i = calendar.index(row.forecast_date)
        days = calendar[i:i + row.horizon_days]
        value = pnl.loc[(row.portfolio, calendar[i - 1]), "value"]  # the previous close's value
        returns = [pnl.loc[(row.portfolio, d), "simple_return"] for d in days]
        assert row.loss_amount == pytest.approx((1 - np.prod(1 + np.array(returns))) * value, rel=1e-9)
        if row.horizon_days == 1:
            assert row.loss_amount == pytest.approx(-pnl.loc[(row.portfolio, days[0]), "pnl"], rel=1e-9)
        checked[row.horizon_days] += 1
    assert checked[1] and checked[3]
    bases = lake.var_scores.groupby("portfolio")["score_basis"].unique()
    assert {book: list(basis) for book, basis in bases.items()} == {
        book: ["amount" if book in BOOKS else "fraction"] for book in bases.index}


def test_the_model_confidence_set_compares_an_option_books_three_methods_among_themselves(lake):
    scores = lake.var_scores
    for book in BOOKS:
        own = scores.loc[scores["portfolio"] == book]
        assert set(own["method"]) == {"full_revaluation", "delta_gamma_vega", "delta_only"}
        best = own["best_method"].replace("", np.nan).dropna()  # empty: no method compared in the window
        assert len(best) and set(best) <= set(own["method"])
        assert (own["mcs_computed"] & own["in_mcs"]).any()
    linear = scores.loc[~scores["portfolio"].isin(BOOKS)]
    assert set(linear["method"]) == {"historical", "parametric_normal"}


def test_the_portfolios_rows_of_every_table_are_those_of_a_run_without_option_books(lake, tmp_path_factory):
    """Adding the option books leaves each portfolio's var_estimates, var_backtests, forecast_scores and var_scores
    rows exactly as they are without them."""
    result, alone = _run(tmp_path_factory.mktemp("no_options"), None)
    assert result.success
    for table in LINEAR_TABLES:
        mine = getattr(lake, table)
        mine = mine.loc[~mine["portfolio"].isin(BOOKS)]
        keys = [c for c in ("date", "as_of", "forecast_date", "portfolio", "method", "confidence", "horizon_days",
                            "backtest_window_days") if c in mine]
        assert len(alone[table]) and set(alone[table]["portfolio"]).isdisjoint(BOOKS)
        pd.testing.assert_frame_equal(mine.sort_values(keys, ignore_index=True),
                                      alone[table].sort_values(keys, ignore_index=True), check_exact=True)


def test_the_report_and_the_summary_show_each_methods_light_of_the_latest_day(lake, monkeypatch):
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(lake.folder / "data"))
    backtests = lake.var_backtests.loc[lake.var_backtests["portfolio"].isin(BOOKS)]
    day = max(backtests["as_of"])
    view = load_options(day)
    latest = backtests.loc[(backtests["as_of"] == day) & (backtests["confidence"] == 0.99)
                           & (backtests["horizon_days"] == 1) & (backtests["backtest_window_days"] == min(BACKTEST_WINDOWS))]
    assert len(view.lights) == len(latest) == 3  # three methods of the book with P&L on the last day
    text, page = options_text(view), _options_section(SimpleNamespace(options=view, as_of=day))
    assert f"backtest as of {day}" in text and f"backtest as of {day}" in page
    assert view.books == ["hedged"]  # the book holding options at the last close; naked's rows are not shown
    for row in latest.loc[latest["portfolio"] == "hedged"].itertuples():
        assert f"{row.method} {row.n_breaches}/{row.expected_breaches:.1f} {row.traffic_light}" in text
    assert set(latest["traffic_light"]) <= {"green", "yellow", "red", "insufficient_data"}
    assert "traffic light" in page and latest["traffic_light"].iloc[0] in page


def test_an_option_book_named_as_a_portfolio_is_refused_naming_the_file_and_the_book(tmp_path):
    """Both would be var_estimates rows of one portfolio key: the run stops with one line instead of mixing them."""
    positions = tmp_path / "options.csv"
    positions.write_text(POSITIONS.replace("naked,", "balanced,"))
    settings = OptionsConfig(positions_file=str(positions)).settings()
    assert option_book_names(settings, ["held"]) == ["hedged", "balanced"]
    with pytest.raises(ConfigError) as error:
        option_book_names(settings, ["balanced", "held"])
    assert str(positions) in str(error.value) and "'balanced'" in str(error.value)
    assert option_book_names(None, ["balanced"]) == []  # no positions file: no option book
