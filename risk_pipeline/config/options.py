"""Option positions: frozen dataclasses and the CSV file they are loaded from.

The file is named by the ``options.positions_file`` setting of pipeline.yaml (none by default).
One row per option position, held at every close from ``opened`` until the day before ``expiry``::

    book,option,option_type,underlying,strike,expiry,opened,quantity,multiplier,currency
    spx_short_strangles,2022-12_p3650,put,^GSPC,3650,2022-12-16,2022-11-18,-10,100,USD

- ``book``, ``option``: names (letters, digits, "_", "-", "."); (book, option) unique;
- ``option_type``: ``call`` or ``put`` (European);
- ``underlying``: a symbol of the prices table (checked against it when the positions are priced);
- ``strike`` > 0, in the option's currency; ``expiry`` and ``opened``: YYYY-MM-DD, expiry after opened;
- ``quantity``: contracts, non-zero (negative = short); ``multiplier`` > 0: units of the
  underlying per contract; ``currency``: of the strike and premium, the underlying's own (no quanto options).

A bad row raises ConfigError naming the file, the row (the file's line, the header is row 1) and the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from risk_pipeline.file_version import file_version
from risk_pipeline.config.implied_vols import read_vol_file
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.storage.paths import REPO_ROOT
from risk_pipeline.config.reader import ConfigError, currency, date, field_error, integer, is_number, name
from risk_pipeline.sources.ecb_fx import fx_currencies

COLUMNS = ("book", "option", "option_type", "underlying", "strike", "expiry", "opened", "quantity", "multiplier",
           "currency")
OPTION_TYPES = ("call", "put")
VOL_SOURCES = ("ewma_proxy", "file", "atm_file")


@dataclass(frozen=True)
class OptionPosition:
    """One European option position (module doc); ``row``: its row in the file, for later messages."""

    book: str
    option: str
    option_type: str
    underlying: str
    strike: float
    expiry: dt.date
    opened: dt.date
    quantity: float
    multiplier: float
    currency: str
    row: int

    @property
    def is_call(self) -> bool:
        return self.option_type == "call"


def _number(value: str, where: str, field: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise field_error(where, field, f"must be a finite number, got {value!r}")
    return number


def _position(row: dict[str, str], where: str, line: int, currencies: frozenset[str]) -> OptionPosition:
    option_type = row["option_type"].strip().lower()
    if option_type not in OPTION_TYPES:
        raise field_error(where, "option_type", f"must be call or put, got {row['option_type']!r}")
    underlying = row["underlying"].strip()
    if not underlying:
        raise field_error(where, "underlying", "must name a symbol of the prices")
    strike = _number(row["strike"], where, "strike")
    if strike <= 0:
        raise field_error(where, "strike", f"must be > 0, got {row['strike']!r}")
    quantity = _number(row["quantity"], where, "quantity")
    if quantity == 0:
        raise field_error(where, "quantity", "must be a non-zero number of contracts (negative = short)")
    multiplier = _number(row["multiplier"], where, "multiplier")
    if multiplier <= 0:
        raise field_error(where, "multiplier", f"must be > 0, got {row['multiplier']!r}")
    opened = date(row["opened"].strip(), where, "opened")
    expiry = date(row["expiry"].strip(), where, "expiry")
    if expiry <= opened:
        raise field_error(where, "expiry", f"{expiry} is not after the day the position was opened ({opened})")
    return OptionPosition(book=name(row["book"].strip(), where, "book"), option=name(row["option"].strip(), where, "option"),
                          option_type=option_type, underlying=underlying, strike=strike, expiry=expiry, opened=opened,
                          quantity=quantity, multiplier=multiplier,
                          currency=currency(row["currency"].strip(), where, "currency", currencies), row=line)


def load_option_positions(path: str | Path) -> tuple[OptionPosition, ...]:
    """Positions of the CSV ``path`` in file order (module doc); ConfigError names file, row and field.
    Read once per version of the file (its inode, size and modification time) and set of known
    currencies: a day's run asks for them in several steps, and checking every row costs 0.1 s for
    the bundled 5,500 rows."""
    file = Path(path)
    try:
        version = file_version(file)
    except FileNotFoundError:
        raise ConfigError(f"{file}: option positions file not found") from None
    return _read_option_positions(file, version, fx_currencies())


@lru_cache(maxsize=4)
def _read_option_positions(file: Path, version: tuple[int, int, int], currencies: frozenset[str]
                           ) -> tuple[OptionPosition, ...]:
    """The positions of ``file`` as it is at ``version`` with ``currencies`` known."""
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ConfigError(f"{file}, row 1: missing column {missing[0]!r} (columns: {', '.join(COLUMNS)})")
            positions: list[OptionPosition] = []
            seen: dict[tuple[str, str], int] = {}
            for line, row in enumerate(reader, start=2):
                where = f"{file}, row {line}"
                empty = [c for c in COLUMNS if not (row.get(c) or "").strip()]
                if empty:
                    raise field_error(where, empty[0], "missing")
                position = _position(row, where, line, currencies)
                key = (position.book, position.option)
                if key in seen:
                    raise field_error(where, "option", f"duplicate option {position.option!r} of book {position.book!r} "
                                      f"(first on row {seen[key]})")
                seen[key] = line
                positions.append(position)
    except FileNotFoundError:
        raise ConfigError(f"{file}: option positions file not found") from None
    return tuple(positions)


def unknown_underlying_error(file: str | Path, position: OptionPosition, known: set[str]) -> ConfigError:
    """The error for a position whose underlying has no stored prices."""
    return field_error(f"{file}, row {position.row}", "underlying",
                       f"unknown underlying {position.underlying!r}: not a priced symbol (add it to prices.extra_symbols; "
                       f"priced: {', '.join(sorted(known))})")


@dataclass(frozen=True)
class OptionSettings:
    """The ``options`` section of pipeline.yaml, checked."""

    positions_file: str
    base_currency: str
    delta_hedged_books: tuple[str, ...]
    vol_source: str
    vol_file: str | None
    ewma_window_days: int
    skew: float
    rates: dict[str, float]
    dividend_yields: dict[str, float]


def _from_root(path: str) -> str:
    """A path of pipeline.yaml; a relative one is taken from the repository root, as the shipped data files."""
    return str(Path(path) if Path(path).is_absolute() else REPO_ROOT / path)


def option_settings(values: Mapping[str, Any], where: str = "pipeline.yaml, section 'options'") -> OptionSettings | None:
    """The checked ``options`` settings, or None when no positions file is set (a relative positions_file is
    taken from the repository root, as the shipped ``data/option_positions.csv``)."""
    if not values.get("positions_file"):
        return None
    source = values.get("vol_source")
    if source not in VOL_SOURCES:
        raise field_error(where, "vol_source", f"must be one of {VOL_SOURCES}, got {source!r}")
    if source != "ewma_proxy" and not values.get("vol_file"):
        raise field_error(where, "vol_file", f"must name a CSV or Parquet file when vol_source is {source}")
    skew = values.get("skew")
    if not is_number(skew):
        raise field_error(where, "skew", f"must be a number, got {skew!r}")
    rates, dividends = dict(values.get("rates") or {}), dict(values.get("dividend_yields") or {})
    for field, table in (("rates", rates), ("dividend_yields", dividends)):
        bad = [k for k, v in table.items() if not is_number(v)]
        if bad:
            raise field_error(where, field, f"{bad[0]!r} must map to a decimal rate, got {table[bad[0]]!r}")
    return OptionSettings(
        positions_file=_from_root(values["positions_file"]),
        base_currency=currency(values.get("base_currency"), where, "base_currency"),
        delta_hedged_books=tuple(values.get("delta_hedged_books") or ()), vol_source=source,
        vol_file=_from_root(values["vol_file"]) if values.get("vol_file") else None,
        ewma_window_days=integer(values.get("ewma_window_days"), where, "ewma_window_days", 2),
        skew=float(skew), rates={k: float(v) for k, v in rates.items()},
        dividend_yields={k: float(v) for k, v in dividends.items()})


def check_option_positions(values: Mapping[str, Any], extra_symbols: list[str]) -> None:
    """Before a run: the settings, the positions file and every underlying among the priced symbols (the
    portfolios' and ``prices.extra_symbols``, as the prices asset loads them), and so the volatility file."""
    settings = option_settings(values)
    if settings is None:
        return
    priced = {symbol for portfolio in load_portfolios() for symbol in portfolio.symbols} | set(extra_symbols)
    for position in load_option_positions(settings.positions_file):
        if position.underlying not in priced:
            raise unknown_underlying_error(settings.positions_file, position, priced)
    if settings.vol_source != "ewma_proxy":
        read_vol_file(settings.vol_file, settings.vol_source, priced)
