"""Portfolio definitions: frozen dataclasses and the YAML file they are loaded from.

File format (default ``data/portfolios.yaml``; ``$RISK_PIPELINE_PORTFOLIOS`` names another)::

    portfolios:
      - name: concentrated          # letters, digits, "_", "-", "." (used in partition keys and paths)
        base_currency: USD          # currency P&L is reported in (USD, EUR or any ECB currency)
        notional: 1000000           # capital in base currency; required when positions have weights
        positions:
          - {symbol: AAPL, weight: 0.4}
          - {symbol: MSFT, weight: 0.6, currency: USD}   # currency: optional, default = price series'

Rules: a portfolio holds either only weights (fractions of ``notional``, summing to 1; negative
weights are shorts) or only quantities (units held; negative = short; no ``notional``). Every
problem raises ConfigError naming the file, the line, the portfolio and the field or symbol.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from risk_pipeline.file_version import file_version
from risk_pipeline.config.reader import (
    NAME_PATTERN,
    ConfigError,
    check_fields,
    currency,
    field_error,
    is_number,
    located,
    name,
    named_entries,
    read_yaml,
)
from risk_pipeline.sources.bundled import SHIPPED_DATA_DIR
from risk_pipeline.sources.ecb_fx import fx_currencies

PORTFOLIOS_ENV = "RISK_PIPELINE_PORTFOLIOS"
DEFAULT_PORTFOLIOS_FILE = SHIPPED_DATA_DIR / "portfolios.yaml"
WEIGHT_SUM_TOLERANCE = 1e-6
_PORTFOLIO_FIELDS = {"name", "base_currency", "notional", "positions"}
_POSITION_FIELDS = {"symbol", "weight", "quantity", "currency"}


@dataclass(frozen=True)
class Position:
    """One holding: either ``weight`` (fraction of the portfolio's notional) or ``quantity`` (units).

    ``currency`` None means the currency of the symbol's price series.
    """

    symbol: str
    weight: float | None = None
    quantity: float | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, str) or not self.symbol.strip():
            raise ConfigError(f"field 'symbol': {self.symbol!r} is not a ticker (quote tickers YAML reads "
                              "as booleans or numbers, e.g. 'ON', 'NO', '1')")
        where = f"position {self.symbol!r}"
        if (self.weight is None) == (self.quantity is None):
            raise ConfigError(f"{where}: give exactly one of 'weight' or 'quantity'")
        field, value = ("weight", self.weight) if self.weight is not None else ("quantity", self.quantity)
        if not is_number(value) or value == 0:
            raise field_error(where, field, f"must be a finite non-zero number, got {value!r}")
        object.__setattr__(self, field, float(value))
        if self.currency is not None:
            currency(self.currency, where, "currency")


@dataclass(frozen=True)
class Portfolio:
    """A named book of positions valued in ``base_currency``; ``notional`` is the capital of a weight book."""

    name: str
    base_currency: str
    positions: tuple[Position, ...]
    notional: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            raise field_error("portfolio", "name", f"{self.name!r} must be letters, digits, '_', '-' or '.'")
        where = f"portfolio {self.name!r}"
        currency(self.base_currency, where, "base_currency")
        if not self.positions:
            raise field_error(where, "positions", "portfolio is empty")
        seen: set[str] = set()
        for position in self.positions:
            if position.symbol in seen:
                raise field_error(where, "positions", f"duplicate symbol {position.symbol!r}")
            seen.add(position.symbol)
        by_weight = {p.weight is not None for p in self.positions}
        if len(by_weight) > 1:
            raise field_error(where, "positions", "mixes weights and quantities (use one kind)")
        if self.by_weight:
            if not is_number(self.notional) or self.notional <= 0:
                raise field_error(where, "notional", f"must be a positive number for a weight portfolio, "
                                  f"got {self.notional!r}")
            object.__setattr__(self, "notional", float(self.notional))
            total = math.fsum(p.weight for p in self.positions)
            if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
                raise field_error(where, "positions", f"weights sum to {total:.6g}, not 1")
        elif self.notional is not None:
            raise field_error(where, "notional", "applies to weight portfolios only; a quantity portfolio's "
                              "value comes from its prices")

    @property
    def by_weight(self) -> bool:
        """True when positions are weights of ``notional``; False when they are quantities."""
        return self.positions[0].weight is not None

    @property
    def symbols(self) -> tuple[str, ...]:
        """The position symbols in file order."""
        return tuple(p.symbol for p in self.positions)


def portfolios_path() -> Path:
    """``$RISK_PIPELINE_PORTFOLIOS`` if set, else the shipped ``data/portfolios.yaml``."""
    override = os.environ.get(PORTFOLIOS_ENV)
    return Path(override) if override else DEFAULT_PORTFOLIOS_FILE


def _position(entry: object, where: str) -> Position:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: each position must be a mapping like {{symbol: AAPL, weight: 0.5}}, got {entry!r}")
    check_fields(entry, _POSITION_FIELDS, (), f"{where}: position {entry.get('symbol')!r}")
    try:
        return Position(symbol=entry.get("symbol"), weight=entry.get("weight"), quantity=entry.get("quantity"),
                        currency=entry.get("currency"))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _portfolio(entry: Any, index: int) -> Portfolio:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"portfolio #{index + 1}: must be a mapping with name, base_currency, positions")
    where = f"portfolio {entry.get('name')!r}"
    check_fields(entry, _PORTFOLIO_FIELDS, ("name", "base_currency", "positions"), where)
    name(entry["name"], where)
    positions = entry["positions"]
    if not isinstance(positions, list):
        raise field_error(where, "positions", "must be a list of {symbol, weight|quantity} mappings")
    built = tuple(_position(p, where) for p in positions)
    return Portfolio(name=entry["name"], base_currency=entry["base_currency"], notional=entry.get("notional"),
                     positions=built)


@lru_cache(maxsize=4)
def _read_portfolios(file: Path, version: tuple[int, int, int], currencies: frozenset[str]
                     ) -> tuple[Any, tuple[Portfolio, ...]]:
    """The document of ``file`` as it is at ``version`` (inode, size, modification time) and its
    portfolios with ``currencies`` known: read once per version (ten steps of a day's run read it)."""
    document = read_yaml(file, "portfolio")
    return document, tuple(named_entries(file, document, "portfolios", _portfolio, "portfolio", allow_empty=False))


def load_portfolios(path: str | Path | None = None, known_symbols: Collection[str] | None = None) -> tuple[Portfolio, ...]:
    """Portfolios defined in ``path`` (default ``portfolios_path()``), in file order.

    ``known_symbols`` (e.g. ``BundledSource().symbols``), when given, is the set every position
    symbol must belong to. Raises ConfigError naming the file, the line, the portfolio and the field or symbol.
    """
    file = Path(path) if path is not None else portfolios_path()
    try:
        version = file_version(file)
    except OSError:
        read_yaml(file, "portfolio")  # names the file that cannot be read
        raise
    document, portfolios = _read_portfolios(file, version, fx_currencies())
    if known_symbols is not None:
        known = set(known_symbols)
        for entry, portfolio in zip(document["portfolios"], portfolios):
            unknown = [s for s in portfolio.symbols if s not in known]
            if unknown:
                raise ConfigError(f"{located(file, entry)}: portfolio {portfolio.name!r}: unknown symbol(s) "
                                  f"{', '.join(unknown)} (not in the price source)")
    return tuple(portfolios)
