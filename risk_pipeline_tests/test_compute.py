"""The ``compute`` resource (risk_pipeline/compute.py): the stress and attribution tables, and every
table of the whole graph, computed inline and on a Dask LocalCluster of 2 worker processes (on
127.0.0.1, closed after the test) are identical."""

import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from functools import partial

import dagster as dg
import pandas as pd
import pytest
from distributed import get_task_stream

from risk_pipeline.compute import _CLIENTS, Compute, close_clients, dask_client
from risk_pipeline.defs.attribution import var_decomposition
from risk_pipeline.defs.market_data import ReturnsConfig, prices, returns
from risk_pipeline.defs.options import OptionStressConfig, _replay_weights
from risk_pipeline.defs.portfolios import portfolio_pnl
from risk_pipeline.defs.positions import positions, positions_cover_the_books, positions_instruments_priced
from risk_pipeline.defs.stress import stress
from risk_pipeline.risk.returns import close_to_close_returns
from risk_pipeline.storage import lake
from risk_pipeline.storage.paths import REPO_ROOT
from risk_pipeline.storage.schemas import TABLES as TABLES_ALL
from risk_pipeline_tests.pipeline_helpers import fast_run_config, materialize_range

START, END = "2020-01-02", "2020-04-30"  # covers the COVID window: historical scenarios and replays too
TABLES = ("stress_results", "reverse_stress", "historical_replay", "var_decomposition")


def _pid(_task: int) -> int:
    time.sleep(0.2)  # long enough for both workers to take tasks
    return os.getpid()


def _stress(engine: dict) -> dict[str, pd.DataFrame]:
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    config = {"ops": {"var_decomposition": {"config": {"estimation_window_days": 20}}},
              "resources": {"compute": {"config": engine}}}
    assert dg.materialize([stress, var_decomposition], run_config=config, tags=tags).success
    return {name: _sorted(lake.read_range(name).to_pandas()) for name in TABLES}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows in a fixed order: a day's rows come task after task, in an order that depends on the
    chunks (the dask engine makes as many tasks as a multiple of its workers)."""
    return frame.sort_values(list(frame.columns), ignore_index=True)


def test_the_stress_and_attribution_tables_are_identical_inline_and_on_two_dask_workers(data_dir):
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    upstream = {"ops": {"prices": fast_run_config()["ops"]["prices"]}}
    assert dg.materialize([prices, returns, portfolio_pnl], run_config=upstream, tags=tags).success
    inline = _stress({"engine": "inline"})
    versions = {name: lake.table_version(name) for name in TABLES}
    try:
        on_dask = _stress({"engine": "dask", "workers": 2})
        # the run's cluster, kept for the process: its tasks ran in 2 other processes
        pids = Compute(engine="dask", workers=2).map(_pid, range(8))
        addresses = list(dask_client(None, 2).scheduler_info()["workers"])
        scheduler = dask_client(None, 2).scheduler.address
    finally:
        close_clients()
    assert len(set(pids)) == 2 and os.getpid() not in pids
    # the cluster listens on this machine only
    assert len(addresses) == 2 and all(a.startswith("tcp://127.0.0.1:") for a in [*addresses, scheduler])
    assert {name: lake.table_version(name) for name in TABLES} == {name: v + 1 for name, v in versions.items()}
    for name in TABLES:
        assert len(inline[name]) > 0 and inline[name]["portfolio"].nunique() == 2
        pd.testing.assert_frame_equal(on_dask[name], inline[name], check_exact=True)


def _imported() -> tuple[object, ...]:
    import gc

    import dask
    import numpy._core.multiarray
    import psutil

    modules = {"risk_pipeline.defs.var", "risk_pipeline.defs.backtests", "risk_pipeline.defs.stress"}
    parent = psutil.Process().parent()
    return (modules <= set(sys.modules), gc.get_freeze_count() > 0, os.environ.get("MALLOC_TRIM_THRESHOLD_"),
            dask.config.get("distributed.worker.profile.enabled"), dask.config.get("distributed.admin.tick.interval"),
            dask.config.get("distributed.admin.system-monitor.interval"),
            dask.config.get("distributed.worker.memory.monitor-interval"),
            parent.pid, "multiprocessing.forkserver" in " ".join(parent.cmdline()),
            numpy._core.multiarray._get_madvise_hugepage())


def test_a_dask_run_starts_its_cluster_in_the_background_and_its_workers_import_the_assets_first():
    """The resource's setup (at a run's start) returns at once, the cluster starting in a thread; the
    first map finds the workers with the assets' modules imported (and frozen out of the cyclic
    collector's walks) before any task of theirs, both forked from one forkserver (which imported
    them once), glibc's own heap trimming (not the nanny's MALLOC_TRIM_THRESHOLD_), NumPy's arrays on base
    pages (risk_pipeline/numpy_pages.py), no stack sampling and Dask's event-loop, system and memory monitors
    at their slower intervals."""
    try:
        Compute(engine="dask", workers=2).setup_for_execution(dg.build_init_resource_context())
        starting = [t for t in threading.enumerate() if t.name == "dask-client-start"]
        assert not _CLIENTS and len(starting) == 1 and starting[0].is_alive()  # not started yet: in the background
        client = dask_client(None, 2)  # waits for the start under way: the same cluster, one
        assert not starting[0].is_alive() and len(_CLIENTS) == 1
        imported = client.run(_imported)
    finally:
        close_clients()
    assert len(imported) == 2 and all(state[:7] == (True, True, None, False, "1s", "2s", "500ms") and state[8]
                                      and state[9] == (os.environ.get("NUMPY_MADVISE_HUGEPAGE", "0") != "0")
                                      for state in imported.values())
    assert len({state[7] for state in imported.values()}) == 1  # one server forked both


def test_the_warm_up_prints_none_of_the_intended_dagster_warnings():
    """A worker's import of the assets (compute.warm_up) silences the beta/preview warnings of the APIs the project
    uses on purpose, as the run's process does: each LocalCluster worker wrote them (48 of backfill_policy, 20 of
    resource_defs with two workers) into the backfill's log file. A fresh process, as a worker is."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, "-c", "from risk_pipeline.compute import warm_up; warm_up()"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and "Warning" not in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("config, started", [
    ({"resources": {"compute": {"config": {"engine": "dask", "workers": 3}}}}, [(None, 3)]),
    ({"resources": {"compute": {"config": {"engine": "dask", "address": "tcp://scheduler:8786"}}}},
     [("tcp://scheduler:8786", 2)]),
    ({"resources": {"compute": {"config": {"engine": "inline"}}}}, []),
    ({"ops": {}}, []),
    (None, []),
    ({"resources": {"compute": {"config": {"engine": "dask", "workers": "many"}}}}, []),  # refused by the run
])
def test_the_backfill_starts_the_dask_engine_its_config_chooses_before_the_run(monkeypatch, config, started):
    """``risk-pipeline backfill`` starts the cluster its run config chooses before loading the definitions."""
    from risk_pipeline import compute
    from risk_pipeline.cli.backfill import start_engine

    calls = []
    monkeypatch.setattr(compute, "start_dask_client", lambda address, workers: calls.append((address, workers)))
    start_engine(config)
    assert calls == started


