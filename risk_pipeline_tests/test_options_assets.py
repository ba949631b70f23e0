"""option_greeks and the option books' var_estimates rows through the pipeline, against independent recomputation from the stored tables;
bad option input through the CLI: one line naming file, row and field, exit status 2."""

import datetime as dt
import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.cli import main
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.options import (option_greeks, option_limit_status, option_replay, option_reverse_stress,
                                        option_stress)
from risk_pipeline.defs.option_config import OptionsConfig
from risk_pipeline.defs.var import var_estimates
from risk_pipeline.option_books import book_pnl, held_before, held_rows
from risk_pipeline.report.html import _options_section
from risk_pipeline.report.options_section import load_options, options_text, reverse_label
from risk_pipeline.risk.options.pricing import bsm_greeks
from risk_pipeline.risk.options.var import OptionBook, historical_scenarios, horizon_years, options_var_es
from risk_pipeline.storage.schemas import table_schema
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import materialize_range, module_lake, query

START, END = "2020-03-02", "2021-01-29"
EWMA, WINDOW = 40, 60
HEADER = "book,option,option_type,underlying,strike,expiry,opened,quantity,multiplier,currency\n"
POSITIONS = HEADER + """strangle,c,call,SP500,3900,2021-01-15,2020-12-18,-10,100,USD
strangle,p,put,SP500,3500,2021-01-15,2020-12-18,-10,100,USD
hedged,c,call,SP500,3900,2021-01-15,2020-12-18,-10,100,USD
hedged,p,put,SP500,3500,2021-01-15,2020-12-18,-10,100,USD
hedged,a,call,AAPL,130,2021-02-19,2020-12-18,5,100,USD
hedged,e,put,AAPL,110,2021-03-19,2020-12-18,-3,100,USD
"""


SCENARIOS = """scenarios:
  - {name: crash, type: uniform_equity, description: all -20% and vol +15, equity_shock: -0.2, volatility: 0.15}
  - {name: calm, type: uniform_equity, description: all +5% and vol -3, equity_shock: 0.05, volatility: -0.03}
  - {name: june_2020, type: historical, description: inside the lake, start: 2020-06-08, end: 2020-06-26}
  - {name: y2019, type: historical, description: before the lake, start: 2019-01-02, end: 2019-01-10}
"""


def _options(folder) -> dict:
    return {"positions_file": str(folder / "options.csv"), "delta_hedged_books": ["hedged"],
            "ewma_window_days": EWMA, "estimation_window_days": WINDOW}


def _var_config(folder) -> dict:
    """var_estimates' run config: the portfolios' one method on a short window, and the option books."""
    return {"methods": ["historical"], "confidences": [0.95, 0.99], "horizons": [1], "estimation_window_days": 20,
            "options": _options(folder)}


