"""Portfolio definitions: the shipped file and every rule of the loader (small YAML files in tmp_path)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from risk_pipeline.config import ConfigError
from risk_pipeline.config.portfolios import DEFAULT_PORTFOLIOS_FILE, Portfolio, Position, load_portfolios
from risk_pipeline.sources import BundledSource
from risk_pipeline.sources.bond_instruments import configured_instruments
from risk_pipeline.sources.cash import configured_cash

STOCKS = ("AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM").split()


def test_shipped_portfolios(monkeypatch):
    monkeypatch.delenv("RISK_PIPELINE_PORTFOLIOS", raising=False)
    # stocks, bonds and cash
    known = BundledSource().symbols + tuple(i.symbol for i in configured_instruments()) + tuple(configured_cash())
    books = {p.name: p for p in load_portfolios(known_symbols=known)}
    assert list(books) == ["equal_weight_20", "concentrated", "factor_etf", "long_short", "eur_us_stocks", "sp500_index",
                           "ust10y", "eur_ust10y", "nasdaq_index", "eurusd"]

    equal = books["equal_weight_20"]
    assert equal.by_weight and equal.base_currency == "USD" and equal.notional == 1_000_000.0
    assert sorted(equal.symbols) == sorted(STOCKS)
    assert all(p.weight == 0.05 for p in equal.positions)

    conc = books["concentrated"]
    assert {p.symbol: p.weight for p in conc.positions} == {"AAPL": 0.4, "MSFT": 0.3, "AMD": 0.2, "JPM": 0.1}

    assert sorted(books["factor_etf"].symbols) == ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]

    ls = books["long_short"]
    assert not ls.by_weight and ls.notional is None
    quantities = [p.quantity for p in ls.positions]
    assert min(quantities) < 0 < max(quantities) and sum(quantities) != 0

    eur = books["eur_us_stocks"]
    assert eur.base_currency == "EUR" and eur.by_weight and eur.notional == 1_000_000.0
    assert set(eur.symbols) <= set(STOCKS) and len(eur.symbols) >= 3

    index = books["sp500_index"]  # an instrument book: the index alone
    assert index.by_weight and [(p.symbol, p.weight) for p in index.positions] == [("SP500", 1.0)]

    for name, base in (("ust10y", "USD"), ("eur_ust10y", "EUR")):  # a 10-year Treasury, in dollars and in euros
        assert books[name].base_currency == base and [(p.symbol, p.weight) for p in books[name].positions] == [
            ("UST10Y", 1.0)]

    nasdaq = books["nasdaq_index"]  # an index whose series ends in 2018
    assert [(p.symbol, p.weight) for p in nasdaq.positions] == [("NASDAQ", 1.0)]

    fx = books["eurusd"]  # an FX rate alone: EUR cash held in dollars
    assert fx.base_currency == "USD" and [(p.symbol, p.weight) for p in fx.positions] == [("CASH_EUR", 1.0)]
    assert configured_cash()["CASH_EUR"] == "EUR"


def test_long_short_net_value_stays_positive_on_bundled_prices():
    """The shipped pairs book must have a non-zero net value every day, or its returns are undefined."""
    book = next(p for p in load_portfolios(DEFAULT_PORTFOLIOS_FILE) if p.name == "long_short")
    prices = BundledSource().fetch(book.symbols, dt.date(1990, 1, 1), dt.date(2023, 1, 1))
    wide = prices.pivot(index="date", columns="symbol", values="close")
    net = sum(p.quantity * wide[p.symbol] for p in book.positions)
    gross = sum(abs(p.quantity) * wide[p.symbol] for p in book.positions)
    assert (net > 0.2 * gross).all()


def write(tmp_path, body: str, name: str = "books.yaml"):
    path = tmp_path / name
    path.write_text(body)
    return path


GOOD = """
portfolios:
  - name: a
    base_currency: GBP
    notional: 500
    positions:
      - {symbol: AAPL, weight: 0.7}
      - {symbol: MSFT, weight: 0.3, currency: USD}
  - name: b
    base_currency: USD
    positions:
      - {symbol: XOM, quantity: 10}
      - {symbol: CVX, quantity: -4.5}
