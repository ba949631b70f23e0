"""Positions and trades as data: YAML books as position histories, a book of record from a drop folder,
the hypothetical and actual P&L recomputed independently from the stored prices, FX rates, positions and
trades; the same rows from a file, a Parquet file, DuckDB and a real PostgreSQL server; bad input as one
line naming file, row and field, exit status 2 and nothing written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from risk_pipeline.cli import main
from risk_pipeline.config.positions import RecordSource, load_books_of_record
from risk_pipeline.sources.positions import load_records
from risk_pipeline.storage.lake import table_version
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, BALANCED_BOOK, module_lake, query

RANGE = ("2022-02-25", "2022-03-11")
DAYS = [d.date() for d in pd.bdate_range("2022-03-01", "2022-03-11")]
# the desk's positions per day (AAPL bought on the 3rd, MSFT short throughout) and its trades
HOLDINGS = {d: {"AAPL": 100.0 if d < dt.date(2022, 3, 3) else 150.0, "MSFT": -50.0} for d in DAYS}
TRADES = [("2022-03-03", "AAPL", 50.0, 165.0, 3.5)]

PORTFOLIOS = "\nportfolios:\n" + BALANCED_BOOK + """  - name: held
    base_currency: EUR
    positions:
      - {symbol: MSFT, quantity: 1000}
      - {symbol: KO, quantity: -200}
books_of_record:
  books:
    - {name: desk, base_currency: EUR}
  positions: {source: folder, path: drop}
  trades: {source: folder, path: drop}
"""


def materialize(start: str, end: str, names: set[str]):
    """One run of the assets ``names`` over ``start..end``, with the settings' defaults."""
    import dagster as dg

    assets = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= names]
    tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    return dg.materialize(assets, tags=tags)


def write_drop(folder: Path, holdings=HOLDINGS, trades=TRADES) -> None:
    folder.mkdir(exist_ok=True)
    for day, held in holdings.items():
        rows = [f"desk,{symbol},{quantity}" for symbol, quantity in held.items()]
        (folder / f"positions_{day}.csv").write_text("portfolio,symbol,quantity\n" + "\n".join(rows) + "\n")
    for day, symbol, quantity, price, fees in trades:
        (folder / f"trades_{day}.csv").write_text(
            f"portfolio,symbol,quantity,price,fees\ndesk,{symbol},{quantity},{price},{fees}\n")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("positions")
    write_drop(folder / "drop")
    with module_lake(folder, PORTFOLIOS):
        materialize(*RANGE, {"prices", "returns", "fx_rates", "positions", "trades", "portfolio_pnl"})
        yield folder


def test_a_weight_book_holds_its_weights_of_the_notional_at_every_close(lake):
    held = query(lake / "data", """
        select p.date, p.symbol, p.quantity * c.close as exposure from positions p
        join prices c using (date, symbol) where p.portfolio = 'balanced' order by p.date, p.symbol""")
    weights = {"AAPL": 0.4, "JPM": 0.3, "XOM": 0.3}
    assert len(held) == 3 * held["date"].nunique() and held["date"].nunique() >= 10
    expected = held["symbol"].map(weights) * 1_000_000
    np.testing.assert_allclose(held["exposure"], expected, rtol=1e-12)


def test_a_quantity_book_holds_its_quantities_on_every_priced_day(lake):
    held = query(lake / "data", "select date, symbol, quantity from positions where portfolio = 'held'")
    priced = query(lake / "data", "select count(distinct date) as n from prices where date >= '2022-02-25'")["n"][0]
    assert held["date"].nunique() == priced
    assert dict(held.groupby("symbol")["quantity"].unique().map(tuple)) == {"KO": (-200.0,), "MSFT": (1000.0,)}


