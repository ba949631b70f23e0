"""The risk report rendered from a real materialization, and the red-zone asset check.

The graph runs in process over 2017 (a calm year: no method reaches the red zone) and over the
second half of 2008 with a 10-day historical window at 99% (the 99% quantile of 10 losses is
about their maximum, so a breach comes about one day in 11: ~10x the 1% the model promises,
far above the 10-in-250 red threshold).
"""

from __future__ import annotations

import datetime as dt
import gc
import html
import json
import multiprocessing
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import dagster as dg
import pytest

from risk_pipeline.defs.backtests import no_method_in_red_zone
from risk_pipeline.report.morning import HEADERS
from risk_pipeline.report.publish import CSV_TABLES, PUBLICATIONS, SUMMARY_KEYS, write_report
from risk_pipeline.storage.lake import empty_frame, write_days
from risk_pipeline.storage.maintenance import snapshot
from risk_pipeline.report.summary import _trailing_counts, report_dates
from risk_pipeline.risk.backtests.traffic_light import basel_zone_thresholds
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, core_assets, fast_run_config, materialize_range, module_lake, query


def _build(tmp_path_factory, start, end, run_config, assets):
    root = tmp_path_factory.mktemp("report")
    (root / "data").mkdir()
    with module_lake(root, SMALL_PORTFOLIOS):
        result = materialize_range(start, end, run_config, assets=assets + [no_method_in_red_zone])
    assert result.success
    return root / "data", result


def _check(result):
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_method_in_red_zone"]
    return evaluation


@pytest.fixture(scope="module")
def calm(tmp_path_factory):
    limits = tmp_path_factory.mktemp("limits") / "limits.yaml"
    limits.write_text("portfolios:\n  balanced: [{measure: var, amount: 50000}]\n  held: [{measure: es, amount: 9000}]\n")
    config = fast_run_config(estimation_window_days=60, methods=["historical", "parametric_normal"])
    config["ops"]["limit_status"] = {"config": {"limits_file": str(limits), "estimation_window_days": 60}}
    return _build(tmp_path_factory, "2017-01-03", "2017-12-29", config, ALL_ASSETS)


@pytest.fixture(scope="module")
def breaching(tmp_path_factory):
    return _build(tmp_path_factory, "2008-07-01", "2008-12-31", fast_run_config(estimation_window_days=10), core_assets())


class _Page(HTMLParser):
    """Collects images, table headers, headings and every URL-bearing attribute."""

    def __init__(self):
        super().__init__()
        self.images, self.tables, self.headings, self.urls, self.scripts = [], [], [], [], 0
        self._in_th = self._in_h = False
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [v for k, v in attrs.items() if k in ("src", "href") and v]
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "table":
            self.tables.append([])
        elif tag == "th":
            self._in_th, self._text = True, ""
        elif tag in ("h1", "h2", "h3"):
            self._in_h, self._text = True, ""
        elif tag in ("script", "link", "iframe"):
            self.scripts += 1

    def handle_data(self, data):
        if self._in_th or self._in_h:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "th" and self._in_th:
            self.tables[-1].append(self._text.strip())
            self._in_th = False
        elif tag in ("h1", "h2", "h3") and self._in_h:
            self.headings.append(self._text.strip())
            self._in_h = False


