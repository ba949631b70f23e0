"""ECB reference rates and cross rates.

Published values checked: the euro's first reference rates of 1999-01-04 (USD 1.1789,
JPY 133.73, GBP 0.7111, CHF 1.6168) and the USD record of 2008-07-15 (1.5990), ECB press
releases / statistical data warehouse. Cross rates are checked against an independent pivot
of the raw table: units of B per unit of Q = r_B / r_Q with r_X = units of X per EUR.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.sources.ecb_fx import (
    MAX_STALENESS_DAYS,
    FxRateError,
    fx_currencies,
    fx_rate,
    load_ecb_rates,
)
from risk_pipeline.sources.base import PriceDataError


@pytest.fixture(scope="module")
def wide() -> pd.DataFrame:
    return load_ecb_rates().pivot(index="date", columns="currency", values="rate")


def test_table_schema_and_coverage():
    rates = load_ecb_rates()
    assert list(rates.columns) == ["date", "currency", "rate"]
    assert rates["date"].dtype == np.dtype("datetime64[ns]") and rates["rate"].dtype == np.dtype("float64")
    assert rates["date"].min() == pd.Timestamp("1999-01-04")
    assert (rates["rate"] > 0).all() and rates["rate"].notna().all()
    assert "EUR" not in set(rates["currency"])
    assert not rates.duplicated(["date", "currency"]).any()
    assert {"USD", "GBP", "JPY", "CHF", "EUR", "CYP"} <= fx_currencies()
    rates.loc[0, "rate"] = -1.0  # a copy: the cache is not mutated
    assert (load_ecb_rates()["rate"] > 0).all()


def test_published_values(wide):
    first = wide.loc["1999-01-04"]
    assert (first["USD"], first["JPY"], first["GBP"], first["CHF"]) == (1.1789, 133.73, 0.7111, 1.6168)
    assert wide.at[pd.Timestamp("2008-07-15"), "USD"] == 1.599


def test_usd_per_eur_is_the_ecb_rate_and_its_inverse(wide):
    days = wide.index[::250]
    usd_per_eur = fx_rate("USD", "EUR", days)
    np.testing.assert_array_equal(usd_per_eur.to_numpy(), wide.loc[days, "USD"].to_numpy())
    eur_per_usd = fx_rate("EUR", "USD", days)
    np.testing.assert_allclose(eur_per_usd.to_numpy(), 1.0 / wide.loc[days, "USD"].to_numpy(), rtol=1e-15)
    assert usd_per_eur.name == "USD_per_EUR" and eur_per_usd.name == "EUR_per_USD"


def test_cross_rate_via_eur(wide):
    days = wide.index[wide.index >= "2010-01-01"][::97]
    gbp_per_usd = fx_rate("GBP", "USD", days)
    np.testing.assert_allclose(gbp_per_usd.to_numpy(), (wide.loc[days, "GBP"] / wide.loc[days, "USD"]).to_numpy(), rtol=1e-15)
    # triangular consistency: JPY per GBP = JPY per USD * USD per GBP
    np.testing.assert_allclose(fx_rate("JPY", "GBP", days).to_numpy(),
                               (fx_rate("JPY", "USD", days) * fx_rate("USD", "GBP", days)).to_numpy(), rtol=1e-12)


def test_same_currency_is_one_on_any_date():
    days = pd.to_datetime(["1990-01-02", "2022-12-28"])
    assert fx_rate("USD", "USD", days).tolist() == [1.0, 1.0]
    assert fx_rate("EUR", "EUR", days).tolist() == [1.0, 1.0]


def test_holidays_carry_the_last_fixing_forward(wide):
    # Easter 2020: fixings on Thu 9 April and Tue 14 April; Good Friday and Easter Monday carry Thursday's
    assert pd.Timestamp("2020-04-10") not in wide.index and pd.Timestamp("2020-04-13") not in wide.index
    rates = fx_rate("USD", "EUR", [dt.date(2020, 4, 9), dt.date(2020, 4, 10), dt.date(2020, 4, 13), dt.date(2020, 4, 14)])
    assert rates.tolist() == [1.0867, 1.0867, 1.0867, 1.0963]
    assert list(rates.index) == list(pd.to_datetime(["2020-04-09", "2020-04-10", "2020-04-13", "2020-04-14"]))


def test_order_repeats_and_time_of_day_are_kept_as_dates():
    stamps = pd.DatetimeIndex(["2020-04-14 16:00", "2020-04-09 09:30", "2020-04-14"], tz="America/New_York")
    rates = fx_rate("USD", "EUR", stamps)
    assert rates.tolist() == [1.0963, 1.0867, 1.0963]
    assert rates.index.tz is None and (rates.index == rates.index.normalize()).all()


def test_no_rate_names_the_currency_and_date(wide):
    with pytest.raises(FxRateError, match=r"no USD rate on 1998-12-31 .*\(ecb\) covers? 1999-01-04"):
        fx_rate("EUR", "USD", ["1998-12-31", "1999-01-04"])
    with pytest.raises(FxRateError, match="no CYP rate on 2010-01-04"):
        fx_rate("EUR", "CYP", ["2007-12-31", "2010-01-04"])
    too_late = wide.index[-1] + pd.Timedelta(days=MAX_STALENESS_DAYS + 1)
    with pytest.raises(FxRateError, match=f"no GBP rate on {too_late:%Y-%m-%d}"):
        fx_rate("GBP", "EUR", [too_late])
    last_allowed = wide.index[-1] + pd.Timedelta(days=MAX_STALENESS_DAYS)
    assert fx_rate("GBP", "EUR", [last_allowed]).item() == wide["GBP"].iloc[-1]


@pytest.mark.parametrize(("base", "quote", "name"), [("USD", "XYZ", "'XYZ'"), ("usd", "EUR", "'usd'"), ("EUR", "EURO", "'EURO'")])
def test_unknown_currency_is_named(base, quote, name):
    with pytest.raises(FxRateError, match=f"unknown currency {name}") as info:
        fx_rate(base, quote, ["2020-01-02"])
    assert isinstance(info.value, PriceDataError) and isinstance(info.value, ValueError)