def _revalued(data: Path, book: str) -> pd.DataFrame:
    """The hypothetical P&L recomputed in SQL: the previous close's quantities times the change of each
    instrument's base-currency unit value (close x FX; base EUR: 1 / the USD rate per EUR)."""
    return query(data, f"""
        with unit as (
            select p.date, p.symbol, p.close * case when pf.base_currency = 'EUR' then 1 / f.rate else 1 end as unit
            from prices p cross join (select distinct base_currency from portfolio_pnl where portfolio = '{book}') pf
            left join fx_rates f on f.date = p.date and f.currency = 'USD'),
        days as (select date, lag(date) over (order by date) as previous from (select distinct date from prices)),
        held as (select d.date, q.symbol, q.quantity, u0.unit as unit0, u1.unit as unit1
                 from days d join positions q on q.date = d.previous and q.portfolio = '{book}'
                 join unit u0 on u0.date = d.previous and u0.symbol = q.symbol
                 join unit u1 on u1.date = d.date and u1.symbol = q.symbol)
        select date, sum(quantity * (unit1 - unit0)) as revalued from held group by date order by date""")


def test_a_book_of_records_traded_value_is_its_stored_units_change_valued_at_the_close(lake):
    """traded_value = sum |q_t - q_t-1| x close x FX (docs/positions.md): exactly 0 on the desk's days without a
    change of its stored units (it was a residue of 1e-12 to 1e-11 there, the units recovered as exposure over
    unit value), 50 AAPL valued at the close of 2022-03-03 in EUR on the day of the trade."""
    rows = query(lake / "data", "select date, traded_value from portfolio_pnl where portfolio = 'desk' order by date")
    traded = pd.Series(rows["traded_value"].to_numpy(), index=rows["date"].dt.date)
    day = dt.date(2022, 3, 3)
    assert len(traded) >= 8 and (traded.drop(day) == 0.0).all(), traded
    unit = query(lake / "data", f"""select p.close / f.rate as unit from prices p join fx_rates f
                                    on f.date = p.date and f.currency = 'USD' where p.symbol = 'AAPL' and p.date = '{day}'""")
    assert traded[day] == pytest.approx(50.0 * unit["unit"][0], rel=1e-12)


