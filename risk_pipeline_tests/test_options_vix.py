"""The at-the-money volatility file (the shipped VIX) with the EWMA proxy elsewhere: the level of each row against
the bundled file, the fall-back and its label, the volatility changes across the switch, and bad input of the file."""

import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from risk_pipeline.cli import main
from risk_pipeline.config.implied_vols import read_vol_file
from risk_pipeline.config.options import load_option_positions, option_settings
from risk_pipeline.config.reader import ConfigError
from risk_pipeline.config.settings import section
from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.defs.options import option_greeks, option_pnl, option_stress
from risk_pipeline.option_books import atm_changes, book_pnl, hedges, held_rows, option_market, price_rows
from risk_pipeline.report.options_section import load_options, options_text
from risk_pipeline.storage.paths import REPO_ROOT
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import materialize_range, module_lake, query
from risk_pipeline_tests.test_options_assets import EWMA, HEADER, _dated, _proxy_atm

VIX_FILE = REPO_ROOT / "data" / "vix_atm_vol.csv"
LAST_VIX = dt.date(2019, 1, 3)
START, END = "2018-10-01", "2019-01-16"
POSITIONS = HEADER + """spx,c,call,SP500,2800,2019-01-18,2018-12-03,-10,100,USD
spx,p,put,SP500,2500,2019-01-18,2018-12-03,-10,100,USD
mixed,p,put,SP500,2500,2019-01-18,2018-12-03,-10,100,USD
mixed,a,put,AAPL,150,2019-01-18,2018-12-03,-5,100,USD
"""
SCENARIOS = "scenarios:\n  - {name: crash, type: uniform_equity, description: d, equity_shock: -0.2, volatility: 0.15}\n"


def _options(folder) -> dict:
    return {"positions_file": str(folder / "options.csv"), "delta_hedged_books": ["spx"], "vol_source": "atm_file",
            "vol_file": str(VIX_FILE), "ewma_window_days": EWMA}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vix")
    (folder / "options.csv").write_text(POSITIONS)
    (folder / "scenarios.yaml").write_text(SCENARIOS)
    with module_lake(folder, SMALL_PORTFOLIOS):
        config = {"ops": {"prices": {"config": {"extra_symbols": ["SP500"]}},
                          "option_greeks": {"config": _options(folder)}, "option_pnl": {"config": _options(folder)},
                          "option_stress": {"config": {**_options(folder),
                                                       "scenarios_file": str(folder / "scenarios.yaml")}}}}
        materialize_range(START, END, config, assets=[prices, returns, option_greeks, option_pnl, option_stress])
        data = folder / "data"
        yield (folder, _dated(query(data, "select * from option_greeks order by date, book, level, option")),
               _dated(query(data, "select * from returns where symbol in ('SP500', 'AAPL') order by date")), data)


def _vix() -> pd.Series:
    """The bundled file read on its own: the VIX level (decimal) per date."""
    raw = pd.read_csv(VIX_FILE)
    return pd.Series(raw["implied_vol"].to_numpy(), index=pd.to_datetime(raw["date"]).dt.date)


def test_the_bundled_file_is_the_vix_of_the_sp500_on_business_days():
    vix = read_vol_file(VIX_FILE, "atm_file", {"SP500"})
    assert set(vix["underlying"]) == {"SP500"} and set(vix["series"]) == {"vix"}
    assert vix["date"].min() == pd.Timestamp("2014-01-03") and vix["date"].max() == pd.Timestamp(LAST_VIX)
    assert len(vix) == 1259 and vix["implied_vol"].between(0.05, 0.5).all()


def test_options_on_the_sp500_use_the_vix_up_to_its_last_day_then_the_proxy(lake):
    _, greeks, stored_returns, _ = lake
    rows = greeks.loc[(greeks["level"] == "position") & (greeks["option_type"] != "underlying")]
    spx = rows.loc[rows["underlying"] == "SP500"]
    skew = 0.5 * np.log(spx["strike"] / spx["spot"]).to_numpy()
    quoted = (spx["date"] <= LAST_VIX).to_numpy()
    assert quoted.sum() > 0 and (~quoted).sum() > 0
    assert set(spx.loc[quoted, "vol_source"]) == {"vix"} and set(spx.loc[~quoted, "vol_source"]) == {"ewma_proxy"}
    np.testing.assert_allclose(spx.loc[quoted, "implied_vol"], _vix().loc[spx.loc[quoted, "date"]].to_numpy()
                               - skew[quoted], rtol=1e-12)
    proxy = _proxy_atm(stored_returns, "SP500")
    np.testing.assert_allclose(spx.loc[~quoted, "implied_vol"], proxy.loc[spx.loc[~quoted, "date"]].to_numpy()
                               - skew[~quoted], rtol=1e-12)
    aapl = rows.loc[rows["underlying"] == "AAPL"]  # the VIX is the S&P 500's: AAPL stays on its proxy
    assert len(aapl) and set(aapl["vol_source"]) == {"ewma_proxy"}


