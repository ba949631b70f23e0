"""Historical replay: today's positions through an episode's actual daily returns.

Buy and hold from the episode's first day (no rebalancing, as a desk that keeps its book
through the episode): with base-currency exposures ``E_i`` and the episode's daily simple
returns ``r_{i,t}`` (base currency; for foreign assets convert first with
:func:`risk_pipeline.risk.instruments.fx.to_base_returns`),

    G_{i,t}        = prod_{s <= t} (1 + r_{i,s})
    cum_pnl_t      = sum_i E_i (G_{i,t} - 1)
    cum_return_t   = cum_pnl_t / V                  V = portfolio value (default sum E_i)

The worst point is the date of the minimum ``cum_pnl_t`` (first such date on ties); if the
path never goes below zero it is the smallest gain. Missing returns are proxied exactly as
in historical scenario calibration (:func:`risk_pipeline.risk.stress.scenarios.fill_with_beta_proxy`)
and flagged. The final point of the path equals the historical scenario's P&L
(:mod:`risk_pipeline.risk.stress.scenarios`) for equity positions.

Source: historical scenario analysis, e.g. Jorion, "Value at Risk" (3rd ed.), ch. 14
("Stress testing"), and BCBS (2009) "Principles for sound stress testing practices".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipeline.risk.stress.scenarios import (
    HistoricalScenario,
    StressInputError,
    episode_window,
    fill_with_beta_proxy,
    results_frame,
)

REPLAY_COLUMNS: tuple[str, ...] = ("episode", "worst_date", "worst_cum_pnl", "worst_cum_return", "final_cum_return",
                                   "n_days", "proxied")
"""Columns of :func:`replay_episodes` (the caller adds date and portfolio)."""

PATH_COLUMNS: tuple[str, ...] = ("date", "cum_pnl", "cum_return")
"""Columns of :func:`replay_path`."""


@dataclass(frozen=True)
class ReplaySummary:
    """Worst and final point of one replayed episode."""

    episode: str
    worst_date: dt.date
    worst_cum_pnl: float
    worst_cum_return: float
    final_cum_return: float
    n_days: int
    proxied: bool


def replay_path(exposures: pd.Series, episode_returns: pd.DataFrame, *, portfolio_value: float | None = None
                ) -> pd.DataFrame:
    """Cumulative P&L path (columns :data:`PATH_COLUMNS`) of buy-and-hold ``exposures``.

    ``episode_returns``: rows the episode's trading days (ascending), columns at least the
    symbols of ``exposures``, complete (no NaN; proxy first, see :func:`replay_episodes`).
    """
    missing = [s for s in exposures.index if s not in episode_returns.columns]
    if missing:
        raise StressInputError(f"episode returns have no column for {missing}")
    r = episode_returns.loc[:, list(exposures.index)].to_numpy(dtype=float)
    if not np.isfinite(r).all():
        bad = episode_returns.loc[:, list(exposures.index)].columns[~np.isfinite(r).all(axis=0)].tolist()
        raise StressInputError(f"episode returns contain NaN for {bad}")
    e = exposures.to_numpy(dtype=float)
    value = float(e.sum()) if portfolio_value is None else float(portfolio_value)
    cum_pnl = (np.cumprod(1.0 + r, axis=0) - 1.0) @ e
    with np.errstate(invalid="ignore", divide="ignore"):
        cum_return = cum_pnl / value if value != 0.0 else np.full_like(cum_pnl, np.nan)
    return pd.DataFrame({"date": episode_returns.index, "cum_pnl": cum_pnl, "cum_return": cum_return},
                        columns=list(PATH_COLUMNS))


def summarize_path(episode: str, path: pd.DataFrame, *, proxied: bool = False) -> ReplaySummary:
    """Worst point (minimum cumulative P&L, first on ties) and final return of a path."""
    if path.empty:
        raise StressInputError(f"episode {episode!r}: empty replay path")
    i = int(np.argmin(path["cum_pnl"].to_numpy()))
    return ReplaySummary(
        episode=episode,
        worst_date=pd.Timestamp(path["date"].iloc[i]).date(),
        worst_cum_pnl=float(path["cum_pnl"].iloc[i]),
        worst_cum_return=float(path["cum_return"].iloc[i]),
        final_cum_return=float(path["cum_return"].iloc[-1]),
        n_days=len(path),
        proxied=proxied,
    )


def episode_path(exposures: pd.Series, asset_returns: pd.DataFrame, episode: HistoricalScenario, *,
                 market: str | None = "SP500", portfolio_value: float | None = None) -> tuple[pd.DataFrame, bool]:
    """The replay path of one episode from the full return history, missing days proxied.

    Returns ``(path, proxied)``. ``asset_returns`` must cover the episode (as for
    :func:`risk_pipeline.risk.stress.scenarios.calibrate_scenario`; see :func:`~risk_pipeline.risk.stress.scenarios.episode_window`).
    """
    symbols = list(exposures.index)
    cols = symbols + ([market] if market is not None and market not in symbols else [])
    missing = [s for s in cols if s not in asset_returns.columns]
    if missing:
        raise StressInputError(f"episode {episode.name!r}: asset_returns has no column for {missing}")
    history = asset_returns.loc[:, cols]
    window = episode_window(history, episode.start, episode.end)
    filled, proxied, _ = fill_with_beta_proxy(window, history, market)
    path = replay_path(exposures, filled, portfolio_value=portfolio_value)
    return path, bool(proxied[symbols].any())


def replay_episodes(exposures: pd.Series, asset_returns: pd.DataFrame, episodes: Sequence[HistoricalScenario], *,
                    market: str | None = "SP500", portfolio_value: float | None = None) -> pd.DataFrame:
    """One summary row per episode (columns :data:`REPLAY_COLUMNS`)."""
    rows = []
    for ep in episodes:
        path, proxied = episode_path(exposures, asset_returns, ep, market=market, portfolio_value=portfolio_value)
        rows.append(summarize_path(ep.name, path, proxied=proxied))
    return results_frame(rows, {"episode": ("episode", object), "worst_date": ("worst_date", object),
                                "worst_cum_pnl": ("worst_cum_pnl", float), "worst_cum_return": ("worst_cum_return", float),
                                "final_cum_return": ("final_cum_return", float), "n_days": ("n_days", "int64"),
                                "proxied": ("proxied", bool)})
