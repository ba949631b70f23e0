"""var_estimates reads by the chunk: each task of ``books_per_task`` books reads the prices, returns and
positions of its own books' instruments only (the run's process builds no book), and the table does not
depend on how the books are chunked."""

from __future__ import annotations

import pandas as pd

from risk_pipeline.compute import Compute
from risk_pipeline.storage import lake
from risk_pipeline_tests.pipeline_helpers import ALL_ASSETS, fast_run_config, materialize_range
from risk_pipeline_tests.test_record_books_var import _days

RANGE = ("2022-01-03", "2022-03-31")
PORTFOLIOS = """
portfolios:
  - name: growth
    base_currency: USD
    notional: 1000000
    positions:
      - {symbol: AAPL, weight: 0.5}
      - {symbol: MSFT, weight: 0.5}
  - name: staples
    base_currency: EUR
    positions:
      - {symbol: KO, quantity: 100}
      - {symbol: PG, quantity: 50}
books_of_record:
  books:
    - {name: desk, base_currency: EUR}
    - {name: energy, base_currency: USD}
  positions: {source: folder, path: drop}
"""
HOLDINGS = {"desk": {"JPM": 100.0, "BAC": -300.0}, "energy": {"XOM": 200.0, "CVX": 150.0}}
SYMBOLS = {"growth": {"AAPL", "MSFT"}, "staples": {"KO", "PG"}, **{b: set(h) for b, h in HOLDINGS.items()}}
UPSTREAM = {"prices", "returns", "fx_rates", "positions", "trades"}


def _var_estimates(books_per_task: int) -> pd.DataFrame:
    config = fast_run_config(methods=["historical", "parametric_normal", "monte_carlo"],
                             monte_carlo_estimation_window_days=20, n_scenarios=200)
    config["ops"].pop("prices")
    config["ops"]["var_estimates"]["config"]["options"] = {"positions_file": None}
    config["resources"] = {"compute": {"config": {"books_per_task": books_per_task}}}
    assets = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} == {"var_estimates"}]
    assert materialize_range(*RANGE, run_config=config, assets=assets).success
    return lake.read_range("var_estimates").to_pandas().sort_values(
        ["portfolio", "date", "method", "confidence", "horizon_days"], ignore_index=True)


def test_each_task_reads_only_its_books_instruments_and_the_table_does_not_depend_on_the_chunks(
        data_dir, monkeypatch):
    folder = data_dir.parent
    (folder / "portfolios.yaml").write_text(PORTFOLIOS)
    (folder / "drop").mkdir()
    for day in _days():
        rows = [f"{book},{symbol},{quantity}" for book, held in HOLDINGS.items() for symbol, quantity in held.items()]
        (folder / "drop" / f"positions_{day.date()}.csv").write_text("portfolio,symbol,quantity\n"
                                                                     + "\n".join(rows) + "\n")
    upstream = [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= UPSTREAM]
    prices = {"ops": {"prices": fast_run_config()["ops"]["prices"]}}
    assert materialize_range(*RANGE, run_config=prices, assets=upstream).success
    assert "SP500" in set(lake.read_range("prices").to_pandas()["symbol"])  # held by no book

    reads: list[tuple[str, set[str]]] = []
    read_days = lake.read_days

    def recording(table, *args, **kwargs):
        frame = read_days(table, *args, **kwargs)
        if table in {"prices", "returns", "positions", "trades"} and "symbol" in frame.columns:
            reads.append((table, set(frame["symbol"])))
        return frame

    monkeypatch.setattr(lake, "read_days", recording)
    one_book = _var_estimates(books_per_task=1)
    monkeypatch.setattr(lake, "read_days", read_days)

    # every read of a task holds the instruments of one book, and the reads together every book's
    assert reads and all(any(symbols <= own for own in SYMBOLS.values()) for _, symbols in reads), reads
    for table in ("prices", "returns"):
        assert set().union(*(s for t, s in reads if t == table)) == set().union(*SYMBOLS.values()), table
    assert {t for t, s in reads if s} >= {"prices", "returns", "positions"}
    assert set(one_book["portfolio"]) == set(SYMBOLS) and set(one_book["method"]) == {
        "historical", "parametric_normal", "monte_carlo"}
    # one task of every book: the same table, to the last bit
    pd.testing.assert_frame_equal(_var_estimates(books_per_task=8), one_book, check_exact=True)


def _recorded(run, handed: list):
    """``run``, recording the tasks in the order the engine runs them (inline: the order it hands them out)."""
    def recording(task):
        handed.append(task)
        return run(task)
    return recording


def test_the_task_holding_the_option_books_is_handed_out_first_and_the_results_keep_the_tasks_order():
    """var_estimates hands the engine the task of the option books (the heaviest) first, so that the workers
    finish together, and gets every task's result back in the order of its tasks."""
    import datetime as dt

    from risk_pipeline.defs.var import OptionBooksTask, VarTask, heaviest_first

    days = [dt.date(2022, 12, 27), dt.date(2022, 12, 28)]
    options = OptionBooksTask(settings=None, window=252, confidences=(0.99,), horizons=(1,))
    tasks = [VarTask(["book_a", "book_b"], days), VarTask(["book_c"], days), VarTask(["book_d", options], days)]
    handed: list = []
    results = heaviest_first(Compute(), _recorded(lambda task: task.chunk[0], handed), tasks)
    assert handed == [tasks[2], tasks[0], tasks[1]]
    assert results == ["book_a", "book_c", "book_d"]


def test_the_tasks_holding_books_of_record_are_handed_out_before_the_portfolios_chunks():
    """var_estimates hands out the tasks holding books of record (names) after the option books' and before the
    chunks of portfolios: in make run's backfill the chunk of its two books of record, handed out last, cost about
    two chunks of portfolios and ended the step alone (docs/performance.md); the results keep the tasks' order."""
    import datetime as dt

    from risk_pipeline.config.portfolios import Portfolio, Position
    from risk_pipeline.defs.var import OptionBooksTask, VarTask, heaviest_first

    days = [dt.date(2022, 12, 27), dt.date(2022, 12, 28)]
    a, b, c = (Portfolio(name, "USD", (Position("SPY", quantity=1.0),)) for name in ("a", "b", "c"))
    options = OptionBooksTask(settings=None, window=252, confidences=(0.99,), horizons=(1,))
    tasks = [VarTask([a, b], days), VarTask([c], days), VarTask(["record_1", "record_2"], days),
             VarTask([options], days)]
    handed: list = []
    results = heaviest_first(Compute(), _recorded(lambda task: task, handed), tasks)
    assert handed == [tasks[3], tasks[2], tasks[0], tasks[1]]
    assert results == tasks
