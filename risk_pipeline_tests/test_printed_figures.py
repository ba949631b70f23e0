"""What users read, against the tables it comes from: every figure ``risk-pipeline summary``
prints and every VaR, ES, backtest, traffic-light, statistics and limit cell of the risk report
(HTML, summary.json, CSV), recomputed here with SQL on the catalog of a small in-process run.

The run: two books over 2019-10..2020-06 (the COVID crash gives breaches, yellow and red lights
and failed tests), three VaR methods, backtest and score windows of 100 and 150 days, limits
that put one book within its limit, at warning and in danger. A printed figure is compared
with the stored value to the precision it is printed with (half a unit of its last digit), so
a column that reads the wrong confidence, the wrong measure or the wrong window fails.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest

from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.printed import PageTables, assert_shows, page_table, pct, printed_table
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, CORE_ASSET_NAMES, fast_run_config, materialize_range, module_lake, query

START, END = "2019-10-01", "2020-06-30"
AS_OF = dt.date(2020, 6, 30)
WINDOWS = [100, 150]
ESTIMATION_DAYS = 30
METHODS = ["historical", "parametric_normal", "ewma"]
ASSETS = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys}
          <= set(CORE_ASSET_NAMES) | {"forecast_scores", "var_scores", "limit_status", "risk_summary", "risk_report"}]
# balanced: VaR 99% ~61,500 (within 100,000), ES 99% ~70,700 (warning: >= 80% of 80,000); held: VaR in danger
LIMITS = """
warning_fraction: 0.8
portfolios:
  balanced:
    - {measure: var, horizon_days: 1, confidence: 0.99, amount: 100000}
    - {measure: es, horizon_days: 1, confidence: 0.99, amount: 80000}
  held:
    - {measure: var, horizon_days: 1, confidence: 0.99, amount: 5000}
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("printed")
    (folder / "data").mkdir()
    (folder / "limits.yaml").write_text(LIMITS)
    config = fast_run_config(estimation_window_days=ESTIMATION_DAYS, methods=METHODS)
    config["ops"]["var_backtests"] = {"config": {"backtest_window_days": WINDOWS}}
    config["ops"]["var_scores"] = {"config": {"backtest_window_days": WINDOWS, "mcs_reps": 200}}
    config["ops"]["limit_status"] = {"config": {"limits_file": str(folder / "limits.yaml"),
                                                "estimation_window_days": ESTIMATION_DAYS}}
    with module_lake(folder, SMALL_PORTFOLIOS):
        assert materialize_range(START, END, config, assets=ASSETS).success
        yield folder / "data"


# ----------------------------------------------------------------------------- risk-pipeline summary


@pytest.fixture(scope="module")
def summary_text(lake):
    from contextlib import redirect_stdout
    from io import StringIO

    from risk_pipeline.cli import main

    out = StringIO()
    with redirect_stdout(out):
        assert main(["summary"]) == 0
    return out.getvalue()


def test_the_summary_prints_the_latest_var_and_es_of_the_catalog_per_confidence(lake, summary_text):
    expected = query(lake, """
        select portfolio, base_currency, method, confidence, var, es, var_amount, es_amount from var_estimates
        where horizon_days = 1 and date = (select max(date) from var_estimates)""")
    header, rows = printed_table(summary_text, "Every method's latest 1-day VaR and ES")
    assert header == "portfolio ccy date method VaR95 % ES95 % VaR99 % ES99 % VaR95 ES95 VaR99 ES99"
    assert len(rows) == 2 * len(METHODS)
    seen = set()
    for portfolio, ccy, date, method, *figures in rows:
        assert date == AS_OF.isoformat()
        assert len(figures) == 8
        mine = expected.loc[expected["portfolio"].eq(portfolio) & expected["method"].eq(method)].set_index("confidence")
        assert set(mine["base_currency"]) == {ccy}
        columns = [("VaR95 %", 0.95, "var", 100), ("ES95 %", 0.95, "es", 100), ("VaR99 %", 0.99, "var", 100),
                   ("ES99 %", 0.99, "es", 100), ("VaR95", 0.95, "var_amount", 1), ("ES95", 0.95, "es_amount", 1),
                   ("VaR99", 0.99, "var_amount", 1), ("ES99", 0.99, "es_amount", 1)]
        for text, (name, confidence, column, scale) in zip(figures, columns):
            assert_shows(text, mine.loc[confidence, column], scale, f"summary {portfolio}/{method} {name}")
        seen.add((portfolio, method))
    assert seen == {(p, m) for p in ("balanced", "held") for m in METHODS}
    # the figures differ between the confidences and measures this compares (else a swap would pass)
    assert expected.groupby(["portfolio", "method"])["es"].nunique().eq(2).all()


