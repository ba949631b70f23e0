"""Implied volatilities as data: the file named by ``options.vol_file``, in one of two formats.

- ``options.vol_source: file`` -- quotes of a surface, columns ``date, underlying, expiry, strike,
  implied_vol`` (interpolated by :func:`risk_pipeline.risk.options.surface.surface_vol`);
- ``options.vol_source: atm_file`` -- at-the-money levels, columns ``date, underlying, series,
  implied_vol``: one level per day and underlying (the shipped ``data/vix_atm_vol.csv``: the VIX of
  the S&P 500, ``series`` = ``vix``), used with the proxy's skew and the proxy where the file has no
  level (:mod:`risk_pipeline.option_books`).

``date`` and ``expiry`` YYYY-MM-DD, ``date`` a business day (Monday to Friday), ``expiry`` after it;
``strike`` and ``implied_vol`` (a decimal: 0.1376 for 13.76%) > 0; ``underlying`` a priced symbol
(checked before a run, when the priced symbols are known); ``series`` a name (the ``vol_source`` of
the rows priced from it). The first bad value raises ConfigError naming the file, the row (the
file's line, the header is row 1) and the field. A CSV or a Parquet file (by its suffix).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from risk_pipeline.file_version import file_version
from risk_pipeline.config.reader import ConfigError

QUOTE_COLUMNS = ("date", "underlying", "expiry", "strike", "implied_vol")
ATM_COLUMNS = ("date", "underlying", "series", "implied_vol")
FORMATS = {"file": QUOTE_COLUMNS, "atm_file": ATM_COLUMNS}


def read_vol_file(path: str | Path, source: str, priced: set[str] | None = None) -> pd.DataFrame:
    """The rows of the volatility file of ``source`` (a key of FORMATS), checked (module doc); ``priced``: the
    known underlyings (None: not checked). Read once per version of the file (its inode, size and
    modification time; the option steps of a day's run read it five times), a copy each time."""
    file = Path(path)
    try:
        version = file_version(file)
    except FileNotFoundError:
        raise ConfigError(f"{file}: implied volatility file not found") from None
    return _read_vol_file(file, version, source, None if priced is None else frozenset(priced)).copy()


@lru_cache(maxsize=8)
def _read_vol_file(file: Path, version: tuple[int, int, int], source: str, priced: frozenset[str] | None) -> pd.DataFrame:
    columns = FORMATS[source]
    try:
        raw = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file, dtype=str)
    except FileNotFoundError:
        raise ConfigError(f"{file}: implied volatility file not found") from None
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise ConfigError(f"{file}, row 1: missing column {missing[0]!r} (columns: {', '.join(columns)})")
    raw = raw[list(columns)].reset_index(drop=True)
    frame = raw.copy()
    why = pd.DataFrame("", index=frame.index, columns=list(columns))
    for column in columns:
        if column in ("date", "expiry"):
            frame[column] = pd.to_datetime(raw[column], format="%Y-%m-%d", errors="coerce")
        elif column in ("strike", "implied_vol"):
            frame[column] = pd.to_numeric(raw[column], errors="coerce")
            why.loc[frame[column] <= 0, column] = "must be > 0"
        why.loc[frame[column].isna() | (frame[column].astype(str).str.strip() == ""), column] = "missing or not valid"
    why.loc[frame["date"].dt.dayofweek >= 5, "date"] = "not a business day (a Saturday or Sunday)"
    if "expiry" in columns:
        why.loc[(frame["expiry"] <= frame["date"]) & (why["expiry"] == ""), "expiry"] = "must be after the date"
    else:
        why.loc[frame.duplicated(["date", "underlying"]) & (why["date"] == ""), "date"] = \
            "a second level for this date and underlying"
    if priced is not None:
        why.loc[~frame["underlying"].isin(priced) & (why["underlying"] == ""), "underlying"] = \
            f"unknown underlying: not a priced symbol (priced: {', '.join(sorted(priced))})"
    bad = why != ""
    if bad.to_numpy().any():
        row = int(bad.any(axis=1).to_numpy().argmax())
        field = next(c for c in columns if bad.at[row, c])
        raise ConfigError(f"{file}, row {row + 2}: field {field!r}: {why.at[row, field]}, got {raw.at[row, field]!r}")
    return frame
