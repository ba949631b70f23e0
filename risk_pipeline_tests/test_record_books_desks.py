"""The bundled trading books (books of record with trades and fees) in the backtests, FRTB and Monte Carlo:
actual-P&L exceptions beside the hypothetical ones in var_backtests (equal for a YAML book), a book of record as
an FRTB desk, and Monte Carlo VaR of the positions of the previous close; each recomputed here from the stored
positions, trades and prices by a plain loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_pipeline_tests.pipeline_helpers import (
    ALL_ASSETS, BALANCED_BOOK, REPO, fast_run_config, materialize_range, module_lake, query, shipped_portfolios,
)

START, END = "2018-09-04", "2019-12-31"
BOOK = "momentum_12_1"  # trades monthly, 10 bp fees
BALANCED = "portfolios:\n" + BALANCED_BOOK
ASSETS = {"prices", "returns", "fx_rates", "positions", "trades", "portfolio_pnl", "var_estimates", "var_backtests",
          "frtb_es", "frtb_desks", "frtb_capital"}
DESK_WINDOW = 20  # the desk model's and the PLA betas' window (frtb.yaml), short for a short history
MC_WINDOW = 60
CONFIG = fast_run_config(methods=["historical", "monte_carlo"], monte_carlo_estimation_window_days=MC_WINDOW,
                         n_scenarios=500)
CONFIG["ops"]["var_backtests"] = {"config": {"backtest_window_days": [250]}}
CONFIG["ops"]["prices"]["config"]["extra_symbols"] = ["SP500", "MTUM", "QUAL"]


def _portfolios() -> str:
    """The shipped books of record beside one YAML weight book."""
    shipped = shipped_portfolios()
    return BALANCED + shipped[shipped.index("books_of_record:"):]


def _assets(names: set[str]):
    return [a for a in ALL_ASSETS if {k.to_user_string() for k in a.keys} <= names]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("record_desks")
    text = (REPO / "risk_pipeline" / "config" / "frtb.yaml").read_text().replace("start: 2007-01-01", f"start: {START}")
    text = text.replace("estimation_window_days: 250", f"estimation_window_days: {DESK_WINDOW}")
    text = text.replace("pla_beta_window_days: 250", f"pla_beta_window_days: {DESK_WINDOW}")
    (folder / "frtb.yaml").write_text(text.replace("desks: null", f"desks: [balanced, {BOOK}]"))
    with module_lake(folder, _portfolios()) as mp:
        mp.setenv("RISK_PIPELINE_FRTB", str(folder / "frtb.yaml"))
        assert materialize_range(START, END, run_config=CONFIG, assets=_assets(ASSETS)).success
        yield folder / "data"


def _closes(data: Path) -> pd.DataFrame:
    return query(data, "select date, symbol, close from prices").pivot(
        index="date", columns="symbol", values="close").sort_index()


def _actual_pnl(data: Path, book: str) -> pd.DataFrame:
    """Per day: the value of the previous close's positions and the actual P&L, from positions, trades and
    closes alone (USD book): sum q_{t-1} (P_t - P_{t-1}) + sum_k q_k (P_t - p_k) - f_k."""
    closes = _closes(data)
    held = query(data, f"select date, symbol, quantity from positions where portfolio = '{book}'")
    trades = query(data, f"select date, symbol, quantity, price, fees from trades where portfolio = '{book}'")
    days = sorted(held["date"].unique())
    rows = []
    for previous, day in zip(days[:-1], days[1:]):
        own = held.loc[held["date"] == previous]
        value = sum(q * closes.at[previous, s] for s, q in zip(own["symbol"], own["quantity"]))
        hypothetical = sum(q * (closes.at[day, s] - closes.at[previous, s]) for s, q in zip(own["symbol"], own["quantity"]))
        traded = trades.loc[trades["date"] == day]
        from_trades = sum(q * (closes.at[day, s] - p) - f for s, q, p, f in
                          zip(traded["symbol"], traded["quantity"], traded["price"], traded["fees"]))
        rows.append((day, value, hypothetical, hypothetical + from_trades))
    return pd.DataFrame(rows, columns=["date", "previous_value", "hypothetical", "actual"]).set_index("date")


def test_a_yaml_books_actual_exceptions_and_return_are_its_hypothetical_ones(lake):
    pnl = query(lake, "select simple_return, actual_return from portfolio_pnl where portfolio = 'balanced'")
    assert len(pnl) > 300 and (pnl["actual_return"] == pnl["simple_return"]).all()
    rows = query(lake, "select n_breaches, n_actual_breaches, kupiec_p, actual_kupiec_p, traffic_light, "
                       "actual_traffic_light from var_backtests where portfolio = 'balanced'")
    assert len(rows) > 500 and rows["n_breaches"].sum() > 0
    assert (rows["n_actual_breaches"] == rows["n_breaches"]).all()
    assert (rows["actual_kupiec_p"] == rows["kupiec_p"]).all()
    assert (rows["actual_traffic_light"] == rows["traffic_light"]).all()


def test_actual_exceptions_of_a_trading_book_count_its_actual_losses_over_the_var(lake):
    """momentum_12_1 trades at the close with fees: its actual P&L is the hypothetical minus the fees on the
    first trading day of each month. The stored actual_pnl and actual_return are recomputed from positions,
    trades and closes; the actual breaches of each 250-day window counted from them against the stored VaR."""
    expected = _actual_pnl(lake, BOOK)
    stored = query(lake, f"select date, pnl, actual_pnl, simple_return, actual_return from portfolio_pnl "
                         f"where portfolio = '{BOOK}' order by date").set_index("date")
    expected = expected.loc[stored.index]
    np.testing.assert_allclose(stored["actual_pnl"], expected["actual"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(stored["actual_return"], expected["actual"] / expected["previous_value"], rtol=1e-9)
    trading = (stored["actual_pnl"] - stored["pnl"]).abs() > 1.0
    assert 10 <= trading.sum() <= 20  # the monthly rebalancing days of the range
    loss = -stored["actual_return"]
    checked = 0
    for confidence in (0.95, 0.99):
        var = query(lake, f"select date, var from var_estimates where portfolio = '{BOOK}' and method = 'historical' "
                          f"and confidence = {confidence} and horizon_days = 1").set_index("date")["var"]
        rows = query(lake, f"select as_of, n_obs, n_breaches, n_actual_breaches, actual_traffic_light "
                           f"from var_backtests where portfolio = '{BOOK}' and method = 'historical' and "
                           f"confidence = {confidence} and horizon_days = 1 order by as_of")
        days = stored.index
        for _, row in rows.iloc[::20].iterrows():
            t = days.get_loc(row["as_of"])
            window = days[max(0, t - 249): t + 1]
            known = var.reindex(window).dropna()
            assert row["n_obs"] == len(known)
            assert row["n_actual_breaches"] == int((loss.reindex(known.index) > known).sum())
            checked += 1
        # fees only lower the actual P&L (trades at the close): never fewer actual than hypothetical breaches
        assert (rows["n_actual_breaches"] >= rows["n_breaches"]).all()
    assert checked >= 20


def _returns(data: Path) -> pd.DataFrame:
    return query(data, "select date, symbol, simple_return from returns").pivot(
        index="date", columns="symbol", values="simple_return").sort_index()


def test_monte_carlo_of_a_book_of_record_simulates_the_previous_closes_positions(lake):
    """The same seed and model on the instruments held at t-1 (by name), weights q P / V of that close, the
    60 returns before t: var_es_grid's Monte Carlo on those rows alone gives the stored row (to the last bits
    of the prefix sums, which start at another row in the run)."""
    from risk_pipeline.config.settings import section
    from risk_pipeline.risk.var import var_es_grid

    closes, rets = _closes(lake), _returns(lake)
    held = query(lake, f"select date, symbol, quantity from positions where portfolio = '{BOOK}'")
    stored = query(lake, f"select date, confidence, var, es, var_amount, es_amount from var_estimates where "
                         f"portfolio = '{BOOK}' and method = 'monte_carlo' and horizon_days = 1")
    days = sorted(held["date"].unique())
    assert set(stored["date"]) == {d for d in days[1:] if rets.index.get_loc(d) >= MC_WINDOW}
    checked = 0
    for previous, day in list(zip(days[:-1], days[1:]))[MC_WINDOW::23]:
        own = held.loc[held["date"] == previous].sort_values("symbol")
        exposure = pd.Series(own["quantity"].to_numpy() * closes.loc[previous, own["symbol"]].to_numpy(),
                             index=own["symbol"].to_numpy())
        value = exposure.sum()
        t = rets.index.get_loc(day)
        window = rets.iloc[t - MC_WINDOW: t + 1][list(exposure.index)]
        expected = var_es_grid(window, method="monte_carlo", confidences=[0.95, 0.99], horizons=[1], window=MC_WINDOW,
                               weights=exposure / value, n_scenarios=500, seed=int(section("var")["seed"]),
                               shrinkage=str(section("var")["shrinkage"]))
        got = stored.loc[stored["date"] == day].sort_values("confidence")
        np.testing.assert_allclose(got["var"], expected["var"], rtol=1e-9)
        np.testing.assert_allclose(got["es"], expected["es"], rtol=1e-9)
        np.testing.assert_allclose(got["var_amount"], expected["var"] * value, rtol=1e-9)
        checked += 1
    assert checked >= 10


def test_monte_carlo_of_a_yaml_book_is_the_simulation_of_its_weights(lake):
    """A YAML book's Monte Carlo is untouched by the books of record: var_es_grid over its P&L days with its
    weights gives the stored rows."""
    from risk_pipeline.config.settings import section
    from risk_pipeline.risk.var import var_es_grid

    dates = query(lake, "select date from portfolio_pnl where portfolio = 'balanced' order by date")["date"]
    returns = _returns(lake)[["AAPL", "JPM", "XOM"]].reindex(pd.DatetimeIndex(dates))
    expected = var_es_grid(returns, method="monte_carlo", confidences=[0.95, 0.99], horizons=[1], window=MC_WINDOW,
                           weights=pd.Series({"AAPL": 0.4, "JPM": 0.3, "XOM": 0.3}), n_scenarios=500,
                           seed=int(section("var")["seed"]), shrinkage=str(section("var")["shrinkage"]))
    got = query(lake, "select date, confidence, var, es from var_estimates where portfolio = 'balanced' and "
                      "method = 'monte_carlo' order by date, confidence")
    assert len(got) == len(expected) > 500
    np.testing.assert_allclose(got["var"], expected["var"], rtol=1e-12)
    np.testing.assert_allclose(got["es"], expected["es"], rtol=1e-12)


def _held(data: Path, book: str) -> pd.DataFrame:
    return query(data, f"select date, symbol, quantity from positions where portfolio = '{book}'")


def test_a_book_of_record_is_an_frtb_desk_on_its_stored_positions(lake):
    """momentum_12_1 listed in frtb.yaml's desks: its hpl is portfolio_pnl's hypothetical P&L, its model VaR the
    historical quantile of the previous close's positions revalued over the 20 days before, its exceptions the
    greater of the actual and the hypothetical counts over 250 days (MAR32.5), its PLA the Spearman correlation of
    the hpl with a factor model's P&L (OLS betas over 20 days), its ES_T(P) that of the 10-day overlapping
    moves of its stocks over 250 days applied to the positions held; and it is part of the bank."""
    from scipy.stats import spearmanr

    closes, rets = _closes(lake), _returns(lake)
    held = _held(lake, BOOK)
    desks = query(lake, f"select * from frtb_desks where portfolio = '{BOOK}' order by date").set_index("date")
    pnl = query(lake, f"select date, value, pnl, actual_pnl from portfolio_pnl where portfolio = '{BOOK}' "
                      "order by date").set_index("date")
    assert len(desks) == len(pnl) > 300
    # bit for bit: the same sum of each day's held positions' P&L, whatever instruments other days hold
    assert desks["hpl"].equals(pnl["pnl"].reindex(desks.index))
    var = desks["var_amount_99"]
    days = list(rets.index)
    for day in var.dropna().index[::25]:
        t = days.index(day)
        own = held.loc[held["date"] == days[t - 1]]
        revalued = [sum(q * closes.at[days[t - 1], s] * rets.at[days[k], s] for s, q in zip(own["symbol"], own["quantity"]))
                    for k in range(t - DESK_WINDOW, t)]
        assert var[day] == pytest.approx(np.quantile(-np.array(revalued), 0.99), rel=1e-9)
    hyp = (-pnl["pnl"] > var.reindex(pnl.index)).astype(float).where(var.reindex(pnl.index).notna())
    act = (-pnl["actual_pnl"] > var.reindex(pnl.index)).astype(float).where(var.reindex(pnl.index).notna())
    counted = desks["exceptions_99"].dropna()
    assert len(counted) > 20
    for day in counted.index[::7]:
        t = pnl.index.get_loc(day)
        window = slice(t - 249, t + 1)
        assert counted[day] == max(hyp.iloc[window].sum(), act.iloc[window].sum())
    # PLA: the desk's return on the factors' returns, betas over the 20 days before t
    factors = rets[["SP500", "MTUM", "QUAL"]]
    y = pnl["pnl"] / pnl["value"].shift(1)
    rtpl = pd.Series(np.nan, index=pnl.index)
    for t in range(DESK_WINDOW + 1, len(pnl)):
        window = pnl.index[t - DESK_WINDOW: t]
        x = np.column_stack([np.ones(DESK_WINDOW), factors.loc[window].to_numpy()])
        beta = np.linalg.lstsq(x, y.loc[window].to_numpy(), rcond=None)[0]
        rtpl.iloc[t] = pnl["value"].iloc[t - 1] * float(factors.loc[pnl.index[t]].to_numpy() @ beta[1:])
    np.testing.assert_allclose(desks["rtpl"].iloc[DESK_WINDOW + 1:], rtpl.iloc[DESK_WINDOW + 1:], rtol=1e-7)
    day = desks["pla_spearman"].dropna().index[-1]
    t = pnl.index.get_loc(day)
    expected = spearmanr(pnl["pnl"].iloc[t - 249: t + 1], rtpl.iloc[t - 249: t + 1]).statistic
    assert desks.at[day, "pla_spearman"] == pytest.approx(expected, rel=1e-9)
    # ES_T(P): the stocks' 10-day compounded moves over the 250 days before t, on the positions of t-1
    es = query(lake, f"select date, es_unadjusted from frtb_es where portfolio = '{BOOK}' and risk_class = 'all' "
                     "and es_unadjusted is not null").set_index("date")["es_unadjusted"]
    day = es.index.max()
    t = days.index(day)
    own = held.loc[held["date"] == days[t - 1]]
    growth = (1.0 + rets.iloc[t - 250: t][list(own["symbol"])]).to_numpy()
    moves = np.array([growth[k: k + 10].prod(axis=0) - 1.0 for k in range(241)])
    exposure = own["quantity"].to_numpy() * closes.loc[days[t - 1], own["symbol"]].to_numpy()
    losses = -(moves @ exposure)
    assert es[day] == pytest.approx(losses[losses >= np.quantile(losses, 0.975)].mean(), rel=1e-9)
    # the bank's actual P&L: its hypothetical P&L plus the trading desk's trades and fees (a USD desk and bank)
    bank = query(lake, "select * from frtb_desks where portfolio = 'bank' order by date").set_index("date")
    trading = (pnl["actual_pnl"] - pnl["pnl"]).reindex(bank.index).fillna(0.0)
    bank_var = bank["var_amount_99"]
    hyp = (-bank["hpl"] > bank_var).astype(float).where(bank_var.notna())
    act = (-(bank["hpl"] + trading) > bank_var).astype(float).where(bank_var.notna())
    counted = bank["exceptions_99"].dropna()
    assert len(counted) > 20
    for day in counted.index[::7]:
        t = bank.index.get_loc(day)
        assert counted[day] == max(hyp.iloc[t - 249: t + 1].sum(), act.iloc[t - 249: t + 1].sum())
    assert query(lake, "select count(*) as n from frtb_capital where capital_charge is not null")["n"][0] > 0


def test_a_trading_books_exposure_positions_and_traded_value_are_those_of_its_stored_positions(lake):
    """gross = sum |q P|, value = sum q P, n_positions = #{q != 0} at each close, traded_value = sum |q_t - q_t-1| P_t:
    the trades' units valued at the close on the first trading day of each month, 0 on the other days."""
    closes = _closes(lake)
    held = _held(lake, BOOK).pivot(index="date", columns="symbol", values="quantity").fillna(0.0).sort_index()
    stored = query(lake, f"select date, value, gross_exposure, n_positions, traded_value from portfolio_pnl "
                         f"where portfolio = '{BOOK}' order by date").set_index("date")
    exposure = held * closes.reindex(index=held.index, columns=held.columns)
    traded = (held.diff().abs() * closes.reindex(index=held.index, columns=held.columns)).sum(axis=1)
    days = stored.index
    np.testing.assert_allclose(stored["gross_exposure"], exposure.abs().sum(axis=1).reindex(days), rtol=1e-12)
    np.testing.assert_allclose(stored["value"], exposure.sum(axis=1).reindex(days), rtol=1e-12)
    assert (stored["n_positions"] == (held != 0).sum(axis=1).reindex(days)).all() and (stored["n_positions"] == 5).all()
    np.testing.assert_allclose(stored["traded_value"], traded.reindex(days), rtol=1e-9, atol=1e-6)
    trades = query(lake, f"select date, sum(abs(quantity) * 1.0) as units from trades where portfolio = '{BOOK}' "
                         "group by 1").set_index("date")["units"]
    assert set(stored.index[stored["traded_value"] > 1.0]) == set(trades.index) & set(days)