def test_the_summary_leaves_out_the_sections_of_tables_without_rows(summary_text):
    """The run has no FRTB stage: its catalog tables exist but are empty, and the summary says nothing
    of them (it printed pandas' 'Empty DataFrame' and the bare column list)."""
    assert "FRTB internal models" not in summary_text and "Bank capital" not in summary_text
    assert "Empty DataFrame" not in summary_text


def test_the_summary_prints_the_verdicts_breaches_and_light_of_the_catalog(lake, summary_text):
    short, long = WINDOWS
    assert f"trailing {long} and {short} trading days" in summary_text
    stored = query(lake, "select * from var_backtests where horizon_days = 1 and as_of = "
                       "(select max(as_of) from var_backtests)").set_index(["portfolio", "method", "confidence",
                                                                            "backtest_window_days"])
    header, rows = printed_table(summary_text, "Backtest verdicts")
    assert header == (f"portfolio as_of method {long}d 95% {long}d 99% {short}d 95% {short}d 99% "
                      f"breaches {short}d 99% Basel light")
    assert len(rows) == 2 * len(METHODS)
    for portfolio, as_of, method, v_long95, v_long99, v_short95, v_short99, breaches, light in rows:
        assert as_of == AS_OF.isoformat()
        mine = stored.loc[(portfolio, method)]
        assert [v_long95, v_long99, v_short95, v_short99] == [mine.loc[(0.95, long), "verdict"], mine.loc[(0.99, long), "verdict"],
                                                              mine.loc[(0.95, short), "verdict"], mine.loc[(0.99, short), "verdict"]]
        assert int(breaches) == mine.loc[(0.99, short), "n_breaches"]
        assert light == mine.loc[(0.99, short), "traffic_light"]
    # the run tells the columns apart: different counts per window, zones and verdicts per confidence
    assert stored["n_breaches"].nunique() > 3 and stored["traffic_light"].nunique() >= 2
    assert stored.xs(0.95, level="confidence")["verdict"].ne(stored.xs(0.99, level="confidence")["verdict"]).any()


def test_the_summary_prints_the_model_confidence_set_of_the_catalog(lake, summary_text):
    long = WINDOWS[-1]
    scores = query(lake, f"""
        select * from var_scores where horizon_days = 1 and mcs_computed and backtest_window_days = {long}
        and as_of = (select max(as_of) from var_scores where mcs_computed)""")
    lines = summary_text.split("Model Confidence Set (FZ0 loss")[1].split("\n\n")[0].splitlines()
    assert len(lines) == 2 + 2 * 2  # title, header, portfolios x confidences
    for (portfolio, confidence), rows in scores.groupby(["portfolio", "confidence"]):
        compared = rows.loc[rows["compared"]].sort_values("mean_fz0_loss")
        inside = ", ".join(compared.loc[compared["in_mcs"], "method"])
        worse = ", ".join(compared.loc[~compared["in_mcs"], "method"]) or "-"
        left = rows.loc[~rows["compared"]].sort_values("method")
        left_out = ", ".join(f"{r.method} ({r.not_compared_reason}, {r.n_obs} obs)" for r in left.itertuples()) or "-"
        obs = int(compared["comparison_obs"].max())
        pattern = (rf"^\s*{portfolio}\s+{AS_OF}\s+{confidence}\s+{long}\s+{obs}\s+{re.escape(inside)}\s+"
                   rf"{re.escape(worse)}\s+{re.escape(left_out)}\s*$")
        assert sum(bool(re.match(pattern, line)) for line in lines) == 1, (portfolio, confidence, inside, worse, lines)
    scores = scores.loc[scores["compared"]]
    assert (~scores["in_mcs"]).any()  # some method is outside: the 'worse' column is read


# ----------------------------------------------------------------------------- the risk report


@pytest.fixture(scope="module")
def page(lake):
    parser = PageTables()
    parser.feed((lake / "reports" / AS_OF.isoformat() / "risk_report.html").read_text())
    return parser


