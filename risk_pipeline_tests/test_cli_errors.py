"""Bad data and bad ranges end a `risk-pipeline` command with one line on stderr, exit status 2 and nothing
written; a failed run names its step and keeps Dagster's log in a file; a closed pipe ends a command quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from risk_pipeline.cli import main
from risk_pipeline.storage.lake import table_version
from risk_pipeline.storage.paths import REPO_ROOT
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import module_lake

SYMBOLS = ["AAPL", "JPM", "KO", "MSFT", "SP500", "XOM"]
GOOD_RANGE = ["--start", "2021-01-04", "--end", "2021-12-31"]
BAD_RANGE = ["--start", "2021-02-01", "--end", "2021-03-31"]  # a bad CSV's error is found before the run


def _csv_config(path: Path) -> str:
    return json.dumps({"ops": {"prices": {"config": {"source": "csv", "csv_path": str(path), "extra_symbols": ["SP500"]}}}})


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """A lake whose prices of 2021 came from a good CSV of the bundled closes, by the CLI."""
    folder = tmp_path_factory.mktemp("cli_errors")
    bundled = pd.read_parquet(REPO_ROOT / "data" / "bundled_prices.parquet")
    good = bundled.loc[bundled["symbol"].isin(SYMBOLS) & bundled["date"].between("2020-01-02", "2021-12-31")]
    good = good.sort_values(["date", "symbol"]).assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d"))
    good.to_csv(folder / "good.csv", index=False)
    with module_lake(folder, SMALL_PORTFOLIOS) as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        assert main(["backfill", *GOOD_RANGE, "--select", "prices", "--config-json",
                     _csv_config(folder / "good.csv")]) == 0
        yield folder, good


def _bad_csv(folder: Path, good: pd.DataFrame, kind: str) -> tuple[Path, list[str]]:
    """A copy of the good CSV spoilt one way, and the words the error line must hold."""
    frame = good.reset_index(drop=True).astype({"close": object})
    row = frame.index[(frame["date"] == "2021-02-10") & (frame["symbol"] == "KO")][0]
    line = str(row + 2)  # the header is line 1
    if kind == "negative close":
        frame.loc[row, "close"] = -5.0
        words = [f"row {line}", "'KO'", "'2021-02-10'", "-5.0", "close"]
    elif kind == "non-numeric close":
        frame.loc[row, "close"] = "n/a"
        words = [f"row {line}", "'KO'", "'2021-02-10'", "n/a", "close"]
    elif kind == "duplicate date":
        frame = pd.concat([frame, frame.loc[[row]]]).sort_values(["date", "symbol"], kind="stable")
        words = ["duplicate", "KO on 2021-02-10", f"row {line}"]
    elif kind == "missing column":
        frame = frame.drop(columns=["close"])
        words = ["missing column(s) close"]
    else:  # missing day
        frame = frame.drop(index=row)
        words = ["missing price", "'KO'", "2021-02-10", "prices_no_missing_days"]
    path = folder / f"{kind.replace(' ', '_')}.csv"
    frame.to_csv(path, index=False)
    return path, words


@pytest.mark.parametrize("kind", ["negative close", "non-numeric close", "duplicate date", "missing column",
                                  "missing day"])
def test_a_bad_csv_is_one_line_naming_file_row_and_field_exit_2_and_nothing_written(lake, kind, capsys):
    folder, good = lake
    path, words = _bad_csv(folder, good, kind)
    version = table_version("prices")
    code = main(["backfill", *BAD_RANGE, "--config-json", _csv_config(path)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"risk-pipeline backfill: {path}: ")
    assert all(word in err[0] for word in words), err[0]
    assert table_version("prices") == version
    assert not (folder / "data" / "logs").exists()  # nothing was run, so no log either


@pytest.mark.parametrize("start, end", [("1985-01-02", "1990-03-30"), ("2022-12-01", "2022-12-30")])
def test_a_range_outside_the_partitions_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys,
                                                                               start, end):
    # the partitions end on the bundled snapshot's last day, 2022-12-28
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    assert main(["backfill", "--start", start, "--end", end]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"risk-pipeline backfill: backfill range {start}..{end} is outside the partitions "
                   "1990-01-02..2022-12-28 (business days from the fixed start to the price source's last day, "
                   "or today for a live source)"]
    assert not (tmp_path / "data").exists()


def test_a_run_config_naming_an_unknown_field_is_refused_before_the_run(lake, capsys):
    folder, _ = lake
    config = json.loads(_csv_config(folder / "good.csv"))
    config["ops"]["prices"]["config"]["csv_pat"] = "typo.csv"
    version = table_version("prices")
    assert main(["backfill", *GOOD_RANGE, "--select", "prices", "--config-json", json.dumps(config)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and 'unexpected config entry "csv_pat" at path root:ops:prices:config' in err[0]
    assert table_version("prices") == version


def test_the_command_itself_prints_one_line_on_stderr(lake):
    """A real process: Dagster's console log would go to stderr if the command did not keep it in its file."""
    folder, good = lake
    path, _ = _bad_csv(folder, good, "negative close")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-m", "risk_pipeline.cli", "backfill", *BAD_RANGE, "--config-json",
                           _csv_config(path)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()] and "row " in done.stderr and str(path) in done.stderr