def test_the_report_folder_holds_a_self_contained_page_with_charts_and_tables(calm):
    data_dir, _ = calm
    folder = data_dir / "reports" / "2017-12-29"
    page = _Page()
    text = (folder / "risk_report.html").read_text()
    page.feed(text)
    # the traffic-light grid, a P&L-vs-VaR chart per portfolio, stress and limit utilisation (a year is
    # shorter than the attribution's 756-day window: no component VaR, and the section says why)
    alts = re.findall(r'<img alt="([^"]*)"', text)
    assert alts == ["traffic light chart", "balanced: return vs VaR and rolling breaches",
                    "held: return vs VaR and rolling breaches", "stress losses", "limit utilisation over time"], alts
    assert "No var_decomposition row up to 2017-12-29" in text
    assert text.count("statistically indistinguishable from it") + text.count("worse (outside the 90%") >= 2
    assert all(src.startswith("data:image/png;base64,") and len(src) > 2000 for src in page.images)  # palette PNGs
    assert page.scripts == 0
    assert "http://" not in text and "https://" not in text
    assert all(not u.startswith(("http:", "https:", "//")) for u in page.urls)
    # first the morning table, then a table of contents and one section per concern, each opening with a sentence
    assert [h.split(" ")[:len(n.split())] for h, n in zip(page.tables[0], HEADERS)] == [n.split() for n in HEADERS]
    assert text.index('class="morning"') < text.index('class="toc"') < text.index('id="model"')
    sections = ["VaR and model choice", "Backtests", "Attribution", "Stress", "Limits", "FRTB capital",
                "Exports and sources"]
    assert [h for h in page.headings if h in sections] == sections
    for key in ("model", "backtests", "attribution", "stress", "limits", "frtb", "exports"):
        assert f'href="#{key}"' in text and re.search(f'<h2 id="{key}">[^<]*</h2><p class="lead">[A-Z]', text), key
    headers = [set(t) for t in page.tables]
    assert any({"Kupiec POF p", "Christoffersen ind. p", "Cond. coverage p", "Kupiec TUFF p", "Duration (Weibull) p",
                "Dynamic quantile p", "Acerbi-Szekely Z2 p", "McNeil-Frey p", "verdict", "traffic light"} <= h
               for h in headers)
    assert any({"rank", "method", "score"} <= h for h in headers)
    # per portfolio the FZ0 loss against the best method as CSS bars, coloured by MCS membership
    assert sum({"DM p-value", "in 90% MCS"} <= h for h in headers) == 2
    assert text.count('class="bar green"') + text.count('class="bar red"') >= 2
    assert any({"annualized return", "annualized volatility", "max drawdown"} <= h for h in headers)
    assert any({"VaR 99% 1d (USD)", "ES 99% 1d (USD)", "VaR 95% 1d (USD)"} <= h for h in headers)
    assert "non-overlapping" in text
    # the limit section says how its values are measured, as the summary and pre-trade do
    assert any({"measured (book currency)", "limit (book currency)", "utilisation", "status"} <= h for h in headers)
    assert "measured by historical_positions: historical simulation of the positions held" in text
    assert "default risk charge are out of scope" in text
    # numbers for people: no raw missing values, no timestamps, no raw column names as headers
    visible = re.sub(r"<[^>]+>", " ", re.sub(r'src="[^"]*"', "", text))
    for raw in (" None ", " nan ", " NaN ", "00:00:00", " n/a "):
        assert raw not in visible, raw
    assert not any("_" in h for t in page.tables for h in t), [h for t in page.tables for h in t if "_" in h]


def test_summary_json_and_csv_exports(calm):
    data_dir, _ = calm
    folder = data_dir / "reports" / "2017-12-29"
    summary = json.loads((folder / "summary.json").read_text())
    assert tuple(summary) == SUMMARY_KEYS
    assert summary["as_of"] == "2017-12-29" and summary["portfolios"] == ["balanced", "held"]
    assert summary["red_zone"] == [] and summary["overlapping_observations"] is False
    assert set(summary["recommended_method"]) == {"balanced", "held"}
    assert "stress_results" in summary["optional_tables"]
    assert {"frtb_es", "frtb_desks", "frtb_capital"} <= set(summary["optional_tables"])
    assert [d["portfolio"] for d in summary["frtb"]["desks"]] == ["balanced", "bank", "held"]
    assert set(summary["model_confidence_set"]) == {"balanced", "held"}
    assert all("lowest FZ0 loss" in v for v in summary["model_confidence_set"].values())
    # the versions the report read: reading them again reproduces its backtests table
    version = summary["table_versions"]["var_backtests"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISK_PIPELINE_DATA", str(data_dir))
        then = snapshot("var_backtests", version=version).to_pandas()
    assert len(then.loc[then["as_of"] == dt.date(2017, 12, 29)]) == len(pd.read_csv(folder / "backtests.csv"))
    for name in CSV_TABLES:
        frame = pd.read_csv(folder / f"{name}.csv")
        assert len(frame) > 0, name
    backtests = pd.read_csv(folder / "backtests.csv")
    assert set(backtests["backtest_window_days"]) == {250, 1000}
    assert len(backtests) == 2 * 2 * 2 * 2  # portfolios x methods x confidences x windows
    pnl = pd.read_csv(folder / "pnl_vs_var.csv", parse_dates=["date"])
    assert (pnl["breach"] == (pnl["loss"] > pnl["var"])).all()
    # the rolling count over fewer than 250 days is the running count of breaches
    one = pnl[(pnl["portfolio"] == "held") & (pnl["method"] == "historical") & (pnl["confidence"] == 0.99)]
    assert (one["rolling_breaches"].to_numpy() == one["breach"].cumsum().to_numpy()).all()
    lights = pd.read_csv(folder / "traffic_light.csv")
    assert lights.set_index(["portfolio", "method"])["n_breaches"].loc[("held", "historical")] == one["breach"].sum()
    stats = pd.read_csv(folder / "statistics.csv")
    assert set(stats["period"]) == {"last 1y", "last 5y"}


def test_only_the_last_day_of_a_range_gets_a_report_and_metadata_links_it(calm):
    data_dir, result = calm
    assert [p.name for p in (data_dir / "reports").iterdir() if not p.name.startswith(".")] == ["2017-12-29"]
    meta = result.asset_materializations_for_node("risk_report")[-1].metadata
    assert meta["report_path"].value == str(data_dir / "reports" / "2017-12-29" / "risk_report.html")
    assert meta["report_url"].value.startswith("file://")
    # a 260-partition run links the files instead of copying the verdict table and the chart onto
    # every partition's materialization (metadata.DETAIL_MAX_PARTITIONS)
    assert "verdict" not in meta and "traffic_light_chart" not in meta
    assert meta["traffic_light_png"].value == str(data_dir / "reports" / "2017-12-29" / "traffic_light.png")
    assert (data_dir / "reports" / "2017-12-29" / "traffic_light.png").stat().st_size > 1000


def test_red_zone_check_passes_on_a_calm_year(calm):
    evaluation = _check(calm[1])
    assert evaluation.passed
    assert evaluation.metadata["methods_checked"].value == 4


def test_red_zone_check_warns_on_a_portfolio_that_breaches_too_often(breaching):
    evaluation = _check(breaching[1])
    assert not evaluation.passed
    assert evaluation.severity.value == "WARN"
    assert evaluation.metadata["as_of"].value == "2008-12-31"
    assert sorted(evaluation.metadata["red_pairs"].value) == ["balanced/historical", "held/historical"]


_RED_ZONE_DAY = dt.date(2008, 12, 31)


def _with_official_methods(breaching, tmp_path, monkeypatch, official: dict[str, str]):
    """A copy of the breaching lake whose risk_summary of 2008-12-31 names ``official`` (book -> method) as the
    official methods; its data folder and that day."""
    data = tmp_path / "data"
    shutil.copytree(breaching[0], data)
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(data))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(breaching[0].parent / "portfolios.yaml"))
    day = _RED_ZONE_DAY
    rows = empty_frame("risk_summary").reindex(range(len(official)))
    rows["portfolio"], rows["method"] = list(official), list(official.values())
    rows["date"] = pd.Timestamp(day)
    write_days("risk_summary", rows.astype({"date": "datetime64[ns]"}), [day], keys=list(official))
    return data, day


