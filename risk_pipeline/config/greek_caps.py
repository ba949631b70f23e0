"""The Greek caps of option books: the ``option_books:`` section of the limits YAML file.

    option_books:
      warning_fraction: 0.8          # as the VaR limits' (0, 1]
      event_calendar: data/events.csv  # CSV date, underlying (a symbol or all), event; null = none (relative: repository)
      event_window_days: 2           # business days before an event when its caps are tightened
      event_factor: 0.5              # caps x this in those days (0 < factor <= 1); no new entry on the event's day
      books:
        spx_short_strangles:
          caps: {delta: 250000, gamma: 400000, vega: 5000, theta: 2000}   # |net amount| of the book, base currency
          underlyings: {SP500: {delta: 250000, gamma: 400000, vega: 5000, theta: 2000}}
          limits:                    # VaR/ES of the book by full revaluation (var_estimates), as portfolios' limits
            - {measure: var, horizon_days: 1, confidence: 0.99, amount: 60000}

Greeks: delta, gamma, vega, theta (the ``*_amount`` columns of option_greeks). Every problem
raises ConfigError naming the file, the line, the book and the field.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risk_pipeline.config.limits import limit_entry
from risk_pipeline.config.reader import (ConfigError, check_fields, date, field_error, integer, located, mapping, number,
                                         read_yaml)
from risk_pipeline.risk.limits import DEFAULT_WARNING_FRACTION, Limit
from risk_pipeline.risk.options.caps import GREEKS, Event, GreekCaps
from risk_pipeline.storage.paths import REPO_ROOT

_SECTION_FIELDS = {"warning_fraction", "event_calendar", "event_window_days", "event_factor", "books"}
_BOOK_FIELDS = {"caps", "underlyings", "limits"}


@dataclass(frozen=True)
class OptionLimits:
    """Caps and VaR/ES limits per option book, the events and how they tighten the caps."""

    warning_fraction: float
    books: Mapping[str, GreekCaps]
    var_limits: Mapping[str, tuple[Limit, ...]]
    events: tuple[Event, ...]
    event_window_days: int
    event_factor: float


def _caps(value: Any, where: str) -> dict[str, float]:
    value = mapping(value, where)
    check_fields(value, GREEKS, (), where)
    caps = {greek: number(cap, where, greek) for greek, cap in value.items()}
    bad = [g for g, c in caps.items() if c <= 0]
    if bad:
        raise field_error(where, bad[0], f"must be a positive amount, got {caps[bad[0]]!r}")
    return caps


def load_events(path: str | Path) -> tuple[Event, ...]:
    """The event calendar CSV (date, underlying, event); ConfigError names the file, row and field."""
    file = Path(path) if Path(path).is_absolute() else REPO_ROOT / path
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ("date", "underlying", "event") if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"{file}, row 1: missing column {missing[0]!r} (columns: date, underlying, event)")
            events = []
            for line, row in enumerate(reader, start=2):
                where = f"{file}, row {line}"
                for field in ("underlying", "event"):
                    if not (row[field] or "").strip():
                        raise field_error(where, field, "missing")
                events.append(Event(date(row["date"].strip(), where, "date"), row["underlying"].strip(),
                                    row["event"].strip()))
    except FileNotFoundError:
        raise ConfigError(f"{file}: event calendar file not found") from None
    return tuple(events)


def load_option_limits(file: Path, section: Any) -> OptionLimits:
    """The ``option_books:`` section of the limits file ``file`` (module doc)."""
    where = located(file, section, "option_books")
    section = mapping(section, where)
    check_fields(section, _SECTION_FIELDS, ("books",), where)
    fraction = number(section.get("warning_fraction", DEFAULT_WARNING_FRACTION), where, "warning_fraction")
    factor = number(section.get("event_factor", 1.0), where, "event_factor")
    if not 0 < fraction <= 1:
        raise field_error(where, "warning_fraction", f"must be in (0, 1], got {fraction!r}")
    if not 0 < factor <= 1:
        raise field_error(where, "event_factor", f"must be in (0, 1] (a factor tightening the caps), got {factor!r}")
    books, var_limits = {}, {}
    for book, entry in mapping(section["books"], f"{where}: field 'books'").items():
        at = located(file, entry, f"option book {book!r}")
        entry = mapping(entry, at)
        check_fields(entry, _BOOK_FIELDS, (), at)
        underlyings = mapping(entry.get("underlyings") or {}, f"{at}: field 'underlyings'")
        books[str(book)] = GreekCaps(book=_caps(entry.get("caps") or {}, f"{at}: field 'caps'"),
                                     underlyings={str(u): _caps(c, f"{at}: underlying {u!r}")
                                                  for u, c in underlyings.items()})
        var_limits[str(book)] = tuple(limit_entry(e, i, file, str(book)) for i, e in enumerate(entry.get("limits") or []))
    calendar = section.get("event_calendar")
    return OptionLimits(warning_fraction=fraction, books=books, var_limits=var_limits,
                        events=load_events(calendar) if calendar else (),
                        event_window_days=integer(section.get("event_window_days", 0), where, "event_window_days", 0),
                        event_factor=factor)


def option_limits(path: str | Path) -> OptionLimits | None:
    """The option books' caps of the limits file ``path``, or None when it has no ``option_books:`` section."""
    file = Path(path)
    doc = mapping(read_yaml(file, "limits"), f"{file}: top level")
    return load_option_limits(file, doc["option_books"]) if doc.get("option_books") is not None else None
