"""FRTB internal-models assets: ``frtb_es`` (per desk, the bank and risk class: current,
liquidity-adjusted and stressed ES, IMES), ``frtb_desks`` (desk backtesting, P&L attribution,
eligibility) and ``frtb_capital`` (the bank's IMCC, multiplier and C_A), and the check that
warns when a desk is not eligible. Formulas and choices: docs/frtb.md; settings:
risk_pipeline/config/frtb.yaml. Non-modellable risk factors (SES) and the default risk charge
are out of scope.
"""

import datetime as dt
from functools import partial
from typing import Optional

import dagster as dg
import numpy as np
import pandas as pd

from risk_pipeline.defs.market_data import prices, returns
from risk_pipeline.compute import DEFAULT_COMPUTE, Compute
from risk_pipeline.defs.chunks import publish_chunks
from risk_pipeline.defs.positions import positions, trades
from risk_pipeline.defs.lake_assets import checked_days, lake_asset, latest_day_of_run, partition_days, publish
from risk_pipeline.books import SymbolRows, build_books
from risk_pipeline.defs.portfolios import (
    BOOK_PRICE_COLUMNS, BOOK_RETURN_COLUMNS, log_skipped_books, record_book_rows, record_books, skipped_metadata,
)
from risk_pipeline.defs.var import VarConfig, portfolio_forecasts
from risk_pipeline.frtb_books import FrtbBook, bank_book, desk_book, position_fx_returns
from risk_pipeline.config.frtb import FrtbConfig, desk_portfolios, load_frtb_config, record_desks
from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.risk.frtb import (
    BACKTEST_DAYS, CAPITAL_AVERAGE_DAYS, CLASS_ALL, DESK_CONFIDENCES, OBSERVATION_DAYS, PLA_DAYS, RISK_CLASSES,
    backtest_eligible, book_es, capital_charge, desk_exception_counts, factor_model_pnl, imcc, pla_zone, plus_factor_zones,
    plus_factors, rolling_ks, rolling_spearman,
)
from risk_pipeline.risk.instruments.fx import to_base_returns
from risk_pipeline.risk.portfolio import with_amounts
from risk_pipeline.risk.var import var_es_grid
from risk_pipeline.storage.lake import empty_frame, read_days, read_window, stored_days, window_days

QUARTER_DAYS = 70
"""Stored days read before a run's first day to reach its quarter's first trading day (the
stressed window's selection day) and its ES window."""
OUT_OF_SCOPE = ("Non-modellable risk factors (stressed expected shortfall, SES) and the default risk charge are "
                "out of scope (SES = 0, no DRC).")


class FrtbSettings(dg.Config):
    """The FRTB settings file (default: $RISK_PIPELINE_FRTB or the shipped risk_pipeline/config/frtb.yaml)."""

    frtb_file: Optional[str] = None


