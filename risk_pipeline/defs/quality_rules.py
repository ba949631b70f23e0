"""The data-quality rules of ``prices`` and ``returns``, evaluated twice: on the rows a run is about to
commit (the audit of write-audit-publish, by the asset, before its commit) and on the stored rows
(the asset checks of ``market_data_checks``, after it, shown in the UI).

Each rule is a rule of ``risk_pipeline.sources.quality`` with its settings and severity (the
``quality`` section of pipeline.yaml): :data:`RULES` maps the name of its asset check to the table
it judges, the stored days before the range it needs and its evaluation. :func:`audit` evaluates
the rules of severity ``error`` on the table as the commit would leave it (the stored rows, those
of the run's days and keys replaced by the staged rows) and raises :class:`AuditError` naming
the failed rules: the table keeps its previous version and nothing downstream runs. The audit
uses the severities and thresholds of pipeline.yaml; a run config that changes a check's
settings changes what the check reports after the commit, not the audit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
import dataclasses
from dataclasses import dataclass, field
from functools import partial

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.compute import Compute
from risk_pipeline.config.last_dates import configured_last_dates
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.config.settings import section
from risk_pipeline.sources import quality
from risk_pipeline.sources.cash import SOURCE_NAME as CASH_SOURCE
from risk_pipeline.sources.ecb_fx import MAX_STALENESS_DAYS, load_fx_rates
from risk_pipeline.storage.lake import distinct_values, read_window, window_days
from risk_pipeline.storage.schemas import table_schema

_QUALITY = section("quality")
# info: findings are reported in the check's metadata and the check passes (the severity of its result)
SEVERITIES = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN,
              "info": dg.AssetCheckSeverity.WARN}


def _severity(name: str) -> str:
    return str(_QUALITY[name]["severity"])


class SeverityConfig(dg.Config):
    """``severity``: ``error`` (a failure blocks: the audit refuses the commit, the check stops the
    assets downstream), ``warn`` (a failure shown as a warning) or ``info`` (findings reported in the
    check's metadata, the check passes)."""

    severity: str


class NonPositiveConfig(SeverityConfig):
    severity: str = _severity("non_positive_prices")


class MissingDaysConfig(SeverityConfig):
    severity: str = _severity("missing_days")
    min_coverage: float = float(_QUALITY["missing_days"]["min_coverage"])
    lookback: int = int(_QUALITY["missing_days"]["lookback"])


class StaleConfig(SeverityConfig):
    severity: str = _severity("stale_prices")
    max_unchanged_days: int = int(_QUALITY["stale_prices"]["max_unchanged_days"])


class OutlierConfig(SeverityConfig):
    severity: str = _severity("return_outliers")
    window: int = int(_QUALITY["return_outliers"]["window"])
    max_sigmas: float = float(_QUALITY["return_outliers"]["max_sigmas"])


class UnpricedConfig(SeverityConfig):
    severity: str = _severity("unpriced_positions")


class FxCoverageConfig(SeverityConfig):
    """Two severities: a rate missing inside the ECB's coverage, and days before its first fixing."""

    severity: str = _severity("fx_coverage")
    before_first_fixing_severity: str = str(_QUALITY["fx_coverage"]["before_first_fixing_severity"])


@dataclass(frozen=True)
class Finding:
    """What a rule found: the offending rows, at ``severity``, out of ``checked`` items."""

    offending: pd.DataFrame
    severity: str
    checked: int
    extra: dict[str, object] = field(default_factory=dict)
    description: str | None = None  # what the UI shows for the evaluation

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"quality check severity must be one of {sorted(SEVERITIES)}, got {self.severity!r}")


def _non_positive(frame: pd.DataFrame, days: list[dt.date], config: NonPositiveConfig) -> Finding:
    return Finding(quality.non_positive_prices(frame), config.severity, len(frame))


def _missing(frame: pd.DataFrame, days: list[dt.date], config: MissingDaysConfig) -> Finding:
    found = quality.missing_days(frame, days, config.min_coverage, configured_last_dates())
    return Finding(found, config.severity, len(frame))


