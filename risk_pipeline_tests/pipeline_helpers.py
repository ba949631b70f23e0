"""Helpers to materialize the asset graph in process on a temporary data folder."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from sqlalchemy import text

from risk_pipeline.config.portfolios import DEFAULT_PORTFOLIOS_FILE
from risk_pipeline.storage.catalog import refresh_catalog
from risk_pipeline.definitions import defs
from risk_pipeline.instance import ephemeral_instance

REPO = Path(__file__).resolve().parents[1]
# a YAML weight book of three stocks, 40/30/30 of 1,000,000 USD: one entry of a portfolios file's list
BALANCED_BOOK = """  - name: balanced
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.4}
      - {symbol: JPM, weight: 0.3}
      - {symbol: XOM, weight: 0.3}
"""
ALL_ASSETS = list(defs.assets)



def fast_run_config(estimation_window_days: int = 20, **var_overrides) -> dict:
    """Short windows so a few months of history give estimates and backtests."""
    var = {"methods": ["historical"], "confidences": [0.95, 0.99], "horizons": [1],
           "estimation_window_days": estimation_window_days}
    var.update(var_overrides)
    return {
        "ops": {
            "prices": {"config": {"extra_symbols": ["SP500"]}},
            "var_estimates": {"config": var},
        }
    }


def materialize_range(start: str, end: str, run_config: dict | None = None, assets=None, raise_on_error=True):
    """One run over the partition range ``start..end`` (a single-run backfill, as the CLI does)."""
    tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    with ephemeral_instance() as instance:
        return dg.materialize(assets or ALL_ASSETS, run_config=run_config or fast_run_config(), tags=tags,
                              raise_on_error=raise_on_error, instance=instance)


def shipped_portfolios() -> str:
    """The shipped portfolios file's text for a copy in another folder: its books of record's files (relative
    to the file) named by their absolute path."""
    folder = DEFAULT_PORTFOLIOS_FILE.parent
    return DEFAULT_PORTFOLIOS_FILE.read_text().replace("path: trading_books/", f"path: {folder}/trading_books/")


def query(data_dir: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True) as con:
        return con.execute(sql).df()


CORE_ASSET_NAMES = ("prices", "returns", "portfolio_pnl", "var_estimates", "var_backtests")


def core_assets():
    """prices -> returns -> portfolio_pnl -> var_estimates -> var_backtests, without the rest of the graph."""
    return [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= set(CORE_ASSET_NAMES)]


def project_instance(home: Path, yaml: str | None = None) -> dg.DagsterInstance:
    """A persistent instance in ``home`` with the project's dagster.yaml (or ``yaml``)."""
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text() if yaml is None else yaml)
    return dg.DagsterInstance.from_config(str(home))


def check_rows(instance: dg.DagsterInstance) -> list[tuple]:
    """(check name, partition, status) of every asset-check execution the instance recorded."""
    with instance.event_log_storage.index_connection() as conn:
        return [tuple(row) for row in conn.execute(text(
            "select check_name, partition, execution_status from asset_check_executions"))]


@contextlib.contextmanager
def module_lake(folder: Path, portfolios: str) -> Iterator[pytest.MonkeyPatch]:
    """For a module-scoped fixture: ``folder/portfolios.yaml`` holding ``portfolios`` and the environment
    pointing the pipeline at it and at the data folder ``folder/data``, while the block runs."""
    (folder / "portfolios.yaml").write_text(portfolios)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISK_PIPELINE_DATA", str(folder / "data"))
        mp.setenv("RISK_PIPELINE_PORTFOLIOS", str(folder / "portfolios.yaml"))
        yield mp


def copy_lake(source: Path, target: Path) -> Path:
    """A copy in ``target`` of the data folder ``source`` built once by a module's fixture, for a test
    that writes into it: the lake (its Delta logs name their files relative to the table), the
    reports, and a catalog rewritten over the copy's files (a catalog's views name its data files by
    their absolute path). ``RISK_PIPELINE_DATA`` must already point at ``target``."""
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    refresh_catalog()
    return target
