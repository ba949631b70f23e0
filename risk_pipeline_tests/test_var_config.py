"""validate_var_params and input checks: errors are VarParameterError (a ValueError) naming the parameter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk import VarParameterError, rolling_var_es, validate_var_params, var_es_grid


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        (dict(method="historic"), "method='historic'"),
        (dict(confidence=1.0), "confidence=1.0"),
        (dict(confidence=0.0), "confidence=0.0"),
        (dict(confidence=float("nan")), "confidence=nan"),
        (dict(window=1), "window=1"),
        (dict(window=300, n_obs=200), "window=300"),
        (dict(window=25.0), "window=25.0"),
        (dict(horizon_days=0), "horizon_days=0"),
        (dict(horizon_days=25), "horizon_days=25"),
        (dict(method="ewma", lam=1.0), "lam=1.0"),
        (dict(method="ewma", lam=0.0), "lam=0.0"),
        (dict(method="monte_carlo", n_scenarios=99), "n_scenarios=99"),
        (dict(method="monte_carlo", seed=-1), "seed=-1"),
        (dict(method="monte_carlo", shrinkage="oas"), "shrinkage='oas'"),
        (dict(method="filtered_historical", filter="egarch"), "filter='egarch'"),
        (dict(method="historical", lam=0.9), "lam=0.9"),
    ],
)
def test_validate_var_params_names_the_bad_parameter(kwargs: dict, named: str) -> None:
    base = dict(method="historical", confidence=0.99, window=25, horizon_days=1)
    base.update(kwargs)
    with pytest.raises(VarParameterError, match=named.replace("(", r"\(").replace(")", r"\)")):
        validate_var_params(**base)


def test_valid_configuration_passes() -> None:
    validate_var_params("monte_carlo", 0.99, 756, 10, n_obs=8313, n_scenarios=10_000, seed=1, shrinkage="none")
    validate_var_params("ewma", 0.95, 2, 1, lam=0.94)


def test_rolling_entry_points_validate_before_computing() -> None:
    r = pd.Series(np.linspace(-0.01, 0.01, 50), index=pd.bdate_range("2020-01-01", periods=50))
    assert issubclass(VarParameterError, ValueError)
    with pytest.raises(VarParameterError, match="window=60"):
        rolling_var_es(r, method="historical", confidence=0.99, window=60)
    with pytest.raises(VarParameterError, match="horizon_days=0"):
        var_es_grid(r, method="ewma", confidences=[0.99], horizons=[1, 0], window=20)
    bad = r.copy()
    bad.iloc[7] = np.nan
    with pytest.raises(VarParameterError, match="2020-01-10"):
        rolling_var_es(bad, method="historical", confidence=0.99, window=20)
    with pytest.raises(VarParameterError, match="weights"):
        rolling_var_es(r.to_frame("A"), method="monte_carlo", confidence=0.99, window=20)
    with pytest.raises(VarParameterError, match="missing \\['B'\\]"):
        rolling_var_es(
            pd.DataFrame({"A": r, "B": r[::-1].to_numpy()}), method="monte_carlo", confidence=0.99, window=20,
            weights=pd.Series({"A": 1.0}),
        )
    with pytest.raises(VarParameterError, match="sorted"):
        rolling_var_es(r[::-1], method="historical", confidence=0.99, window=20)
