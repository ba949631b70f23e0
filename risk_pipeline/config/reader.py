"""The one YAML reader of the configuration files, their one error, and the field checks they share.

Every mapping of a document read by :func:`read_yaml` is a :class:`LocatedMapping` that knows
its line, so an error names the file, the line of the entry, the entry and the field:

    portfolios.yaml, line 12: portfolio 'desk_a': field 'base_currency': unknown currency 'XYZ' ...

Dates stay text (PyYAML's own date parsing raises without a location), so a bad date
(2020-02-31) is reported by :func:`date` with its entry and field.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from risk_pipeline.sources.ecb_fx import fx_currencies

NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
"""Names of portfolios, books, bonds and scenarios: letters, digits, '_', '-', '.' (used in keys and paths)."""


class ConfigError(ValueError):
    """A configuration or input file is missing, malformed or invalid; the message names the file,
    the line, the entry and the field. Every command prints it as one line and exits with status 2."""


class LocatedMapping(dict):
    """A YAML mapping that remembers the (1-based) line it starts on."""

    line: int | None = None


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe YAML, parsed by libyaml where PyYAML was built with it (its wheels are: 7 times faster
    than its Python parser): mappings located, timestamps kept as text."""


def _located_mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedMapping:
    mapping = LocatedMapping(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _located_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def read_yaml(path: str | Path, what: str) -> Any:
    """The parsed document of ``path`` (``what``: "portfolio", "limits"... for the not-found message);
    raises ConfigError naming the file, and the line and column of a syntax error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: malformed YAML: {getattr(exc, 'problem', None) or exc}") from None


def plain(value: Any) -> Any:
    """The document with every :class:`LocatedMapping` as a plain dict (for consumers such as Dagster config)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


Named = TypeVar("Named")


def named_entries(file: Path, document: Any, key: str, build: Callable[[Any, int], Named], kind: str,
                  allow_empty: bool = True) -> list[Named]:
    """The items of the document's top-level ``key:`` list, each built by ``build(entry, index)`` (an
    object with a ``name``): an error names the file and the entry's line; names are unique."""
    if not isinstance(document, Mapping) or not isinstance(document.get(key), list):
        raise ConfigError(f"{file}: expected a top-level '{key}:' list")
    if not document[key] and not allow_empty:
        raise ConfigError(f"{file}: the '{key}' list is empty")
    items: list[Named] = []
    for index, entry in enumerate(document[key]):
        try:
            item = build(entry, index)
        except ConfigError as exc:
            raise ConfigError(f"{located(file, entry)}: {exc}") from None
        if any(other.name == item.name for other in items):
            raise ConfigError(f"{located(file, entry)}: duplicate {kind} name {item.name!r}")
        items.append(item)
    return items


def located(file: Path | str, entry: object, label: str = "") -> str:
    """``file, line N: label`` for an entry read by :func:`read_yaml` (no line for other values)."""
    line = getattr(entry, "line", None)
    head = f"{file}, line {line}" if line is not None else f"{file}"
    return f"{head}: {label}" if label else head


def field_error(where: str, field: str, problem: str) -> ConfigError:
    return ConfigError(f"{where}: field {field!r}: {problem}")


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def check_fields(entry: Mapping[str, Any], allowed: Collection[str], required: Collection[str], where: str) -> None:
    """Only ``allowed`` fields and every ``required`` one."""
    unknown = sorted(set(map(str, entry)) - set(allowed))
    if unknown:
        raise field_error(where, unknown[0], f"unknown field (allowed: {', '.join(sorted(allowed))})")
    missing = [f for f in required if f not in entry]
    if missing:
        raise field_error(where, missing[0], "missing")


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(value: Any, where: str, field: str) -> float:
    if not is_number(value):
        raise field_error(where, field, f"must be a finite number, got {value!r}")
    return float(value)


def integer(value: Any, where: str, field: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise field_error(where, field, f"must be an integer >= {minimum}, got {value!r}")
    return value


def date(value: Any, where: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise field_error(where, field, f"{value!r} is not a date YYYY-MM-DD") from None


def text(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise field_error(where, field, f"must be text, got {value!r}")
    return value


def name(value: Any, where: str, field: str = "name") -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise field_error(where, field, f"{value!r} must be letters, digits, '_', '-' or '.'")
    return value


def currency(code: Any, where: str, field: str, known: frozenset[str] | None = None) -> str:
    """``code`` if it is a currency with a rate (``known``: those currencies, when the caller has them already;
    default :func:`fx_currencies`), else the error naming ``where`` and ``field``."""
    if not isinstance(code, str) or code not in (fx_currencies() if known is None else known):
        raise field_error(where, field, f"unknown currency {code!r} (use a 3-letter code: USD, EUR, an ECB currency or one of the second FX source)")
    return code


def unique(names: list[str], where: str, field: str, kind: str) -> None:
    """Each of ``names`` once (``kind``: what they name, e.g. "bond")."""
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise field_error(where, field, f"duplicate {kind} name(s) {', '.join(duplicated)}")