def _red_zone_check():
    """The evaluation of no_method_in_red_zone in a run over December 2008."""
    tags = {"dagster/asset_partition_range_start": "2008-12-01",
            "dagster/asset_partition_range_end": _RED_ZONE_DAY.isoformat()}
    result = dg.materialize(ALL_ASSETS + [no_method_in_red_zone], selection=dg.AssetSelection.checks(no_method_in_red_zone),
                            tags=tags)
    return _check(result)


def test_red_zone_check_fails_for_official_methods_only_and_reports_challengers(breaching, tmp_path, monkeypatch):
    """balanced's official method (risk_summary) is parametric_normal, out of the red zone: its
    historical challenger there is reported; held's official method is historical: the check fails."""
    _with_official_methods(breaching, tmp_path, monkeypatch, {"balanced": "parametric_normal", "held": "historical"})
    evaluation = _red_zone_check()
    assert not evaluation.passed and evaluation.severity.value == "WARN"
    assert sorted(evaluation.metadata["red_pairs"].value) == ["balanced/historical", "held/historical"]
    assert evaluation.metadata["failing_pairs"].value == ["held/historical"]
    assert evaluation.description == ("1 official portfolio/method pair(s) in the red zone as of 2008-12-31; "
                                      "1 challenger(s) in it, reported")


def test_red_zone_check_fails_for_an_option_books_full_revaluation(breaching, tmp_path, monkeypatch):
    """An option book has no risk_summary row: its official VaR is its full revaluation (the summary's and the
    report's "Official methods in the red Basel zone"), so the check fails for it there, and its delta_gamma_vega
    in the red zone is a challenger. Before, the check passed while the summary printed the breach."""
    data, day = _with_official_methods(breaching, tmp_path, monkeypatch,
                                       {"balanced": "parametric_normal", "held": "parametric_normal"})
    stored = query(data, f"select * from var_backtests where as_of = '{day}' and portfolio = 'held' "
                         "and method = 'historical'")
    option = pd.concat([stored.assign(portfolio="options", method=m) for m in ("full_revaluation", "delta_gamma_vega")],
                       ignore_index=True)
    write_days("var_backtests", option.astype({"as_of": "datetime64[ns]"}), [day], keys=["options"])
    evaluation = _red_zone_check()
    assert not evaluation.passed
    assert evaluation.metadata["failing_pairs"].value == ["options/full_revaluation"]
    assert evaluation.description == ("1 official portfolio/method pair(s) in the red zone as of 2008-12-31; "
                                      "3 challenger(s) in it, reported")


def test_report_dates_and_zone_thresholds():
    days = [dt.date(2020, 1, 30), dt.date(2020, 1, 31), dt.date(2020, 2, 3), dt.date(2020, 2, 27), dt.date(2020, 3, 2)]
    assert report_dates(days, dt.date(2020, 1, 1), dt.date(2020, 3, 6), month_ends=False) == [dt.date(2020, 3, 2)]
    assert report_dates(days, dt.date(2020, 1, 1), dt.date(2020, 3, 6), month_ends=True) == [
        dt.date(2020, 1, 31), dt.date(2020, 2, 27), dt.date(2020, 3, 2)]
    assert report_dates(days, dt.date(2021, 1, 1), dt.date(2021, 2, 1), month_ends=True) == []
    assert basel_zone_thresholds(250) == (5, 10)  # the Basel table: yellow 5-9, red 10+