def test_book_rows_name_every_source_they_use(lake):
    _, greeks, _, data = lake
    books = greeks.loc[greeks["level"] == "book"].set_index(["date", "book"])["vol_source"]
    before, after = dt.date(2019, 1, 2), dt.date(2019, 1, 7)
    assert books[(before, "spx")] == "vix" and books[(before, "mixed")] == "ewma_proxy+vix"
    assert books[(after, "spx")] == "ewma_proxy" and books[(after, "mixed")] == "ewma_proxy"
    hedge = greeks.loc[(greeks["option_type"] == "underlying") & (greeks["level"] == "position")]
    assert set(hedge.loc[hedge["date"] <= LAST_VIX, "vol_source"]) == {"vix"}
    pnl = _dated(query(data, "select date, book, vol_source from option_pnl")).set_index(["date", "book"])["vol_source"]
    assert pnl[(LAST_VIX, "spx")] == "vix"  # held at the close of 2019-01-02, revalued on 2019-01-03: both VIX
    assert pnl[(dt.date(2019, 1, 4), "spx")] == "ewma_proxy"  # the VIX at 01-03, the proxy at 01-04: the proxy at both
    assert pnl[(LAST_VIX, "mixed")] == "ewma_proxy+vix"  # two underlyings, each on one source at both closes
    assert pnl[(dt.date(2019, 1, 7), "spx")] == "ewma_proxy"
    stress = _dated(query(data, "select date, book, vol_source from option_stress where scenario = 'crash'"))
    stress = stress.set_index(["date", "book"])["vol_source"]
    assert stress[(dt.date(2019, 1, 4), "spx")] == "vix" and stress[(dt.date(2019, 1, 7), "spx")] == "ewma_proxy"


def test_the_volatility_change_across_the_switch_is_the_proxys_not_the_jump(lake):
    folder, _, stored_returns, data = lake
    settings = option_settings(_options(folder) | {k: v for k, v in section("options").items()
                                                   if k not in _options(folder)})
    closes = _dated(query(data, "select * from prices where symbol in ('SP500', 'AAPL') order by date"))
    stored = stored_returns.assign(date=pd.to_datetime(stored_returns["date"]))
    market = option_market(load_option_positions(folder / "options.csv"),
                           closes.assign(date=pd.to_datetime(closes["date"])), stored, settings)
    proxy = _proxy_atm(stored_returns, "SP500")
    vix = _vix()
    change = market.atm_change["SP500"]
    first_proxy = dt.date(2019, 1, 4)
    assert change[pd.Timestamp(first_proxy)] == pytest.approx(proxy[first_proxy] - proxy[LAST_VIX], rel=1e-12)
    assert change[pd.Timestamp(LAST_VIX)] == pytest.approx(vix[LAST_VIX] - vix[dt.date(2019, 1, 2)], rel=1e-12)
    jump = proxy[first_proxy] - vix[LAST_VIX]  # what a diff of the combined level would give: not a market move
    assert abs(jump - change[pd.Timestamp(first_proxy)]) > 0.01
    returns = pd.Series(stored["simple_return"].to_numpy(), index=stored["date"]).loc[stored["symbol"].to_numpy() == "SP500"]
    inside = atm_changes(market, "SP500", returns, dt.date(2018, 12, 3), dt.date(2018, 12, 24))  # a stress window
    assert inside.iloc[-1] == pytest.approx(vix[dt.date(2018, 12, 24)] - vix[dt.date(2018, 11, 30)], rel=1e-12)
    across = atm_changes(market, "SP500", returns, dt.date(2018, 12, 27), dt.date(2019, 1, 8))  # not all VIX: proxy
    assert across.iloc[-1] == pytest.approx(proxy[dt.date(2019, 1, 8)] - proxy[dt.date(2018, 12, 26)], rel=1e-12)