def _missing_whole(parts: list[tuple[pd.DatetimeIndex, pd.Index, np.ndarray, int]], days: list[dt.date],
                   config: MissingDaysConfig) -> Finding:
    """prices_no_missing_days of the tasks' matrices of dates x their symbols (``quality.priced_days``: over
    every stored date of the window, or each over the dates of its own rows, set on the union of them: a
    date no row of a task has is a row of False), side by side in the order of the symbols."""
    dates = parts[0][0]
    if any(not part[0].equals(dates) for part in parts[1:]):
        dates = dates.append([part[0] for part in parts[1:]]).unique().sort_values()
        parts = [(dates, symbols, _on_dates(priced, at, dates), n) for at, symbols, priced, n in parts]
    symbols = parts[0][1].append([part[1] for part in parts[1:]])
    order = symbols.argsort(kind="stable")
    priced = np.hstack([part[2] for part in parts])[:, order]
    found = quality.missing_in(dates, symbols[order], priced, days, config.min_coverage, configured_last_dates())
    return Finding(found, config.severity, sum(part[3] for part in parts))


def _on_dates(priced: np.ndarray, at: pd.DatetimeIndex, dates: pd.DatetimeIndex) -> np.ndarray:
    """The matrix ``priced`` of the dates ``at`` x symbols on ``dates`` (a superset of ``at``)."""
    on = np.zeros((len(dates), priced.shape[1]), dtype=bool)
    on[dates.get_indexer(at)] = priced
    return on


def _stale(frame: pd.DataFrame, days: list[dt.date], config: StaleConfig) -> Finding:
    quoted = frame.loc[frame["source"] != CASH_SOURCE] if "source" in frame else frame  # cash: 1 by construction
    return Finding(quality.stale_prices(quoted, days, config.max_unchanged_days), config.severity, len(frame))


def _outliers(frame: pd.DataFrame, days: list[dt.date], config: OutlierConfig,
              dates: pd.DatetimeIndex | None = None) -> Finding:
    found = quality.return_outliers(frame, days, config.window, config.max_sigmas, dates=dates)
    return Finding(found, config.severity, len(frame))


def _unpriced(frame: pd.DataFrame, days: list[dt.date], config: UnpricedConfig) -> Finding:
    portfolios = load_portfolios()
    return Finding(quality.unpriced_positions(portfolios, frame), config.severity, len(portfolios))


def _unpriced_whole(parts: list[np.ndarray], days: list[dt.date], config: UnpricedConfig) -> Finding:
    """portfolio_symbols_priced of the symbols each task found priced."""
    return _unpriced(pd.DataFrame({"symbol": np.concatenate(parts)}), days, config)


def _fx(frame: pd.DataFrame, days: list[dt.date], config: FxCoverageConfig) -> Finding:
    return _fx_finding(_fx_gaps(frame), len(frame), config)


def _fx_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    return quality.fx_gaps(load_portfolios(), frame, load_fx_rates(), MAX_STALENESS_DAYS)


def _fx_finding(gaps: pd.DataFrame, checked: int, config: FxCoverageConfig) -> Finding:
    missing = gaps.loc[gaps["reason"] == quality.FX_MISSING_RATE]
    before = gaps.loc[gaps["reason"] == quality.FX_BEFORE_FIRST_FIXING]
    summary = {"days_before_first_fixing": dg.MetadataValue.int(len(before))}
    if missing.empty and not before.empty:
        # no hole in the rates: only history before the currency existed, shown at its own severity
        first = before.groupby(["portfolio", "symbol", "currency"])["date"].agg(["min", "max", "size"]).reset_index()
        return Finding(first, config.before_first_fixing_severity, checked, summary)
    books = quality.books_missing_fx(missing)  # one line per book: currency and first missing date
    if books:
        summary["books_missing_fx"] = dg.MetadataValue.text("\n".join(books.values()))
    return Finding(missing, config.severity, checked, summary, "\n".join(books.values()) or None)


