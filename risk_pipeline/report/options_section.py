"""The option books in the risk report and in ``risk-pipeline summary``: per book, on the latest stored
day up to the as-of date, the book's net Greeks (``option_greeks``, level book), each Greek cap's and
VaR/ES limit's use (``option_limit_status``) and the VaR/ES of the three methods side by side
(the book's ``var_estimates`` rows: full revaluation, delta-gamma-vega, delta-only) and the P&L under each stress scenario
(``option_stress``, worst first) and through each historical episode (``option_replay``), the multiple of each
scenario that loses a multiple of the book's VaR (``option_reverse_stress``, smallest first), and the Basel traffic
light of each method's 1-day 99% VaR on the book's hypothetical P&L (the book's ``var_backtests`` rows, the shortest
trailing window, :func:`risk_pipeline.risk.backtests.traffic_light.basel_rows`). The report's section and the summary's
lines come from the same frames (:func:`load_options`), so they show the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from risk_pipeline.report.morning import amount, percent, signed
from risk_pipeline.risk.backtests.traffic_light import basel_rows, window_lengths
from risk_pipeline.risk.options.var import OptionVarMethod
from risk_pipeline.storage.lake import latest_day, read_days, window_days

GREEK_COLUMNS = ("position_value", "delta_amount", "gamma_amount", "vega_amount", "theta_amount", "rho_amount")
GREEK_LABELS = {"position_value": "value", "delta_amount": "delta (P&L of +100%, first order)",
                "gamma_amount": "gamma (delta change for +1%)", "vega_amount": "vega (per vol point)",
                "theta_amount": "theta (per calendar day)", "rho_amount": "rho (per basis point)"}
METHODS = tuple(str(m) for m in OptionVarMethod)


def proxy_note(vol_source: str) -> str:
    """What a ``vol_source`` of the option tables owes to the EWMA proxy (``ewma_proxy``, or joined with a file's
    series: ``ewma_proxy+vix``): "a proxy, not market data", "partly a proxy, not market data" or nothing."""
    if vol_source == "ewma_proxy":
        return "a proxy, not market data"
    return "partly a proxy, not market data" if "ewma_proxy" in vol_source.split("+") else ""


@dataclass(frozen=True)
class OptionsView:
    """The option books as of a day: ``greeks`` (book-level option_greeks rows), ``limits`` (option_limit_status
    rows), ``var`` (a row per book, confidence, horizon and measure var/es, a column per method) and ``stress``
    (option_stress rows, worst first), ``replay`` (option_replay rows, worst first), ``lights`` (the traffic-light rows
    of the books' var_backtests, :func:`option_lights`) and ``reverse`` (option_reverse_stress rows, the smallest multiple
    first, those not reached last), each of its table's latest stored day up to the as-of date."""

    greeks: pd.DataFrame
    limits: pd.DataFrame
    var: pd.DataFrame
    stress: pd.DataFrame
    replay: pd.DataFrame
    lights: pd.DataFrame = field(default_factory=pd.DataFrame)
    reverse: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def books(self) -> list[str]:
        return sorted(set(self.greeks.get("book", [])) | set(self.var.get("book", [])))


def _latest(table: str, as_of: dt.date, where: dict | None = None) -> pd.DataFrame:
    day = latest_day(table, as_of)
    return read_days(table, [day], where=where) if day else pd.DataFrame()


def _latest_of_books(table: str, as_of: dt.date, books: list[str]) -> pd.DataFrame:
    """The option books' rows of a table keyed by portfolio (var_estimates, var_backtests) on its latest stored day
    up to ``as_of`` with one of them, ``portfolio`` named ``book``."""
    # the last 10 stored days up to as_of: the lookback before the day after it, nothing inside
    days = window_days(table, as_of + dt.timedelta(days=1), as_of, lookback=10) if books else []
    rows = read_days(table, days[-10:], where={"portfolio": books}) if days else pd.DataFrame()  # its last days
    if rows.empty:
        return rows
    day = "as_of" if "as_of" in rows else "date"
    return rows.loc[rows[day] == rows[day].max()].rename(columns={"portfolio": "book"}).reset_index(drop=True)


