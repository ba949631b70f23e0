"""Risk limits: utilization, status per limit and per portfolio, and the pre-trade check.

A limit caps a risk measure (``var`` or ``es``, base-currency amount) at a horizon and
confidence. With measured value ``v`` and limit amount ``L > 0``:

    utilization = v / L
    status      = "danger"         if v > L                 (breached: strictly above)
                  "warning"        if v >= f L              (f = warning fraction, 0.8 default;
                                                             v exactly at L is a warning)
                  "within_limits"  otherwise
                  "no_data"        if v is NaN (e.g. not enough history yet)

A portfolio's overall status is its worst limit status (danger > warning > within_limits >
no_data; "no_data" only when every limit lacks data).

Every limit value, in limit_status and in the pre-trade check, is measured by one method,
:data:`LIMIT_METHOD` = historical simulation of the positions (:func:`position_var_es`; Jorion,
"Value at Risk", 3rd ed., ch. 10; the h-day P&L from overlapping compounded returns as in BCBS
"Minimum capital requirements for market risk" (2019), MAR33.4 overlapping windows). The value of
day t revalues the base-currency exposures ``E_i`` held over day t (those of the close of t-1)
with each of the ``W`` daily returns up to t-1 (the estimation window):

    R_{i,s}^{(h)} = prod_{j=s}^{s+h-1} (1 + r_{i,j}) - 1        overlapping h-day windows in the W days
    P&L_s       = sum_i E_i R_{i,s}^{(h)},    loss_s = -P&L_s
    VaR, ES     = tail_var_es(loss, c)                           (risk.var.tail, docs/design.md)

At 1 day the value is var_estimates' historical VaR/ES amount of the same day and window (both
revalue the positions held) up to rounding. At h > 1 days the two differ on purpose: here the
positions are held fixed over the h days (each instrument's compounded return, above), while the
VaR engine (:mod:`risk_pipeline.risk.var.held_positions`) compounds their per-unit P&L, the value
rebalanced daily. Why the two are kept apart, and by how much they differ: docs/methods.md,
"Limits' historical_positions and the engine's historical". The pre-trade check computes the same
value before and after adding the proposed trade to the positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from enum import StrEnum

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from risk_pipeline.risk.var.held_positions import ScenarioReturns
from risk_pipeline.risk.var.sorted_tail import sorted_tail_var_es
from risk_pipeline.risk.var.windows import compound_returns

MEASURES: tuple[str, ...] = ("var", "es")
LIMIT_METHOD = "historical_positions"
"""How every limit value is measured (module docstring); the ``method`` column of limit_status."""
LIMIT_METHOD_TEXT = (f"{LIMIT_METHOD}: historical simulation of the positions held over the day (the exposures of the "
                     "previous close) on the daily returns of the estimation window before it")
""":data:`LIMIT_METHOD` in a sentence, for the summary, the pre-trade check and the report."""


class LimitStatus(StrEnum):
    """A limit's status, from least to most severe; each value is the string stored in the ``status`` column."""

    NO_DATA = "no_data"
    WITHIN_LIMITS = "within_limits"
    WARNING = "warning"
    DANGER = "danger"


STATUSES: tuple[LimitStatus, ...] = tuple(LimitStatus)
"""Statuses from least to most severe."""

MEASURE_COLUMNS: tuple[str, ...] = ("date", "portfolio", "measure", "horizon_days", "confidence", "value", "method")
LIMIT_STATUS_COLUMNS: tuple[str, ...] = ("date", "portfolio", "measure", "horizon_days", "confidence", "value",
                                         "limit_amount", "utilization", "status", "method")
OVERALL_STATUS_COLUMNS: tuple[str, ...] = ("date", "portfolio", "status", "max_utilization", "n_limits", "n_warning",
                                           "n_danger")
PRE_TRADE_COLUMNS: tuple[str, ...] = ("measure", "horizon_days", "confidence", "limit_amount", "value_before",
                                      "value_after", "utilization_before", "utilization_after", "status_before",
                                      "status_after")
DEFAULT_WARNING_FRACTION = 0.8


class LimitInputError(ValueError):
    """Limit inputs are malformed (names the portfolio / measure / symbol)."""


@dataclass(frozen=True)
class Limit:
    """One limit: ``measure`` ("var" or "es") at ``horizon_days`` and ``confidence`` <= ``amount``."""

    measure: str
    horizon_days: int
    confidence: float
    amount: float

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise LimitInputError(f"limit measure must be one of {MEASURES}, got {self.measure!r}")
        if not isinstance(self.horizon_days, (int, np.integer)) or self.horizon_days < 1:
            raise LimitInputError(f"limit horizon_days must be an integer >= 1, got {self.horizon_days!r}")
        if not 0.0 < self.confidence < 1.0:
            raise LimitInputError(f"limit confidence must be in (0, 1), got {self.confidence!r}")
        if not (np.isfinite(self.amount) and self.amount > 0):
            raise LimitInputError(f"limit amount must be a positive number, got {self.amount!r}")


