"""The real pipeline on a generated universe: time and peak memory of a full backfill vs its size.

Generates closes of N symbols over Y years (a one-factor model with fat-tailed idiosyncratic
noise, all USD) and P portfolios of 40 names each (weights; every fifth by quantity; every
tenth based in EUR so the FX path runs too), writes them as ``bundled_prices.parquet`` +
``portfolios.yaml`` in a temp folder (with the shipped ECB rates beside them) and runs the
ordinary ``risk-pipeline backfill`` on it in a fresh process under ``/usr/bin/time -v``, on a
persistent instance with the project's ``dagster.yaml`` (as ``make run``)
(``RISK_PIPELINE_BUNDLED_DATA`` points the bundled source at the generated file).

Assets: the core chain prices -> returns -> portfolio_pnl -> var_estimates -> var_backtests and
their data-quality checks. VaR methods: ``--methods`` (default historical, parametric_normal,
ewma at 95/99% and 1 day; Monte Carlo with 10,000 paths per portfolio-day is a separate cost
that grows with paths x days x portfolios and is best spread by portfolio, see README).

    .venv/bin/python benchmarks/bench_scale.py            # 1000 symbols x 5, 10, 20 y; 20 y in 5-year runs
    .venv/bin/python benchmarks/bench_scale.py --grid 250:5 1000:20 --portfolios 50
    .venv/bin/python benchmarks/bench_scale.py --grid 1000:20 --engine inline dask --workers 2   # both engines

Memory: ``peak_rss_MB`` is what ``/usr/bin/time -v`` reports (the largest process of the tree),
``peak_process_MB`` the largest of each process's peak and ``peak_sum_MB`` the peak of their sum,
sampled every 0.2 s (the run's process and the Dask workers it starts).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CORE = "prices,returns,portfolio_pnl,var_estimates,var_backtests"
END = pd.Timestamp("2022-12-30")


def generate(folder: Path, n_symbols: int, years: int, n_portfolios: int, seed: int = 1) -> tuple[str, str]:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(end=END, periods=years * 261)
    market = rng.standard_t(4, len(dates)) * 0.01 / np.sqrt(2)
    beta = rng.uniform(0.5, 1.5, n_symbols)
    idio = rng.standard_t(4, (len(dates), n_symbols)) * rng.uniform(0.005, 0.02, n_symbols) / np.sqrt(2)
    log_close = np.log(rng.uniform(10, 200, n_symbols)) + np.cumsum(market[:, None] * beta + idio, axis=0)
    symbols = [f"S{i:04d}" for i in range(n_symbols)]
    frame = pd.DataFrame({
        "date": np.repeat(dates.to_numpy(), n_symbols),
        "symbol": np.tile(symbols, len(dates)),
        "close": np.exp(log_close).ravel(),
        "currency": "USD",
    })
    frame.to_parquet(folder / "bundled_prices.parquet", index=False)
    shutil.copy(REPO / "data" / "ecb_fx.parquet", folder / "ecb_fx.parquet")
    books = []
    for p in range(n_portfolios):
        names = rng.choice(symbols, 40, replace=False)
        if p % 5 == 4:
            positions = [{"symbol": str(s), "quantity": float(rng.integers(10, 1000))} for s in names]
            books.append({"name": f"book_{p:03d}", "base_currency": "USD", "positions": positions})
            continue
        weights = rng.dirichlet(np.ones(40))
        positions = [{"symbol": str(s), "weight": float(w)} for s, w in zip(names, weights)]
        positions[-1]["weight"] = float(1.0 - sum(x["weight"] for x in positions[:-1]))
        base = "EUR" if p % 10 == 9 else "USD"
        books.append({"name": f"book_{p:03d}", "base_currency": base, "notional": 1e6, "positions": positions})
    (folder / "portfolios.yaml").write_text(yaml.safe_dump({"portfolios": books}))
    return dates[0].date().isoformat(), dates[-1].date().isoformat()


class PeakSampler(threading.Thread):
    """Every 0.2 s, the resident memory of each process of the tree under ``pid`` (the run's process
    and its Dask workers): the peak of each process and of their sum."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root, self.done = psutil.Process(pid), threading.Event()
        self.peaks: dict[int, float] = {}
        self.peak_sum = 0.0

    def run(self) -> None:
        while not self.done.wait(0.2):
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0.0
            for process in tree:
                try:
                    rss = process.memory_info().rss / 2**20
                except psutil.NoSuchProcess:
                    continue
                self.peaks[process.pid] = max(self.peaks.get(process.pid, 0.0), rss)
                total += rss
            self.peak_sum = max(self.peak_sum, total)


