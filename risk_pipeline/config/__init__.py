"""Configuration in one place: the shipped YAML files, their loaders, one reader and one error.

| file | loader | holds |
| --- | --- | --- |
| ``pipeline.yaml`` (``$RISK_PIPELINE_CONFIG``: a profile over it) | ``settings.section`` | defaults of every asset's run config |
| a price CSV and a portfolios file | ``csv_profile.csv_profile`` | the profile that runs them (``risk-pipeline init-csv``) |
| ``data/portfolios.yaml`` (``$RISK_PIPELINE_PORTFOLIOS``) | ``portfolios.load_portfolios`` | the books of stocks |
| ``limits.yaml`` (``limits.limits_file``) | ``limits.load_limits`` | the risk limits per portfolio |
| ``scenarios.yaml`` (``stress.scenarios_file``) | ``scenarios.load_scenarios`` | the stress scenarios |
| the user's bond file (``bonds.positions_file``) | ``bonds.load_bond_books`` | the bond books |
| ``frtb.yaml`` (``$RISK_PIPELINE_FRTB``) | ``frtb.load_frtb_config`` | FRTB horizons, stressed-period search, desks |

``check.check_configuration`` reads them all (``risk-pipeline backfill`` does before its run). Every
loader reads with :func:`reader.read_yaml` and raises :class:`ConfigError` naming the file,
the line, the entry and the field; every command prints it as one line and exits with status 2.
"""

from risk_pipeline.config.reader import ConfigError

__all__ = ["ConfigError"]
