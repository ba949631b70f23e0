"""The numerical core: pure functions on numpy/pandas, no Dagster, no files, no clock."""

from risk_pipeline.risk.var import METHODS, VarParameterError, rolling_var_es, validate_var_params, var_es_grid

__all__ = ["METHODS", "VarParameterError", "rolling_var_es", "validate_var_params", "var_es_grid"]
