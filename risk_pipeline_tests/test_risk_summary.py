"""The official figure per book (risk_pipeline.risk.official): the monthly choice of the recommended
method and the split of the day's change of the 1-day VaR amount, on frames whose answers are
worked out by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from risk_pipeline.risk.official import OfficialConfigError, book_rules, official_methods, summary_rows

D = dt.date


def _best(rows):
    return pd.DataFrame(rows, columns=["as_of", "portfolio", "best_method"]).assign(as_of=lambda f: pd.to_datetime(f["as_of"]))


def test_recommended_is_rechosen_monthly_from_the_set_before_the_month():
    best = _best([("2020-01-31", "a", "ewma"), ("2020-02-14", "a", "historical"), ("2020-02-28", "a", "conditional_evt")])
    days = [D(2020, 1, 31), D(2020, 2, 3), D(2020, 2, 17), D(2020, 2, 28), D(2020, 3, 2)]
    out = official_methods(days, {"a": "recommended", "b": "parametric_t"}, "historical", best)
    a = out.loc[out["portfolio"].eq("a")].set_index("date")
    # January: no set before the month began -> fallback; February: January's set, also after the mid-month set
    assert list(a["method"]) == ["historical", "ewma", "ewma", "ewma", "conditional_evt"]
    assert list(a["method_rule"]) == ["fallback", "recommended", "recommended", "recommended", "recommended"]
    assert a.loc["2020-03-02", "method_chosen_as_of"] == pd.Timestamp("2020-02-28")
    b = out.loc[out["portfolio"].eq("b")]
    assert set(b["method"]) == {"parametric_t"} and set(b["method_rule"]) == {"fixed"}
    assert b["method_chosen_as_of"].isna().all()


def test_book_rules_refuse_unknown_methods_and_books():
    methods = ["historical", "ewma"]
    assert book_rules(["a", "b"], "recommended", {"b": "ewma"}, methods, "historical") == {"a": "recommended", "b": "ewma"}
    with pytest.raises(OfficialConfigError, match="'garch' of portfolio 'a'"):
        book_rules(["a"], "garch", None, methods, "historical")
    with pytest.raises(OfficialConfigError, match="unknown portfolio"):
        book_rules(["a"], "ewma", {"zz": "ewma"}, methods, "historical")
    with pytest.raises(OfficialConfigError, match="fallback_method"):
        book_rules(["a"], "ewma", None, methods, "monte_carlo")


def test_change_split_adds_up_and_matches_its_definition():
    dates = pd.to_datetime(["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-04"])
    # closes: the value moved by 30 of P&L and 70 of money added between 03-02 and 03-03
    pnl = pd.DataFrame({"date": dates, "portfolio": "a", "value": [1000.0, 1010.0, 1110.0, 1100.0],
                        "pnl": [0.0, 10.0, 30.0, -10.0]})
    v = {"historical": [0.020, 0.021, 0.025, 0.024], "ewma": [0.030, 0.031, 0.027, 0.028]}
    held = [None, 1000.0, 1010.0, 1110.0]
    var = pd.DataFrame([
        {"date": d, "portfolio": "a", "method": m, "horizon_days": 1, "var": v[m][i], "es": 1.2 * v[m][i],
         "var_amount": v[m][i] * held[i] if held[i] else None, "es_amount": 1.2 * v[m][i] * held[i] if held[i] else None,
         "base_currency": "USD"}
        for i, d in enumerate(dates) for m in v])
    # the official method: historical, then ewma from 03-04 (a new month's choice, say)
    methods = pd.DataFrame({"date": dates[1:], "portfolio": "a", "method": ["historical", "historical", "ewma"],
                            "method_rule": "fixed", "method_chosen_as_of": pd.NaT})
    out = summary_rows(methods, var, pnl, 0.99).set_index("date")
    day3 = out.loc["2021-03-03"]
    assert day3["value_held"] == 1010.0
    assert day3["var_1d_amount_change"] == pytest.approx(0.025 * 1010 - 0.021 * 1000)
    # value held 1000 -> 1010 with P&L 10 over 03-02: nothing from positions
    assert day3["var_1d_change_positions"] == pytest.approx(0.0)
    assert day3["var_1d_change_method"] == pytest.approx(0.0)
    day4 = out.loc["2021-03-04"]
    # 1010 -> 1110 with P&L 30: 70 added at the previous VaR fraction
    assert day4["var_1d_change_positions"] == pytest.approx(0.025 * 70)
    assert day4["var_1d_change_method"] == pytest.approx((0.028 - 0.024) * 1110)
    assert day4["var_1d_change_market"] == pytest.approx(0.025 * 30 + (0.024 - 0.025) * 1110)
    parts = out[["var_1d_change_positions", "var_1d_change_market", "var_1d_change_method"]].sum(axis=1)
    assert (parts - out["var_1d_amount_change"]).dropna().abs().max() < 1e-9
    assert pd.isna(out.loc["2021-03-02", "var_1d_amount_change"])  # 03-01 has no value held: no amount to compare
    assert out["var_10d"].isna().all()  # no 10-day horizon given


def test_without_any_model_confidence_set_a_recommended_book_reports_the_fallback():
    days = [D(2020, 1, 2), D(2020, 1, 3)]
    out = official_methods(days, {"a": "recommended"}, "historical", _best([]))
    assert list(out["method"]) == ["historical", "historical"] and set(out["method_rule"]) == {"fallback"}