@pytest.mark.parametrize("engine, workers, books_per_task, sizes", [
    ("inline", 2, 8, [8, 7, 7, 7, 7, 7, 7]),  # 7 tasks at most 8: sizes within one
    ("dask", 2, 8, [7, 7, 6, 6, 6, 6, 6, 6]),  # 7 tasks -> 8 (a multiple of the 2 workers): 25 books each
    ("dask", 3, 8, [6, 6, 6, 6, 6, 5, 5, 5, 5]),  # 7 -> 9 tasks: 17, 17 and 16 books
    ("dask", 2, 5, [5] * 10),
    ("dask", 4, 20, [13, 13, 12, 12]),
])
def test_the_books_go_in_balanced_tasks_in_order(engine, workers, books_per_task, sizes):
    books = [f"book_{i:02d}" for i in range(50)]
    chunks = Compute(engine=engine, workers=workers, books_per_task=books_per_task).chunks(books)
    assert [len(c) for c in chunks] == sizes and [b for c in chunks for b in c] == books
    # never more tasks than books, none empty
    assert Compute(engine="dask", workers=4, books_per_task=2).chunks(books[:3]) == [[b] for b in books[:3]]
    assert Compute(engine=engine, workers=workers).chunks([]) == []


def test_spread_cuts_runs_of_even_weight_one_per_worker_and_one_run_inline():
    """Compute.spread with weights: contiguous runs (option_replay's days), each cut where the running weight reaches
    the next share; without them, sizes within one; inline, every item in one task."""
    dask = Compute(engine="dask", workers=2)
    assert dask.spread(list(range(6)), [1, 1, 1, 1, 4, 4]) == [[0, 1, 2, 3, 4], [5]]
    assert dask.spread(list(range(6)), [4, 4, 1, 1, 1, 1]) == [[0, 1], [2, 3, 4, 5]]
    assert dask.spread(list(range(6))) == [[0, 1, 2], [3, 4, 5]]
    assert dask.spread([1, 2, 3], [0, 0, 9]) == [[1, 2, 3]]  # the work in the last item: no cut before it
    assert Compute().spread(list(range(6)), [1, 1, 1, 1, 4, 4]) == [list(range(6))]


