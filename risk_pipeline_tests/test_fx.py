"""Tests of risk_pipeline.risk.instruments.fx: quote convention, cross rates, base returns and the P&L split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_pipeline.risk.instruments.fx import (
    FxInputError,
    align_to_dates,
    base_prices,
    currency_returns,
    fx_return_for_base_change,
    pnl_decomposition,
    to_base_returns,
)

ECB = pd.DataFrame(
    {"USD": [1.10, 1.21, 1.00], "JPY": [130.0, 121.0, 150.0], "GBP": [0.85, 0.88, 0.80]},
    index=pd.to_datetime(["2021-01-04", "2021-01-05", "2021-01-06"]),
)


def test_cross_rates_follow_the_ecb_convention():
    """rate = units per EUR; price of 1 X in base B = rate_B / rate_X."""
    eur = base_prices(ECB, "EUR")
    assert eur.loc["2021-01-04", "USD"] == pytest.approx(1 / 1.10)  # 1 USD costs 0.909 EUR
    assert eur.loc["2021-01-04", "EUR"] == pytest.approx(1.0)
    usd = base_prices(ECB, "USD")
    assert usd.loc["2021-01-04", "EUR"] == pytest.approx(1.10)  # 1 EUR costs 1.10 USD
    assert usd.loc["2021-01-04", "JPY"] == pytest.approx(1.10 / 130.0)
    assert usd.loc["2021-01-04", "GBP"] == pytest.approx(1.10 / 0.85)
    assert (usd["USD"] == 1.0).all()
    # triangular consistency: price_USD(GBP) = price_USD(EUR) * price_EUR(GBP)
    np.testing.assert_allclose(usd["GBP"], usd["EUR"] * eur["GBP"])
    with pytest.raises(FxInputError, match="CHF"):
        base_prices(ECB, "CHF")


def test_currency_returns_and_base_returns():
    """A EUR investor in a USD stock: (1 + r_l)(1 + r_fx) - 1 equals the return of price * fx."""
    fx = currency_returns(base_prices(ECB, "EUR"))["USD"]
    assert fx.iloc[0] == pytest.approx(1.10 / 1.21 - 1)  # the dollar lost 9.09% against the euro
    local = pd.DataFrame({"AAA": [0.02, -0.01], "BBB": [0.0, 0.05]}, index=fx.index)
    base = to_base_returns(local, fx)
    price = pd.Series([100.0, 102.0, 100.98])
    fx_px = base_prices(ECB, "EUR")["USD"].to_numpy()
    eur_value = price.to_numpy() * fx_px
    np.testing.assert_allclose(base["AAA"], eur_value[1:] / eur_value[:-1] - 1)
    aligned = to_base_returns(local, pd.DataFrame({"AAA": fx, "BBB": fx}))
    pd.testing.assert_frame_equal(base, aligned)


def test_pnl_decomposition_is_exact():
    split = pnl_decomposition(1000.0, 0.05, -0.10)
    assert split.local == pytest.approx(50.0)
    assert split.fx == pytest.approx(-100.0)
    assert split.cross == pytest.approx(-5.0)
    assert split.total == pytest.approx(1000.0 * (1.05 * 0.90 - 1))


def test_align_to_dates_forward_fills_with_staleness_limit():
    prices = base_prices(ECB, "EUR")[["USD"]]
    dates = pd.to_datetime(["2021-01-03", "2021-01-05", "2021-01-08", "2021-01-12"])
    out = align_to_dates(prices, pd.DatetimeIndex(dates), max_stale_days=3)
    assert np.isnan(out.iloc[0, 0])  # before the first fixing
    assert out.iloc[1, 0] == pytest.approx(1 / 1.21)
    assert out.iloc[2, 0] == pytest.approx(1 / 1.00)  # 2 days stale: carried
    assert np.isnan(out.iloc[3, 0])  # 6 days stale: NaN


def test_base_currency_change():
    assert fx_return_for_base_change(0.10) == pytest.approx(1 / 1.1 - 1)
    assert fx_return_for_base_change(-0.5) == pytest.approx(1.0)
    with pytest.raises(FxInputError, match="base_currency_change"):
        fx_return_for_base_change(-1.0)