@dataclass(frozen=True)
class BySymbol:
    """How the asset check evaluates a rule in tasks of symbols (:func:`stored_findings`): ``part(rows, days,
    config, dates)`` of a task's rows, ``whole(parts, days, config)`` the finding of every task's part, the
    rule's on the rows of every symbol; ``dates``: ``part`` is given the window's stored dates (a
    rolling window counts rows of dates, a day's coverage its symbols), else None."""

    part: Callable[[pd.DataFrame, list[dt.date], SeverityConfig, pd.DatetimeIndex | None], object]
    whole: Callable[[list, list[dt.date], SeverityConfig], Finding]
    dates: bool = False


def _in_order(*columns: str) -> Callable[[list[Finding], list[dt.date], SeverityConfig], Finding]:
    """The ``whole`` of a rule whose findings are rows of symbols in the order of ``columns``: the tasks'
    offending rows put together in that order, and the rows checked summed."""

    def whole(found: list[Finding], days: list[dt.date], config: SeverityConfig) -> Finding:
        rows = [f.offending for f in found if len(f.offending)]
        offending = (pd.concat(rows, ignore_index=True).sort_values(list(columns), ignore_index=True)
                     if rows else found[0].offending)
        return dataclasses.replace(found[0], offending=offending, checked=sum(f.checked for f in found))

    return whole


def _fx_whole(parts: list[tuple[pd.DataFrame, int]], days: list[dt.date], config: FxCoverageConfig) -> Finding:
    """fx_coverage's finding of the tasks' gaps (and rows read), in the order of the books and positions."""
    gaps = quality.fx_gaps_of_parts(load_portfolios(), [gaps for gaps, _ in parts])
    return _fx_finding(gaps, sum(n for _, n in parts), config)


@dataclass(frozen=True)
class Rule:
    table: str
    config: type[SeverityConfig]
    lookback: Callable[[SeverityConfig], int]  # stored days before the range the rule reads
    # the rule on a frame holding the rows of the days checked and the lookback before, with its config
    evaluate: Callable[[pd.DataFrame, list[dt.date], SeverityConfig], Finding]
    # the columns of the table the evaluation reads (the asset check reads only these, besides the day)
    columns: tuple[str, ...]
    # the column of an offending row dating the finding: at severity warn the check fails only for
    # findings of the run's last day, the earlier ones (a backfill's history) are reported (None: all fail)
    dated_by: str | None = None
    # the evaluation's findings depend on the order of the rows (fx_gaps takes a symbol's currency from its
    # first row): the asset check reads them in day order; else in the order read (a sort less)
    in_day_order: bool = False
    # how the asset check evaluates it in tasks of symbols on the ``compute`` engine (:func:`stored_findings`):
    # each symbol judged on its own rows, or (prices_no_missing_days) a day's coverage summed over the
    # tasks' symbols; None: in one piece
    by_symbol: BySymbol | None = None


def _none(config: SeverityConfig) -> int:
    return 0


_CLOSES = ("symbol", "close")
RULES: dict[str, Rule] = {
    "prices_positive": Rule("prices", NonPositiveConfig, _none, _non_positive, _CLOSES, by_symbol=BySymbol(
        lambda frame, days, config, dates: _non_positive(frame, days, config), _in_order("date", "symbol"))),
    "prices_no_missing_days": Rule("prices", MissingDaysConfig, lambda c: c.lookback, _missing, _CLOSES,
                                   by_symbol=BySymbol(lambda frame, days, config, dates: (
                                       *quality.priced_days(frame, dates), len(frame)), _missing_whole, dates=True)),
    "prices_not_stale": Rule("prices", StaleConfig, lambda c: c.max_unchanged_days, _stale, (*_CLOSES, "source"),
                             "last_date", by_symbol=BySymbol(lambda frame, days, config, dates: _stale(frame, days, config),
                                                             _in_order("symbol", "first_date"))),
    "returns_within_sigmas": Rule("returns", OutlierConfig, lambda c: c.window, _outliers, ("symbol", "simple_return"),
                                  "date", by_symbol=BySymbol(_outliers, _in_order("date", "symbol"), dates=True)),
    "portfolio_symbols_priced": Rule("prices", UnpricedConfig, _none, _unpriced, ("symbol",), by_symbol=BySymbol(
        lambda frame, days, config, dates: frame["symbol"].unique(), _unpriced_whole)),
    "fx_coverage": Rule("prices", FxCoverageConfig, _none, _fx, ("symbol", "currency"), in_day_order=True,
                        by_symbol=BySymbol(lambda frame, days, config, dates: (_fx_gaps(frame), len(frame)), _fx_whole)),
}


