"""A rouble book after the ECB stopped quoting RUB (2022-03-01): it fails alone with one line, and a
second FX source (a CSV of USD/RUB) values it, each stored rate carrying its source."""

from __future__ import annotations

import copy

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from risk_pipeline.books import build_books
from risk_pipeline.config.portfolios import Portfolio, Position
from risk_pipeline.config.reader import ConfigError
from risk_pipeline.config.settings import DEFAULT_SETTINGS_FILE, SETTINGS_ENV
from risk_pipeline.definitions import defs
from risk_pipeline.defs.bonds import bond_pnl
from risk_pipeline.defs.market_data import prices
from risk_pipeline.sources.base import PriceDataError
from risk_pipeline.sources.bundled import SHIPPED_DATA_DIR
from risk_pipeline.sources.ecb_fx import MAX_STALENESS_DAYS, FxRateError, fx_rate, load_fx_rates
from risk_pipeline.sources import quality
from risk_pipeline.sources.fx_sources import read_fx_csv
from risk_pipeline_tests.pipeline_helpers import query
from risk_pipeline_tests.yahoo_server import fake_yahoo

START, END = "2022-02-15", "2022-03-31"
BOOKS = """
portfolios:
  - name: balanced
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.5}
      - {symbol: JPM, weight: 0.5}
  - name: rub_book
    base_currency: RUB
    positions:
      - {symbol: AAPL, quantity: 1000}
"""
SELECTION = (dg.AssetSelection.assets("prices", "returns", "fx_rates", "portfolio_pnl").without_checks()
             | dg.AssetSelection.checks_for_assets("prices"))


@pytest.fixture()
def books(data_dir, tmp_path, monkeypatch):
    path = tmp_path / "books.yaml"
    path.write_text(BOOKS)
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(path))
    return data_dir


def _ecb_rub() -> pd.Series:
    ecb = pd.read_parquet(SHIPPED_DATA_DIR / "ecb_fx.parquet")
    return ecb.loc[ecb["currency"] == "RUB"].set_index("date")["rate"].sort_index()


def _usd_rub_csv(tmp_path, monkeypatch) -> pd.DataFrame:
    """A CSV of USD/RUB (RUB per USD) on the weekdays after the ECB's last RUB fixing but 2022-03-08 (a
    Russian holiday: a US trading day takes the day before's rate), and settings naming it."""
    days = pd.bdate_range(_ecb_rub().index[-1] + pd.Timedelta(days=1), END).drop(pd.Timestamp("2022-03-08"))
    rates = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "currency": "RUB", "per": "USD",
                          "rate": np.round(np.linspace(105.0, 84.0, len(days)), 4)})
    csv = tmp_path / "usdrub.csv"
    rates.to_csv(csv, index=False)
    settings = yaml.safe_load(DEFAULT_SETTINGS_FILE.read_text())
    settings["fx"] = {"second_source": "csv", "csv_path": str(csv)}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    monkeypatch.setenv(SETTINGS_ENV, str(path))
    return rates.assign(date=pd.to_datetime(rates["date"]))


def _fx_coverage(result) -> dg.AssetCheckEvaluation:
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == "fx_coverage")


def _run():
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    run_config = {"ops": {"prices": {"config": {"extra_symbols": []}}}}
    return dg.materialize(list(defs.assets) + list(defs.asset_checks), selection=SELECTION, tags=tags,
                          run_config=run_config, raise_on_error=False)


def test_a_rub_book_without_rates_fails_alone_with_one_line(books):
    result = _run()
    assert result.success
    # independently: the first weekday of the range more than MAX_STALENESS_DAYS after the ECB's last RUB fixing
    last = _ecb_rub().index[-1]
    first_missing = next(d for d in pd.bdate_range(START, END) if (d - last).days > MAX_STALENESS_DAYS)
    line = f"book rub_book: no RUB rate on {first_missing:%Y-%m-%d} (first missing date)"
    evaluation = _fx_coverage(result)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description == line
    pnl_meta = result.asset_materializations_for_node("portfolio_pnl")[-1].metadata  # the run's last partition
    assert pnl_meta["skipped_books"].value == line
    stored = query(books, "select portfolio, date from portfolio_pnl order by date")
    assert set(stored["portfolio"]) == {"balanced"}
    # every priced day but the first, which has no previous close in the lake
    assert stored["date"].tolist() == query(books, "select distinct date from prices order by date")["date"][1:].tolist()