@dataclass(frozen=True)
class LimitsConfig:
    """Limits by portfolio name and the warning fraction of a limit (0 < f <= 1)."""

    warning_fraction: float
    portfolios: Mapping[str, tuple[Limit, ...]]

    def __post_init__(self) -> None:
        if not 0.0 < self.warning_fraction <= 1.0:
            raise LimitInputError(f"warning_fraction must be in (0, 1], got {self.warning_fraction!r}")


@dataclass(frozen=True)
class LimitReport:
    """Per-limit rows (:data:`LIMIT_STATUS_COLUMNS`) and per-portfolio overall status
    (:data:`OVERALL_STATUS_COLUMNS`)."""

    rows: pd.DataFrame

    @cached_property
    def overall(self) -> pd.DataFrame:
        """The overall status of each date and portfolio, from the rows when first asked (the stored
        ``limit_status`` table needs only the rows: its groupby took 45% of the evaluation)."""
        return _overall(self.rows)


@dataclass(frozen=True)
class PreTradeResult:
    """Limits before and after a proposed trade.

    ``stays_within_limits`` is True when no limit is breached after the trade (warnings
    allowed); ``rows`` has columns :data:`PRE_TRADE_COLUMNS`.
    """

    portfolio: str
    stays_within_limits: bool
    status_before: str
    status_after: str
    rows: pd.DataFrame


def classify(value: np.ndarray, limit: np.ndarray, warning_fraction: float) -> np.ndarray:
    """Status per value/limit pair (rules in the module docstring)."""
    value = np.asarray(value, dtype=float)
    limit = np.asarray(limit, dtype=float)
    status = np.where(value > limit, LimitStatus.DANGER.value,
                      np.where(value >= warning_fraction * limit, LimitStatus.WARNING.value, LimitStatus.WITHIN_LIMITS.value))
    return np.where(np.isnan(value), LimitStatus.NO_DATA.value, status).astype(object)


def _worst(statuses) -> str:
    return max(statuses, key=STATUSES.index) if len(statuses) else LimitStatus.NO_DATA


def evaluate_limits(measures: pd.DataFrame, limits: LimitsConfig, warning_fraction: float | None = None,
                 dates: pd.DatetimeIndex | None = None, portfolios: Sequence[str] | None = None) -> LimitReport:
    """Compare measured risk with every limit of every portfolio in ``measures``, per date.

    ``measures``: columns :data:`MEASURE_COLUMNS` (value = base-currency amount, method = how it
    was measured; see :func:`long_measures`), at most one row per date, portfolio, measure,
    horizon and confidence. Rows are every (date, portfolio, limit) for the dates of ``dates``
    (default: the dates of ``measures``) and portfolios of ``portfolios`` (default: those of
    ``measures``); a limit without a matching measure that day gets value NaN, status "no_data"
    and method "none" (a book without a full window yet). A portfolio without limits raises (a
    book must not run unlimited by accident). ``warning_fraction`` overrides
    ``limits.warning_fraction``.
    """
    missing = sorted(set(MEASURE_COLUMNS) - set(measures.columns))
    if missing:
        raise LimitInputError(f"measures lacks columns {missing}")
    frac = limits.warning_fraction if warning_fraction is None else float(warning_fraction)
    if not 0.0 < frac <= 1.0:
        raise LimitInputError(f"warning_fraction must be in (0, 1], got {warning_fraction!r}")
    names = sorted(set(measures["portfolio"]) if portfolios is None else set(portfolios))
    unlimited = sorted(set(names) - set(limits.portfolios))
    if unlimited:
        raise LimitInputError(f"no limits configured for portfolio(s) {unlimited}")
    keys = ["date", "portfolio", "measure", "horizon_days", "confidence"]
    keyed = measures.assign(date=pd.to_datetime(measures["date"]),
                            confidence=measures["confidence"].astype(float).round(10),
                            horizon_days=measures["horizon_days"].astype("int64"))
    dup = keyed.duplicated(keys)
    if dup.any():
        raise LimitInputError(f"measures has duplicate rows: {keyed.loc[dup, keys].head(3).values.tolist()}")
    table = pd.DataFrame(
        [(name, lim.measure, int(lim.horizon_days), round(float(lim.confidence), 10), float(lim.amount))
         for name in names for lim in limits.portfolios[name]],
        columns=["portfolio", "measure", "horizon_days", "confidence", "limit_amount"],
    ).astype({"portfolio": object, "measure": object, "horizon_days": "int64"})
    days = pd.DataFrame({"date": pd.DatetimeIndex(sorted(keyed["date"].unique()) if dates is None else dates)})
    rows = days.merge(table, how="cross").merge(keyed[list(MEASURE_COLUMNS)], on=keys, how="left")
    rows = rows.astype({"value": float, "limit_amount": float, "confidence": float})
    rows["utilization"] = rows["value"] / rows["limit_amount"]
    rows["status"] = classify(rows["value"].to_numpy(), rows["limit_amount"].to_numpy(), frac)
    rows["method"] = rows["method"].fillna("none").astype(object)
    rows = rows.sort_values(["date", "portfolio"], kind="stable").reset_index(drop=True)
    return LimitReport(rows=rows[list(LIMIT_STATUS_COLUMNS)])


