"""Load and validate the FRTB settings (``risk_pipeline/config/frtb.yaml``, or the file
``$RISK_PIPELINE_FRTB`` names). Every problem raises :class:`ConfigError` naming the file and the field."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risk_pipeline.risk.frtb import LIQUIDITY_HORIZONS, StressSearch
from risk_pipeline.risk.var.parameters import METHODS
from risk_pipeline.config.portfolios import Portfolio
from risk_pipeline.config.reader import ConfigError, check_fields, date, integer, mapping, number, read_yaml
from risk_pipeline.sources.bond_instruments import configured_instruments

FRTB_ENV = "RISK_PIPELINE_FRTB"
DEFAULT_FRTB_FILE = Path(__file__).resolve().parent / "frtb.yaml"
_TOP = {
    "liquidity_horizons", "risk_factor_categories", "stressed_period_search", "reduced_set_excludes", "desks",
    "bank_name", "reporting_currency", "desk_model", "pla_factors", "pla_beta_window_days", "rho", "multiplier",
}
_CATEGORY_FIELDS = {"equity_default", "equity", "fx_default", "fx"}


@dataclass(frozen=True)
class FrtbConfig:
    """The validated settings of frtb.yaml (its comments document each field)."""

    liquidity_horizons: dict[str, int]
    equity_default: str
    equity_categories: dict[str, str]
    fx_default: str
    fx_categories: dict[str, str]
    stress_search: StressSearch
    reduced_excludes_equity: frozenset[str]
    reduced_excludes_fx: frozenset[str]
    desks: tuple[str, ...] | None
    bank_name: str
    reporting_currency: str
    desk_method: str
    desk_window_days: int
    pla_factors: tuple[str, ...]
    pla_beta_window_days: int
    rho: float
    multiplier: float

    def equity_horizon(self, symbol: str) -> int:
        """Liquidity horizon (days) of the price of ``symbol``."""
        return self.liquidity_horizons[self.equity_categories.get(symbol, self.equity_default)]

    def fx_horizon(self, currency: str) -> int:
        """Liquidity horizon (days) of the FX rate of ``currency`` against a book's base."""
        return self.liquidity_horizons[self.fx_categories.get(currency, self.fx_default)]


def frtb_path() -> Path:
    """``$RISK_PIPELINE_FRTB`` if set, else the shipped frtb.yaml."""
    return Path(os.environ.get(FRTB_ENV) or DEFAULT_FRTB_FILE)


def _category(value: Any, horizons: Mapping[str, int], where: str, field: str) -> str:
    if value not in horizons:
        raise ConfigError(f"{where}: field {field!r}: unknown liquidity category {value!r} (known: {sorted(horizons)})")
    return value