def test_a_csv_of_usd_rub_values_the_rub_book_and_the_rates_keep_their_source(books, tmp_path, monkeypatch):
    csv = _usd_rub_csv(tmp_path, monkeypatch)
    result = _run()
    assert result.success
    evaluation = _fx_coverage(result)
    assert evaluation.passed
    value = query(books, "select date, value from portfolio_pnl where portfolio = 'rub_book' order by date")
    aapl = query(books, "select date, close from prices where symbol = 'AAPL' order by date").iloc[1:]
    assert value["date"].tolist() == aapl["date"].tolist()  # every day with a previous close
    # RUB value = 1000 x AAPL close x RUB per USD: the CSV's rate after the ECB's last fixing (carried over a
    # US trading day the CSV has no row for), the ECB cross RUB/EUR / USD/EUR before it
    last = _ecb_rub().index[-1]
    ecb = pd.read_parquet(SHIPPED_DATA_DIR / "ecb_fx.parquet").pivot(index="date", columns="currency", values="rate")
    per_usd = []
    for day in pd.to_datetime(aapl["date"]):
        if day <= last:
            fixed = ecb.loc[:day].iloc[-1]
            per_usd.append(fixed["RUB"] / fixed["USD"])
        else:
            per_usd.append(csv.loc[csv["date"] <= day, "rate"].iloc[-1])
    np.testing.assert_allclose(value["value"], 1000 * aapl["close"].to_numpy() * np.array(per_usd), rtol=1e-12)
    stored = query(books, "select date, currency, rate, source from fx_rates order by date, currency")
    assert set(stored["currency"]) == {"RUB", "USD"}
    rub = stored.loc[stored["currency"] == "RUB"].set_index("date")
    assert (rub.loc[rub.index <= last, "source"] == "ecb").all()
    after = rub.loc[rub.index > last]
    # the CSV's days and the ECB's USD fixing on the CSV's holiday (2022-03-08), where its last quote is carried
    fixings = ecb.index[(ecb.index > last) & (ecb.index <= pd.Timestamp(END))]
    assert (after["source"] == "csv:usdrub.csv").all()
    assert list(after.index) == sorted(set(csv["date"]) | set(fixings)) and pd.Timestamp("2022-03-08") in after.index
    # stored per EUR: RUB per USD x the ECB's USD per EUR of the day
    usd = ecb["USD"].reindex(after.index)
    quoted = csv.set_index("date")["rate"].reindex(after.index, method="ffill")
    np.testing.assert_allclose(after["rate"], quoted * usd, rtol=1e-12)


def test_fx_rate_crosses_through_the_second_source_and_names_its_end(tmp_path, monkeypatch):
    csv = _usd_rub_csv(tmp_path, monkeypatch)
    day = csv["date"].iloc[3]
    assert fx_rate("RUB", "USD", [day]).iloc[0] == pytest.approx(csv["rate"].iloc[3], rel=1e-12)
    rates = load_fx_rates()
    assert set(rates.loc[(rates["currency"] == "RUB") & (rates["date"] > _ecb_rub().index[-1]), "source"]) == {
        "csv:usdrub.csv"}
    late = pd.Timestamp(END) + pd.Timedelta(days=MAX_STALENESS_DAYS + 3)
    with pytest.raises(FxRateError, match=rf"no RUB rate on {late:%Y-%m-%d} .*\(ecb, csv:usdrub.csv\) cover "
                                          rf"2005-04-01..{END}"):
        fx_rate("RUB", "USD", [late])


