"""Data-quality rules on stored market data and portfolio holdings (pure: frames in, frames out).

Each rule returns a DataFrame of the offending items with a fixed schema (the ``*_COLUMNS``
constants); an empty frame means the rule passes. Dates are ``datetime64[ns]`` as in the lake.
The Dagster asset checks (``risk_pipeline.defs.market_data_checks``) read the lake, call these and turn
the result into a pass/fail with a severity; nothing here touches files or Dagster.

Every rule looks only at the days it is asked about (``days``) but may need the stored days
before them (a lookback) to know a symbol's previous close or its recent volatility.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from risk_pipeline.config.portfolios import Portfolio

NON_POSITIVE_COLUMNS = ["date", "symbol", "close"]
MISSING_DAY_COLUMNS = ["date", "symbol", "coverage"]
STALE_COLUMNS = ["symbol", "first_date", "last_date", "unchanged_days", "close"]
OUTLIER_COLUMNS = ["date", "symbol", "simple_return", "mean", "std", "sigmas"]
UNPRICED_COLUMNS = ["portfolio", "symbol"]
FX_GAP_COLUMNS = ["portfolio", "symbol", "currency", "date", "reason"]

FX_BEFORE_FIRST_FIXING = "before_first_fixing"
FX_MISSING_RATE = "missing_rate"


class QualityInputError(ValueError):
    """A quality rule got a malformed parameter or frame (the message names it)."""


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise QualityInputError(f"{name}: missing column(s) {missing}")


def _in_days(dates: pd.Series | pd.Index, days: Iterable[dt.date]) -> np.ndarray:
    wanted = pd.DatetimeIndex(pd.to_datetime(sorted(set(days)))).astype("datetime64[ns]")
    return np.asarray(pd.Index(dates).isin(wanted))


def non_positive_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """Rows whose close is not a finite number > 0 (a price of zero or below is never valid)."""
    _require(prices, NON_POSITIVE_COLUMNS, "prices")
    close = prices["close"].to_numpy(dtype=float)
    bad = ~(np.isfinite(close) & (close > 0))
    return prices.loc[bad, NON_POSITIVE_COLUMNS].sort_values(["date", "symbol"]).reset_index(drop=True)


def missing_days(prices: pd.DataFrame, days: Iterable[dt.date], min_coverage: float,
                 last_dates: Mapping[str, dt.date] | None = None) -> pd.DataFrame:
    """(date, symbol) pairs where a live symbol has no price on a day most live symbols have one.

    A symbol is live on date d from its first price in ``prices`` (which should include a
    lookback before ``days``) to its date in ``last_dates`` (a series that ends: after it the
    symbol has no rows, which is not a gap). A stored date d is checked when ``coverage_d`` = priced live
    symbols / live symbols is at least ``min_coverage`` (a market holiday has no rows at all
    and is never checked; a day when only a few symbols trade is not a gap of the others).
    """
    _require(prices, ["date", "symbol", "close"], "prices")
    if prices.empty:
        _check_coverage(min_coverage)
        return pd.DataFrame(columns=MISSING_DAY_COLUMNS)
    return missing_in(*priced_days(prices), days, min_coverage, last_dates)


def _check_coverage(min_coverage: float) -> None:
    if not 0.0 < min_coverage <= 1.0:
        raise QualityInputError(f"min_coverage must be in (0, 1], got {min_coverage}")


def priced_days(prices: pd.DataFrame, dates: pd.DatetimeIndex | None = None
                ) -> tuple[pd.DatetimeIndex, pd.Index, np.ndarray]:
    """The stored dates (``dates``, sorted; default: those of ``prices``), the symbols (sorted) and the
    matrix of dates x symbols, True where a close is stored (one pass over the rows): what
    :func:`missing_in` judges, for the rows of every symbol or of some (their columns)."""
    at_date, found = pd.factorize(prices["date"], sort=True)
    if dates is not None:
        dates = pd.DatetimeIndex(dates).astype(found.dtype)
        at_date = np.where(at_date >= 0, dates.get_indexer(found)[at_date], -1)
    at_symbol, symbols = pd.factorize(prices["symbol"], sort=True)
    stored = (at_date >= 0) & (at_symbol >= 0)
    priced = np.zeros((len(found if dates is None else dates), len(symbols)), dtype=bool)
    priced[at_date[stored], at_symbol[stored]] = True
    return (found if dates is None else dates), symbols, priced


def missing_in(dates: pd.DatetimeIndex, symbols: pd.Index, priced: np.ndarray, days: Iterable[dt.date],
               min_coverage: float, last_dates: Mapping[str, dt.date] | None = None) -> pd.DataFrame:
    """:func:`missing_days` of the matrix of :func:`priced_days`."""
    _check_coverage(min_coverage)
    first_seen = priced.argmax(axis=0)
    live = np.arange(len(dates))[:, None] >= first_seen[None, :]
    if last_dates:
        ends = pd.to_datetime([last_dates.get(str(s)) for s in symbols]).to_numpy("datetime64[ns]")  # NaT: none
        live &= ~(np.asarray(dates, dtype="datetime64[ns]")[:, None] > ends[None, :])
    coverage = (priced & live).sum(axis=1) / live.sum(axis=1)
    gap = live & ~priced & (coverage >= min_coverage)[:, None] & _in_days(dates, days)[:, None]
    rows, cols = np.nonzero(gap)
    return pd.DataFrame(
        {"date": dates[rows], "symbol": symbols[cols], "coverage": coverage[rows]},
        columns=MISSING_DAY_COLUMNS,
    )


def stale_prices(prices: pd.DataFrame, days: Iterable[dt.date], max_unchanged_days: int) -> pd.DataFrame:
    """Runs of more than ``max_unchanged_days`` consecutive priced days with an unchanged close.

    ``unchanged_days`` counts the days whose close equals the symbol's previous stored close
    (a flat run of k+1 equal closes has k unchanged days). A run is reported when it has a day
    in ``days``; ``prices`` should include the ``max_unchanged_days`` stored days before them.
    """
    if max_unchanged_days < 1:
        raise QualityInputError(f"max_unchanged_days must be >= 1, got {max_unchanged_days}")
    _require(prices, ["date", "symbol", "close"], "prices")
    ordered = prices.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
    same_symbol = ordered["symbol"].eq(ordered["symbol"].shift(1))
    unchanged = same_symbol & ordered["close"].eq(ordered["close"].shift(1))
    run_id = (~unchanged).cumsum()
    flat = ordered.loc[unchanged].assign(run=run_id[unchanged], checked=_in_days(ordered.loc[unchanged, "date"], days))
    runs = flat.groupby("run").agg(
        symbol=("symbol", "first"), first_date=("date", "min"), last_date=("date", "max"),
        unchanged_days=("date", "size"), close=("close", "first"), checked=("checked", "any"),
    )
    runs = runs.loc[(runs["unchanged_days"] > max_unchanged_days) & runs["checked"]]
    return runs[STALE_COLUMNS].sort_values(["symbol", "first_date"]).reset_index(drop=True)


def return_outliers(
    returns: pd.DataFrame, days: Iterable[dt.date], window: int, max_sigmas: float, min_periods: int | None = None,
    dates: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Returns more than ``max_sigmas`` rolling standard deviations from the rolling mean.

    z_t = (r_t - mean(r_{t-window..t-1})) / std(r_{t-window..t-1}) (sample std, ddof 1), per
    symbol over its own stored returns: the band is built from the previous ``window`` returns
    only, so the return being judged does not widen its own band. At least ``min_periods``
    (default ``window // 2``) previous returns are needed; a zero std flags any change.
    ``returns`` should include the ``window`` stored days before ``days``. The windows are rows of
    ``dates`` (default: the dates of ``returns``): the rows of some symbols alone (a task's chunk), given
    the dates of every symbol's rows, are judged as in the whole frame.
    """
    if window < 2:
        raise QualityInputError(f"window must be >= 2, got {window}")
    if not max_sigmas > 0:
        raise QualityInputError(f"max_sigmas must be > 0, got {max_sigmas}")
    min_periods = window // 2 if min_periods is None else min_periods
    if not 2 <= min_periods <= window:
        raise QualityInputError(f"min_periods must be in [2, window={window}], got {min_periods}")
    _require(returns, ["date", "symbol", "simple_return"], "returns")
    if returns.empty:
        return pd.DataFrame(columns=OUTLIER_COLUMNS)
    wide = returns.pivot(index="date", columns="symbol", values="simple_return").sort_index()
    if dates is not None:
        wide = wide.reindex(pd.DatetimeIndex(dates).astype(wide.index.dtype))
    rolling = wide.rolling(window, min_periods=min_periods)
    mean, std = rolling.mean().shift(1), rolling.std().shift(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigmas = ((wide - mean) / std).abs()
    # a change against a perfectly flat window is infinitely many sigmas away
    sigmas = sigmas.mask((std == 0) & (wide != mean), np.inf)
    flagged = (sigmas > max_sigmas) & _in_days(wide.index, days)[:, None]
    rows, cols = np.nonzero(flagged.to_numpy())
    return pd.DataFrame(
        {
            "date": wide.index[rows],
            "symbol": wide.columns[cols],
            "simple_return": wide.to_numpy()[rows, cols],
            "mean": mean.to_numpy()[rows, cols],
            "std": std.to_numpy()[rows, cols],
            "sigmas": sigmas.to_numpy()[rows, cols],
        },
        columns=OUTLIER_COLUMNS,
    )


def unpriced_positions(portfolios: Sequence[Portfolio], prices: pd.DataFrame) -> pd.DataFrame:
    """Held symbols with no price at all in ``prices`` while other symbols of the portfolio have one.

    Such a book cannot be valued. A portfolio none of whose symbols is priced (its history has
    not started yet, e.g. ETFs listed later) is not reported.
    """
    _require(prices, ["symbol"], "prices")
    priced = set(prices["symbol"].unique())
    rows = []
    for portfolio in portfolios:
        symbols = list(portfolio.symbols)
        if any(s in priced for s in symbols):
            rows.extend((portfolio.name, s) for s in symbols if s not in priced)
    return pd.DataFrame(rows, columns=UNPRICED_COLUMNS)


def fx_gaps(
    portfolios: Sequence[Portfolio], prices: pd.DataFrame, fx_rates: pd.DataFrame, max_staleness_days: int
) -> pd.DataFrame:
    """Days a foreign-currency position is priced but its currency cannot be converted to base.

    A position is foreign when its currency (its own setting, else the currency its prices are
    quoted in) differs from the portfolio's base currency. Conversion needs a rate of both
    currencies (EUR is always 1) on the day or at most ``max_staleness_days`` calendar days
    before. ``currency`` is the one without a rate (the position's or the base's; the first in
    alphabetical order when both lack one). ``reason`` is ``before_first_fixing`` for days before
    either currency's first rate (the book has no history there, by design) and ``missing_rate``
    otherwise (a hole, a stale rate, or a currency no longer quoted: the book cannot be valued).
    ``fx_rates`` is the long frame of ``ecb_fx.load_fx_rates`` (date, currency, rate per EUR).
    """
    if max_staleness_days < 0:
        raise QualityInputError(f"max_staleness_days must be >= 0, got {max_staleness_days}")
    _require(prices, ["date", "symbol", "currency"], "prices")
    _require(fx_rates, ["date", "currency"], "fx_rates")
    fixings = {cur: np.sort(grp["date"].to_numpy()) for cur, grp in fx_rates.groupby("currency")}
    limit = np.timedelta64(max_staleness_days, "D")
    held = {s for portfolio in portfolios for s in portfolio.symbols}
    # one pass over the price rows: each held symbol's rows, in the frame's order
    quoted = {s: own for s, own in prices.loc[prices["symbol"].isin(held), ["symbol", "date", "currency"]]
              .groupby("symbol", sort=False)}
    gaps: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    found: list[tuple[str, str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
    for portfolio in portfolios:
        for position in portfolio.positions:
            own = quoted.get(position.symbol)
            if own is None:
                continue
            currency = position.currency or own["currency"].iloc[0]
            if currency == portfolio.base_currency:
                continue
            key = (position.symbol, currency, portfolio.base_currency)
            if key not in gaps:  # the same symbol in the same currency pair in another book: computed once
                gaps[key] = _fx_gap_days(np.sort(own["date"].to_numpy()), {currency, portfolio.base_currency},
                                         fixings, limit)
            if len(gaps[key][0]):
                found.append((portfolio.name, position.symbol, gaps[key]))
    if not found:
        return pd.DataFrame(columns=FX_GAP_COLUMNS)
    counts = [len(days) for _, _, (days, _, _) in found]
    return pd.DataFrame({
        "portfolio": np.repeat(np.array([name for name, _, _ in found], dtype=object), counts),
        "symbol": np.repeat(np.array([symbol for _, symbol, _ in found], dtype=object), counts),
        "currency": np.concatenate([lacking for _, _, (_, lacking, _) in found]),
        "date": np.concatenate([days for _, _, (days, _, _) in found]),
        "reason": np.concatenate([reason for _, _, (_, _, reason) in found]),
    }, columns=FX_GAP_COLUMNS)


def fx_gaps_of_parts(portfolios: Sequence[Portfolio], parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The :func:`fx_gaps` of the rows of every symbol from those of chunks of symbols (``parts``: each the
    fx_gaps of its symbols' rows): their rows in the order of the books and of their positions, as
    :func:`fx_gaps` gives them from the rows of every symbol at once (a book's gaps of one symbol in the
    order of their part)."""
    rows = [part for part in parts if len(part)]
    if not rows:
        return parts[0] if parts else pd.DataFrame(columns=FX_GAP_COLUMNS)
    rank: dict[tuple[str, str], int] = {}
    for portfolio in portfolios:
        for position in portfolio.positions:
            rank.setdefault((portfolio.name, position.symbol), len(rank))
    frame = pd.concat(rows, ignore_index=True)
    order = np.argsort([rank[key] for key in zip(frame["portfolio"], frame["symbol"])], kind="stable")
    return frame.take(order).reset_index(drop=True)


def _fx_gap_days(dates: np.ndarray, legs: set[str], fixings: dict[str, np.ndarray],
                 limit: np.timedelta64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The priced ``dates`` on which the currency pair ``legs`` cannot be converted (:func:`fx_gaps`):
    those dates, the currency lacking a rate on each and the reason, days before the first fixing
    first."""
    before = np.zeros(len(dates), dtype=bool)
    missing = np.zeros(len(dates), dtype=bool)
    lacking = np.full(len(dates), "", dtype=object)
    for leg in sorted(legs - {"EUR"}):
        fixed = fixings.get(leg, np.array([], dtype="datetime64[ns]"))
        if fixed.size == 0:  # a currency without any rate
            leg_missing, leg_before = np.ones(len(dates), dtype=bool), np.zeros(len(dates), dtype=bool)
        else:
            pos = fixed.searchsorted(dates, side="right") - 1
            leg_before = pos < 0
            leg_missing = ~leg_before & (dates - fixed[np.maximum(pos, 0)] > limit)
        lacking[(leg_before | leg_missing) & (lacking == "")] = leg
        before |= leg_before
        missing |= leg_missing
    picked = [(before, FX_BEFORE_FIRST_FIXING), (missing & ~before, FX_MISSING_RATE)]
    return (np.concatenate([dates[flags] for flags, _ in picked]),
            np.concatenate([lacking[flags] for flags, _ in picked]),
            np.concatenate([np.full(int(flags.sum()), reason, dtype=object) for flags, reason in picked]))


def unpriced_held_positions(held: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``held`` (the ``positions`` table) whose instrument has no close on their day in
    ``prices``: date, portfolio, symbol, quantity (one join: linear in the rows)."""
    joined = held.merge(prices[["date", "symbol", "close"]], on=["date", "symbol"], how="left")
    return joined.loc[joined["close"].isna(), ["date", "portfolio", "symbol", "quantity"]]


def uncovered_books(held: pd.DataFrame, trading: pd.DatetimeIndex, start: dt.date,
                    last_dates: Mapping[str, dt.date] | None = None) -> tuple[pd.DataFrame, int]:
    """The (date, portfolio, previous) of each trading day from ``start`` on whose book held
    positions at the previous trading day's close and has none on the day, and the number of such
    book-days checked. ``held``: the ``positions`` rows from the trading day before ``start``;
    ``trading``: the sorted trading days, that one included. A position in a symbol past its last
    date on the day (``last_dates``, pipeline.yaml's ``prices.last_dates``: a series that ends) is not
    expected to go on, so a book that held only such symbols is not checked on that day: its rows end
    with the series by design (config/last_dates.py), as they start with a symbol's first price."""
    present = held[["date", "portfolio"]].drop_duplicates().assign(present=True)
    pairs = pd.DataFrame({"previous": trading[:-1], "date": trading[1:]})
    pairs = pairs.loc[pairs["date"] >= pd.Timestamp(start)]
    before = held[["date", "portfolio", "symbol"]].rename(columns={"date": "previous"}).merge(pairs, on="previous")
    if last_dates:
        ends = pd.to_datetime(before["symbol"].map(last_dates))  # NaT: the symbol does not end
        before = before.loc[~(before["date"] > ends)]
    before = before[["date", "portfolio", "previous"]].drop_duplicates()
    today = before.merge(present, on=["date", "portfolio"], how="left")
    return today.loc[today["present"].isna(), ["date", "portfolio", "previous"]], len(today)


def missing_fx_line(portfolio: str, currency: str, first_missing: dt.date | pd.Timestamp) -> str:
    """The one line that names a book that cannot be valued for want of an FX rate."""
    return f"book {portfolio}: no {currency} rate on {first_missing:%Y-%m-%d} (first missing date)"


def books_missing_fx(gaps: pd.DataFrame) -> dict[str, str]:
    """Per portfolio with a ``missing_rate`` gap (rows of :func:`fx_gaps`): its :func:`missing_fx_line`."""
    missing = gaps.loc[gaps["reason"] == FX_MISSING_RATE].sort_values(["date", "currency"], kind="stable")
    first = missing.drop_duplicates("portfolio")
    return {row.portfolio: missing_fx_line(row.portfolio, row.currency, row.date) for row in first.itertuples()}
