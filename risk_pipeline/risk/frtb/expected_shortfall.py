"""Current and stressed liquidity-adjusted ES of a book, and IMES (MAR33.4, MAR33.5).

For each day t (the convention of docs/design.md: the figure stored for day t is built from
the positions held over t, i.e. the close of t-1, and returns up to t-1):

* current ES (MAR33.5(1)-(2), "the most recent 12-month observation period"): the ES at
  97.5% of the losses of the W - T + 1 overlapping 10-day scenarios of the W = 250 daily
  returns before t (:mod:`risk_pipeline.risk.frtb.scenarios`), for every subset of factors the
  cascade of MAR33.4 needs (:func:`risk_pipeline.risk.frtb.liquidity.liquidity_adjusted_es`);
* stressed ES (MAR33.5(2)): the same on the 250-day window, inside a configured search range,
  that maximizes the liquidity-adjusted ES of the reduced set of factors for the positions of
  the selection day. The window is selected on the first trading day of each calendar
  quarter (from that day's positions and the returns before it) and held for the quarter's
  days, so that one new day gives what a backfill gives and the search does not run daily.
  The per-class figures (MAR33.15's IMCC(C_i)) use the same window;
* IMES = ES_{R,S} * ES_{F,C} / ES_{R,C} (:func:`risk_pipeline.risk.frtb.capital.imes`).

ES of a sample of losses: the definition of :func:`risk_pipeline.risk.var.tail.tail_var_es`
(mean of the losses at or beyond the linear-interpolation quantile), evaluated on rows sorted as far as
it reads them (:func:`~risk_pipeline.risk.var.sorted_tail.sort_tail`: the tail) by
:func:`risk_pipeline.risk.var.sorted_tail.sorted_tail_var_es`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from risk_pipeline.risk.frtb.capital import imes
from risk_pipeline.risk.frtb.liquidity import BASE_HORIZON_DAYS, ES_CONFIDENCE, LIQUIDITY_HORIZONS, liquidity_adjusted_es
from risk_pipeline.risk.frtb.scenarios import RISK_CLASSES, FactorBook, Shock, scenario_growth, shock, ten_day_returns
from risk_pipeline.risk.var.sorted_tail import sort_tail, sorted_tail_var_es

OBSERVATION_DAYS = 250
"""MAR33.5: 12-month observation periods (current and stressed), in trading days."""
CLASS_ALL = "all"
ES_COLUMNS = [
    "date", "risk_class", "es_unadjusted", "es_full_current", "es_reduced_current", "es_reduced_stressed", "imes",
    "stress_start", "stress_end",
]
_CHUNK_CELLS = 2_000_000


@dataclass(frozen=True)
class StressSearch:
    """The range whose 250-day windows are candidates for the stressed period (MAR33.5(2));
    ``None`` ends: the book's first day / the day before the selection day."""

    start: dt.date | None = None
    end: dt.date | None = None


def _es_of_rows(losses: np.ndarray) -> np.ndarray:
    """ES at 97.5% of each row of ``losses`` (rows with NaN give NaN)."""
    out = np.full(losses.shape[0], np.nan)
    ok = ~np.isnan(losses).any(axis=1)
    if ok.any():
        rows = losses[ok]  # a copy, sorted as far as the ES reads it (its tail)
        sort_tail(rows, (ES_CONFIDENCE,))
        out[ok] = sorted_tail_var_es(rows, (ES_CONFIDENCE,))[1][:, 0]
    return out


