"""Your own prices in one step: `risk-pipeline init-csv` derives a settings profile from a price CSV
(config/csv_profile.py), settings profiles over the shipped defaults (config/settings.py), and the
example of examples/csv_prices run end to end by the commands init-csv prints."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.cli import main
from risk_pipeline.config.check import check_configuration
from risk_pipeline.config.csv_profile import WINDOW_SETTINGS, csv_profile, profile_yaml
from risk_pipeline.config.reader import ConfigError
from risk_pipeline.config.settings import SETTINGS_ENV, section
from risk_pipeline.storage.paths import REPO_ROOT
from risk_pipeline_tests.pipeline_helpers import query

EXAMPLE = REPO_ROOT / "examples" / "csv_prices"
PRICES, PORTFOLIOS = EXAMPLE / "prices.csv", EXAMPLE / "portfolios.yaml"
TWO_STOCKS = """
portfolios:
  - name: two
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.5}
      - {symbol: MSFT, weight: 0.5}
"""


def _first_days(tmp_path: Path, n_days: int, symbols=("AAPL", "MSFT", "SP500")) -> Path:
    """The example's first ``n_days`` trading days of ``symbols`` as a CSV of its own."""
    frame = pd.read_csv(PRICES)
    days = sorted(frame["date"].unique())[:n_days]
    path = tmp_path / f"prices_{n_days}.csv"
    frame.loc[frame["date"].isin(days) & frame["symbol"].isin(symbols)].to_csv(path, index=False)
    return path


def test_the_example_prices_are_the_bundled_closes():
    """examples/csv_prices/prices.csv is what its README says: the bundled closes of three series."""
    example = pd.read_csv(PRICES, parse_dates=["date"])
    bundled = pd.read_parquet(REPO_ROOT / "data" / "bundled_prices.parquet")
    bundled = bundled.loc[bundled["symbol"].isin(["AAPL", "MSFT", "SP500"]) & (bundled["date"] >= "2020-12-01")]
    pd.testing.assert_frame_equal(example.reset_index(drop=True),
                                  bundled[example.columns].reset_index(drop=True), check_dtype=False)
    assert example["date"].nunique() == 523 and example["date"].max() == pd.Timestamp("2022-12-28")


def test_the_profile_derives_source_symbols_proxy_and_windows_from_the_file():
    profile = csv_profile(PRICES, PORTFOLIOS)
    assert profile.n_days == 523 and profile.symbols == ("AAPL", "MSFT", "SP500")
    assert profile.value("prices", "source") == "csv" and profile.value("prices", "csv_path") == str(PRICES)
    assert profile.value("prices", "extra_symbols") == ["SP500"]  # in the file, held by no portfolio
    assert profile.value("stress", "market_proxy") == "SP500"
    for section_name, key in WINDOW_SETTINGS:
        default = int(section(section_name)[key])
        expected = default if default <= 523 // 2 else 523 // 2
        assert profile.value(section_name, key) == expected, key
    assert profile.value("var", "estimation_window_days") == 252  # fits: kept
    assert profile.value("var", "monte_carlo_estimation_window_days") == 261


def test_a_two_symbol_file_needs_the_market_proxy_named_and_gets_it(tmp_path):
    portfolios = tmp_path / "two.yaml"
    portfolios.write_text(TWO_STOCKS)
    prices = _first_days(tmp_path, 300, symbols=("AAPL", "MSFT"))
    with pytest.raises(ConfigError, match=r"no SP500 .*--market-proxy, one of AAPL, MSFT"):
        csv_profile(prices, portfolios)
    with pytest.raises(ConfigError, match=r"market proxy 'SPY' is not in the file"):
        csv_profile(prices, portfolios, market_proxy="SPY")
    profile = csv_profile(prices, portfolios, market_proxy="MSFT")
    assert profile.value("stress", "market_proxy") == "MSFT" and profile.value("prices", "extra_symbols") == []
    assert profile.value("var", "estimation_window_days") == 150


def test_a_file_without_the_option_books_underlying_gets_no_option_books(tmp_path, monkeypatch):
    """The shipped option book is on SP500: a file without SP500 gets options.positions_file null, so the check
    before a run passes (it stopped the backfill the printed commands start: "unknown underlying 'SP500'");
    a file with SP500 keeps the book."""
    monkeypatch.delenv(SETTINGS_ENV, raising=False)
    assert csv_profile(PRICES, PORTFOLIOS).value("options", "positions_file") == section("options")["positions_file"]
    portfolios = tmp_path / "two.yaml"
    portfolios.write_text(TWO_STOCKS)
    profile = csv_profile(_first_days(tmp_path, 300, symbols=("AAPL", "MSFT")), portfolios, market_proxy="MSFT")
    assert profile.value("options", "positions_file") is None
    written = tmp_path / "profile.yaml"
    written.write_text(profile_yaml(profile, portfolios, tmp_path / "data"))
    assert "positions_file: null  # no option books: their underlying(s) SP500 not in the file" in written.read_text()
    monkeypatch.setenv(SETTINGS_ENV, str(written))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(portfolios))
    check_configuration()
    assert section("options")["positions_file"] is None