def _started(task: int) -> tuple[int, float]:
    began = time.perf_counter()
    time.sleep(0.1)
    return task, began


@pytest.mark.parametrize("engine", ["inline", "dask"])
def test_weighted_tasks_run_heaviest_first_and_come_back_in_their_order(engine):
    """``Compute.map`` with weights hands the heaviest task out first (one worker: it runs them in the order
    handed out), the equal ones in their order, and returns the results in the order of the tasks."""
    compute = Compute(engine=engine, workers=1)
    try:
        got = compute.map(_started, [0, 1, 2, 3, 4], weights=[1, 5, 2, 5, 0])
    finally:
        close_clients()
    assert [task for task, _ in got] == [0, 1, 2, 3, 4]
    assert sorted(range(5), key=lambda i: got[i][1]) == [1, 3, 2, 0, 4]


def _length(task: bytes) -> int:
    return len(task)


def _marked(task: bytes, folder: str) -> int:
    with open(os.path.join(folder, f"{len(task)}"), "w"):
        pass
    return -len(task)


@pytest.mark.parametrize("engine", ["inline", "dask"])
def test_each_function_s_results_come_as_soon_as_done_and_the_tasks_are_sent_once(engine, tmp_path, recwarn):
    """``Compute.each``: per function, its results in the order of the tasks. On two Dask workers every
    function's tasks are handed out before the first function's results are used (the second function's tasks
    end meanwhile, unasked), and the tasks (4 of 4 MB) are sent to the workers once, outside the graph: no
    "Sending large graph" warning (a graph of 3 x 16 MB, the tasks once per function, drew one per function)."""
    tasks = [bytes(4_000_000 + i) for i in range(4)]
    compute = Compute(engine=engine, workers=2)
    try:
        batches = compute.each([_length, partial(_marked, folder=str(tmp_path)), _length], tasks)
        first = next(batches)
        if engine == "dask":
            deadline = time.monotonic() + 60
            while len(list(tmp_path.iterdir())) < 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(list(tmp_path.iterdir())) == 4  # done before the second batch was asked for
        rest = list(batches)
    finally:
        close_clients()
    lengths = [4_000_000 + i for i in range(4)]
    assert [first, *rest] == [lengths, [-n for n in lengths], lengths]
    assert not [w for w in recwarn if "Sending large graph" in str(w.message)]


def test_an_unknown_engine_is_refused():
    with pytest.raises(dg.DagsterInvalidConfigError, match="engine"):
        dg.materialize([stress], run_config={"resources": {"compute": {"config": {"engine": "spark"}}}})


GRAPH_START, GRAPH_END = "2020-02-03", "2020-04-30"
HEAVY = ("portfolio_pnl", "var_estimates", "var_backtests", "forecast_scores", "var_scores", "stress_results", "reverse_stress",
         "historical_replay", "var_decomposition", "frtb_es", "frtb_desks")
# the one bundled option book's tables: a task per worker, each a block of the range's days
OPTION_BLOCKS = ("option_greeks", "option_pnl", "option_stress", "option_replay", "option_reverse_stress",
                 "option_limit_status")
OPTION_EWMA = 5  # the option books' proxy volatility within the range's first days (the lake starts with the range)
SPREAD = ("limit_status", "risk_summary")  # the books in a task per worker (compute.spread)


LIMITS = """
portfolios:
  balanced:
    - {measure: var, horizon_days: 1, confidence: 0.99, amount: 1000}
    - {measure: es, horizon_days: 3, confidence: 0.99, amount: 1000000000}
  held:
    - {measure: var, horizon_days: 1, confidence: 0.99, amount: 1000000000}
"""


def _graph_config(compute: dict, limits_file) -> dict:
    config = fast_run_config()
    config["ops"]["var_decomposition"] = {"config": {"estimation_window_days": 20}}
    # limits of the test's books (the shipped file's are of the shipped ones), measured on a window the range fills
    config["ops"]["limit_status"] = {"config": {"estimation_window_days": 20, "limits_file": str(limits_file)}}
    for name in OPTION_BLOCKS[:-1]:
        config["ops"][name] = {"config": {"ewma_window_days": OPTION_EWMA}}
    config["ops"]["var_estimates"]["config"]["options"] = {"ewma_window_days": OPTION_EWMA, "estimation_window_days": 10}
    return {**config, "resources": {"compute": {"config": compute}}}


