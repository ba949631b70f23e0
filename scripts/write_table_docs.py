"""Write ``docs/tables.md`` from the table schemas (``risk_pipeline/storage/schemas.py``), so the
reference of the tables users query never drifts from the code; a test checks it is current.

    .venv/bin/python scripts/write_table_docs.py
"""

from __future__ import annotations

from pathlib import Path

from risk_pipeline.storage.catalog import duckdb_type
from risk_pipeline.storage.schemas import COLUMNS, TABLES

TARGET = Path(__file__).resolve().parents[1] / "docs" / "tables.md"


def table_docs() -> str:
    lines = [
        "# Tables",
        "",
        "Generated from `risk_pipeline/storage/schemas.py` by `scripts/write_table_docs.py`; do not edit by hand.",
        "Every table is a Delta table under `<data>/lake/<table>/` and a view of the DuckDB catalog",
        "`<data>/risk.duckdb` ([storage.md](storage.md)). Column names are plain SQL identifiers and one name",
        "has one meaning, one unit and one type in every table (`COLUMNS` of the schemas module holds the meaning",
        "and unit of each name). Fractions are of the value named (0.01 = 1%); losses are positive.",
        "",
    ]
    for spec in TABLES.values():
        scope = (f"a run replaces the rows of its days and of the `{spec.key_column}` values it computed"
                 if spec.key_column else "a run replaces whole days")
        lines += [f"## {spec.name}", "", spec.description, "", f"One partition per `{spec.day_column}`; {scope}.", "",
                  "| column | type | unit | meaning |", "| --- | --- | --- | --- |"]
        lines += [f"| {field.name} | {duckdb_type(field.type)} | {COLUMNS[field.name][1]} | {COLUMNS[field.name][0]} |"
                  for field in spec.schema]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    TARGET.write_text(table_docs())
    print(f"wrote {TARGET}")
