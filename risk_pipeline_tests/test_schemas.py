"""The stored tables are a public contract: plain SQL identifiers that need no quoting, and
one Arrow type per column name across every table (one name, one meaning, one type)."""

import re
import runpy
from pathlib import Path
from collections import defaultdict

import duckdb

from risk_pipeline.storage.schemas import COLUMNS, TABLES


def _reserved_keywords() -> set[str]:
    with duckdb.connect() as con:
        rows = con.execute("select keyword_name from duckdb_keywords() where keyword_category = 'reserved'").fetchall()
    return {name for (name,) in rows}


def test_no_column_is_a_reserved_duckdb_keyword():
    reserved = _reserved_keywords()
    assert {"window", "limit", "order"} <= reserved  # the list DuckDB parses with, not an empty one
    found = [(table.name, column) for table in TABLES.values() for column in table.columns if column in reserved]
    assert found == []


def test_every_column_is_a_plain_identifier_queried_without_quotes():
    with duckdb.connect() as con:
        for table in TABLES.values():
            assert all(re.fullmatch(r"[a-z][a-z0-9_]*", column) for column in table.columns), table.name
            con.register(table.name, table.schema.empty_table())
            result = con.execute(f"select {', '.join(table.columns)} from {table.name}")
            assert [d[0] for d in result.description] == table.columns


def test_a_column_name_has_the_same_arrow_type_in_every_table():
    types = defaultdict(dict)
    for table in TABLES.values():
        for field in table.schema:
            types[field.name][table.name] = str(field.type)
    mixed = {name: by_table for name, by_table in types.items() if len(set(by_table.values())) > 1}
    assert mixed == {}
    assert types["estimation_window_days"] == {"var_estimates": "int64", "var_decomposition": "int64"}
    assert types["backtest_window_days"] == {"var_backtests": "int64", "var_scores": "int64"}
    assert set(types["confidence"].values()) == {"double"} and set(types["horizon_days"].values()) == {"int64"}


def test_every_column_of_every_table_has_a_meaning_and_a_unit_and_no_entry_is_stale():
    used = {column for table in TABLES.values() for column in table.columns}
    assert sorted(used - set(COLUMNS)) == []  # a column without a meaning and unit
    assert sorted(set(COLUMNS) - used) == []  # a meaning left behind by a renamed or dropped column
    for name, (meaning, unit) in COLUMNS.items():
        assert meaning.strip() and unit.strip() and "|" not in meaning + unit, name


def test_a_name_that_meant_two_things_is_now_two_names():
    """limit_status's measured VaR/ES amount and where it came from, and frtb_capital's capital multiplier, had
    the names of portfolio_pnl's value, prices' source and reverse_stress's multiplier."""
    owners = defaultdict(set)
    for table in TABLES.values():
        for column in table.columns:
            owners[column].add(table.name)
    assert owners["value"] == {"portfolio_pnl"} and owners["source"] == {"prices", "fx_rates"}  # a row's provenance
    assert owners["multiplier"] == {"reverse_stress", "option_reverse_stress"}  # both: the factor on a scenario's moves
    assert {"measured_amount", "method"} <= set(TABLES["limit_status"].columns)
    assert "capital_multiplier" in TABLES["frtb_capital"].columns


def test_docs_tables_md_is_generated_from_the_current_schemas():
    script = Path(__file__).resolve().parents[1] / "scripts" / "write_table_docs.py"
    generated = runpy.run_path(str(script))["table_docs"]()
    assert (script.parents[1] / "docs" / "tables.md").read_text() == generated, (
        "docs/tables.md is stale: run scripts/write_table_docs.py"
    )