def _stored_at(lake, name: str, day_column: str = "date") -> pd.DataFrame:
    return query(lake, f"select * from {name} where {day_column} = '{AS_OF}'")


def _tables(page: PageTables, h2: str, h3: str, column: str) -> list[dict[str, str]]:
    """The rows (header -> cell text) of the one table under ``h2`` / ``h3`` with a ``column``."""
    (found,) = [(head, rows) for a, b, head, rows in page.tables if a == h2 and b == h3 and column in head]
    head, rows = found
    return [dict(zip(head, row, strict=True)) for row in rows]


def test_the_report_shows_the_latest_var_and_es_of_the_tables(lake, page):
    stored = _stored_at(lake, "var_estimates").set_index(["portfolio", "method", "confidence", "horizon_days"])
    official = _stored_at(lake, "risk_summary").set_index("portfolio")["method"]
    for portfolio in ("balanced", "held"):
        rows = _tables(page, "VaR and model choice", f"{portfolio} (USD)", "VaR 99% 1d (USD)")
        assert len(rows) == len(METHODS)
        for row in rows:
            method = row["method"].removesuffix(" (official)")
            assert row["method"].endswith(" (official)") == (method == official[portfolio])
            for label, confidence, column in (("VaR 99% 1d", 0.99, "var"), ("ES 99% 1d", 0.99, "es"),
                                              ("VaR 95% 1d", 0.95, "var")):
                value = stored.loc[(portfolio, method, confidence, 1)]
                shown_amount, shown_pct = row[f"{label} (USD)"].split()
                where = f"report {portfolio}/{method}/{label}"
                pct(shown_pct, value[column], where)
                assert_shows(shown_amount, value[f"{column}_amount"], where=where + " amount")
            assert row["VaR 99% 10d (USD)"] == "not configured"  # the run's horizons: 1 day only


def _check_backtest_cells(row: dict, stored: pd.Series, where: str) -> None:
    assert int(row["observations"]) == stored["n_obs"] and int(row["breaches"]) == stored["n_breaches"], where
    assert_shows(row["expected"], stored["expected_breaches"], where=where + " expected")
    assert row["traffic light"] == stored["traffic_light"], where
    assert_shows(row["plus factor"], stored["plus_factor"], where=where + " plus factor")


def test_the_report_shows_the_backtests_of_the_tables(lake, page):
    from risk_pipeline.report.html import TEST_COLUMNS

    stored = _stored_at(lake, "var_backtests", "as_of").set_index(
        ["portfolio", "method", "confidence", "horizon_days", "backtest_window_days"])
    for portfolio in ("balanced", "held"):
        rows = _tables(page, "Backtests", f"{portfolio}: realized return against VaR", "verdict")
        assert len(rows) == len(stored.loc[(portfolio, slice(None), 0.99, 1)])  # the 99% 1-day rows
        for row in rows:
            value = stored.loc[(portfolio, row["method"], 0.99, 1, int(row["window (days)"]))]
            where = f"report backtest {portfolio}/{row['method']}/{row['window (days)']}"
            _check_backtest_cells(row, value, where)
            for column, header in TEST_COLUMNS:
                if pd.isna(value[column]):
                    assert row[f"{header} p"] == "\u2014", where
                else:
                    assert_shows(row[f"{header} p"], value[column], where=f"{where} {header}")
            assert row["verdict"] == value["verdict"], where


