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


def tightening_by_day(events: tuple[Event, ...], days: pd.DatetimeIndex, underlying: str | None, window_days: int,
                      factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Cap multiplier and the event that sets it ("" when none) on each of ``days`` for ``underlying`` (None: the
    book's caps, tightened by any event): ``factor`` when an event falls in the next ``window_days`` business days
    (the first such event of the calendar names it)."""
    days = pd.DatetimeIndex(days)
    horizon = days + pd.offsets.BDay(window_days)
    multiplier, named = np.ones(len(days)), np.full(len(days), "", dtype=object)
    for event in reversed(events):  # the first event of the calendar wins: written last
        if underlying is None or event.underlying in (ALL_UNDERLYINGS, underlying):
            when = pd.Timestamp(event.date)
            inside = np.asarray((days < when) & (when <= horizon))
            multiplier[inside] = factor
            named[inside] = f"{event.event} on {event.date} ({event.underlying})"
    return multiplier, named


def tightening(events: tuple[Event, ...], day: dt.date, underlying: str | None, window_days: int,
               factor: float) -> tuple[float, str]:
    """:func:`tightening_by_day` on one day."""
    multiplier, named = tightening_by_day(events, pd.DatetimeIndex([pd.Timestamp(day)]), underlying, window_days, factor)
    return float(multiplier[0]), str(named[0])


def event_on(events: tuple[Event, ...], day: dt.date, underlyings: set[str]) -> Event | None:
    """The event of ``day`` on one of ``underlyings`` (or on all), if any: no new entry that day."""
    return next((e for e in events if e.date == day and (e.underlying == ALL_UNDERLYINGS or e.underlying in underlyings)),
                None)


def _in_day_order(blocks: list[pd.DataFrame]) -> pd.DataFrame:
    """Blocks of one row per day each, as rows per day in block order."""
    return pd.concat(blocks, ignore_index=True).sort_values("date", kind="stable", ignore_index=True)


def cap_status_by_day(amounts: pd.DataFrame, caps: GreekCaps, warning_fraction: float, events: tuple[Event, ...],
                      days: pd.DatetimeIndex, window_days: int, factor: float) -> pd.DataFrame:
    """Per day of ``days`` (in order), one row per cap: date, level (book / underlying), underlying, greek,
    measured_amount, limit_amount (tightened), utilization, status, event. ``amounts``: ``option_greeks`` rows of one
    book (``date`` and the levels book and underlying; a day or underlying without a row counts 0)."""
    days = pd.DatetimeIndex(days)
    dates = pd.DatetimeIndex(amounts["date"])
    blocks = []
    targets = [("book", None, caps.book)] + [("underlying", u, c) for u, c in caps.underlyings.items()]
    for level, underlying, greek_caps in targets:
        inside = (amounts["level"] == level).to_numpy()
        if underlying is not None:
            inside = inside & (amounts["underlying"] == underlying).to_numpy()
        columns = [f"{greek}_amount" for greek in greek_caps]
        sums = amounts.loc[inside, columns].groupby(dates[inside]).sum().reindex(days, fill_value=0.0)
        multiplier, event = tightening_by_day(events, days, underlying, window_days, factor)
        for greek, cap in greek_caps.items():
            blocks.append(pd.DataFrame({"date": days, "level": level, "underlying": underlying, "greek": greek,
                                        "measured_amount": sums[f"{greek}_amount"].to_numpy(dtype=float),
                                        "limit_amount": cap * multiplier, "event": event}))
    frame = _in_day_order(blocks)
    frame["utilization"] = np.abs(frame["measured_amount"]) / frame["limit_amount"]
    frame["status"] = classify(np.abs(frame["measured_amount"].to_numpy()), frame["limit_amount"].to_numpy(),
                               warning_fraction)
    return frame


def cap_status(amounts: pd.DataFrame, caps: GreekCaps, warning_fraction: float, events: tuple[Event, ...],
               day: dt.date, window_days: int, factor: float) -> pd.DataFrame:
    """:func:`cap_status_by_day` on one day (``amounts``: the rows of that day, no ``date`` needed), without date."""
    when = pd.Timestamp(day)
    return cap_status_by_day(amounts.assign(date=when), caps, warning_fraction, events, pd.DatetimeIndex([when]),
                             window_days, factor).drop(columns="date")


def var_limit_status_by_day(measures: pd.DataFrame, limits, warning_fraction: float,
                            days: pd.DatetimeIndex) -> pd.DataFrame:
    """Per day of ``days`` (in order), one row per VaR/ES limit (``risk_pipeline.risk.limits.Limit``): date, measure,
    horizon_days, confidence, measured_amount, limit_amount, utilization, status. ``measures``: var_estimates rows of
    one option book (``date``) of the method full_revaluation (a limit without its row that day is no_data)."""
    days = pd.DatetimeIndex(days)
    dates = pd.DatetimeIndex(measures["date"])
    blocks = []
    for limit in limits:
        match = ((measures["horizon_days"] == limit.horizon_days)
                 & np.isclose(measures["confidence"], limit.confidence)).to_numpy()
        amounts = pd.Series(measures.loc[match, f"{limit.measure}_amount"].to_numpy(dtype=float), index=dates[match])
        value = amounts[~amounts.index.duplicated()].reindex(days).to_numpy()
        blocks.append(pd.DataFrame({"date": days, "measure": limit.measure, "horizon_days": limit.horizon_days,
                                    "confidence": limit.confidence, "measured_amount": value,
                                    "limit_amount": limit.amount}))
    if not blocks:
        return pd.DataFrame(columns=["date", "measure", "horizon_days", "confidence", "measured_amount",
                                     "limit_amount", "utilization", "status"])
    frame = _in_day_order(blocks)
    frame["utilization"] = frame["measured_amount"] / frame["limit_amount"]
    frame["status"] = classify(frame["measured_amount"].to_numpy(dtype=float),
                               frame["limit_amount"].to_numpy(dtype=float), warning_fraction)
    return frame


def var_limit_status(measures: pd.DataFrame, limits, warning_fraction: float) -> pd.DataFrame:
    """:func:`var_limit_status_by_day` on one day (``measures``: the rows of that day, no ``date`` needed), without
    date."""
    when = pd.DatetimeIndex([pd.Timestamp(0)])
    return var_limit_status_by_day(measures.assign(date=when[0]), limits, warning_fraction, when).drop(columns="date")


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
