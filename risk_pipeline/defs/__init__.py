"""The Dagster code, by domain: each module holds its assets and, beside them, their checks.

| module | assets (tables) | checks |
| --- | --- | --- |
| ``market_data`` | prices, returns | ``market_data_checks``: prices and returns quality, held symbols priced, FX coverage |
| ``portfolios`` | portfolio_pnl | |
| ``var`` | var_estimates | |
| ``backtests`` | var_backtests | no_method_in_red_zone (Basel red zone, WARN) |
| ``scores`` | forecast_scores, var_scores | |
| ``attribution`` | var_decomposition | |
| ``stress`` | stress_results, reverse_stress, historical_replay | |
| ``limits`` | limit_status | limits_respected |
| ``bonds`` | bond_pnl | |
| ``frtb`` | frtb_es, frtb_desks, frtb_capital | desks_eligible (a desk lost eligibility, WARN) |
| ``report`` | risk_report (HTML, JSON, CSV) | |
| ``schedules`` | jobs: risk_job, daily_risk_job, lake_maintenance_job; the daily and weekly schedules | |

``lake_assets`` is what every table asset shares: the business-day partitions, the run's days,
and ``publish`` (write the days to the lake, refresh the catalog, describe the materialization).
``risk_pipeline.definitions`` loads every definition of this package
(``dagster.load_definitions_from_package_module``): a new module here joins the graph by itself.
Assets only read, call the core (``risk_pipeline.risk``) and write (``publish``).
"""