def _option_var(data, where: str = "true") -> pd.DataFrame:
    """The option books' rows of var_estimates, ``portfolio`` named ``book`` as in the option tables."""
    return _dated(query(data, "select * from var_estimates where portfolio in ('strangle', 'hedged') and " + where
                        + " order by date, portfolio, method, confidence, horizon_days")).rename(
        columns={"portfolio": "book"})


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("options")
    (folder / "options.csv").write_text(POSITIONS)
    (folder / "events.csv").write_text("date,underlying,event\n2021-01-13,all,CPI\n")
    (folder / "status_limits.yaml").write_text(LIMITS.format(events=folder / "events.csv", delta=50000.0, var=30000.0))
    (folder / "scenarios.yaml").write_text(SCENARIOS)
    with module_lake(folder, SMALL_PORTFOLIOS):
        config = {"ops": {"prices": {"config": {"extra_symbols": ["SP500"]}},
                          "option_greeks": {"config": _options(folder)}, "var_estimates": {"config": _var_config(folder)},
                          "option_limit_status": {"config": {"limits_file": str(folder / "status_limits.yaml")}},
                          "option_stress": {"config": {**_options(folder), "scenarios_file": str(folder / "scenarios.yaml")}},
                          "option_replay": {"config": {**_options(folder), "scenarios_file": str(folder / "scenarios.yaml")}},
                          "option_reverse_stress": {"config": {**_options(folder),
                                                               "scenarios_file": str(folder / "scenarios.yaml")}}}}
        result = materialize_range(START, END, config, assets=[prices, returns, option_greeks, var_estimates,
                                                               option_limit_status, option_stress, option_replay,
                                                               option_reverse_stress])
        data = folder / "data"
        yield (folder, result, _dated(query(data, "select * from option_greeks order by date, book, level, option")),
               _option_var(data),
               _dated(query(data, "select * from returns where symbol in ('SP500', 'AAPL') order by date")))


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("date", "expiry"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def _proxy_atm(stored_returns: pd.DataFrame, symbol: str) -> pd.Series:
    """The EWMA proxy by hand: for each close the recursion over the EWMA returns up to it, seeded by their mean square."""
    series = stored_returns.loc[stored_returns["symbol"] == symbol].set_index("date")["simple_return"]
    values = {}
    for i in range(EWMA - 1, len(series)):
        window = series.iloc[i - EWMA + 1: i + 1].to_numpy()
        variance = np.mean(window**2)
        for r in window:
            variance = 0.94 * variance + 0.06 * r * r
        values[series.index[i]] = np.sqrt(252 * variance)
    return pd.Series(values)


def test_tables_have_their_schema_and_positions_live_from_opened_to_expiry(lake):
    _, result, greeks, var, _ = lake
    assert result.success
    assert list(greeks.columns) == table_schema("option_greeks").columns
    assert list(var.columns) == [{"portfolio": "book"}.get(c, c) for c in table_schema("var_estimates").columns]
    assert var["var"].isna().all() and var["es"].isna().all()  # an option book has no value scale: amounts only
    assert set(var["method"]) == {"full_revaluation", "delta_gamma_vega", "delta_only"}
    assert set(var["horizon_days"]) == {1, 3, 5} and (var["estimation_window_days"] == WINDOW).all()
    options = greeks.loc[(greeks["level"] == "position") & (greeks["option_type"] != "underlying")]
    for (book, option), rows in options.groupby(["book", "option"]):
        assert rows["date"].min() == dt.date(2020, 12, 18)
        assert rows["date"].max() < rows["expiry"].iloc[0]
    assert set(greeks["vol_source"]) == {"ewma_proxy"}


def test_greeks_equal_black_scholes_at_the_proxy_vol_recomputed_by_hand(lake):
    _, _, greeks, _, stored_returns = lake
    rows = greeks.loc[(greeks["level"] == "position") & (greeks["option_type"] != "underlying")]
    for symbol in ("SP500", "AAPL"):
        atm = _proxy_atm(stored_returns, symbol)
        mine = rows.loc[rows["underlying"] == symbol]
        expected_vol = atm.loc[mine["date"]].to_numpy() - 0.5 * np.log(mine["strike"] / mine["spot"]).to_numpy()
        np.testing.assert_allclose(mine["implied_vol"], expected_vol, rtol=1e-12)
    years = (pd.to_datetime(rows["expiry"]) - pd.to_datetime(rows["date"])).dt.days / 365.0
    np.testing.assert_allclose(rows["years_to_expiry"], years, rtol=1e-15)
    expected = bsm_greeks(rows["option_type"] == "call", rows["spot"], rows["strike"], years, rows["implied_vol"],
                          0.02, 0.02 * (rows["underlying"] == "SP500"))
    units = rows["quantity"] * rows["contract_multiplier"] * rows["fx_rate"]
    for name in ("delta", "gamma", "vega", "theta", "rho"):
        np.testing.assert_allclose(rows[name], getattr(expected, name), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rows["position_value"], expected.price * units, rtol=1e-12)
    np.testing.assert_allclose(rows["vega_amount"], expected.vega * units / 100, rtol=1e-12)


def test_sums_per_underlying_and_book_and_the_hedged_book_is_delta_flat(lake):
    _, _, greeks, _, _ = lake
    positions = greeks.loc[greeks["level"] == "position"]
    for level, keys in (("underlying", ["date", "book", "underlying"]), ("book", ["date", "book"])):
        sums = positions.groupby(keys)[["delta_amount", "gamma_amount", "vega_amount", "theta_amount"]].sum()
        stored = greeks.loc[greeks["level"] == level].set_index(keys)[sums.columns].loc[sums.index]
        np.testing.assert_allclose(stored, sums, rtol=1e-12, atol=1e-6)
    hedged = greeks.loc[(greeks["book"] == "hedged") & (greeks["level"] == "book"), "delta_amount"]
    assert len(hedged) and np.abs(hedged).max() < 1e-6
    unhedged = greeks.loc[(greeks["book"] == "strangle") & (greeks["level"] == "book"), "delta_amount"]
    assert np.abs(unhedged).max() > 1e4


def test_option_var_rows_are_the_book_of_the_previous_close_under_the_stored_window(lake):
    _, _, greeks, var, stored_returns = lake
    day, previous = dt.date(2021, 1, 12), dt.date(2021, 1, 11)
    held = greeks.loc[(greeks["date"] == previous) & (greeks["book"] == "hedged") & (greeks["level"] == "position")]
    options, hedge = held.loc[held["option_type"] != "underlying"], held.loc[held["option_type"] == "underlying"]
    underlyings = ["AAPL", "SP500"]
    wide = stored_returns.pivot(index="date", columns="symbol", values="simple_return")[underlyings]
    past = wide.loc[wide.index <= previous].tail(WINDOW)
    atm = pd.DataFrame({s: _proxy_atm(stored_returns, s) for s in underlyings})
    changes = atm.diff().loc[past.index]
    book = OptionBook(underlying=options["underlying"].map(underlyings.index).to_numpy(),
                      is_call=(options["option_type"] == "call").to_numpy(), strike=options["strike"].to_numpy(),
                      years=options["years_to_expiry"].to_numpy(), vol=options["implied_vol"].to_numpy(),
                      units=(options["quantity"] * options["contract_multiplier"] * options["fx_rate"]).to_numpy(),
                      rate=options["interest_rate"].to_numpy(), dividend=options["dividend_yield"].to_numpy())
    spot = options.groupby("underlying")["spot"].first()[underlyings].to_numpy()
    linear = (hedge.set_index("underlying")["quantity"] * hedge.set_index("underlying")["fx_rate"])[underlyings]
    stored = var.loc[(var["date"] == day) & (var["book"] == "hedged")].set_index(["method", "confidence",
                                                                                   "horizon_days"])
    for h in (1, 3, 5):
        result = options_var_es(book, spot, linear.to_numpy(), historical_scenarios(past.to_numpy(),
                                changes.to_numpy(), h), horizon_years(h), (0.95, 0.99))
        for method, values in result.items():
            for c, (v, e) in zip((0.95, 0.99), values):
                row = stored.loc[(str(method), c, h)]
                assert row["var_amount"] == pytest.approx(v, rel=1e-9) and row["es_amount"] == pytest.approx(e, rel=1e-9)
    assert len(stored) == 3 * 2 * 3  # every method, confidence and horizon


def test_option_limit_status_against_the_greeks_and_var_tables(lake):
    folder, _, greeks, var, _ = lake
    status = _dated(query(folder / "data", "select * from option_limit_status order by date, level, measure"))
    assert set(status["book"]) == {"hedged"}
    assert sorted(set(status["date"])) == sorted(set(greeks.loc[greeks["book"] == "hedged", "date"]))
    caps = status.loc[(status["level"] == "book") & (status["measure"] == "delta")].set_index("date")
    book = greeks.loc[(greeks["book"] == "hedged") & (greeks["level"] == "book")].set_index("date")
    np.testing.assert_allclose(caps["measured_amount"], book.loc[caps.index, "delta_amount"], rtol=1e-12, atol=1e-9)
    # the CPI of 2021-01-13 halves the caps on the two business days before it, not on the day or after
    tightened = set(caps.index[caps["limit_amount"] == 25000.0])
    assert tightened == {dt.date(2021, 1, 11), dt.date(2021, 1, 12)}
    assert (caps.loc[~caps.index.isin(tightened), "limit_amount"] == 50000.0).all()
    limits = status.loc[status["measure"] == "var"].set_index("date")
    full = var.loc[(var["book"] == "hedged") & (var["method"] == "full_revaluation") & (var["confidence"] == 0.99)
                   & (var["horizon_days"] == 1)].set_index("date")["var_amount"]
    np.testing.assert_allclose(limits["measured_amount"].dropna(), full.loc[limits["measured_amount"].dropna().index])
    expected = np.where(limits["measured_amount"] > 30000, "danger",
                        np.where(limits["measured_amount"] >= 24000, "warning", "within_limits"))
    assert (limits["status"].where(limits["measured_amount"].notna(), "no_data")
            == np.where(limits["measured_amount"].isna(), "no_data", expected)).all()


def test_delta_only_var_of_the_hedged_book_is_nil_full_revaluation_is_not(lake):
    _, _, _, var, _ = lake
    hedged = var.loc[(var["book"] == "hedged") & (var["confidence"] == 0.99)].pivot_table(
        index=["date", "horizon_days"], columns="method", values="var_amount")
    assert len(hedged) and hedged["delta_only"].abs().max() < 1e-6
    strangle_held = hedged.index.get_level_values("date") <= dt.date(2021, 1, 8)  # a week or more to expiry
    assert strangle_held.any() and (hedged.loc[strangle_held, "full_revaluation"] > 1000).all()


def test_option_var_of_a_run_longer_than_one_chunk_of_days_has_every_day(lake, monkeypatch):
    """book_var builds its scenario windows VAR_CHUNK_DAYS closes at a time: a run over more closes than one chunk
    gives the same rows as one chunk (a reassigned loop bound once stopped it after the first chunk: the 30-year
    backfill had the option VaR for its first 1,000 days only)."""
    folder, _, _, var, _ = lake
    monkeypatch.setattr("risk_pipeline.option_books.VAR_CHUNK_DAYS", 4)
    config = {"ops": {"var_estimates": {"config": _var_config(folder)}}}
    materialize_range("2021-01-04", "2021-01-15", config, assets=[var_estimates])
    again = _option_var(folder / "data", "date between '2021-01-04' and '2021-01-15'")
    before = var.loc[(var["date"] >= dt.date(2021, 1, 4)) & (var["date"] <= dt.date(2021, 1, 15))].reset_index(drop=True)
    assert before["date"].nunique() == 10  # more closes than one chunk of 4
    pd.testing.assert_frame_equal(again, before, check_exact=True)


@pytest.mark.parametrize("row, field, words", [
    ("strangle,x,call,NOPE,3900,2021-01-15,2020-12-18,-10,100,USD", "underlying", "unknown underlying 'NOPE'"),
    ("strangle,x,call,SP500,-3900,2021-01-15,2020-12-18,-10,100,USD", "strike", "must be > 0"),
    ("strangle,x,call,SP500,3900,2020-12-01,2020-12-18,-10,100,USD", "expiry", "is not after"),
    ("strangle,x,call,SP500,3900,2021-01-15,2020-12-18,-10,100,EUR", "currency", "not the currency of 'SP500'"),
])
def test_bad_positions_stop_the_backfill_with_one_line(lake, capsys, monkeypatch, row, field, words):
    """Found before the run (format, unknown underlying) or by the step (the currency, known from the prices)."""
    folder = lake[0]
    bad = folder / "bad.csv"
    bad.write_text(HEADER + POSITIONS.splitlines()[1] + "\n" + row + "\n")
    profile = folder / f"profile_{field}.yaml"  # one file per content: the settings are read once per path
    profile.write_text(f"options:\n  positions_file: {bad}\n")
    monkeypatch.setenv("RISK_PIPELINE_CONFIG", str(profile))
    before = query(folder / "data", "select count(*) as n from option_greeks")["n"].item()
    config = {"ops": {"option_greeks": {"config": _options(folder) | {"positions_file": str(bad)}}}}
    code = main(["backfill", "--start", "2021-01-04", "--end", "2021-01-08", "--select", "option_greeks",
                 "--config-json", json.dumps(config)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1
    assert f"{bad}, row 3: field '{field}'" in err[0] and words in err[0]
    assert query(folder / "data", "select count(*) as n from option_greeks")["n"].item() == before


def test_missing_volatility_names_the_row_and_the_day(lake, capsys):
    folder = lake[0]
    quotes = pd.DataFrame({"date": ["2021-01-04", "2021-01-05"], "underlying": "SP500", "expiry": "2021-02-19",
                           "strike": 3700.0, "implied_vol": [0.2, 0.21]})
    quotes.to_csv(folder / "quotes.csv", index=False)
    options = _options(folder) | {"vol_source": "file", "vol_file": str(folder / "quotes.csv")}
    config = {"ops": {"option_greeks": {"config": options}}}
    code = main(["backfill", "--start", "2021-01-04", "--end", "2021-01-08", "--select", "option_greeks",
                 "--config-json", json.dumps(config)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1
    assert f"{folder / 'options.csv'}, row 6: field 'underlying': missing volatility for 'AAPL' on 2021-01-04" in err[0]


LIMITS = """portfolios:
  balanced: [{{measure: var, amount: 1000000}}]
option_books:
  warning_fraction: 0.8
  event_calendar: {events}
  event_window_days: 2
  event_factor: 0.5
  books:
    hedged:
      caps: {{delta: {delta}, gamma: 1.0e+9, vega: 1.0e+9, theta: 1.0e+9}}
      underlyings: {{SP500: {{delta: {delta}}}}}
      limits: [{{measure: var, horizon_days: 1, confidence: 0.99, amount: {var}}}]
"""


def _pre_trade(folder, monkeypatch, capsys, option, *, delta=1e9, var=1e9, event_day="2021-02-26"):
    (folder / "events.csv").write_text(f"date,underlying,event\n{event_day},SP500,CPI\n")
    (folder / "limits.yaml").write_text(LIMITS.format(events=folder / "events.csv", delta=delta, var=var))
    (folder / "profile_pre_trade.yaml").write_text(
        f"options:\n  positions_file: {folder / 'options.csv'}\n  delta_hedged_books: [hedged]\n"
        f"  ewma_window_days: {EWMA}\n  estimation_window_days: {WINDOW}\n")
    monkeypatch.setenv("RISK_PIPELINE_CONFIG", str(folder / "profile_pre_trade.yaml"))
    code = main(["pre-trade", "--book", "hedged", "--option", option, "--as-of", "2021-01-08",
                 "--limits", str(folder / "limits.yaml")])
    return code, capsys.readouterr()


def test_pre_trade_adds_the_trades_greeks_to_the_book(lake, monkeypatch, capsys):
    from risk_pipeline.cli.pre_trade_options import option_pre_trade

    folder, _, greeks, _, _ = lake
    code, out = _pre_trade(folder, monkeypatch, capsys, "put,SP500,3700,2021-02-19,-5")
    assert code == 0 and "Trade allowed: within every Greek cap and VaR/ES limit." in out.out
    answer = option_pre_trade("hedged", ["put,SP500,3700,2021-02-19,-5"], limits_file=str(folder / "limits.yaml"),
                              as_of=dt.date(2021, 1, 8))
    row = greeks.loc[(greeks["date"] == dt.date(2021, 1, 8)) & (greeks["option"] == "p") & (greeks["book"] == "hedged")]
    spot, atm = row["spot"].item(), row["implied_vol"].item() + 0.5 * np.log(row["strike"].item() / row["spot"].item())
    years = (dt.date(2021, 2, 19) - dt.date(2021, 1, 8)).days / 365
    trade = bsm_greeks(False, spot, 3700.0, years, atm - 0.5 * np.log(3700.0 / spot), 0.02, 0.02)
    book = lambda frame, greek: frame.loc[(frame["level"] == "book") & (frame["greek"] == greek), "measured_amount"].item()  # noqa: E731
    assert book(answer.caps_before, "delta") == pytest.approx(0.0, abs=1e-6)  # hedged at the close
    assert book(answer.caps_after, "delta") == pytest.approx(trade.delta * spot * -500, rel=1e-10)
    assert book(answer.caps_after, "vega") - book(answer.caps_before, "vega") == pytest.approx(trade.vega * -5, rel=1e-10)


@pytest.mark.parametrize("limits, words", [
    (dict(delta=1000.0, var=1.0), "Trade BLOCKED: Greek cap breached: delta of the book"),  # Greeks first
    (dict(var=1.0), "Trade BLOCKED: VaR/ES limit breached: var 1d at 99%"),
    (dict(event_day="2021-01-08"), "Trade BLOCKED: no new entry on the day of CPI (SP500, 2021-01-08)"),
])
def test_pre_trade_blocks_on_greek_caps_then_var_then_events(lake, monkeypatch, capsys, limits, words):
    code, out = _pre_trade(lake[0], monkeypatch, capsys, "put,SP500,3700,2021-02-19,-5", **limits)
    assert code == 1 and words in out.out


def test_caps_are_tightened_in_the_days_before_an_event(lake, monkeypatch, capsys):
    folder = lake[0]
    _, out = _pre_trade(folder, monkeypatch, capsys, "put,SP500,3700,2021-02-19,-1", delta=400000.0,
                        event_day="2021-01-12")  # two business days after 2021-01-08
    assert "200,000.00" in out.out and "CPI on 2021-01-12 (SP500)" in out.out
    _, out = _pre_trade(folder, monkeypatch, capsys, "put,SP500,3700,2021-02-19,-1", delta=400000.0,
                        event_day="2021-01-13")  # three: not yet
    assert "400,000.00" in out.out and "CPI" not in out.out


def test_a_bad_option_trade_is_one_line_exit_2(lake, monkeypatch, capsys):
    code, out = _pre_trade(lake[0], monkeypatch, capsys, "straddle,SP500,3700,2021-02-19,-5")
    assert code == 2 and len(out.err.splitlines()) == 1 and "must look like TYPE,UNDERLYING" in out.err


def test_the_report_and_the_summary_show_the_option_books_tables(lake, capsys):
    """The report's section and `risk-pipeline summary` show each book's stored Greeks, caps and the three VaRs."""
    folder, _, greeks, var, _ = lake
    day = max(var["date"])
    view = load_options(day)
    shown = view.var.set_index(["book", "confidence", "horizon_days", "measure"])
    stored = var.loc[var["date"] == day]
    assert len(stored) == 2 * 3 * 3 and len(shown) == 2 * 3 * 2  # conf x horizons x methods; conf x horizons x (var, es)
    for row in stored.itertuples():
        assert shown.loc[(row.book, row.confidence, row.horizon_days, "var"), row.method] == row.var_amount
        assert shown.loc[(row.book, row.confidence, row.horizon_days, "es"), row.method] == row.es_amount
    book = greeks.loc[(greeks["date"] == day) & (greeks["level"] == "book") & (greeks["book"] == "hedged")].iloc[0]
    text = options_text(view)
    full = stored.loc[(stored["book"] == "hedged") & (stored["method"] == "full_revaluation")
                      & (stored["confidence"] == 0.99) & (stored["horizon_days"] == 1), "var_amount"].iloc[0]
    assert f"gamma (delta change for +1%) {book['gamma_amount']:+,.0f}" in text and f"{full:,.0f}" in text
    page = _options_section(SimpleNamespace(options=view, as_of=day))
    assert "delta gamma vega" in page and f"{full:,.0f}" in page and "caps and limits" in page
    stress = _dated(query(folder / "data", f"select * from option_stress where date = '{day}' and book = 'hedged'"))
    worst = stress.sort_values("pnl").iloc[0]
    assert f"stress on {day}" in text and f"{worst['scenario']} {worst['pnl']:+,.0f}" in text
    assert f"{worst['pnl']:,.0f}" in page
    replay = _dated(query(folder / "data", f"select * from option_replay where date = '{day}' and book = 'hedged'"))
    episode = replay.iloc[0]
    assert f"{episode['episode']} {episode['worst_cum_pnl']:+,.0f} on" in text and "historical replay on" in page
    reverse = view.reverse.loc[view.reverse["book"].eq("hedged")].iloc[0]
    assert f"{reverse['scenario']} {reverse_label(reverse['multiplier'])}" in text and "reverse stress on" in page
    assert f"{reverse['target_loss']:,.0f} = 3 x its 1-day 99% VaR" in text
    assert main(["summary"]) == 0
    printed = capsys.readouterr().out
    assert "Option book hedged at the close of" in printed
    # the option books' rows of every method's VaR have no % of value: shown as not applicable, never NaN
    assert not re.search(r"\bNaN\b|<NA>|\bNone\b|\bnan\b", printed), printed
    assert "—: an option book has no % of value" in printed


def _held_book(greeks: pd.DataFrame, close: dt.date, book: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    held = greeks.loc[(greeks["date"] == close) & (greeks["book"] == book) & (greeks["level"] == "position")]
    return held.loc[held["option_type"] != "underlying"], held.loc[held["option_type"] == "underlying"]


def _repriced(options: pd.DataFrame, hedge: pd.DataFrame, move: dict) -> float:
    """P&L of stored options and hedge when each underlying moves by (simple return, volatility change)."""
    shock = options["underlying"].map(lambda u: move[u][0]).to_numpy()
    dvol = options["underlying"].map(lambda u: move[u][1]).to_numpy()
    after = bsm_greeks((options["option_type"] == "call").to_numpy(), options["spot"].to_numpy() * (1 + shock),
                       options["strike"].to_numpy(), options["years_to_expiry"].to_numpy(),
                       options["implied_vol"].to_numpy() + dvol, options["interest_rate"].to_numpy(),
                       options["dividend_yield"].to_numpy()).price
    units = (options["quantity"] * options["contract_multiplier"] * options["fx_rate"]).to_numpy()
    return float(((after - options["option_price"].to_numpy()) * units).sum()) + float(
        (hedge["position_value"] * hedge["underlying"].map(lambda u: move[u][0])).sum())


def test_option_stress_reprices_the_held_book_under_spot_and_volatility_moves(lake):
    """option_stress of a day: the options and the hedge of the previous close repriced under each scenario, the
    historical window's moves measured from the stored returns and the EWMA proxy by hand."""
    folder, _, greeks, _, stored_returns = lake
    stress = _dated(query(folder / "data", "select * from option_stress order by date, book, scenario"))
    day, previous = dt.date(2021, 1, 12), dt.date(2021, 1, 11)
    options, hedge = _held_book(greeks, previous, "hedged")
    wide = stored_returns.pivot(index="date", columns="symbol", values="simple_return")
    window = wide.loc[(wide.index >= dt.date(2020, 6, 8)) & (wide.index <= dt.date(2020, 6, 26))]
    atm = {s: _proxy_atm(stored_returns, s) for s in ("SP500", "AAPL")}
    june = {s: ((1 + window[s]).prod() - 1, atm[s][dt.date(2020, 6, 26)] - atm[s][dt.date(2020, 6, 5)])
            for s in ("SP500", "AAPL")}
    moves = {"crash": {s: (-0.2, 0.15) for s in june}, "calm": {s: (0.05, -0.03) for s in june}, "june_2020": june}
    rows = stress.loc[(stress["date"] == day) & (stress["book"] == "hedged")].set_index("scenario")
    assert set(rows.index) == set(moves)  # y2019: its window is not stored
    for scenario, move in moves.items():
        expected = _repriced(options, hedge, move)
        assert rows.loc[scenario, "pnl"] == pytest.approx(expected, rel=1e-9)
        assert not rows.loc[scenario, "proxied"] and rows.loc[scenario, "n_options"] == 4
    assert rows.loc["crash", "pnl"] < 0 and june["SP500"][1] != 0  # short options lose; the window moved the vol
    first = stress.loc[stress["scenario"] == "june_2020", "date"].min()
    assert first == dt.date(2020, 6, 29) or first > dt.date(2020, 6, 26)  # only after the window


def test_option_replay_reprices_the_held_book_at_each_close_of_the_episode(lake):
    """option_replay: the book of the previous close repriced at each close of the window under the moves since the
    close before it; its worst point and its end (the end is the stress of the historical scenario)."""
    folder, _, greeks, _, stored_returns = lake
    replay = _dated(query(folder / "data", "select * from option_replay order by date, book, episode"))
    stress = _dated(query(folder / "data", "select * from option_stress where scenario = 'june_2020'"))
    day, previous = dt.date(2021, 1, 12), dt.date(2021, 1, 11)
    options, hedge = _held_book(greeks, previous, "hedged")
    wide = stored_returns.pivot(index="date", columns="symbol", values="simple_return")
    window = wide.loc[(wide.index >= dt.date(2020, 6, 8)) & (wide.index <= dt.date(2020, 6, 26))]
    atm = {s: _proxy_atm(stored_returns, s) for s in ("SP500", "AAPL")}
    path = pd.Series({d: _repriced(options, hedge, {s: ((1 + window.loc[:d, s]).prod() - 1,
                                                        atm[s][d] - atm[s][dt.date(2020, 6, 5)]) for s in atm})
                      for d in window.index})
    row = replay.loc[(replay["date"] == day) & (replay["book"] == "hedged")].set_index("episode").loc["june_2020"]
    assert pd.Timestamp(row["worst_date"]).date() == path.idxmin() and row["worst_cum_pnl"] == pytest.approx(path.min(), rel=1e-9)
    assert row["final_cum_pnl"] == pytest.approx(path.iloc[-1], rel=1e-9) and row["n_days"] == len(window)
    same = stress.loc[(stress["date"] == day) & (stress["book"] == "hedged"), "pnl"].iloc[0]
    assert row["final_cum_pnl"] == pytest.approx(same, rel=1e-12)
    assert set(replay["episode"]) == {"june_2020"} and replay["date"].min() > dt.date(2020, 6, 26)


def test_option_reverse_stress_reprices_the_held_book_to_the_multiple_of_its_var(lake):
    """option_reverse_stress of a day: the target is 3 x the stored 1-day 99% full-revaluation VaR of the book, and
    the options and hedge of the previous close repriced by hand under multiple x the scenario's moves lose it."""
    folder, _, greeks, var, _ = lake
    reverse = _dated(query(folder / "data", "select * from option_reverse_stress order by date, book, scenario"))
    day, previous = dt.date(2021, 1, 12), dt.date(2021, 1, 11)
    rows = reverse.loc[(reverse["date"] == day) & (reverse["book"] == "hedged")].set_index("scenario")
    full = var.loc[(var["date"] == day) & (var["book"] == "hedged") & (var["method"] == "full_revaluation")
                   & (var["confidence"] == 0.99) & (var["horizon_days"] == 1), "var_amount"].iloc[0]
    assert rows["target_loss"].tolist() == pytest.approx([3.0 * full] * len(rows), rel=1e-12)
    assert (rows["target_var_multiple"] == 3.0).all() and len(rows) == 3
    options, hedge = _held_book(greeks, previous, "hedged")
    crash = rows.loc["crash"]
    assert crash["feasible"] and 0 < crash["multiplier"] < 10
    k = crash["multiplier"]
    by_hand = -_repriced(options, hedge, {s: (-0.2 * k, 0.15 * k) for s in ("SP500", "AAPL")})
    assert by_hand == pytest.approx(crash["target_loss"], abs=1e-6)
    assert crash["achieved_loss"] == pytest.approx(by_hand, abs=1e-6)
    for smaller in np.linspace(0.0, k, 50)[:-1]:  # the smallest multiple: no earlier crossing
        assert -_repriced(options, hedge, {s: (-0.2 * smaller, 0.15 * smaller) for s in ("SP500", "AAPL")}) < crash["target_loss"]
    unreached = rows.loc[~rows["feasible"]]
    assert unreached["multiplier"].isna().all() and unreached["achieved_loss"].isna().all()
    assert set(reverse["scenario"]) <= {"crash", "calm", "june_2020"}


def test_option_pnl_of_one_day_is_the_longer_runs_row_bit_for_bit(lake):
    """A run of one day gives the hedged book's P&L the run of the whole range stored: the book-day sum of the
    options' and hedges' P&L does not depend on the other rows of the run (pandas' own groupby sum rounds
    differently when the frame holds one book-day, the options' rows then sorted before the hedge's)."""
    folder = lake[0]
    (folder / "hedged_only.csv").write_text(HEADER + "\n".join(
        line for line in POSITIONS.splitlines() if line.startswith("hedged,")) + "\n")
    settings = OptionsConfig(**{**_options(folder), "positions_file": str(folder / "hedged_only.csv")}).settings()

    def pnl(start: dt.date, end: dt.date) -> pd.DataFrame:
        positions, market, targets, previous, priced, hedge = held_before(settings, start, end, EWMA + 2)
        rows = book_pnl(market, positions, held_rows(positions, previous), priced, hedge,
                        pd.Series(targets, index=previous))
        return rows.assign(date=pd.DatetimeIndex(rows["date"]).date).set_index(["date", "book"])

    long = pnl(dt.date(2020, 12, 21), dt.date(2021, 1, 29))
    assert len(long) >= 25 and long["hypothetical_pnl"].notna().all()
    for day in long.index.get_level_values("date"):
        one = pnl(day, day)
        assert len(one) == 1
        assert one["hypothetical_pnl"].to_numpy()[0] == long.loc[one.index[0], "hypothetical_pnl"], day


def test_the_held_book_is_kept_per_version_of_what_it_reads(lake):
    """held_before is read once for the steps of a run that ask for the same book (option_pnl and the three option
    stress steps of a day), and again when a file it reads changes: the positions file rewritten holds another
    book, the same as a first reading of that file gives."""
    folder = lake[0]
    positions = folder / "kept.csv"
    positions.write_text(POSITIONS)
    settings = OptionsConfig(**{**_options(folder), "positions_file": str(positions)}).settings()
    day = dt.date(2021, 1, 4)
    first = held_before(settings, day, day, EWMA + 2)
    assert held_before(settings, day, day, EWMA + 2) is first  # the same book, not read again
    assert held_before(settings, day, day, EWMA + 3) is not first  # another window read
    positions.write_text(HEADER + POSITIONS.splitlines(keepends=True)[1])  # the strangle's call alone
    changed = held_before(settings, day, day, EWMA + 2)
    assert [p.option for p in changed[0]] == ["c"] and set(changed[4]["book"]) == {"strangle"}
    assert len(first[4]) > len(changed[4])


def test_a_block_whose_proxy_reaches_before_its_read_takes_the_rows_of_the_run_from_its_start(monkeypatch):
    """own_history: the EWMA proxy's window of every underlying inside the read at the block's first close, or not
    (a day without the underlying's return in the look-back); _stage_block then stages the rows of the run's start to
    the block's end on the block's days, not the block's own."""
    from risk_pipeline.defs import options
    from risk_pipeline.option_books import own_history

    dates = pd.bdate_range("2021-01-04", periods=6)
    returns = pd.DataFrame({"SP500": [0.01, 0.02, -0.01, 0.0, 0.01, 0.02], "AAPL": [np.nan, 0.01, 0.02, 0.0, 0.01, 0.02]},
                           index=dates)
    market = SimpleNamespace(quotes=None, returns=returns, settings=SimpleNamespace(ewma_window_days=3))
    assert own_history(market, dates[3:])  # AAPL's three returns up to the fourth close are read
    assert not own_history(market, dates[2:])  # its proxy there needs a return before the read
    assert own_history(SimpleNamespace(quotes=pd.DataFrame(), returns=returns), dates[:1])  # quoted: no proxy

    def rows(start, end):  # a day's value: the run's start it was computed from
        days = [d.date() for d in dates if start <= d.date() <= end]
        frame = pd.DataFrame({"date": days, "book": "b", "first": start})
        return options._Rows(frame, ["b"], [], covered=start == dates[0].date())

    monkeypatch.setattr(options, "stage", lambda table, frame, days, keys: frame)
    run = [d.date() for d in dates]
    block = options._stage_block(run[3:], rows, "option_pnl", run, run[0])
    assert block.staged["date"].tolist() == run[3:] and set(block.staged["first"]) == {run[0]}
    assert block.books == ["b"]
