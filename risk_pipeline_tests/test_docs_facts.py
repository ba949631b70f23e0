"""What docs/operations.md states about the Dagster definitions is what the Definitions object holds:
the number of assets and checks, each check's asset and whether it blocks."""

from __future__ import annotations

import re

from risk_pipeline.definitions import defs
from risk_pipeline.storage.paths import REPO_ROOT
from risk_pipeline.storage.schemas import TABLES

OPERATIONS = (REPO_ROOT / "docs" / "operations.md").read_text()
BUSINESS_DAYS_1990_2022 = 8607


def test_operations_md_counts_the_assets_and_checks_of_the_definitions():
    graph = defs.resolve_asset_graph()
    n_assets, n_checks = len(graph.materializable_asset_keys), len(graph.asset_check_keys)
    assert n_assets == len(TABLES) + 1  # every table and risk_report
    assert f"hold {n_assets} assets (the {len(TABLES)} tables" in OPERATIONS
    assert f"and {n_checks} asset checks" in OPERATIONS
    assert (f"8,607 x {n_assets} = {BUSINESS_DAYS_1990_2022 * n_assets:,} materialization events" in OPERATIONS)
    assert f"{n_assets} planned events, and {n_checks} check evaluations" in OPERATIONS


def test_operations_md_lists_every_check_with_its_asset_and_whether_it_blocks():
    graph = defs.resolve_asset_graph()
    documented = {name: (asset, blocking) for name, asset, blocking in
                  re.findall(r"^\| `(\w+)` \((\w+)\) \| (yes|no) \|", OPERATIONS, flags=re.MULTILINE)}
    actual = {key.name: (key.asset_key.to_user_string(), "yes" if graph.get_check_spec(key).blocking else "no")
              for key in graph.asset_check_keys}
    assert documented == actual