def test_trailing_breach_counts_equal_a_rolling_sum_per_series():
    rng = np.random.default_rng(7)
    for n, window in ((0, 5), (1, 1), (300, 1), (300, 7), (300, 250), (900, 250)):
        keys = pd.DataFrame({"portfolio": np.sort(rng.choice(["a", "b", "c"], n)),
                             "method": rng.choice(["historical", "ewma"], n), "confidence": rng.choice([0.95, 0.99], n)})
        keys = keys.sort_values(list(keys.columns), kind="stable", ignore_index=True)
        flags = rng.random(n) < 0.2
        expected = (pd.Series(flags, dtype="int64").groupby([keys[c] for c in keys.columns], sort=False)
                    .transform(lambda s: s.rolling(window, min_periods=1).sum()).astype("int64"))
        assert np.array_equal(_trailing_counts(flags, keys, window), expected.to_numpy()), (n, window)


def test_the_mean_var_per_method_is_duckdb_s_average_in_date_confidence_horizon_order_to_the_last_bit(monkeypatch):
    import duckdb

    from risk_pipeline.report import summary

    rng = np.random.default_rng(3)
    days = pd.bdate_range("2020-01-01", periods=40)
    rows = pd.DataFrame([(d, p, m, c, h) for d in days for p in ("b", "a") for m in ("hs", "ewma", "none")
                         for c in (0.99, 0.95) for h in (10, 1)],
                        columns=["date", "portfolio", "method", "confidence", "horizon_days"])
    # magnitudes far apart: a sum in another order (pandas' mean, confidence before horizon) has other bits
    rows["var"] = rng.choice([-1.0, 1.0], len(rows)) * 10.0 ** rng.uniform(-3, 16, len(rows))
    rows.loc[rows["method"].eq("none"), "var"] = np.nan  # a method without any VaR: NaN, as avg's NULL
    rows.loc[rng.random(len(rows)) < 0.1, "var"] = np.nan  # a missing VaR is left out
    shuffled = rows.sample(frac=1.0, random_state=5, ignore_index=True)  # read in no particular order
    monkeypatch.setattr(summary, "read_days", lambda *a, **k: shuffled)
    got = summary._var_levels(list(days)).sort_values(["portfolio", "method"], ignore_index=True)
    expected = duckdb.sql("SELECT portfolio, method, avg(var ORDER BY date, confidence, horizon_days) AS mean_var "
                          "FROM shuffled GROUP BY portfolio, method ORDER BY portfolio, method").df()
    assert got[["portfolio", "method"]].equals(expected[["portfolio", "method"]])
    assert np.array_equal(got["mean_var"].to_numpy(), expected["mean_var"].to_numpy(), equal_nan=True)
    assert got["mean_var"].isna().sum() == 2


def test_the_mcs_sentence_states_the_common_days_and_the_methods_left_out():
    from risk_pipeline.report.summary import mcs_sentence

    rows = pd.DataFrame({"method": ["ewma", "historical"], "in_mcs": [True, False], "mcs_computed": [True, True],
                         "best_method": ["ewma", "ewma"], "comparison_obs": [754, 754]})
    left_out = pd.DataFrame({"method": ["monte_carlo"], "not_compared_reason": ["under_half_the_window"],
                             "n_obs": [240]})
    text = mcs_sentence(rows, 1000, left_out)
    assert "over the last 1000 trading days (754 observations common to the methods compared)" in text
    assert "historical is worse" in text
    assert text.endswith("Left out: monte_carlo (scored on fewer than half of the window's observations up to its "
                         "last one: 240 observations).")
    assert "Left out" not in mcs_sentence(rows, 1000, left_out.iloc[:0])


def _republishing(calm, tmp_path, monkeypatch):
    """A copy of the calm run's data folder and what publishes its report again."""
    from risk_pipeline.defs.report import ReportConfig
    from risk_pipeline.report.summary import build_report_data

    data_dir = tmp_path / "data"
    shutil.copytree(calm[0], data_dir, symlinks=True)
    (tmp_path / "portfolios.yaml").write_text(SMALL_PORTFOLIOS)
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(data_dir))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(tmp_path / "portfolios.yaml"))
    data = build_report_data(dt.date(2017, 12, 29), ReportConfig().settings())
    return data_dir / "reports", lambda: write_report(data, data_dir / "reports")