def stored_findings(name: str, config: SeverityConfig, start: dt.date, end: dt.date, days: list[dt.date],
                    compute: Compute | None = None) -> Finding:
    """Rule ``name`` on the stored rows of ``start``..``end`` and its lookback (an asset check): only the
    columns it reads, in day order only where its findings depend on the order (``Rule.in_day_order``).
    A rule that judges each symbol on its own rows (``Rule.by_symbol``) runs on the ``compute`` engine's
    workers in tasks of symbols (:meth:`Compute.spread`; inline as one frame, read and judged whole):
    each task reads its symbols' rows and finds their part (offending rows, or fx_coverage's gaps), put
    together as the rule finds them on the whole window (``BySymbol.whole``)."""
    rule = RULES[name]
    if compute is None or compute.engine == "inline" or rule.by_symbol is None:
        return _findings(None, name, config, start, end, days)
    window = window_days(rule.table, start, end, lookback=rule.lookback(config))
    if not window:
        return _findings(None, name, config, start, end, days)
    symbols = list(distinct_values(rule.table, window, "symbol"))
    dates = pd.DatetimeIndex(distinct_values(rule.table, window, "date")) if rule.by_symbol.dates else None
    if not symbols:
        return _findings(None, name, config, start, end, days)
    parts = compute.map(partial(_part, name=name, config=config, start=start, end=end, days=days, dates=dates),
                        compute.spread(symbols))
    return rule.by_symbol.whole(parts, days, config)


def _stored(symbols: list[str] | None, rule: Rule, config: SeverityConfig, start: dt.date,
            end: dt.date) -> pd.DataFrame:
    """The stored rows ``rule`` reads in the window, of ``symbols`` (None: every symbol)."""
    return read_window(rule.table, start, end, lookback=rule.lookback(config), columns=rule.columns,
                       where=None if symbols is None else {"symbol": symbols}, by_day=rule.in_day_order)


def _findings(symbols: list[str] | None, name: str, config: SeverityConfig, start: dt.date, end: dt.date,
              days: list[dt.date]) -> Finding:
    """Rule ``name`` on the stored rows of ``symbols`` (None: every symbol) in the window."""
    rule = RULES[name]
    return rule.evaluate(_stored(symbols, rule, config, start, end), days, config)


def _part(symbols: list[str], name: str, config: SeverityConfig, start: dt.date, end: dt.date, days: list[dt.date],
          dates: pd.DatetimeIndex | None) -> object:
    """A task of :func:`stored_findings`: rule ``name``'s part (``BySymbol.part``) of the stored rows of
    ``symbols`` in the window; ``dates``: the window's stored dates, for a rule that counts them."""
    rule = RULES[name]
    return rule.by_symbol.part(_stored(symbols, rule, config, start, end), days, config, dates)


_LOGGED_ROWS = 20


class AuditError(ValueError):
    """The rows a run was about to commit fail a blocking quality rule: nothing was written."""


def _last_days_before(frame: pd.DataFrame, day_column: str, start: pd.Timestamp, lookback: int) -> pd.DataFrame:
    """``frame`` without the rows dated before its ``lookback`` last days before ``start``."""
    before = pd.DatetimeIndex(frame.loc[frame[day_column] < start, day_column].unique()).sort_values()
    return _trimmed(frame, day_column, start, list(before), lookback)


