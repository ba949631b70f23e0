"""Read every configuration file a run uses, before the run starts: a mistake in any of them is one
``ConfigError`` (file, line, entry, field) instead of a failed step in the middle of a backfill."""

from __future__ import annotations

from risk_pipeline.config.bonds import load_bond_books
from risk_pipeline.config.frtb import desk_portfolios, load_frtb_config
from risk_pipeline.config.limits import DEFAULT_LIMITS_FILE, load_limits
from risk_pipeline.config.options import check_option_positions
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.config.scenarios import DEFAULT_SCENARIOS_FILE, load_scenarios
from risk_pipeline.config.settings import section


def check_configuration() -> None:
    """Load the settings' files as the assets will: portfolios and books of record, limits, scenarios, FRTB
    settings, bond books and option positions."""
    desk_portfolios(load_frtb_config(), load_portfolios(), list(load_books_of_record().books))
    load_limits(section("limits")["limits_file"] or DEFAULT_LIMITS_FILE)
    load_scenarios(section("stress")["scenarios_file"] or DEFAULT_SCENARIOS_FILE)
    bonds_file = section("bonds")["positions_file"]
    if bonds_file:
        load_bond_books(bonds_file)
    check_option_positions(section("options"), section("prices")["extra_symbols"] or [])
