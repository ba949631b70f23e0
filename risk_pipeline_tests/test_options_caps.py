"""Greek caps: the absolute net amount against the cap, tightening before an event, the decision's order."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.limits import Limit
from risk_pipeline.risk.options.caps import (Event, GreekCaps, cap_status, cap_status_by_day, decide, event_on, tightening,
                                            tightening_by_day, var_limit_status, var_limit_status_by_day)

FOMC = Event(dt.date(2022, 12, 14), "all", "FOMC")  # a Wednesday
EARNINGS = Event(dt.date(2022, 12, 14), "AAPL", "earnings")


@pytest.mark.parametrize("day, expected", [
    (dt.date(2022, 12, 9), 1.0),   # Friday: three business days before
    (dt.date(2022, 12, 12), 0.5),  # Monday: two
    (dt.date(2022, 12, 13), 0.5),
    (dt.date(2022, 12, 14), 1.0),  # the day itself: no tightening, no new entry instead
])
def test_tightening_in_the_window_before_the_event(day, expected):
    assert tightening((FOMC,), day, "SP500", 2, 0.5)[0] == expected


def test_an_event_on_one_underlying_tightens_its_caps_and_the_books_only():
    assert tightening((EARNINGS,), dt.date(2022, 12, 13), "SP500", 2, 0.5) == (1.0, "")
    assert tightening((EARNINGS,), dt.date(2022, 12, 13), "AAPL", 2, 0.5)[0] == 0.5
    assert tightening((EARNINGS,), dt.date(2022, 12, 13), None, 2, 0.5)[0] == 0.5
    assert event_on((EARNINGS,), dt.date(2022, 12, 14), {"SP500"}) is None
    assert event_on((EARNINGS, FOMC), dt.date(2022, 12, 14), {"SP500"}) == FOMC


def test_cap_status_compares_the_absolute_net_amount():
    amounts = pd.DataFrame({"level": ["book", "underlying"], "underlying": [None, "SP500"],
                            "delta_amount": [-90.0, -90.0], "gamma_amount": [-101.0, -101.0],
                            "vega_amount": [79.0, 79.0], "theta_amount": [0.0, 0.0]})
    caps = GreekCaps(book={"delta": 100.0, "gamma": 100.0, "vega": 100.0}, underlyings={"SP500": {"delta": 100.0}})
    status = cap_status(amounts, caps, 0.8, (), dt.date(2022, 12, 1), 2, 0.5).set_index(["level", "greek"])["status"]
    assert status[("book", "delta")] == "warning" and status[("book", "gamma")] == "danger"
    assert status[("book", "vega")] == "within_limits" and status[("underlying", "delta")] == "warning"
    tightened = cap_status(amounts, caps, 0.8, (FOMC,), dt.date(2022, 12, 13), 2, 0.5)
    assert set(tightened["limit_amount"]) == {50.0} and set(tightened["status"]) == {"danger"}


def test_greek_caps_decide_before_var_limits():
    caps = pd.DataFrame([{"level": "book", "underlying": None, "greek": "vega", "measured_amount": -120.0,
                          "limit_amount": 100.0, "status": "danger"}])
    limits = var_limit_status(pd.DataFrame({"horizon_days": [1], "confidence": [0.99], "var_amount": [200.0],
                                            "es_amount": [250.0]}), (Limit("var", 1, 0.99, 100.0),), 0.8)
    assert limits["status"].tolist() == ["danger"]
    assert decide(caps, limits, None).reason.startswith("Greek cap breached: vega of the book")
    assert decide(caps.assign(status="warning"), limits, None).reason.startswith("VaR/ES limit breached: var 1d")
    assert decide(caps, limits, FOMC).reason.startswith("no new entry on the day of FOMC")
    assert not decide(caps.assign(status="warning"), limits.assign(status="warning"), None).blocked


def test_caps_and_limits_of_many_days_at_once_equal_one_day_at_a_time():
    """The option_limit_status asset takes every day of a book at once: the same rows as a loop over the days,
    across an event's window, a day without the underlying's row (counts 0) and a day without a VaR row."""
    days = pd.bdate_range("2022-12-07", "2022-12-16")
    rng = np.random.default_rng(3)
    amounts = pd.DataFrame([{"date": d, "level": level, "underlying": u,
                             **{f"{g}_amount": rng.normal(0, 100) for g in ("delta", "gamma", "vega", "theta")}}
                            for d in days for level, u in (("book", None), ("underlying", "SP500"))])
    amounts = amounts.drop(index=amounts.index[(amounts["date"] == days[2]) & (amounts["level"] == "underlying")])
    caps = GreekCaps(book={"delta": 100.0, "vega": 80.0}, underlyings={"SP500": {"gamma": 90.0}, "AAPL": {"theta": 50.0}})
    events = (EARNINGS, FOMC, Event(dt.date(2022, 12, 9), "SP500", "CPI"))
    many = cap_status_by_day(amounts, caps, 0.8, events, days, 2, 0.5)
    one = pd.concat([cap_status(amounts.loc[amounts["date"] == d].drop(columns="date"), caps, 0.8, events, d.date(), 2,
                                0.5).assign(date=d) for d in days], ignore_index=True)
    pd.testing.assert_frame_equal(many, one[many.columns], check_exact=True)
    assert set(many["limit_amount"] / many.groupby(["level", "underlying", "greek"], dropna=False)["limit_amount"]
               .transform("max")) == {0.5, 1.0}  # the windows tightened some days and not others
    limits = (Limit("var", 1, 0.99, 100.0), Limit("es", 3, 0.95, 200.0))
    measures = pd.DataFrame([{"date": d, "horizon_days": h, "confidence": c, "var_amount": rng.uniform(0, 150),
                              "es_amount": rng.uniform(0, 250)} for d in days[1:] for h, c in ((1, 0.99), (3, 0.95))])
    many = var_limit_status_by_day(measures, limits, 0.8, days)
    one = pd.concat([var_limit_status(measures.loc[measures["date"] == d], limits, 0.8).assign(date=d) for d in days],
                    ignore_index=True)
    pd.testing.assert_frame_equal(many, one[many.columns], check_exact=True)
    assert many.loc[many["date"] == days[0], "status"].eq("no_data").all()
    for d in days:
        assert tightening_by_day(events, pd.DatetimeIndex([d]), "SP500", 2, 0.5)[1][0] == \
            tightening(events, d.date(), "SP500", 2, 0.5)[1]
