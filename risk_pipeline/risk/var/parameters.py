"""The VaR/ES methods, the settings that give each its window and parameters, and their validation."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from risk_pipeline.risk.var.conditional_evt import MIN_EXCEEDANCES, default_exceedances
from risk_pipeline.risk.var.filtered_historical import FILTERS
from risk_pipeline.risk.var.monte_carlo import SHRINKAGES
from risk_pipeline.risk.var.parametric import DOF_ESTIMATORS
from risk_pipeline.risk.var.windows import HORIZON_SCALINGS

class Method(StrEnum):
    """The VaR/ES methods; each value is the string stored in the ``method`` column of the tables."""

    HISTORICAL = "historical"
    PARAMETRIC_NORMAL = "parametric_normal"
    PARAMETRIC_T = "parametric_t"
    CORNISH_FISHER = "cornish_fisher"
    EWMA = "ewma"
    MONTE_CARLO = "monte_carlo"
    FILTERED_HISTORICAL = "filtered_historical"
    CONDITIONAL_EVT = "conditional_evt"


METHODS: tuple[Method, ...] = tuple(Method)

# extra keyword parameters each method accepts (beyond confidence, window, horizon, weights)
METHOD_PARAMS: dict[str, tuple[str, ...]] = {
    "historical": (),
    "parametric_normal": ("horizon_scaling", "return_type"),
    "parametric_t": ("dof", "horizon_scaling", "return_type"),
    "cornish_fisher": ("horizon_scaling", "return_type"),
    "ewma": ("lam", "return_type"),
    "monte_carlo": ("n_scenarios", "seed", "shrinkage"),
    "filtered_historical": ("filter", "lam"),
    "conditional_evt": ("filter", "lam", "n_exceedances", "return_type"),
}
# the returns a fitted law can be estimated on (``return_type``, risk/var/rolling.py): the portfolio's daily
# simple returns, or their logs ln(1 + r); historical, filtered_historical and monte_carlo work on simple
# returns (h-day compounded samples and simulated paths)
RETURN_TYPES = ("simple", "log")
MIN_SCENARIOS = 100
# methods whose horizon-h sample is the window's W - h + 1 overlapping h-day returns
OVERLAPPING_HORIZON_METHODS = ("historical", "filtered_historical")


class VarParameterError(ValueError):
    """A rolling VaR/ES parameter is invalid; the message names the parameter and value."""


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def validate_var_params(
    method: str, confidence: float, window: int, horizon_days: int, n_obs: int | None = None, **params: object
) -> None:
    """Raise :class:`VarParameterError` naming the first invalid parameter.

    Checks: ``method`` in METHODS; ``confidence`` a real in (0, 1); ``window`` an integer
    >= 2 and <= ``n_obs`` (rows of history available, when given); ``horizon_days`` an
    integer >= 1 (and < window for historical / filtered_historical, which need at least two
    overlapping h-day returns); method parameters: only those in METHOD_PARAMS, ``lam`` in
    (0, 1), ``n_scenarios`` integer >= 100, ``seed`` integer >= 0, ``shrinkage`` in
    SHRINKAGES, ``filter`` in FILTERS, ``dof`` in DOF_ESTIMATORS, ``horizon_scaling`` in HORIZON_SCALINGS, ``return_type`` in RETURN_TYPES; conditional_evt: ``n_exceedances`` an integer in
    [MIN_EXCEEDANCES, window) (default window // 8) with 1 - confidence < n_exceedances / window
    (the confidence must lie in the fitted tail).
    """
    if method not in METHODS:
        raise VarParameterError(f"method={method!r} is unknown; expected one of {METHODS}")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, numbers.Real)
        or not math.isfinite(confidence)
        or not 0.0 < confidence < 1.0
    ):
        raise VarParameterError(f"confidence={confidence!r} must be a number in (0, 1)")
    if not _is_int(window) or window < 2:
        raise VarParameterError(f"window={window!r} must be an integer >= 2")
    if n_obs is not None and window > n_obs:
        raise VarParameterError(f"window={window} is longer than the history available (n_obs={n_obs})")
    if not _is_int(horizon_days) or horizon_days < 1:
        raise VarParameterError(f"horizon_days={horizon_days!r} must be an integer >= 1")
    if method in OVERLAPPING_HORIZON_METHODS and horizon_days >= window:
        raise VarParameterError(f"horizon_days={horizon_days} must be smaller than window={window} for method={method!r}")
    for name, value in params.items():
        if name not in METHOD_PARAMS[method]:
            raise VarParameterError(
                f"parameter {name}={value!r} is not accepted by method={method!r} (accepts {METHOD_PARAMS[method]})"
            )
        if name == "lam" and not (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 < value < 1.0
        ):
            raise VarParameterError(f"lam={value!r} must be a number in (0, 1)")
        if name == "n_scenarios" and not (_is_int(value) and value >= MIN_SCENARIOS):
            raise VarParameterError(f"n_scenarios={value!r} must be an integer >= {MIN_SCENARIOS}")
        if name == "seed" and not (_is_int(value) and value >= 0):
            raise VarParameterError(f"seed={value!r} must be an integer >= 0")
        if name == "shrinkage" and value not in SHRINKAGES:
            raise VarParameterError(f"shrinkage={value!r} must be one of {SHRINKAGES}")
        if name == "return_type" and value not in RETURN_TYPES:
            raise VarParameterError(f"return_type={value!r} must be one of {RETURN_TYPES}")
        if name == "horizon_scaling" and value not in HORIZON_SCALINGS:
            raise VarParameterError(f"horizon_scaling={value!r} must be one of {HORIZON_SCALINGS}")
        if name == "dof" and value not in DOF_ESTIMATORS:
            raise VarParameterError(f"dof={value!r} must be one of {DOF_ESTIMATORS}")
        if name == "filter" and value not in FILTERS:
            raise VarParameterError(f"filter={value!r} must be one of {FILTERS}")
        if name == "n_exceedances" and value is not None and not (_is_int(value) and MIN_EXCEEDANCES <= value < window):
            raise VarParameterError(f"n_exceedances={value!r} must be an integer >= {MIN_EXCEEDANCES} and < window={window}")
    if method == "conditional_evt":
        k = params.get("n_exceedances")
        k = default_exceedances(window) if k is None else k
        if k < MIN_EXCEEDANCES:
            raise VarParameterError(f"window={window} gives n_exceedances={k} < {MIN_EXCEEDANCES} for method='conditional_evt'")
        if 1.0 - confidence >= k / window:
            raise VarParameterError(
                f"confidence={confidence!r} is not in the GPD tail of n_exceedances={k} of window={window}: "
                f"need 1 - confidence < {k / window:.4g}"
            )


@dataclass(frozen=True)
class MethodSettings:
    """The pipeline's settings of every method (the ``var`` section of pipeline.yaml): which estimation
    window and keyword parameters each method is called with."""

    estimation_window_days: int
    monte_carlo_estimation_window_days: int
    evt_estimation_window_days: int
    evt_exceedances: int | None
    ewma_lambda: float
    filter: str
    t_dof: str
    shrinkage: str
    n_scenarios: int
    seed: int
    horizon_scaling: str = "sqrt_time"
    return_type: str = "simple"

    @staticmethod
    def window_setting(method: str) -> str:
        """The name of the setting that holds the estimation window of ``method``."""
        special: dict[str, str] = {Method.MONTE_CARLO: "monte_carlo_estimation_window_days",
                                   Method.CONDITIONAL_EVT: "evt_estimation_window_days"}
        return special.get(method, "estimation_window_days")

    def window_for(self, method: str) -> int:
        """The estimation window of ``method``, in trading days."""
        return getattr(self, self.window_setting(method))

    def params_for(self, method: str) -> dict[str, Any]:
        """The keyword parameters of ``method`` (``METHOD_PARAMS``) from these settings."""
        values = {"lam": self.ewma_lambda, "filter": self.filter, "dof": self.t_dof, "n_exceedances": self.evt_exceedances,
                  "n_scenarios": self.n_scenarios, "seed": self.seed, "shrinkage": self.shrinkage,
                  "horizon_scaling": self.horizon_scaling, "return_type": self.return_type}
        return {name: values[name] for name in METHOD_PARAMS[method]} if method in METHOD_PARAMS else {}

    def validate(self, methods: Sequence[str], confidences: Sequence[float], horizons: Sequence[int]) -> None:
        """Check every combination before any computation starts (whether a book's history fills the
        windows is the asset's check: ``defs.var.require_full_windows``)."""
        for method in methods:
            for confidence in confidences:
                for horizon in horizons:
                    validate_var_params(method, confidence, self.window_for(method), horizon,
                                        **self.params_for(method))
