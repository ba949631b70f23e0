"""The yfinance source, offline: ``yfinance.download`` and ``yfinance.Ticker`` are replaced by fakes.

The fake download builds its answer the way yfinance 1.x's ``multi._download_impl`` does
(per-ticker OHLCV frames concatenated with ``keys=tickers, names=["Ticker", "Price"]``, levels
swapped and sorted for ``group_by="column"``), i.e. MultiIndex columns ``(Price, Ticker)`` such as
``("Close", "AAPL")``, a tz-naive ``Date`` index, and an exclusive ``end`` date. Only yfinance's
network layer is faked; the code under test (YahooSource, fetch_yahoo_fx) runs unchanged.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import yfinance

from risk_pipeline.sources import PRICE_COLUMNS, PriceDataError, make_source
from risk_pipeline.sources.yahoo import YahooSource, fetch_yahoo_fx

DAYS = pd.DatetimeIndex(["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"], name="Date")
CLOSES = {
    "AAPL": [175.1, 170.12, 169.12, 169.0, 170.73],
    "SAP.DE": [172.0, 171.5, 173.2, 175.0, 176.4],
    "VOD.L": [68.1, 68.5, 69.02, 68.9, 70.0],  # pence
    "EURUSD=X": [1.0852, 1.0855, 1.0857, 1.0898, 1.0947],
}


def yahoo_frame(ticker: str, closes, index: pd.DatetimeIndex) -> pd.DataFrame:
    """A yfinance.download result for one ticker, built with yfinance's own concat/swaplevel steps."""
    close = np.asarray(closes, dtype=float)
    ohlcv = pd.DataFrame({"Open": close * 0.99, "High": close * 1.01, "Low": close * 0.98, "Close": close,
                          "Volume": np.full(len(close), 1_000_000)}, index=index)
    data = pd.concat([ohlcv], axis=1, keys=[ticker.upper()], names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


class FakeYahoo:
    """Stands in for Yahoo's servers: ``download`` and ``Ticker`` with recorded calls."""

    def __init__(self, closes=CLOSES, currencies=None, index=DAYS):
        self.closes, self.index, self.calls = closes, index, []
        self.currencies = {"AAPL": "USD", "SAP.DE": "EUR", "VOD.L": "GBp"} if currencies is None else currencies

    def download(self, tickers, start=None, end=None, **kwargs):
        self.calls.append({"tickers": tickers, "start": start, "end": end, **kwargs})
        if tickers not in self.closes:
            return pd.DataFrame(columns=pd.MultiIndex.from_tuples([], names=["Price", "Ticker"]))
        full = yahoo_frame(tickers, self.closes[tickers], self.index)
        keep = (full.index >= pd.Timestamp(start)) & (full.index < pd.Timestamp(end))  # Yahoo's end is exclusive
        return full.loc[keep]

    def ticker(self, symbol):
        fake = self

        class Ticker:
            @property
            def fast_info(self):
                if symbol not in fake.currencies:
                    raise KeyError("currency")  # what a failed metadata request looks like to the caller
                return {"currency": fake.currencies[symbol]}

        return Ticker()


@pytest.fixture()
def fake(monkeypatch):
    yahoo = FakeYahoo()
    monkeypatch.setattr(yfinance, "download", yahoo.download)
    monkeypatch.setattr(yfinance, "Ticker", yahoo.ticker)
    return yahoo


def test_fake_matches_yfinance_column_layout():
    frame = yahoo_frame("AAPL", CLOSES["AAPL"], DAYS)
    assert frame.columns.names == ["Price", "Ticker"]
    assert list(frame.columns) == [("Close", "AAPL"), ("High", "AAPL"), ("Low", "AAPL"), ("Open", "AAPL"), ("Volume", "AAPL")]


def test_happy_path_long_frame_with_currencies(fake):
    out = make_source("yfinance").fetch(["AAPL", "SAP.DE"], dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    assert tuple(out.columns) == PRICE_COLUMNS
    assert out["date"].dtype == np.dtype("datetime64[ns]")
    assert len(out) == 10 and set(out["source"]) == {"yfinance"}
    aapl = out[out["symbol"] == "AAPL"]
    assert aapl["close"].tolist() == CLOSES["AAPL"] and set(aapl["currency"]) == {"USD"}
    assert list(aapl["date"]) == list(DAYS)
    assert set(out.loc[out["symbol"] == "SAP.DE", "currency"]) == {"EUR"}
    call = fake.calls[0]
    assert call["tickers"] == "AAPL" and call["auto_adjust"] is True and call["progress"] is False


def test_date_range_is_inclusive(fake):
    out = YahooSource().fetch(["AAPL"], dt.date(2024, 3, 5), dt.date(2024, 3, 7))
    assert out["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-05", "2024-03-06", "2024-03-07"]
    assert fake.calls[0]["start"] == "2024-03-05" and fake.calls[0]["end"] == "2024-03-08"


def test_pence_quotes_become_pounds(fake):
    out = YahooSource().fetch(["VOD.L"], dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    assert set(out["currency"]) == {"GBP"}
    np.testing.assert_allclose(out["close"], np.array(CLOSES["VOD.L"]) / 100.0, rtol=0, atol=1e-15)


def test_currency_falls_back_to_map_then_usd(monkeypatch):
    yahoo = FakeYahoo(currencies={})  # metadata unavailable for every ticker
    monkeypatch.setattr(yfinance, "download", yahoo.download)
    monkeypatch.setattr(yfinance, "Ticker", yahoo.ticker)
    out = YahooSource(currency_map={"SAP.DE": "EUR"}).fetch(["SAP.DE", "AAPL"], dt.date(2024, 3, 4), dt.date(2024, 3, 4))
    assert dict(zip(out["symbol"], out["currency"])) == {"SAP.DE": "EUR", "AAPL": "USD"}


def test_empty_download_names_the_symbol(fake):
    with pytest.raises(PriceDataError, match="yfinance: empty download for symbol NOSUCH over 2024-03-04..2024-03-08"):
        YahooSource().fetch(["AAPL", "NOSUCH"], dt.date(2024, 3, 4), dt.date(2024, 3, 8))


def test_all_nan_download_is_empty_and_nan_rows_are_dropped(monkeypatch):
    yahoo = FakeYahoo(closes={"AAPL": [np.nan] * 5, "MSFT": [400.0, np.nan, 402.0, 403.0, 404.0]})
    monkeypatch.setattr(yfinance, "download", yahoo.download)
    monkeypatch.setattr(yfinance, "Ticker", yahoo.ticker)
    with pytest.raises(PriceDataError, match="empty download for symbol AAPL"):
        YahooSource().fetch(["AAPL"], dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    msft = YahooSource().fetch(["MSFT"], dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    assert msft["close"].tolist() == [400.0, 402.0, 403.0, 404.0]
    assert pd.Timestamp("2024-03-05") not in set(msft["date"])


def test_bad_price_from_yahoo_is_named(monkeypatch):
    yahoo = FakeYahoo(closes={"AAPL": [175.0, 0.0, 176.0, 177.0, 178.0]})
    monkeypatch.setattr(yfinance, "download", yahoo.download)
    monkeypatch.setattr(yfinance, "Ticker", yahoo.ticker)
    with pytest.raises(PriceDataError, match=r"yfinance: .*non-positive close in row 1 \(symbol 'AAPL'"):
        YahooSource().fetch(["AAPL"], dt.date(2024, 3, 4), dt.date(2024, 3, 8))


def test_tz_aware_index_becomes_exchange_dates(monkeypatch):
    index = DAYS.tz_localize("Europe/Berlin")  # yfinance with ignore_tz=False: midnight exchange time
    yahoo = FakeYahoo(index=index)
    monkeypatch.setattr(yfinance, "download", lambda tickers, **kw: yahoo_frame(tickers, CLOSES[tickers], index))
    monkeypatch.setattr(yfinance, "Ticker", yahoo.ticker)
    out = YahooSource().fetch(["SAP.DE"], dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    assert list(out["date"]) == list(DAYS)


def test_symbols_must_be_listed(fake):
    with pytest.raises(PriceDataError, match="list the symbols"):
        YahooSource().fetch(None, dt.date(2024, 3, 4), dt.date(2024, 3, 8))


def test_live_fx_rate(fake):
    rates = fetch_yahoo_fx("USD", "EUR", dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    assert fake.calls[0]["tickers"] == "EURUSD=X"
    assert rates.name == "USD_per_EUR" and rates.tolist() == CLOSES["EURUSD=X"]
    assert list(rates.index) == list(DAYS)


def test_live_fx_errors(fake):
    with pytest.raises(PriceDataError, match="empty download for FX ticker USDGBP=X"):
        fetch_yahoo_fx("GBP", "USD", dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    with pytest.raises(ValueError, match="both USD"):
        fetch_yahoo_fx("USD", "USD", dt.date(2024, 3, 4), dt.date(2024, 3, 8))
