"""Greek caps: the absolute net amount against the cap, tightening before an event, the decision's order."""

import datetime as dt

import pandas as pd
import pytest

from risk_pipeline.risk.limits import Limit
from risk_pipeline.risk.options.caps import Event, GreekCaps, cap_status, decide, event_on, tightening, var_limit_status

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
