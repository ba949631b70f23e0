"""bond_pnl through the pipeline on generated yield paths, against risk.instruments.bonds computed here date by date.

A yield CSV (random walks of two series) and a bond positions file are written to a temp
folder and named in the run config; prices (the bundled snapshot) give the trading days.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.defs.bonds import bond_pnl
from risk_pipeline.defs.market_data import prices
from risk_pipeline.config.bonds import load_bond_books
from risk_pipeline.config import ConfigError
from risk_pipeline.risk.instruments.bonds import FixedRateBond, bond_risk, cash_flows
from risk_pipeline.sources.ecb_fx import fx_rate
from risk_pipeline.sources.yields import YieldDataError
from risk_pipeline.storage.schemas import table_schema
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import materialize_range, query

START, END = "2021-01-04", "2021-04-30"
ISSUE = pd.Timestamp(START)
DESIGN = ["date", "book", "bond", "currency", "base_currency", "dirty_price", "value_local", "value_base", "pnl_local",
          "pnl_approx", "pnl_fx", "pnl_cross", "pnl_base", "dv01", "modified_duration", "convexity"]


def _yields(drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """Random-walk yields (5bp daily steps) on every weekday Dec 2020 - Jun 2021, decimals."""
    days = pd.bdate_range("2020-12-01", "2021-06-30")
    rng = np.random.default_rng(11)
    frames = [pd.DataFrame({"date": days, "series": name, "yield": (y0 + np.cumsum(rng.normal(0, 0.0005, len(days))))
                            .round(6)}) for name, y0 in (("UST10Y", 0.012), ("BUND10Y", 0.002))]
    table = pd.concat(frames, ignore_index=True)
    keep = ~(table["series"].eq("UST10Y") & table["date"].dt.strftime("%Y-%m-%d").isin(drop))
    return table.loc[keep]


def _positions(par_coupon: float) -> str:
    return f"""
bond_books:
  - name: usd_rates
    base_currency: USD
    bonds:
      - {{name: par_2031, face: 1000000, coupon: {par_coupon}, maturity: 2031-01-04, frequency: 2,
          yield_series: UST10Y, currency: USD}}
      - {{name: ust_2030, face: 500000, coupon: 0.03, maturity: 2030-02-15, frequency: 2, yield_series: UST10Y,
          currency: USD}}
  - name: eur_investor
    base_currency: EUR
    bonds:
      - {{name: ust_2030, face: 2000000, coupon: 0.03, maturity: 2030-02-15, frequency: 2, yield_series: UST10Y,
          currency: USD}}
      - {{name: bund_2029, face: 1000000, coupon: 0.0, maturity: 2029-08-15, frequency: 1, yield_series: BUND10Y,
          currency: EUR}}
"""


def _setup(folder, monkeypatch, drop=()):
    (folder / "portfolios.yaml").write_text(SMALL_PORTFOLIOS)
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(folder / "data"))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(folder / "portfolios.yaml"))
    yields = _yields(drop)
    yields.to_csv(folder / "yields.csv", index=False)
    par = yields.loc[(yields["series"] == "UST10Y") & (yields["date"] == ISSUE), "yield"].item()
    (folder / "bonds.yaml").write_text(_positions(par))
    return yields


def _config(folder, positions=True) -> dict:
    bonds = {"source": "csv", "csv_path": str(folder / "yields.csv"),
             "positions_file": str(folder / "bonds.yaml") if positions else None}
    return {"ops": {"prices": {"config": {"extra_symbols": []}}, "bond_pnl": {"config": bonds}}}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bonds")
    with pytest.MonkeyPatch.context() as mp:
        yields = _setup(folder, mp)
        result = materialize_range(START, END, _config(folder), assets=[prices, bond_pnl])
        table = query(folder / "data", "select * from bond_pnl order by book, bond, date")
        days = query(folder / "data", "select distinct date from prices order by date")["date"]
        yield table, yields, pd.DatetimeIndex(days), result


def _row(table, book, bond):
    return table.loc[(table["book"] == book) & (table["bond"] == bond)].set_index("date").sort_index()


def _expected(coupon, maturity, frequency, face, yields, days) -> pd.DataFrame:
    """Independent: each day a fresh bond with (maturity - date)/365.25 years left, priced at that day's yield."""
    ust = yields.loc[yields["series"] == "UST10Y"].set_index("date")["yield"]
    rows = []
    for day in days:
        bond = FixedRateBond.from_maturity_date(coupon, maturity, day, frequency, face)
        risk = bond_risk(bond, ust[day])
        rows.append({"date": day, "value": risk.dirty_price, "n_flows": len(cash_flows(bond)[0]), "dv01": risk.dv01,
                     "modified_duration": risk.modified_duration, "convexity": risk.convexity})
    out = pd.DataFrame(rows).set_index("date")
    coupons = -out["n_flows"].diff() * face * coupon / frequency
    out["pnl"] = out["value"].diff() + coupons
    out["coupon"] = coupons
    return out


