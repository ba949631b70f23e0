"""A run writes only what it computed: runs of two portfolio files over the same days leave both
files' books and symbols; a book leaves the lake only through `risk-pipeline lake delete`."""

from __future__ import annotations

import pandas as pd
import pytest

from risk_pipeline.cli import main
from risk_pipeline.storage import lake
from risk_pipeline.storage.schemas import TABLES
from risk_pipeline_tests.pipeline_helpers import CORE_ASSET_NAMES, core_assets, materialize_range, query

START, END = "2021-01-04", "2021-03-31"
BOOK_A = """
portfolios:
  - name: book_a
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.5}
      - {symbol: JPM, weight: 0.5}
"""
BOOK_B = """
portfolios:
  - name: book_b
    base_currency: USD
    positions:
      - {symbol: MSFT, quantity: 1000}
      - {symbol: KO, quantity: -200}
"""
CONFIG = {"ops": {"var_estimates": {"config": {"methods": ["historical"], "confidences": [0.99], "horizons": [1],
                                               "estimation_window_days": 20}}}}
PER_BOOK = ["portfolio_pnl", "var_estimates", "var_backtests"]


def _run(tmp_path, monkeypatch, name: str, text: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(path))
    return materialize_range(START, END, CONFIG, core_assets())


def _rows(data_dir, table: str, key: str) -> pd.DataFrame:
    day = TABLES[table].day_column
    return query(data_dir, f'select * from {table} order by "{day}", "{key}"')


@pytest.fixture()
def two_books(data_dir, tmp_path, monkeypatch):
    """book_a's run, then book_b's over the same days; the tables after book_a's run."""
    _run(tmp_path, monkeypatch, "a", BOOK_A)
    after_a = {t: _rows(data_dir, t, TABLES[t].key_column) for t in CORE_ASSET_NAMES}
    _run(tmp_path, monkeypatch, "b", BOOK_B)
    return after_a


def test_runs_of_two_portfolio_files_over_the_same_days_keep_both_books(data_dir, two_books):
    for table in PER_BOOK:
        stored = _rows(data_dir, table, "portfolio")
        assert set(stored["portfolio"]) == {"book_a", "book_b"}, table
        # book_a's rows are exactly those its own run stored
        kept = stored.loc[stored["portfolio"] == "book_a"].reset_index(drop=True)
        pd.testing.assert_frame_equal(kept, two_books[table], check_dtype=False)
    for table in ("prices", "returns"):
        stored = _rows(data_dir, table, "symbol")
        assert {"AAPL", "JPM", "MSFT", "KO"} <= set(stored["symbol"]), table
        only_a = stored.loc[stored["symbol"].isin(["AAPL", "JPM"])].reset_index(drop=True)
        before = two_books[table]
        pd.testing.assert_frame_equal(only_a, before.loc[before["symbol"].isin(["AAPL", "JPM"])]
                                      .reset_index(drop=True), check_dtype=False)
        assert stored.groupby("symbol")["date"].nunique()["MSFT"] == stored["date"].nunique()


def test_lake_delete_removes_one_book_from_every_table_in_one_commit_each(data_dir, two_books, capsys):
    per_book = [t for t, spec in TABLES.items() if spec.key_column == "portfolio"]
    counts = {t: int(query(data_dir, f"select count(*) as n from {t} where portfolio = 'book_b'")["n"][0])
              for t in per_book}
    versions = {t: lake.table_version(t) for t in per_book}
    assert all(counts[t] > 0 for t in PER_BOOK)

    assert main(["lake", "delete", "--portfolio", "book_b", "--dry-run"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert {line.split()[0]: int(line.split()[3].replace(",", "")) for line in printed} == {
        t: n for t, n in counts.items() if n}
    assert all("would delete" in line for line in printed)
    assert {t: lake.table_version(t) for t in per_book} == versions

    assert main(["lake", "delete", "--portfolio", "book_b"]) == 0
    capsys.readouterr()
    for table in per_book:
        expected = versions[table] + 1 if counts[table] else versions[table]
        assert lake.table_version(table) == expected, table
        assert query(data_dir, f"select count(*) as n from {table} where portfolio = 'book_b'")["n"][0] == 0
    for table in PER_BOOK:  # book_a's rows are untouched, in the lake and the catalog
        pd.testing.assert_frame_equal(_rows(data_dir, table, "portfolio"), two_books[table], check_dtype=False)
        assert len(lake.read_range(table)) == len(two_books[table])
    # nothing left to delete: one line on stderr, exit status 2
    assert main(["lake", "delete", "--portfolio", "book_b"]) == 2
    assert "no table holds rows of portfolio 'book_b'" in capsys.readouterr().err


def test_materialization_metadata_names_the_runs_figures_and_the_version_committed(data_dir):
    def check(result, first: str, last: str) -> dict:
        metadata = {}
        for table in CORE_ASSET_NAMES:
            materializations = result.asset_materializations_for_node(table)
            meta = {k: v.value for k, v in materializations[-1].metadata.items()}
            version = lake.table_version(table)
            entry = next(e for e in lake.open_table(table).history() if int(e["version"]) == meta["table_version"])
            assert meta["table_version"] == version, table  # the only writer: its commit is the latest
            assert (entry[lake.FIRST_DAY_KEY], entry[lake.LAST_DAY_KEY]) == (first, last), table
            day = TABLES[table].day_column
            stored = query(data_dir, f"select count(*) as n from {table} where \"{day}\" between '{first}' and '{last}'")
            assert meta["rows_in_run"] == stored["n"][0] > 0, table
            assert (meta["run_first_day"], meta["run_last_day"]) == (first, last)
            metadata[table] = meta
        return metadata

    result = materialize_range(START, END, CONFIG, core_assets())
    ranged = check(result, START, END)
    for table in CORE_ASSET_NAMES:  # one materialization per partition, each with that day's own rows
        day = TABLES[table].day_column
        stored = query(data_dir, f"select strftime(\"{day}\", '%Y-%m-%d') as d, count(*) as n from {table} "
                                 f"where \"{day}\" between '{START}' and '{END}' group by 1")
        expected = dict(zip(stored["d"], stored["n"]))
        rows = {m.partition: m.metadata["rows"].value for m in result.asset_materializations_for_node(table)}
        assert list(rows) == [d.date().isoformat() for d in pd.bdate_range(START, END)], table
        assert rows == {d: expected.get(d, 0) for d in rows}, table
        assert len(set(rows.values()) - {0}) >= 1 and sum(rows.values()) == ranged[table]["rows_in_run"], table
        # the run's figures only on its last partition; every other one keeps its rows and the version holding them
        for m in result.asset_materializations_for_node(table)[:-1]:
            assert not set(m.metadata) & set(ranged[table]) - {"rows", "table_version"}, (table, m.partition)
            assert m.metadata["table_version"].value == ranged[table]["table_version"], (table, m.partition)
    day = "2021-03-31"
    single = check(materialize_range(day, day, CONFIG, core_assets()), day, day)
    assert all(meta["rows"] == meta["rows_in_run"] for meta in single.values())
    assert single["prices"]["table_version"] == ranged["prices"]["table_version"] + 1
