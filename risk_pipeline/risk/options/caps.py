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


def var_limit_status(measures: pd.DataFrame, limits, warning_fraction: float) -> pd.DataFrame:
    """One row per VaR/ES limit (``risk_pipeline.risk.limits.Limit``): measure, horizon_days, confidence,
    measured_amount, limit_amount, utilization, status. ``measures``: option_var rows of one book and day of the
    method full_revaluation (a limit without its row is no_data)."""
    rows = []
    for limit in limits:
        match = measures.loc[(measures["horizon_days"] == limit.horizon_days)
                             & np.isclose(measures["confidence"], limit.confidence)]
        value = float(match[f"{limit.measure}_amount"].iloc[0]) if len(match) else np.nan
        rows.append({"measure": limit.measure, "horizon_days": limit.horizon_days, "confidence": limit.confidence,
                     "measured_amount": value, "limit_amount": limit.amount})
    frame = pd.DataFrame(rows, columns=["measure", "horizon_days", "confidence", "measured_amount", "limit_amount"])
    frame["utilization"] = frame["measured_amount"] / frame["limit_amount"]
    frame["status"] = classify(frame["measured_amount"].to_numpy(), frame["limit_amount"].to_numpy(), warning_fraction)
    return frame


@dataclass(frozen=True)
class TradeDecision:
    """A trade's verdict: ``blocked`` and why (the event of the day, else the Greek caps, else the VaR/ES limits)."""

    blocked: bool
    reason: str


def decide(caps_after: pd.DataFrame, limits_after: pd.DataFrame, event: Event | None) -> TradeDecision:
    """Block on the event's day, then on the first Greek cap in danger, then on the first VaR/ES limit in danger."""
    if event is not None:
        return TradeDecision(True, f"no new entry on the day of {event.event} ({event.underlying}, {event.date})")
    for frame, kind in ((caps_after, "Greek cap"), (limits_after, "VaR/ES limit")):
        danger = frame.loc[frame["status"] == "danger"]
        if len(danger):
            first = danger.iloc[0]
            what = (f"{first['greek']} of the {first['level']}" + (f" on {first['underlying']}" if first["level"] ==
                    "underlying" else "") if kind == "Greek cap" else
                    f"{first['measure']} {first['horizon_days']}d at {first['confidence']:.0%}")
            return TradeDecision(True, f"{kind} breached: {what}: |{first['measured_amount']:,.0f}| > "
                                       f"{first['limit_amount']:,.0f}")
    return TradeDecision(False, "within every Greek cap and VaR/ES limit")
