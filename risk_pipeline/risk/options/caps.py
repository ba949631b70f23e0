"""Greek caps of option books, tightened before market events, and the pre-trade decision on them.

A cap bounds the absolute net amount of one Greek (``delta_amount``, ``gamma_amount``,
``vega_amount``, ``theta_amount`` of ``option_greeks``, base currency) of a book, or of the
book's positions on one underlying. Status as for VaR limits
(:func:`risk_pipeline.risk.limits.classify`): danger when ``|amount| > cap``, warning when
``|amount| >= warning_fraction x cap``, within_limits otherwise.

Events (a calendar of date, underlying or ``all``, event): in the ``window_days`` business
days before an event the caps on its underlying (every cap for ``all``) are multiplied by
``factor`` (< 1 tightens); on the event's day no new trade on it is allowed
(:func:`event_on`). A trade is blocked when it breaches a Greek cap (checked first, as a desk
does) or a VaR/ES limit; the answer names which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipeline.risk.limits import classify

GREEKS = ("delta", "gamma", "vega", "theta")
ALL_UNDERLYINGS = "all"


@dataclass(frozen=True)
class Event:
    """A market event (earnings, FOMC, CPI...) on ``date`` for ``underlying`` (or ``all``)."""

    date: dt.date
    underlying: str
    event: str


@dataclass(frozen=True)
class GreekCaps:
    """Caps of one book: ``book`` {greek: cap} and ``underlyings`` {symbol: {greek: cap}}; amounts > 0."""

    book: Mapping[str, float]
    underlyings: Mapping[str, Mapping[str, float]]


def tightening(events: tuple[Event, ...], day: dt.date, underlying: str | None, window_days: int,
               factor: float) -> tuple[float, str]:
    """Cap multiplier on ``day`` for ``underlying`` (None: the book's caps, tightened by any event) and the event
    that sets it ("" when none): ``factor`` when an event falls in the next ``window_days`` business days."""
    horizon = (pd.Timestamp(day) + pd.offsets.BDay(window_days)).date()
    for event in events:
        applies = underlying is None or event.underlying in (ALL_UNDERLYINGS, underlying)
        if applies and day < event.date <= horizon:
            return factor, f"{event.event} on {event.date} ({event.underlying})"
    return 1.0, ""


def event_on(events: tuple[Event, ...], day: dt.date, underlyings: set[str]) -> Event | None:
    """The event of ``day`` on one of ``underlyings`` (or on all), if any: no new entry that day."""
    return next((e for e in events if e.date == day and (e.underlying == ALL_UNDERLYINGS or e.underlying in underlyings)),
                None)


def cap_status(amounts: pd.DataFrame, caps: GreekCaps, warning_fraction: float, events: tuple[Event, ...],
               day: dt.date, window_days: int, factor: float) -> pd.DataFrame:
    """One row per cap: level (book / underlying), underlying, greek, measured_amount, limit_amount (tightened),
    utilization, status, event. ``amounts``: the ``option_greeks`` rows of one book and day at levels book and
    underlying (a missing underlying counts 0)."""
    rows = []
    targets = [("book", None, caps.book)] + [("underlying", u, c) for u, c in caps.underlyings.items()]
    for level, underlying, greek_caps in targets:
        scope = amounts.loc[amounts["level"] == level]
        if underlying is not None:
            scope = scope.loc[scope["underlying"] == underlying]
        multiplier, event = tightening(events, day, underlying, window_days, factor)
        for greek, cap in greek_caps.items():
            value = float(scope[f"{greek}_amount"].sum())
            rows.append({"level": level, "underlying": underlying, "greek": greek, "measured_amount": value,
                         "limit_amount": cap * multiplier, "event": event})
    frame = pd.DataFrame(rows)
    frame["utilization"] = np.abs(frame["measured_amount"]) / frame["limit_amount"]
    frame["status"] = classify(np.abs(frame["measured_amount"].to_numpy()), frame["limit_amount"].to_numpy(),
                               warning_fraction)
    return frame