def _overall(rows: pd.DataFrame) -> pd.DataFrame:
    """Per date and portfolio: the worst status (no_data only when every limit lacks data)."""
    severity = rows["status"].map(STATUSES.index)
    grouped = rows.assign(_severity=severity, _warning=rows["status"].eq(LimitStatus.WARNING),
                          _danger=rows["status"].eq(LimitStatus.DANGER)).groupby(["date", "portfolio"], sort=True)
    frame = grouped.agg(_severity=("_severity", "max"), max_utilization=("utilization", "max"),
                        n_limits=("status", "size"), n_warning=("_warning", "sum"), n_danger=("_danger", "sum"))
    frame = frame.reset_index()
    # int64 also when there are no rows (a day without prices): pandas gives an empty aggregate float dtype
    frame["status"] = np.asarray(STATUSES, dtype=object)[frame["_severity"].to_numpy(dtype=np.int64)]
    return frame[list(OVERALL_STATUS_COLUMNS)].astype({"portfolio": object, "status": object, "max_utilization": float,
                                                       "n_limits": "int64", "n_warning": "int64", "n_danger": "int64"})


def long_measures(amounts: pd.DataFrame, method: str) -> pd.DataFrame:
    """The ``measures`` of :func:`evaluate_limits` from rows of VaR/ES amounts: columns date,
    portfolio, horizon_days, confidence, var_amount, es_amount become measure "var" / "es" with ``method``."""
    need = {"date", "portfolio", "confidence", "horizon_days", "var_amount", "es_amount"}
    if not need <= set(amounts.columns):
        raise LimitInputError(f"{method} amounts lack columns {sorted(need - set(amounts.columns))}")
    parts = [
        amounts[["date", "portfolio", "horizon_days", "confidence", col]].rename(columns={col: "value"}).assign(measure=m)
        for m, col in (("var", "var_amount"), ("es", "es_amount"))
    ]
    return pd.concat(parts, ignore_index=True).assign(method=method)[list(MEASURE_COLUMNS)]


