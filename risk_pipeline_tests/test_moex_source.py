"""The Moscow Exchange source, offline: ISS answers from fixture files served at the HTTP transport layer;
and a rouble desk of a MOEX share and a US stock through the pipeline, with MOEX's USD/RUB.

``responses`` intercepts ``requests`` below ``apimoex``: apimoex builds its URL and query, pages
through ``history.cursor`` and parses the extended JSON itself; only iss.moex.com is replaced by
:func:`iss_history`, which applies the query to the fixture rows as ISS does
(fixtures/moex/README.md: the files are hand-made in ISS's format, not recorded).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import responses
import yaml

from risk_pipeline.config.settings import DEFAULT_SETTINGS_FILE, SETTINGS_ENV
from risk_pipeline.defs.market_data import fx_rates, prices, returns
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.sources import PRICE_COLUMNS, PriceDataError, make_source
from risk_pipeline.sources.fx_sources import moex_usd_rub
from risk_pipeline_tests.pipeline_helpers import query

FIXTURES = Path(__file__).parent / "fixtures" / "moex"
HISTORY_URL = re.compile(r"https://iss\.moex\.com/iss/history/engines/(\w+)/markets/(\w+)/boards/(\w+)/securities/(\w+)\.json")
PAGE_SIZE = 10  # ISS pages by 100 rows; fewer here so that apimoex's paging runs on the small fixtures


def fixture_rows(engine: str, market: str, board: str, security: str) -> list[dict]:
    path = FIXTURES / f"history_{engine}_{market}_{board}_{security}.json"
    if not path.exists():
        return []  # ISS answers an unknown security with an empty history table
    return json.loads(path.read_text())[1]["history"]


def iss_history(request):
    """ISS's answer to a history request: rows dated from..till, the requested columns, one page."""
    engine, market, board, security = HISTORY_URL.match(request.url).groups()
    query = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
    assert query["iss.json"] == "extended" and query["iss.meta"] == "off"
    rows = [r for r in fixture_rows(engine, market, board, security)
            if query.get("from", "0000") <= r["TRADEDATE"] <= query.get("till", "9999")]
    start = int(query.get("start", 0))
    columns = query["history.columns"].split(",")
    page = [{c: r[c] for c in columns} for r in rows[start:start + PAGE_SIZE]]
    body = [{"charsetinfo": {"name": "utf-8"}},
            {"history": page, "history.cursor": [{"INDEX": start, "TOTAL": len(rows), "PAGESIZE": PAGE_SIZE}]}]
    return 200, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture()
def iss():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, HISTORY_URL, callback=iss_history)
        yield mock


def expected_closes(engine, market, board, security, start: str, end: str) -> pd.Series:
    rows = [r for r in fixture_rows(engine, market, board, security)
            if start <= r["TRADEDATE"] <= end and r["CLOSE"] is not None]
    return pd.Series([r["CLOSE"] for r in rows], index=pd.to_datetime([r["TRADEDATE"] for r in rows]))


def test_moex_closes_of_a_share_come_through_apimoex_paged_and_validated(iss):
    frame = make_source("moex").fetch(["SBER"], dt.date(2022, 2, 15), dt.date(2022, 3, 31))
    expected = expected_closes("stock", "shares", "TQBR", "SBER", "2022-02-15", "2022-03-31")
    assert list(frame.columns) == list(PRICE_COLUMNS)
    assert frame["date"].tolist() == list(expected.index) and frame["close"].tolist() == expected.tolist()
    # 15 rows in the range, one without a close (2022-02-28): two pages of 10, then nothing more asked
    assert len(iss.calls) == 2 and len(expected) == 14 and pd.Timestamp("2022-02-28") not in set(frame["date"])
    assert set(frame["currency"]) == {"RUB"} and set(frame["source"]) == {"moex"}
    assert "start=10" in iss.calls[1].request.url and "history.columns=TRADEDATE%2CCLOSE" in iss.calls[0].request.url


