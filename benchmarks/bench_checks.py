"""How each asset check's cost grows with the rows it checks (issue 23: at most linearly).

In one process, on the generated universe of ``bench_scale.py`` at each size (symbols x years x
books: the static books of ``portfolios.yaml`` for the checks of prices, the books of record's
positions for those of positions), times the rule each asset check evaluates on the frames a
check reads (the lake's reading left out): the six rules of prices and returns
(``defs.quality_rules.RULES``, the audit's too) and the two checks of positions. CPU seconds
(``time.process_time``, best of ``--repeat``), so the machine's load matters little; then each
check's ratio to the first size beside the ratios of price rows and of positions rows.

    .venv/bin/python benchmarks/bench_checks.py                       # 250:4:25 250:4:100 250:16:25
    .venv/bin/python benchmarks/bench_checks.py --sizes 1000:5:50 1000:5:200 1000:20:50
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import generate  # noqa: E402


def frames(folder: Path, n_symbols: int, years: int, n_books: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Prices and returns as stored, and the books of record's positions, of one generated universe
    (the static books' portfolios.yaml in ``folder / "static"``)."""
    (folder / "static").mkdir(parents=True)
    (folder / "record").mkdir()
    generate(folder / "static", n_symbols, years, n_books)
    generate(folder / "record", n_symbols, years, n_books, record=True)  # the same prices, the same seed
    prices = pd.read_parquet(folder / "static" / "bundled_prices.parquet")
    wide = prices.pivot(index="date", columns="symbol", values="close")
    returns = (wide / wide.shift(1) - 1.0).iloc[1:].stack().rename("simple_return").reset_index()
    held = pd.read_parquet(folder / "record" / "positions.parquet").astype({"portfolio": str, "symbol": str})
    return prices, returns, held


def timed(evaluate, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.process_time()
        evaluate()
        best = min(best, time.process_time() - began)
    return best


def measure(n_symbols: int, years: int, n_books: int, repeat: int, work: Path) -> dict[str, float]:
    from risk_pipeline.defs.quality_rules import RULES
    from risk_pipeline.sources import quality

    folder = work / f"u{n_symbols}_y{years}_b{n_books}"
    prices, returns, held = frames(folder, n_symbols, years, n_books)
    os.environ["RISK_PIPELINE_PORTFOLIOS"] = str(folder / "static" / "portfolios.yaml")
    days = sorted({d.date() for d in prices["date"].unique()})
    trading = pd.DatetimeIndex(sorted(prices["date"].unique()))
    out: dict[str, float] = {"price_rows": len(prices), "positions_rows": len(held)}
    for name, rule in RULES.items():
        frame = prices if rule.table == "prices" else returns
        out[name] = timed(lambda: rule.evaluate(frame, days, rule.config()), repeat)
    out["positions_instruments_priced"] = timed(lambda: quality.unpriced_held_positions(held, prices), repeat)
    out["positions_cover_the_books"] = timed(lambda: quality.uncovered_books(held, trading, days[1]), repeat)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["250:4:25", "250:4:100", "250:16:25"],
                        help="SYMBOLS:YEARS:BOOKS; the first is the base of the ratios")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_checks_") as tmp:
        for size in args.sizes:
            n, y, b = (int(x) for x in size.split(":"))
            results[f"{n}x{y}y x{b}"] = measure(n, y, b, args.repeat, Path(tmp))
            print(f"{size} done", flush=True)
    table = pd.DataFrame(results)
    base = table.columns[0]
    seconds = table.drop(index=["price_rows", "positions_rows"])
    print(f"\nCPU seconds of each check's rule (best of {args.repeat}), the rows checked first:")
    print(table.to_string(float_format=lambda v: f"{v:,.0f}" if v >= 1000 else f"{v:.3f}"))
    for size in table.columns[1:]:
        print(f"\n{size} against {base}: price rows x{table.loc['price_rows', size] / table.loc['price_rows', base]:.2f}, "
              f"positions rows x{table.loc['positions_rows', size] / table.loc['positions_rows', base]:.2f}; "
              "time ratio per check:")
        print((seconds[size] / seconds[base]).to_string(float_format="{:.2f}".format))


if __name__ == "__main__":
    main()