"""


def test_happy_path_and_env_override(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(path))
    a, b = load_portfolios(known_symbols={"AAPL", "MSFT", "XOM", "CVX"})
    assert a == Portfolio("a", "GBP", (Position("AAPL", weight=0.7), Position("MSFT", weight=0.3, currency="USD")), 500.0)
    assert a.by_weight and a.symbols == ("AAPL", "MSFT")
    assert b == Portfolio("b", "USD", (Position("XOM", quantity=10.0), Position("CVX", quantity=-4.5)))
    assert not b.by_weight and isinstance(b.positions[0].quantity, float)


def portfolio_yaml(positions: str, *, name="p", base="USD", notional="notional: 1000\n    ", extra="") -> str:
    return f"portfolios:\n  - name: {name}\n    base_currency: {base}\n    {notional}{extra}positions:\n{positions}"


W = "      - {symbol: AAPL, weight: 0.5}\n      - {symbol: MSFT, weight: 0.5}\n"
Q = "      - {symbol: AAPL, quantity: 5}\n"


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        (portfolio_yaml("      - {symbol: AAPL, weight: 0.5}\n      - {symbol: NOPE, weight: 0.5}\n"),
         r"portfolio 'p': unknown symbol\(s\) NOPE"),
        (portfolio_yaml("      []\n"), r"portfolio 'p': field 'positions': portfolio is empty"),
        (portfolio_yaml(W) + "  - name: p\n    base_currency: USD\n    positions:\n" + Q,
         r"duplicate portfolio name 'p'"),
        (portfolio_yaml("      - {symbol: AAPL, weight: 0.5}\n      - {symbol: AAPL, weight: 0.5}\n"),
         r"portfolio 'p': field 'positions': duplicate symbol 'AAPL'"),
        (portfolio_yaml("      - {symbol: AAPL, weight: 1.0, quantity: 3}\n"),
         r"portfolio 'p': position 'AAPL': give exactly one of 'weight' or 'quantity'"),
        (portfolio_yaml("      - {symbol: AAPL}\n"),
         r"portfolio 'p': position 'AAPL': give exactly one of 'weight' or 'quantity'"),
        (portfolio_yaml(W, base="XYZ"), r"portfolio 'p': field 'base_currency': unknown currency 'XYZ'"),
        (portfolio_yaml(W, base="usd"), r"portfolio 'p': field 'base_currency': unknown currency 'usd'"),
        (portfolio_yaml(W, base="DOLLAR"), r"field 'base_currency': unknown currency 'DOLLAR'"),
        (portfolio_yaml(W, notional=""), r"portfolio 'p': field 'notional': must be a positive number .* got None"),
        (portfolio_yaml(W, notional="notional: 0\n    "), r"portfolio 'p': field 'notional': must be a positive number"),
        (portfolio_yaml(W, notional="notional: -5\n    "), r"field 'notional': must be a positive number"),
        (portfolio_yaml(Q), r"portfolio 'p': field 'notional': applies to weight portfolios only"),
        (portfolio_yaml("      - {symbol: AAPL, weight: 0.5}\n      - {symbol: MSFT, quantity: 3}\n"),
         r"portfolio 'p': field 'positions': mixes weights and quantities"),
        (portfolio_yaml("      - {symbol: AAPL, weight: 0.5}\n      - {symbol: MSFT, weight: 0.4}\n"),
         r"portfolio 'p': field 'positions': weights sum to 0.9, not 1"),
        (portfolio_yaml("      - {symbol: AAPL, weight: '1'}\n"),
         r"position 'AAPL': field 'weight': must be a finite non-zero number, got '1'"),
        (portfolio_yaml("      - {symbol: AAPL, quantity: 0}\n", notional=""),
         r"position 'AAPL': field 'quantity': must be a finite non-zero number"),
        (portfolio_yaml("      - {symbol: ON, quantity: 3}\n", notional=""), r"portfolio 'p': field 'symbol': True is not a ticker"),
        (portfolio_yaml("      - {symbol: AAPL, wieght: 1.0}\n"), r"portfolio 'p': position 'AAPL': field 'wieght': unknown field"),
        (portfolio_yaml("      - {symbol: AAPL, weight: 1.0, currency: XX}\n"),
         r"position 'AAPL': field 'currency': unknown currency 'XX'"),
        (portfolio_yaml(W, extra="benchmark: SP500\n    "), r"portfolio 'p': field 'benchmark': unknown field"),
        (portfolio_yaml(W, name="'bad name'"), r"field 'name': 'bad name' must be letters"),
        ("portfolios:\n  - name: p\n    positions:\n" + Q, r"portfolio 'p': field 'base_currency': missing"),
        ("portfolios:\n  - name: p\n    base_currency: USD\n    positions: AAPL\n", r"portfolio 'p': field 'positions': must be a list"),
        ("portfolios:\n  - name: p\n    base_currency: USD\n    positions:\n      - AAPL\n", r"portfolio 'p': each position must be a mapping"),
        ("portfolios: [\n  - name: p\n", r"line \d+, column \d+: malformed YAML"),
        ("portfolios:\n  - name: p\n  base_currency: USD\n", r"line 3, column \d+: malformed YAML"),
        ("- name: p\n", r"expected a top-level 'portfolios:' list"),
        ("portfolios: []\n", r"the 'portfolios' list is empty"),
        ("", r"expected a top-level 'portfolios:' list"),
    ],
)
def test_bad_files_name_file_portfolio_and_field(tmp_path, body, pattern):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_portfolios(path, known_symbols={"AAPL", "MSFT", "XOM"})
    assert re.match(rf"{re.escape(str(path))}(, line \d+(, column \d+)?)?: ", str(info.value))


def test_symbols_not_checked_without_known_symbols(tmp_path):
    path = write(tmp_path, portfolio_yaml("      - {symbol: ANYTHING, quantity: 2}\n", notional=""))
    (book,) = load_portfolios(path)
    assert book.symbols == ("ANYTHING",)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nothere.yaml: portfolio file not found"):
        load_portfolios(tmp_path / "nothere.yaml")


def test_dataclasses_validate_on_construction():
    with pytest.raises(ConfigError, match="exactly one of 'weight' or 'quantity'"):
        Position("AAPL")
    with pytest.raises(ConfigError, match="portfolio 'x': field 'positions': portfolio is empty"):
        Portfolio("x", "USD", ())
    with pytest.raises(ConfigError, match="weights sum to 1.1"):
        Portfolio("x", "USD", (Position("A", weight=0.6), Position("B", weight=0.5)), notional=1.0)
    short = Portfolio("ls", "EUR", (Position("A", weight=1.3), Position("B", weight=-0.3)), notional=100)
    assert short.by_weight and short.notional == 100.0 and short.symbols == ("A", "B")


def test_an_error_names_the_line_of_its_portfolio(tmp_path):
    body = ("portfolios:\n"
            "  - {name: ok, base_currency: USD, notional: 1, positions: [{symbol: AAPL, weight: 1.0}]}\n"
            "  - name: bad\n"
            "    base_currency: XYZ\n"
            "    notional: 1\n"
            "    positions: [{symbol: AAPL, weight: 1.0}]\n")
    with pytest.raises(ConfigError, match=r"books.yaml, line 3: portfolio 'bad': field 'base_currency': unknown currency"):
        load_portfolios(write(tmp_path, body))


def test_a_backfill_stops_before_its_run_on_a_bad_portfolios_file(tmp_path, monkeypatch, capsys):
    from risk_pipeline.cli import main

    bad = write(tmp_path, "portfolios:\n  - {name: p, base_currency: USD, notional: 1, positions: [{symbol: AAPL, weight: 2}]}\n")
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(bad))
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    assert main(["backfill", "--start", "2020-01-02", "--end", "2020-01-03"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"risk-pipeline backfill: {bad}, line 2: portfolio 'p': field 'positions': weights sum to 2, not 1\n"
    assert "Backfilling" not in captured.out and not (tmp_path / "data").exists()


def test_symbol_rows_give_each_books_rows_as_a_scan_would():
    """books.SymbolRows (one grouping shared by every book, issue 23: not a scan of every row per
    book): the rows of some symbols are those a filter of the frame gives, each symbol's in the
    frame's order; a symbol without rows or named twice adds nothing."""
    import numpy as np
    import pandas as pd

    from risk_pipeline.books import SymbolRows

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"symbol": rng.choice(["A", "B", "C", "D"], 200), "close": rng.normal(size=200)},
                         index=rng.permutation(1000)[:200])
    rows = SymbolRows(frame)
    picked = rows.of(["C", "A", "Z", "C"])
    for symbol in ("A", "C"):
        pd.testing.assert_frame_equal(picked.loc[picked["symbol"] == symbol], frame.loc[frame["symbol"] == symbol])
    assert len(picked) == frame["symbol"].isin(["A", "C"]).sum()
    assert rows.of(["Z"]).empty and list(rows.of([]).columns) == ["symbol", "close"]


