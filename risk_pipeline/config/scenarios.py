"""Load and validate the stress-scenario YAML file.

The default ships with the package: ``risk_pipeline/config/scenarios.yaml`` (its comments document
the format). The loader returns the frozen dataclasses of the numerical core
(:mod:`risk_pipeline.risk.stress.scenarios`); every problem raises :class:`ConfigError` naming the
file, the line, the scenario and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from risk_pipeline.config.reader import (
    ConfigError,
    check_fields,
    date,
    field_error,
    located,
    mapping,
    name,
    number,
    read_yaml,
    text,
)
from risk_pipeline.risk.stress.scenarios import (
    FxScenario,
    HistoricalScenario,
    Scenario,
    ScenarioType,
    SectorScenario,
    UniformEquityScenario,
)

DEFAULT_SCENARIOS_FILE = Path(__file__).resolve().parent / "scenarios.yaml"
NOT_EQUITY_SECTORS = frozenset({"government_bond", "cash"})
"""Sectors of the ``sectors`` map that are not equities: a ``uniform_equity`` scenario leaves them unmoved."""
_COMMON_FIELDS = {"name", "type", "description"}
SCENARIO_FIELDS: dict[ScenarioType, set[str]] = {
    ScenarioType.HISTORICAL: _COMMON_FIELDS | {"start", "end"},
    ScenarioType.UNIFORM_EQUITY: _COMMON_FIELDS | {"equity_shock"},
    ScenarioType.SECTOR: _COMMON_FIELDS | {"shocks", "default_shock"},
    ScenarioType.FX: _COMMON_FIELDS | {"base_currency_change"},
}
"""Fields of each scenario type (all required)."""
VOLATILITY = "volatility"
"""The optional field of the hypothetical types: the change of every option's implied volatility (0.10 = +10 volatility
points; historical scenarios measure it over their window instead)."""


def _shock(value: Any, where: str, field: str) -> float:
    x = number(value, where, field)
    if x <= -1.0:
        raise field_error(where, field, f"must be > -1 (a fraction; -1 is a total loss), got {x!r}")
    return x


def _sectors(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    sectors = mapping(raw, f"{where}: field 'sectors'")
    out = {}
    for symbol, sector in sectors.items():
        if not isinstance(sector, str) or not sector:
            raise ConfigError(f"{where}: field 'sectors': symbol {symbol!r} needs a sector name, got {sector!r}")
        out[str(symbol)] = sector
    return out


def _scenario(entry: Any, index: int, sectors: Mapping[str, str], file: Path) -> Scenario:
    where = located(file, entry, f"scenario #{index + 1}")
    entry = mapping(entry, where)
    label = name(entry.get("name"), where)
    where = located(file, entry, f"scenario {label!r}")
    kind = entry.get("type")
    if not isinstance(kind, str) or kind not in SCENARIO_FIELDS:
        raise ConfigError(f"{where}: field 'type': unknown scenario type {kind!r} (known: {[t.value for t in ScenarioType]})")
    fields = SCENARIO_FIELDS[kind]
    check_fields(entry, fields | ({VOLATILITY} if kind != ScenarioType.HISTORICAL else set()), fields, where)
    description = text(entry["description"], where, "description")
    volatility = number(entry.get(VOLATILITY, 0.0), where, VOLATILITY)
    if volatility <= -1.0:
        raise field_error(where, VOLATILITY, f"must be > -1 (a change of implied volatility, 0.10 = +10 points), "
                                             f"got {volatility!r}")
    if kind == ScenarioType.HISTORICAL:
        start, end = date(entry["start"], where, "start"), date(entry["end"], where, "end")
        if end < start:
            raise ConfigError(f"{where}: field 'end' ({end}) is before 'start' ({start})")
        return HistoricalScenario(label, description, start, end)
    if kind == ScenarioType.UNIFORM_EQUITY:
        return UniformEquityScenario(label, description, _shock(entry["equity_shock"], where, "equity_shock"),
                                     volatility,
                                     frozenset(s for s, sector in sectors.items() if sector in NOT_EQUITY_SECTORS))
    if kind == ScenarioType.SECTOR:
        raw = mapping(entry["shocks"], f"{where}: field 'shocks'")
        if not raw:
            raise ConfigError(f"{where}: field 'shocks' is empty")
        known = set(sectors.values())
        shocks = {}
        for sector, value in raw.items():
            if sector not in known:
                raise ConfigError(f"{where}: field 'shocks': sector {sector!r} is not in the sectors map "
                                  f"(known: {sorted(known)})")
            shocks[sector] = _shock(value, where, f"shocks.{sector}")
        return SectorScenario(label, description, shocks, _shock(entry["default_shock"], where, "default_shock"),
                              dict(sectors), volatility)
    return FxScenario(label, description, _shock(entry["base_currency_change"], where, "base_currency_change"),
                      volatility)


def load_scenarios(path: str | Path = DEFAULT_SCENARIOS_FILE) -> tuple[Scenario, ...]:
    """Scenarios of a YAML file (format in ``risk_pipeline/config/scenarios.yaml``), in file order."""
    file = Path(path)
    doc = read_yaml(file, "scenarios")
    doc = mapping(doc, f"{file}: top level")
    check_fields(doc, {"sectors", "scenarios"}, {"scenarios"}, f"{file}: top level")
    sectors = _sectors(doc.get("sectors"), f"{file}")
    entries = doc["scenarios"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{file}: field 'scenarios' must be a non-empty list")
    scenarios = tuple(_scenario(e, i, sectors, file) for i, e in enumerate(entries))
    seen: set[str] = set()
    for s in scenarios:
        if s.name in seen:
            raise ConfigError(f"{file}: scenario {s.name!r}: field 'name' is duplicated")
        seen.add(s.name)
    return scenarios
