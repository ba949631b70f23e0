"""Stress testing: named scenarios and their P&L, reverse stress, historical replay, all dates at once.

- ``scenarios``: scenario kinds (historical window, uniform equity, sector, FX, calibrated),
  their shocks on a book (beta proxies for symbols without data) and the P&L of one book;
- ``reverse``: the smallest scenario multiplier that reaches a target loss;
- ``replay``: today's positions through an episode's actual daily returns;
- ``grid``: the three above for the positions held on every date of a history (one matrix
  product), and ``resolve_scenarios`` (which scenario may be reported on which date; ``share_scenarios``
  takes a book's part of a calibration done once for several books), what the
  stress assets call.
"""

from risk_pipeline.risk.stress.grid import (
    EpisodeReturns, HeldBook, ResolvedScenarios, episode_returns, replay_grid, resolve_scenarios, reverse_stress_grid,
    share_scenarios, stress_grid,
)
from risk_pipeline.risk.stress.replay import ReplaySummary, replay_episodes, replay_path
from risk_pipeline.risk.stress.reverse import MultiplierSolution, ReverseStressResult, reverse_stress, solve_multiplier
from risk_pipeline.risk.stress.scenarios import (
    CalibratedScenario, FxScenario, HistoricalScenario, ScenarioShocks, ScenarioType, SectorScenario, StressInputError, StressResult,
    UniformEquityScenario, apply_scenario, scenario_shocks,
)

__all__ = [
    "CalibratedScenario", "EpisodeReturns", "FxScenario", "HeldBook", "HistoricalScenario", "MultiplierSolution",
    "ReplaySummary", "ResolvedScenarios", "ReverseStressResult", "ScenarioShocks", "ScenarioType", "SectorScenario", "StressInputError", "StressResult",
    "UniformEquityScenario", "apply_scenario", "episode_returns", "replay_episodes", "replay_grid", "replay_path",
    "resolve_scenarios", "reverse_stress", "reverse_stress_grid", "scenario_shocks", "share_scenarios", "solve_multiplier",
    "stress_grid",
]