def test_symbol_rows_by_date_give_each_symbol_the_rows_of_the_frame_sorted_by_date():
    """books.SymbolRows(frame, by="date"): the books' reads are not sorted by day (issue 23: the sort of every
    column was a large share of a task), so each symbol's rows are taken in date order, those of the frame
    sorted by date (stable: the frame's order among a date's rows), as build_books took them from a sorted read."""
    import pandas as pd

    from risk_pipeline.books import SymbolRows

    rng = np.random.default_rng(9)
    days = pd.bdate_range("2022-01-03", periods=30)
    frame = pd.DataFrame({"date": rng.choice(days, 300), "symbol": rng.choice(["A", "B", "C"], 300),
                          "close": rng.normal(size=300)}, index=rng.permutation(1000)[:300])
    by_date = frame.sort_values("date", kind="stable")
    rows = SymbolRows(frame, by="date")
    for symbols in (["C", "A"], ["B"], ["A", "Z", "A"]):
        want = pd.concat([by_date.loc[by_date["symbol"] == s] for s in dict.fromkeys(symbols) if s != "Z"])
        pd.testing.assert_frame_equal(rows.of(symbols), want)


def test_a_books_reads_are_its_columns_in_the_order_read(tmp_path, monkeypatch):
    """portfolios.histories, the read of every task of portfolio_pnl and var_estimates: the columns a book is built
    from only, not sorted by day (issue 23), and the books built from it are those of the whole rows sorted by day,
    bit for bit, each position's currency that of its symbol's first date; the rows read are those of the window."""
    import pandas as pd

    from risk_pipeline.books import build_books
    from risk_pipeline.defs.portfolios import BOOK_PRICE_COLUMNS, BOOK_RETURN_COLUMNS, histories
    from risk_pipeline.storage import lake

    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    rng = np.random.default_rng(3)
    days = [d.date() for d in pd.bdate_range("2021-01-04", periods=40)]
    symbols = {"A": "USD", "B": "USD", "C": "EUR"}
    for first in range(0, 40, 8):  # one commit (file) per 8 days, the last days first
        block = days[::-1][first:first + 8]
        rows = pd.DataFrame([(pd.Timestamp(d), s, c) for d in block for s, c in symbols.items()],
                            columns=["date", "symbol", "currency"])
        lake.write_days("prices", rows.assign(close=rng.uniform(10, 20, len(rows)), source="test"), block,
                        keys=list(symbols))
        lake.write_days("returns", rows.assign(simple_return=rng.normal(0, 0.01, len(rows)),
                                               log_return=0.0), block, keys=list(symbols))
    prices, returns = histories(days[5], days[-1], ["A", "C"], lookback=3)
    assert tuple(prices.columns) == BOOK_PRICE_COLUMNS and tuple(returns.columns) == BOOK_RETURN_COLUMNS
    whole = [lake.read_window(t, days[5], days[-1], lookback=3, where={"symbol": ["A", "C"]})
             for t in ("prices", "returns")]
    assert len(prices) == len(whole[0]) == 2 * 38 and len(returns) == len(whole[1])
    portfolios = [Portfolio("usd", "USD", (Position("A", quantity=3.0), Position("C", quantity=-2.0))),
                  Portfolio("eur", "EUR", (Position("C", weight=0.5), Position("A", weight=0.5)), notional=1e6)]
    for got, want in zip(build_books(portfolios, prices, returns)[0], build_books(portfolios, *whole)[0]):
        assert got.currencies == want.currencies == {"A": "USD", "C": "EUR"}
        for name in ("exposures", "asset_returns", "weights", "unit_values"):
            pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name), check_exact=True)
        pd.testing.assert_series_equal(got.values, want.values, check_exact=True)
    assert set(prices["date"].dt.date) == set(days[2:])  # the range and its 3 stored days before


