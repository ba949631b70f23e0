"""The yfinance source on Yahoo's HTTP API served from 127.0.0.1 (risk_pipeline_tests/yahoo_server.py).

yfinance runs whole: its download, cookie and crumb handshake, the chart-JSON parsing, the
exchange time zones and the dividend adjustment of ``auto_adjust=True``, over curl_cffi. The
responses are hand-made in Yahoo's v8 chart format (fixtures/yahoo_chart/README.md); the
expected values here are read from those files, not from yfinance.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.sources import PRICE_COLUMNS, PriceDataError, make_source
from risk_pipeline.sources.yahoo import YahooSource, fetch_yahoo_fx
from risk_pipeline_tests.yahoo_server import CRUMB

DAYS = pd.DatetimeIndex(["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"])
START, END = dt.date(2024, 3, 4), dt.date(2024, 3, 8)


def served(server, ticker: str, field: str = "close") -> pd.Series:
    """A ticker's recorded ``field`` (close, or adjclose) by exchange date, from its response file."""
    result = server.responses[ticker]["chart"]["result"][0]
    zone = ZoneInfo(result["meta"]["exchangeTimezoneName"])
    dates = [pd.Timestamp(dt.datetime.fromtimestamp(t, zone).date()) for t in result["timestamp"]]
    values = result["indicators"]["adjclose" if field == "adjclose" else "quote"][0][field]
    return pd.Series(values, index=pd.DatetimeIndex(dates), dtype="float64")


def bars(server, ticker: str) -> dict:
    """The editable quote and adjclose lists of a ticker's response."""
    indicators = server.responses[ticker]["chart"]["result"][0]["indicators"]
    return {"quote": indicators["quote"][0], "adjclose": indicators["adjclose"][0]}


def midnight(day: dt.date, zone: str) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp())


def test_happy_path_long_frame_with_currencies(yahoo):
    out = make_source("yfinance").fetch(["AAPL", "SAP.DE"], START, END)
    assert tuple(out.columns) == PRICE_COLUMNS
    assert out["date"].dtype == np.dtype("datetime64[ns]")
    assert len(out) == 10 and set(out["source"]) == {"yfinance"}
    aapl = out[out["symbol"] == "AAPL"]
    assert aapl["close"].tolist() == served(yahoo, "AAPL")[DAYS].tolist() and set(aapl["currency"]) == {"USD"}
    assert list(aapl["date"]) == list(DAYS)
    sap = out[out["symbol"] == "SAP.DE"]
    assert set(sap["currency"]) == {"EUR"} and sap["close"].tolist() == served(yahoo, "SAP.DE")[DAYS].tolist()
    # what yfinance asked Yahoo: daily bars from midnight of the first day to midnight after the last
    # (Yahoo's period2 is exclusive), in the exchange's time zone, with the crumb of the handshake
    (history,) = [q for q in yahoo.chart_requests("AAPL") if "period1" in q]
    assert history["period1"] == [str(midnight(START, "America/New_York"))]
    assert history["period2"] == [str(midnight(END + dt.timedelta(days=1), "America/New_York"))]
    assert history["interval"] == ["1d"] and "div" in history["events"][0] and history["crumb"] == [CRUMB]


def test_date_range_is_inclusive(yahoo):
    out = YahooSource().fetch(["AAPL"], dt.date(2024, 3, 5), dt.date(2024, 3, 7))
    assert out["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-05", "2024-03-06", "2024-03-07"]


def test_closes_are_adjusted_for_dividends(yahoo):
    """MSFT goes ex-dividend (0.75) on 2024-03-06: the closes before are scaled by
    1 - 0.75 / close of 2024-03-05 (Yahoo's adjusted close), the later ones are the raw closes."""
    out = YahooSource().fetch(["MSFT"], START, END).set_index("date")["close"]
    raw = served(yahoo, "MSFT")
    factor = 1.0 - 0.75 / raw[pd.Timestamp("2024-03-05")]
    expected = raw[DAYS].where(DAYS >= pd.Timestamp("2024-03-06"), raw[DAYS] * factor)
    np.testing.assert_allclose(out.to_numpy(), expected.to_numpy(), rtol=1e-6)
    assert out[pd.Timestamp("2024-03-04")] < raw[pd.Timestamp("2024-03-04")] - 0.7