def _bsm(is_call: bool, spot: float, strike: float, years: float, vol: float, rate: float, dividend: float):
    """Black-Scholes-Merton price and delta written out with scipy's normal distribution."""
    w = 1.0 if is_call else -1.0
    d1 = (np.log(spot / strike) + (rate - dividend + vol**2 / 2) * years) / (vol * np.sqrt(years))
    d2 = d1 - vol * np.sqrt(years)
    return (w * (spot * np.exp(-dividend * years) * norm.cdf(w * d1) - strike * np.exp(-rate * years) * norm.cdf(w * d2)),
            w * np.exp(-dividend * years) * norm.cdf(w * d1))


def _pnl_by_hand(spot: pd.DataFrame, vix: pd.Series, proxies: dict, close: dt.date, after: dt.date,
                 mixed: bool = False) -> dict:
    """Per book, the P&L of the positions of POSITIONS held at ``close`` revalued at ``after``: every option valued at
    both ends with the VIX where both days have it (SP500 only), else with the proxy at both (``mixed``: the close's
    source at the close and the next day's after, the jump of a change of source); the hedge of ``spx``: -(delta at
    the close's own source) units of SP500 revalued at the next spot."""
    settings = section("options")
    positions = pd.read_csv(io.StringIO(POSITIONS), parse_dates=["expiry", "opened"])
    positions = positions.loc[(positions["opened"].dt.date <= close) & (positions["expiry"].dt.date > close)]
    own = lambda u, day: vix[day] if u == "SP500" and day in vix.index else proxies[u][day]  # noqa: E731
    pnl = {}
    for p in positions.itertuples():
        assert p.expiry.date() > after  # no expiry inside the lake: every option is repriced at both ends
        u, s0, s1 = p.underlying, spot.at[close, p.underlying], spot.at[after, p.underlying]
        both = u == "SP500" and close in vix.index and after in vix.index
        atm0, atm1 = (own(u, close), own(u, after)) if both or mixed else (proxies[u][close], proxies[u][after])
        vol = lambda atm, s: max(atm - settings["skew"] * np.log(p.strike / s), 0.01)  # noqa: E731
        rate, dividend = settings["rates"][p.currency], settings["dividend_yields"].get(u, 0.0)
        years0, years1 = (p.expiry.date() - close).days / 365, (p.expiry.date() - after).days / 365
        call = p.option_type == "call"
        value0 = _bsm(call, s0, p.strike, years0, vol(atm0, s0), rate, dividend)[0]
        value1 = _bsm(call, s1, p.strike, years1, vol(atm1, s1), rate, dividend)[0]
        units = p.quantity * p.multiplier
        pnl[p.book] = pnl.get(p.book, 0.0) + units * (value1 - value0)
        if p.book == "spx":  # the hedge held: the delta of the close, at the close's own source
            delta = _bsm(call, s0, p.strike, years0, vol(own(u, close), s0), rate, dividend)[1]
            pnl[p.book] -= delta * units * (s1 - s0)
    return pnl


def _spot_and_proxies(data, stored_returns) -> tuple[pd.DataFrame, dict]:
    closes = _dated(query(data, "select * from prices where symbol in ('SP500', 'AAPL') order by date"))
    return (closes.pivot(index="date", columns="symbol", values="close"),
            {u: _proxy_atm(stored_returns, u) for u in ("SP500", "AAPL")})


def test_the_pnl_values_both_ends_with_one_source_the_proxy_across_the_vixs_end(lake):
    _, _, stored_returns, data = lake
    spot, proxies = _spot_and_proxies(data, stored_returns)
    calendar = list(spot.index)
    pnl = _dated(query(data, "select * from option_pnl order by date, book")).set_index(["date", "book"])
    assert pnl.index.get_level_values("date").min() < LAST_VIX < pnl.index.get_level_values("date").max()
    for (day, book), row in pnl.iterrows():
        expected = _pnl_by_hand(spot, _vix(), proxies, calendar[calendar.index(day) - 1], day)[book]
        assert row["hypothetical_pnl"] == pytest.approx(expected, rel=1e-9, abs=1e-6), (day, book)
    assert not pnl.loc[pnl.index.get_level_values("book") == "spx", "vol_source"].str.contains("+", regex=False).any()
    first_proxy = (dt.date(2019, 1, 4), "spx")
    assert pnl.loc[first_proxy, "vol_source"] == "ewma_proxy"
    jump = _pnl_by_hand(spot, _vix(), proxies, LAST_VIX, first_proxy[0], mixed=True)["spx"]  # the old P&L
    assert abs(pnl.loc[first_proxy, "hypothetical_pnl"] - jump) > 1000  # the change of source is no longer P&L


