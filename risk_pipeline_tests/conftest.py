from __future__ import annotations

import pytest

from risk_pipeline_tests.pipeline_helpers import BALANCED_BOOK

SMALL_PORTFOLIOS = "\nportfolios:\n" + BALANCED_BOOK + """  - name: held
    base_currency: USD
    positions:
      - {symbol: MSFT, quantity: 1000}
      - {symbol: KO, quantity: -200}
"""


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    """An empty data folder for the lake and catalog, and a small portfolio file."""
    folder = tmp_path / "data"
    folder.mkdir()
    portfolios = tmp_path / "portfolios.yaml"
    portfolios.write_text(SMALL_PORTFOLIOS)
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(folder))
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(portfolios))
    return folder


@pytest.fixture()
def yahoo(tmp_path):
    """The stand-in for Yahoo Finance's HTTP API on 127.0.0.1 (yahoo_server.fake_yahoo), its yfinance cache in
    the test's folder; for the price and yield sources' tests."""
    from risk_pipeline_tests.yahoo_server import fake_yahoo  # imports yfinance: only where a test asks for it

    with fake_yahoo(tmp_path / "yfinance-cache") as server:
        yield server


@pytest.fixture(autouse=True)
def no_persistent_instance(monkeypatch):
    """No test records runs in the user's instance (``make test`` exports DAGSTER_HOME): in-process
    runs use an in-memory instance; tests of the instance give their processes a temporary one."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


# The files whose tests took longest in `make test` (`--durations`, docs/performance.md "The test suite"),
# longest first. `make test` hands whole files to its two workers in collection order
# (`--dist loadfile --no-loadscope-reorder`): these first, so that no long file starts last while the other
# worker has nothing left (xdist's default order, most tests first, put the files of one or two long tests,
# test_kill_sweep and test_cluster among them, at the end).
LONGEST_FILES = ("test_faults.py", "test_kill_sweep.py", "test_empty_days.py", "test_ui.py", "test_report.py",
                 "test_pipeline.py", "test_last_dates.py", "test_catalog_faults.py", "test_cluster.py",
                 "test_quality_checks.py", "test_options_backtests.py", "test_lake_object_store.py")


def pytest_collection_modifyitems(items):
    """The tests of ``LONGEST_FILES`` first, in that order; each file's tests keep their order."""
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
