"""Load and validate the risk-limit YAML file.

The default ships with the package: ``risk_pipeline/config/limits.yaml`` (its comments document
the format). The loader returns :class:`risk_pipeline.risk.limits.LimitsConfig`; every problem
raises :class:`ConfigError` naming the file, the line, the portfolio, the limit and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from risk_pipeline.config.reader import ConfigError, check_fields, field_error, integer, located, mapping, number, read_yaml
from risk_pipeline.risk.limits import DEFAULT_WARNING_FRACTION, MEASURES, Limit, LimitsConfig

DEFAULT_LIMITS_FILE = Path(__file__).resolve().parent / "limits.yaml"
_LIMIT_FIELDS = {"measure", "horizon_days", "confidence", "amount"}


def limit_entry(entry: Any, index: int, file: Path, portfolio: str) -> Limit:
    where = located(file, entry, f"portfolio {portfolio!r}, limit #{index + 1}")
    entry = mapping(entry, where)
    check_fields(entry, _LIMIT_FIELDS, {"measure", "amount"}, where)
    measure = entry["measure"]
    if measure not in MEASURES:
        raise field_error(where, "measure", f"must be one of {list(MEASURES)}, got {measure!r}")
    horizon = integer(entry.get("horizon_days", 1), where, "horizon_days", 1)
    confidence = number(entry.get("confidence", 0.99), where, "confidence")
    if not 0.0 < confidence < 1.0:
        raise field_error(where, "confidence", f"must be in (0, 1), got {confidence!r}")
    amount = number(entry["amount"], where, "amount")
    if amount <= 0:
        raise field_error(where, "amount", f"must be a positive amount, got {amount!r}")
    return Limit(measure, horizon, confidence, amount)


def load_limits(path: str | Path = DEFAULT_LIMITS_FILE) -> LimitsConfig:
    """Limits of a YAML file (format in ``risk_pipeline/config/limits.yaml``).

    ``horizon_days`` defaults to 1 and ``confidence`` to 0.99; ``warning_fraction`` to 0.8.
    """
    file = Path(path)
    doc = read_yaml(file, "limits")
    doc = mapping(doc, f"{file}: top level")
    # option_books: the Greek caps of option books (risk_pipeline/config/greek_caps.py)
    check_fields(doc, {"warning_fraction", "portfolios", "option_books"}, {"portfolios"}, f"{file}: top level")
    frac = number(doc.get("warning_fraction", DEFAULT_WARNING_FRACTION), f"{file}", "warning_fraction")
    if not 0.0 < frac <= 1.0:
        raise ConfigError(f"{file}: field 'warning_fraction' must be in (0, 1], got {frac!r}")
    raw = mapping(doc["portfolios"], f"{file}: field 'portfolios'")
    portfolios: dict[str, tuple[Limit, ...]] = {}
    for name, entries in raw.items():
        where = located(file, raw, f"portfolio {name!r}")
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{where}: expected a non-empty list of limits")
        limits = tuple(limit_entry(e, i, file, str(name)) for i, e in enumerate(entries))
        keys = [(lim.measure, lim.horizon_days, lim.confidence) for lim in limits]
        dups = sorted({k for k in keys if keys.count(k) > 1})
        if dups:
            raise ConfigError(f"{where}: duplicate limit for (measure, horizon_days, confidence) {dups}")
        portfolios[str(name)] = limits
    return LimitsConfig(warning_fraction=frac, portfolios=portfolios)