def test_a_books_wide_frames_are_the_pivot_of_its_long_rows():
    """books._wide fills dates x symbols by position instead of pandas' pivot (a third of building
    a book, about 85 builds in a day's run): the same frame, exactly (dates of every row sorted,
    NaN where a symbol has no row, the symbols asked for in their order, the index and column
    names), and the same error for two rows of a date and symbol; each position's currency is
    that of its symbol's first row."""
    import numpy as np
    import pandas as pd

    from risk_pipeline.books import _position_currencies, _wide

    rng = np.random.default_rng(7)
    days = pd.bdate_range("2022-01-03", periods=40)
    cells = [(d, s) for d in days for s in ("A", "B", "C", "D") if rng.random() < 0.7]
    order = rng.permutation(len(cells))
    frame = pd.DataFrame({"date": [cells[i][0] for i in order], "symbol": [cells[i][1] for i in order],
                          "close": rng.normal(size=len(cells)), "currency": rng.choice(["USD", "EUR"], len(cells))})
    frame.loc[3, "close"] = np.nan
    for symbols in (["C", "A"], ["A", "B", "C", "D"], ["B", "Z"], []):
        for rows in (frame, frame.iloc[:0], frame.loc[frame["symbol"] == "D"]):
            pivot = rows.pivot(index="date", columns="symbol", values="close").reindex(columns=symbols).sort_index()
            pd.testing.assert_frame_equal(_wide(rows, "close", symbols), pivot, check_exact=True, check_freq=True)
    twice = pd.concat([frame, frame.iloc[[5]]])
    with pytest.raises(ValueError):
        twice.pivot(index="date", columns="symbol", values="close")
    with pytest.raises(ValueError, match="more than one row for a date and symbol"):
        _wide(twice, "close", ["A", "B", "C", "D"])

    portfolio = Portfolio(name="p", base_currency="USD", notional=100.0, positions=(
        Position("A", weight=0.5), Position("B", weight=0.3, currency="JPY"), Position("Z", weight=0.2)))
    first = frame.drop_duplicates("symbol").set_index("symbol")["currency"]
    assert _position_currencies(portfolio, frame) == {"A": first["A"], "B": "JPY", "Z": None}