@pytest.mark.parametrize(("text", "message"), [
    ("date,currency,per,rate\n2022-03-02,RUB,USD,-1\n", r"usdrub.csv: missing, non-finite or non-positive rate in row 2"),
    ("date,currency,per,rate\n2022-03-02,RUB,RUB,100\n", r"usdrub.csv: currency and per must be two different"),
    ("date,currency,rate\n2022-03-02,RUB,100\n", r"usdrub.csv: missing column\(s\) per"),
    ("date,currency,per,rate\n2022-03-02,RUB,USD,100\n2022-03-02,RUB,USD,101\n",
     r"usdrub.csv: duplicate \(date, currency\) rows: RUB on 2022-03-02 \(row 2\)"),
])
def test_a_bad_fx_csv_is_one_line_naming_file_and_row(tmp_path, text, message):
    path = tmp_path / "usdrub.csv"
    path.write_text(text)
    with pytest.raises(PriceDataError, match=message):
        read_fx_csv(path)


def test_an_unknown_second_source_is_named(tmp_path, monkeypatch):
    settings = yaml.safe_load(DEFAULT_SETTINGS_FILE.read_text())
    settings["fx"] = {"second_source": "bloomberg", "csv_path": None}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    monkeypatch.setenv(SETTINGS_ENV, str(path))
    with pytest.raises(ConfigError, match=r"pipeline.yaml: fx.second_source must be null or one of csv, moex, yfinance, "
                                          r"got 'bloomberg'"):
        fx_rate("RUB", "USD", [dt.date(2022, 3, 2)])


def test_a_book_of_a_currency_without_any_rate_is_skipped_with_the_line_of_the_check():
    days = pd.bdate_range("2022-03-01", periods=3)
    prices = pd.DataFrame({"date": days, "symbol": "KASPI", "close": [100.0, 101.0, 99.0], "currency": "KZT",
                           "source": "csv:kz.csv"})
    returns = prices.assign(simple_return=prices["close"].pct_change())
    usd = Portfolio("kz_in_usd", "USD", (Position("KASPI", quantity=10),))
    books, skipped = build_books([usd], prices, returns)
    assert books == [] and skipped == {"kz_in_usd": "book kz_in_usd: no KZT rate on 2022-03-01 (first missing date)"}
    # the fx_coverage check names it with the same line
    assert quality.books_missing_fx(quality.fx_gaps([usd], prices, load_fx_rates(), MAX_STALENESS_DAYS)) == skipped


BOND_BOOKS = """
bond_books:
  - name: usd_rates
    base_currency: USD
    bonds:
      - {name: ust_2032, face: 1000000, coupon: 0.01875, maturity: 2032-02-15, frequency: 2, yield_series: UST10Y,
         currency: USD}
  - name: rub_rates
    base_currency: RUB
    bonds:
      - {name: ust_2032, face: 1000000, coupon: 0.01875, maturity: 2032-02-15, frequency: 2, yield_series: UST10Y,
         currency: USD}
"""