def _every_table(root) -> dict[str, pd.DataFrame]:
    tables = {}
    for name in TABLES_ALL:
        tables[name] = _sorted(lake.read_range(name, root=root).to_pandas())
    return tables


def test_the_whole_graph_s_tables_are_identical_inline_and_in_tasks_of_one_book_on_two_dask_workers(
        data_dir, tmp_path, monkeypatch):
    limits = tmp_path / "limits.yaml"
    limits.write_text(LIMITS)
    inline = {"engine": "inline"}  # one task of every book
    assert materialize_range(GRAPH_START, GRAPH_END, _graph_config(inline, limits)).success
    expected = _every_table(data_dir / "lake")

    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data_dask"))  # the workers get it from the run
    on_dask = {"engine": "dask", "workers": 2, "books_per_task": 1}
    try:
        with get_task_stream(dask_client(None, 2)) as stream:
            assert materialize_range(GRAPH_START, GRAPH_END, _graph_config(on_dask, limits)).success
        tasks = stream.data
    finally:
        close_clients()
    got = _every_table(tmp_path / "data_dask" / "lake")
    # each heavy table's tasks (one per book; a task per worker for SPREAD) ran on the two workers, and wrote a
    # file per task and year
    assert len({task["worker"] for task in tasks}) == 2
    assert len(tasks) >= (len(HEAVY) + len(SPREAD)) * 2
    for name in HEAVY + SPREAD:
        assert len(expected[name]) > 0, name
        delta = lake.open_table(name, tmp_path / "data_dask" / "lake")
        assert len(delta.file_uris()) == (expected[name]["portfolio"].nunique() if name in HEAVY else 2), name
    # each option table's blocks of days, one per worker, a file each where they hold rows (the range in one year;
    # option_replay's one episode in the lake, covid_crash_2020, is reported from 2020-03-24: the second block)
    days = [d.date() for d in pd.bdate_range(GRAPH_START, GRAPH_END)]
    for name in OPTION_BLOCKS:
        weights = _replay_weights(OptionStressConfig(), days) if name == "option_replay" else None
        blocks = Compute(engine="dask", workers=2).spread(days, weights)
        dates = pd.to_datetime(expected[name]["date"])
        holding = sum(bool(dates.between(pd.Timestamp(b[0]), pd.Timestamp(b[-1])).any()) for b in blocks)
        assert expected[name]["book"].nunique() == 1 and holding == (1 if name == "option_replay" else 2), name
        assert len(lake.open_table(name, tmp_path / "data_dask" / "lake").file_uris()) == holding, name
    assert set(got) == set(expected)
    for name in TABLES_ALL:
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=True, obj=name)


def test_returns_computed_in_a_task_of_symbols_per_worker_are_those_of_the_whole_price_table(data_dir):
    """``returns`` on two workers: two tasks of symbols (one file each per year), and the stored rows
    exactly those of close_to_close_returns over every stored close of the range and the stored days
    before it (the code before computed them so, in one frame)."""
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    assert dg.materialize([prices], run_config={"ops": {"prices": fast_run_config()["ops"]["prices"]}},
                          tags=tags).success
    try:
        config = {"resources": {"compute": {"config": {"engine": "dask", "workers": 2}}}}
        assert dg.materialize([returns], run_config=config, tags=tags).success
    finally:
        close_clients()
    history = lake.read_range("prices").to_pandas()  # the range and the stored days before: every stored close
    history["date"] = pd.to_datetime(history["date"])
    expected = close_to_close_returns(history, max_gap_days=ReturnsConfig().max_gap_days)
    expected = expected.loc[expected["date"].between(START, END)].reset_index(drop=True)
    stored = lake.read_range("returns").to_pandas()
    stored["date"] = pd.to_datetime(stored["date"])
    stored = stored.sort_values(["date", "symbol"], ignore_index=True)
    assert len(expected) > 0 and expected["symbol"].nunique() > 2
    pd.testing.assert_frame_equal(stored[list(expected.columns)], expected, check_exact=True)
    assert len(lake.open_table("returns").file_uris()) == 2  # two tasks, the range in one year


