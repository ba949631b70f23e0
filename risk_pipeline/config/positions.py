"""Books of record: the books whose positions (and trades) a booking system keeps, read every day
from a drop folder, a file or a SQL query instead of being written in ``portfolios.yaml``.

They are declared in the portfolios file, beside ``portfolios:`` (docs/positions.md)::

    books_of_record:
      books:                                   # name and base currency of each such book
        - {name: momentum_12_1, base_currency: USD}
      positions:                               # where the positions held at each close come from
        source: folder                         # folder | file | duckdb | postgres
        path: positions/                       # folder: positions_YYYY-MM-DD.csv|.parquet, one per business day
      trades:                                  # optional: the day's trades, same kinds of source
        source: file
        path: positions/trades.parquet         # file: CSV or Parquet with a date column
      carry_forward: false                     # a book without positions on a day: fail (default) or carry

``path`` is relative to the portfolios file's folder (or absolute); ``duckdb`` takes ``path`` (the
database file) and ``query``; ``postgres`` takes ``dsn`` (a libpq connection string or URL) and
``query``. Every problem is a ConfigError naming the file, the line and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from risk_pipeline.file_version import file_version
from risk_pipeline.config.portfolios import load_portfolios, portfolios_path
from risk_pipeline.config.reader import (
    ConfigError,
    check_fields,
    currency,
    field_error,
    located,
    name,
    read_yaml,
    text,
)
from risk_pipeline.sources.ecb_fx import fx_currencies

SOURCE_KINDS = ("folder", "file", "duckdb", "postgres")
_SECTION_FIELDS = {"books", "positions", "trades", "carry_forward"}
_SOURCE_FIELDS = {"source", "path", "query", "dsn"}
_NEEDS = {"folder": ("path",), "file": ("path",), "duckdb": ("path", "query"), "postgres": ("dsn", "query")}


@dataclass(frozen=True)
class RecordSource:
    """Where one kind of record (positions or trades) is read from."""

    kind: str
    path: Path | None = None
    query: str | None = None
    dsn: str | None = None

    @property
    def origin(self) -> str:
        """How an error names the source: the file or folder, or the database and query."""
        if self.kind in ("folder", "file"):
            return str(self.path)
        return f"{self.path or 'postgres'} query"


@dataclass(frozen=True)
class BooksOfRecord:
    """The books of record (name -> base currency), their positions source, optional trades source,
    and whether a book missing on a day is carried forward (with a warning) instead of failing."""

    books: dict[str, str]
    positions: RecordSource | None
    trades: RecordSource | None = None
    carry_forward: bool = False


NO_BOOKS = BooksOfRecord(books={}, positions=None)


def _source(entry: Any, where: str, folder: Path) -> RecordSource:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: must be a mapping with source and path (or query)")
    check_fields(entry, _SOURCE_FIELDS, ("source",), where)
    kind = entry["source"]
    if kind not in SOURCE_KINDS:
        raise field_error(where, "source", f"{kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    for needed in _NEEDS[kind]:
        if not entry.get(needed):
            raise field_error(where, needed, f"required for source {kind}")
    path = entry.get("path")
    if path is not None:
        path = Path(text(path, where, "path")).expanduser()
        path = path if path.is_absolute() else (folder / path).resolve()
    query = entry.get("query")
    dsn = entry.get("dsn")
    return RecordSource(kind=kind, path=path, query=None if query is None else text(query, where, "query"),
                        dsn=None if dsn is None else text(dsn, where, "dsn"))


def load_books_of_record(path: str | Path | None = None) -> BooksOfRecord:
    """The ``books_of_record`` section of the portfolios file (default ``portfolios_path()``);
    ``NO_BOOKS`` when it has none. Read once per version of the file (its inode, size and
    modification time) and set of known currencies: about 19 reads in a day's run."""
    file = Path(path) if path is not None else portfolios_path()
    try:
        version = file_version(file)
    except OSError:
        read_yaml(file, "portfolio")  # names the file that cannot be read
        raise
    return _read_books_of_record(file, file.resolve(), version, fx_currencies())


@lru_cache(maxsize=4)
def _read_books_of_record(file: Path, resolved: Path, version: tuple[int, int, int],
                          currencies: frozenset[str]) -> BooksOfRecord:
    """The books of record of ``file`` (``resolved``: its absolute path, which relative source paths
    start from) as it is at ``version`` with ``currencies`` known."""
    document = read_yaml(file, "portfolio")
    section = document.get("books_of_record") if isinstance(document, Mapping) else None
    if section is None:
        return NO_BOOKS
    where = located(file, section, "books_of_record")
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: must be a mapping with books and positions")
    check_fields(section, _SECTION_FIELDS, ("books", "positions"), where)
    entries = section["books"]
    if not isinstance(entries, list) or not entries:
        raise field_error(where, "books", "must be a non-empty list of {name, base_currency}")
    yaml_books = {p.name for p in load_portfolios(file)}
    books: dict[str, str] = {}
    for entry in entries:
        at = located(file, entry, "books_of_record book")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{at}: must be a mapping {{name, base_currency}}, got {entry!r}")
        check_fields(entry, {"name", "base_currency"}, ("name", "base_currency"), at)
        book = name(entry["name"], at)
        if book in books or book in yaml_books:
            raise field_error(at, "name", f"duplicate portfolio name {book!r}")
        books[book] = currency(entry["base_currency"], at, "base_currency")
    carry = section.get("carry_forward", False)
    if not isinstance(carry, bool):
        raise field_error(where, "carry_forward", f"must be true or false, got {carry!r}")
    folder = resolved.parent
    trades = section.get("trades")
    return BooksOfRecord(
        books=books,
        positions=_source(section["positions"], f"{where}: positions", folder),
        trades=None if trades is None else _source(trades, f"{where}: trades", folder),
        carry_forward=carry,
    )


def book_currencies() -> dict[str, str]:
    """Every book the pipeline values, name -> base currency: the portfolios of ``portfolios.yaml``
    (in file order), then the books of record."""
    books = {p.name: p.base_currency for p in load_portfolios()}
    books.update(load_books_of_record().books)
    return books