def test_pence_quotes_become_pounds(yahoo):
    out = YahooSource().fetch(["VOD.L"], START, END)
    assert set(out["currency"]) == {"GBP"}
    np.testing.assert_allclose(out["close"], served(yahoo, "VOD.L")[DAYS].to_numpy() / 100.0, rtol=0, atol=1e-15)


def test_currency_falls_back_to_map_then_usd(yahoo):
    yahoo.metadata_unavailable |= {"SAP.DE", "AAPL"}
    out = YahooSource(currency_map={"SAP.DE": "EUR"}).fetch(["SAP.DE", "AAPL"], START, START)
    assert dict(zip(out["symbol"], out["currency"])) == {"SAP.DE": "EUR", "AAPL": "USD"}


def test_empty_download_names_the_symbol(yahoo):
    with pytest.raises(PriceDataError, match="yfinance: empty download for symbol NOSUCH over 2024-03-04..2024-03-08"):
        YahooSource().fetch(["AAPL", "NOSUCH"], START, END)
    with pytest.raises(PriceDataError, match="empty download for symbol AAPL over 2024-03-09..2024-03-10"):
        YahooSource().fetch(["AAPL"], dt.date(2024, 3, 9), dt.date(2024, 3, 10))  # a weekend: no bar


def test_all_null_download_is_empty_and_null_rows_are_dropped(yahoo):
    aapl, msft = bars(yahoo, "AAPL"), bars(yahoo, "MSFT")
    for series in (aapl["quote"], aapl["adjclose"]):
        for name in series:
            series[name] = [None] * len(series[name])
    for series in (msft["quote"], msft["adjclose"]):
        for name in series:
            series[name][2] = None  # 2024-03-05
    with pytest.raises(PriceDataError, match="empty download for symbol AAPL"):
        YahooSource().fetch(["AAPL"], START, END)
    out = YahooSource().fetch(["MSFT"], START, END)
    assert list(out["date"]) == [d for d in DAYS if d != pd.Timestamp("2024-03-05")]


def test_bad_price_from_yahoo_is_named(yahoo):
    served_days = served(yahoo, "AAPL").index
    day = served_days.get_loc(pd.Timestamp("2024-03-05"))
    for name in ("open", "high", "low", "close"):
        bars(yahoo, "AAPL")["quote"][name][day] = 0.0
    bars(yahoo, "AAPL")["adjclose"]["adjclose"][day] = 0.0
    with pytest.raises(PriceDataError, match=r"yfinance: .*non-positive close in row 1 \(symbol 'AAPL'"):
        YahooSource().fetch(["AAPL"], START, END)


def test_exchange_time_zones_give_exchange_dates(yahoo):
    """Daily bars stamped at the open in New York (14:30 UTC), Frankfurt (08:00 UTC), London and
    the FX fixing at London midnight are all dated by the exchange's calendar day."""
    out = YahooSource().fetch(["AAPL", "SAP.DE", "VOD.L"], START, END)
    for symbol in ("AAPL", "SAP.DE", "VOD.L"):
        assert list(out.loc[out["symbol"] == symbol, "date"]) == list(DAYS), symbol


def test_symbols_must_be_listed(yahoo):
    with pytest.raises(PriceDataError, match="list the symbols"):
        YahooSource().fetch(None, START, END)
    assert yahoo.requests == []


def test_live_fx_rate(yahoo):
    rates = fetch_yahoo_fx("USD", "EUR", START, END)
    assert yahoo.chart_requests("EURUSD=X")
    assert rates.name == "USD_per_EUR" and rates.tolist() == served(yahoo, "EURUSD=X")[DAYS].tolist()
    assert list(rates.index) == list(DAYS)


def test_live_fx_errors(yahoo):
    with pytest.raises(PriceDataError, match="empty download for FX ticker USDGBP=X"):
        fetch_yahoo_fx("GBP", "USD", START, END)
    with pytest.raises(ValueError, match="both USD"):
        fetch_yahoo_fx("USD", "USD", START, END)