def _contents(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_report_is_published_whole_and_earlier_publications_make_way(calm, tmp_path, monkeypatch):
    reports, publish = _republishing(calm, tmp_path, monkeypatch)
    link = reports / "2017-12-29"
    before = _contents(link)
    for _ in range(3):
        files = publish()
        assert link.is_symlink() and files.html == link / "risk_report.html"
        assert _contents(link) == before  # the same data: the same files, none left over
    store = reports / PUBLICATIONS / "2017-12-29"
    kept = [p.name for p in store.iterdir() if p.is_dir()]
    assert len(kept) == 4 and link.resolve().name == max(kept)  # every publication is kept, the link on the latest


def test_a_failed_or_killed_publication_leaves_the_previous_report_as_it_was(calm, tmp_path, monkeypatch):
    reports, publish = _republishing(calm, tmp_path, monkeypatch)
    link = reports / "2017-12-29"
    before, target = _contents(link), link.resolve()
    # a publication killed half-way leaves a partial folder behind; one failing in the HTML leaves nothing
    store = reports / PUBLICATIONS / "2017-12-29"
    killed = store / ".0123abcd.tmp"
    killed.mkdir()
    (killed / "summary.json").write_text("{")
    # killed after its folder was complete but before the link (its name sorts after every other), and
    # one killed between staging its link and the rename
    unlinked = store / f"{9 * 10**19:020d}-deadbeef"
    shutil.copytree(target, unlinked)
    staged = reports / ".2017-12-29.0123abcd.link"
    staged.symlink_to(unlinked)

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    with monkeypatch.context() as mp:
        mp.setattr("risk_pipeline.report.publish.csv_bytes", lambda frame: b"other figures\n")  # written first
        mp.setattr("risk_pipeline.report.publish.render_html", broken)
        with pytest.raises(OSError, match="No space left"):
            publish()
    assert link.resolve() == target and _contents(link) == before
    assert [p.name for p in store.iterdir() if p.name.endswith(".tmp")] == [".0123abcd.tmp"]
    publish()  # the next publication is whole and clears what the dead ones left
    assert _contents(link) == before and not [p for p in store.iterdir() if p.name.endswith(".tmp")]
    assert not [p for p in reports.iterdir() if p.name.endswith(".link")] and not staged.is_symlink()
    # kept: the new publication and the one it replaced (not the never-linked one)
    assert sorted(p for p in store.iterdir() if p.is_dir()) == sorted([target, link.resolve()])


def test_the_charts_drawn_in_a_child_process_are_those_drawn_in_this_one(calm, tmp_path, monkeypatch):
    from risk_pipeline.defs.report import ReportConfig
    from risk_pipeline.report import forked
    from risk_pipeline.report.publish import write_files
    from risk_pipeline.report.summary import build_report_data

    if not forked.can_fork():
        pytest.skip("no fork or a single core here")
    reports, _ = _republishing(calm, tmp_path, monkeypatch)
    data = build_report_data(dt.date(2017, 12, 29), ReportConfig().settings())
    (tmp_path / "forked").mkdir()
    write_files(data, tmp_path / "forked")
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    (tmp_path / "here").mkdir()
    write_files(data, tmp_path / "here")
    forked_files, here = _contents(tmp_path / "forked"), _contents(tmp_path / "here")
    assert forked_files == here and forked_files == _contents(reports / "2017-12-29")
    assert b"data:image/png;base64," in here["risk_report.html"]


def test_a_report_whose_charts_are_drawn_from_its_first_part_while_the_rest_is_read_is_the_same(calm, tmp_path,
                                                                                                monkeypatch):
    from risk_pipeline.defs.report import ReportConfig
    from risk_pipeline.report import forked, publish
    from risk_pipeline.report.publish import publish_report, write_files
    from risk_pipeline.report.summary import build_report_data, read_head, read_history

    if not forked.can_fork():
        pytest.skip("no fork or a single core here")
    _republishing(calm, tmp_path, monkeypatch)
    as_of, settings = dt.date(2017, 12, 29), ReportConfig().settings()
    head = read_head(as_of, settings)
    collecting, children = [], []
    monkeypatch.setattr(publish, "build_report_data", lambda *a: collecting.append(gc.isenabled()) or build_report_data(*a))
    # the P&L-vs-VaR history is read once the chart child runs, not before it is forked
    monkeypatch.setattr(publish, "read_history",
                        lambda h: children.append(len(multiprocessing.active_children())) or read_history(h))
    assert gc.isenabled()
    data, files = publish_report(as_of, settings, tmp_path / "early")
    assert files.html == tmp_path / "early" / "2017-12-29" / "risk_report.html"
    assert collecting == [False] and gc.isenabled()  # the cyclic collector paused while the report is made
    assert children == [1]
    monkeypatch.setattr(forked, "can_fork", lambda: False)  # everything read, then drawn here
    (tmp_path / "here").mkdir()
    write_files(build_report_data(as_of, settings), tmp_path / "here")
    assert _contents(tmp_path / "early" / "2017-12-29") == _contents(tmp_path / "here")
    assert data.pnl_vs_var.equals(read_history(head).pnl_vs_var) and data.traffic_light.equals(head.traffic_light)


def test_the_morning_table_from_the_frames_the_report_read_is_the_one_read_by_itself(calm, monkeypatch):
    from risk_pipeline.defs.report import ReportConfig
    from risk_pipeline.report.morning import load_morning, morning_cells
    from risk_pipeline.report.summary import build_report_data

    monkeypatch.setenv("RISK_PIPELINE_DATA", str(calm[0]))
    as_of = dt.date(2017, 12, 29)
    alone, reused = load_morning(as_of), build_report_data(as_of, ReportConfig().settings()).morning
    assert reused.alerts == alone.alerts and morning_cells(reused) == morning_cells(alone)
    assert len(alone.limits) and len(alone.lights) and len(alone.stress)  # the frames the report read are compared
    def sort(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values([c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c])],
                                 ignore_index=True)

    for name in ("limits", "lights", "stress", "frtb", "capital"):
        pd.testing.assert_frame_equal(sort(getattr(reused, name)), sort(getattr(alone, name)))