def test_the_pnl_of_days_inside_the_vix_is_unchanged_the_greeks_values_differenced(lake):
    _, greeks, _, data = lake
    rows = greeks.loc[greeks["level"] == "position"]
    pnl = _dated(query(data, "select * from option_pnl order by date, book")).set_index(["date", "book"])
    days = sorted(set(rows["date"]))
    inside = [(close, after) for close, after in zip(days, days[1:]) if after <= LAST_VIX]
    assert len(inside) > 10
    for close, after in inside:  # both closes on the VIX: the P&L is option_greeks' values at the two closes
        held, next_values = rows.loc[rows["date"] == close], rows.loc[rows["date"] == after]
        for book, own in held.groupby("book"):
            options = own.loc[own["option_type"] != "underlying"]
            later = next_values.set_index(["book", "option"]).loc[[(book, o) for o in options["option"]],
                                                                  "position_value"]
            hedge = own.loc[own["option_type"] == "underlying"]
            expected = later.sum() - options["position_value"].sum()
            expected += sum(q * (next_values.loc[next_values["underlying"] == u, "spot"].iloc[0] - s)
                            for q, u, s in zip(hedge["quantity"], hedge["underlying"], hedge["spot"]))
            assert pnl.loc[(after, book), "hypothetical_pnl"] == pytest.approx(expected, rel=1e-9, abs=1e-6)
            assert pnl.loc[(after, book), "vol_source"] == ("vix" if book == "spx" else "ewma_proxy+vix")


def test_a_gap_in_the_quotes_file_values_both_ends_of_its_two_days_with_the_proxy(lake):
    folder, _, stored_returns, data = lake
    gap = dt.date(2018, 12, 12)
    raw = pd.read_csv(VIX_FILE)
    gapped = folder / "vix_with_a_gap.csv"
    raw.loc[raw["date"] != gap.isoformat()].to_csv(gapped, index=False)
    options = _options(folder) | {"vol_file": str(gapped)}
    settings = option_settings(options | {k: v for k, v in section("options").items() if k not in options})
    closes = _dated(query(data, "select * from prices where symbol in ('SP500', 'AAPL') order by date"))
    stored = stored_returns.assign(date=pd.to_datetime(stored_returns["date"]))
    positions = load_option_positions(folder / "options.csv")
    market = option_market(positions, closes.assign(date=pd.to_datetime(closes["date"])), stored, settings)
    days = pd.DatetimeIndex([f"2018-12-{d}" for d in (10, 11, 12, 13, 14)])
    held = held_rows(positions, days[:-1])
    priced = price_rows(market, positions, held)
    rows = book_pnl(market, positions, held, priced, hedges(priced, settings.delta_hedged_books),
                    pd.Series(days[1:], index=days[:-1])).set_index(["date", "book"])
    spot, proxies = _spot_and_proxies(data, stored_returns)
    vix = _vix().drop(gap)
    for close, after in zip(days[:-1].date, days[1:].date):
        for book, expected in _pnl_by_hand(spot, vix, proxies, close, after).items():
            assert rows.loc[(pd.Timestamp(after), book), "hypothetical_pnl"] == pytest.approx(expected, rel=1e-9)
    labels = rows["vol_source"].xs("spx", level="book")
    assert list(labels) == ["vix", "ewma_proxy", "ewma_proxy", "vix"]  # 12-11, the gap's day, the day after, 12-14
    assert not labels.str.contains("+", regex=False).any()


GOOD = "date,underlying,series,implied_vol\n2019-01-02,SP500,vix,0.2322\n"