def test_the_report_and_summary_alert_the_red_zone_of_the_tables(lake, page, summary_text):
    stored = query(lake, f"""select * from var_backtests where as_of = '{AS_OF}' and confidence = 0.99 and horizon_days = 1
                           and backtest_window_days = {WINDOWS[0]}""").set_index(["portfolio", "method"])
    official = _stored_at(lake, "risk_summary").set_index("portfolio")["method"]
    red = stored.loc[stored["traffic_light"].eq("red")]
    assert 0 < len(red) < len(stored)
    is_official = [official.get(p) == m for p, m in red.index]
    officials = {(p, m, str(r["n_breaches"])) for ((p, m), r), o in zip(red.iterrows(), is_official) if o}
    challenged = {p for (p, m), o in zip(red.index, is_official) if not o}
    assert officials and challenged
    for text in (" ".join(page.text), summary_text):
        # the alert box: the official methods in the red zone named with their breaches, the challengers counted
        (line,) = re.findall(r"Official methods in the red Basel zone: ((?:\w+ \w+ \(\d+ breach(?:es)? in \d+ days\)(?:; )?)+)",
                             text)
        assert set(re.findall(r"(\w+) (\w+) \((\d+) breaches in", line)) == officials, line
        assert f"Challenger methods in the red Basel zone: {len(challenged)} book" in text
    # every red method in full in summary.json's alerts (the report's detail: the Backtests section)
    alerts = " ".join(a["text"] for a in json.loads((lake / "reports" / AS_OF.isoformat() / "summary.json").read_text())["alerts"])
    found = set(re.findall(r"(\w+): official method (\w+) in the red Basel zone \((\d+) breaches", alerts))
    for portfolio, methods in re.findall(r"(\w+): challenger method\(s\) in the red Basel zone [^:]*: (\w+ \d+(?:, \w+ \d+)*)",
                                         alerts):
        found |= {(portfolio, m, n) for m, n in (pair.split() for pair in methods.split(", "))}
    assert found == {(p, m, str(r["n_breaches"])) for (p, m), r in red.iterrows()}


def test_the_report_shows_the_ranking_inputs_of_the_tables(lake, page):
    """average VaR = the mean of every stored VaR of the method over the ranking window's days; tests
    passed = Kupiec, Christoffersen and Z2 p >= 5% over the sufficient rows of that window; breaches /
    expected their sums' ratio; MCS counts from var_scores (ranking module docstring)."""
    long = WINDOWS[-1]
    levels = query(lake, f"""
        select portfolio, method, avg(var) as mean_var from var_estimates
        where date in (select distinct date from var_estimates where date <= '{AS_OF}' order by date desc limit {long})
        group by all""").set_index(["portfolio", "method"])
    tests = query(lake, f"""
        select portfolio, method, 3 * count(*) as n_tests,
               sum((kupiec_p >= 0.05)::int + (christoffersen_p >= 0.05)::int + (z2_p >= 0.05)::int) as n_passed,
               sum(n_breaches) / sum(expected_breaches) as ratio
        from var_backtests where as_of = '{AS_OF}' and backtest_window_days = {long} and verdict <> 'insufficient_data'
        group by all""").set_index(["portfolio", "method"])
    mcs = query(lake, f"""select portfolio, method, count(*) as n_mcs, sum(in_mcs::int) as n_in from var_scores
                        where as_of = '{AS_OF}' and backtest_window_days = {long} and compared and mcs_computed
                        group by all""").set_index(["portfolio", "method"])
    for portfolio in ("balanced", "held"):
        (ranking,) = [rows for h2, h3, head, rows in page.tables
                      if h2 == "VaR and model choice" and h3 == f"{portfolio} (USD)" and "rank" in head]
        assert len(ranking) == len(METHODS)
        for cells in ranking:
            _rank, method, n_in, n_mcs, _score, passed, n_tests, ratio, mean_var = cells
            key = (portfolio, method)
            pct(mean_var, levels.loc[key, "mean_var"], f"average VaR {key}")
            assert int(passed) == tests.loc[key, "n_passed"] and int(n_tests) == tests.loc[key, "n_tests"], key
            assert_shows(ratio, tests.loc[key, "ratio"], where=f"breach ratio {key}")
            assert int(n_in) == mcs.loc[key, "n_in"] and int(n_mcs) == mcs.loc[key, "n_mcs"], key


def test_the_report_shows_the_model_confidence_set_of_the_tables(lake, page):
    """Per portfolio, the FZ0 comparison at 99%, 1 day, over the longest window: each method's mean
    FZ0 loss minus the best's, its Diebold-Mariano p-value and its membership, from var_scores."""
    long = WINDOWS[-1]
    scores = query(lake, f"""select * from var_scores where as_of = '{AS_OF}' and confidence = 0.99 and horizon_days = 1
                             and backtest_window_days = {long} and compared""").set_index(["portfolio", "method"])
    for portfolio in ("balanced", "held"):
        (bars,) = [rows for h2, h3, head, rows in page.tables
                   if h2 == "VaR and model choice" and h3 == f"{portfolio} (USD)" and "DM p-value" in head]
        mine = scores.loc[portfolio].sort_values("mean_fz0_loss")
        assert [cells[0] for cells in bars] == list(mine.index)  # best first
        for method, _bar, difference, dm_p, member in bars:
            stored = mine.loc[method]
            assert_shows(difference, stored["mean_fz0_loss"] - mine["mean_fz0_loss"].min(), where=f"{portfolio}/{method}")
            assert_shows(difference, stored["fz0_diff_to_best"], where=f"{portfolio}/{method}")
            assert_shows(dm_p, stored["dm_p"], where=f"{portfolio}/{method} DM p")
            assert member == ("yes" if stored["in_mcs"] else "no")
    assert (~scores["in_mcs"]).any() and scores["in_mcs"].any()