def test_the_file_is_read_once_per_version_and_again_when_it_changes(tmp_path):
    path = tmp_path / "p.yaml"
    body = "portfolios:\n  - name: a\n    base_currency: USD\n    notional: 100\n    positions:\n      - {symbol: AAPL, weight: 1.0}\n"
    path.write_text(body)
    first = load_portfolios(path)
    assert load_portfolios(path) is first  # the steps of a day's run share one read
    path.write_text(body.replace("100", "200"))
    assert [p.notional for p in load_portfolios(path)] == [200.0]
    with pytest.raises(ConfigError, match="unknown symbol"):  # the symbols are checked at every call
        load_portfolios(path, known_symbols={"MSFT"})
    path.write_text(body.replace("USD", "XYZ"))
    with pytest.raises(ConfigError, match="base_currency"):
        load_portfolios(path)


def _pandas_book(portfolio: Portfolio, prices, returns):
    """A book by pandas' frame arithmetic on the wide frames (``books._wide``, pandas' pivot: the test above), as
    build_book computed it before it worked on arrays."""
    import pandas as pd

    from risk_pipeline.books import _wide
    from risk_pipeline.sources.ecb_fx import fx_rate

    symbols = list(portfolio.symbols)
    held_prices, held_returns = (f.loc[f["symbol"].isin(symbols)] for f in (prices, returns))
    close = _wide(held_prices, "close", symbols)
    dates = close.index
    local = _wide(held_returns, "simple_return", symbols).reindex(dates)
    quoted = held_prices.drop_duplicates("symbol").set_index("symbol")["currency"]
    currency = {p.symbol: p.currency or quoted.get(p.symbol) for p in portfolio.positions}
    fx = pd.DataFrame({s: (pd.Series(float("nan"), index=dates) if c is None else
                           pd.Series(fx_rate(portfolio.base_currency, c, dates).to_numpy(), index=dates))
                       for s, c in currency.items()}, index=dates)
    asset_returns = (1.0 + local) * (1.0 + (fx / fx.shift(1) - 1.0)) - 1.0
    if portfolio.by_weight:
        weights = pd.Series({p.symbol: p.weight for p in portfolio.positions}, dtype=float)[symbols]
        exposures = pd.DataFrame(np.tile(weights.to_numpy() * portfolio.notional, (len(dates), 1)), index=dates,
                                 columns=symbols)
        values = pd.Series(float(portfolio.notional), index=dates)
    else:
        exposures = close * fx * pd.Series({p.symbol: p.quantity for p in portfolio.positions}, dtype=float)[symbols]
        values = exposures.sum(axis=1, min_count=len(symbols))
    return {"exposures": exposures, "values": values, "asset_returns": asset_returns,
            "weights": exposures.div(values, axis=0), "unit_values": close * fx, "currencies": currency}