def test_usd_rub_from_the_currency_market_is_rub_per_usd_with_its_source(iss):
    quotes = moex_usd_rub(dt.date(2022, 3, 2), dt.date(2022, 3, 31))
    expected = expected_closes("currency", "selt", "CETS", "USD000UTSTOM", "2022-03-02", "2022-03-31")
    assert quotes["date"].tolist() == list(expected.index) and quotes["rate"].tolist() == expected.tolist()
    assert set(quotes["currency"]) == {"RUB"} and set(quotes["per"]) == {"USD"}
    assert set(quotes["source"]) == {"moex:USD000UTSTOM"}
    assert "/engines/currency/markets/selt/boards/CETS/" in iss.calls[0].request.url


def test_an_unknown_security_or_board_is_one_line_naming_it(iss):
    with pytest.raises(PriceDataError, match="moex: no close for GAZPX on board TQBR over 2022-02-15..2022-03-31"):
        make_source("moex").fetch(["GAZPX"], dt.date(2022, 2, 15), dt.date(2022, 3, 31))
    with pytest.raises(PriceDataError, match="moex: unknown board 'XXXX' for SBER"):
        make_source("moex", boards={"SBER": "XXXX"}).fetch(["SBER"], dt.date(2022, 2, 15), dt.date(2022, 3, 31))
    with pytest.raises(PriceDataError, match="list the securities"):
        make_source("moex").fetch(None, dt.date(2022, 2, 15), dt.date(2022, 3, 31))


def test_an_unreachable_iss_is_one_line_naming_the_security():
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, HISTORY_URL, status=503)
        with pytest.raises(PriceDataError, match="moex: download of SBER on board TQBR failed"):
            make_source("moex").fetch(["SBER"], dt.date(2022, 2, 15), dt.date(2022, 3, 31))


RUB_DESK = """
portfolios:
  - name: rub_desk
    base_currency: RUB
    positions:
      - {symbol: SBER, quantity: 500000}
      - {symbol: AAPL, quantity: 1000}
"""


def test_a_rouble_desk_of_a_moex_share_and_a_us_stock_valued_with_moex_usd_rub(iss, data_dir, tmp_path, monkeypatch):
    books = tmp_path / "books.yaml"
    books.write_text(RUB_DESK)
    settings = yaml.safe_load(DEFAULT_SETTINGS_FILE.read_text())
    settings["fx"] = {"second_source": "moex", "csv_path": None}
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(settings))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(books))
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "pipeline.yaml"))
    tags = {"dagster/asset_partition_range_start": "2022-03-24", "dagster/asset_partition_range_end": "2022-03-31"}
    config = {"ops": {"prices": {"config": {"extra_symbols": [], "moex_symbols": ["SBER"]}}}}
    assert dg.materialize([prices, returns, fx_rates, portfolio_pnl], run_config=config, tags=tags).success
    stored = query(data_dir, "select date, symbol, close, currency, source from prices order by date, symbol")
    sber = stored.loc[stored["symbol"] == "SBER"]
    assert set(sber["source"]) == {"moex"} and set(sber["currency"]) == {"RUB"}
    assert set(stored.loc[stored["symbol"] == "AAPL", "source"]) == {"bundled"}
    usd_rub = expected_closes("currency", "selt", "CETS", "USD000UTSTOM", "2022-03-24", "2022-03-31")
    wide = stored.pivot(index="date", columns="symbol", values="close")
    expected = 500000 * wide["SBER"] + 1000 * wide["AAPL"] * usd_rub.reindex(wide.index)
    value = query(data_dir, "select date, value from portfolio_pnl order by date").set_index("date")["value"]
    np.testing.assert_allclose(value, expected.reindex(value.index), rtol=1e-12)
    rub = query(data_dir, "select date, source from fx_rates where currency = 'RUB'")
    assert set(rub["source"]) == {"moex:USD000UTSTOM"} and len(rub) == len(usd_rub)