def test_the_report_shows_the_statistics_of_the_stored_returns(lake, page):
    pnl = query(lake, f"select portfolio, date, simple_return from portfolio_pnl where date <= '{AS_OF}' "
                    "and simple_return is not null order by date")
    for portfolio in ("balanced", "held"):
        rows = {r["period"]: r for r in page_table(page, "VaR and model choice", "Performance of the books")
                if r["book"] == portfolio}
        r = pnl.loc[pnl["portfolio"].eq(portfolio), "simple_return"].to_numpy()  # the run is shorter than a year
        wealth = np.cumprod(1 + r)
        drawdown = np.max(1 - wealth / np.maximum.accumulate(np.maximum(wealth, 1.0)))
        for period in ("last 1y", "last 5y"):
            row, where = rows[period], f"statistics {portfolio} {period}"
            assert int(row["days"]) == len(r), where
            pct(row["total return"], wealth[-1] - 1, where + " total return")
            pct(row["annualized return"], wealth[-1] ** (252 / len(r)) - 1, where + " annualized return")
            pct(row["annualized volatility"], r.std(ddof=1) * np.sqrt(252), where + " volatility")
            assert_shows(row["Sharpe ratio (risk-free 0.00%)"], r.mean() / r.std(ddof=1) * np.sqrt(252), where=where + " Sharpe")
            pct(row["max drawdown"], drawdown, where + " max drawdown")


def test_the_report_shows_the_limit_status_of_the_table(lake, page):
    stored = _stored_at(lake, "limit_status").set_index(["portfolio", "measure", "horizon_days"])
    assert set(stored["status"]) == {"within_limits", "warning", "danger"}
    rows = page_table(page, "Limits")
    assert len(rows) == len(stored) == 3
    for row in rows:
        value = stored.loc[(row["book"], row["measure"].lower(), int(row["horizon (days)"]))]
        where = f"limit {row['book']}/{row['measure']}"
        pct(row["confidence"], value["confidence"], where)
        assert_shows(row["measured (book currency)"], value["measured_amount"], where=where)
        assert_shows(row["limit (book currency)"], value["limit_amount"], where=where)
        pct(row["utilisation"], value["utilization"], where)
        assert row["status"] == value["status"]


def _morning_rows(page):
    from risk_pipeline.report.morning import HEADERS

    (rows,) = [rows for h2, h3, head, rows in page.tables if [h.split(" ")[0] for h in head][:2] == ["book", "official"]]
    return [dict(zip(HEADERS, cells, strict=True)) for cells in rows]


def test_the_summary_prints_the_morning_table_of_the_report_s_first_page(lake, page, summary_text):
    """The same cells, from risk_summary: official figures equal var_estimates' of the official method; the summary
    prints each book's row as a line of figures and a line of notes, the page's cells joined."""
    official = _stored_at(lake, "risk_summary").set_index("portfolio")
    var = _stored_at(lake, "var_estimates").set_index(["portfolio", "method", "confidence", "horizon_days"])
    rows = _morning_rows(page)
    assert [r["book"].split()[0] for r in rows] == ["balanced", "held"]
    lines = summary_text.splitlines()
    for row in rows:
        portfolio = row["book"].split()[0]
        (at,) = [i for i, line in enumerate(lines) if line.startswith(f"{portfolio} ")]
        printed = (lines[at] + " " + lines[at + 1]).split()
        # every word of the page's row is printed, in the summary's two lines (figures, then notes)
        assert sorted(" ".join(row.values()).replace("\u00b7", " ").split()) == sorted(printed), (row, printed)
        method = official.loc[portfolio, "method"]
        stored = var.loc[(portfolio, method, 0.99, 1)]
        amount, share = row["VaR 1d"].split(" \u00b7 ")
        assert_shows(amount, stored["var_amount"], where=f"{portfolio} official VaR")
        pct(share, stored["var"], f"{portfolio} official VaR %")
        amount, share = row["ES 1d"].split(" \u00b7 ")
        assert_shows(amount, stored["es_amount"], where=f"{portfolio} official ES")
        assert row["official method"].startswith(method)