def test_a_held_symbol_missing_from_the_file_is_named(tmp_path):
    unknown = r"portfolios.yaml, line \d+: portfolio 'my_book': unknown symbol\(s\) MSFT"
    with pytest.raises(ConfigError, match=unknown):
        csv_profile(_first_days(tmp_path, 200, symbols=("AAPL", "SP500")), PORTFOLIOS)


def test_a_file_too_short_for_a_method_names_the_method_and_the_window(tmp_path):
    # 60 days -> 30-day windows: conditional_evt's 30 // 8 = 3 exceedances are fewer than its minimum 5
    with pytest.raises(ConfigError, match=r"60 trading days give a 30-day window to conditional_evt, too short"):
        csv_profile(_first_days(tmp_path, 60), PORTFOLIOS)


def test_init_csv_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,symbol,close\n2021-01-04,AAPL,1.0\n2021-01-05,AAPL,-2\n")
    out = tmp_path / "profile.yaml"
    assert main(["init-csv", str(bad), "--portfolios", str(PORTFOLIOS), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.csv" in err and "row 3" in err and "non-positive close" in err
    assert not out.exists()
    assert main(["init-csv", str(PRICES), "--portfolios", str(PORTFOLIOS), "--out", str(tmp_path / "no" / "p.yaml")]) == 2
    assert "no folder" in capsys.readouterr().err


def test_a_profile_replaces_only_its_settings_and_names_an_unknown_one(tmp_path, monkeypatch):
    monkeypatch.delenv(SETTINGS_ENV, raising=False)
    defaults = {name: section(name) for name in ("var", "quality", "stress")}
    profile = tmp_path / "profile.yaml"
    profile.write_text("var:\n  seed: 5\nquality:\n  missing_days:\n    lookback: 9\n")
    monkeypatch.setenv(SETTINGS_ENV, str(profile))
    assert section("var") == {**defaults["var"], "seed": 5}
    assert section("quality") == {**defaults["quality"],
                                  "missing_days": {**defaults["quality"]["missing_days"], "lookback": 9}}
    assert section("stress") == defaults["stress"]
    typo = tmp_path / "typo.yaml"
    typo.write_text("prices:\n  source: csv\nvar:\n  monte_carlo_window: 100\n")
    monkeypatch.setenv(SETTINGS_ENV, str(typo))
    with pytest.raises(ConfigError, match=r"typo.yaml, line 4: unknown setting 'var.monte_carlo_window'"):
        section("prices")


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "risk_pipeline.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_example_runs_from_the_commands_init_csv_prints(tmp_path):
    """The documented steps on the example's first 90 trading days: init-csv, then the export and
    backfill lines it prints (the graph up to var_estimates), in a temporary data folder; the book's
    historical VaR is recomputed from the CSV."""
    prices = _first_days(tmp_path, 90)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISK_PIPELINE_") and k != "DAGSTER_HOME"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    printed = _cli(["init-csv", str(prices), "--portfolios", str(PORTFOLIOS), "--out", "my_profile.yaml"],
                   env, tmp_path).stdout.splitlines()
    commands = printed[printed.index("next:") + 1:]
    export, backfill = shlex.split(commands[0].strip()), shlex.split(commands[1].strip())
    assert export[0] == "export" and backfill[:2] == ["risk-pipeline", "backfill"]
    env.update(item.split("=", 1) for item in export[1:])
    assert env["RISK_PIPELINE_DATA"] == str(tmp_path / "my_profile_data")
    _cli(backfill[1:] + ["--select", "*var_estimates"], env, tmp_path)

    rows = query(Path(env["RISK_PIPELINE_DATA"]), "select * from var_estimates where portfolio = 'my_book'")
    window = 90 // 2
    assert set(rows["estimation_window_days"]) == {window}
    assert set(rows["method"]) == set(section("var")["methods"])
    closes = pd.read_csv(prices, parse_dates=["date"]).pivot(index="date", columns="symbol", values="close")
    book = (0.6 * closes["AAPL"].pct_change() + 0.4 * closes["MSFT"].pct_change()).dropna()
    # a forecast for every day after the first `window` returns
    historical = rows.loc[(rows["method"] == "historical") & (rows["horizon_days"] == 1) & (rows["confidence"] == 0.99)]
    assert sorted(pd.to_datetime(historical["date"])) == list(book.index[window:])
    last = historical.loc[pd.to_datetime(historical["date"]).idxmax()]
    expected = np.quantile(-book.iloc[-window - 1:-1].to_numpy(), 0.99, method="linear")
    np.testing.assert_allclose(last["var"], expected, rtol=1e-10)
    np.testing.assert_allclose(last["var_amount"], expected * 1_000_000, rtol=1e-10)
