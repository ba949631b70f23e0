"""Pre-trade check of an option book: would this trade keep the book within its Greek caps and VaR/ES limits?

``risk-pipeline pre-trade --book BOOK --option TYPE,UNDERLYING,STRIKE,EXPIRY,QUANTITY[,MULTIPLIER]``: the
book held at the close of the day (the latest stored, or ``--as-of``) plus the trades, priced at that
close (:mod:`risk_pipeline.option_books`, the volatility source of the ``options`` settings; the hedge
stays as held until the next close), against the caps and limits of limits.yaml's ``option_books``
(:mod:`risk_pipeline.risk.options.caps`): blocked on the day of an event of the calendar, then by the
first Greek cap breached, then by the first VaR/ES limit breached (full revaluation, the window of
``options.estimation_window_days``). Exit status 0 within, 1 blocked, 2 bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt

import pandas as pd

from risk_pipeline.config.greek_caps import option_limits
from risk_pipeline.config.limits import DEFAULT_LIMITS_FILE
from risk_pipeline.config.options import OPTION_TYPES, OptionPosition, option_settings
from risk_pipeline.config.settings import section
from risk_pipeline.option_books import book_var, hedge_rows, hedges, held_rows, load_market, price_rows, with_sums
from risk_pipeline.risk.options.caps import TradeDecision, cap_status, decide, event_on, var_limit_status
from risk_pipeline.risk.options.var import OptionVarMethod
from risk_pipeline.storage.lake import stored_days


class OptionTradeError(ValueError):
    """The option pre-trade request cannot be answered (names the book, option or date)."""


def parse_option(text: str, book: str, as_of: dt.date, index: int) -> OptionPosition:
    """``put,SP500,3700,2023-01-20,-5[,100]`` -> a position of ``book`` opened at the close of ``as_of``."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (5, 6) or parts[0] not in OPTION_TYPES:
        raise OptionTradeError(f"option {text!r} must look like TYPE,UNDERLYING,STRIKE,EXPIRY,QUANTITY[,MULTIPLIER] "
                               "with TYPE call or put, e.g. put,SP500,3700,2023-01-20,-5")
    try:
        strike, expiry, quantity = float(parts[2]), dt.date.fromisoformat(parts[3]), float(parts[4])
        multiplier = float(parts[5]) if len(parts) == 6 else 100.0
    except ValueError as exc:
        raise OptionTradeError(f"option {text!r}: {exc}") from None
    if strike <= 0 or multiplier <= 0 or quantity == 0 or expiry <= as_of:
        raise OptionTradeError(f"option {text!r}: strike and multiplier must be > 0, quantity non-zero and the expiry "
                               f"after {as_of}")
    return OptionPosition(book=book, option=f"trade_{index + 1}", option_type=parts[0], underlying=parts[1],
                          strike=strike, expiry=expiry, opened=as_of, quantity=quantity, multiplier=multiplier,
                          currency="", row=0)


@dataclasses.dataclass(frozen=True)
class OptionTradeAnswer:
    as_of: dt.date
    caps_before: pd.DataFrame
    caps_after: pd.DataFrame
    limits_after: pd.DataFrame
    decision: TradeDecision


def option_pre_trade(book: str, options: list[str], *, limits_file: str | None = None,
                     as_of: dt.date | None = None) -> OptionTradeAnswer:
    """The book's caps before and after the trades, its VaR/ES limits after, and the decision (module doc)."""
    settings = option_settings(section("options"))
    limits = option_limits(limits_file or DEFAULT_LIMITS_FILE)
    if settings is None:
        raise OptionTradeError("no option positions configured (options.positions_file is null)")
    if limits is None or book not in limits.books:
        raise OptionTradeError(f"option book {book!r} has no caps in {limits_file or DEFAULT_LIMITS_FILE} "
                               f"(option_books: {sorted(limits.books) if limits else []})")
    days = [d for d in stored_days("prices") if as_of is None or d <= as_of]
    if not days:
        raise OptionTradeError(f"no stored prices up to {as_of or 'the latest day'}")
    day = days[-1]
    window = int(section("options")["estimation_window_days"])
    positions, market = load_market(settings, day, day, lookback=window + settings.ewma_window_days + 2)
    held = tuple(p for p in positions if p.book == book)
    if not held:
        raise OptionTradeError(f"unknown option book {book!r} (books of {settings.positions_file}: "
                               f"{sorted({p.book for p in positions})})")
    trades = tuple(parse_option(text, book, day, i) for i, text in enumerate(options))
    unknown = sorted({t.underlying for t in trades} - set(market.spot.columns))
    if unknown:
        raise OptionTradeError(f"no option of the book is on {unknown}: trade on its underlyings "
                               f"{list(market.spot.columns)}")
    trades = tuple(dataclasses.replace(t, currency=next(p.currency for p in held if p.underlying == t.underlying))
                   for t in trades)
    close = pd.DatetimeIndex([pd.Timestamp(day)])
    before = price_rows(market, held, held_rows(held, close))
    hedge = hedges(before, settings.delta_hedged_books)  # held until the next close
    after = price_rows(market, held + trades, held_rows(held + trades, close))
    caps = limits.books[book]

    def status(priced: pd.DataFrame) -> pd.DataFrame:
        sums = with_sums(pd.concat([priced, hedge_rows(market, hedge)], ignore_index=True))
        return cap_status(sums, caps, limits.warning_fraction, limits.events, day, limits.event_window_days,
                          limits.event_factor)

    var = book_var(market, after, hedge, close, window, tuple(sorted({lim.confidence for lim in limits.var_limits[book]})),
                   tuple(sorted({lim.horizon_days for lim in limits.var_limits[book]})))
    measured = var.loc[var["method"] == str(OptionVarMethod.FULL_REVALUATION)]
    limits_after = var_limit_status(measured, limits.var_limits[book], limits.warning_fraction)
    caps_after = status(after)
    event = event_on(limits.events, day, {t.underlying for t in trades})
    return OptionTradeAnswer(day, status(before), caps_after, limits_after, decide(caps_after, limits_after, event))


def option_pre_trade_command(args: argparse.Namespace) -> int:
    answer = option_pre_trade(args.book, args.option, limits_file=args.limits, as_of=args.as_of)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"Option book {args.book}: Greek caps and VaR/ES limits at the close of {answer.as_of} "
              "(amounts in base currency)")
        caps = answer.caps_after.assign(before=answer.caps_before["measured_amount"])
        print(caps[["level", "underlying", "greek", "before", "measured_amount", "limit_amount", "utilization", "status",
                    "event"]].rename(columns={"measured_amount": "after"}).to_string(
            index=False, float_format=lambda x: f"{x:,.2f}"))
        print(answer.limits_after.to_string(index=False, float_format=lambda x: f"{x:,.2f}"))
    verdict = "BLOCKED" if answer.decision.blocked else "allowed"
    print(f"Trade {verdict}: {answer.decision.reason}.")
    return 1 if answer.decision.blocked else 0
