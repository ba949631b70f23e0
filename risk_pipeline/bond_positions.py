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

Every problem raises PortfolioError naming the file, the book and the bond / field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from risk_pipeline.portfolios import (
    PortfolioError,
    _check_currency,
    _field_error,
    _is_number,
    named_entry,
)
from risk_pipeline.settings import TextDatesLoader, read_yaml

FREQUENCIES = (1, 2, 4, 12)
_BOOK_FIELDS = {"name", "base_currency", "bonds"}
_BOND_FIELDS = {"name", "face", "coupon", "maturity", "frequency", "yield_series", "currency"}


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


def _maturity(value: object, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _field_error(where, "maturity", f"{value!r} is not a date YYYY-MM-DD") from None


def _bond(entry: object, book: str) -> BondPosition:
    if not isinstance(entry, Mapping):
        raise PortfolioError(f"{book}: each bond must be a mapping with {', '.join(sorted(_BOND_FIELDS))}, got {entry!r}")
    where = f"{book}: bond {entry.get('name')!r}"
    name = named_entry(entry, where, _BOND_FIELDS, tuple(sorted(_BOND_FIELDS)))
    face, coupon, frequency = entry["face"], entry["coupon"], entry["frequency"]
    if not _is_number(face) or face <= 0:
        raise _field_error(where, "face", f"must be a positive number, got {face!r}")
    if not _is_number(coupon) or not 0 <= coupon < 1:
        raise _field_error(where, "coupon", f"must be a decimal rate in [0, 1) (0.0125 = 1.25%), got {coupon!r}")
    if frequency not in FREQUENCIES or isinstance(frequency, bool):
        raise _field_error(where, "frequency", f"must be one of {FREQUENCIES} coupons a year, got {frequency!r}")
    series = entry["yield_series"]
    if not isinstance(series, str) or not series.strip():
        raise _field_error(where, "yield_series", f"must name a yield series, got {series!r}")
    try:
        _check_currency(entry["currency"], "currency")
    except PortfolioError as exc:
        raise PortfolioError(f"{where}: {exc}") from None
    return BondPosition(name=name, face=float(face), coupon=float(coupon), maturity=_maturity(entry["maturity"], where),
                        frequency=int(frequency), yield_series=series.strip(), currency=entry["currency"])


def _book(entry: object, index: int) -> BondBook:
    if not isinstance(entry, Mapping):
        raise PortfolioError(f"bond book #{index + 1}: must be a mapping with name, base_currency, bonds")
    where = f"bond book {entry.get('name')!r}"
    name = named_entry(entry, where, _BOOK_FIELDS, ("name", "base_currency", "bonds"))
    try:
        _check_currency(entry["base_currency"], "base_currency")
    except PortfolioError as exc:
        raise PortfolioError(f"{where}: {exc}") from None
    if not isinstance(entry["bonds"], list) or not entry["bonds"]:
        raise _field_error(where, "bonds", "must be a non-empty list of bonds")
    bonds = tuple(_bond(b, where) for b in entry["bonds"])
    names = [b.name for b in bonds]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise _field_error(where, "bonds", f"duplicate bond name(s) {', '.join(duplicated)}")
    return BondBook(name=name, base_currency=entry["base_currency"], bonds=bonds)


def load_bond_books(path: str | Path) -> tuple[BondBook, ...]:
    """Bond books of ``path`` (top-level ``bond_books:`` list), in file order.

    Raises PortfolioError naming the file, book and bond / field.
    """
    file = Path(path)
    document = read_yaml(file, PortfolioError, "bond positions", TextDatesLoader)
    if not isinstance(document, Mapping) or not isinstance(document.get("bond_books"), list):
        raise PortfolioError(f"{file}: expected a top-level 'bond_books:' list")
    books: list[BondBook] = []
    for index, entry in enumerate(document["bond_books"]):
        try:
            book = _book(entry, index)
        except PortfolioError as exc:
            raise PortfolioError(f"{file}: {exc}") from None
        if any(b.name == book.name for b in books):
            raise PortfolioError(f"{file}: duplicate bond book name {book.name!r}")
        books.append(book)
    return tuple(books)