def test_columns_days_and_books(lake):
    table, _, days, result = lake
    assert result.success
    assert list(table.columns) == table_schema("bond_pnl").columns and table.columns[: len(DESIGN)].tolist() == DESIGN
    assert len(table) == 4 * len(days)
    for (book, bond), rows in table.groupby(["book", "bond"]):
        assert pd.DatetimeIndex(rows["date"]).equals(days), (book, bond)
    assert set(table.loc[table["book"] == "eur_investor", "base_currency"]) == {"EUR"}


def test_value_and_pnl_equal_independent_repricing(lake):
    table, yields, days, _ = lake
    rows = _row(table, "usd_rates", "ust_2030")
    expected = _expected(0.03, "2030-02-15", 2, 500000.0, yields, days)
    np.testing.assert_allclose(rows["value_local"], expected["value"], rtol=1e-12)
    np.testing.assert_allclose(rows["dirty_price"], expected["value"] / 5000.0, rtol=1e-12)
    np.testing.assert_allclose(rows["pnl_local"].iloc[1:], expected["pnl"].iloc[1:], rtol=1e-9, atol=1e-6)
    assert np.isnan(rows["pnl_local"].iloc[0])  # the first stored day has no previous day
    assert (rows["coupon_local"] == 7500.0).sum() == 1  # the mid-February coupon: 500000 * 0.03 / 2
    np.testing.assert_allclose(rows["coupon_local"].iloc[1:], expected["coupon"].iloc[1:], atol=1e-9)
    for column in ("dv01", "modified_duration", "convexity"):
        np.testing.assert_allclose(rows[column], expected[column], rtol=1e-10)
    # a domestic bond: base = local, no FX or cross term
    np.testing.assert_allclose(rows["pnl_base"].iloc[1:], rows["pnl_local"].iloc[1:], rtol=1e-12)
    assert (rows["pnl_fx"].iloc[1:] == 0).all() and (rows["pnl_cross"].iloc[1:] == 0).all()


def test_duration_convexity_approximation_is_close_for_small_moves(lake):
    table, yields, _, _ = lake
    rows = _row(table, "usd_rates", "par_2031").iloc[1:]
    err = (rows["pnl_approx"] - rows["pnl_local"]).abs()
    assert err.max() < 1e-3 * rows["pnl_local"].abs().max()
    # the approximation of the yield move, recomputed here at (T_t, y_{t-1})
    ust = yields.loc[yields["series"] == "UST10Y"].set_index("date")["yield"]
    for day, prev in list(zip(rows.index, [ISSUE, *rows.index[:-1]]))[-5:]:
        risk = bond_risk(_par_bond(table, day), ust[prev])
        dy = ust[day] - ust[prev]
        move = -risk.modified_duration * risk.dirty_price * dy + 0.5 * risk.convexity * risk.dirty_price * dy**2
        assert rows.loc[day, "pnl_approx"] - rows.loc[day, "pnl_carry"] == pytest.approx(move, rel=1e-9)


def _par_bond(table, day) -> FixedRateBond:
    coupon = _row(table, "usd_rates", "par_2031")["yield"].iloc[0]
    return FixedRateBond.from_maturity_date(coupon, "2031-01-04", day, 2, 1e6)


def test_par_bond_prices_at_face_on_issue(lake):
    table, _, _, _ = lake
    first = _row(table, "usd_rates", "par_2031").iloc[0]
    assert first.name == ISSUE
    assert first["dirty_price"] == pytest.approx(100.0, abs=0.01)  # 10y less half a day: 3652 / 365.25 years
    assert first["value_local"] == pytest.approx(1e6, rel=1e-4)


