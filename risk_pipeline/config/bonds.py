"""Bond books: frozen dataclasses and the YAML file they are loaded from.

A separate file from the equity portfolios (the ``bonds.positions_file`` setting of
pipeline.yaml names it; none by default)::

    bond_books:
      - name: eur_rates             # letters, digits, "_", "-", "."
        base_currency: EUR          # currency the book's P&L is reported in (USD, EUR or any ECB currency)
        bonds:
          - name: ust_2031          # unique within the book
            face: 1000000           # face amount held, in the bond's currency (> 0)
            coupon: 0.0125          # annual coupon rate, decimal
            maturity: 2031-08-15    # YYYY-MM-DD
            frequency: 2            # coupons a year: 1, 2, 4 or 12
            yield_series: ^TNX      # a series of the yield source (CSV ``series`` or Yahoo ticker)
            currency: USD           # currency of the bond

Every problem raises ConfigError naming the file, the line, the book and the bond / field.

Bond *instruments* (:class:`BondInstrument`, the ``bonds.instruments`` list of pipeline.yaml) are
symbols of the prices table priced from a constant-maturity yield series, held in any portfolio
like a stock (:mod:`risk_pipeline.sources.bond_instruments`)::

    instruments:
      - {symbol: UST10Y, yield_series: US10Y_EXAMPLE, tenor_years: 10, frequency: 2, currency: USD}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from risk_pipeline.config.reader import (
    ConfigError,
    check_fields,
    currency,
    date,
    field_error,
    is_number,
    name,
    named_entries,
    read_yaml,
    unique,
)

FREQUENCIES = (1, 2, 4, 12)
_BOOK_FIELDS = {"name", "base_currency", "bonds"}
_BOND_FIELDS = {"name", "face", "coupon", "maturity", "frequency", "yield_series", "currency"}
_INSTRUMENT_FIELDS = ("symbol", "yield_series", "tenor_years", "frequency", "currency")


@dataclass(frozen=True)
class BondPosition:
    """A fixed-coupon bullet bond held with face amount ``face`` (in ``currency``)."""

    name: str
    face: float
    coupon: float
    maturity: dt.date
    frequency: int
    yield_series: str
    currency: str


@dataclass(frozen=True)
class BondBook:
    """A named book of bonds valued in ``base_currency``."""

    name: str
    base_currency: str
    bonds: tuple[BondPosition, ...]


def _bond(entry: object, book: str) -> BondPosition:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{book}: each bond must be a mapping with {', '.join(sorted(_BOND_FIELDS))}, got {entry!r}")
    where = f"{book}: bond {entry.get('name')!r}"
    check_fields(entry, _BOND_FIELDS, sorted(_BOND_FIELDS), where)
    face, coupon, frequency = entry["face"], entry["coupon"], entry["frequency"]
    if not is_number(face) or face <= 0:
        raise field_error(where, "face", f"must be a positive number, got {face!r}")
    if not is_number(coupon) or not 0 <= coupon < 1:
        raise field_error(where, "coupon", f"must be a decimal rate in [0, 1) (0.0125 = 1.25%), got {coupon!r}")
    if frequency not in FREQUENCIES or isinstance(frequency, bool):
        raise field_error(where, "frequency", f"must be one of {FREQUENCIES} coupons a year, got {frequency!r}")
    series = entry["yield_series"]
    if not isinstance(series, str) or not series.strip():
        raise field_error(where, "yield_series", f"must name a yield series, got {series!r}")
    return BondPosition(name=name(entry["name"], where), face=float(face), coupon=float(coupon),
                        maturity=date(entry["maturity"], where, "maturity"), frequency=int(frequency),
                        yield_series=series.strip(), currency=currency(entry["currency"], where, "currency"))


def _book(entry: object, index: int) -> BondBook:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"bond book #{index + 1}: must be a mapping with name, base_currency, bonds")
    where = f"bond book {entry.get('name')!r}"
    check_fields(entry, _BOOK_FIELDS, ("name", "base_currency", "bonds"), where)
    book = name(entry["name"], where)
    base = currency(entry["base_currency"], where, "base_currency")
    if not isinstance(entry["bonds"], list) or not entry["bonds"]:
        raise field_error(where, "bonds", "must be a non-empty list of bonds")
    bonds = tuple(_bond(b, where) for b in entry["bonds"])
    unique([b.name for b in bonds], where, "bonds", "bond")
    return BondBook(name=book, base_currency=base, bonds=bonds)


def load_bond_books(path: str | Path) -> tuple[BondBook, ...]:
    """Bond books of ``path`` (top-level ``bond_books:`` list), in file order.

    Raises ConfigError naming the file, the line, the book and the bond / field.
    """
    file = Path(path)
    return tuple(named_entries(file, read_yaml(file, "bond positions"), "bond_books", _book, "bond book"))


@dataclass(frozen=True)
class BondInstrument:
    """A constant-maturity bond rolled at par, priced from ``yield_series``: the symbol ``symbol`` of the
    prices table (``risk.instruments.bonds.rolled_par_bond_returns``)."""

    symbol: str
    yield_series: str
    tenor_years: float
    frequency: int
    currency: str


def _instrument(entry: object, where: str) -> BondInstrument:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: each instrument must be a mapping with {', '.join(_INSTRUMENT_FIELDS)}, got {entry!r}")
    where = f"{where}: instrument {entry.get('symbol')!r}"
    check_fields(entry, _INSTRUMENT_FIELDS, _INSTRUMENT_FIELDS, where)
    tenor, frequency, series = entry["tenor_years"], entry["frequency"], entry["yield_series"]
    if frequency not in FREQUENCIES or isinstance(frequency, bool):
        raise field_error(where, "frequency", f"must be one of {FREQUENCIES} coupons a year, got {frequency!r}")
    if not is_number(tenor) or tenor <= 0 or abs(tenor * frequency - round(tenor * frequency)) > 1e-9:
        raise field_error(where, "tenor_years", f"must be a positive whole number of coupon periods, got {tenor!r}")
    if not isinstance(series, str) or not series.strip():
        raise field_error(where, "yield_series", f"must name a yield series, got {series!r}")
    return BondInstrument(symbol=name(entry["symbol"], where, "symbol"), yield_series=series.strip(),
                          tenor_years=float(tenor), frequency=int(frequency),
                          currency=currency(entry["currency"], where, "currency"))


def bond_instruments(entries: object, where: str) -> tuple[BondInstrument, ...]:
    """The checked ``bonds.instruments`` list (``where`` names the settings file and section);
    ConfigError names the instrument and the field."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise field_error(where, "instruments", "must be a list of {symbol, yield_series, tenor_years, frequency, "
                          "currency} mappings")
    instruments = tuple(_instrument(entry, where) for entry in entries)
    unique([i.symbol for i in instruments], where, "instruments", "instrument")
    return instruments
