"""Stress, reverse stress and historical replay for every date of a history at once.

The single-date functions of :mod:`risk_pipeline.risk.stress.scenarios`, :mod:`~risk_pipeline.risk.stress.reverse`
and :mod:`~risk_pipeline.risk.stress.replay` give the numbers for one set of positions; a backfill needs them
for the positions held on each of thousands of dates (constant for a weight book, drifting for a
quantity book). Everything here is linear in the exposures, so one matrix product serves all dates.
With held exposures ``E`` (dates x positions, base currency), held values ``V`` (dates) and, per
scenario j, equity shocks ``s_j`` and FX returns ``f_j`` per position (zero for base-currency
positions):

    G_j(k)        = (1 + k s_j)^+ (1 + k f_j)^+ - 1                (positions; k = shock multiplier)
    pnl_{t,j}     = E_t . G_j(1),            simple_return_{t,j} = pnl_{t,j} / V_t
    loss_{t,j}(k) = -E_t . G_j(k)            reverse stress: smallest k in the bracket with
                                             loss_{t,j}(k) >= target_fraction V_t, by the grid scan
                                             and bisection of :func:`~risk_pipeline.risk.stress.reverse.solve_multiplier`
                                             run for all dates and scenarios together (same grid,
                                             same steps per scenario)
    replay path   = (prod_{s<=d}(1 + R_s) - 1) @ E_t'              (episode days d x dates t)

These are the formulas of the single-date modules (their docstrings cite the sources: BCBS 2009
"Principles for sound stress testing practices and supervision"; Jorion, "Value at Risk", 3rd ed.,
ch. 14; Press et al., "Numerical Recipes", sec. 9.1), evaluated as matrix products; the tests
check them against those functions date by date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipeline.risk.stress.reverse import solve_multiplier
from risk_pipeline.risk.stress.scenarios import (
    HistoricalScenario,
    Scenario,
    ScenarioShocks,
    StressInputError,
    episode_window,
    fill_with_beta_proxy,
    fx_per_position,
    scenario_shocks,
)

STRESS_GRID_COLUMNS: tuple[str, ...] = ("date", "scenario", "pnl", "simple_return", "proxied")
REVERSE_GRID_COLUMNS: tuple[str, ...] = ("date", "scenario", "target_loss", "multiplier", "feasible",
                                         "achieved_loss", "iterations")
REPLAY_GRID_COLUMNS: tuple[str, ...] = ("date", "episode", "worst_date", "worst_cum_pnl", "worst_cum_return",
                                        "final_cum_return", "n_days", "proxied")


@dataclass(frozen=True)
class HeldBook:
    """Positions held over each date: ``exposures`` (dates x symbols, base currency) and
    ``values`` (dates), with each symbol's currency (``currency_of``) and the base currency.
    Dates with a NaN exposure or value are skipped by every function here."""

    exposures: pd.DataFrame
    values: pd.Series
    currency_of: Mapping[str, str]
    base_currency: str

    def __post_init__(self) -> None:
        if not self.exposures.index.equals(self.values.index):
            raise StressInputError("HeldBook: exposures and values must have the same dates")
        missing = [s for s in self.exposures.columns if s not in self.currency_of]
        if missing:
            raise StressInputError(f"HeldBook: no currency for position(s) {missing}")

    def complete(self) -> np.ndarray:
        """Dates with every exposure and the value known."""
        return np.isfinite(self.exposures.to_numpy(dtype=float)).all(axis=1) & np.isfinite(self.values.to_numpy(dtype=float))


def _shock_arrays(book: HeldBook, shocks: ScenarioShocks, positions: pd.Series | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Equity shock and FX return per position of ``book`` (the vectors s_j, f_j); ``positions``: a Series over the
    book's positions (made once for its scenarios)."""
    missing = [s for s in book.exposures.columns if s not in shocks.equity.index]
    if missing:
        raise StressInputError(f"scenario {shocks.scenario!r} has no equity shock for {missing}")
    equity = shocks.equity
    columns = book.exposures.columns
    # a book's shared shocks are over its own positions already (share_scenarios): no lookup then
    s = (equity if equity.index.equals(columns) else equity[columns]).to_numpy(dtype=float)
    if positions is None:
        positions = pd.Series(0.0, index=columns)
    f = fx_per_position(positions, shocks, book.currency_of, book.base_currency)
    return s, f