def _names(value: Any, where: str, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: field {field!r} must be a list of names, got {value!r}")
    return tuple(value)


def _search(raw: Any, where: str) -> StressSearch:
    field = "stressed_period_search"
    raw = mapping(raw, f"{where}: field {field!r}")
    check_fields(raw, {"start", "end"}, {"start", "end"}, f"{where}: field {field!r}")
    start = date(raw["start"], where, f"{field}.start")
    end = None if raw["end"] is None else date(raw["end"], where, f"{field}.end")
    if end is not None and end <= start:
        raise ConfigError(f"{where}: field '{field}': the range {start}..{end} is empty (end must be after start)")
    return StressSearch(start, end)


def load_frtb_config(path: str | Path | None = None) -> FrtbConfig:
    """The FRTB settings of ``path`` (default :func:`frtb_path`)."""
    file = Path(path) if path is not None else frtb_path()
    doc = read_yaml(file, "FRTB configuration")
    where = str(file)
    doc = mapping(doc, f"{where}: top level")
    check_fields(doc, _TOP, _TOP, where)

    raw_h = mapping(doc["liquidity_horizons"], f"{where}: field 'liquidity_horizons'")
    horizons = {}
    for name, days in raw_h.items():
        if isinstance(days, bool) or days not in LIQUIDITY_HORIZONS:
            raise ConfigError(f"{where}: field 'liquidity_horizons.{name}': {days!r} is not one of MAR33.4's "
                              f"horizons {list(LIQUIDITY_HORIZONS)}")
        horizons[str(name)] = int(days)
    cats = mapping(doc["risk_factor_categories"], f"{where}: field 'risk_factor_categories'")
    check_fields(cats, _CATEGORY_FIELDS, _CATEGORY_FIELDS, f"{where}: field 'risk_factor_categories'")
    overrides = {}
    for kind in ("equity", "fx"):
        raw = mapping(cats[kind] or {}, f"{where}: field 'risk_factor_categories.{kind}'")
        overrides[kind] = {str(k): _category(v, horizons, where, f"risk_factor_categories.{kind}.{k}") for k, v in raw.items()}

    excludes = mapping(doc["reduced_set_excludes"], f"{where}: field 'reduced_set_excludes'")
    check_fields(excludes, {"equity", "fx"}, {"equity", "fx"}, f"{where}: field 'reduced_set_excludes'")
    desks = None if doc["desks"] is None else _names(doc["desks"], where, "desks")
    if desks is not None and not desks:
        raise ConfigError(f"{where}: field 'desks' is empty (null = every portfolio)")
    model = mapping(doc["desk_model"], f"{where}: field 'desk_model'")
    check_fields(model, {"method", "estimation_window_days"}, {"method", "estimation_window_days"}, f"{where}: field 'desk_model'")
    if model["method"] not in METHODS:
        raise ConfigError(f"{where}: field 'desk_model.method': unknown method {model['method']!r} (known: {list(METHODS)})")
    rho = number(doc["rho"], where, "rho")
    if not 0.0 <= rho <= 1.0:
        raise ConfigError(f"{where}: field 'rho' must be in [0, 1], got {rho!r}")
    multiplier = number(doc["multiplier"], where, "multiplier")
    if multiplier <= 0:
        raise ConfigError(f"{where}: field 'multiplier' must be positive, got {multiplier!r}")
    bank = doc["bank_name"]
    if not isinstance(bank, str) or not bank:
        raise ConfigError(f"{where}: field 'bank_name' must be a name, got {bank!r}")
    currency = doc["reporting_currency"]
    if not isinstance(currency, str) or len(currency) != 3:
        raise ConfigError(f"{where}: field 'reporting_currency' must be a 3-letter code, got {currency!r}")
    pla_factors = _names(doc["pla_factors"], where, "pla_factors")
    if not pla_factors:
        raise ConfigError(f"{where}: field 'pla_factors' is empty")
    return FrtbConfig(
        liquidity_horizons=horizons,
        equity_default=_category(cats["equity_default"], horizons, where, "risk_factor_categories.equity_default"),
        equity_categories=overrides["equity"],
        fx_default=_category(cats["fx_default"], horizons, where, "risk_factor_categories.fx_default"),
        fx_categories=overrides["fx"],
        stress_search=_search(doc["stressed_period_search"], where),
        reduced_excludes_equity=frozenset(_names(excludes["equity"], where, "reduced_set_excludes.equity")),
        reduced_excludes_fx=frozenset(_names(excludes["fx"], where, "reduced_set_excludes.fx")),
        desks=desks,
        bank_name=bank,
        reporting_currency=currency,
        desk_method=model["method"],
        desk_window_days=integer(model["estimation_window_days"], where, "desk_model.estimation_window_days", 1),
        pla_factors=pla_factors,
        pla_beta_window_days=integer(doc["pla_beta_window_days"], where, "pla_beta_window_days", 1),
        rho=rho,
        multiplier=multiplier,
    )


def desk_portfolios(settings: FrtbConfig, portfolios: Sequence[Portfolio], records: Sequence[str] = ()) -> list[Portfolio]:
    """The portfolios that are desks (``desks``, or when null every portfolio without a bond instrument), in
    file order; a desk that is neither a portfolio nor a book of record (``records``), a portfolio holding a
    bond instrument (a yield is an interest-rate risk factor, which this model does not map: its categories
    are equity and FX), or a bank named like one, is a ConfigError naming the field."""
    names = [p.name for p in portfolios] + list(records)
    unknown = sorted(set(settings.desks or ()) - set(names))
    if unknown:
        raise ConfigError(f"FRTB settings: field 'desks': {unknown} are not portfolios or books of record "
                          f"(known: {sorted(names)})")
    if settings.bank_name in names:
        raise ConfigError(f"FRTB settings: field 'bank_name': {settings.bank_name!r} is also a portfolio's name")
    bonds = {i.symbol for i in configured_instruments()}
    rates = {p.name: sorted(bonds & set(p.symbols)) for p in portfolios if bonds & set(p.symbols)}
    listed = sorted(set(settings.desks or ()) & set(rates))
    if listed:
        raise ConfigError(f"FRTB settings: field 'desks': {listed[0]!r} holds the bond instrument(s) "
                          f"{', '.join(rates[listed[0]])}: an interest-rate risk factor, not mapped by this model "
                          "(equity and FX only)")
    return [p for p in portfolios if (settings.desks is None and p.name not in rates)
            or p.name in (settings.desks or ())]


def record_desks(settings: FrtbConfig, records: Sequence[str]) -> list[str]:
    """The books of record that are desks: those ``desks`` lists (null: none, the desks are then the
    portfolios of the portfolios file), in the order of ``records``."""
    return [name for name in records if settings.desks is not None and name in settings.desks]