@pytest.mark.parametrize("book", ["balanced", "held", "desk"])
def test_hypothetical_pnl_is_the_previous_close_positions_revalued(lake, book):
    pnl = query(lake / "data", f"select date, pnl, hypothetical_pnl from portfolio_pnl where portfolio = '{book}'")
    expected = _revalued(lake / "data", book).merge(pnl, on="date")
    assert len(expected) == len(pnl) >= 8
    np.testing.assert_allclose(expected["hypothetical_pnl"], expected["revalued"], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(pnl["pnl"], pnl["hypothetical_pnl"])


def test_the_yaml_weight_books_pnl_is_unchanged(lake):
    """pnl = notional x sum of weight x return, from the returns table (the definition before positions)."""
    got = query(lake / "data", """
        select p.date, p.pnl, p.actual_pnl, sum(r.simple_return * w.weight) * 1000000 as expected
        from portfolio_pnl p join returns r on r.date = p.date
        join (values ('AAPL', 0.4), ('JPM', 0.3), ('XOM', 0.3)) w(symbol, weight) on w.symbol = r.symbol
        where p.portfolio = 'balanced' group by all order by p.date""")
    assert len(got) >= 10
    np.testing.assert_allclose(got["pnl"], got["expected"], rtol=0, atol=1e-12 * 1_000_000)
    np.testing.assert_array_equal(got["pnl"], got["actual_pnl"])


def test_actual_pnl_adds_the_days_trades_from_their_price_to_the_close_net_of_fees(lake):
    got = query(lake / "data", """
        select p.date, p.hypothetical_pnl, p.actual_pnl, c.close, f.rate from portfolio_pnl p
        join prices c on c.date = p.date and c.symbol = 'AAPL' join fx_rates f on f.date = p.date and f.currency = 'USD'
        where p.portfolio = 'desk' order by p.date""").set_index("date")
    traded = pd.Timestamp("2022-03-03")
    expected = (50.0 * (got.loc[traded, "close"] - 165.0) - 3.5) / got.loc[traded, "rate"]
    assert got.loc[traded, "actual_pnl"] - got.loc[traded, "hypothetical_pnl"] == pytest.approx(expected, rel=1e-12)
    others = got.drop(index=traded)
    np.testing.assert_array_equal(others["actual_pnl"], others["hypothetical_pnl"])


def test_positions_and_trades_tables_hold_the_drop_folder(lake):
    held = query(lake / "data", "select date, symbol, quantity, currency from positions where portfolio = 'desk'")
    assert {(d.date(), s): q for d, s, q in zip(held["date"], held["symbol"], held["quantity"])} == {
        (d, s): q for d, h in HOLDINGS.items() for s, q in h.items()}
    assert set(held["currency"]) == {"USD"}
    trades = query(lake / "data", "select * from trades")
    assert trades[["symbol", "quantity", "price", "fees", "currency"]].values.tolist() == [["AAPL", 50.0, 165.0, 3.5, "USD"]]


# --- the other sources give the folder's rows ------------------------------------------------------------

def _history() -> pd.DataFrame:
    return pd.DataFrame([(d.isoformat(), "desk", s, q) for d, h in HOLDINGS.items() for s, q in h.items()],
                        columns=["date", "portfolio", "symbol", "quantity"])


def _rows(source: RecordSource) -> list[tuple]:
    frame = load_records(source, "positions", {"desk"})
    return sorted(zip(frame["date"].dt.date, frame["symbol"], frame["quantity"]))


EXPECTED_ROWS = sorted((d, s, q) for d, h in HOLDINGS.items() for s, q in h.items())


def test_a_history_file_csv_or_parquet_gives_the_folders_rows(tmp_path):
    write_drop(tmp_path / "drop")
    assert _rows(RecordSource("folder", path=tmp_path / "drop")) == EXPECTED_ROWS
    _history().to_csv(tmp_path / "history.csv", index=False)
    _history().to_parquet(tmp_path / "history.parquet")
    assert _rows(RecordSource("file", path=tmp_path / "history.csv")) == EXPECTED_ROWS
    assert _rows(RecordSource("file", path=tmp_path / "history.parquet")) == EXPECTED_ROWS


def test_a_duckdb_query_gives_the_folders_rows(tmp_path):
    database = tmp_path / "book.duckdb"
    with duckdb.connect(str(database)) as con:
        con.register("history", _history().assign(date=lambda f: pd.to_datetime(f["date"])))
        con.execute("create table book_positions as select * from history")
    source = RecordSource("duckdb", path=database, query="select * from book_positions where portfolio = 'desk'")
    assert _rows(source) == EXPECTED_ROWS


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server on a Unix socket only (``local_servers.postgres_server``: the pgserver
    package's binaries), stopped and removed at the end; its libpq URL, as a user gives it."""
    pytest.importorskip("pgserver")
    from risk_pipeline.local_servers import postgres_server

    with postgres_server(durable=False) as url:
        yield url.replace("postgresql+psycopg2://", "postgresql://", 1)


def test_a_postgresql_query_gives_the_folders_rows(postgres):
    import psycopg

    with psycopg.connect(postgres) as con:
        con.execute("create table book_positions (date date, portfolio text, symbol text, quantity numeric)")
        with con.cursor().copy("copy book_positions from stdin") as copy:
            for row in _history().itertuples(index=False):
                copy.write_row(row)
    source = RecordSource("postgres", dsn=postgres, query="select date, portfolio, symbol, quantity from book_positions")
    assert _rows(source) == EXPECTED_ROWS


def test_a_failing_query_is_one_line_naming_the_source(postgres):
    source = RecordSource("postgres", dsn=postgres, query="select * from no_such_table")
    with pytest.raises(ValueError, match=r"^postgres query: .*no_such_table"):
        load_records(source, "positions", {"desk"})


# --- bad input: one line naming file, row and field; exit 2; nothing written -----------------------------

BAD = {
    "unknown instrument": ("positions_2022-03-02.csv", "portfolio,symbol,quantity\ndesk,AAPL,100\ndesk,NOPE,1\n",
                           r"positions_2022-03-02\.csv, line 3: field 'symbol': unknown instrument 'NOPE'"),
    "duplicate instrument": ("positions_2022-03-02.csv", "portfolio,symbol,quantity\ndesk,AAPL,100\ndesk,AAPL,5\n",
                             r"positions_2022-03-02\.csv, line 3: field 'symbol': 'AAPL' repeated"),
    "non-numeric quantity": ("positions_2022-03-02.csv", "portfolio,symbol,quantity\ndesk,AAPL,lots\n",
                             r"positions_2022-03-02\.csv, line 2: field 'quantity': 'lots' is not a finite number"),
    "missing quantity": ("positions_2022-03-02.csv", "portfolio,symbol,quantity\ndesk,AAPL,\n",
                         r"positions_2022-03-02\.csv, line 2: field 'quantity': missing"),
    "weekend file": ("positions_2022-03-05.csv", "portfolio,symbol,quantity\ndesk,AAPL,100\n",
                     r"positions_2022-03-05\.csv: field 'date': 2022-03-05 \(the file name's\) is not a business day"),
    "trade for an unknown book": ("trades_2022-03-02.csv", "portfolio,symbol,quantity,price\nother,AAPL,1,160\n",
                                  r"trades_2022-03-02\.csv, line 2: field 'portfolio': unknown book 'other'"),
    "missing file": (None, None, r"positions_2022-03-02\.csv: missing file: book 'desk' held positions on 2022-03-01"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch, capsys, case):
    name, text, message = BAD[case]
    write_drop(tmp_path / "drop", {d: h for d, h in HOLDINGS.items() if d <= dt.date(2022, 3, 4)}, trades=[])
    if name is None:
        (tmp_path / "drop" / "positions_2022-03-02.csv").unlink()
    else:
        (tmp_path / "drop" / name).write_text(text)
    (tmp_path / "portfolios.yaml").write_text(PORTFOLIOS)
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(tmp_path / "portfolios.yaml"))
    assert main(["backfill", "--start", "2022-03-01", "--end", "2022-03-04"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("risk-pipeline backfill: "), err
    assert pd.Series([err]).str.contains(message).all(), err
    for table in ("prices", "positions", "trades", "portfolio_pnl"):
        assert table_version(table) is None


def test_carry_forward_holds_the_previous_days_positions_and_warns(tmp_path, monkeypatch):
    write_drop(tmp_path / "drop", {d: h for d, h in HOLDINGS.items() if d <= dt.date(2022, 3, 4)}, trades=[])
    (tmp_path / "drop" / "positions_2022-03-02.csv").unlink()
    (tmp_path / "portfolios.yaml").write_text(PORTFOLIOS.replace("  trades: {source: folder, path: drop}\n",
                                                                 "  carry_forward: true\n"))
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(tmp_path / "portfolios.yaml"))
    assert load_books_of_record().carry_forward
    result = materialize("2022-03-01", "2022-03-04", {"prices", "returns", "positions"})
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "positions_not_carried_forward" and not check.passed
    assert "desk on 2022-03-02 (from 2022-03-01)" in check.metadata["carried_forward"].value
    held = query(tmp_path / "data", "select symbol, quantity from positions where portfolio = 'desk' "
                                    "and date = '2022-03-02' order by symbol")
    assert held.values.tolist() == [["AAPL", 100.0], ["MSFT", -50.0]]


def test_the_position_checks_name_an_unpriced_position_and_a_book_that_lost_a_day(tmp_path, monkeypatch):
    import dagster as dg

    from risk_pipeline.defs.positions import positions_cover_the_books, positions_instruments_priced
    from risk_pipeline.storage.lake import write_days

    write_drop(tmp_path / "drop", {d: h for d, h in HOLDINGS.items() if d <= dt.date(2022, 3, 4)}, trades=[])
    (tmp_path / "portfolios.yaml").write_text(PORTFOLIOS.replace("  trades: {source: folder, path: drop}\n", ""))
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(tmp_path / "portfolios.yaml"))
    materialize("2022-03-01", "2022-03-04", {"prices", "returns", "positions"})
    checks = [positions_instruments_priced, positions_cover_the_books]
    [positions] = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} == {"positions"}]

    def evaluate() -> dict:
        """The two checks alone, over the run's range, on what is stored."""
        tags = {"dagster/asset_partition_range_start": "2022-03-01", "dagster/asset_partition_range_end": "2022-03-04"}
        result = dg.materialize([positions, *checks], selection=dg.AssetSelection.checks(*checks), tags=tags,
                                raise_on_error=False)
        return {e.check_name: e for e in result.get_asset_check_evaluations()}

    assert all(e.passed for e in evaluate().values())
    # the desk's 2022-03-04 rows replaced by a position in an instrument without prices
    day = dt.date(2022, 3, 4)
    write_days("positions", pd.DataFrame({"date": [pd.Timestamp(day)], "portfolio": ["desk"], "symbol": ["NOPE"],
                                          "quantity": [1.0], "currency": ["USD"]}), [day], keys=["desk"])
    priced = evaluate()["positions_instruments_priced"]
    assert not priced.passed and priced.metadata["offending"].value == 1
    assert "NOPE" in priced.metadata["preview"].value
    write_days("positions", pd.DataFrame(columns=["date", "portfolio", "symbol", "quantity", "currency"]).astype(
        {"date": "datetime64[ns]", "quantity": float}), [day], keys=["balanced"])
    covered = evaluate()["positions_cover_the_books"]
    assert not covered.passed and covered.metadata["offending"].value == 1
    assert "balanced" in covered.metadata["preview"].value