def _read_market(start: dt.date, end: dt.date, lookback: int, since: dt.date | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prices and returns of ``start..end`` plus ``lookback`` stored days before, and back to ``since``;
    one more close, so that the first day read has its FX return (computed from the closes read). Only
    the columns a book is built from: ``frtb_es`` reads 16 years."""
    if since is not None:
        lookback = max(lookback, sum(1 for d in stored_days("returns") if since <= d < start))
    return (read_window("prices", start, end, lookback=lookback + 1, columns=BOOK_PRICE_COLUMNS),
            read_window("returns", start, end, lookback=lookback + 1, columns=BOOK_RETURN_COLUMNS))


def desk_names(config: FrtbConfig, skipped: dict[str, str] | None = None) -> list[str]:
    """The names of the rows a run computes: every desk of the settings (portfolios, then books of
    record) but those left out for want of an FX rate, then the bank."""
    records = list(load_books_of_record().books)
    names = [p.name for p in desk_portfolios(config, load_portfolios(), records)] + record_desks(config, records)
    return [name for name in names if name not in (skipped or {})] + [config.bank_name]


def _books(context: dg.AssetExecutionContext, config: FrtbConfig, start: dt.date, end: dt.date,
           price_history: pd.DataFrame, return_history: pd.DataFrame,
           with_trades: bool = False) -> tuple[list[FrtbBook], dict[str, str]]:
    """Every desk of the settings, then the bank (empty when no desk has prices in the window); a
    desk whose FX is missing is left out of both, named in the log and in the returned lines. A
    book of record's desk holds its stored positions over the window read (and, ``with_trades``,
    its actual P&L from the stored trades)."""
    records = list(load_books_of_record().books)
    chosen = desk_portfolios(config, load_portfolios(), records)
    if price_history.empty:
        return [], {}
    # each desk built from its symbols' rows (books.SymbolRows), not from every row of the window read
    built, skipped = build_books(chosen, price_history, return_history)
    return_rows = SymbolRows(return_history, by="date")
    desks = [(book, desk_book(config, book, return_rows.of(book.portfolio.symbols))) for book in built]
    names = record_desks(config, records)
    if names:
        recorded, _, record_skipped = record_books(start, end, price_history, return_history, with_trades=with_trades,
                                                   names=names, since=price_history["date"].min().date())
        skipped.update(record_skipped)
        for book, traded in recorded:
            actual = None
            if with_trades:
                actual = record_book_rows(book, traded, price_history).set_index("date")["actual_pnl"]
            desks.append((book, desk_book(config, book, return_history, actual, recorded=True)))
    skipped = {name: f"{line} (left out of the desks and of {config.bank_name})" for name, line in skipped.items()}
    log_skipped_books(context, skipped)
    books = [desk for _, desk in desks]
    return books + ([bank_book(config, desks, return_history)] if desks else []), skipped


def pnl_days(book: FrtbBook) -> int:
    """What a book's task of ``frtb_desks`` costs, roughly: its P&L days (each a window of its VaR and P&L
    attribution tests); the chunks of books are handed out heaviest first (``publish_chunks``), so that the two
    chunks of the longest desks do not both fall to one worker while the other ends early. (``frtb_es``' cost
    follows its books' risk factors too: by P&L days its chunks were no better balanced than in order.)"""
    return len(book.pnl)


def _in_range(frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    return frame.loc[frame["date"].dt.date.between(start, end)]


def _latest(frame: pd.DataFrame, name: str, columns: list[str], **where: str) -> dict:
    """Metadata ``name``: the latest day's rows of ``frame`` (matching ``where``) as a markdown table."""
    if frame.empty:
        return {}
    rows = frame.loc[frame["date"] == frame["date"].max()]
    for column, value in where.items():
        rows = rows.loc[rows[column] == value]
    return {name: dg.MetadataValue.md(rows[columns].to_markdown(index=False, floatfmt=".6g"))} if len(rows) else {}


@lake_asset(
    group_name="frtb",
    deps=[prices, returns, positions, trades],
    description=(
        "FRTB expected shortfall (MAR33.4-33.5) per desk (portfolio), the bank and risk class (all, equity, fx): "
        "10-day ES at 97.5% of the current 250-day window (es_unadjusted), liquidity-adjusted (es_full_current), on the "
        "reduced set (es_reduced_current), on the stressed window stress_start..stress_end (es_reduced_stressed), "
        "and IMES; amounts in base_currency. " + OUT_OF_SCOPE
    ),
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def frtb_es(context: dg.AssetExecutionContext, config: FrtbSettings, compute: Compute) -> dg.MaterializeResult:
    """Each chunk of books (desks, the bank) is a task of the ``compute`` engine (defs/chunks.py)."""
    start, end, days = partition_days(context)
    settings = load_frtb_config(config.frtb_file)
    windows = _stored_windows(settings, start, end)
    books = None
    if windows is not None:  # the quarter's stressed windows are stored: their days and the current windows'
        segments = _segments(start, end, windows)
        read = [d for first, last in segments for d in stored_days("prices", first=first, last=last)]
        price_history = read_days("prices", read, columns=BOOK_PRICE_COLUMNS)
        return_history = read_days("returns", read, columns=BOOK_RETURN_COLUMNS)
        books, skipped = _books(context, settings, start, end, price_history, return_history)
        if not all(_reads_its_windows(book, segments, windows.get(book.name), start, end) for book in books):
            books, windows = None, None
    if books is None:
        price_history, return_history = _read_market(start, end, OBSERVATION_DAYS + QUARTER_DAYS,
                                                     settings.stress_search.start)
        books, skipped = _books(context, settings, start, end, price_history, return_history)
    del price_history, return_history  # the books hold what they need
    columns = ["portfolio", "es_unadjusted", "es_full_current", "es_reduced_stressed", "imes", "stress_start", "stress_end"]
    return publish_chunks(compute, "frtb_es", partial(_es_rows, settings=settings, start=start, end=end,
                                                      windows=windows), books, days,
                          keys=desk_names(settings, skipped),
                          metadata=partial(_latest, name="latest_imes", columns=columns, risk_class=CLASS_ALL),
                          **skipped_metadata(skipped))


WINDOW_MARGIN_DAYS = 5
"""Stored days read before each window a day of a quarter reads instead of the whole search range: the
day before the window's first (its FX returns are measured from it) and a margin for a desk without a
price on some of them."""


def _stored_windows(settings: FrtbConfig, start: dt.date, end: dt.date) -> dict[str, tuple] | None:
    """For a run inside one calendar quarter after its first stored day: the stressed window (start, end;
    NaT: none) stored for each desk with rows on the latest earlier day of the quarter, which is the quarter's
    selection (from the positions of its first trading day and the returns before it, module
    ``risk.frtb.expected_shortfall``); None where no day of the quarter is stored, a window lies outside the
    settings' search range, or a desk is a book of record (whose positions are read from the range's start)."""
    if (start.year, (start.month - 1) // 3) != (end.year, (end.month - 1) // 3):
        return None
    if record_desks(settings, list(load_books_of_record().books)):
        return None
    quarter = dt.date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    earlier = stored_days("frtb_es", first=quarter, last=start - dt.timedelta(days=1))
    if not earlier:
        return None
    rows = read_days("frtb_es", [earlier[-1]], columns=["portfolio", "stress_start", "stress_end"],
                     where={"risk_class": CLASS_ALL})
    windows = {name: (pd.Timestamp(first), pd.Timestamp(last))  # a date as stored; None: NaT
               for name, first, last in zip(rows["portfolio"], rows["stress_start"], rows["stress_end"])}
    search = settings.stress_search
    if not windows or any(pd.notna(first) and ((search.start is not None and first.date() < search.start)
                                               or (search.end is not None and last.date() > search.end))
                          for first, last in windows.values()):
        return None
    return windows


def _segments(start: dt.date, end: dt.date, windows: dict[str, tuple]) -> list[tuple[dt.date, dt.date]]:
    """The spans of stored days a run of :func:`_stored_windows` reads: each stored window and the run's
    days with the current window before them, each with ``WINDOW_MARGIN_DAYS`` more days before, merged
    where they overlap, in date order."""
    spans = [(start, end, OBSERVATION_DAYS + 1)] + [(first.date(), last.date(), 1) for first, last in
                                                    set(windows.values()) if pd.notna(first)]
    merged: list[tuple[dt.date, dt.date]] = []
    for first, last, before in sorted(spans):
        days = window_days("prices", first, last, lookback=before + WINDOW_MARGIN_DAYS)
        if not days:
            continue
        if merged and days[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], days[-1]))
        else:
            merged.append((days[0], days[-1]))
    return merged


def _reads_its_windows(book: FrtbBook, segments: list[tuple[dt.date, dt.date]], window: tuple | None,
                       start: dt.date, end: dt.date) -> bool:
    """Whether ``book``, built from the stored days of ``segments``, holds without a gap the rows its ES reads
    on the run's days: each day's current window and the stored stressed window ``window``, each with the
    day before (what the whole search range gives them); else the run reads the whole range."""
    dates = pd.DatetimeIndex(book.factors.exposures.index)
    rows = np.flatnonzero((dates.date >= start) & (dates.date <= end))
    if not len(rows):
        return True  # no row to compute
    if window is None:
        return False  # rows the stored day of the quarter does not have
    segment = np.searchsorted([np.datetime64(first) for first, _ in segments], dates.to_numpy().astype("datetime64[D]"),
                              side="right")
    spans = [(row - OBSERVATION_DAYS - 1, row) for row in rows]
    first, last = window
    if pd.notna(first):
        if first not in dates:
            return False
        at = dates.get_loc(first)
        if at + OBSERVATION_DAYS - 1 >= len(dates) or dates[at + OBSERVATION_DAYS - 1] != last:
            return False
        spans.append((at - 1, at + OBSERVATION_DAYS - 1))
    return all(a >= 0 and segment[a] == segment[b] for a, b in spans)


def _es_rows(books: list[FrtbBook], settings: FrtbConfig, start: dt.date, end: dt.date,
             windows: dict[str, tuple] | None = None) -> pd.DataFrame:
    """A task: the frtb_es rows of a chunk of books on ``start``..``end`` (``windows``: each book's stored
    stressed window of the quarter, :func:`_stored_windows`; None: selected)."""
    frames = []
    for book in books:
        dates = pd.DatetimeIndex(book.factors.exposures.index)
        wanted = dates[(dates.date >= start) & (dates.date <= end)]
        if len(wanted):
            es = book_es(book.factors, wanted, settings.stress_search,
                         stress_start=None if windows is None else windows[book.name][0])
            es.insert(1, "portfolio", book.name)
            es.insert(2, "base_currency", book.base_currency)
            frames.append(es)
    return pd.concat(frames, ignore_index=True) if frames else empty_frame("frtb_es")


def _var_amounts(book: FrtbBook, method: str, window: int) -> pd.DataFrame:
    """The desk model's 1-day VaR amounts at DESK_CONFIDENCES for each P&L date (NaN without a full
    window): on the desk's return series for a portfolio; for a book of record, of the positions held
    at the previous close revalued (or simulated) over the window, as var_estimates computes them."""
    pnl = book.pnl.set_index("date").sort_index()
    if book.held is not None:
        config = VarConfig(methods=[method], confidences=list(DESK_CONFIDENCES), horizons=[1],
                           estimation_window_days=window, monte_carlo_estimation_window_days=window,
                           evt_estimation_window_days=window)
        amounts = portfolio_forecasts(config, book.held, pnl.index[0].date(), recorded=True) if len(pnl) else None
    elif len(pnl) > window:
        grid = var_es_grid(pnl["simple_return"], method=method, confidences=DESK_CONFIDENCES, horizons=(1,),
                           window=window)
        amounts = with_amounts(grid, pnl["value"])
    else:
        amounts = None
    if amounts is None or amounts.empty:
        return pd.DataFrame(np.nan, index=pnl.index, columns=list(DESK_CONFIDENCES))
    return amounts.pivot(index="date", columns="confidence", values="var_amount").reindex(
        index=pnl.index, columns=list(DESK_CONFIDENCES))


def _factor_returns(settings: FrtbConfig, base: str, price_history: pd.DataFrame, return_history: pd.DataFrame,
                    dates: pd.DatetimeIndex) -> pd.DataFrame:
    """The PLA factors' daily returns in ``base`` (factors without stored returns are left out)."""
    held = return_history.loc[return_history["symbol"].isin(settings.pla_factors)]
    local = held.pivot(index="date", columns="symbol", values="simple_return").reindex(dates)
    currency_of = price_history.drop_duplicates("symbol").set_index("symbol")["currency"]
    currencies = [currency_of.get(symbol, base) for symbol in local.columns]
    fx = position_fx_returns(base, currencies, dates).set_axis(local.columns, axis=1)
    return to_base_returns(local, fx)


def desk_rows(settings: FrtbConfig, book: FrtbBook, price_history: pd.DataFrame, return_history: pd.DataFrame,
              is_bank: bool) -> pd.DataFrame:
    """frtb_desks rows of one desk (or the bank: backtest only) on every P&L date."""
    pnl = book.pnl.set_index("date").sort_index()
    dates = pd.DatetimeIndex(pnl.index)
    var = _var_amounts(book, settings.desk_method, settings.desk_window_days)
    loss = -pnl["pnl"].to_numpy()
    # MAR32.5: the greater of the actual and hypothetical exceptions (a desk without trades: the hypothetical)
    actual = None if book.actual_pnl is None else -book.actual_pnl.reindex(dates).to_numpy()
    counts = {c: desk_exception_counts(loss, var[c].to_numpy(), actual) for c in DESK_CONFIDENCES}
    zone = plus_factor_zones(counts[0.99])
    if is_bank:
        rtpl = spearman = ks = np.full(len(dates), np.nan)
        pla = np.full(len(dates), None, dtype=object)
    else:
        factors = _factor_returns(settings, book.base_currency, price_history, return_history, dates)
        rtpl = factor_model_pnl(pnl["simple_return"], pnl["value"], factors, settings.pla_beta_window_days).to_numpy()
        hpl = pnl["pnl"].to_numpy()
        spearman, ks = rolling_spearman(hpl, rtpl, PLA_DAYS), rolling_ks(hpl, rtpl, PLA_DAYS)
        pla = pla_zone(spearman, ks)
    # unknown (None) until both backtests have 250 days and the PLA test has its window
    known = np.isfinite(counts[0.99]) & np.isfinite(counts[0.975]) & np.array([z is not None for z in pla], bool)
    eligible = np.where(known & ~is_bank, backtest_eligible(counts[0.99], counts[0.975]) & (pla != "red"), None)
    return pd.DataFrame({
        "date": dates, "portfolio": book.name, "base_currency": book.base_currency,
        "hpl": pnl["pnl"].to_numpy(), "rtpl": rtpl,
        "var_amount_99": var[0.99].to_numpy(), "var_amount_975": var[0.975].to_numpy(),
        "exceptions_99": counts[0.99], "exceptions_975": counts[0.975], "backtest_zone": zone,
        "pla_spearman": spearman, "pla_ks": ks, "pla_zone": pla,
        "eligible": eligible.astype(object),
    })


@lake_asset(
    group_name="frtb",
    deps=[prices, returns, positions, trades],
    description=(
        "FRTB desk tests (MAR32) per desk and day: hypothetical P&L (hpl: the held positions' P&L, computed as "
        "portfolio_pnl computes it) and risk-theoretical P&L "
        "(rtpl, factor model), the desk model's 1-day VaR at 99% and 97.5%, exceptions over 250 days (limits 12 and "
        "30), the backtesting zone, the P&L attribution test (Spearman, KS, zone) and eligibility; the bank's row "
        "holds the bank-wide backtest that sets the plus factor. " + OUT_OF_SCOPE
    ),
    resource_defs={"compute": DEFAULT_COMPUTE},  # inline unless a run's config says otherwise (risk_pipeline/compute.py)
)
def frtb_desks(context: dg.AssetExecutionContext, config: FrtbSettings, compute: Compute) -> dg.MaterializeResult:
    """Each chunk of books (desks, the bank) is a task of the ``compute`` engine (defs/chunks.py)."""
    start, end, days = partition_days(context)
    settings = load_frtb_config(config.frtb_file)
    lookback = max(settings.desk_window_days, settings.pla_beta_window_days) + BACKTEST_DAYS + 2
    price_history, return_history = _read_market(start, end, lookback)
    books, skipped = _books(context, settings, start, end, price_history, return_history, with_trades=True)
    # a task gets the market data of the PLA factors only, all that desk_rows reads of it
    factors = {"price_history": price_history.loc[price_history["symbol"].isin(settings.pla_factors)],
               "return_history": return_history.loc[return_history["symbol"].isin(settings.pla_factors)]}
    del price_history, return_history
    columns = ["portfolio", "exceptions_99", "exceptions_975", "backtest_zone", "pla_spearman", "pla_ks", "pla_zone", "eligible"]
    return publish_chunks(compute, "frtb_desks", partial(_desk_chunk_rows, settings=settings, start=start, end=end,
                                                         **factors),
                          books, days, keys=desk_names(settings, skipped),
                          metadata=partial(_latest, name="latest_desks", columns=columns), weight=pnl_days,
                          **skipped_metadata(skipped))


def _desk_chunk_rows(books: list[FrtbBook], settings: FrtbConfig, start: dt.date, end: dt.date,
                     price_history: pd.DataFrame, return_history: pd.DataFrame) -> pd.DataFrame:
    """A task: the frtb_desks rows of a chunk of books on ``start``..``end``."""
    frames = [_in_range(desk_rows(settings, b, price_history, return_history, b.name == settings.bank_name), start, end)
              for b in books]
    return pd.concat(frames, ignore_index=True) if frames else empty_frame("frtb_desks")


def capital_rows(settings: FrtbConfig, es: pd.DataFrame, bank_desk: pd.DataFrame) -> pd.DataFrame:
    """frtb_capital rows from the bank's frtb_es rows (dates x risk class) and its frtb_desks rows."""
    imes = es.pivot(index="date", columns="risk_class", values="imes").sort_index()
    imes = imes.reindex(columns=[CLASS_ALL, *RISK_CLASSES])
    by_class = imes[list(RISK_CLASSES)].to_numpy()
    total = imcc(imes[CLASS_ALL].to_numpy(), by_class, settings.rho)
    backtest = bank_desk.set_index("date").reindex(imes.index)
    count = backtest["exceptions_99"].to_numpy()
    plus = plus_factors(count)
    multiplier = settings.multiplier + plus
    average, charge = capital_charge(total, multiplier, CAPITAL_AVERAGE_DAYS)
    with np.errstate(invalid="ignore"):
        binding = np.where(np.isnan(charge), None, np.where(total >= multiplier * average, "spot", "average"))
    frame = pd.DataFrame({
        "date": imes.index, "portfolio": settings.bank_name, "base_currency": settings.reporting_currency,
        "imcc_unconstrained": imes[CLASS_ALL].to_numpy(),
        **{f"imcc_{c}": imes[c].to_numpy() for c in RISK_CLASSES},
        "imcc": total, "imcc_average": average, "exceptions_99": count,
        "backtest_zone": backtest["backtest_zone"].to_numpy(), "capital_plus_factor": plus,
        "capital_multiplier": multiplier,
        "capital_charge": charge, "binding": binding.astype(object),
    })
    return frame


@lake_asset(
    group_name="frtb",
    deps=[frtb_es, frtb_desks],
    description=(
        "FRTB capital of the bank (every desk) per day: IMCC = rho IMCC(C) + (1 - rho) sum of the risk classes' "
        "IMCC (MAR33.15), its 60-day average, the multiplier 1.5 + the plus factor of the bank-wide 99% backtest, and "
        "C_A = max(IMCC, multiplier x average) (MAR33.41; binding: spot or average), as if every desk were under the "
        "internal models approach. " + OUT_OF_SCOPE
    ),
)
def frtb_capital(context: dg.AssetExecutionContext, config: FrtbSettings) -> dg.MaterializeResult:
    start, end, days = partition_days(context)
    settings = load_frtb_config(config.frtb_file)
    # the bank's rows only, and the columns capital_rows reads (not every desk's rows of the range)
    bank = {"portfolio": settings.bank_name}
    es = read_window("frtb_es", start, end, lookback=CAPITAL_AVERAGE_DAYS - 1, columns=["risk_class", "imes"],
                     where=bank)
    desks = read_window("frtb_desks", start, end, columns=["exceptions_99", "backtest_zone"], where=bank)
    frame = _in_range(capital_rows(settings, es, desks), start, end) if len(es) else empty_frame("frtb_capital")
    extra = {}
    if len(frame):
        last = frame.iloc[-1]
        extra = {"latest_capital_charge": dg.MetadataValue.float(float(last["capital_charge"])),
                 "latest_imcc": dg.MetadataValue.float(float(last["imcc"]))}
    return publish("frtb_capital", frame, days, **extra)


@dg.asset_check(
    asset=frtb_desks,
    description="Warns (severity WARN) when a desk is not eligible for the internal models approach on the latest day "
                "of the run (backtesting exceptions above 12 at 99% or 30 at 97.5%, or the P&L attribution test red); "
                "metadata lists the desks and those that lost eligibility within the run's range (the last 50 losses).",
)
def desks_eligible(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    day = latest_day_of_run(context, "frtb_desks")
    if day is None:
        return dg.AssetCheckResult(passed=True, metadata={"note": "frtb_desks has no stored day"})
    first, _, _ = checked_days(context, "frtb_desks")
    history = read_window("frtb_desks", first, day, lookback=1, columns=["portfolio", "eligible"])
    history = history.loc[history["eligible"].notna()].sort_values("date")
    history["eligible"] = history["eligible"].astype(bool)
    before = history.groupby("portfolio")["eligible"].shift(1)
    lost = history.loc[(before == True) & ~history["eligible"]]  # noqa: E712 - before holds NaN too
    rows = history.loc[history["date"].dt.date == day]
    ineligible = sorted(rows.loc[~rows["eligible"], "portfolio"])
    metadata = {"date": dg.MetadataValue.text(day.isoformat()),
                "ineligible_desks": dg.MetadataValue.json(ineligible),
                "eligible_desks": dg.MetadataValue.json(sorted(rows.loc[rows["eligible"], "portfolio"])),
                "lost_eligibility": dg.MetadataValue.json(
                    [f"{p} on {d.date().isoformat()}" for p, d in zip(lost["portfolio"], lost["date"])][-50:])}
    if ineligible:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)
    return dg.AssetCheckResult(passed=True, metadata=metadata)
