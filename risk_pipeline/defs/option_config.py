"""The option books' run config, shared by the option assets (defs/options.py) and ``var_estimates``, which
computes the option books' VaR/ES beside the portfolios' (defs/var.py)."""

from typing import Optional

import dagster as dg

from risk_pipeline.config.options import OptionSettings, option_settings
from risk_pipeline.config.settings import section

_OPTIONS = section("options")


class OptionsConfig(dg.Config):
    """Option positions and their market data; defaults from the ``options`` section of pipeline.yaml."""

    positions_file: Optional[str] = _OPTIONS["positions_file"]
    delta_hedged_books: list[str] = list(_OPTIONS["delta_hedged_books"] or [])
    vol_source: str = _OPTIONS["vol_source"]
    vol_file: Optional[str] = _OPTIONS["vol_file"]
    ewma_window_days: int = int(_OPTIONS["ewma_window_days"])
    estimation_window_days: int = int(_OPTIONS["estimation_window_days"])
    confidences: list[float] = list(_OPTIONS["confidences"])
    horizons: list[int] = list(_OPTIONS["horizons"])

    def settings(self) -> OptionSettings | None:
        return option_settings({**_OPTIONS, **self.model_dump()})
