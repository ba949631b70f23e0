"""A settings profile for a user's price CSV: what the pipeline needs, derived from the file.

The shipped settings (``pipeline.yaml``) fit the bundled 33 years of 26 symbols; a CSV of a few
symbols over a few years needs other values. :func:`csv_profile` derives them from the file and
the portfolios file, over the current settings (``settings.section``):

- ``prices``: ``source: csv``, ``csv_path`` (absolute), ``extra_symbols`` = the file's symbols
  that no portfolio holds (benchmarks); every held symbol must be in the file.
- ``stress.market_proxy``: the proxy of symbols without data in a historical scenario's
  window must be a symbol of the file: the ``market_proxy`` given, else the current one if the
  file has it, else the file's one symbol that no portfolio holds; otherwise the error names
  the option to set.
- ``options.positions_file``: the option books price their underlyings from the same prices, so a file
  without one of them (the shipped book's SP500) gets none (null), where the run would stop before it
  starts naming the underlying; a file that has them all keeps the books.
- windows (:data:`WINDOW_SETTINGS`): every one longer than half the file's trading days
  becomes half of them (``n_days // 2``), so that estimates exist for the second half of the
  history; windows that fit keep their value. The VaR windows are then checked by the core's
  :func:`~risk_pipeline.risk.var.parameters.validate_var_params` for every configured method,
  confidence and horizon (a file too short for one names the method and the window).

:func:`profile_yaml` writes the result as a profile (the prices settings, the proxy and the
windows it shortens, each with why), used with ``RISK_PIPELINE_CONFIG`` (``settings.py``); ``risk-pipeline init-csv`` is the
command.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risk_pipeline.config.options import load_option_positions, option_settings
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.config.reader import ConfigError
from risk_pipeline.config.settings import section
from risk_pipeline.risk.var.parameters import VarParameterError, validate_var_params
from risk_pipeline.sources.bond_instruments import configured_instruments
from risk_pipeline.sources.cash import configured_cash
from risk_pipeline.sources.csv_file import read_price_csv

WINDOW_SETTINGS: tuple[tuple[str, str], ...] = (
    ("var", "estimation_window_days"),
    ("var", "monte_carlo_estimation_window_days"),
    ("var", "evt_estimation_window_days"),
    ("attribution", "estimation_window_days"),
    ("stress", "proxy_beta_lookback"),
    ("limits", "estimation_window_days"),
)
"""The settings, as (section, key), that are a number of trading days of history."""


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    value: Any
    was: Any  # the current value it replaces
    why: str


@dataclass(frozen=True)
class CsvProfile:
    prices_csv: Path
    symbols: tuple[str, ...]
    first_day: dt.date
    last_day: dt.date
    n_days: int  # trading days: the file's distinct dates
    settings: tuple[Setting, ...]

    def value(self, section_name: str, key: str) -> Any:
        """The profile's value of a setting, else the current one."""
        for setting in self.settings:
            if (setting.section, setting.key) == (section_name, key):
                return setting.value
        return section(section_name)[key]


def _market_proxy(path: Path, symbols: list[str], unheld: list[str], wanted: str | None) -> tuple[str, str]:
    """The stress market proxy (a symbol of the file) and why."""
    if wanted is not None:
        if wanted not in symbols:
            raise ConfigError(f"{path}: market proxy {wanted!r} is not in the file (its symbols: {', '.join(symbols)})")
        return wanted, "given with --market-proxy"
    current = section("stress")["market_proxy"]
    if current in symbols:
        return current, "the default, in the file"
    if len(unheld) == 1:
        return unheld[0], "the file's one symbol that no portfolio holds"
    raise ConfigError(f"{path}: the file has no {current} (the stress market proxy) and not exactly one symbol outside "
                      f"the portfolios: set stress.market_proxy with --market-proxy, one of {', '.join(symbols)}")


def _option_books(symbols: list[str]) -> list[Setting]:
    """``options.positions_file`` set to null when the file lacks an underlying of the option books."""
    settings = option_settings(section("options"))
    if settings is None:
        return []
    missing = sorted({p.underlying for p in load_option_positions(settings.positions_file)} - set(symbols))
    if not missing:
        return []
    return [Setting("options", "positions_file", None, section("options")["positions_file"],
                    f"no option books: their underlying(s) {', '.join(missing)} not in the file")]