class _Scenarios:
    """The 10-day scenario growth of a book for each shock, computed once per distinct shock.

    A position with no return on some day of a scenario (before its history starts) makes the
    scenario missing for that position: a window that holds such a scenario for a position
    with a non-zero exposure has no ES (NaN); positions not held (exposure 0 or unknown) are
    left out."""

    def __init__(self, book: FactorBook) -> None:
        equity = ten_day_returns(book.equity_returns)
        fx = ten_day_returns(book.fx_returns)
        missing = np.isnan(equity) | np.isnan(fx)
        self.equity, self.fx = np.nan_to_num(equity), np.nan_to_num(fx)
        self.n = equity.shape[0]
        self._missing_cum = np.vstack([np.zeros((1, missing.shape[1])), np.cumsum(missing, axis=0)])
        self._cache: dict[bytes, np.ndarray] = {}

    def growth(self, s: Shock) -> np.ndarray | None:
        """(scenarios x positions) growth under ``s``; None when ``s`` shocks nothing (ES 0)."""
        if not (s.equity.any() or s.fx.any()):
            return None
        key = np.concatenate([s.equity, s.fx]).tobytes()
        if key not in self._cache:
            self._cache[key] = scenario_growth(self.equity, self.fx, s)
        return self._cache[key]

    def complete(self, starts: np.ndarray, n_scen: int, exposures: np.ndarray) -> np.ndarray:
        """Whether scenarios ``s .. s + n_scen - 1`` are complete for every held position (per row)."""
        ok = (starts >= 0) & (starts + n_scen <= self.n)
        s = np.where(ok, starts, 0)
        counts = self._missing_cum[np.minimum(s + n_scen, self.n)] - self._missing_cum[s]
        return ok & ((counts * (exposures != 0)).sum(axis=-1) == 0)