def test_the_positions_example_is_valid_and_its_readme_figure_holds(monkeypatch):
    from risk_pipeline.storage.paths import REPO_ROOT

    example = REPO_ROOT / "examples" / "positions"
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(example / "portfolios.yaml"))
    record = load_books_of_record()
    assert set(record.books) == {"desk_a", "desk_eur"}
    held = load_records(record.positions, "positions", record.books)
    assert held["date"].nunique() == 19 and pd.Timestamp("2022-12-26") not in set(held["date"])
    [trade] = load_records(record.trades, "trades", record.books).itertuples()
    prices = pd.read_parquet(REPO_ROOT / "data" / "bundled_prices.parquet")
    close = prices.loc[(prices["date"] == trade.date) & (prices["symbol"] == trade.symbol), "close"].iloc[0]
    readme = (example / "README.md").read_text()
    assert f"close {close:g} - price {trade.price:g}) - fees {trade.fees:.2f} = " \
           f"{trade.quantity * (close - trade.price) - trade.fees:.2f} USD" in readme


def test_a_book_near_zero_value_has_pnl_amounts_but_no_return():
    """A long-short book whose net value falls under 1% of its gross exposure: P&L every day, the
    return null on the day after (defs.portfolios.RETURN_VALUE_FLOOR, docs/positions.md)."""
    from risk_pipeline.defs.portfolios import RETURN_VALUE_FLOOR, record_book, record_book_rows

    dates = pd.bdate_range("2022-03-01", periods=4)
    close = pd.DataFrame({"A": [100.0, 101.0, 99.0, 100.0], "B": [50.0, 50.5, 49.0, 51.0]}, index=dates)
    prices = close.stack().rename("close").reset_index().set_axis(["date", "symbol", "close"], axis=1)
    prices["currency"] = "USD"
    returns = (close / close.shift(1) - 1).stack().rename("simple_return").reset_index()
    returns.columns = ["date", "symbol", "simple_return"]
    # day 2: long 100 A (10,100) and short 199 B (-10,049.5): value 50.5, 0.25% of the gross exposure
    quantities = [(0, 100.0, -100.0), (1, 100.0, -199.0), (2, 100.0, -199.0), (3, 100.0, -100.0)]
    held = pd.DataFrame([(dates[i], "ls", s, q, "USD") for i, a, b in quantities for s, q in (("A", a), ("B", b))],
                        columns=["date", "portfolio", "symbol", "quantity", "currency"])
    no_trades = pd.DataFrame(columns=["date", "symbol", "quantity", "price", "fees", "currency"])
    book = record_book("ls", "USD", held, no_trades, prices, returns)
    rows = record_book_rows(book, no_trades, prices).set_index("date")
    value = (held.pivot(index="date", columns="symbol", values="quantity") * close).sum(axis=1)
    gross = (held.pivot(index="date", columns="symbol", values="quantity") * close).abs().sum(axis=1)
    pnl = (held.pivot(index="date", columns="symbol", values="quantity").shift(1) * close.diff()).sum(axis=1)
    np.testing.assert_allclose(rows["value"], value.loc[rows.index], rtol=1e-12)
    np.testing.assert_allclose(rows["hypothetical_pnl"], pnl.loc[rows.index], rtol=1e-12)
    assert value[dates[1]] < RETURN_VALUE_FLOOR * gross[dates[1]] < value[dates[0]]
    assert np.isnan(rows.loc[dates[2], "simple_return"])  # held over day 3 from a near-zero value
    assert rows.loc[dates[1], "simple_return"] == pytest.approx(pnl[dates[1]] / value[dates[0]], rel=1e-12)