def side_by_side(var: pd.DataFrame) -> pd.DataFrame:
    """An option book's var_estimates rows (``book``) as a row per (book, date, confidence, horizon_days, measure) and a column per method."""
    if var.empty:
        return pd.DataFrame(columns=["book", "date", "confidence", "horizon_days", "measure", *METHODS])
    long = var.melt(id_vars=["book", "date", "method", "confidence", "horizon_days"],
                    value_vars=["var_amount", "es_amount"], var_name="measure", value_name="amount")
    long["measure"] = long["measure"].str.removesuffix("_amount")
    wide = long.pivot_table(index=["book", "date", "confidence", "horizon_days", "measure"], columns="method",
                            values="amount", aggfunc="first").reindex(columns=list(METHODS))
    wide.columns.name = None
    wide = wide.reset_index()
    wide["order"] = wide["measure"].map({"var": 0, "es": 1})
    return wide.sort_values(["book", "confidence", "horizon_days", "order"], ascending=[True, False, True, True],
                            ignore_index=True).drop(columns="order")


def option_lights(backtests: pd.DataFrame) -> pd.DataFrame:
    """The traffic-light rows (99%, horizon 1, the shortest trailing window) of the option books' var_backtests rows
    (``book``), per book and method, with their as-of date (``basel_rows``)."""
    if backtests.empty:
        return backtests
    named = backtests.rename(columns={"book": "portfolio"})
    lights = basel_rows(named, window_lengths(named)[0]).rename(columns={"portfolio": "book"})
    return lights.assign(as_of=backtests["as_of"].iloc[0])


def load_options(as_of: dt.date) -> OptionsView | None:
    """The option books' figures as of ``as_of``; None when no option table has a row up to it."""
    greeks, limits, stress, replay = (_latest(t, as_of) for t in ("option_greeks", "option_limit_status",
                                                                  "option_stress", "option_replay"))
    books = sorted(set(greeks.get("book", [])))
    var = _latest_of_books("var_estimates", as_of, books)
    if greeks.empty and limits.empty and var.empty:
        return None
    stress = stress.sort_values(["book", "pnl", "scenario"], ignore_index=True) if len(stress) else stress
    replay = replay.sort_values(["book", "worst_cum_pnl", "episode"], ignore_index=True) if len(replay) else replay
    reverse = _latest("option_reverse_stress", as_of)
    reverse = reverse.sort_values(["book", "multiplier", "scenario"], na_position="last", ignore_index=True) \
        if len(reverse) else reverse
    book_rows = greeks.loc[greeks["level"].eq("book")].sort_values("book", ignore_index=True) if len(greeks) else greeks
    return OptionsView(greeks=book_rows, limits=limits.sort_values(["book", "date"], kind="stable", ignore_index=True)
                       if len(limits) else limits, var=side_by_side(var), stress=stress,
                       replay=replay, lights=option_lights(_latest_of_books("var_backtests", as_of, books)), reverse=reverse)


def limit_label(row) -> str:
    """A cap or limit's name: ``gamma of the book``, ``vega on SP500``, ``VaR 1d 99%``."""
    if pd.isna(row.horizon_days):
        return f"{row.measure} " + ("of the book" if row.level == "book" else f"on {row.underlying}")
    return f"{'ES' if row.measure == 'es' else 'VaR'} {int(row.horizon_days)}d {row.confidence:.0%}"


def reverse_label(multiplier: float) -> str:
    """A reverse stress multiple as shown: ``x0.42``, or ``not reached within the bracket``."""
    return "not reached within the bracket" if pd.isna(multiplier) else f"x{multiplier:.2f}"