import numpy as np  # noqa: E402 - the helpers above and the tests below


def test_a_book_built_on_arrays_is_pandas_own_book_bit_for_bit():
    """build_book computes a book's frames on their arrays: the same frames as pandas' pivots and frame
    arithmetic, to the last bit (values, index, columns and their names, and the layout pandas' row sum of a
    quantity book's value follows), for weight and quantity books in their own and other currencies, rows in
    any order, a cell missing, a return on a day without a price, a position never priced; and the same error
    for two returns of a date and symbol."""
    import pandas as pd

    from risk_pipeline.books import build_book

    rng = np.random.default_rng(11)
    days = pd.bdate_range("2021-11-01", periods=30)
    symbols = {f"U{i}": "USD" for i in range(9)} | {f"E{i}": "EUR" for i in range(3)} | {"OTHER": "USD"}
    rows = [(d, s, c) for d in days for s, c in symbols.items() if rng.random() < 0.93]
    frame = pd.DataFrame(rows, columns=["date", "symbol", "currency"]).sample(frac=1.0, random_state=5)
    prices = frame.assign(close=rng.uniform(10, 200, len(frame)))
    returns = pd.concat([frame, frame.iloc[:3].assign(date=pd.Timestamp("2021-12-25"))]).assign(
        simple_return=lambda f: rng.normal(0, 0.02, len(f)))
    books = [Portfolio("usd_weights", "USD", tuple(Position(s, weight=w) for s, w in
                                                   zip(["U1", "E0", "U3", "E2"], [0.4, 0.3, 0.2, 0.1])), notional=1e6),
             Portfolio("eur_quantities", "EUR", tuple(Position(f"U{i}", quantity=float(q)) for i, q in
                                                      enumerate([100, -50, 20, 7, 300, -80, 10, 5, 60]))
                       + (Position("E1", quantity=40.0), Position("NEVER", quantity=5.0, currency="USD"))),
             Portfolio("usd_quantities", "USD", (Position("E0", quantity=1000.0), Position("U2", quantity=-10.0)))]
    for portfolio in books:
        book, expected = build_book(portfolio, prices, returns), _pandas_book(portfolio, prices, returns)
        assert book.currencies == expected.pop("currencies")
        for name, want in expected.items():
            got = getattr(book, name)
            (pd.testing.assert_frame_equal if isinstance(want, pd.DataFrame) else pd.testing.assert_series_equal)(
                got, want, check_exact=True, check_freq=True)
            assert np.array_equal(got.to_numpy().view(np.int64), want.to_numpy().view(np.int64)), (portfolio.name, name)
        layout = [(b.values.shape, b.values.flags.c_contiguous) for b in book.exposures._mgr.blocks]
        assert layout == [(b.values.shape, b.values.flags.c_contiguous) for b in expected["exposures"]._mgr.blocks]
    with pytest.raises(ValueError, match="simple_return: more than one row for a date and symbol"):
        build_book(books[0], prices, pd.concat([returns, returns.loc[returns["symbol"] == "U1"].iloc[:1]]))


def test_a_books_pnl_days_are_those_of_its_rows():
    """var_estimates reads a book's P&L days without its rows (risk.portfolio.pnl_days): the dates of
    pnl_from_exposures' rows, a day without a previous close, a held return or a value left out."""
    import pandas as pd

    from risk_pipeline.risk.portfolio import pnl_days, pnl_from_exposures

    rng = np.random.default_rng(2)
    dates = pd.bdate_range("2022-01-03", periods=12, name="date")
    exposures = pd.DataFrame(rng.normal(size=(12, 3)), index=dates, columns=["A", "B", "C"])
    exposures.iloc[4, 1] = np.nan
    exposures.iloc[7, 2] = 0.0  # not held over the next day: its missing return does not matter
    returns = pd.DataFrame(rng.normal(size=(11, 3)), index=dates[1:], columns=["C", "A", "B"])
    returns.iloc[7, 0] = np.nan
    returns.iloc[2, 1] = np.nan
    values = pd.Series(rng.uniform(1, 2, 12), index=dates)
    values.iloc[9] = 0.0
    days = pnl_days(exposures, values, returns)
    rows = pnl_from_exposures(exposures, values, returns)
    pd.testing.assert_index_equal(days, pd.DatetimeIndex(rows["date"]))
    assert 0 < len(days) < 11
