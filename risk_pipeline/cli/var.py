"""``risk-pipeline var``: VaR/ES of any symbols and their backtest, without a Dagster run.

From the stored prices and returns of the lake, or from a CSV of closes (``--prices-csv``, the
format of the CSV source: date, symbol, close[, currency]), the command builds a weight book of
the symbols (equal weights by default; weights not summing to 1 are rescaled, with a note), its
daily P&L and one method's VaR/ES, and backtests it over the whole sample. Every number comes
from the functions the pipeline runs, not copies: the book and its P&L (``books.build_book``,
``risk.portfolio.pnl_from_exposures``), the forecasts (``defs.var.portfolio_forecasts``, which calls
``risk.var_es_grid`` with the method's settings), the backtest (``risk.backtests.backtest_table``)
and the statistics (``risk.performance``). So for a book of the same symbols and weights, the
per-day VaR/ES and the backtest row are those var_estimates and var_backtests store
(``risk_pipeline_tests/test_var_cli.py``).

``--start``/``--end`` choose the days reported (forecasts, backtest, statistics); the estimation
windows read the history before ``--start``, so the first reported day already has a forecast.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipeline.books import build_book
from risk_pipeline.config.portfolios import Portfolio, Position
from risk_pipeline.config.settings import section
from risk_pipeline.risk.backtests.table import backtest_observations, backtest_table
from risk_pipeline.risk.performance import annualized_return, annualized_volatility, max_drawdown
from risk_pipeline.risk.portfolio import pnl_from_exposures
from risk_pipeline.risk.returns import close_to_close_returns
from risk_pipeline.risk.var.parameters import METHODS, RETURN_TYPES, MethodSettings
from risk_pipeline.risk.var.windows import HORIZON_SCALINGS

BOOK_NAME = "var_command"
CSV_COLUMNS = ["date", "loss", "var", "es", "breach", "backtested", "equity"]


class VarCommandError(ValueError):
    """A parameter of ``risk-pipeline var`` is invalid; the message names it."""


@dataclass(frozen=True)
class VarRequest:
    """The checked parameters of one ``risk-pipeline var`` call."""

    symbols: tuple[str, ...]
    weights: tuple[float, ...]
    method: str
    confidence: float
    window: int
    horizon_days: int
    start: dt.date | None = None
    end: dt.date | None = None
    base_currency: str | None = None
    horizon_scaling: str | None = None  # None: pipeline.yaml's var.horizon_scaling
    return_type: str | None = None  # None: pipeline.yaml's var.return_type


@dataclass(frozen=True)
class VarAnswer:
    """Per-day rows (``CSV_COLUMNS``), the whole-sample backtest row of ``backtest_table`` and the summary."""

    days: pd.DataFrame
    backtest: pd.Series
    summary: dict[str, object]


def checked_weights(symbols: list[str], weights: list[str] | None) -> tuple[tuple[float, ...], str | None]:
    """The weights as floats summing to 1 (equal by default) and the note when they were rescaled."""
    if weights is None:
        return tuple(1.0 / len(symbols) for _ in symbols), None
    if len(weights) != len(symbols):
        raise VarCommandError(f"--weights: {len(weights)} weight(s) for {len(symbols)} symbol(s); give one per symbol")
    values = []
    for text in weights:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value == 0.0:
            raise VarCommandError(f"--weights: {text!r} is not a finite non-zero number")
        values.append(value)
    total = math.fsum(values)
    if abs(total) < 1e-12:
        raise VarCommandError(f"--weights: {' '.join(weights)} sum to 0 and cannot be rescaled to 1")
    if abs(total - 1.0) <= 1e-12:
        return tuple(values), None
    rescaled = tuple(v / total for v in values)
    return rescaled, (f"note: --weights sum to {total:.6g}; rescaled to sum to 1: "
                      + ", ".join(f"{s} {w:.6g}" for s, w in zip(symbols, rescaled)))


def _market_data(symbols: tuple[str, ...], prices_csv: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prices and returns of ``symbols``, long frames as the lake stores them."""
    if prices_csv is not None:
        from risk_pipeline.sources.csv_file import read_price_csv

        prices = read_price_csv(prices_csv)
        origin = str(prices_csv)
    else:
        from risk_pipeline.storage.lake import read_days, stored_days

        days = stored_days("prices")
        if not days:
            raise VarCommandError("the lake holds no prices: run the backfill (make run) or give --prices-csv")
        prices = read_days("prices", days)
        origin = "the lake's prices"
    unknown = [s for s in symbols if s not in set(prices["symbol"])]
    if unknown:
        raise VarCommandError(f"--symbols: no prices for {', '.join(unknown)} in {origin}")
    prices = prices.loc[prices["symbol"].isin(symbols)].reset_index(drop=True)
    if prices_csv is not None:
        returns = close_to_close_returns(prices, max_gap_days=int(section("returns")["max_gap_days"]))
        return prices, returns
    from risk_pipeline.storage.lake import read_days, stored_days

    returns = read_days("returns", stored_days("returns"))
    returns = returns.loc[returns["symbol"].isin(symbols)].reset_index(drop=True)
    return prices, returns


