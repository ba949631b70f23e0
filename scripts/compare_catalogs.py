"""Compare every table of two DuckDB catalogs row for row (exact): the check that a refactoring
changed no number. Build both from the same range with the two revisions, e.g.

    git archive <old-rev> | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old RISK_PIPELINE_DATA=/tmp/old-data .venv/bin/python -m risk_pipeline.cli backfill --start ... --end ...
    RISK_PIPELINE_DATA=/tmp/new-data .venv/bin/risk-pipeline backfill --start ... --end ...
    .venv/bin/python scripts/compare_catalogs.py /tmp/old-data/risk.duckdb /tmp/new-data/risk.duckdb

Exit status: the number of tables that differ.
"""

from __future__ import annotations

import sys

import duckdb
import pandas as pd


def main(old_path: str, new_path: str) -> int:
    old = duckdb.connect(old_path, read_only=True)
    new = duckdb.connect(new_path, read_only=True)
    listing = "select table_name from information_schema.tables where table_name <> 'lake_versions' order by 1"
    tables = [t for (t,) in old.execute(listing).fetchall()]
    missing = sorted(set(tables) - {t for (t,) in new.execute(listing).fetchall()})
    differ = len(missing)
    for table in missing:
        print(f"{table:20s} missing from {new_path}")
    for table in (t for t in tables if t not in missing):
        a = old.execute(f"select * from {table} order by all").df()
        b = new.execute(f"select * from {table} order by all").df()
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
            print(f"{table:20s} {len(a):>10,} rows identical")
        except AssertionError as exc:
            differ += 1
            print(f"{table:20s} DIFFERS: {' '.join(str(exc).split())[:300]}")
    return differ


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
