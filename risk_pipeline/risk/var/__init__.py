"""VaR and ES by every method: one module per method, the rolling entry point, the parameter checks.

| method | module | estimate from the trailing window |
| --- | --- | --- |
| ``historical`` | ``historical`` | empirical quantile and tail mean (``tail``, ``sorted_tail``) |
| ``parametric_normal``, ``parametric_t`` | ``parametric`` | normal / Student t fit (moments or MLE) |
| ``cornish_fisher`` | ``cornish_fisher`` | normal quantile corrected by skewness and kurtosis |
| ``ewma`` | ``ewma`` | RiskMetrics exponentially weighted variance |
| ``filtered_historical`` | ``filtered_historical`` | residuals rescaled by an EWMA or GARCH (``garch``) volatility |
| ``conditional_evt`` | ``conditional_evt`` | GPD tail of the filtered residuals (McNeil & Frey 2000) |
| ``monte_carlo`` | ``monte_carlo`` | simulated positions under a (Ledoit-Wolf, ``covariance``) fitted law |

Every method is reached through :func:`var_es_surface` (``rolling``), which checks the
parameters (``parameters``) and runs the method once for all confidences and horizons
(``windows``: trailing windows, horizon scaling); each single-series method also has a window
form (rows of windows in, VaR/ES out) that ``held_positions`` runs on the P&L the positions held
at t-1 would have made over the window (:func:`held_var_es_grid`, the pipeline's engine). Formulas and sources: each module's
docstring and docs/methods.md.
"""

from risk_pipeline.risk.var.parameters import METHODS, VarParameterError, validate_var_params
from risk_pipeline.risk.var.rolling import GRID_COLUMNS, rolling_var_es, var_es_grid, var_es_surface
from risk_pipeline.risk.var.windows import VarEsSurface

__all__ = [
    "GRID_COLUMNS", "METHODS", "VarParameterError", "VarEsSurface", "rolling_var_es", "validate_var_params", "var_es_grid",
    "var_es_surface",
]