def _base_currency(request: VarRequest, prices: pd.DataFrame) -> str:
    if request.base_currency:
        return request.base_currency
    quoted = sorted(prices["currency"].unique())
    if len(quoted) > 1:
        raise VarCommandError(f"--base-currency: the symbols are quoted in {', '.join(quoted)}; name the currency "
                              "to value the book in")
    return str(quoted[0])


def var_answer(request: VarRequest, prices_csv: Path | None = None) -> VarAnswer:
    """VaR/ES, its per-day breaches and equity, the whole-sample backtest and the summary (module doc)."""
    import risk_pipeline.dagster_warnings  # noqa: F401 - before the assets load: their intended beta warnings
    from risk_pipeline.defs.backtests import BacktestConfig
    from risk_pipeline.defs.var import VarConfig, portfolio_forecasts

    prices, returns = _market_data(request.symbols, prices_csv)
    portfolio = Portfolio(BOOK_NAME, _base_currency(request, prices),
                          tuple(Position(s, weight=w) for s, w in zip(request.symbols, request.weights)), notional=1.0)
    book = build_book(portfolio, prices, returns)
    pnl = pnl_from_exposures(book.exposures, book.values, book.asset_returns)
    if request.end is not None:
        pnl = pnl.loc[pnl["date"] <= pd.Timestamp(request.end)]
    if request.start is None and len(pnl) <= request.window:
        raise VarCommandError(f"--window: {request.window} days of P&L are needed before the first forecast, but the "
                              f"prices of {', '.join(request.symbols)} give {len(pnl)}")
    first = pd.Timestamp(request.start) if request.start else pnl["date"].iloc[request.window]
    reported = pnl.loc[pnl["date"] >= first]
    if len(reported) < 2:
        raise VarCommandError(f"--start/--end: {len(reported)} day(s) of P&L of {', '.join(request.symbols)} in the "
                              "range; need at least 2")
    conventions = {name: value for name, value in (("horizon_scaling", request.horizon_scaling),
                                                   ("return_type", request.return_type)) if value is not None}
    config = VarConfig(methods=[request.method], confidences=[request.confidence], horizons=[request.horizon_days],
                       **{MethodSettings.window_setting(request.method): request.window}, **conventions)
    config.settings().validate(config.methods, config.confidences, config.horizons)
    before = int((pnl["date"] < first).sum())
    if before < request.window:
        raise VarCommandError(f"--window: {request.window} days of P&L are needed before the first forecast, but "
                              f"there are {before} before {first.date()} (P&L from {pnl['date'].min().date()}); "
                              "give a later --start or a shorter --window")
    forecasts = portfolio_forecasts(config, book, first.date())
    forecasts = forecasts.loc[(forecasts["date"] >= first) & forecasts["date"].isin(pnl["date"])]
    forecasts = forecasts.set_index("date")[["var", "es"]]
    realized = pnl.set_index("date")["simple_return"]
    # the day number of the first P&L day, the phase of the h-day observations: var_backtests numbers the
    # lake's stored P&L days; a CSV's days are numbered from its first P&L day
    phase = 0
    if prices_csv is None:
        from risk_pipeline.storage.lake import stored_days

        phase = bisect.bisect_left(stored_days("portfolio_pnl"), realized.index[0].date())
    settings = BacktestConfig()
    table = backtest_table(realized, forecasts, confidence=request.confidence, horizon_days=request.horizon_days,
                           as_of=[realized.index[-1]], windows=settings.backtest_window_days, whole_sample=True,
                           day_number_offset=phase, seed=settings.seed)
    row = table.loc[table["whole_sample"]].iloc[0]
    observed = backtest_observations(realized, forecasts, request.horizon_days, phase)
    days = _days(realized, forecasts, reported, request.horizon_days, set(observed.dates))
    return VarAnswer(days, row, _summary(request, portfolio, reported, forecasts, row))