def _random_walks(rng: np.random.Generator, dates: pd.DatetimeIndex,
                  symbols: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Closes of ``symbols`` in USD as log-normal random walks over ``dates`` (dates x symbols), and their
    rows as the lake stores prices and returns."""
    close = pd.DataFrame(np.exp(rng.normal(0.0, 0.02, (len(dates), len(symbols))).cumsum(axis=0))
                         * rng.uniform(10.0, 500.0, len(symbols)), index=dates, columns=symbols)
    prices = close.stack().rename("close").reset_index().set_axis(["date", "symbol", "close"], axis=1)
    prices["currency"] = "USD"
    returns = (close / close.shift(1) - 1).stack().rename("simple_return").reset_index()
    returns.columns = ["date", "symbol", "simple_return"]
    return close, prices, returns


def test_a_book_of_records_rows_do_not_depend_on_the_instruments_of_the_runs_other_days():
    """A run over a short range (fewer instruments) gives the rows of the longer run bit for bit
    (issue 21): 26 instruments, 12 to 14 held a day, those of the first days sold later, so the
    longer run's frames have zero columns the short run's lack (np.sum of 8+ columns would group
    each day's terms by their positions)."""
    from risk_pipeline.defs.portfolios import record_book, record_book_rows

    rng = np.random.default_rng(21)
    dates = pd.bdate_range("2022-03-01", periods=40)
    symbols = [f"S{i:02d}" for i in range(30)]
    close, prices, returns = _random_walks(rng, dates, symbols)
    held = pd.DataFrame([(d, "rb", s, float(rng.integers(-900, 1000)) or 1.0, "USD")
                         for t, d in enumerate(dates) for s in symbols[t // 3: t // 3 + 12 + t % 3]],
                        columns=["date", "portfolio", "symbol", "quantity", "currency"])
    no_trades = pd.DataFrame(columns=["date", "symbol", "quantity", "price", "fees", "currency"])

    def rows(first: int) -> tuple[int, pd.DataFrame]:
        own = held.loc[held["date"] >= dates[first]]
        kept = prices["date"] >= dates[first]
        book = record_book("rb", "USD", own, no_trades, prices.loc[kept], returns.loc[returns["date"] >= dates[first]])
        return book.exposures.shape[1], record_book_rows(book, no_trades, prices.loc[kept]).set_index("date")

    (n_long, long), (n_short, short) = rows(0), rows(30)
    assert n_long > n_short >= 9 and len(short) == 9
    pd.testing.assert_frame_equal(short, long.loc[short.index], check_exact=True)
    # and each value is the sum of that day's exposures (to rounding)
    value = (held.pivot(index="date", columns="symbol", values="quantity") * close).sum(axis=1)
    np.testing.assert_allclose(long["value"], value.loc[long.index], rtol=1e-13)


def test_a_run_over_a_year_end_stores_each_year_apart_and_carries_across_it(tmp_path, monkeypatch):
    """The positions asset holds one calendar year of rows at a time (one staged write per year, one
    commit); a book carried forward over the year end holds the rows of the last day it had a file."""
    import risk_pipeline.defs.positions as positions_module

    days = [d.date() for d in pd.bdate_range("2021-12-27", "2022-01-07")]
    holdings = {d: {"AAPL": 100.0 + i, "MSFT": -50.0} for i, d in enumerate(days)}
    write_drop(tmp_path / "drop", holdings, trades=[])
    for day in ("2021-12-30", "2021-12-31", "2022-01-03"):  # the last two days of 2021 and the first of 2022
        (tmp_path / "drop" / f"positions_{day}.csv").unlink(missing_ok=True)
    (tmp_path / "portfolios.yaml").write_text(PORTFOLIOS.replace("  trades: {source: folder, path: drop}\n",
                                                                 "  carry_forward: true\n"))
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(tmp_path / "portfolios.yaml"))
    staged_years, write = [], positions_module.stage

    def stage(table, frame, block, keys):
        staged_years.append(sorted({d.year for d in block} | set(frame["date"].dt.year)))
        return write(table, frame, block, keys)

    monkeypatch.setattr(positions_module, "stage", stage)
    materialize("2021-12-28", "2022-01-07", {"prices", "returns", "positions"})
    assert staged_years == [[2021], [2022]]
    held = query(tmp_path / "data", "select date, symbol, quantity from positions where portfolio = 'desk' "
                                    "and symbol = 'AAPL' order by date")
    got = dict(zip(held["date"].dt.date, held["quantity"]))
    wednesday = dt.date(2021, 12, 29)  # the last file before the gap
    assert got[dt.date(2021, 12, 30)] == got[dt.date(2022, 1, 3)] == 100.0 + days.index(wednesday)
    assert got[dt.date(2022, 1, 4)] == 100.0 + days.index(dt.date(2022, 1, 4))
    priced = query(tmp_path / "data", "select distinct date from prices where date >= '2021-12-28'")["date"]
    assert set(got) == set(priced.dt.date) and len(got) == 9


def test_portfolio_pnl_holds_one_chunk_of_books_at_a_time_and_stores_the_rows_of_one_run(lake, monkeypatch):
    """With books_per_task 1, portfolio_pnl stages each book's rows apart (one commit) and stores the
    rows of the module's run (every book in one chunk of the default 8)."""
    import dagster as dg

    import risk_pipeline.defs.portfolios as portfolios_module

    stored = query(lake / "data", "select * from portfolio_pnl order by portfolio, date")
    staged_books, write = [], portfolios_module.stage

    def stage(table, frame, days, keys):
        staged_books.append(sorted(frame["portfolio"].unique()))
        return write(table, frame, days, keys)

    monkeypatch.setattr(portfolios_module, "stage", stage)
    [pnl] = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} == {"portfolio_pnl"}]
    tags = {"dagster/asset_partition_range_start": RANGE[0], "dagster/asset_partition_range_end": RANGE[1]}
    dg.materialize([pnl], tags=tags, run_config={"resources": {"compute": {"config": {"books_per_task": 1}}}})
    assert staged_books == [["balanced"], ["held"], ["desk"]]
    again = query(lake / "data", "select * from portfolio_pnl order by portfolio, date")
    pd.testing.assert_frame_equal(again, stored, check_exact=True)
    assert stored["portfolio"].nunique() == 3 and len(stored) >= 25


def test_books_of_record_are_read_once_per_version_of_the_file(tmp_path, monkeypatch):
    """About 19 reads in a day's run share one parse of the file; a changed file (another book, a
    source moved), a file moved with its folder, and a bad file are each read anew."""
    import os

    from risk_pipeline.config import ConfigError

    path = tmp_path / "p.yaml"
    path.write_text(PORTFOLIOS)
    first = load_books_of_record(path)
    assert load_books_of_record(path) is first and first.books == {"desk": "EUR"}
    assert first.positions.path == tmp_path / "drop"
    path.write_text(PORTFOLIOS.replace("name: desk, base_currency: EUR", "name: desk, base_currency: USD")
                    .replace("path: drop}\n  trades", "path: inbox}\n  trades"))
    os.utime(path, ns=(1, 1))  # another modification time even where the clock is coarse
    changed = load_books_of_record(path)
    assert changed.books == {"desk": "USD"} and changed.positions.path == tmp_path / "inbox"
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(tmp_path)
    moved = load_books_of_record(Path("p.yaml"))
    assert moved.positions.path == tmp_path / "inbox"
    monkeypatch.chdir(other)
    (other / "p.yaml").write_text(PORTFOLIOS)
    assert load_books_of_record(Path("p.yaml")).positions.path == other / "drop"
    path.write_text(PORTFOLIOS.replace("base_currency: EUR}", "base_currency: XYZ}"))
    for _ in range(2):
        with pytest.raises(ConfigError, match="unknown currency 'XYZ'"):
            load_books_of_record(path)
    with pytest.raises(ConfigError, match="portfolio file not found"):
        load_books_of_record(tmp_path / "absent.yaml")


def test_a_weight_books_holdings_of_a_day_alone_are_those_of_a_longer_run():
    """A day re-run alone gives the range run's gross exposure and traded value bit for bit: 20
    instruments rebalanced to their weights every day (``DataFrame.sum(axis=1)`` added a one-row
    frame's terms pairwise and a longer frame's one after another: 1-ulp differences)."""
    from risk_pipeline.books import build_book
    from risk_pipeline.config.portfolios import Portfolio, Position
    from risk_pipeline.defs.portfolios import book_rows

    rng = np.random.default_rng(23)
    dates = pd.bdate_range("2022-03-01", periods=60)
    symbols = [f"S{i:02d}" for i in range(20)]
    close, prices, returns = _random_walks(rng, dates, symbols)
    weights = rng.dirichlet(np.ones(len(symbols)))
    book = Portfolio("w", "USD", tuple(Position(s, weight=float(w)) for s, w in zip(symbols, weights)),
                     notional=1e6)

    def rows(first: int, last: int) -> pd.DataFrame:
        def between(frame: pd.DataFrame) -> pd.DataFrame:
            return frame.loc[frame["date"].between(dates[first], dates[last])]
        return book_rows(build_book(book, between(prices), between(returns))).set_index("date")

    long = rows(0, len(dates) - 1)
    alone = pd.concat([rows(t - 1, t) for t in range(1, len(dates))])  # each day with its previous close only
    assert len(alone) == len(long) == len(dates) - 1
    pd.testing.assert_frame_equal(alone, long, check_exact=True)
    # and each is the day's sum (to rounding)
    traded = (1e6 * weights / close).diff().abs().mul(close).sum(axis=1)
    np.testing.assert_allclose(long["traded_value"], traded.loc[long.index], rtol=1e-12)


def test_a_yaml_books_positions_rows_are_the_stack_of_its_quantities():
    """defs.positions.yaml_positions takes the rows from the quantities' array: the rows of pandas' ``stack()``
    of the quantities on the dates with a value, without the cells of a symbol unpriced that day, in date then
    symbol order, with each symbol's currency (None where the book has none), the same columns and types."""
    from risk_pipeline.books import Book
    from risk_pipeline.config.portfolios import Portfolio, Position
    from risk_pipeline.defs.positions import yaml_positions
    from risk_pipeline.sources.positions import POSITION_COLUMNS

    dates = pd.DatetimeIndex(pd.bdate_range("2022-03-01", periods=5), name="date")
    symbols = pd.Index(["B", "A", "C"], name="symbol")
    unit = pd.DataFrame([[2.0, 4.0, np.nan], [np.nan, np.nan, np.nan], [3.0, 5.0, 8.0], [3.5, np.nan, 9.0],
                         [1.0, 2.0, 4.0]], index=dates, columns=symbols)
    portfolio = Portfolio("w", "USD", (Position("B", weight=0.5), Position("A", weight=0.3), Position("C", weight=0.2)),
                          notional=100.0)
    exposures = pd.DataFrame(np.tile([50.0, 30.0, 20.0], (5, 1)), index=dates, columns=symbols)
    values = pd.Series([100.0, np.nan, 100.0, 100.0, 100.0], index=dates)
    book = Book(portfolio, exposures, values, unit * 0.0, exposures / 100.0, {"B": "USD", "A": "EUR", "C": None}, unit)
    held = book.quantities().dropna(how="all")
    held.index.name, held.columns.name = "date", "symbol"
    expected = held.stack().rename("quantity").reset_index().dropna(subset=["quantity"]).reset_index(drop=True)
    expected.insert(1, "portfolio", "w")
    expected["currency"] = expected["symbol"].map(book.currencies)
    rows = yaml_positions(book)
    pd.testing.assert_frame_equal(rows, expected.loc[:, list(POSITION_COLUMNS)], check_exact=True)
    assert len(rows) == 10 and rows["currency"].isna().sum() == 3