def _row_text(row: pd.Series) -> str:
    def text(value: object) -> str:
        if isinstance(value, pd.Timestamp):
            return value.date().isoformat()
        return f"{value:.6g}" if isinstance(value, float) else str(value)
    return ", ".join(f"{k}={text(v)}" for k, v in row.items())


def audit(context: dg.AssetExecutionContext, table: str, staged: pd.DataFrame, days: list[dt.date],
          keys: Iterable[str]) -> None:
    """Evaluate the rules of ``table`` whose severity is ``error`` on the table as committing
    ``staged`` (the rows of ``days`` and ``keys``) would leave it; on a failure log the offending
    rows in the run's log and raise :class:`AuditError` naming each failed rule."""
    refuse(context, table, days, audit_failures(table, staged, days, keys))


def audit_failures(table: str, staged: pd.DataFrame, days: list[dt.date], keys: Iterable[str],
                   keys_only: bool = False) -> dict[str, pd.DataFrame]:
    """The offending rows of each rule of ``table`` of severity ``error`` that fails on the table as
    committing ``staged`` (the rows of ``days`` and ``keys``) would leave it (none: {}). ``keys_only``:
    on the stored rows of ``keys`` alone, for rules that judge each key on its own rows (a task's chunk
    of ``returns``' symbols: ``returns_within_sigmas``, each symbol against its own previous window)."""
    keys = list(keys)
    blocking = _blocking(table)
    if not blocking:
        return {}
    day, start = table_schema(table).day_column, pd.Timestamp(days[0])
    after = _after(table, staged, days, keys, keys if keys_only else None,
                   lookback=max(r.lookback(c) for r, c in blocking.values()))
    failed = {}
    for name, (rule, config) in blocking.items():
        found = rule.evaluate(_last_days_before(after, day, start, rule.lookback(config)), days, config)
        if found.severity == "error" and len(found.offending):
            failed[name] = found.offending
    return failed


def _blocking(table: str) -> dict[str, tuple[Rule, SeverityConfig]]:
    """The rules of ``table`` of severity ``error`` (fx_coverage: either of its severities), with their config."""
    rules = {name: (rule, rule.config()) for name, rule in RULES.items() if rule.table == table}
    return {name: pair for name, pair in rules.items() if pair[1].severity == "error"
            or getattr(pair[1], "before_first_fixing_severity", None) == "error"}


def _after(table: str, staged: pd.DataFrame, days: list[dt.date], keys: list[str], read: list[str] | None,
           lookback: int) -> pd.DataFrame:
    """The stored rows of the window (``days`` and the ``lookback`` stored days before) of the keys ``read``
    (None: every key) as committing ``staged`` (the rows of ``days`` and ``keys``) would leave them, in
    (day, key) order."""
    spec = table_schema(table)
    day = spec.day_column
    if read == []:
        stored = pd.DataFrame({c: pd.Series(dtype=staged[c].dtype if c in staged else object) for c in spec.columns})
    else:
        stored = read_window(table, days[0], days[-1], lookback=lookback,
                             where=None if read is None else {spec.key_column: read})
    replaced = stored[day].between(pd.Timestamp(days[0]), pd.Timestamp(days[-1])) & stored[spec.key_column].isin(keys)
    after = pd.concat([stored.loc[~replaced], staged.reindex(columns=stored.columns)], ignore_index=True)
    return after.sort_values([day, spec.key_column], kind="stable", ignore_index=True)


def _trimmed(frame: pd.DataFrame, day_column: str, start: dt.date, before: list[dt.date], lookback: int) -> pd.DataFrame:
    """``frame`` without the rows dated before the ``lookback`` last of the table's stored days ``before``
    ``start`` (sorted): :func:`_last_days_before` for a part of the table's keys, whose own rows may lack
    some of those days."""
    if len(before) <= lookback:
        return frame
    return frame.loc[frame[day_column] >= pd.Timestamp(before[len(before) - lookback] if lookback else start)]