def _days(realized: pd.Series, forecasts: pd.DataFrame, reported: pd.DataFrame, horizon: int,
          observed: set[pd.Timestamp]) -> pd.DataFrame:
    """Per forecast day: its h-day realized loss (NaN when not yet known), VaR, ES, breach, whether the
    backtest counts it (every day for h = 1, every h-th for h > 1) and the book's equity at that close."""
    gross = (1.0 + realized).to_numpy()
    pos = realized.index.get_indexer(forecasts.index)
    known = pos + horizon <= gross.size
    loss = np.full(pos.size, np.nan)
    loss[known] = 1.0 - np.prod(gross[pos[known, None] + np.arange(horizon)], axis=1)
    equity = (1.0 + reported.set_index("date")["simple_return"]).cumprod()
    var, es = forecasts["var"].to_numpy(), forecasts["es"].to_numpy()
    return pd.DataFrame({
        "date": forecasts.index.date,
        "loss": loss,
        "var": var,
        "es": es,
        "breach": known & (loss > var),
        "backtested": forecasts.index.isin(list(observed)),
        "equity": equity.reindex(forecasts.index).to_numpy(),
    }, columns=CSV_COLUMNS)


def _summary(request: VarRequest, portfolio: Portfolio, reported: pd.DataFrame, forecasts: pd.DataFrame,
             row: pd.Series) -> dict[str, object]:
    r = reported.set_index("date")["simple_return"]
    ann_return, ann_vol = annualized_return(r), annualized_volatility(r)
    return {
        "symbols": list(request.symbols),
        "weights": dict(zip(request.symbols, request.weights)),
        "base_currency": portfolio.base_currency,
        "method": request.method,
        "confidence": request.confidence,
        "horizon_days": request.horizon_days,
        "estimation_window_days": request.window,
        "horizon_scaling": request.horizon_scaling or section("var")["horizon_scaling"],
        "return_type": request.return_type or section("var")["return_type"],
        "start": r.index[0].date().isoformat(),
        "end": r.index[-1].date().isoformat(),
        "n_days": int(r.size),
        "median_var": float(forecasts["var"].median()),
        "median_es": float(forecasts["es"].median()),
        "annualized_return": ann_return,
        "annualized_volatility": ann_vol,
        "sharpe_ratio": ann_return / ann_vol if ann_vol > 0 else None,
        "max_drawdown": max_drawdown(r).max_drawdown,
        "backtest": {
            "n_obs": int(row["n_obs"]), "n_breaches": int(row["n_breaches"]),
            "expected_breaches": float(row["expected_breaches"]),
            "kupiec_lr": float(row["kupiec_lr"]), "kupiec_p": float(row["kupiec_p"]),
            "christoffersen_lr": float(row["christoffersen_lr"]), "christoffersen_p": float(row["christoffersen_p"]),
            "n00": int(row["n00"]), "n01": int(row["n01"]), "n10": int(row["n10"]), "n11": int(row["n11"]),
            "cc_lr": float(row["cc_lr"]), "cc_p": float(row["cc_p"]),
            "traffic_light": str(row["traffic_light"]), "verdict": str(row["verdict"]),
        },
    }


