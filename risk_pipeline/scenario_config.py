"""Load and validate the stress-scenario and risk-limit YAML files.

Defaults ship with the package: ``risk_pipeline/config/scenarios.yaml`` and
``risk_pipeline/config/limits.yaml`` (their comments document the formats). The loaders return
the frozen dataclasses of the numerical core (:mod:`risk_pipeline.risk.stress.scenarios`,
:mod:`risk_pipeline.risk.limits`); every problem raises :class:`ConfigError` naming the file,
the scenario or portfolio, and the field.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from risk_pipeline.risk.limits import (
    DEFAULT_WARNING_FRACTION,
    MEASURES,
    Limit,
    LimitsConfig,
)
from risk_pipeline.risk.stress.scenarios import (
    FxScenario,
    HistoricalScenario,
    Scenario,
    SectorScenario,
    UniformEquityScenario,
)
from risk_pipeline.settings import TextDatesLoader

CONFIG_DIR = Path(__file__).resolve().parent / "config"
DEFAULT_SCENARIOS_FILE = CONFIG_DIR / "scenarios.yaml"
DEFAULT_LIMITS_FILE = CONFIG_DIR / "limits.yaml"

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_COMMON_FIELDS = {"name", "type", "description"}
SCENARIO_FIELDS: dict[str, set[str]] = {
    "historical": _COMMON_FIELDS | {"start", "end"},
    "uniform_equity": _COMMON_FIELDS | {"equity_shock"},
    "sector": _COMMON_FIELDS | {"shocks", "default_shock"},
    "fx": _COMMON_FIELDS | {"base_currency_change"},
}
"""Fields of each scenario type (all required)."""
_LIMIT_FIELDS = {"measure", "horizon_days", "confidence", "amount"}


class ConfigError(ValueError):
    """A malformed scenarios or limits file; the message names file, entry and field."""


def _read_yaml(path: str | Path) -> tuple[Path, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    try:
        return path, yaml.load(text, Loader=TextDatesLoader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _check_fields(entry: Mapping[str, Any], allowed: set[str], required: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown} (allowed: {sorted(allowed)})")
    missing = sorted(required - set(entry))
    if missing:
        raise ConfigError(f"{where}: missing field(s) {missing}")


def _number(value: Any, where: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: field {field!r} must be a finite number, got {value!r}")
    return float(value)


def _shock(value: Any, where: str, field: str) -> float:
    x = _number(value, where, field)
    if x <= -1.0:
        raise ConfigError(f"{where}: field {field!r} must be > -1 (a fraction; -1 is a total loss), got {x!r}")
    return x


def _date(value: Any, where: str, field: str) -> dt.date:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: field {field!r} must be a date YYYY-MM-DD, got {value!r}")


def _text(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: field {field!r} must be text, got {value!r}")
    return value


def _sectors(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    sectors = _mapping(raw, f"{where}: field 'sectors'")
    out = {}
    for symbol, sector in sectors.items():
        if not isinstance(sector, str) or not sector:
            raise ConfigError(f"{where}: field 'sectors': symbol {symbol!r} needs a sector name, got {sector!r}")
        out[str(symbol)] = sector
    return out


def _scenario(entry: Any, index: int, sectors: Mapping[str, str], file: Path) -> Scenario:
    where = f"{file}: scenario #{index + 1}"
    entry = _mapping(entry, where)
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: field 'name' must be letters, digits, '_', '-' or '.', got {name!r}")
    where = f"{file}: scenario {name!r}"
    kind = entry.get("type")
    if kind not in SCENARIO_FIELDS:
        raise ConfigError(f"{where}: field 'type': unknown scenario type {kind!r} (known: {sorted(SCENARIO_FIELDS)})")
    fields = SCENARIO_FIELDS[kind]
    _check_fields(entry, fields, fields, where)
    description = _text(entry["description"], where, "description")
    if kind == "historical":
        start, end = _date(entry["start"], where, "start"), _date(entry["end"], where, "end")
        if end < start:
            raise ConfigError(f"{where}: field 'end' ({end}) is before 'start' ({start})")
        return HistoricalScenario(name, description, start, end)
    if kind == "uniform_equity":
        return UniformEquityScenario(name, description, _shock(entry["equity_shock"], where, "equity_shock"))
    if kind == "sector":
        raw = _mapping(entry["shocks"], f"{where}: field 'shocks'")
        if not raw:
            raise ConfigError(f"{where}: field 'shocks' is empty")
        known = set(sectors.values())
        shocks = {}
        for sector, value in raw.items():
            if sector not in known:
                raise ConfigError(f"{where}: field 'shocks': sector {sector!r} is not in the sectors map "
                                  f"(known: {sorted(known)})")
            shocks[sector] = _shock(value, where, f"shocks.{sector}")
        return SectorScenario(name, description, shocks, _shock(entry["default_shock"], where, "default_shock"),
                              dict(sectors))
    return FxScenario(name, description, _shock(entry["base_currency_change"], where, "base_currency_change"))


def load_scenarios(path: str | Path = DEFAULT_SCENARIOS_FILE) -> tuple[Scenario, ...]:
    """Scenarios of a YAML file (format in ``risk_pipeline/config/scenarios.yaml``), in file order."""
    file, doc = _read_yaml(path)
    doc = _mapping(doc, f"{file}: top level")
    _check_fields(doc, {"sectors", "scenarios"}, {"scenarios"}, f"{file}: top level")
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


def _limit(entry: Any, index: int, where: str) -> Limit:
    where = f"{where}, limit #{index + 1}"
    entry = _mapping(entry, where)
    _check_fields(entry, _LIMIT_FIELDS, {"measure", "amount"}, where)
    measure = entry["measure"]
    if measure not in MEASURES:
        raise ConfigError(f"{where}: field 'measure' must be one of {list(MEASURES)}, got {measure!r}")
    horizon = entry.get("horizon_days", 1)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ConfigError(f"{where}: field 'horizon_days' must be an integer >= 1, got {horizon!r}")
    confidence = _number(entry.get("confidence", 0.99), where, "confidence")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"{where}: field 'confidence' must be in (0, 1), got {confidence!r}")
    amount = _number(entry["amount"], where, "amount")
    if amount <= 0:
        raise ConfigError(f"{where}: field 'amount' must be a positive amount, got {amount!r}")
    return Limit(measure, horizon, confidence, amount)


def load_limits(path: str | Path = DEFAULT_LIMITS_FILE) -> LimitsConfig:
    """Limits of a YAML file (format in ``risk_pipeline/config/limits.yaml``).

    ``horizon_days`` defaults to 1 and ``confidence`` to 0.99; ``warning_fraction`` to 0.8.
    """
    file, doc = _read_yaml(path)
    doc = _mapping(doc, f"{file}: top level")
    _check_fields(doc, {"warning_fraction", "portfolios"}, {"portfolios"}, f"{file}: top level")
    frac = _number(doc.get("warning_fraction", DEFAULT_WARNING_FRACTION), f"{file}", "warning_fraction")
    if not 0.0 < frac <= 1.0:
        raise ConfigError(f"{file}: field 'warning_fraction' must be in (0, 1], got {frac!r}")
    raw = _mapping(doc["portfolios"], f"{file}: field 'portfolios'")
    portfolios: dict[str, tuple[Limit, ...]] = {}
    for name, entries in raw.items():
        where = f"{file}: portfolio {name!r}"
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{where}: expected a non-empty list of limits")
        limits = tuple(_limit(e, i, where) for i, e in enumerate(entries))
        keys = [(lim.measure, lim.horizon_days, lim.confidence) for lim in limits]
        dups = sorted({k for k in keys if keys.count(k) > 1})
        if dups:
            raise ConfigError(f"{where}: duplicate limit for (measure, horizon_days, confidence) {dups}")
        portfolios[str(name)] = limits
    return LimitsConfig(warning_fraction=frac, portfolios=portfolios)