def test_a_report_folder_of_an_earlier_version_becomes_a_publication(calm, tmp_path, monkeypatch):
    reports, publish = _republishing(calm, tmp_path, monkeypatch)
    link = reports / "2017-12-29"
    before = _contents(link)
    shutil.rmtree(reports / PUBLICATIONS)
    link.unlink()
    link.mkdir()
    for name, content in before.items():
        (link / name).write_bytes(content)
    (link / "stale.csv").write_text("a file the new publication does not write\n")
    publish()
    assert link.is_symlink() and _contents(link) == before
    publications = sorted(p.name for p in (reports / PUBLICATIONS / "2017-12-29").iterdir() if p.is_dir())
    assert publications[0].endswith("-earlier") and link.resolve().name == publications[-1]  # the old one is older


def test_risk_summary_holds_the_official_method_of_the_month_and_its_figures(calm):
    data_dir, _ = calm
    from risk_pipeline_tests.pipeline_helpers import query

    rows = query(data_dir, "select * from risk_summary order by portfolio, date")
    assert set(rows["portfolio"]) == {"balanced", "held"} and rows["date"].max() == pd.Timestamp("2017-12-29")
    # the figures are those of var_estimates for the official method, at 99%
    joined = query(data_dir, """
        select s.date, s.portfolio, s.var_1d_amount, v.var_amount, s.es_1d, v.es
        from risk_summary s join var_estimates v
          on v.date = s.date and v.portfolio = s.portfolio and v.method = s.method
         and v.confidence = 0.99 and v.horizon_days = 1""")
    assert len(joined) == len(rows)
    assert np.allclose(joined["var_1d_amount"], joined["var_amount"]) and np.allclose(joined["es_1d"], joined["es"])
    # recommended: the best method of the latest Model Confidence Set computed before the month began
    sets = query(data_dir, """
        select as_of, portfolio, any_value(best_method) as best from var_scores
        where mcs_computed and confidence = 0.99 and horizon_days = 1 and backtest_window_days = 1000
        group by all order by as_of""")
    recommended = rows.loc[rows["method_rule"].eq("recommended")]
    assert len(recommended) > 100
    for row in recommended.itertuples():
        month = row.date.replace(day=1)
        before = sets.loc[sets["portfolio"].eq(row.portfolio) & (sets["as_of"] < month)].iloc[-1]
        assert (row.method, row.method_chosen_as_of) == (before["best"], before["as_of"])
    assert (rows.groupby(["portfolio", rows["date"].dt.to_period("M")])["method"].nunique() == 1).all()
    known = rows.loc[rows["var_1d_amount_change"].notna()]
    assert len(known) == len(rows) - 2  # every day but each book's first
    parts = known[["var_1d_change_positions", "var_1d_change_market", "var_1d_change_method"]].sum(axis=1)
    assert np.allclose(parts, known["var_1d_amount_change"])


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# written into a copy of the page: the layout's sizes as the page's title, which --dump-dom prints
_PROBE = """<script>
var d = document.documentElement, t = document.querySelector("table.morning");
var wide = Array.from(document.querySelectorAll("div.scroll, table")).filter(e => e.scrollWidth > e.clientWidth + 1);
document.title = JSON.stringify({scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, height: d.scrollHeight,
                                 tableBottom: t.getBoundingClientRect().bottom, wide: wide.length});
</script>"""


