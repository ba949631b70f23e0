"""The FRTB assets on the bundled data: one new day equals the backfill, the tables hold what
the core computes, and the eligibility check reads them."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.defs.frtb import desks_eligible
from risk_pipeline.report.frtb_section import capital_chart, capital_history
from risk_pipeline.risk.frtb import CAPITAL_AVERAGE_DAYS, plus_factor
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, materialize_range, query

START, END = "2018-09-04", "2019-12-31"
FRTB_NAMES = {"prices", "returns", "portfolio_pnl", "frtb_es", "frtb_desks", "frtb_capital"}
RUN_CONFIG = {"ops": {"prices": {"config": {"extra_symbols": ["SP500", "MTUM", "QUAL"]}}}}
PORTFOLIOS = """
portfolios:
  - name: balanced
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.4}
      - {symbol: JPM, weight: 0.3}
      - {symbol: XOM, weight: 0.3}
  - name: euro_desk
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
    assert row["multiplier"] == pytest.approx(1.5 + plus_factor(int(row["exceptions_99"])).plus_factor)
    assert row["capital_charge"] == pytest.approx(max(row["imcc"], row["multiplier"] * row["imcc_average"]), rel=1e-12)

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


def _printed_rows(text: str, title: str, end: str) -> list[list[str]]:
    """The whitespace-split data rows of the table printed after the line starting with ``title``
    (its next line is the header) up to the line starting with ``end``."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(title)) + 2
    last = next(i for i in range(first, len(lines)) if lines[i].startswith(end) or not lines[i].strip())
    return [line.split() for line in lines[first:last]]


def _shows(text: str, value: float) -> bool:
    """``text`` is ``value`` to the digits printed (summary figures: amounts whole, others 2 decimals)."""
    shown = text.replace(",", "")
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return abs(float(shown) - value) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9)


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
    rows = _printed_rows(out, "FRTB internal models", "Bank capital")
    assert sorted(r[0] for r in rows) == sorted(stored.index) == ["balanced", "bank", "euro_desk"]
    for desk, ccy, es_10d, es_full, es_stressed, imes, start, end, e99, e975, zone, spearman, ks, pla, eligible in rows:
        row = stored.loc[desk]
        assert ccy == row["base_currency"]
        for text, column in ((es_10d, "es_10d"), (es_full, "es_full_current"), (es_stressed, "es_reduced_stressed"),
                             (imes, "imes"), (e99, "exceptions_99"), (e975, "exceptions_975")):
            assert _shows(text, row[column]), (desk, column, text, row[column])
        assert (start, end) == (row["stress_start"].isoformat()[:10], row["stress_end"].isoformat()[:10])
        assert zone == row["backtest_zone"]
        if desk == "bank":  # no P&L attribution test for the bank
            assert (spearman, ks, pla) == ("NaN", "NaN", "NaN") and pd.isna(row["pla_spearman"])
        else:
            assert _shows(spearman, row["pla_spearman"]) and _shows(ks, row["pla_ks"]) and pla == row["pla_zone"]
            assert eligible == str(bool(row["eligible"]))
    capital = query(frtb_data, f"select * from frtb_capital where date = '{END}'").iloc[0]
    (printed,) = _printed_rows(out, "Bank capital", "DuckDB catalog")
    date, ccy, *figures, binding = printed
    assert (date, ccy, binding) == (END, capital["base_currency"], capital["binding"])
    columns = ["imcc_unconstrained", "imcc_equity", "imcc_fx", "imcc", "imcc_average", "exceptions_99", "backtest_zone",
               "multiplier", "capital_charge"]
    for text, column in zip(figures, columns, strict=True):
        assert text == capital[column] if column == "backtest_zone" else _shows(text, capital[column]), (column, text)