def test_a_rub_bond_book_without_rates_fails_alone_and_the_csv_values_it(books, tmp_path, monkeypatch):
    days = pd.bdate_range("2022-02-01", "2022-04-29")
    yields = pd.DataFrame({"date": days, "series": "UST10Y", "yield": np.linspace(0.0178, 0.029, len(days)).round(6)})
    yields.to_csv(tmp_path / "yields.csv", index=False)
    (tmp_path / "bonds.yaml").write_text(BOND_BOOKS)
    bonds = {"source": "csv", "csv_path": str(tmp_path / "yields.csv"), "positions_file": str(tmp_path / "bonds.yaml")}
    config = {"ops": {"prices": {"config": {"extra_symbols": []}}, "bond_pnl": {"config": bonds}}}
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    result = dg.materialize([prices, bond_pnl], run_config=config, tags=tags)
    last = _ecb_rub().index[-1]
    first_missing = next(d for d in pd.bdate_range(START, END) if (d - last).days > MAX_STALENESS_DAYS)
    line = f"book rub_rates: no RUB rate on {first_missing:%Y-%m-%d} (first missing date)"
    assert result.asset_materializations_for_node("bond_pnl")[-1].metadata["skipped_books"].value == line
    assert set(query(books, "select book from bond_pnl")["book"]) == {"usd_rates"}
    csv = _usd_rub_csv(tmp_path, monkeypatch)
    assert dg.materialize([prices, bond_pnl], run_config=config, tags=tags).success
    rows = query(books, "select date, book, value_local, value_base, fx_rate from bond_pnl order by book, date")
    rub = rows.loc[rows["book"] == "rub_rates"].set_index("date")
    usd = rows.loc[rows["book"] == "usd_rates"].set_index("date")
    after = rub.index[rub.index > last]
    rate = csv.set_index("date")["rate"].reindex(after, method="ffill")
    np.testing.assert_allclose(rub.loc[after, "fx_rate"], rate, rtol=1e-12)
    np.testing.assert_allclose(rub["value_base"], usd["value_local"] * rub["fx_rate"], rtol=1e-12)


def test_a_settings_file_without_the_fx_section_converts_with_the_ecb_alone(tmp_path, monkeypatch):
    settings = yaml.safe_load(DEFAULT_SETTINGS_FILE.read_text())
    del settings["fx"]
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    monkeypatch.setenv(SETTINGS_ENV, str(path))
    assert set(load_fx_rates()["source"]) == {"ecb"}
    with pytest.raises(FxRateError, match=r"no RUB rate on 2022-03-31 .*\(ecb\) cover 2005-04-01..2022-03-01"):
        fx_rate("RUB", "USD", ["2022-03-31"])


def _usd_rub_response(template: dict, days: pd.DatetimeIndex, closes: np.ndarray) -> dict:
    """Yahoo's chart response of USDRUB=X with ``closes`` on ``days``, in the format of the
    EURUSD=X fixture (a currency pair quoted on London time)."""
    response = copy.deepcopy(template)
    result = response["chart"]["result"][0]
    result["meta"].update(symbol="USDRUB=X", currency="RUB")
    result["timestamp"] = [int(pd.Timestamp(d, tz="Europe/London").timestamp()) for d in days]
    bars = [float(c) for c in closes]
    result["indicators"] = {"quote": [{"open": bars, "high": bars, "low": bars, "close": bars,
                                       "volume": [0] * len(bars)}], "adjclose": [{"adjclose": bars}]}
    return response


def test_yfinance_usd_rub_as_second_source(tmp_path, monkeypatch):
    """yfinance runs whole against Yahoo's chart API served on 127.0.0.1 (yahoo_server.py)."""
    days = pd.DatetimeIndex(pd.bdate_range("2022-03-02", "2022-03-11"), name="Date")
    closes = np.round(np.linspace(106.0, 116.0, len(days)), 3)
    settings = yaml.safe_load(DEFAULT_SETTINGS_FILE.read_text())
    settings["fx"] = {"second_source": "yfinance", "csv_path": None}
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(settings))
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "pipeline.yaml"))
    with fake_yahoo(tmp_path / "yfinance-cache") as yahoo:
        yahoo.responses["USDRUB=X"] = _usd_rub_response(yahoo.responses["EURUSD=X"], days, closes)
        np.testing.assert_allclose(fx_rate("RUB", "USD", days).to_numpy(), closes, rtol=1e-12)
        first = pd.Timestamp("2022-03-02", tz="Europe/London").timestamp()
        asked = yahoo.chart_requests("USDRUB=X")
        assert asked and int(asked[-1]["period1"][0]) <= first
        rates = load_fx_rates()
    rub = rates.loc[(rates["currency"] == "RUB") & (rates["date"] > _ecb_rub().index[-1])]
    assert set(rub["source"]) == {"yfinance:USDRUB=X"} and len(rub) == len(days)