def rendered_layout(page, folder, width=1400, height=900):
    """The page's layout in headless Chromium at ``width`` x ``height`` px (a copy with a probe script)."""
    probe = folder / "probe.html"
    probe.write_text(page.read_text().replace("</body>", _PROBE + "</body>"))
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              f"--window-size={width},{height}", "--virtual-time-budget=5000", f"--user-data-dir={folder / 'chrome'}"]
    dom = subprocess.run([*common, "--dump-dom", probe.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    return json.loads(html.unescape(re.search(r"<title>(.*?)</title>", dom, re.S).group(1)))


def test_the_first_screen_at_1400_px_holds_the_morning_table_and_nothing_scrolls_sideways(calm, tmp_path):
    assert CHROMIUM, "headless Chromium is needed: apt-get install chromium (.ci/run does it)"
    page = calm[0] / "reports" / "2017-12-29" / "risk_report.html"
    layout = rendered_layout(page, tmp_path)
    assert layout["scrollWidth"] <= layout["clientWidth"] == 1400
    assert layout["wide"] == 0  # no table wider than its box
    assert layout["tableBottom"] <= 900  # the morning table ends within the first screen


def test_a_published_report_is_rebuilt_byte_identical_from_its_table_versions(calm, tmp_path, monkeypatch, capsys):
    from risk_pipeline.cli import main
    from risk_pipeline.report.publish import publications
    from risk_pipeline.storage.lake import delete_key

    reports, _ = _republishing(calm, tmp_path, monkeypatch)
    day = dt.date(2017, 12, 29)
    first = publications(reports, day)[0]
    # the lake moves on after the publication: one book's official figures and limits deleted
    delete_key("risk_summary", "held")
    delete_key("limit_status", "held")
    out = tmp_path / "rebuilt"
    assert main(["report", "--as-of", "2017-12-29", "--version", "1", "--out", str(out)]) == 0
    assert "byte-identical" in capsys.readouterr().out
    assert _contents(out) == _contents(first)
    # a publication from the current tables differs, and is publication 2, rebuilt as such
    from risk_pipeline.defs.report import ReportConfig
    from risk_pipeline.report.summary import build_report_data

    write_report(build_report_data(day, ReportConfig().settings()), reports)
    second = publications(reports, day)[1]
    assert _contents(second)["risk_report.html"] != _contents(first)["risk_report.html"]
    assert main(["report", "--as-of", "2017-12-29", "--out", str(tmp_path / "latest")]) == 0
    assert _contents(tmp_path / "latest") == _contents(second)
    assert main(["report", "--as-of", "2017-12-29", "--version", "3"]) == 2
    assert "has publications 1 to 2" in capsys.readouterr().err


def test_the_report_asset_counts_the_day_s_alerts_and_renders_the_morning_table_as_markdown(calm, monkeypatch):
    from risk_pipeline.report.morning import load_morning, morning_cells, morning_markdown

    data_dir, result = calm
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(data_dir))
    morning = load_morning(dt.date(2017, 12, 29))
    meta = result.asset_materializations_for_node("risk_report")[-1].metadata
    assert meta["breaches"].value == sum(a.level == "breach" for a in morning.alerts)
    assert meta["warnings"].value == sum(a.level == "warning" for a in morning.alerts)
    assert "morning" not in meta  # a 260-partition run: the markdown only in runs of at most 31 partitions
    markdown = morning_markdown(morning)
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(morning_cells(morning)) == len(morning.books) + len(morning.options.books)
    for row, cells in zip(rows, morning_cells(morning)):
        assert [c.strip() for c in row.strip("| ").split(" | ")][2].startswith(cells[2].text)  # official VaR


def _as_many_books(morning, n):
    """``morning`` with its first book copied as ``n`` books of long names, each with four limits (one above its
    limit, three at warning), its official method in the yellow zone and two challengers in the red zone."""
    from risk_pipeline.report.morning import Morning, _alerts

    first = morning.books["portfolio"].iloc[0]
    names = [f"book_{i:02d}_long_name" for i in range(n)]

    def copies(frame, column="portfolio"):
        mine = frame.loc[frame[column].eq(first)] if len(frame) else frame
        return pd.concat([mine.assign(**{column: name}) for name in names], ignore_index=True) if len(mine) else frame

    limits = pd.DataFrame([dict(portfolio=name, measure=m, horizon_days=h, confidence=0.99, measured_amount=u * 10_000,
                                limit_amount=10_000.0, utilization=u, status="danger" if u > 1 else "warning",
                                method="historical_positions", base_currency="USD")
                           for name in names for (m, h), u in zip([("var", 1), ("es", 1), ("var", 10), ("es", 10)],
                                                                 [1.05, 0.85, 0.82, 0.81])])
    official = morning.books["method"].iloc[0]
    lights = pd.DataFrame([dict(portfolio=name, method=method, backtest_window_days=250, n_obs=250, n_breaches=k,
                                traffic_light=light)
                           for name in names for method, k, light in [(official, 6, "yellow"), ("x_1", 11, "red"),
                                                                      ("x_2", 12, "red")]])
    many = Morning(morning.as_of, copies(morning.books), limits, lights, copies(morning.stress), morning.frtb,
                   morning.capital, (), copies(morning.holdings), morning.options)
    return Morning(**{**many.__dict__, "alerts": tuple(_alerts(many))})


def test_alerts_show_breaches_first_each_named_then_a_line_per_kind_of_warning(calm, monkeypatch):
    from risk_pipeline.report.morning import ALERT_KINDS, alert_lines, load_morning

    monkeypatch.setenv("RISK_PIPELINE_DATA", str(calm[0]))
    many = _as_many_books(load_morning(dt.date(2017, 12, 29)), 3)
    lines = alert_lines(many.alerts)
    # one line per kind, breaches first: the books above their VaR 1d limit, each named with its figures; then the
    # limits at warning, the official method in the yellow zone, the challengers in the red zone
    assert [line.level for line in lines] == ["breach"] + ["warning"] * 3
    assert lines[0].text == "Limits breached: " + "; ".join(
        f"book_{i:02d}_long_name VaR 1d 105.0%" for i in range(3))
    titles = [ALERT_KINDS[k][0] for k in ("limit", "official", "challenger")]
    assert [line.text.split(":")[0] for line in lines[1:]] == titles
    assert [line.section for line in lines] == ["limits", "limits", "backtests", "backtests"]
    assert lines[1].text == (f"{titles[0]}: " + "; ".join(f"book_{i:02d}_long_name ES 1d 85.0%, ES 10d 81.0%, VaR 10d 82.0%"
                                                           for i in range(3)))
    assert lines[3].text == f"{titles[2]}: 3 books"
    # nothing dropped: every alert's sentence stays (summary.json), the grouped lines only shorten the box
    assert sum(a.level == "warning" for a in many.alerts) == 3 * 3 + 3 + 3


def test_the_first_screen_holds_the_table_of_many_books_under_a_long_alert_box(calm, tmp_path, monkeypatch):
    """15 books (more than the bundled 12) and every kind of alert: the morning table still ends within the first
    900 px at 1400 px width and nothing scrolls sideways."""
    assert CHROMIUM, "headless Chromium is needed: apt-get install chromium (.ci/run does it)"
    from risk_pipeline.report.html import first_page, page_head
    from risk_pipeline.report.morning import load_morning, morning_cells

    monkeypatch.setenv("RISK_PIPELINE_DATA", str(calm[0]))
    many = _as_many_books(load_morning(dt.date(2017, 12, 29)), 15)
    assert len(morning_cells(many)) == 16  # and the fixture's option book
    assert sum(a.level == "breach" for a in many.alerts) == 15 and len(many.alerts) > 60
    page = tmp_path / "first.html"
    page.write_text("\n".join([*page_head("many books"), first_page(many), "<p>the sections</p>" * 200, "</body></html>"]))
    layout = rendered_layout(page, tmp_path)
    assert layout["scrollWidth"] <= layout["clientWidth"] == 1400 and layout["wide"] == 0
    assert layout["tableBottom"] <= 900, layout


def _text_rows(text):
    """The morning table of ``risk-pipeline summary``: per book its cells (figure and note joined), cut at the columns
    of the dashed line under the header."""
    lines = text.splitlines()
    (rule,) = [i for i, line in enumerate(lines) if line.startswith("---")]
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[rule])]
    body = []
    for line in lines[rule + 1:]:
        if not line.strip() or line.startswith("FRTB capital of the bank"):
            break
        body.append(line)
    rows = []
    for figures, notes in zip(body[::2], body[1::2]):
        rows.append([" ".join(f"{figures[a:b + 1].strip()} {notes[a:b + 1].strip()}".split()) for a, b in spans])
    return rows


