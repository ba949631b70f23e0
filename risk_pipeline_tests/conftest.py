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


@pytest.fixture(autouse=True)
def no_persistent_instance(monkeypatch):
    """No test records runs in the user's instance (``make test`` exports DAGSTER_HOME): in-process
    runs use an in-memory instance; tests of the instance give their processes a temporary one."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