def _positions_checks(engine: dict, tags: dict) -> tuple[dict[str, tuple[bool, dict]], list[dict]]:
    """The two checks of ``positions`` (alone, on the stored rows of ``tags``' range) on ``engine``: each
    check's outcome and metadata, and the Dask cluster's tasks (none inline)."""
    checks = [positions_instruments_priced, positions_cover_the_books]
    config = {"resources": {"compute": {"config": engine}}}
    selection = dg.AssetSelection.checks(*checks)
    with get_task_stream(dask_client(None, 2)) if engine["engine"] == "dask" else nullcontext() as stream:
        result = dg.materialize([positions, *checks], run_config=config, tags=tags, selection=selection,
                                raise_on_error=False)
    evaluations = {e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
                   for e in result.get_asset_check_evaluations()}
    return evaluations, stream.data if stream is not None else []


def test_the_positions_checks_read_their_years_in_a_task_per_worker_and_find_what_they_find_inline(data_dir):
    """``positions_instruments_priced`` and ``positions_cover_the_books`` over a range of two calendar years:
    on two workers a task of consecutive years each (two per check), the same outcome, counts and offending
    rows as inline (every year in the run's process, as the code before read them)."""
    tags = {"dagster/asset_partition_range_start": "2019-11-01", "dagster/asset_partition_range_end": "2020-02-28"}
    assert dg.materialize([prices, returns, positions], run_config={"ops": {"prices": fast_run_config()["ops"]["prices"]}},
                          tags=tags).success
    symbol = lake.read_range("positions").to_pandas()["symbol"].iloc[0]  # held without a close one day of each year
    lake.open_table("prices").delete(f"symbol = '{symbol}' AND (date = '2019-12-03' OR date = '2020-01-06')")
    inline, _ = _positions_checks({"engine": "inline"}, tags)
    try:
        on_dask, tasks = _positions_checks({"engine": "dask", "workers": 2}, tags)
    finally:
        close_clients()
    assert len(tasks) == 4 and len({task["worker"] for task in tasks}) == 2
    assert set(inline) == {"positions_instruments_priced", "positions_cover_the_books"}
    assert not inline["positions_instruments_priced"][0] and inline["positions_instruments_priced"][1]["offending"] > 0
    assert on_dask == inline


def _prices_on_dask(tags: dict) -> tuple[bool, list[dict]]:
    """``prices`` of ``tags``' range on two workers: whether it succeeded, and the cluster's tasks."""
    config = {"ops": {"prices": fast_run_config()["ops"]["prices"]},
              "resources": {"compute": {"config": {"engine": "dask", "workers": 2}}}}
    try:
        with get_task_stream(dask_client(None, 2)) as stream:
            success = dg.materialize([prices], run_config=config, tags=tags, raise_on_error=False).success
        return success, stream.data
    finally:
        close_clients()