def test_the_morning_table_shows_each_books_exposure_positions_and_turnover(lake, page, summary_text):
    """Recomputed from the closes: the weight book holds its notional (gross = net = 1,000,000, 3 positions) and
    trades each day back to its weights, w N |r_i,t| per instrument; the quantity book holds 1,000 MSFT and -200
    KO and never trades. Turnover: the traded value of the last 21 days over the day's value."""
    from risk_pipeline.report.morning import TURNOVER_DAYS

    closes = query(lake, "select date, symbol, close from prices").pivot(index="date", columns="symbol",
                                                                        values="close").sort_index()
    closes = closes.loc[:pd.Timestamp(AS_OF)]
    moves = (closes / closes.shift(1) - 1.0).iloc[-TURNOVER_DAYS:]
    weights = {"AAPL": 0.4, "JPM": 0.3, "XOM": 0.3}
    last = closes.iloc[-1]
    expected = {
        "balanced": (1e6, 1e6, 3, sum(1e6 * w * moves[s].abs().sum() for s, w in weights.items()) / 1e6),
        "held": (1000 * last["MSFT"] + 200 * last["KO"], 1000 * last["MSFT"] - 200 * last["KO"], 2, 0.0),
    }
    for row in _morning_rows(page):
        book = row["book"].split()[0]
        gross, net, n, turnover = expected[book]
        match = re.fullmatch(r"(\S+) / (\S+) (\d+) pos\., (\S+) traded", row["exposure"])
        assert match, row["exposure"]
        assert_shows(match[1], gross, where=f"{book} gross")
        assert_shows(match[2], net, where=f"{book} net")
        assert int(match[3]) == n
        pct(match[4], turnover, f"{book} turnover")
        assert f"{match[1]} / {match[2]}" in summary_text and f"{n} pos., {match[4]} traded" in summary_text


def test_summary_json_and_csvs_hold_the_table_values(lake):
    folder = lake / "reports" / AS_OF.isoformat()
    summary = json.loads((folder / "summary.json").read_text())
    keys = ["portfolio", "method", "confidence", "horizon_days"]
    var = _stored_at(lake, "var_estimates").sort_values(keys, ignore_index=True)
    for shown in (pd.DataFrame(summary["latest_var"]), pd.read_csv(folder / "latest_var.csv")):
        shown = shown.sort_values(keys, ignore_index=True)
        for column in ("var", "es", "var_amount", "es_amount"):
            np.testing.assert_allclose(shown[column], var[column], rtol=1e-12, err_msg=column)
    keys = ["portfolio", "method", "confidence", "horizon_days", "backtest_window_days"]
    backtests = _stored_at(lake, "var_backtests", "as_of").sort_values(keys, ignore_index=True)
    shown = pd.read_csv(folder / "backtests.csv").sort_values(keys, ignore_index=True)
    for column in ("n_breaches", "expected_breaches", "kupiec_p", "z2_p", "plus_factor"):
        np.testing.assert_allclose(shown[column], backtests[column], rtol=1e-12, err_msg=column)
    assert shown["verdict"].tolist() == backtests["verdict"].tolist()
    lights = backtests.loc[backtests["confidence"].eq(0.99) & backtests["horizon_days"].eq(1)
                           & backtests["backtest_window_days"].eq(WINDOWS[0])]
    for shown in (pd.DataFrame(summary["traffic_light"]), pd.read_csv(folder / "traffic_light.csv")):
        merged = shown.merge(lights, on=["portfolio", "method"], suffixes=("", "_stored"))
        assert len(merged) == len(lights)
        assert (merged["n_breaches"] == merged["n_breaches_stored"]).all()
        assert (merged["traffic_light"] == merged["traffic_light_stored"]).all()
    assert {(r["portfolio"], r["method"]) for r in summary["red_zone"]} == set(
        map(tuple, lights.loc[lights["traffic_light"].eq("red"), ["portfolio", "method"]].to_numpy()))
