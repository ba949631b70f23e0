"""The FRTB assets on the bundled data: one new day equals the backfill, the tables hold what
the core computes, and the eligibility check reads them."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.defs.frtb import desks_eligible
from risk_pipeline.report.frtb_section import capital_chart, capital_history
from risk_pipeline.risk.frtb import CAPITAL_AVERAGE_DAYS, plus_factor
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, BALANCED_BOOK, materialize_range, query
from risk_pipeline_tests.printed import assert_shows, printed_table

START, END = "2018-09-04", "2019-12-31"
FRTB_NAMES = {"prices", "returns", "portfolio_pnl", "frtb_es", "frtb_desks", "frtb_capital"}
RUN_CONFIG = {"ops": {"prices": {"config": {"extra_symbols": ["SP500", "MTUM", "QUAL"]}}}}
PORTFOLIOS = "\nportfolios:\n" + BALANCED_BOOK + """  - name: euro_desk
    base_currency: EUR
    positions:
      - {symbol: MSFT, quantity: 1000}
      - {symbol: KO, quantity: 500}
"""


def _settings(root):
    """The two-desk portfolio file and frtb.yaml with a search range and short desk-model and beta
    windows that fit the short history (the desk tests then have their 250 days)."""
    (root / "portfolios.yaml").write_text(PORTFOLIOS)
    text = (pd.io.common.Path(__file__).resolve().parents[1] / "risk_pipeline" / "config" / "frtb.yaml").read_text()
    text = text.replace("start: 2007-01-01", "start: 2018-09-04").replace("estimation_window_days: 250", "estimation_window_days: 60")
    (root / "frtb.yaml").write_text(text.replace("pla_beta_window_days: 250", "pla_beta_window_days: 60"))
    return {"RISK_PIPELINE_PORTFOLIOS": str(root / "portfolios.yaml"), "RISK_PIPELINE_FRTB": str(root / "frtb.yaml")}


def _frtb_assets():
    return [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= FRTB_NAMES] + [desks_eligible]


def _run(root, data, start, end):
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {**_settings(root), "RISK_PIPELINE_DATA": str(data)}.items():
            mp.setenv(name, value)
        return materialize_range(start, end, RUN_CONFIG, assets=_frtb_assets())


@pytest.fixture(scope="module")
def backfill(tmp_path_factory):
    """One run over START..END; its data folder and result."""
    root = tmp_path_factory.mktemp("frtb")
    (root / "data").mkdir()
    return root / "data", _run(root, root / "data", START, END)


def _tables(folder, day):
    return {t: query(folder, f"select * from {t} where date = '{day}' order by all") for t in ("frtb_es", "frtb_desks", "frtb_capital")}


def test_one_new_day_equals_the_backfill(backfill, tmp_path):
    (tmp_path / "data").mkdir()
    _run(tmp_path, tmp_path / "data", START, "2019-12-30")
    _run(tmp_path, tmp_path / "data", END, END)
    incremental, stored = _tables(tmp_path / "data", END), _tables(backfill[0], END)
    assert len(incremental["frtb_es"]) == 9  # two desks and the bank x (all, equity, fx)
    assert len(incremental["frtb_desks"]) == 3 and len(incremental["frtb_capital"]) == 1
    for table in incremental:
        pd.testing.assert_frame_equal(incremental[table], stored[table])
    es = stored["frtb_es"]
    assert es["imes"].notna().all() and (es.loc[es["risk_class"] == "all", "imes"] > 0).all()
    # the USD desk has no FX factor; the EUR desk's stocks are USD: FX risk, in the desk only
    fx = es.loc[es["risk_class"] == "fx"].set_index("portfolio")["es_full_current"]
    assert fx["balanced"] == 0 and fx["euro_desk"] > 0 and fx["bank"] == 0


def test_a_day_inside_a_quarter_takes_its_stored_stressed_windows_with_the_same_bits(backfill, tmp_path, monkeypatch):
    """A new day after the first stored day of its quarter takes each desk's stressed window stored for the
    day before (the quarter's selection) and reads only those windows and the current one: the rows of the
    same day whose windows are selected again on the whole search range, bit for bit."""
    import shutil

    from risk_pipeline.defs import frtb

    given = []
    book_es = frtb.book_es
    monkeypatch.setattr(frtb, "book_es", lambda *a, **k: given.append(k.get("stress_start")) or book_es(*a, **k))
    shutil.copytree(backfill[0], tmp_path / "data")
    _run(tmp_path, tmp_path / "data", END, END)
    reused = _tables(tmp_path / "data", END)["frtb_es"]
    assert len(given) == 3 and all(pd.notna(start) for start in given)  # the two desks and the bank
    monkeypatch.setattr(frtb, "_stored_windows", lambda *a: None)
    _run(tmp_path, tmp_path / "data", END, END)
    assert len(given) == 6 and all(start is None for start in given[3:])
    selected = _tables(tmp_path / "data", END)["frtb_es"]
    pd.testing.assert_frame_equal(reused, selected, check_exact=True)
    assert reused["stress_start"].notna().all()


def test_tables_hold_the_core_figures_and_the_check_reads_them(backfill, monkeypatch):
    frtb_data, result = backfill
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(frtb_data))
    pnl = query(frtb_data, "select date, portfolio, pnl from portfolio_pnl")
    desks = query(frtb_data, "select * from frtb_desks")
    merged = desks.merge(pnl, on=["date", "portfolio"])
    assert len(merged) == len(desks.loc[desks["portfolio"] != "bank"]) > 0
    np.testing.assert_allclose(merged["hpl"], merged["pnl"], rtol=1e-12)  # HPL is portfolio_pnl
    last = desks.loc[desks["date"] == desks["date"].max()].set_index("portfolio")
    assert last.loc[["balanced", "euro_desk"], "pla_zone"].notna().all() and pd.isna(last.loc["bank", "pla_spearman"])
    assert last["exceptions_99"].notna().all() and last["backtest_zone"].notna().all()
    # eligibility is unknown until the backtests and the PLA test have their windows, and never the bank's
    first = desks.sort_values("date").drop_duplicates("portfolio")
    assert first["eligible"].isna().all() and desks.loc[desks["portfolio"] == "bank", "eligible"].isna().all()
    capital = query(frtb_data, "select * from frtb_capital order by date")
    es = query(frtb_data, "select date, risk_class, imes from frtb_es where portfolio = 'bank'")
    imes = es.pivot(index="date", columns="risk_class", values="imes").reindex(capital["date"])
    np.testing.assert_allclose(capital["imcc"], 0.5 * imes["all"] + 0.5 * (imes["equity"] + imes["fx"]), rtol=1e-12)
    full = capital.dropna(subset=["capital_charge"])
    assert len(full) > 0
    row = full.iloc[-1]
    window = capital.loc[capital["date"] <= row["date"], "imcc"].tail(CAPITAL_AVERAGE_DAYS)
    assert row["imcc_average"] == pytest.approx(window.mean(), rel=1e-12)
    assert row["capital_multiplier"] == pytest.approx(1.5 + plus_factor(int(row["exceptions_99"])).plus_factor)
    assert row["capital_charge"] == pytest.approx(max(row["imcc"], row["capital_multiplier"] * row["imcc_average"]), rel=1e-12)

    history = capital_history(dt.date(2019, 12, 31), dt.date(2019, 1, 1))  # the report's FRTB chart data
    assert len(history) == (capital["date"] >= "2019-01-01").sum()
    assert capital_chart(history).startswith(b"\x89PNG")

    (evaluation,) = result.get_asset_check_evaluations()
    eligible = last.drop("bank")["eligible"].astype(bool)
    assert evaluation.metadata["ineligible_desks"].value == sorted(eligible.index[~eligible])
    assert evaluation.passed == bool(eligible.all())
    known = desks.dropna(subset=["eligible"]).sort_values("date")
    lost = [f"{p} on {d.date().isoformat()}" for p, g in known.groupby("portfolio")
            for d, was, now in zip(g["date"], g["eligible"].shift(1), g["eligible"]) if pd.notna(was) and was and not now]
    assert len(lost) <= 50 and sorted(evaluation.metadata["lost_eligibility"].value) == sorted(lost)


def test_the_summary_prints_the_frtb_figures_of_the_tables(backfill, monkeypatch, capsys):
    """Every figure of the summary's FRTB section against frtb_es (risk class 'all'), frtb_desks and
    frtb_capital on the latest day, read with SQL."""
    from risk_pipeline.cli import main

    frtb_data, _ = backfill
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(frtb_data))
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    stored = query(frtb_data, f"""select * from frtb_es e join frtb_desks d using (date, portfolio)
                                  where e.date = '{END}' and e.risk_class = 'all'""").set_index("portfolio")
    header, rows = printed_table(out, "FRTB internal models", "desk", end="Bank capital")
    assert header == ("desk ccy es_unadjusted es_liquidity_adjusted es_stressed imes stress_start stress_end exc_99 exc_975 "
                      "backtest_zone spearman ks pla_zone eligible")
    assert sorted(r[0] for r in rows) == sorted(stored.index) == ["balanced", "bank", "euro_desk"]
    for desk, ccy, es_unadjusted, es_full, es_stressed, imes, start, end, e99, e975, zone, spearman, ks, pla, eligible in rows:
        row = stored.loc[desk]
        assert ccy == row["base_currency"]
        for text, column in ((es_unadjusted, "es_unadjusted"), (es_full, "es_full_current"), (es_stressed, "es_reduced_stressed"),
                             (imes, "imes"), (e99, "exceptions_99"), (e975, "exceptions_975")):
            assert_shows(text, row[column], where=f"{desk} {column}")
        assert (start, end) == (row["stress_start"].isoformat()[:10], row["stress_end"].isoformat()[:10])
        assert zone == row["backtest_zone"]
        if desk == "bank":  # no P&L attribution test for the bank
            assert (spearman, ks, pla, eligible) == ("—",) * 4 and pd.isna(row["pla_spearman"])
            assert "—: the P&L attribution test is per desk, not for the bank" in out
        else:
            assert_shows(spearman, row["pla_spearman"], where=f"{desk} spearman")
            assert_shows(ks, row["pla_ks"], where=f"{desk} ks")
            assert pla == row["pla_zone"] and len(spearman.split(".")[1]) == 3  # as precise as the zone thresholds
            assert eligible == str(bool(row["eligible"]))
    capital = query(frtb_data, f"select * from frtb_capital where date = '{END}'").iloc[0]
    header, (printed,) = printed_table(out, "Bank capital", "date")
    assert header == ("date ccy imcc_unconstrained imcc_equity imcc_fx imcc imcc_average exceptions_99 backtest_zone "
                      "capital_multiplier capital_charge binding")
    date, ccy, *figures, binding = printed
    assert (date, ccy, binding) == (END, capital["base_currency"], capital["binding"])
    columns = ["imcc_unconstrained", "imcc_equity", "imcc_fx", "imcc", "imcc_average", "exceptions_99", "backtest_zone",
               "capital_multiplier", "capital_charge"]
    for text, column in zip(figures, columns, strict=True):
        if column == "backtest_zone":
            assert text == capital[column]
        else:
            assert_shows(text, capital[column], where=column)


def test_the_report_shows_the_frtb_figures_of_the_tables(backfill, monkeypatch):
    """The report's FRTB section (capital sentence, desks' zones, ES per desk) against the tables."""
    import re
    from types import SimpleNamespace

    from risk_pipeline.report.html import _frtb_section
    from risk_pipeline.report.summary import OPTIONAL_TABLES, _extras
    from risk_pipeline_tests.printed import PageTables, page_table

    frtb_data, _ = backfill
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(frtb_data))
    as_of = dt.date.fromisoformat(END)
    data = SimpleNamespace(extras=_extras(as_of, OPTIONAL_TABLES), frtb_capital=capital_history(as_of, dt.date(2019, 1, 1)))
    page = PageTables()
    page.feed(_frtb_section(data, None))
    h2 = "FRTB capital"
    desks = query(frtb_data, f"select * from frtb_desks where date = '{END}'").set_index("portfolio")
    rows = page_table(page, h2, "Desks: backtesting (MAR32) and P&L attribution test (MAR32.38-32.42)")
    assert sorted(r["desk"] for r in rows) == sorted(desks.index)
    for row in rows:
        stored = desks.loc[row["desk"]]
        assert_shows(row["exceptions 99% (limit 12)"], stored["exceptions_99"], where=row["desk"])
        assert_shows(row["exceptions 97.5% (limit 30)"], stored["exceptions_975"], where=row["desk"])
        assert row["backtesting zone"] == stored["backtest_zone"]
        if pd.notna(stored["pla_spearman"]):
            assert_shows(row["PLA Spearman"], stored["pla_spearman"], where=row["desk"])
            assert_shows(row["PLA KS"], stored["pla_ks"], where=row["desk"])
            assert row["PLA zone"] == stored["pla_zone"]
    es = query(frtb_data, f"select * from frtb_es where date = '{END}' and risk_class = 'all'").set_index("portfolio")
    rows = page_table(page, h2, "Expected shortfall, 97.5%, 10-day base horizon (MAR33.4-33.5)")
    assert sorted(r["desk"] for r in rows) == sorted(es.index)
    for row in rows:
        stored = es.loc[row["desk"]]
        for header, column in (("ES 10-day", "es_unadjusted"), ("liquidity-adjusted ES", "es_full_current"),
                               ("stressed ES", "es_reduced_stressed"), ("IMES", "imes")):
            assert_shows(row[header], stored[column], where=f"{row['desk']} {header}")
    capital = query(frtb_data, f"select * from frtb_capital where date = '{END}'").iloc[0]
    text = "".join(page.text)
    shown = re.search(r"C_A = ([\d,]+) (\w+) \(binding: (\w+)\), IMCC ([\d,]+), 60-day average IMCC ([\d,]+), "
                      r"multiplier ([\d.]+) \(bank-wide backtest: (\d+) exceptions", text)
    assert shown, text
    charge, ccy, binding, imcc, average, multiplier, exceptions = shown.groups()
    assert (ccy, binding, int(exceptions)) == (capital["base_currency"], capital["binding"], capital["exceptions_99"])
    for figure, column in ((charge, "capital_charge"), (imcc, "imcc"), (average, "imcc_average"),
                           (multiplier, "capital_multiplier")):
        assert_shows(figure, capital[column], where=column)