def _int(text: str, name: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise VarCommandError(f"{name}: {text!r} is not an integer") from None
    if value < minimum:
        raise VarCommandError(f"{name}: {value} must be >= {minimum}")
    return value


def _date(text: str | None, name: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise VarCommandError(f"{name}: {text!r} is not a date YYYY-MM-DD") from None


def request_from(args: argparse.Namespace) -> tuple[VarRequest, str | None]:
    """The checked request of the parsed arguments and the note on rescaled weights (or None)."""
    symbols = [s.strip() for s in args.symbols]
    if any(not s for s in symbols) or len(set(symbols)) != len(symbols):
        raise VarCommandError(f"--symbols: {' '.join(args.symbols)} must be distinct non-empty symbols")
    weights, note = checked_weights(symbols, args.weights)
    if args.method not in METHODS:
        raise VarCommandError(f"--method: {args.method!r} is not one of {', '.join(METHODS)}")
    try:
        confidence = float(args.confidence)
    except ValueError:
        confidence = math.nan
    if not 0.0 < confidence < 1.0:
        raise VarCommandError(f"--confidence: {args.confidence!r} must be a number in (0, 1), e.g. 0.99")
    default_window = MethodSettings.window_setting(args.method)
    window = _int(args.window, "--window", 2) if args.window is not None else int(section("var")[default_window])
    horizon = _int(args.horizon, "--horizon", 1)
    start, end = _date(args.start, "--start"), _date(args.end, "--end")
    if start and end and start > end:
        raise VarCommandError(f"--start {start} is after --end {end}")
    for option, value, allowed in (("--horizon-scaling", args.horizon_scaling, HORIZON_SCALINGS),
                                   ("--return-type", args.return_type, RETURN_TYPES)):
        if value is not None and value not in allowed:
            raise VarCommandError(f"{option}: {value!r} is not one of {', '.join(allowed)}")
    return VarRequest(tuple(symbols), weights, args.method, confidence, window, horizon, start, end,
                      args.base_currency, args.horizon_scaling, args.return_type), note


def add_parser(commands: argparse._SubParsersAction) -> None:
    var = commands.add_parser(
        "var", help="VaR/ES of any symbols and its backtest, from the stored prices or a CSV, without a run",
        description="Exit status 0 on success, 2 on bad input (one line naming the parameter). The forecast for "
                    "day t uses returns up to t-1 only; losses are positive fractions of value.")
    var.add_argument("--symbols", required=True, nargs="+", help="the symbols of the book")
    var.add_argument("--weights", nargs="+", default=None,
                     help="one weight per symbol (default: equal); weights not summing to 1 are rescaled, with a note")
    var.add_argument("--method", default="historical", help=f"one of {', '.join(METHODS)} (default historical)")
    var.add_argument("--confidence", default="0.99", help="confidence level in (0, 1) (default 0.99)")
    var.add_argument("--window", default=None,
                     help="estimation window in trading days (default: the method's pipeline.yaml setting)")
    var.add_argument("--horizon", default="1", help="horizon in trading days (default 1)")
    var.add_argument("--start", default=None, help="first day reported, YYYY-MM-DD (default: the first with a forecast)")
    var.add_argument("--end", default=None, help="last day reported, YYYY-MM-DD (default: the last priced day)")
    var.add_argument("--prices-csv", default=None, type=Path,
                     help="closes from this CSV (date, symbol, close[, currency]) instead of the lake")
    var.add_argument("--base-currency", default=None,
                     help="currency the book is valued in (default: the symbols' currency, when they share one)")
    var.add_argument("--horizon-scaling", default=None,
                     help=f"{' | '.join(HORIZON_SCALINGS)}: h-day VaR of the parametric and Cornish-Fisher methods "
                          "(default: pipeline.yaml var.horizon_scaling; docs/methods.md)")
    var.add_argument("--return-type", default=None,
                     help=f"{' | '.join(RETURN_TYPES)}: returns the fitted laws are estimated on (default: pipeline.yaml "
                          "var.return_type)")
    var.add_argument("--csv", default=None, type=Path,
                     help="write per day: " + ", ".join(CSV_COLUMNS))
    var.add_argument("--json", default=None, type=Path,
                     help="write the summary: median VaR/ES, annualized return and volatility, Sharpe, max drawdown, "
                          "breaches, Kupiec and Christoffersen with n00 n01 n10 n11")
    var.set_defaults(run=var_command)


def var_command(args: argparse.Namespace) -> int:
    request, note = request_from(args)
    prices_csv = args.prices_csv.expanduser() if args.prices_csv is not None else None
    answer = var_answer(request, prices_csv)
    if note:
        print(note, file=sys.stderr)
    if args.csv is not None:
        answer.days.to_csv(args.csv, index=False)  # floats in full (round-trip) precision
    if args.json is not None:
        args.json.write_text(json.dumps(answer.summary, indent=2) + "\n")
    s, b = answer.summary, answer.summary["backtest"]
    assert isinstance(b, dict)
    print(f"{' '.join(request.symbols)} ({s['base_currency']}, weights "
          f"{', '.join(f'{w:.4g}' for w in request.weights)}): {request.method} VaR/ES at {request.confidence:g}, "
          f"{request.horizon_days}-day, window {request.window}, {s['start']} .. {s['end']} ({s['n_days']} days)")
    print(f"median VaR {s['median_var']:.4%}  median ES {s['median_es']:.4%}  annualized return "
          f"{s['annualized_return']:.2%}  volatility {s['annualized_volatility']:.2%}  Sharpe "
          f"{s['sharpe_ratio'] if s['sharpe_ratio'] is None else format(s['sharpe_ratio'], '.3f')}  max drawdown "
          f"{s['max_drawdown']:.2%}")
    print(f"breaches {b['n_breaches']} of {b['n_obs']} (expected {b['expected_breaches']:.1f})  Kupiec p "
          f"{b['kupiec_p']:.4f}  Christoffersen p {b['christoffersen_p']:.4f} (n00 {b['n00']} n01 {b['n01']} "
          f"n10 {b['n10']} n11 {b['n11']})  verdict {b['verdict']}")
    return 0