def options_text(view: OptionsView) -> str:
    """The option books as plain text (``risk-pipeline summary``)."""
    lines = []
    for book in view.books:
        greeks = view.greeks.loc[view.greeks["book"].eq(book)]
        if len(greeks):
            row = greeks.iloc[0]
            lines.append(f"Option book {book} at the close of {pd.Timestamp(row['date']).date()} ({row['base_currency']}; "
                         f"Black-Scholes-Merton, implied volatility: {row['vol_source']}"
                         + (f", {proxy_note(row['vol_source'])}" if proxy_note(row["vol_source"]) else "") + "):")
            lines.append("  " + "; ".join(f"{GREEK_LABELS[c]} {signed(row[c])}" for c in GREEK_COLUMNS))
        limits = view.limits.loc[view.limits["book"].eq(book)] if len(view.limits) else view.limits
        if len(limits):
            day = pd.Timestamp(limits["date"].iloc[0]).date()
            lines.append(f"  caps and limits on {day} (|amount| / cap):")
            for row in limits.itertuples():
                event = f", tightened: {row.event}" if isinstance(row.event, str) and row.event else ""
                lines.append(f"    {limit_label(row):<22} {percent(row.utilization, 1):>8} of {amount(row.limit_amount)}"
                             f" [{row.status}]{event}")
        var = view.var.loc[view.var["book"].eq(book)]
        if len(var):
            lines.append(f"  VaR/ES for {pd.Timestamp(var['date'].iloc[0]).date()} of the book held at the close "
                         "before (losses positive, amounts):")
            shown = var.assign(confidence=var["confidence"].map(lambda c: f"{c:.0%}"),
                               horizon_days=var["horizon_days"].map(lambda h: f"{int(h)}d"))
            text = shown.drop(columns=["book", "date"]).to_string(index=False, float_format=lambda x: f"{x:,.0f}")
            lines += ["    " + line for line in text.splitlines()]
        lights = view.lights.loc[view.lights["book"].eq(book)] if len(view.lights) else view.lights
        if len(lights):
            lines.append(f"  backtest as of {pd.Timestamp(lights['as_of'].iloc[0]).date()} (1-day VaR 99% against the "
                         f"hypothetical P&L, last {int(lights['backtest_window_days'].iloc[0])} days; breaches / "
                         "expected, traffic light): " + "; ".join(
                             f"{r.method} {r.n_breaches}/{r.expected_breaches:.1f} {r.traffic_light}"
                             for r in lights.itertuples()))
        stress = view.stress.loc[view.stress["book"].eq(book)] if len(view.stress) else view.stress
        if len(stress):
            lines.append(f"  stress on {pd.Timestamp(stress['date'].iloc[0]).date()} (P&L of the book held at the close "
                         "before, options repriced; worst first): " + "; ".join(
                             f"{r.scenario} {signed(r.pnl)}" + (" (proxied)" if r.proxied else "")
                             for r in stress.itertuples()))
        replay = view.replay.loc[view.replay["book"].eq(book)] if len(view.replay) else view.replay
        if len(replay):
            lines.append("  historical replay (worst cumulative P&L through the episode, its day; worst first): " + "; ".join(
                f"{r.episode} {signed(r.worst_cum_pnl)} on {pd.Timestamp(r.worst_date).date()}"
                for r in replay.itertuples()))
        reverse = view.reverse.loc[view.reverse["book"].eq(book)] if len(view.reverse) else view.reverse
        if len(reverse):
            first = reverse.iloc[0]
            lines.append(f"  reverse stress on {pd.Timestamp(first['date']).date()} (multiple of each scenario's moves "
                         f"at which the repriced book loses {amount(first['target_loss'])} = "
                         f"{first['target_var_multiple']:g} x its 1-day 99% VaR; smallest first): " + "; ".join(
                             f"{r.scenario} {reverse_label(r.multiplier)}" for r in reverse.itertuples()))
    return "\n".join(lines)