def run(n_symbols: int, years: int, n_portfolios: int, methods: list[str], work: Path,
        chunk_years: int | None = None, engine: str = "inline", workers: int = 2,
        books_per_task: int | None = None) -> dict[str, float]:
    folder = work / f"u{n_symbols}_y{years}_c{chunk_years}_{engine}"
    (folder / "inputs").mkdir(parents=True)
    (folder / "data").mkdir()
    # the project's instance configuration (batching SQLite event log), as make run uses it
    (folder / "dagster_home").mkdir()
    shutil.copy(REPO / "dagster.yaml", folder / "dagster_home" / "dagster.yaml")
    start, end = generate(folder / "inputs", n_symbols, years, n_portfolios)
    config = {"ops": {
        "prices": {"config": {"extra_symbols": []}},
        "var_estimates": {"config": {"methods": methods, "confidences": [0.95, 0.99], "horizons": [1]}},
    }, "resources": {"compute": {"config": {"engine": engine, "workers": workers,
                                            **({"books_per_task": books_per_task} if books_per_task else {})}}}}
    env = {**os.environ, "RISK_PIPELINE_BUNDLED_DATA": str(folder / "inputs"),
           "RISK_PIPELINE_PORTFOLIOS": str(folder / "inputs" / "portfolios.yaml"),
           "RISK_PIPELINE_DATA": str(folder / "data"), "DAGSTER_HOME": str(folder / "dagster_home"),
           "PYTHONWARNINGS": "ignore"}
    command = ["/usr/bin/time", "-v", str(BIN / "risk-pipeline"), "backfill", "--start", start, "--end", end,
               "--select", " or ".join(f"key:{a}" for a in CORE.split(",")), "--config-json", json.dumps(config),
               *(["--chunk-years", str(chunk_years)] if chunk_years else [])]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = PeakSampler(process.pid)
    sampler.start()
    stdout, stderr = process.communicate()
    sampler.done.set()
    sampler.join()
    out = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if out.returncode != 0:
        raise SystemExit(f"backfill failed ({n_symbols} symbols, {years} y):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    h, m, s = (float(x) if x else 0.0 for x in wall.groups())
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    steps = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\s+(\S+)\s+([\d.]+) s$", out.stdout, re.M)}
    lake_mb = sum(f.stat().st_size for f in (folder / "data" / "lake").rglob("*.parquet")) / 1e6
    shutil.rmtree(folder)
    usage = re.search(r"User time \(seconds\): ([\d.]+)\n\s+System time \(seconds\): ([\d.]+)", out.stderr)
    return {"engine": engine, "workers": workers if engine == "dask" else 1,
            "symbols": n_symbols, "years": years, "portfolios": n_portfolios, "chunk_years": chunk_years or years,
            "price_rows_M": n_symbols * years * 261 / 1e6, "wall_s": h * 3600 + m * 60 + s,
            "cpu_s": float(usage.group(1)) + float(usage.group(2)),
            "peak_rss_MB": peak_kb / 1024,  # /usr/bin/time: the largest process of the tree
            "peak_process_MB": max(sampler.peaks.values(), default=0.0), "peak_sum_MB": sampler.peak_sum,
            "processes": len(sampler.peaks), "lake_MB": lake_mb,
            **{f"{k}_s": v for k, v in steps.items() if k in CORE.split(",")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", nargs="+", default=["1000:5", "1000:10", "1000:20", "1000:20:5"],
                        help="SYMBOLS:YEARS[:CHUNK_YEARS] to run (chunks: risk-pipeline backfill --chunk-years)")
    parser.add_argument("--portfolios", type=int, default=50)
    parser.add_argument("--methods", nargs="+", default=["historical", "parametric_normal", "ewma"])
    parser.add_argument("--engine", nargs="+", choices=["inline", "dask"], default=["inline"],
                        help="the compute engine(s), each size run with each in turn (risk_pipeline/compute.py)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the dask engine's LocalCluster")
    parser.add_argument("--books-per-task", type=int, default=None, help="the compute resource's books_per_task")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        for pair in args.grid:
            n, y, *chunk = (int(x) for x in pair.split(":"))
            for engine in args.engine:
                rows.append(run(n, y, args.portfolios, args.methods, Path(tmp), chunk[0] if chunk else None,
                                engine, args.workers, args.books_per_task))
                print(pd.DataFrame(rows).to_string(index=False, float_format="{:.1f}".format), flush=True)
    table = pd.DataFrame(rows)
    table["s_per_M_rows"] = table["wall_s"] / table["price_rows_M"]
    print("\nFull backfill (one in-process run, or one per chunk of chunk_years) of the core chain and its checks, "
          f"{args.portfolios} portfolios, methods {args.methods}:")
    print(table.to_string(index=False, float_format="{:.2f}".format))


if __name__ == "__main__":
    main()