def test_foreign_bond_base_pnl_terms(lake):
    table, _, days, _ = lake
    rows = _row(table, "eur_investor", "ust_2030")
    fx = fx_rate("EUR", "USD", days)
    np.testing.assert_allclose(rows["fx_rate"], fx.to_numpy(), rtol=1e-15)
    np.testing.assert_allclose(rows["value_base"], rows["value_local"] * fx.to_numpy(), rtol=1e-12)
    body = rows.iloc[1:]
    np.testing.assert_allclose(body["pnl_base"], body["pnl_local_base"] + body["pnl_fx"] + body["pnl_cross"],
                               rtol=1e-12, atol=1e-8)
    change = rows["value_base"].diff() + rows["coupon_local"] * rows["fx_rate"]  # coupons are cash received
    np.testing.assert_allclose(body["pnl_base"], change.iloc[1:], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(body["pnl_local_base"], body["pnl_local"] * rows["fx_rate"].shift(1).iloc[1:],
                               rtol=1e-12)
    np.testing.assert_allclose(body["pnl_fx"], rows["value_local"].shift(1).iloc[1:] * rows["fx_rate"].diff().iloc[1:],
                               rtol=1e-9)
    assert body["pnl_cross"].abs().max() > 0 and body["pnl_fx"].abs().max() > body["pnl_cross"].abs().max()
    # the same bond in the USD book: 4x its local P&L (face 2m vs 0.5m)
    np.testing.assert_allclose(body["pnl_local"], 4 * _row(table, "usd_rates", "ust_2030")["pnl_local"].iloc[1:],
                               rtol=1e-12)


def test_missing_yield_date_names_series_and_date(tmp_path, monkeypatch):
    _setup(tmp_path, monkeypatch, drop=("2021-02-10",))
    with pytest.raises(YieldDataError, match=r"yield series 'UST10Y' has no value on 2021-02-10 \(needed by bond "
                                             r"'par_2031' of book 'usd_rates'\)"):
        materialize_range("2021-02-01", "2021-02-12", _config(tmp_path), assets=[prices, bond_pnl])


def test_no_positions_succeeds_without_rows(tmp_path, monkeypatch):
    _setup(tmp_path, monkeypatch)
    result = materialize_range("2021-02-01", "2021-02-05", _config(tmp_path, positions=False), assets=[prices, bond_pnl])
    assert result.success
    assert query(tmp_path / "data", "select count(*) as n from bond_pnl")["n"].item() == 0
    last = {m.partition: m for m in result.asset_materializations_for_node("bond_pnl")}["2021-02-05"]
    assert "no bond positions configured" in last.metadata["note"].value  # on the run's last partition


@pytest.mark.parametrize(("edit", "message"), [
    (("coupon: 0.03, ", ""), r"bond book 'usd_rates': bond 'ust_2030': field 'coupon': missing"),
    (("frequency: 1", "frequency: 3"), r"bond book 'eur_investor': bond 'bund_2029': field 'frequency'"),
    (("maturity: 2029-08-15", "maturity: 2029-13-15"), r"bond 'bund_2029': field 'maturity': '2029-13-15' is not"),
    (("currency: EUR}", "currency: XXX}"), r"bond 'bund_2029': field 'currency': unknown currency 'XXX'"),
    (("face: 500000", "face: -5"), r"bond 'ust_2030': field 'face': must be a positive number"),
    (("name: bund_2029", "name: ust_2030"), r"bond book 'eur_investor': field 'bonds': duplicate bond name"),
    (("coupon: 0.0,", "coupon: 0.0, price: 99,"), r"bond 'bund_2029': field 'price': unknown field"),
])
def test_bad_positions_file_names_file_book_bond_and_field(tmp_path, edit, message):
    text = _positions(0.01).replace(*edit, 1)
    path = tmp_path / "bonds.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_bond_books(path)
    assert str(info.value).startswith(str(path))


def test_positions_file_parses_into_books(tmp_path):
    path = tmp_path / "bonds.yaml"
    path.write_text(_positions(0.0125))
    usd, eur = load_bond_books(path)
    assert (usd.name, usd.base_currency, eur.base_currency) == ("usd_rates", "USD", "EUR")
    assert usd.bonds[0].maturity == dt.date(2031, 1, 4) and usd.bonds[0].coupon == 0.0125
    assert eur.bonds[1].frequency == 1 and eur.bonds[0].currency == "USD"
