"""The numerical core: pure functions on numpy/pandas, no Dagster, no files, no clock."""
