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

With ``--books record`` (by default both, one after the other at each size) the same number of
books are books of record whose positions change every day (``record_books``: a mandate of 60
names, 40 held, two resized a day, four swapped every 21 days, in whole shares), given as a booking
system would: one positions file and one trades file (Parquet, with a date column) named by
``books_of_record`` in the portfolios file (beside one static book: the file needs one); the run
adds the ``positions`` and ``trades`` assets and their checks. The end prints each asset check's
seconds at every size and its growth against the growth of the rows it checks.

    .venv/bin/python benchmarks/bench_scale.py            # 1000 symbols x 5, 10, 20 y; 20 y in 5-year runs
    .venv/bin/python benchmarks/bench_scale.py --grid 250:5 1000:20 --portfolios 50
    .venv/bin/python benchmarks/bench_scale.py --grid 1000:5 1000:20 --books static record
    .venv/bin/python benchmarks/bench_scale.py --grid 1000:20 --engine inline dask --workers 2   # both engines
    .venv/bin/python benchmarks/bench_scale.py --grid 1000:20 --methods shipped --horizons 1 3 5 10  # 64 series/book

Memory: ``peak_rss_MB`` is what ``/usr/bin/time -v`` reports (the largest process of the tree),
``peak_process_MB`` the largest of each process's peak and ``peak_sum_MB`` the peak of their sum,
sampled every 0.2 s (the run's process and the Dask workers it starts); ``<asset>_peak_MB`` the
peak of that sum during the asset's step (its span in the run's instance). CPU:
``<asset>_run_cpu_s`` the CPU seconds of the run's process during the step, ``<asset>_workers_cpu_s``
those of the tree's other processes (the Dask workers), sampled alike; ``run_cpu_s`` and
``workers_cpu_s`` the same over the whole run, ``checks_run_cpu_s`` the run's process's in the asset
checks' steps; ``cpu_s`` the sum of ``run_cpu_s`` and ``workers_cpu_s`` (``time_cpu_s``, what
``/usr/bin/time`` reports, counts only the processes it waits for: not the Dask workers forked by the
forkserver). On the dask engine, ``<asset>_workers_idle_s`` is the workers' seconds without CPU during
the step (workers x the step's wall - their CPU in it; ``checks_workers_idle_s`` the same over the
asset checks' steps): the time they wait for the run's process, each other or the machine's cores
(only the first two on an idle machine).
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
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CORE = "prices,returns,portfolio_pnl,var_estimates,var_backtests"
RECORD = "positions,trades," + CORE  # a run of books of record reads their stored positions and trades
END = pd.Timestamp("2022-12-29")  # within the partitions (they end at the price source's last day)
# the books of record's rule (record_books)
MANDATE, HELD, DAILY_CHANGES, MONTHLY_SWAPS = 60, 40, 2, 4


def generate(folder: Path, n_symbols: int, years: int, n_portfolios: int, record: bool = False,
             seed: int = 1) -> tuple[str, str]:
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
    if not record:
        (folder / "portfolios.yaml").write_text(yaml.safe_dump({"portfolios": books}))
        return dates[0].date().isoformat(), dates[-1].date().isoformat()
    held, traded = record_books(rng, dates, symbols, np.exp(log_close), n_portfolios)
    held.to_parquet(folder / "positions.parquet", index=False)
    traded.to_parquet(folder / "trades.parquet", index=False)
    (folder / "portfolios.yaml").write_text(yaml.safe_dump({
        "portfolios": books[:1],  # the file needs one portfolio: a static book beside the books of record
        "books_of_record": {
            "books": [{"name": f"record_{p:03d}", "base_currency": "EUR" if p % 10 == 9 else "USD"}
                      for p in range(n_portfolios)],
            "positions": {"source": "file", "path": "positions.parquet"},
            "trades": {"source": "file", "path": "trades.parquet"},
        }}))
    return dates[0].date().isoformat(), dates[-1].date().isoformat()


def record_books(rng: np.random.Generator, dates: pd.DatetimeIndex, symbols: list[str], close: np.ndarray,
                 n_books: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Books of record whose positions change every day, as one positions file and one trades file
    (``date, portfolio, symbol, quantity[, price, fees]``), by a fixed rule: each book has a mandate
    of ``MANDATE`` symbols and holds ``HELD`` of them, starting at USD 25,000 of each in whole shares;
    every day ``DAILY_CHANGES`` of its holdings are resized by -20%..+25% (whole shares); on the first
    day of each 21-day month ``MONTHLY_SWAPS`` holdings are sold and as many names of the mandate
    bought. Trades are the changes, at the close times 1 + N(0, 10 bp), fees 5 bp of the notional."""
    n_days = len(dates)
    held_frames, trade_frames = [], []
    for b in range(n_books):
        mandate = rng.choice(len(symbols), MANDATE, replace=False)
        held = np.zeros((n_days, MANDATE), dtype=bool)
        inside = rng.permutation(MANDATE)[:HELD]
        for month_start in range(0, n_days, 21):
            if month_start:
                out = rng.choice(inside, MONTHLY_SWAPS, replace=False)
                bought = rng.choice(np.setdiff1d(np.arange(MANDATE), inside), MONTHLY_SWAPS, replace=False)
                inside = np.union1d(np.setdiff1d(inside, out), bought)
            held[month_start:month_start + 21, inside] = True
        factor = np.ones((n_days, MANDATE))
        day = np.repeat(np.arange(1, n_days), DAILY_CHANGES)
        name = rng.integers(0, MANDATE, len(day))
        factor[day, name] = rng.uniform(0.8, 1.25, len(day))
        quantity = np.floor(25_000.0 / close[0, mandate] * np.cumprod(factor, axis=0))
        quantity = np.where(held, np.maximum(quantity, 1.0), 0.0)
        change = np.diff(quantity, axis=0, prepend=0.0)
        book = f"record_{b:03d}"
        d, j = np.nonzero(quantity)
        held_frames.append(pd.DataFrame({"date": dates[d], "portfolio": book, "symbol": np.asarray(symbols)[mandate[j]],
                                         "quantity": quantity[d, j]}))
        d, j = np.nonzero(change)
        price = close[d, mandate[j]] * (1.0 + 0.001 * rng.standard_normal(len(d)))
        trade_frames.append(pd.DataFrame({"date": dates[d], "portfolio": book, "symbol": np.asarray(symbols)[mandate[j]],
                                          "quantity": change[d, j], "price": price,
                                          "fees": 0.0005 * np.abs(change[d, j] * price)}))
    categories = {"portfolio": "category", "symbol": "category"}
    return (pd.concat(held_frames, ignore_index=True).astype(categories),
            pd.concat(trade_frames, ignore_index=True).astype(categories))


class PeakSampler(threading.Thread):
    """Every 0.2 s, the resident memory of each process of the tree under ``pid`` (the run's process
    and its Dask workers): the peak of each process and of their sum; and the CPU seconds used so far
    by the run's process (``pid``'s child: ``pid`` is ``/usr/bin/time``) and by the others (the workers)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root, self.done = psutil.Process(pid), threading.Event()
        self.peaks: dict[int, float] = {}
        self.run_pid: int | None = None  # the run's process (the child of /usr/bin/time)
        self.peak_sum = 0.0
        self.samples: list[tuple[float, float]] = []  # (time, the tree's resident MiB)
        self.cpu: dict[int, float] = {}  # each process's CPU seconds at its last sample
        self.cpu_samples: list[tuple[float, float, float]] = []  # (time, the run's process's CPU s, the others')

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
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                self.peaks[process.pid] = max(self.peaks.get(process.pid, 0.0), rss)
                self.cpu[process.pid] = times.user + times.system
                total += rss
            self.peak_sum = max(self.peak_sum, total)
            self.samples.append((time.time(), total))
            # the run's process is the first child seen; a sample after it ended still counts its last CPU as its own
            self.run_pid = self.run_pid or (tree[1].pid if len(tree) > 1 else None)
            others = sum(cpu for pid, cpu in self.cpu.items() if pid not in (self.root.pid, self.run_pid))
            self.cpu_samples.append((time.time(), self.cpu.get(self.run_pid, 0.0), others))

    def peak_between(self, start: float, end: float) -> float:
        """The largest sum sampled from ``start`` to ``end`` (seconds since the epoch)."""
        return max((mb for t, mb in self.samples if start <= t <= end), default=0.0)

    def cpu_between(self, start: float, end: float) -> tuple[float, float]:
        """The CPU seconds of the run's process and of the others (the workers) from ``start`` to ``end``."""
        def at(when: float) -> tuple[float, float]:
            before = [(run, others) for t, run, others in self.cpu_samples if t <= when]
            return before[-1] if before else (0.0, 0.0)
        (run0, others0), (run1, others1) = at(start), at(end)
        return run1 - run0, others1 - others0


def step_peaks(home: Path, sampler: PeakSampler
               ) -> tuple[dict[str, float], dict[str, tuple[float, float]], dict[str, float]]:
    """Each step's peak of the tree's resident memory (MiB) over its span in the instance at ``home``,
    its CPU seconds in the run's process and in the others (the Dask workers), and its wall seconds."""
    import dagster as dg

    peaks: dict[str, float] = {}
    cpu: dict[str, tuple[float, float]] = {}
    walls: dict[str, float] = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for record in instance.get_runs():
            for stat in instance.get_run_step_stats(record.run_id):
                if stat.start_time and stat.end_time:
                    peak = sampler.peak_between(stat.start_time, stat.end_time)
                    peaks[stat.step_key] = max(peaks.get(stat.step_key, 0.0), peak)
                    run_cpu, others = sampler.cpu_between(stat.start_time, stat.end_time)
                    before = cpu.get(stat.step_key, (0.0, 0.0))
                    cpu[stat.step_key] = (before[0] + run_cpu, before[1] + others)
                    walls[stat.step_key] = walls.get(stat.step_key, 0.0) + stat.end_time - stat.start_time
    return peaks, cpu, walls


def run(n_symbols: int, years: int, n_portfolios: int, methods: list[str], work: Path,
        chunk_years: int | None = None, engine: str = "inline", workers: int = 2,
        books_per_task: int | None = None, books: str = "static", confidences: tuple[float, ...] = (0.95, 0.99),
        horizons: tuple[int, ...] = (1,)) -> dict[str, float]:
    folder = work / f"u{n_symbols}_y{years}_c{chunk_years}_{engine}_{books}"
    assets = RECORD if books == "record" else CORE
    (folder / "inputs").mkdir(parents=True)
    (folder / "data").mkdir()
    # the project's instance configuration (batching SQLite event log), as make run uses it
    (folder / "dagster_home").mkdir()
    shutil.copy(REPO / "dagster.yaml", folder / "dagster_home" / "dagster.yaml")
    start, end = generate(folder / "inputs", n_symbols, years, n_portfolios, record=books == "record")
    config = {"ops": {
        "prices": {"config": {"extra_symbols": []}},
        "var_estimates": {"config": {"methods": methods, "confidences": list(confidences),
                                     "horizons": list(horizons)}},
    }, "resources": {"compute": {"config": {"engine": engine, "workers": workers,
                                            **({"books_per_task": books_per_task} if books_per_task else {})}}}}
    env = {**os.environ, "RISK_PIPELINE_BUNDLED_DATA": str(folder / "inputs"),
           "RISK_PIPELINE_PORTFOLIOS": str(folder / "inputs" / "portfolios.yaml"),
           "RISK_PIPELINE_DATA": str(folder / "data"), "DAGSTER_HOME": str(folder / "dagster_home"),
           "PYTHONWARNINGS": "ignore"}
    command = ["/usr/bin/time", "-v", str(BIN / "risk-pipeline"), "backfill", "--start", start, "--end", end,
               "--select", " or ".join(f"key:{a}" for a in assets.split(",")), "--config-json", json.dumps(config),
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
    time_cpu = sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", out.stderr).group(1))
                   for kind in ("User", "System"))
    steps = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\s+(\S+)\s+([\d.]+) s$", out.stdout, re.M)}
    peaks, step_cpu, walls = step_peaks(folder / "dagster_home", sampler)
    # the workers' seconds without CPU in each step (the dask engine)
    idle = {k: workers * walls[k] - v[1] for k, v in step_cpu.items()} if engine == "dask" else {}
    run_cpu, workers_cpu = sampler.cpu_samples[-1][1:] if sampler.cpu_samples else (0.0, 0.0)
    lake_mb = sum(f.stat().st_size for f in (folder / "data" / "lake").rglob("*.parquet")) / 1e6
    shutil.rmtree(folder)
    return {"engine": engine, "workers": workers if engine == "dask" else 1, "books": books,
            "symbols": n_symbols, "years": years, "portfolios": n_portfolios,
            "series_per_book": len(methods) * len(confidences) * len(horizons), "chunk_years": chunk_years or years,
            "price_rows_M": n_symbols * years * 261 / 1e6, "wall_s": h * 3600 + m * 60 + s,
            "cpu_s": run_cpu + workers_cpu, "time_cpu_s": time_cpu,
            # the CPU seconds of the run's process and of the workers in all (at the last sample), and of the
            # run's process in the asset checks' steps
            "run_cpu_s": run_cpu, "workers_cpu_s": workers_cpu,
            "checks_run_cpu_s": sum(v[0] for k, v in step_cpu.items() if k not in assets.split(",")),
            **({"checks_workers_idle_s": sum(v for k, v in idle.items() if k not in assets.split(","))} if idle else {}),
            "peak_rss_MB": peak_kb / 1024,  # /usr/bin/time: the largest process of the tree
            # the run's process's peak, and the others' (the Dask workers) above 100 MiB, largest first
            "run_peak_MB": sampler.peaks.get(sampler.run_pid, 0.0),
            "others_peak_MB": "/".join(f"{mb:.0f}" for pid, mb in sorted(sampler.peaks.items(), key=lambda x: -x[1])
                                       if pid not in (sampler.run_pid, process.pid) and mb > 100) or "-",
            "peak_process_MB": max(sampler.peaks.values(), default=0.0), "peak_sum_MB": sampler.peak_sum,
            "processes": len(sampler.peaks), "lake_MB": lake_mb,
            **{f"{k}_s": v for k, v in steps.items() if k in assets.split(",")},
            # each asset's peak of the tree's memory during its step (MiB), where the run's peak falls
            **{f"{k}_peak_MB": v for k, v in peaks.items() if k in assets.split(",")},
            # each asset's CPU seconds during its step in the run's process and in the others (the workers)
            **{f"{k}_run_cpu_s": v[0] for k, v in step_cpu.items() if k in assets.split(",")},
            **{f"{k}_workers_cpu_s": v[1] for k, v in step_cpu.items() if k in assets.split(",")},
            **{f"{k}_workers_idle_s": v for k, v in idle.items() if k in assets.split(",")},
            # the asset checks' steps (their keys: asset_check), beside the assets'
            **{f"check:{k}": v for k, v in steps.items() if k not in assets.split(",")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", nargs="+", default=["1000:5", "1000:10", "1000:20", "1000:20:5"],
                        help="SYMBOLS:YEARS[:CHUNK_YEARS] to run (chunks: risk-pipeline backfill --chunk-years)")
    parser.add_argument("--portfolios", type=int, default=50)
    parser.add_argument("--methods", nargs="+", default=["historical", "parametric_normal", "ewma"],
                        help="VaR methods, or 'shipped': pipeline.yaml's (var.methods)")
    parser.add_argument("--confidences", nargs="+", type=float, default=[0.95, 0.99])
    parser.add_argument("--horizons", nargs="+", type=int, default=[1],
                        help="VaR horizons in days (pipeline.yaml ships 1 3 5 10: with --methods shipped, the "
                             "shipped configuration's 8 x 2 x 4 = 64 series per book)")
    parser.add_argument("--books", nargs="+", choices=["static", "record"], default=["static", "record"],
                        help="static: the portfolios of portfolios.yaml; record: as many books of record whose "
                             "positions change daily (one positions file and one trades file, as a booking system "
                             "gives them, beside one static book); both at each size, one after the other")
    parser.add_argument("--engine", nargs="+", choices=["inline", "dask"], default=["inline"],
                        help="the compute engine(s), each size run with each in turn (risk_pipeline/compute.py)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the dask engine's LocalCluster")
    parser.add_argument("--books-per-task", type=int, default=None, help="the compute resource's books_per_task")
    args = parser.parse_args()
    if args.methods == ["shipped"]:
        args.methods = list(yaml.safe_load((REPO / "risk_pipeline" / "config" / "pipeline.yaml").read_text())["var"]["methods"])
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        for pair in args.grid:
            n, y, *chunk = (int(x) for x in pair.split(":"))
            for engine in args.engine:
                for books in args.books:
                    rows.append(run(n, y, args.portfolios, args.methods, Path(tmp), chunk[0] if chunk else None,
                                    engine, args.workers, args.books_per_task, books, tuple(args.confidences),
                                    tuple(args.horizons)))
                    print(pd.DataFrame(rows).filter(regex="^(?!check:)").to_string(
                        index=False, float_format="{:.1f}".format), flush=True)
    table = pd.DataFrame(rows)
    checks = table[[c for c in table.columns if c.startswith("check:")]]
    table = table.drop(columns=checks.columns)
    table["s_per_M_rows"] = table["wall_s"] / table["price_rows_M"]
    print_check_growth(table, checks)
    print("\nFull backfill (one in-process run, or one per chunk of chunk_years) of the core chain and its checks "
          f"(books of record: with positions and trades), {args.portfolios} portfolios, methods {args.methods}:")
    print(table.to_string(index=False, float_format="{:.2f}".format))


def print_check_growth(table: pd.DataFrame, checks: pd.DataFrame) -> None:
    """Each asset check's seconds at every size, and per kind of book its growth from the smallest
    run to the largest (by price rows) beside the growth of the rows it checks (price rows; book-days,
    which the positions rows follow at 40 names a book): a check that grows at most linearly has a
    time ratio at most the larger of the two."""
    if checks.empty:
        return
    kinds = table["engine"] + " " + table["books"]
    sizes = kinds + " " + table["symbols"].astype(str) + "x" + table["years"].astype(str) + "y x" \
        + table["portfolios"].astype(str)
    out = checks.set_axis(sizes).T.rename(index=lambda c: c.removeprefix("check:"))
    for books in kinds.unique():
        runs = table.index[kinds == books]
        small, large = runs[table.loc[runs, "price_rows_M"].argmin()], runs[table.loc[runs, "price_rows_M"].argmax()]
        if small == large:
            continue
        book_days = table["portfolios"] * table["years"]
        out[f"{books}: time ratio"] = checks.loc[large].to_numpy() / checks.loc[small].to_numpy()
        out[f"{books}: price rows ratio"] = table.loc[large, "price_rows_M"] / table.loc[small, "price_rows_M"]
        out[f"{books}: book-days ratio"] = book_days[large] / book_days[small]
    print("\nAsset checks, seconds per run (steps of the backfill):")
    print(out.to_string(float_format="{:.2f}".format))


if __name__ == "__main__":
    main()
