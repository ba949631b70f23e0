"""The VaR/ES method names and validation of a rolling VaR/ES configuration."""

from __future__ import annotations

import math
import numbers

from risk_pipeline.risk.var.conditional_evt import MIN_EXCEEDANCES, default_exceedances
from risk_pipeline.risk.var.filtered_historical import FILTERS
from risk_pipeline.risk.var.monte_carlo import SHRINKAGES
from risk_pipeline.risk.var.parametric import DOF_ESTIMATORS

METHODS = (
    "historical",
    "parametric_normal",
    "parametric_t",
    "cornish_fisher",
    "ewma",
    "monte_carlo",
    "filtered_historical",
    "conditional_evt",
)

# extra keyword parameters each method accepts (beyond confidence, window, horizon, weights)
METHOD_PARAMS: dict[str, tuple[str, ...]] = {
    "historical": (),
    "parametric_normal": (),
    "parametric_t": ("dof",),
    "cornish_fisher": (),
    "ewma": ("lam",),
    "monte_carlo": ("n_scenarios", "seed", "shrinkage"),
    "filtered_historical": ("filter", "lam"),
    "conditional_evt": ("filter", "lam", "n_exceedances"),
}
MIN_SCENARIOS = 100
# methods whose horizon-h sample is the window's W - h + 1 overlapping h-day returns
OVERLAPPING_HORIZON_METHODS = ("historical", "filtered_historical")


class VarConfigError(ValueError):
    """A rolling VaR/ES parameter is invalid; the message names the parameter and value."""


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def validate_var_params(
    method: str, confidence: float, window: int, horizon_days: int, n_obs: int | None = None, **params: object
) -> None:
    """Raise :class:`VarConfigError` naming the first invalid parameter.

    Checks: ``method`` in METHODS; ``confidence`` a real in (0, 1); ``window`` an integer
    >= 2 and <= ``n_obs`` (rows of history available, when given); ``horizon_days`` an
    integer >= 1 (and < window for historical / filtered_historical, which need at least two
    overlapping h-day returns); method parameters: only those in METHOD_PARAMS, ``lam`` in
    (0, 1), ``n_scenarios`` integer >= 100, ``seed`` integer >= 0, ``shrinkage`` in
    SHRINKAGES, ``filter`` in FILTERS, ``dof`` in DOF_ESTIMATORS; conditional_evt: ``n_exceedances`` an integer in
    [MIN_EXCEEDANCES, window) (default window // 8) with 1 - confidence < n_exceedances / window
    (the confidence must lie in the fitted tail).
    """
    if method not in METHODS:
        raise VarConfigError(f"method={method!r} is unknown; expected one of {METHODS}")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, numbers.Real)
        or not math.isfinite(confidence)
        or not 0.0 < confidence < 1.0
    ):
        raise VarConfigError(f"confidence={confidence!r} must be a number in (0, 1)")
    if not _is_int(window) or window < 2:
        raise VarConfigError(f"window={window!r} must be an integer >= 2")
    if n_obs is not None and window > n_obs:
        raise VarConfigError(f"window={window} is longer than the history available (n_obs={n_obs})")
    if not _is_int(horizon_days) or horizon_days < 1:
        raise VarConfigError(f"horizon_days={horizon_days!r} must be an integer >= 1")
    if method in OVERLAPPING_HORIZON_METHODS and horizon_days >= window:
        raise VarConfigError(f"horizon_days={horizon_days} must be smaller than window={window} for method={method!r}")
    for name, value in params.items():
        if name not in METHOD_PARAMS[method]:
            raise VarConfigError(
                f"parameter {name}={value!r} is not accepted by method={method!r} (accepts {METHOD_PARAMS[method]})"
            )
        if name == "lam" and not (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 < value < 1.0
        ):
            raise VarConfigError(f"lam={value!r} must be a number in (0, 1)")
        if name == "n_scenarios" and not (_is_int(value) and value >= MIN_SCENARIOS):
            raise VarConfigError(f"n_scenarios={value!r} must be an integer >= {MIN_SCENARIOS}")
        if name == "seed" and not (_is_int(value) and value >= 0):
            raise VarConfigError(f"seed={value!r} must be an integer >= 0")
        if name == "shrinkage" and value not in SHRINKAGES:
            raise VarConfigError(f"shrinkage={value!r} must be one of {SHRINKAGES}")
        if name == "dof" and value not in DOF_ESTIMATORS:
            raise VarConfigError(f"dof={value!r} must be one of {DOF_ESTIMATORS}")
        if name == "filter" and value not in FILTERS:
            raise VarConfigError(f"filter={value!r} must be one of {FILTERS}")
        if name == "n_exceedances" and value is not None and not (_is_int(value) and MIN_EXCEEDANCES <= value < window):
            raise VarConfigError(f"n_exceedances={value!r} must be an integer >= {MIN_EXCEEDANCES} and < window={window}")
    if method == "conditional_evt":
        k = params.get("n_exceedances")
        k = default_exceedances(window) if k is None else k
        if k < MIN_EXCEEDANCES:
            raise VarConfigError(f"window={window} gives n_exceedances={k} < {MIN_EXCEEDANCES} for method='conditional_evt'")
        if 1.0 - confidence >= k / window:
            raise VarConfigError(
                f"confidence={confidence!r} is not in the GPD tail of n_exceedances={k} of window={window}: "
                f"need 1 - confidence < {k / window:.4g}"
            )