def _window_es(scen: _Scenarios, growth: np.ndarray | None, exposures: np.ndarray, starts: np.ndarray,
               n_scen: int) -> np.ndarray:
    """ES of -(growth[s : s + n_scen] @ e) for each (s, e) of ``starts`` and ``exposures`` rows
    (exposures without NaN); 0 for a shock of nothing; NaN where the window is not complete."""
    out = np.full(len(starts), np.nan)
    ok = scen.complete(starts, n_scen, exposures) & exposures.any(axis=1)  # no positions: no ES
    if growth is None or not ok.any():  # no shock, or no full window (then the history is too short for one)
        out[ok] = 0.0
        return out
    view = sliding_window_view(growth, n_scen, axis=0)  # (n10 - n_scen + 1, positions, n_scen)
    rows = np.flatnonzero(ok)
    step = max(1, _CHUNK_CELLS // (n_scen * growth.shape[1]))
    for i in range(0, len(rows), step):
        chunk = rows[i:i + step]
        pnl = np.einsum("dpk,dp->dk", view[starts[chunk]], exposures[chunk])
        out[chunk] = _es_of_rows(-pnl)
    return out


def _cascade(scen: _Scenarios, book: FactorBook, exposures: np.ndarray, starts: np.ndarray, n_scen: int,
             risk_class: str | None, reduced: bool) -> tuple[np.ndarray, np.ndarray]:
    """(ES_T(P) with every factor of the subset shocked, liquidity-adjusted ES) per row."""
    by_horizon = np.stack([
        _window_es(scen, scen.growth(shock(book, min_horizon=lh, risk_class=risk_class, reduced=reduced)),
                   exposures, starts, n_scen)
        for lh in LIQUIDITY_HORIZONS
    ], axis=-1)
    return by_horizon[:, 0], liquidity_adjusted_es(by_horizon)


def _candidate_es(scen: _Scenarios, book: FactorBook, exposure: np.ndarray, n_scen: int,
                  first: int, last: int) -> np.ndarray:
    """Liquidity-adjusted ES of the reduced set with positions ``exposure`` for every window
    start ``first..last`` (NaN where a window is not complete)."""
    starts = np.arange(first, last + 1)
    per_horizon = []
    for lh in LIQUIDITY_HORIZONS:
        growth = scen.growth(shock(book, min_horizon=lh, reduced=True))
        es = np.full(len(starts), np.nan)
        ok = scen.complete(starts, n_scen, exposure[None, :])
        if growth is None:
            es[ok] = 0.0
        else:
            windows = sliding_window_view(growth @ exposure, n_scen)
            idx = starts[ok]
            step = max(1, _CHUNK_CELLS // n_scen)
            values = np.concatenate([_es_of_rows(-windows[idx[i:i + step]]) for i in range(0, len(idx), step)] or [np.empty(0)])
            es[ok] = values
        per_horizon.append(es)
    return liquidity_adjusted_es(np.stack(per_horizon, axis=-1))


def select_stress_window(candidate_es: np.ndarray) -> int | None:
    """Index of the largest candidate ES (the first on ties; NaN skipped), None if there is none."""
    if len(candidate_es) == 0 or np.isnan(candidate_es).all():
        return None
    return int(np.nanargmax(candidate_es))


def _quarter_starts(dates: pd.DatetimeIndex) -> np.ndarray:
    """Row of the first trading day of each row's calendar quarter (from the dates' year and month:
    a conversion to quarterly periods and a group-by took 7 ms of a book's ES)."""
    quarter = dates.year.to_numpy() * 4 + (dates.month.to_numpy() - 1) // 3
    _, group = np.unique(quarter, return_inverse=True)
    first = np.full(len(dates), len(dates))
    np.minimum.at(first, group, np.arange(len(dates)))
    return first[group]


def book_es(book: FactorBook, days: pd.DatetimeIndex, search: StressSearch = StressSearch(),
            window: int = OBSERVATION_DAYS, stress_start: pd.Timestamp | None = None) -> pd.DataFrame:
    """Columns ``ES_COLUMNS`` for each of ``days`` (dates of the book) and risk class ``all`` and
    each class of ``RISK_CLASSES`` (module docstring). Amounts in the book's base currency.

    ``stress_start``: the first day of the stressed window of ``days``' quarter when it is known (the
    quarter's selection, as stored for an earlier day of it; NaT: the quarter has none) instead of
    selected again: then the book's dates need hold without a gap only that window and each day's current
    window, each with the day before its first (the dates elsewhere are not read)."""
    dates = pd.DatetimeIndex(book.exposures.index)
    rows = dates.get_indexer(pd.DatetimeIndex(days))
    if (rows < 0).any():
        raise ValueError(f"days not among the book's dates: {list(pd.DatetimeIndex(days)[rows < 0].date)[:3]}")
    n_scen = window - BASE_HORIZON_DAYS + 1
    scen = _Scenarios(book)
    exposures = np.nan_to_num(book.exposures.to_numpy(dtype=float))  # unknown exposure: not held
    held = exposures[rows]
    current_starts = rows - window  # scenario k compounds daily rows k..k+9; window rows t-W..t-1

    # stressed windows: one selection per quarter, from the positions of its first trading day
    lo_row = 0 if search.start is None else int(dates.searchsorted(pd.Timestamp(search.start)))
    stress_starts = np.full(len(rows), -1)
    first_of_quarter = _quarter_starts(dates)[rows]
    if stress_start is not None:
        if not pd.isna(stress_start):
            stress_starts[:] = dates.get_loc(pd.Timestamp(stress_start))
        first_of_quarter = first_of_quarter[:0]  # nothing to select
    for q_row in np.unique(first_of_quarter):
        hi_row = q_row - 1 if search.end is None else min(q_row - 1, int(dates.searchsorted(pd.Timestamp(search.end), "right")) - 1)
        # a window of daily rows [s, s + window) lies in [lo_row, hi_row]
        last = min(hi_row - window + 1, scen.n - n_scen)
        if last < lo_row or not exposures[q_row].any():
            continue
        best = select_stress_window(_candidate_es(scen, book, exposures[q_row], n_scen, lo_row, last))
        if best is not None:
            stress_starts[first_of_quarter == q_row] = lo_row + best
    # each day's stressed window's first and last date (NaT: none), taken from the dates at once
    stressed = stress_starts >= 0
    window_first = dates[np.where(stressed, stress_starts, 0)].where(stressed)
    window_last = dates[np.where(stressed, stress_starts + window - 1, 0)].where(stressed)
    frames = []
    for risk_class in (None, *RISK_CLASSES):
        es_unadjusted, full_current = _cascade(scen, book, held, current_starts, n_scen, risk_class, reduced=False)
        _, reduced_current = _cascade(scen, book, held, current_starts, n_scen, risk_class, reduced=True)
        _, reduced_stressed = _cascade(scen, book, held, stress_starts, n_scen, risk_class, reduced=True)
        frames.append(pd.DataFrame({
            "date": dates[rows],
            "risk_class": risk_class or CLASS_ALL,
            "es_unadjusted": es_unadjusted,
            "es_full_current": full_current,
            "es_reduced_current": reduced_current,
            "es_reduced_stressed": reduced_stressed,
            # a class the book does not hold: no ES at all, IMES 0 (not 0/0)
            "imes": np.where((full_current == 0.0) & (reduced_current == 0.0), 0.0,
                             imes(reduced_stressed, full_current, reduced_current)),
            "stress_start": window_first,
            "stress_end": window_last,
        }))
    return pd.concat(frames, ignore_index=True)[ES_COLUMNS]
