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
problem raises PortfolioError naming the file, the portfolio and the field or symbol.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risk_pipeline.settings import read_yaml
from risk_pipeline.sources.bundled import SHIPPED_DATA_DIR
from risk_pipeline.sources.ecb_fx import ecb_currencies

PORTFOLIOS_ENV = "RISK_PIPELINE_PORTFOLIOS"
DEFAULT_PORTFOLIOS_FILE = SHIPPED_DATA_DIR / "portfolios.yaml"
WEIGHT_SUM_TOLERANCE = 1e-6
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_PORTFOLIO_FIELDS = {"name", "base_currency", "notional", "positions"}
_POSITION_FIELDS = {"symbol", "weight", "quantity", "currency"}


class PortfolioError(ValueError):
    """An invalid portfolio or portfolio file; the message names file, portfolio and field/symbol."""


def _check_currency(code: object, field: str) -> None:
    if not isinstance(code, str) or code not in ecb_currencies():
        raise PortfolioError(f"field {field!r}: unknown currency {code!r} (use a 3-letter code: USD, EUR or an ECB currency)")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
            raise PortfolioError(f"field 'symbol': {self.symbol!r} is not a ticker (quote tickers YAML reads "
                                 "as booleans or numbers, e.g. 'ON', 'NO', '1')")
        where = f"position {self.symbol!r}"
        if (self.weight is None) == (self.quantity is None):
            raise PortfolioError(f"{where}: give exactly one of 'weight' or 'quantity'")
        field, value = ("weight", self.weight) if self.weight is not None else ("quantity", self.quantity)
        if not _is_number(value) or value == 0:
            raise PortfolioError(f"{where}: field {field!r} must be a finite non-zero number, got {value!r}")
        object.__setattr__(self, field, float(value))
        if self.currency is not None:
            try:
                _check_currency(self.currency, "currency")
            except PortfolioError as exc:
                raise PortfolioError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Portfolio:
    """A named book of positions valued in ``base_currency``; ``notional`` is the capital of a weight book."""

    name: str
    base_currency: str
    positions: tuple[Position, ...]
    notional: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise PortfolioError(f"field 'name': {self.name!r} must be letters, digits, '_', '-' or '.'")
        where = f"portfolio {self.name!r}"
        try:
            _check_currency(self.base_currency, "base_currency")
        except PortfolioError as exc:
            raise PortfolioError(f"{where}: {exc}") from None
        if not self.positions:
            raise PortfolioError(f"{where}: field 'positions': portfolio is empty")
        seen: set[str] = set()
        for position in self.positions:
            if position.symbol in seen:
                raise PortfolioError(f"{where}: field 'positions': duplicate symbol {position.symbol!r}")
            seen.add(position.symbol)
        by_weight = {p.weight is not None for p in self.positions}
        if len(by_weight) > 1:
            raise PortfolioError(f"{where}: field 'positions': mixes weights and quantities (use one kind)")
        if self.by_weight:
            if not _is_number(self.notional) or self.notional <= 0:
                raise PortfolioError(f"{where}: field 'notional' must be a positive number for a weight "
                                     f"portfolio, got {self.notional!r}")
            object.__setattr__(self, "notional", float(self.notional))
            total = math.fsum(p.weight for p in self.positions)
            if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
                raise PortfolioError(f"{where}: field 'positions': weights sum to {total:.6g}, not 1")
        elif self.notional is not None:
            raise PortfolioError(f"{where}: field 'notional' applies to weight portfolios only; "
                                 "a quantity portfolio's value comes from its prices")

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


def _field_error(where: str, field: str, problem: str) -> PortfolioError:
    return PortfolioError(f"{where}: field {field!r}: {problem}")


def _check_keys(entry: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(map(str, entry)) - allowed
    if unknown:
        raise _field_error(where, sorted(unknown)[0], f"unknown field (allowed: {', '.join(sorted(allowed))})")


def named_entry(entry: Mapping[str, Any], where: str, allowed: set[str], required: tuple[str, ...]) -> str:
    """Check a YAML mapping that carries a ``name`` (a portfolio, bond book or bond): only
    ``allowed`` fields, every ``required`` one present, a name of letters, digits, '_', '-', '.'.
    Returns the name; errors name ``where`` and the field."""
    _check_keys(entry, allowed, where)
    for field in required:
        if field not in entry:
            raise _field_error(where, field, "missing")
    name = entry["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _field_error(where, "name", f"{name!r} must be letters, digits, '_', '-' or '.'")
    return name


def _position(entry: object, where: str) -> Position:
    if not isinstance(entry, Mapping):
        raise PortfolioError(f"{where}: each position must be a mapping like {{symbol: AAPL, weight: 0.5}}, got {entry!r}")
    _check_keys(entry, _POSITION_FIELDS, f"{where}: position {entry.get('symbol')!r}")
    try:
        return Position(symbol=entry.get("symbol"), weight=entry.get("weight"),
                        quantity=entry.get("quantity"), currency=entry.get("currency"))
    except PortfolioError as exc:
        raise PortfolioError(f"{where}: {exc}") from None


def _portfolio(entry: object, index: int) -> Portfolio:
    if not isinstance(entry, Mapping):
        raise PortfolioError(f"portfolio #{index + 1}: must be a mapping with name, base_currency, positions")
    where = f"portfolio {entry.get('name')!r}"
    name = named_entry(entry, where, _PORTFOLIO_FIELDS, ("name", "base_currency", "positions"))
    positions = entry["positions"]
    if not isinstance(positions, list):
        raise _field_error(where, "positions", "must be a list of {symbol, weight|quantity} mappings")
    built = tuple(_position(p, where) for p in positions)
    return Portfolio(name=name, base_currency=entry["base_currency"], notional=entry.get("notional"), positions=built)


def load_portfolios(path: str | Path | None = None, known_symbols: Collection[str] | None = None) -> tuple[Portfolio, ...]:
    """Portfolios defined in ``path`` (default ``portfolios_path()``), in file order.

    ``known_symbols`` (e.g. ``BundledSource().symbols``), when given, is the set every position
    symbol must belong to. Raises PortfolioError naming the file, portfolio and field/symbol.
    """
    file = Path(path) if path is not None else portfolios_path()
    document = read_yaml(file, PortfolioError, "portfolio")
    if not isinstance(document, Mapping) or not isinstance(document.get("portfolios"), list):
        raise PortfolioError(f"{file}: expected a top-level 'portfolios:' list")
    if not document["portfolios"]:
        raise PortfolioError(f"{file}: the 'portfolios' list is empty")

    portfolios: list[Portfolio] = []
    known = None if known_symbols is None else set(known_symbols)
    for index, entry in enumerate(document["portfolios"]):
        try:
            portfolio = _portfolio(entry, index)
        except PortfolioError as exc:
            raise PortfolioError(f"{file}: {exc}") from None
        if any(p.name == portfolio.name for p in portfolios):
            raise PortfolioError(f"{file}: duplicate portfolio name {portfolio.name!r}")
        if known is not None:
            unknown = [s for s in portfolio.symbols if s not in known]
            if unknown:
                raise PortfolioError(f"{file}: portfolio {portfolio.name!r}: unknown symbol(s) {', '.join(unknown)} "
                                     "(not in the price source)")
        portfolios.append(portfolio)
    return tuple(portfolios)
