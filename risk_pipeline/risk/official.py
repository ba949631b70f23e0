"""The one official VaR/ES figure per book and day (the ``risk_summary`` table; docs/analytics.md).

Each book reports one method, named in pipeline.yaml's ``official`` section: a fixed method, or
``recommended``: the best method of the Model Confidence Set (the lowest mean FZ0 loss,
``var_scores.best_method``, at 99%, 1 day, over the longest scores window) computed before the
month began (normally as of the previous month's last trading day). The choice is made once a
month, on the month's first business day, from data up to the day before, so the official figure
does not flip from day to day. Before the first such choice the ``fallback_method`` is used.

The change of the official 1-day VaR amount since the previous business day,
``A_t - A_{t-1}`` with ``A_t = v_t V_{t-1}`` (``v``: VaR as a fraction, ``V``: the closing value
held over the day), is split into

* ``positions``: ``v_{t-1} (V_{t-1} - V_{t-2} - pnl_{t-1})``, the value held changed by anything
  but the market's P&L of the day (trades, money in or out; for the books held by weight, the
  rebalancing back to the notional, which takes the P&L out);
* ``method``: ``(v_t - v'_t) V_{t-1}`` where ``v'_t`` is the VaR of the previous day's method (zero
  unless the official method changed);
* ``market``: the rest, ``v_{t-1} pnl_{t-1} + (v'_t - v_{t-1}) V_{t-1}``: the P&L of the day
  carried into the value at risk and the new day's return in the method's window.

Pure: frames in, frames out.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

RECOMMENDED = "recommended"
SUMMARY_COLUMNS = [
    "date", "portfolio", "base_currency", "method", "method_rule", "method_chosen_as_of", "confidence", "value_held",
    "var_1d", "es_1d", "var_10d", "es_10d", "var_1d_amount", "es_1d_amount", "var_10d_amount", "es_10d_amount",
    "var_1d_amount_change", "var_1d_change_positions", "var_1d_change_market", "var_1d_change_method",
]  # fmt: skip


class OfficialConfigError(ValueError):
    """The ``official`` settings name a method the pipeline does not compute."""


def book_rules(portfolios: list[str], method: str, book_methods: dict[str, str] | None, methods: list[str],
               fallback: str) -> dict[str, str]:
    """The reporting rule of each book (a method of ``methods`` or ``recommended``): its entry of
    ``book_methods``, else ``method``; an unknown method or book raises one line naming it."""
    allowed = set(methods) | {RECOMMENDED}
    if fallback not in methods:
        raise OfficialConfigError(f"official.fallback_method {fallback!r} is not among var.methods {methods}")
    unknown_books = sorted(set(book_methods or {}) - set(portfolios))
    if unknown_books:
        raise OfficialConfigError(f"official.book_methods names unknown portfolio(s) {unknown_books}")
    rules = {p: (book_methods or {}).get(p, method) for p in portfolios}
    for book, rule in rules.items():
        if rule not in allowed:
            raise OfficialConfigError(f"official method {rule!r} of portfolio {book!r} is neither {RECOMMENDED!r} "
                                      f"nor among var.methods {methods}")
    return rules


def monthly_choices(days: list[dt.date], best: pd.DataFrame) -> pd.DataFrame:
    """Per day of ``days`` and portfolio of ``best`` (columns as_of, portfolio, best_method: the
    Model Confidence Sets computed), the best method of the latest set computed before the day's
    month began: columns date, portfolio, method, method_chosen_as_of (no row before the first)."""
    if best.empty or not days:
        return pd.DataFrame({"date": pd.to_datetime([]), "portfolio": pd.Series([], dtype=object),
                             "method": pd.Series([], dtype=object), "method_chosen_as_of": pd.to_datetime([])})
    frame = pd.DataFrame({"date": pd.to_datetime(days)})
    frame["month_start"] = frame["date"].dt.to_period("M").dt.start_time
    best = best.assign(as_of=pd.to_datetime(best["as_of"])).sort_values("as_of")
    out = []
    for portfolio, rows in best.groupby("portfolio", sort=True):
        # the latest as_of strictly before the month's first day
        position = np.searchsorted(rows["as_of"].to_numpy(), frame["month_start"].to_numpy(), side="left") - 1
        ok = position >= 0
        chosen = rows.iloc[position[ok]]
        out.append(pd.DataFrame({"date": frame.loc[ok, "date"].to_numpy(), "portfolio": portfolio,
                                 "method": chosen["best_method"].to_numpy(),
                                 "method_chosen_as_of": chosen["as_of"].to_numpy()}))
    return pd.concat(out, ignore_index=True)


def official_methods(days: list[dt.date], rules: dict[str, str], fallback: str, best: pd.DataFrame) -> pd.DataFrame:
    """The official method of each book and day: columns date, portfolio, method, method_rule
    (fixed, recommended or fallback: a recommended book before its first monthly choice),
    method_chosen_as_of (the Model Confidence Set's date; NaT unless recommended)."""
    grid = pd.MultiIndex.from_product([pd.to_datetime(days), sorted(rules)], names=["date", "portfolio"]).to_frame(
        index=False)
    choices = monthly_choices(days, best.loc[best["portfolio"].isin([p for p, r in rules.items() if r == RECOMMENDED])])
    out = grid.merge(choices, on=["date", "portfolio"], how="left")
    rule = out["portfolio"].map(rules)
    fixed = rule.ne(RECOMMENDED)
    out.loc[fixed, "method"] = rule[fixed]
    out.loc[fixed, "method_chosen_as_of"] = pd.NaT
    out["method_rule"] = np.where(fixed, "fixed", np.where(out["method"].isna(), "fallback", RECOMMENDED))
    out["method"] = out["method"].fillna(fallback)
    out["method_chosen_as_of"] = pd.to_datetime(out["method_chosen_as_of"])
    return out


def _pick(var: pd.DataFrame, horizon: int) -> pd.DataFrame:
    return var.loc[var["horizon_days"].eq(horizon)].set_index(["date", "portfolio", "method"])[
        ["var", "es", "var_amount", "es_amount"]]


def summary_rows(methods: pd.DataFrame, var: pd.DataFrame, pnl: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """``SUMMARY_COLUMNS`` rows of the days of ``methods`` (``official_methods``) that have a 1-day
    forecast of the official method, from ``var`` (var_estimates rows at ``confidence``, horizons 1
    and 10, of those days and the previous business day) and ``pnl`` (portfolio_pnl rows of those
    days and the two stored days before): figures and the split of the 1-day change (module doc).
    The first day of a book has no change (NaN)."""
    one, ten = _pick(var, 1), _pick(var, 10)
    rows = methods.copy()
    key = pd.MultiIndex.from_frame(rows[["date", "portfolio", "method"]])
    for frame, suffix in ((one, "1d"), (ten, "10d")):
        found = frame.reindex(key)
        for col in ("var", "es"):
            rows[f"{col}_{suffix}"] = found[col].to_numpy()
            rows[f"{col}_{suffix}_amount"] = found[f"{col}_amount"].to_numpy()
    rows = rows.loc[rows["var_1d"].notna()].sort_values(["portfolio", "date"]).reset_index(drop=True)
    pnl = pnl.sort_values(["portfolio", "date"])
    values = pnl.set_index(["portfolio", "date"])["value"]
    day_pnl = pnl.set_index(["portfolio", "date"])["pnl"]
    prev_close = pnl.groupby("portfolio")["date"].shift(1)  # V_{t-1}: the close before day t
    prev_map = pd.Series(prev_close.to_numpy(), index=pd.MultiIndex.from_frame(pnl[["portfolio", "date"]]))
    held_day = prev_map.reindex(pd.MultiIndex.from_frame(rows[["portfolio", "date"]])).to_numpy()  # t-1
    rows["value_held"] = values.reindex(pd.MultiIndex.from_arrays([rows["portfolio"], held_day])).to_numpy()
    before = prev_map.reindex(pd.MultiIndex.from_arrays([rows["portfolio"], held_day])).to_numpy()  # t-2
    value_before = values.reindex(pd.MultiIndex.from_arrays([rows["portfolio"], before])).to_numpy()
    pnl_before = day_pnl.reindex(pd.MultiIndex.from_arrays([rows["portfolio"], held_day])).to_numpy()
    # the previous forecast day of the book, its official method and VaR fraction
    previous = var.loc[var["horizon_days"].eq(1), ["portfolio", "date"]].drop_duplicates().sort_values(
        ["portfolio", "date"])
    previous["prev_date"] = previous.groupby("portfolio")["date"].shift(1)
    prev_forecast = previous.set_index(["portfolio", "date"])["prev_date"].reindex(
        pd.MultiIndex.from_frame(rows[["portfolio", "date"]])).to_numpy()
    prev_method = methods.set_index(["portfolio", "date"])["method"].reindex(
        pd.MultiIndex.from_arrays([rows["portfolio"], prev_forecast])).to_numpy()
    v_prev = one["var"].reindex(pd.MultiIndex.from_arrays([prev_forecast, rows["portfolio"], prev_method])).to_numpy()
    a_prev = one["var_amount"].reindex(pd.MultiIndex.from_arrays([prev_forecast, rows["portfolio"], prev_method])).to_numpy()
    v_same = one["var"].reindex(pd.MultiIndex.from_arrays([rows["date"], rows["portfolio"], prev_method])).to_numpy()
    v_now, held = rows["var_1d"].to_numpy(), rows["value_held"].to_numpy()
    rows["var_1d_amount_change"] = rows["var_1d_amount"].to_numpy() - a_prev
    rows["var_1d_change_positions"] = v_prev * (held - value_before - pnl_before)
    rows["var_1d_change_method"] = (v_now - v_same) * held
    rows["var_1d_change_market"] = (rows["var_1d_amount_change"] - rows["var_1d_change_positions"]
                                    - rows["var_1d_change_method"])
    currency = var.drop_duplicates("portfolio").set_index("portfolio")["base_currency"]
    rows["base_currency"] = rows["portfolio"].map(currency)
    rows["confidence"] = float(confidence)
    return rows[SUMMARY_COLUMNS]
