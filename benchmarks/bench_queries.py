"""Query times on the catalog ``risk.duckdb`` (views over the Delta tables' data files) beside the same
queries on one Parquet file of the same rows (the naive baseline: the fastest a single file answers)
and on ``read_parquet`` of the lake's Delta files written out in the query (what the view does, without
the catalog).

Needs a lake built by ``make run`` (or ``risk-pipeline backfill``) in the data folder
(``$RISK_PIPELINE_DATA`` or ``data/``). Each query runs once to warm the OS cache, then
``--repeat`` times; the median is printed, in milliseconds, with the ratio to the single file.

    .venv/bin/python benchmarks/bench_queries.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from risk_pipeline.storage import lake
from risk_pipeline.storage.paths import catalog_path

QUERIES = {
    "one date's var_estimates": "select * from {t} where date = DATE '{day}'",
    "count(*) of var_estimates": "select count(*) from {t}",
    "average VaR by method (all rows)": "select method, avg(var), avg(es) from {t} group by method order by method",
    "worst 99% 1-day VaR per portfolio": (
        "select portfolio, max(var_amount) from {t} where confidence = 0.99 and horizon_days = 1 group by portfolio"
    ),
}


def _median_ms(con: duckdb.DuckDBPyConnection, sql: str, repeat: int) -> float:
    con.execute(sql).fetchall()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        con.execute(sql).fetchall()
        times.append(1000 * (time.perf_counter() - began))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    path = catalog_path()
    delta = lake.open_table("var_estimates")
    if not path.exists() or delta is None:
        raise SystemExit(f"no lake at {path.parent}: run `make run` first")
    with duckdb.connect(str(path), read_only=True) as con, tempfile.TemporaryDirectory() as tmp:
        rows, first, last = con.execute("select count(*), min(date), max(date) from var_estimates").fetchone()
        single = Path(tmp) / "var_estimates.parquet"
        con.execute(f"copy (select * from var_estimates order by date) to '{single}' (format parquet, compression zstd)")
        files = delta.file_uris()
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"create temp view delta_files as select * from read_parquet([{listed}])")
        print(f"var_estimates: {rows:,} rows, {first}..{last}; catalog {path.stat().st_size / 1e6:.1f} MB, "
              f"one Parquet file {single.stat().st_size / 1e6:.0f} MB, Delta table {len(files)} files, "
              f"version {delta.version()}")
        print(f"{'query':<36} {'catalog':>10} {'1 file':>10} {'Delta files':>12} {'catalog / 1 file':>17}")
        for name, sql in QUERIES.items():
            catalog_ms = _median_ms(con, sql.format(t="var_estimates", day=last), args.repeat)
            file_ms = _median_ms(con, sql.format(t=f"read_parquet('{single}')", day=last), args.repeat)
            delta_ms = _median_ms(con, sql.format(t="delta_files", day=last), args.repeat)
            print(f"{name:<36} {catalog_ms:>8.1f}ms {file_ms:>8.1f}ms {delta_ms:>10.1f}ms {catalog_ms / file_ms:>17.2f}")


if __name__ == "__main__":
    main()