def _check_var_windows(profile: CsvProfile) -> None:
    """Every configured VaR method, confidence and horizon accepts the profile's windows."""
    var = {key: profile.value("var", key) for key in section("var")}
    windows = {"monte_carlo": var["monte_carlo_estimation_window_days"],
               "conditional_evt": var["evt_estimation_window_days"]}
    for method in var["methods"]:
        window = windows.get(method, var["estimation_window_days"])
        params = {"n_exceedances": var["evt_exceedances"]} if method == "conditional_evt" else {}
        for confidence in var["confidences"]:
            for horizon in var["horizons"]:
                try:
                    validate_var_params(method, float(confidence), int(window), int(horizon), **params)
                except VarParameterError as exc:
                    raise ConfigError(
                        f"{profile.prices_csv}: {profile.n_days} trading days give a {window}-day window to {method}, "
                        f"too short: {exc} (use a longer file, or drop {method} from var.methods)") from None


def csv_profile(prices_csv: str | Path, portfolios_file: str | Path, market_proxy: str | None = None) -> CsvProfile:
    """The settings that run the pipeline on ``prices_csv`` for the portfolios of ``portfolios_file``.

    Raises PriceDataError (a bad price file: file and row) or ConfigError (a held symbol not in
    the file, no market proxy, a file too short for a VaR method)."""
    path = Path(prices_csv).expanduser().resolve()
    prices = read_price_csv(path)
    symbols = sorted(prices["symbol"].unique())
    # bond instruments (priced from yields) and cash symbols (close 1) are not in the file
    known = symbols + [i.symbol for i in configured_instruments()] + list(configured_cash())
    held = {s for portfolio in load_portfolios(portfolios_file, known_symbols=known) for s in portfolio.symbols}
    unheld = [s for s in symbols if s not in held]
    days = prices["date"].drop_duplicates()
    n_days = len(days)
    prices_now = section("prices")
    proxy, proxy_why = _market_proxy(path, symbols, unheld, market_proxy)
    settings = [
        Setting("prices", "source", "csv", prices_now["source"], "prices from the file"),
        Setting("prices", "csv_path", str(path), prices_now["csv_path"], "the file"),
        Setting("prices", "extra_symbols", unheld, prices_now["extra_symbols"],
                "the file's symbols that no portfolio holds" if unheld else "every symbol of the file is held"),
        Setting("stress", "market_proxy", proxy, section("stress")["market_proxy"], proxy_why),
        *_option_books(symbols),
    ]
    longest = n_days // 2
    for section_name, key in WINDOW_SETTINGS:
        current = int(section(section_name)[key])
        if current > longest:
            settings.append(Setting(section_name, key, longest, current,
                                    f"{current} > half the file's {n_days} trading days"))
    profile = CsvProfile(path, tuple(symbols), days.min().date(), days.max().date(), n_days, tuple(settings))
    _check_var_windows(profile)
    return profile


def profile_yaml(profile: CsvProfile, portfolios_file: str | Path, data_folder: str | Path) -> str:
    """The profile as a YAML settings file: a header saying how to use it, then the settings by section."""
    portfolios = Path(portfolios_file).expanduser().resolve()
    lines = [
        f"# Settings profile for {profile.prices_csv.name}, written by `risk-pipeline init-csv`: the settings it",
        "# derived from the file, each with why; the others keep their values of risk_pipeline/config/pipeline.yaml.",
        f"# The file: {len(profile.symbols)} symbols ({', '.join(profile.symbols)}), {profile.n_days} trading days "
        f"{profile.first_day}..{profile.last_day}.",
        "# Windows of at most half the file's trading days keep their values. Run with:",
        "#",
        *[f"#   {line}" for line in run_commands(profile, "<this file>", portfolios, data_folder)],
    ]
    sections: dict[str, list[Setting]] = {}
    for setting in profile.settings:
        sections.setdefault(setting.section, []).append(setting)
    for name, settings in sections.items():
        lines += ["", f"{name}:"]
        lines += [f"  {s.key}: {json.dumps(s.value)}  # {s.why} (was {json.dumps(s.was)})" for s in settings]
    return "\n".join(lines) + "\n"


def run_commands(profile: CsvProfile, profile_file: str | Path, portfolios_file: str | Path,
                 data_folder: str | Path) -> list[str]:
    """The shell commands that backfill the file's whole history with the profile."""
    return [
        f"export RISK_PIPELINE_CONFIG={profile_file} RISK_PIPELINE_PORTFOLIOS={portfolios_file} "
        f"RISK_PIPELINE_DATA={data_folder}",
        f"risk-pipeline backfill --start {profile.first_day} --end {profile.last_day}",
        "risk-pipeline summary",
    ]
