"""A stand-in for Yahoo Finance's HTTP API on 127.0.0.1, so that the yfinance package runs whole in tests.

yfinance (its download, cookie/crumb handshake, chart-JSON parsing, time zones and dividend
adjustment) and its HTTP client curl_cffi run unchanged; only the host is different. The
session given to yfinance is a curl_cffi session that sends every request to this server, the
original host as the first path segment (``https://query2.finance.yahoo.com/v8/finance/chart/AAPL``
-> ``http://127.0.0.1:<port>/query2.finance.yahoo.com/v8/finance/chart/AAPL``): yfinance writes
its hosts into its URLs in several modules, so the session is the one place to redirect them.

The server answers as Yahoo does:
  * ``fc.yahoo.com``: 404 with the ``A3`` cookie; ``/v1/test/getcrumb``: the crumb as text;
  * ``/v8/finance/chart/<ticker>``: the ticker's response from ``fixtures/yahoo_chart/<ticker>.json``
    (README there), cut to the bars with ``period1 <= timestamp < period2`` or to the last n
    bars of ``range=<n>d``, its dividends likewise; an unknown ticker gets Yahoo's 404 error body;
    a ticker of ``metadata_unavailable`` gets HTTP 500 for the 5-day request yfinance's
    ``Ticker.fast_info`` makes for the currency.
Every request is recorded (host, path, query) for the tests to check what yfinance asked.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yfinance
from curl_cffi import requests as curl_requests
from yfinance.data import YfData

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "yahoo_chart"
CRUMB = "offline-crumb"
NOT_FOUND = {"chart": {"result": None, "error": {"code": "Not Found",
                                                 "description": "No data found, symbol may be delisted"}}}


def load_responses() -> dict[str, dict]:
    """Every ticker's recorded chart response, by ticker."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}


def _cut(response: dict, query: dict[str, list[str]]) -> dict:
    """The response restricted to the bars the query asks for (Yahoo's period2 is exclusive)."""
    out = copy.deepcopy(response)
    result = out["chart"]["result"][0]
    stamps = result.get("timestamp", [])
    if "range" in query:
        keep = list(range(len(stamps)))[-int(query["range"][0].rstrip("d")):]
        result["meta"]["range"] = query["range"][0]
    else:
        first, last = int(query.get("period1", ["0"])[0]), int(query.get("period2", [str(2**62)])[0])
        keep = [i for i, t in enumerate(stamps) if first <= t < last]
    kept = {stamps[i] for i in keep}
    if not keep:  # Yahoo: the meta, no bars
        result.pop("timestamp", None)
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    else:
        result["timestamp"] = [stamps[i] for i in keep]
        for series in (result["indicators"]["quote"][0], result["indicators"]["adjclose"][0]):
            for name, values in series.items():
                series[name] = [values[i] for i in keep]
    if "events" in result:
        result["events"] = {kind: {k: v for k, v in events.items() if v["date"] in kept}
                            for kind, events in result["events"].items()}
    return out


@dataclass
class FakeYahooServer:
    """The server's state: the responses it serves (tests may edit them) and the requests it got."""

    responses: dict[str, dict] = field(default_factory=load_responses)
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    metadata_unavailable: set[str] = field(default_factory=set)  # tickers whose 5-day request gets HTTP 500
    port: int = 0

    def chart_requests(self, ticker: str) -> list[dict[str, list[str]]]:
        """The queries of the chart requests for ``ticker``, in order."""
        return [q for host, path, q in self.requests if path == f"/v8/finance/chart/{ticker}"]

    def answer(self, host: str, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes, dict[str, str]]:
        self.requests.append((host, path, query))
        if host == "fc.yahoo.com":
            return 404, "text/html", b"<html>not found</html>", {
                "Set-Cookie": "A3=d=offline&S=offline; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Path=/"}
        if path == "/v1/test/getcrumb":
            return 200, "text/plain", CRUMB.encode(), {}
        prefix = "/v8/finance/chart/"
        if path.startswith(prefix):
            ticker = path[len(prefix):]
            if ticker not in self.responses:
                return 404, "application/json", json.dumps(NOT_FOUND).encode(), {}
            if ticker in self.metadata_unavailable and query.get("range") == ["5d"]:
                return 500, "text/plain", b"Internal Server Error", {}
            return 200, "application/json", json.dumps(_cut(self.responses[ticker], query)).encode(), {}
        return 404, "text/plain", b"not served offline", {}


def _handler(state: FakeYahooServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            host, _, rest = unquote(url.path).lstrip("/").partition("/")
            status, kind, body, headers = state.answer(host, "/" + rest, parse_qs(url.query))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    return Handler


class LocalSession(curl_requests.Session):
    """A curl_cffi session sending every request to ``base`` with the original host as first path segment."""

    def __init__(self, base: str):
        super().__init__(impersonate="chrome")
        self.base = base

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        local = f"{self.base}/{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
        return super().request(method, local, *args, **kwargs)


@contextlib.contextmanager
def fake_yahoo(cache_dir: Path) -> Iterator[FakeYahooServer]:
    """Serve Yahoo's API on 127.0.0.1 and point yfinance at it while the block runs.

    yfinance keeps one session, cookie and crumb in a process-wide singleton (``YfData``) and
    caches time zones and cookies on disk; ``yfinance.download`` opens a new session per call
    (``yfinance.multi.new_session``). The block gives it the local session (also as the one
    ``download`` opens), fresh cookie state, an empty in-memory response cache and the cache
    folder ``cache_dir``, and puts the previous session, factory and cache folder back afterwards.
    """
    state = FakeYahooServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    session = LocalSession(f"http://127.0.0.1:{state.port}")
    data = YfData()
    previous, factory, cache = data._session, yfinance.multi.new_session, yfinance.cache._TzDBManager.get_location()
    yfinance.set_tz_cache_location(str(cache_dir))  # every cache of yfinance (tz, cookie, ISIN)
    data._cookie = data._crumb = None
    YfData.cache_get.cache_clear()  # responses of past date ranges, kept in memory by yfinance
    data._set_session(session)
    yfinance.multi.new_session = lambda: session  # download() makes a new session per call: this one
    try:
        yield state
    finally:
        yfinance.multi.new_session = factory
        yfinance.set_tz_cache_location(cache)
        data._set_session(previous)
        data._cookie = data._crumb = None
        YfData.cache_get.cache_clear()
        server.shutdown()
        server.server_close()
        thread.join()
