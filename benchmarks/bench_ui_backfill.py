"""A backfill launched from the UI against the same range through ``risk-pipeline backfill``.

Both on a fresh persistent instance (the project's ``dagster.yaml``) and an empty data folder,
over ``--start..--end`` (2022 by default) with the bundled prices and a short VaR configuration
(historical method, 15-day windows for VaR and limits: a month needs no earlier history):

- CLI: ``risk-pipeline backfill`` in a new process (Python start-up, definitions, the run);
- UI: ``dagster dev`` (webserver + daemon) started beforehand (not timed), then the GraphQL
  mutation the UI's "Launch backfill" sends (``launchPartitionBackfill`` over every asset and the
  range), timed from the launch until its run ended (the backfill daemon's pick-up, up to 30 s,
  its run queue, the run's process, the run) and until the daemon marked the backfill complete
  (its next iteration, up to 30 s later; Dagster's fixed 30 s daemon interval).

Prints both times and the ratio UI / CLI (target <= 1.5), the number of runs the backfill made
(one: BackfillPolicy.single_run), and checks that both stored the same tables.

    .venv/bin/python benchmarks/bench_ui_backfill.py
    .venv/bin/python benchmarks/bench_ui_backfill.py --start 2022-12-01 --end 2022-12-28
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from risk_pipeline_tests.ui_server import (  # noqa: E402  (the test suite's dagster dev helper)
    assert_same_tables,
    dagster_dev,
    launch_asset_backfill,
    wait_for_backfill,
)

CONFIG = {"ops": {"prices": {"config": {"extra_symbols": ["SP500"]}},
                  "var_estimates": {"config": {"methods": ["historical"], "estimation_window_days": 15}},
                  "limit_status": {"config": {"estimation_window_days": 15}}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", default="2022-01-03")
    parser.add_argument("--end", default="2022-12-28")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_ui_backfill_") as tmp:
        root = Path(tmp)
        cli_home, cli_data = root / "cli_home", root / "cli_data"
        for folder in (cli_home, cli_data):
            folder.mkdir()
        (cli_home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
        env = {**os.environ, "DAGSTER_HOME": str(cli_home), "RISK_PIPELINE_DATA": str(cli_data),
               "PYTHONWARNINGS": "ignore"}
        began = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "risk-pipeline"), "backfill", "--start", args.start,
                        "--end", args.end, "--config-json", json.dumps(CONFIG)],
                       cwd=REPO, env=env, check=True, capture_output=True)
        cli_s = time.perf_counter() - began
        print(f"CLI  risk-pipeline backfill {args.start}..{args.end}: {cli_s:6.1f} s", flush=True)

        with dagster_dev(root / "ui") as ui:
            launched = time.time()
            backfill_id = launch_asset_backfill(ui, args.start, args.end, CONFIG)
            runs = wait_for_backfill(ui, backfill_id, timeout=20 * cli_s + 300)
            complete_s = time.time() - launched
            run_s = max(run["endTime"] for run in runs) - launched
            print(f"UI   launchPartitionBackfill {args.start}..{args.end}: {run_s:6.1f} s until its run ended "
                  f"({len(runs)} run(s)); {complete_s:.1f} s until the daemon marked the backfill complete",
                  flush=True)
            compared = assert_same_tables(cli_data, ui.data)
        print(f"\nratio UI / CLI: {run_s / cli_s:.2f} until the run ended (target <= 1.5), "
              f"{complete_s / cli_s:.2f} until the backfill is marked complete; same rows in {len(compared)} tables")


if __name__ == "__main__":
    main()
