"""The bundled trading books are what docs/positions.md and scripts/write_trading_books.py say: their rule
recomputed independently from the bundled closes on every rebalancing day, their files valid for the
pipeline's file source, and the counts the docs give."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.config.portfolios import DEFAULT_PORTFOLIOS_FILE
from risk_pipeline.sources.bundled import SHIPPED_DATA_DIR
from risk_pipeline.sources.positions import load_records
from risk_pipeline.storage.paths import REPO_ROOT

STOCKS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT", "PEP", "PFE",
          "PG", "RRC", "UNH", "WMT", "XOM"]


@pytest.fixture(scope="module")
def books():
    record = load_books_of_record(DEFAULT_PORTFOLIOS_FILE)
    known = set(pd.read_parquet(SHIPPED_DATA_DIR / "bundled_prices.parquet")["symbol"])
    positions = load_records(record.positions, "positions", record.books, known_symbols=known)
    trades = load_records(record.trades, "trades", record.books, known_symbols=known)
    return record, positions, trades


@pytest.fixture(scope="module")
def close():
    prices = pd.read_parquet(SHIPPED_DATA_DIR / "bundled_prices.parquet")
    return prices.loc[prices["symbol"].isin(STOCKS)].pivot(index="date", columns="symbol", values="close").dropna()


def test_the_shipped_files_are_valid_books_of_record_with_the_documented_counts(books):
    record, positions, trades = books
    assert set(record.books) == {"monthly_rebalanced", "momentum_12_1"} and record.trades is not None
    docs = " ".join((REPO_ROOT / "docs" / "positions.md").read_text().split())
    assert f"`data/trading_books/positions.parquet` ({len(positions):,} rows)" in docs
    assert f"`trades.parquet` ({len(trades):,} trades)" in docs
    for book, first in (("monthly_rebalanced", "1990-01-02"), ("momentum_12_1", "1991-01-02")):
        count = int((trades["portfolio"] == book).sum())
        assert f"from {first} ({count:,} trades)" in docs
        assert positions.loc[positions["portfolio"] == book, "date"].min() == pd.Timestamp(first)


def _held(positions: pd.DataFrame, book: str, day: pd.Timestamp) -> dict[str, float]:
    rows = positions.loc[(positions["portfolio"] == book) & (positions["date"] == day)]
    return dict(zip(rows["symbol"], rows["quantity"]))


def test_every_rebalancing_follows_the_rule_and_the_trades_are_the_position_changes(books, close):
    _, positions, trades = books
    months = close.index.to_period("M")
    rebalancing = close.index[np.r_[True, months[1:] != months[:-1]]]
    for day in rebalancing[::7]:  # every 7th month: 57 rebalancing days of each book
        at = close.index.get_loc(day)
        held = _held(positions, "monthly_rebalanced", day)
        assert held == {s: float(math.floor(50_000 / close.at[day, s])) for s in STOCKS}
        if at >= 252:
            momentum = close.iloc[at - 21] / close.iloc[at - 252] - 1
            top = sorted(momentum.sort_values(ascending=False, kind="stable").index[:5])
            assert _held(positions, "momentum_12_1", day) == {s: float(math.floor(200_000 / close.at[day, s]))
                                                              for s in top}
        for book, fee in (("monthly_rebalanced", 0.0005), ("momentum_12_1", 0.0010)):
            before = _held(positions, book, close.index[at - 1]) if at else {}
            after = _held(positions, book, day)
            done = trades.loc[(trades["portfolio"] == book) & (trades["date"] == day)]
            change = {s: after.get(s, 0.0) - before.get(s, 0.0) for s in set(before) | set(after)}
            assert dict(zip(done["symbol"], done["quantity"])) == {s: q for s, q in change.items() if q}
            np.testing.assert_allclose(done["price"], close.loc[day, done["symbol"]].to_numpy(), rtol=0)
            np.testing.assert_allclose(done["fees"], (done["quantity"].abs() * done["price"] * fee).round(2), atol=0)


def test_positions_change_only_on_rebalancing_days(books, close):
    _, positions, _ = books
    wide = positions.pivot_table(index="date", columns=["portfolio", "symbol"], values="quantity").fillna(0.0)
    changed = wide.index[1:][(wide.diff().iloc[1:] != 0).any(axis=1).to_numpy()]
    months = close.index.to_period("M")
    rebalancing = set(close.index[np.r_[True, months[1:] != months[:-1]]])
    assert set(changed) <= rebalancing and len(changed) > 300