def test_prices_read_in_a_task_of_symbols_per_worker_are_those_of_the_whole_read(data_dir, tmp_path, monkeypatch):
    """``prices`` on two workers: the bundled snapshot read and validated in two tasks, each a half of its
    symbols (one file each per year), and the stored rows exactly those of the inline run (the whole read in
    the run's process, the code before's everywhere); the audit's rules across symbols (a day's coverage, the
    portfolios' symbols priced) judged on every symbol. A bad close of a symbol of the second task writes
    nothing and gives the whole read's error, which names the file, the row, the symbol and the close."""
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    assert dg.materialize([prices], run_config={"ops": {"prices": fast_run_config()["ops"]["prices"]}},
                          tags=tags).success
    expected = _sorted(lake.read_range("prices").to_pandas())

    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data_dask"))
    success, tasks = _prices_on_dask(tags)
    assert success
    staging = [task for task in tasks if "_stage_prices" in task["key"] or "_in_environment" in task["key"]]
    assert len(staging) == 2 and len({task["worker"] for task in staging}) == 2
    assert len(lake.open_table("prices", tmp_path / "data_dask" / "lake").file_uris()) == 2  # two tasks, one year
    got = _sorted(lake.read_range("prices", root=tmp_path / "data_dask" / "lake").to_pandas())
    pd.testing.assert_frame_equal(got, expected, check_exact=True)

    snapshot = pd.read_parquet(REPO_ROOT / "data" / "bundled_prices.parquet")
    last = sorted(snapshot["symbol"].unique())[-1]  # in the second task's half
    row = int(snapshot.index[(snapshot["symbol"] == last) & (snapshot["date"] == pd.Timestamp("2020-03-02"))][0])
    snapshot.loc[row, "close"] = -1.0
    bad = tmp_path / "bad_snapshot"
    shutil.copytree(REPO_ROOT / "data", bad, ignore=shutil.ignore_patterns("bundled_prices.parquet"))
    snapshot.to_parquet(bad / "bundled_prices.parquet", index=False)
    monkeypatch.setenv("RISK_PIPELINE_BUNDLED_DATA", str(bad))
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data_bad"))
    result = dg.materialize([prices], run_config={"ops": {"prices": fast_run_config()["ops"]["prices"]},
                                                  "resources": {"compute": {"config": {"engine": "dask", "workers": 2}}}},
                            tags=tags, raise_on_error=False)
    close_clients()
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.cause.message
    assert message.startswith("risk_pipeline.sources.base.PriceDataError: ") and "\n" not in message.strip()
    assert f"row {row} (symbol {last!r}, date Timestamp('2020-03-02 00:00:00'), close -1.0)" in message
    assert str(bad / "bundled_prices.parquet") in message and "non-positive close" in message
    assert lake.open_table("prices", tmp_path / "data_bad" / "lake") is None  # nothing written

    # a close missing on a day every other symbol has one: the audit's coverage across both tasks' symbols
    gap = pd.read_parquet(REPO_ROOT / "data" / "bundled_prices.parquet")
    first = sorted(gap["symbol"].unique())[0]
    gap = gap.loc[~((gap["symbol"] == first) & (gap["date"] == pd.Timestamp("2020-03-03")))]
    gap.to_parquet(bad / "bundled_prices.parquet", index=False)
    errors = []
    for engine in ({"engine": "inline"}, {"engine": "dask", "workers": 2}):
        monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / f"data_gap_{engine['engine']}"))
        result = dg.materialize([prices], run_config={"ops": {"prices": fast_run_config()["ops"]["prices"]},
                                                      "resources": {"compute": {"config": engine}}},
                                tags=tags, raise_on_error=False)
        close_clients()
        assert not result.success
        errors.append(next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.cause.message)
        assert lake.open_table("prices", tmp_path / f"data_gap_{engine['engine']}" / "lake") is None
    assert "prices_no_missing_days" in errors[0] and f"symbol={first}" in errors[0]
    assert errors[1] == errors[0]


def test_prices_in_tasks_price_the_bond_and_cash_on_the_trading_days_of_every_task(tmp_path, monkeypatch):
    """Bond instruments and cash, priced by the run's process on the union of the tasks' trading days (a
    Treasury from its yields, EUR cash at 1) beside stocks of both tasks: the stored rows on two workers
    exactly those of the inline run, the MLK holiday (2021-01-18) without a row of either."""
    (tmp_path / "portfolios.yaml").write_text(
        "portfolios:\n"
        "  - {name: ust, base_currency: USD, notional: 1000000, positions: [{symbol: UST10Y, weight: 1.0}]}\n"
        "  - {name: eurusd, base_currency: USD, notional: 1000000, positions: [{symbol: CASH_EUR, weight: 1.0}]}\n"
        "  - {name: stocks, base_currency: USD, notional: 1, positions: [{symbol: AAPL, weight: 0.5},"
        " {symbol: XOM, weight: 0.5}]}\n")
    monkeypatch.setenv("RISK_PIPELINE_PORTFOLIOS", str(tmp_path / "portfolios.yaml"))
    tables = []
    for engine in ({"engine": "inline"}, {"engine": "dask", "workers": 2}):
        monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / f"data_{engine['engine']}"))
        config = {"ops": {"prices": {"config": {"extra_symbols": []}}}, "resources": {"compute": {"config": engine}}}
        try:  # two runs: the second's audit reads the first's stored days before its range (each task its symbols')
            for first, last in (("2021-01-04", "2021-02-26"), ("2021-03-01", "2021-03-31")):
                tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
                assert dg.materialize([prices], run_config=config, tags=tags).success
        finally:
            close_clients()
        tables.append(_sorted(lake.read_range("prices", root=tmp_path / f"data_{engine['engine']}" / "lake").to_pandas()))
    inline, on_dask = tables
    assert len(lake.open_table("prices", tmp_path / "data_dask" / "lake").file_uris()) == 6  # two tasks, the run's
    assert set(inline["symbol"]) == {"AAPL", "XOM", "UST10Y", "CASH_EUR"}
    assert not (pd.to_datetime(inline["date"]) == pd.Timestamp("2021-01-18")).any()
    pd.testing.assert_frame_equal(on_dask, inline, check_exact=True)