def audit_window(table: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """The stored days of ``table`` that :func:`audit_failures` reads for a run of ``start``..``end``: the
    range's and the longest lookback of its blocking rules before it (none without a blocking rule)."""
    blocking = _blocking(table)
    return window_days(table, start, end, lookback=max(r.lookback(c) for r, c in blocking.values())) if blocking else []


def audit_parts(table: str, staged: pd.DataFrame, days: list[dt.date], keys: list[str], read: list[str],
                before: list[dt.date]) -> dict[str, object]:
    """A task's part of :func:`audit_failures` where the run's keys are judged in tasks of keys, rules across
    keys too (``prices``: a day's coverage of every live symbol, the portfolios' symbols priced): for each
    blocking rule of ``table`` (each has a part: ``Rule.by_symbol``), its part of the stored rows of the keys
    ``read`` as committing ``staged`` (the rows of ``days`` and ``keys``) would leave them, each rule's window
    cut at its lookback of the table's stored days ``before`` the range (every key's); None where those
    rows are none. :func:`parts_failures` puts the tasks' parts together, which cover every key once."""
    blocking = _blocking(table)
    if not blocking:
        return {}
    day = table_schema(table).day_column
    after = _after(table, staged, days, keys, read, lookback=len(before))
    parts: dict[str, object] = {}
    for name, (rule, config) in blocking.items():
        rows = _trimmed(after, day, days[0], before, rule.lookback(config))
        parts[name] = rule.by_symbol.part(rows, days, config, None) if len(rows) else None
    return parts


def parts_failures(table: str, parts: Iterable[dict[str, object]], days: list[dt.date]) -> dict[str, pd.DataFrame]:
    """:func:`audit_failures` of the tasks' :func:`audit_parts`: each blocking rule's finding of every part
    (``BySymbol.whole``), on an empty frame where no part has rows, as the rule finds it on the whole table."""
    parts = list(parts)
    failed = {}
    for name, (rule, config) in _blocking(table).items():
        found_parts = [part[name] for part in parts if part.get(name) is not None]
        found = (rule.by_symbol.whole(found_parts, days, config) if found_parts else
                 rule.evaluate(pd.DataFrame(columns=table_schema(table).columns), days, config))
        if found.severity == "error" and len(found.offending):
            failed[name] = found.offending
    return failed


def chunks_failures(chunks: Iterable[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The :func:`audit_failures` of chunks of symbols (``keys_only``) as one: each rule's offending rows
    of every chunk in (date, symbol) order, the order of the rule's findings on the whole table."""
    failed: dict[str, list[pd.DataFrame]] = {}
    for chunk in chunks:
        for name, rows in chunk.items():
            failed.setdefault(name, []).append(rows)
    return {name: pd.concat(rows, ignore_index=True).sort_values(["date", "symbol"], kind="stable", ignore_index=True)
            for name, rows in failed.items()}


def refuse(context: dg.AssetExecutionContext, table: str, days: list[dt.date], failed: dict[str, pd.DataFrame]) -> None:
    """When rules failed (``failed``: each one's offending rows), log the offending rows in the run's
    log and raise :class:`AuditError` naming each failed rule and its first offending row."""
    if not failed:
        return
    for name, rows in failed.items():  # the run's log in the UI lists them
        context.log.error(f"{table}: {name} failed on the rows to be committed, {len(rows)} offending:\n"
                          + rows.head(_LOGGED_ROWS).to_markdown(index=False, floatfmt=".6g"))
    described = "; ".join(f"{name}: {len(rows)} offending row(s), the first {_row_text(rows.iloc[0])}"
                          for name, rows in failed.items())
    raise AuditError(f"{table} of {days[0]}..{days[-1]} not written: the rows fail the blocking check(s) {described}")