@pytest.mark.parametrize("row, field, words", [
    ("2019-01-03,SP500,vix,", "implied_vol", "missing or not valid"),
    ("2019-01-03,SP500,vix,-0.2", "implied_vol", "must be > 0, got '-0.2'"),
    ("2019-01-03,SPX,vix,0.25", "underlying", "unknown underlying: not a priced symbol"),
    ("2019-01-05,SP500,vix,0.25", "date", "not a business day"),
    ("2019-01-02,SP500,vix,0.25", "date", "a second level for this date and underlying"),
])
def test_a_bad_volatility_file_stops_the_backfill_with_one_line(lake, capsys, monkeypatch, row, field, words):
    folder, _, _, data = lake
    bad = folder / f"bad_{field}_{len(row)}.csv"
    bad.write_text(GOOD + row + "\n")
    with pytest.raises(ConfigError, match=f"row 3: field '{field}': {words}"):
        read_vol_file(bad, "atm_file", {"SP500", "AAPL"})
    profile = folder / f"profile_{bad.stem}.yaml"  # one file per content: the settings are read once per path
    profile.write_text(f"options:\n  positions_file: {folder / 'options.csv'}\n  vol_file: {bad}\n")
    monkeypatch.setenv("RISK_PIPELINE_CONFIG", str(profile))
    before = query(data, "select count(*) as n from option_greeks")["n"].item()
    config = {"ops": {"option_greeks": {"config": _options(folder) | {"vol_file": str(bad)}}}}
    code = main(["backfill", "--start", "2019-01-02", "--end", "2019-01-04", "--select", "option_greeks",
                 "--config-json", json.dumps(config)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1
    assert f"{bad}, row 3: field '{field}': {words}" in err[0]
    assert query(data, "select count(*) as n from option_greeks")["n"].item() == before


def test_the_summary_says_which_source_each_book_uses(lake):
    text = options_text(load_options(dt.date(2019, 1, 2)))
    assert "Option book spx at the close of 2019-01-02 (USD; Black-Scholes-Merton, implied volatility: vix):" in text
    assert "implied volatility: ewma_proxy+vix, partly a proxy, not market data):" in text
    assert "implied volatility: ewma_proxy, a proxy, not market data):" in options_text(load_options(dt.date(2019, 1, 7)))


def test_atm_file_without_a_file_is_refused():
    values = {**section("options"), "vol_source": "atm_file", "vol_file": None}
    with pytest.raises(ConfigError, match="field 'vol_file': must name a CSV or Parquet file when vol_source is atm_file"):
        option_settings(values)


def test_the_volatility_file_is_read_once_per_version(tmp_path, monkeypatch):
    """The option steps of a day's run read the file five times: one read and check per version of
    the file (each caller gets its own copy), a changed file is read anew, a bad one refused each
    time, the priced underlyings checked per set."""
    import os

    from risk_pipeline.config import implied_vols

    read_csv, reads = pd.read_csv, []
    monkeypatch.setattr(implied_vols.pd, "read_csv", lambda *a, **k: reads.append(a[0]) or read_csv(*a, **k))
    path = tmp_path / "atm.csv"
    path.write_text("date,underlying,series,implied_vol\n2022-01-03,SP500,vix,0.17\n2022-01-04,SP500,vix,0.18\n")
    first = read_vol_file(path, "atm_file")
    first.loc[0, "implied_vol"] = 9.0  # the caller's copy
    assert read_vol_file(path, "atm_file")["implied_vol"].tolist() == [0.17, 0.18] and len(reads) == 1
    with pytest.raises(ConfigError, match="unknown underlying"):
        read_vol_file(path, "atm_file", priced={"AAPL"})
    assert len(read_vol_file(path, "atm_file", priced={"SP500"})) == 2
    path.write_text("date,underlying,series,implied_vol\n2022-01-03,SP500,vix,0.17\n2022-01-04,SP500,vix,0.19\n")
    os.utime(path, ns=(1, 1))  # another modification time even where the clock is coarse
    assert read_vol_file(path, "atm_file")["implied_vol"].tolist() == [0.17, 0.19]
    path.write_text("date,underlying,series,implied_vol\n2022-01-03,SP500,vix,-1\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"row 2: field 'implied_vol': must be > 0"):
            read_vol_file(path, "atm_file")
    path.unlink()
    with pytest.raises(ConfigError, match="implied volatility file not found"):
        read_vol_file(path, "atm_file")