def test_the_summary_prints_the_report_s_first_table(calm, monkeypatch, capsys):
    from risk_pipeline.cli import main
    from risk_pipeline.report.morning import HEADERS
    from risk_pipeline_tests.printed import PageTables

    monkeypatch.setenv("RISK_PIPELINE_DATA", str(calm[0]))
    assert main(["summary"]) == 0
    printed = _text_rows(capsys.readouterr().out)
    page = PageTables()
    page.feed((calm[0] / "reports" / "2017-12-29" / "risk_report.html").read_text())
    (rows,) = [rows for _, _, head, rows in page.tables if [h.split(" ")[0] for h in head][:2] == ["book", "official"]]
    shown = [[" ".join(cell.replace(" \u00b7 ", " ").split()) for cell in row] for row in rows]
    assert len(shown) == 3 and len(shown[0]) == len(HEADERS)  # two books and the option book
    assert printed == shown


def test_summary_book_prints_one_book_s_row_a_line_per_column_and_an_unknown_book_is_one_line_exit_2(
        calm, monkeypatch, capsys):
    from risk_pipeline.cli import main
    from risk_pipeline.report.morning import HEADERS, load_morning, morning_cells

    monkeypatch.setenv("RISK_PIPELINE_DATA", str(calm[0]))
    assert main(["summary", "--book", "held"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (cells,) = [c for c in morning_cells(load_morning(dt.date(2017, 12, 29))) if c[0].text == "held"]
    assert [line.split(": ", 1)[1] for line in lines[:len(HEADERS)]] == [str(c) for c in cells]
    assert [line.split(" (")[0] for line in lines[:len(HEADERS)]] == list(HEADERS)
    assert main(["summary", "--book", "nope"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--book nope" in err and "balanced, held" in err