def position_var_es(returns: np.ndarray, held: np.ndarray, ends: np.ndarray, *, window: int,
                    confidences: tuple[float, ...], horizons: tuple[int, ...],
                    scenarios: Mapping[int, ScenarioReturns] | None = None,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES amounts of positions by historical simulation (:data:`LIMIT_METHOD`, module docstring).

    ``returns``: daily simple returns in base currency, shape ``(T, n)`` (rows dates ascending,
    columns symbols); ``held``: base-currency exposures, shape ``(m, n)``; ``ends``: for each row of
    ``held``, the index of the first return row after its window (the window is the rows
    ``end - window .. end - 1``; ``end == T`` for the day after the last return). Returns ``(var, es)``
    of shape ``(m, len(confidences), len(horizons))``, NaN where the window starts before the
    first row or holds a NaN return of a symbol with a non-zero (or NaN) exposure. ``scenarios``: per
    column index, the scenario returns of an instrument repriced for each window (``f(ends, window)``,
    shape ``(len(ends), window)``: a bond instrument's yield moves applied to the bond held,
    :data:`ScenarioReturns`, the VaR engine's) in place of its past returns; its
    h-day scenario compounds h consecutive ones, as its returns would be.
    """
    returns, held = np.asarray(returns, dtype=float), np.asarray(held, dtype=float)
    ends = np.asarray(ends, dtype=np.int64)
    if returns.ndim != 2 or held.ndim != 2 or returns.shape[1] != held.shape[1] or ends.shape != held.shape[:1]:
        raise LimitInputError(f"returns {returns.shape}, held {held.shape} and ends {ends.shape} do not match")
    if min(horizons) < 1 or max(horizons) >= window:
        raise LimitInputError(f"horizons {horizons} must lie in 1..window-1={window - 1} (two scenarios at least)")
    var = np.full((len(held), len(confidences), len(horizons)), np.nan)
    es = var.copy()
    rows = np.flatnonzero((ends >= window) & (ends <= len(returns)))
    if not len(rows):
        return var, es
    exposures = held[rows]
    repriced = {i: f(ends[rows], window) for i, f in (scenarios or {}).items()}
    for k, h in enumerate(horizons):
        grown = compound_returns(returns.T, h).T  # row s: the h-day return of the days s .. s+h-1
        pnl = np.zeros((len(rows), window - h + 1))
        unknown = np.isnan(exposures).any(axis=1)
        for i in range(returns.shape[1]):
            if i in repriced:
                scenarios_i = np.prod(sliding_window_view(1.0 + repriced[i], h, axis=1), axis=-1) - 1.0
            else:
                scenarios_i = sliding_window_view(grown[:, i], window - h + 1)[ends[rows] - window]
            used = exposures[:, i] != 0.0
            unknown |= used & np.isnan(scenarios_i).any(axis=1)
            pnl += np.where(used[:, None], np.nan_to_num(scenarios_i) * np.nan_to_num(exposures[:, i])[:, None], 0.0)
        known = ~unknown
        losses = np.sort(-pnl[known], axis=1)
        var[rows[known], :, k], es[rows[known], :, k] = sorted_tail_var_es(losses, tuple(confidences))
    return var, es


def pre_trade_check(
    asset_returns_history: pd.DataFrame,
    current_positions: pd.Series,
    proposed_trade: pd.Series,
    limits: LimitsConfig,
    *,
    portfolio: str,
    lookback: int = 250,
    warning_fraction: float | None = None,
) -> PreTradeResult:
    """Does ``portfolio`` stay within its limits after ``proposed_trade``?

    ``asset_returns_history``: daily base-currency simple returns up to yesterday (rows dates
    ascending, columns symbols); the last ``lookback`` rows are the scenarios.
    ``current_positions`` and ``proposed_trade``: base-currency exposures by symbol (a trade
    adds to the position; a sale is negative). VaR and ES for every limit of the portfolio
    before and after, by historical simulation (module docstring).
    """
    if portfolio not in limits.portfolios:
        raise LimitInputError(f"no limits configured for portfolio {portfolio!r}")
    if lookback < 1 or len(asset_returns_history) < lookback:
        raise LimitInputError(f"lookback={lookback} needs at least that many rows of asset_returns_history "
                              f"(got {len(asset_returns_history)})")
    frac = limits.warning_fraction if warning_fraction is None else float(warning_fraction)
    before = current_positions.astype(float)
    after = before.add(proposed_trade.astype(float), fill_value=0.0)
    missing = sorted(set(after.index) - set(asset_returns_history.columns))
    if missing:
        raise LimitInputError(f"asset_returns_history has no column for position(s) {missing}")
    window = asset_returns_history.iloc[-lookback:][list(after.index)].to_numpy(dtype=float)
    held = np.vstack([before.reindex(after.index).fillna(0.0).to_numpy(), after.to_numpy()])
    records = []
    for lim in limits.portfolios[portfolio]:
        var, es = position_var_es(window, held, np.array([lookback, lookback]), window=lookback,
                                  confidences=(lim.confidence,), horizons=(lim.horizon_days,))
        values = (var if lim.measure == "var" else es)[:, 0, 0]
        if np.isnan(values).any():
            raise LimitInputError(f"the {lookback} days of returns before the check hold a NaN for a position of "
                                  f"{portfolio!r}")
        records.append((lim.measure, lim.horizon_days, lim.confidence, lim.amount, *values))
    rows = pd.DataFrame(records, columns=["measure", "horizon_days", "confidence", "limit_amount", "value_before",
                                          "value_after"])
    for when in ("before", "after"):
        rows[f"utilization_{when}"] = rows[f"value_{when}"] / rows["limit_amount"]
    for when in ("before", "after"):
        rows[f"status_{when}"] = classify(rows[f"value_{when}"].to_numpy(), rows["limit_amount"].to_numpy(), frac)
    status_after = _worst(list(rows["status_after"]))
    return PreTradeResult(
        portfolio=portfolio,
        stays_within_limits=status_after != LimitStatus.DANGER,
        status_before=_worst(list(rows["status_before"])),
        status_after=status_after,
        rows=rows[list(PRE_TRADE_COLUMNS)],
    )