def _growth(s: np.ndarray, f: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``G(k) = (1 + k s)^+ (1 + k f)^+ - 1`` for multipliers ``k`` (shape (..., 1)) -> (..., p)."""
    return np.maximum(1.0 + k * s, 0.0) * np.maximum(1.0 + k * f, 0.0) - 1.0


def _proxied(book: HeldBook, shocks: ScenarioShocks) -> bool:
    return any(s in shocks.proxied or book.currency_of.get(s) in shocks.proxied for s in book.exposures.columns)


def stress_grid(book: HeldBook, scenarios: Sequence[ScenarioShocks], available: np.ndarray | None = None) -> pd.DataFrame:
    """Scenario P&L and return of the held positions on every date (module docstring).

    ``available`` (dates x scenarios, bool) marks which scenario may be reported on which date
    (e.g. a historical scenario only after its window ended); default all. Columns
    :data:`STRESS_GRID_COLUMNS`, one row per complete date and available scenario.
    """
    n_dates, n_sc = len(book.exposures), len(scenarios)
    avail = _available(available, n_dates, n_sc)
    if n_sc == 0:
        return _empty(STRESS_GRID_COLUMNS)
    e = np.nan_to_num(book.exposures.to_numpy(dtype=float))
    v = book.values.to_numpy(dtype=float)
    positions = pd.Series(0.0, index=book.exposures.columns)
    growth = np.stack([_growth(*_shock_arrays(book, sc, positions), np.array(1.0)) for sc in scenarios], axis=1)  # (p, S)
    pnl = e @ growth
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.where(v[:, None] != 0.0, pnl / v[:, None], np.nan)
    keep = avail & book.complete()[:, None]
    t_idx, j_idx = np.nonzero(keep)
    proxied = np.array([_proxied(book, sc) for sc in scenarios], dtype=bool)
    names = np.array([sc.scenario for sc in scenarios], dtype=object)
    return pd.DataFrame({"date": book.exposures.index[t_idx], "scenario": names[j_idx], "pnl": pnl[t_idx, j_idx],
                         "simple_return": ret[t_idx, j_idx], "proxied": proxied[j_idx]},
                        columns=list(STRESS_GRID_COLUMNS))


def reverse_stress_grid(
    book: HeldBook,
    scenarios: Sequence[ScenarioShocks],
    available: np.ndarray | None = None,
    *,
    target_loss_fraction: float = 0.10,
    bracket: tuple[float, float] = (0.0, 10.0),
    n_grid: int = 41,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> pd.DataFrame:
    """Reverse stress of every scenario on every date with a positive held value.

    Target loss = ``target_loss_fraction`` x held value. Same grid scan and bisection as
    :func:`~risk_pipeline.risk.stress.reverse.solve_multiplier` (whose argument checks apply),
    vectorized over dates; infeasible rows have ``multiplier`` NaN and ``feasible`` False.
    Columns :data:`REVERSE_GRID_COLUMNS`.
    """
    if not target_loss_fraction > 0.0:
        raise StressInputError(f"target_loss_fraction must be > 0, got {target_loss_fraction!r}")
    # the scalar solver's own argument checks (bracket, n_grid), run once on a trivial function
    solve_multiplier(lambda k: 0.0, 1.0, bracket=bracket, n_grid=n_grid, tol=tol, max_iter=max_iter)
    n_dates, n_sc = len(book.exposures), len(scenarios)
    avail = _available(available, n_dates, n_sc)
    v = book.values.to_numpy(dtype=float)
    rows = book.complete() & (v > 0.0)
    e = np.nan_to_num(book.exposures.to_numpy(dtype=float))
    target = target_loss_fraction * v
    grid = np.linspace(float(bracket[0]), float(bracket[1]), n_grid)
    # the grid scan per scenario; then the bisection of every scenario's rows at once, each scenario
    # stopping at its own step count (that of a loop over its rows alone: the same numbers, bit for bit)
    parts, inner_rows = [], []
    positions = pd.Series(0.0, index=book.exposures.columns)
    for j, sc in enumerate(scenarios):
        t = np.flatnonzero(rows & avail[:, j])
        if t.size == 0:
            continue
        s, f = _shock_arrays(book, sc, positions)
        et, tg = e[t], target[t]
        losses = -(et @ _growth(s, f, grid[:, None]).T)  # (dates, grid)
        reached = losses >= tg[:, None]
        feasible = reached.any(axis=1)
        first = np.argmax(reached, axis=1)
        mult = np.where(feasible, grid[first], np.nan)
        achieved = np.where(feasible, losses[np.arange(t.size), first], np.nan)
        iterations = np.zeros(t.size, dtype=np.int64)
        inner = np.flatnonzero(feasible & (first > 0))
        parts.append((t, sc.scenario, tg, mult, feasible, achieved, iterations))
        inner_rows.append((len(parts) - 1, inner, s, f, et[inner], tg[inner], grid[first[inner] - 1],
                           grid[first[inner]], achieved[inner]))
    _bisect([r for r in inner_rows if r[1].size], parts, tol, max_iter)
    if not parts:
        return _empty(REVERSE_GRID_COLUMNS)
    t = np.concatenate([part[0] for part in parts])
    return pd.DataFrame({"date": book.exposures.index[t],
                         "scenario": np.repeat(np.array([part[1] for part in parts], dtype=object),
                                               [part[0].size for part in parts]),
                         "target_loss": np.concatenate([part[2] for part in parts]),
                         "multiplier": np.concatenate([part[3] for part in parts]),
                         "feasible": np.concatenate([part[4] for part in parts]),
                         "achieved_loss": np.concatenate([part[5] for part in parts]),
                         "iterations": np.concatenate([part[6] for part in parts])},
                        columns=list(REVERSE_GRID_COLUMNS))


def _bisect(groups: list[tuple], parts: list[tuple], tol: float, max_iter: int) -> None:
    """The bisection of :func:`reverse_stress_grid` on the rows whose grid scan bracketed the target,
    of every scenario at once: per scenario (``groups``: its part's index, its rows, shocks, held
    exposures and targets, the bracket and the loss at its top) the steps run while its widest
    bracket exceeds ``tol`` (at most ``max_iter``), as a loop over that scenario alone runs them;
    the multipliers, achieved losses and step counts are written into ``parts``."""
    if not groups:
        return
    sizes = [g[1].size for g in groups]
    group = np.repeat(np.arange(len(groups)), sizes)
    s = np.repeat(np.stack([g[2] for g in groups]), sizes, axis=0)
    f = np.repeat(np.stack([g[3] for g in groups]), sizes, axis=0)
    e_in, tg_in, lo, hi, hi_loss = (np.concatenate([g[k] for g in groups]) for k in (4, 5, 6, 7, 8))
    starts = np.cumsum([0] + sizes[:-1])
    steps = np.zeros(len(groups), dtype=np.int64)
    while True:
        running = (np.maximum.reduceat(hi - lo, starts) > tol) & (steps < max_iter)
        if not running.any():
            break
        r = np.flatnonzero(running[group])
        mid = 0.5 * (lo[r] + hi[r])
        mid_loss = -np.einsum("tp,tp->t", e_in[r], _growth(s[r], f[r], mid[:, None]))
        up = mid_loss >= tg_in[r]
        hi[r] = np.where(up, mid, hi[r])
        hi_loss[r] = np.where(up, mid_loss, hi_loss[r])
        lo[r] = np.where(up, lo[r], mid)
        steps[running] += 1
    for k, (part, inner, *_) in enumerate(groups):
        rows = group == k
        _, _, _, mult, _, achieved, iterations = parts[part]
        mult[inner], achieved[inner], iterations[inner] = hi[rows], hi_loss[rows], steps[k]


@dataclass(frozen=True)
class EpisodeReturns:
    """An episode's daily base-currency returns per position (missing days proxied) and the
    positions (or their currencies) that needed a proxy."""

    name: str
    returns: pd.DataFrame
    proxied: tuple[str, ...]


def episode_returns(
    name: str,
    start,
    end,
    local_history: pd.DataFrame,
    fx_history: pd.DataFrame | None,
    currency_of: Mapping[str, str],
    base_currency: str,
    *,
    market: str | None = "SP500",
) -> EpisodeReturns:
    """Daily base-currency returns ``(1 + r_local)(1 + r_fx) - 1`` of each position over [start, end].

    ``local_history``: local-currency returns (dates x symbols, with the ``market`` column),
    history up to the episode's end for the proxy betas; ``fx_history``: each foreign
    currency's return against the base (columns currencies). Missing days are filled as in
    :func:`~risk_pipeline.risk.stress.scenarios.calibrate_scenario` (beta x market for equities, no move
    for FX), so the episode's compounded returns equal the calibrated scenario's shocks.
    """
    symbols = list(currency_of)
    cols = symbols + ([market] if market is not None and market not in symbols else [])
    missing = [s for s in cols if s not in local_history.columns]
    if missing:
        raise StressInputError(f"episode {name!r}: local returns have no column for {missing}")
    history = local_history.loc[:, cols]
    window = episode_window(history, start, end)
    filled, proxied, _ = fill_with_beta_proxy(window, history, market)
    flagged = [s for s in symbols if proxied[s]]
    foreign = sorted({c for c in currency_of.values() if c != base_currency})
    fx_pos = pd.DataFrame(0.0, index=filled.index, columns=symbols)
    if foreign:
        if fx_history is None or any(c not in fx_history.columns for c in foreign):
            raise StressInputError(f"episode {name!r}: fx returns must hold columns {foreign}")
        fx_window = episode_window(fx_history.loc[:, foreign], start, end).reindex(filled.index)
        fx_filled, fx_proxied, _ = fill_with_beta_proxy(fx_window, fx_history.loc[:, foreign], None)
        flagged += [c for c in foreign if fx_proxied[c]]
        for sym in symbols:
            if currency_of[sym] != base_currency:
                fx_pos[sym] = fx_filled[currency_of[sym]].to_numpy()
    base = (1.0 + filled[symbols]) * (1.0 + fx_pos) - 1.0
    return EpisodeReturns(name, base, tuple(flagged))


def replay_grid(book: HeldBook, episodes: Sequence[EpisodeReturns], available: np.ndarray | None = None) -> pd.DataFrame:
    """Buy-and-hold replay of the held positions through each episode, for every date.

    Worst point = first minimum of the cumulative P&L path (as
    :func:`~risk_pipeline.risk.stress.replay.summarize_path`). Columns :data:`REPLAY_GRID_COLUMNS`.
    """
    n_dates, n_ep = len(book.exposures), len(episodes)
    avail = _available(available, n_dates, n_ep)
    e = np.nan_to_num(book.exposures.to_numpy(dtype=float))
    v = book.values.to_numpy(dtype=float)
    complete = book.complete()
    parts = []
    for j, ep in enumerate(episodes):
        t = np.flatnonzero(complete & avail[:, j])
        if t.size == 0:
            continue
        columns = book.exposures.columns  # a book's shared episodes are over its own positions (share_scenarios)
        r = (ep.returns if ep.returns.columns.equals(columns) else ep.returns.loc[:, list(columns)]).to_numpy(dtype=float)
        if not np.isfinite(r).all():
            raise StressInputError(f"episode {ep.name!r}: returns contain NaN (proxy them first)")
        cum = np.cumprod(1.0 + r, axis=0) - 1.0  # (days, p)
        path = cum @ e[t].T  # (days, dates)
        worst = np.argmin(path, axis=0)
        worst_pnl = path[worst, np.arange(t.size)]
        with np.errstate(invalid="ignore", divide="ignore"):
            worst_ret = np.where(v[t] != 0.0, worst_pnl / v[t], np.nan)
            final_ret = np.where(v[t] != 0.0, path[-1] / v[t], np.nan)
        proxied = any(s in ep.proxied or book.currency_of.get(s) in ep.proxied for s in book.exposures.columns)
        parts.append((t, ep.name, ep.returns.index[worst], worst_pnl, worst_ret, final_ret, len(r), proxied))
    if not parts:
        return _empty(REPLAY_GRID_COLUMNS)
    # one frame of every episode's rows (a frame per episode and a concat cost more than the numbers)
    sizes = [part[0].size for part in parts]
    return pd.DataFrame({"date": book.exposures.index[np.concatenate([part[0] for part in parts])],
                         "episode": np.repeat(np.array([part[1] for part in parts], dtype=object), sizes),
                         "worst_date": parts[0][2].append([part[2] for part in parts[1:]]),
                         "worst_cum_pnl": np.concatenate([part[3] for part in parts]),
                         "worst_cum_return": np.concatenate([part[4] for part in parts]),
                         "final_cum_return": np.concatenate([part[5] for part in parts]),
                         "n_days": np.repeat(np.array([part[6] for part in parts], dtype=np.int64), sizes),
                         "proxied": np.repeat(np.array([part[7] for part in parts], dtype=bool), sizes)},
                        columns=list(REPLAY_GRID_COLUMNS))


def _available(available: np.ndarray | None, n_dates: int, n_sc: int) -> np.ndarray:
    if available is None:
        return np.ones((n_dates, n_sc), dtype=bool)
    avail = np.asarray(available, dtype=bool)
    if avail.shape != (n_dates, n_sc):
        raise StressInputError(f"available must have shape ({n_dates}, {n_sc}), got {avail.shape}")
    return avail


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns}, columns=list(columns))


@dataclass(frozen=True)
class ResolvedScenarios:
    """A book's scenarios ready for the grids: the shocks and, per date, whether each may be
    reported on it (``available``: dates x shocks); the historical episodes likewise."""

    shocks: tuple[ScenarioShocks, ...]
    available: np.ndarray
    episodes: tuple[EpisodeReturns, ...]
    episodes_available: np.ndarray


def resolve_scenarios(
    book: HeldBook,
    scenarios: Sequence[Scenario],
    windows: Mapping[str, tuple[pd.DataFrame, pd.DataFrame | None]],
    *,
    market: str | None = "SP500",
) -> ResolvedScenarios:
    """Shocks of every scenario on the book's positions, and the episodes of the historical ones.

    ``windows[name]`` holds, for a historical scenario, the local returns (days x symbols, with the
    ``market`` column) over the days before its window (for proxy betas) and the window itself, and
    the returns of the book's foreign currencies against its base over the same days (None when it
    has none); a historical scenario without an entry (its window is not stored) is left out.
    No look-ahead: a historical scenario and its episode are available on date t only when the
    window ended before t; the others on every date.
    """
    symbols = list(book.exposures.columns)
    foreign = _foreign(book)
    shocks, episodes = [], []
    for scenario in scenarios:
        if isinstance(scenario, HistoricalScenario):
            if scenario.name not in windows:
                continue
            local, fx = windows[scenario.name]
            shocks.append(scenario_shocks(scenario, symbols, foreign_currencies=foreign, asset_returns=local,
                                          fx_returns=fx, market=market))
            episodes.append(episode_returns(scenario.name, scenario.start, scenario.end, local, fx, book.currency_of,
                                            book.base_currency, market=market))
        else:
            shocks.append(scenario_shocks(scenario, symbols, foreign_currencies=foreign))
    return _with_dates(book, scenarios, tuple(shocks), tuple(episodes))


def share_scenarios(book: HeldBook, scenarios: Sequence[Scenario], shared: ResolvedScenarios) -> ResolvedScenarios:
    """:func:`resolve_scenarios` of ``book`` taken from ``shared``, the same scenarios resolved for a book
    holding (at least) the book's positions in the same currencies and base -- e.g. the union of
    several books, without dates -- so each scenario is calibrated once for all of them.

    The calibration is per symbol and per currency (cumulative return over the window, proxy beta
    of the symbol on the market, FX without proxy): restricting the shared shocks and episodes to
    the book's positions gives the same numbers as calibrating on the book alone.
    """
    symbols = list(book.exposures.columns)
    foreign = _foreign(book)

    def flags(proxied: tuple[str, ...]) -> tuple[str, ...]:
        named = set(proxied)
        return tuple([s for s in symbols if s in named] + [c for c in foreign if c in named])

    equity, fx, columns = _Take(symbols), _Take(foreign), _Take(symbols)
    shocks = tuple(ScenarioShocks(sc.scenario, equity(sc.equity), fx(sc.fx), flags(sc.proxied))
                   for sc in shared.shocks)
    episodes = tuple(EpisodeReturns(ep.name, columns.columns(ep.returns), flags(ep.proxied))
                     for ep in shared.episodes)
    return _with_dates(book, scenarios, shocks, episodes)


class _Take:
    """``series[labels]`` (``frame.loc[:, labels]``) of many Series (frames) over equal indexes (columns): the shared
    scenarios' shocks and episodes, each over the union's symbols. The positions of ``labels`` are looked up once
    per distinct index, not once per Series: the same Series (frames), their values, index and names."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.index: pd.Index | None = None
        self.positions: np.ndarray | None = None
        self.taken: pd.Index | None = None

    def _found(self, index: pd.Index) -> bool:
        """Whether the positions of ``labels`` in ``index`` are known (looked up now if need be); False when
        one is missing (the caller's lookup raises its own error)."""
        if self.index is not None and index.equals(self.index) and index.dtype == self.index.dtype:
            return True
        positions = index.get_indexer(self.labels) if index.is_unique else None
        if positions is None or (positions < 0).any():
            return False
        self.index, self.positions, self.taken = index, positions, None
        return True

    def __call__(self, series: pd.Series) -> pd.Series:
        if not self._found(series.index):
            return series[self.labels]
        if self.taken is None or self.taken.name != series.index.name:
            self.taken = series.index.take(self.positions)
        return pd.Series(series.to_numpy()[self.positions], index=self.taken, name=series.name)

    def columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.take(self.positions, axis=1) if self._found(frame.columns) else frame.loc[:, self.labels]


def _foreign(book: HeldBook) -> list[str]:
    return sorted({c for c in book.currency_of.values() if c != book.base_currency})


def _with_dates(book: HeldBook, scenarios: Sequence[Scenario], shocks: tuple[ScenarioShocks, ...],
                episodes: tuple[EpisodeReturns, ...]) -> ResolvedScenarios:
    """The resolved ``shocks`` and ``episodes`` with the book's dates on which each may be reported."""
    dates = book.exposures.index.date
    ends = {sc.name: sc.end for sc in scenarios if isinstance(sc, HistoricalScenario)}

    def stack(names: list[str]) -> np.ndarray:
        columns = [np.asarray(dates > ends[n]) if n in ends else np.ones(len(dates), dtype=bool) for n in names]
        return np.stack(columns, axis=1) if columns else np.zeros((len(dates), 0), dtype=bool)

    return ResolvedScenarios(shocks, stack([sc.scenario for sc in shocks]), episodes,
                             stack([ep.name for ep in episodes]))