def test_a_step_failing_on_bad_settings_is_one_line_with_the_step_and_the_log(lake, capsys):
    folder, _ = lake
    config = json.loads(_csv_config(folder / "good.csv"))
    config["ops"]["var_estimates"] = {"config": {"confidences": [1.5], "methods": ["historical"]}}
    code = main(["backfill", *GOOD_RANGE, "--select", "var_estimates", "--config-json", json.dumps(config)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("risk-pipeline backfill: step var_estimates: confidence=1.5 must be")
    log = Path(err[0].rsplit("log: ", 1)[1].rstrip(")"))
    assert log.parent == folder / "data" / "logs" and "VarParameterError" in log.read_text()


def test_a_failed_blocking_check_is_one_line_naming_the_check_and_its_first_offending_row(lake, capsys):
    folder, _ = lake
    config = {"ops": {"returns_returns_within_sigmas": {"config": {"severity": "error", "max_sigmas": 0.5}}}}
    code = main(["backfill", *GOOD_RANGE, "--select", "returns", "--config-json", json.dumps(config)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("risk-pipeline backfill: check returns_within_sigmas on returns failed: ")
    offending = int(err[0].split("failed: ")[1].split()[0])
    assert offending > 0 and "in 2021-01-04..2021-12-31, first: date 2021-" in err[0] and "symbol " in err[0]
    assert "log: " in err[0]


def test_a_step_failing_on_a_bug_names_the_step_and_the_error_with_exit_1(lake, capsys, monkeypatch):
    folder, _ = lake

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("risk_pipeline.defs.market_data.close_to_close_returns", broken)
    code = main(["backfill", *GOOD_RANGE, "--select", "returns", "--config-json", _csv_config(folder / "good.csv")])
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and len(err) == 1
    assert "step returns failed with ZeroDivisionError: division by zero" in err[0] and "log: " in err[0]


@pytest.mark.parametrize("argv, message", [
    (["backfill", "--start", "2022-13-01", "--end", "2022-12-28"],
     "risk-pipeline backfill: argument --start: invalid fromisoformat value: '2022-13-01'"),
    (["lake", "history", "nope"], "risk-pipeline lake history: argument table: invalid choice: 'nope'"),
    (["pre-trade", "--portfolio", "ust10y", "--tarde", "UST10Y=1"], "risk-pipeline: unrecognized arguments: --tarde"),
])
def test_a_bad_argument_is_one_line_and_status_2(argv, message, capsys):
    """argparse's own errors too: before, the usage (up to 7 lines for pre-trade) came first."""
    with pytest.raises(SystemExit) as exit:
        main(argv)
    err = capsys.readouterr().err.splitlines()
    assert exit.value.code == 2 and len(err) == 1 and err[0].startswith(message), err


def test_a_summary_without_a_catalog_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "nothing"))
    assert main(["summary"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"risk-pipeline summary: no catalog at {tmp_path / 'nothing' / 'risk.duckdb'}: run `make run` (or "
        "`risk-pipeline backfill`) first"]


def test_a_closed_pipe_ends_the_command_quietly(lake):
    folder, good = lake
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    version = table_version("prices")
    command = f"'{sys.executable}' -m risk_pipeline.cli lake snapshot prices --version {version} | head -3; " \
              "echo \"status ${PIPESTATUS[0]}\" >&2"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120)
    assert len(done.stdout.splitlines()) == 3  # of a year of prices: more than a pipe's buffer (64 kB)
    assert done.stderr.splitlines() == ["status 141"], done.stderr
