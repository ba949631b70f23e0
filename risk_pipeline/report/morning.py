"""The morning table: one row per book with what a risk committee asks first, and every breach or
warning of the day. The report's first page and ``risk-pipeline summary`` both show it, from
the same cells (:func:`morning_cells`), so they show the same figures.

Per book (as of a date, each table's latest stored day up to it): the official VaR and ES at 1
and 10 days (``risk_summary``: amount and % of the value held), the change of the 1-day VaR
amount since the previous business day split into positions / market / method
(docs/analytics.md), the utilisation of each limit (``limit_status``, measured by
historical_positions), the Basel light of the official method (``var_backtests``: 99%, 1 day,
the shortest window), the worst stress scenario (``stress_results``), the desk's FRTB IMES
(``frtb_es``) when stored, and what the book holds at the close (``portfolio_pnl``): gross and net
exposure, the number of positions and the turnover over the last ``TURNOVER_DAYS`` P&L days (the
sum of ``traded_value`` over them divided by the day's value: docs/positions.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from risk_pipeline.risk.backtests.traffic_light import BASEL_CONFIDENCE, BASEL_HORIZON
from risk_pipeline.risk.limits import LIMIT_METHOD
from risk_pipeline.storage.lake import empty_frame, read_days, stored_days
from risk_pipeline.storage.schemas import TABLES

HEADERS = ("book", "official method", "VaR 1 day, % of value", "ES 1 day, % of value", "VaR 10 days, % of value",
           "ES 10 days, % of value",
           "VaR 1 day change (positions / market / method)", "limits used", "backtest light", "worst stress",
           "FRTB IMES", "exposure gross / net (positions, turnover)")  # fmt: skip
TURNOVER_DAYS = 21  # P&L days (about a month) the turnover of the morning table sums
MISSING = "\u2014"  # an em dash, followed by why the figure is missing


@dataclass(frozen=True)
class Alert:
    level: str  # breach | warning
    text: str


@dataclass(frozen=True)
class Morning:
    as_of: dt.date
    books: pd.DataFrame  # risk_summary rows of the day
    limits: pd.DataFrame  # limit_status rows of the day
    lights: pd.DataFrame  # var_backtests rows (99%, 1 day) of the day
    stress: pd.DataFrame  # stress_results rows of the day
    frtb: pd.DataFrame  # frtb_es rows (risk_class all) of the day
    capital: pd.DataFrame  # frtb_capital rows of the day
    alerts: tuple[Alert, ...]
    holdings: pd.DataFrame | None = None  # portfolio_pnl rows of the last TURNOVER_DAYS stored days


def _latest(table: str, as_of: dt.date, where: dict | None = None) -> pd.DataFrame:
    """``table``'s rows of its latest stored day up to ``as_of`` (empty when none or not a table)."""
    if table not in TABLES:
        return pd.DataFrame()
    days = [d for d in stored_days(table) if d <= as_of]
    return read_days(table, days[-1:], where=where) if days else empty_frame(table)


def load_morning(as_of: dt.date) -> Morning:
    """The morning table's data as of ``as_of`` (the latest stored day up to it of each table)."""
    books = _latest("risk_summary", as_of).sort_values("portfolio", ignore_index=True)
    limits = _latest("limit_status", as_of)
    backtests = _latest("var_backtests", as_of, where={"horizon_days": BASEL_HORIZON})
    lights = backtests.loc[backtests["confidence"].round(10).eq(BASEL_CONFIDENCE)] if len(backtests) else backtests
    stress = _latest("stress_results", as_of)
    frtb = _latest("frtb_es", as_of)
    frtb = frtb.loc[frtb["risk_class"].eq("all")] if len(frtb) else frtb
    capital = _latest("frtb_capital", as_of)
    days = [d for d in stored_days("portfolio_pnl") if d <= as_of][-TURNOVER_DAYS:]
    holdings = read_days("portfolio_pnl", days, columns=["portfolio", "value", "gross_exposure", "n_positions",
                                                         "traded_value"])
    morning = Morning(as_of, books, limits, lights, stress, frtb, capital, (), holdings)
    return Morning(**{**morning.__dict__, "alerts": tuple(_alerts(morning))})


def amount(value: object) -> str:
    return MISSING if value is None or pd.isna(value) else f"{float(value):,.0f}"


def signed(value: object) -> str:
    return MISSING if value is None or pd.isna(value) else f"{float(value):+,.0f}"


def percent(value: object, digits: int = 2) -> str:
    return MISSING if value is None or pd.isna(value) else f"{float(value) * 100:.{digits}f}%"


def _limit_label(row) -> str:
    return f"{row.measure.upper() if row.measure == 'es' else 'VaR'} {int(row.horizon_days)}d"


def _breaches(n: object) -> str:
    return f"{int(n)} breach" + ("" if int(n) == 1 else "es")


def _official_light(morning: Morning, portfolio: str, method: str) -> pd.Series | None:
    rows = morning.lights
    if rows.empty:
        return None
    shortest = rows["backtest_window_days"].min()
    mine = rows.loc[rows["portfolio"].eq(portfolio) & rows["method"].eq(method) & rows["backtest_window_days"].eq(shortest)]
    return mine.iloc[0] if len(mine) else None


def _alerts(morning: Morning) -> list[Alert]:
    """Every breach and warning of the day: limits in danger (breach) or warning, official methods
    in the Basel red (breach) or yellow zone, challenger methods in the red zone, FRTB desks in the
    amber or red zone or not eligible (warnings)."""
    out = []
    for row in morning.limits.sort_values(["portfolio", "measure", "horizon_days"]).itertuples() if len(morning.limits) else ():
        if row.status in ("danger", "warning"):
            out.append(Alert("breach" if row.status == "danger" else "warning",
                             f"{row.portfolio}: {_limit_label(row)} limit at {percent(row.utilization, 1)} "
                             f"({amount(row.measured_amount)} of {amount(row.limit_amount)} {row.base_currency}, "
                             f"{'above the limit' if row.status == 'danger' else 'warning level'}; {LIMIT_METHOD})"))
    official = dict(zip(morning.books.get("portfolio", []), morning.books.get("method", [])))
    if len(morning.lights):
        shortest = morning.lights["backtest_window_days"].min()
        basel = morning.lights.loc[morning.lights["backtest_window_days"].eq(shortest)].sort_values(["portfolio", "method"])
        for portfolio, rows in basel.groupby("portfolio", sort=True):
            mine = rows.loc[rows["method"].eq(official.get(portfolio))]
            for row in mine.loc[mine["traffic_light"].isin(["yellow", "red"])].itertuples():
                out.append(Alert("breach" if row.traffic_light == "red" else "warning",
                                 f"{portfolio}: official method {row.method} in the {row.traffic_light} Basel zone "
                                 f"({_breaches(row.n_breaches)} at 99% in {int(row.n_obs)} days)"))
            red = rows.loc[rows["traffic_light"].eq("red") & rows["method"].ne(official.get(portfolio))]
            if len(red):
                out.append(Alert("warning", f"{portfolio}: challenger method(s) in the red Basel zone (breaches at 99% "
                                            f"in {int(red['n_obs'].max())} days): "
                                 + ", ".join(f"{m} {int(n)}" for m, n in zip(red["method"], red["n_breaches"]))))
    if len(morning.frtb):
        desks = _latest("frtb_desks", morning.as_of)
        for row in desks.sort_values("portfolio").itertuples() if len(desks) else ():
            not_eligible = pd.notna(row.eligible) and not bool(row.eligible)
            if row.backtest_zone in ("amber", "red") or row.pla_zone in ("amber", "red") or not_eligible:
                pla = f", P&L attribution zone {row.pla_zone}" if isinstance(row.pla_zone, str) else ""
                out.append(Alert("warning", f"{row.portfolio}: FRTB backtesting zone {row.backtest_zone}{pla}"
                                 + (", not eligible for the internal models approach" if not_eligible else "")))
    return sorted(out, key=lambda a: a.level != "breach")


@dataclass(frozen=True)
class Cell:
    text: str
    note: str = ""  # a second, smaller line (% of value, why missing)
    status: str = ""  # a colour: green, yellow, red, warning, danger, within_limits


def _figure(row: pd.Series, name: str, horizon_missing: str) -> Cell:
    if pd.isna(row[name]):
        return Cell(MISSING, horizon_missing)
    return Cell(amount(row[f"{name}_amount"]), percent(row[name]))


def _method_cell(row: pd.Series) -> Cell:
    note = {"fixed": "fixed in pipeline.yaml", "fallback": "fallback: no Model Confidence Set before this month",
            "recommended": f"recommended, chosen from the set of {pd.Timestamp(row['method_chosen_as_of']):%Y-%m-%d}"
            if pd.notna(row["method_chosen_as_of"]) else "recommended"}[row["method_rule"]]
    return Cell(str(row["method"]), note)


def _limit_cells(morning: Morning, portfolio: str) -> list[Cell]:
    rows = morning.limits.loc[morning.limits["portfolio"].eq(portfolio)] if len(morning.limits) else morning.limits
    if rows.empty:
        return [Cell(MISSING, "no limit configured" if len(morning.limits) else "limit_status not stored")]
    return [Cell(f"{_limit_label(r)} {percent(r.utilization, 1) if pd.notna(r.utilization) else MISSING}",
                 status=str(r.status)) for r in rows.sort_values(["horizon_days", "measure"], ascending=[True, False]).itertuples()]


def _stress_cell(morning: Morning, portfolio: str) -> Cell:
    rows = morning.stress.loc[morning.stress["portfolio"].eq(portfolio)] if len(morning.stress) else morning.stress
    rows = rows.dropna(subset=["pnl"]) if len(rows) else rows
    if rows.empty:
        return Cell(MISSING, "stress not stored")
    worst = rows.loc[rows["pnl"].idxmin()]
    return Cell(signed(worst["pnl"]), f"{worst['scenario']} ({percent(worst['simple_return'], 1)})")


def _frtb_cell(morning: Morning, portfolio: str) -> Cell:
    rows = morning.frtb.loc[morning.frtb["portfolio"].eq(portfolio)] if len(morning.frtb) else morning.frtb
    if rows.empty:
        return Cell(MISSING, "not a configured desk" if len(morning.frtb) else "FRTB not stored")
    imes = rows["imes"].iloc[0]
    return Cell(amount(imes), f"{rows['base_currency'].iloc[0]}" if pd.notna(imes) else "no stressed window yet")


def _holdings_cell(morning: Morning, portfolio: str) -> Cell:
    rows = morning.holdings
    rows = rows.loc[rows["portfolio"].eq(portfolio)].sort_values("date") if rows is not None and len(rows) else None
    if rows is None or rows.empty:
        return Cell(MISSING, "portfolio_pnl not stored")
    last = rows.iloc[-1]
    turnover = rows["traded_value"].sum() / last["value"] if last["value"] > 0 else None
    count = int(last["n_positions"])
    return Cell(f"{amount(last['gross_exposure'])} / {amount(last['value'])}",
                f"{count} position{'' if count == 1 else 's'}, turnover {percent(turnover, 1)} in {len(rows)} days")


def morning_cells(morning: Morning) -> list[list[list[Cell]]]:
    """Per book, per column of ``HEADERS``, its cells (a list: the limits column holds one per limit)."""
    out = []
    for _, row in morning.books.iterrows():
        portfolio = row["portfolio"]
        light = _official_light(morning, portfolio, row["method"])
        light_cell = Cell(MISSING, "no 99% 1-day backtest") if light is None else Cell(
            str(light["traffic_light"]), f"{_breaches(light['n_breaches'])} in {int(light['n_obs'])} days",
            str(light["traffic_light"]))
        change = Cell(signed(row["var_1d_amount_change"]), " / ".join(
            signed(row[c]) for c in ("var_1d_change_positions", "var_1d_change_market", "var_1d_change_method"))
            if pd.notna(row["var_1d_amount_change"]) else "first day of the book")
        no_ten = "no 10-day horizon in var.horizons"
        out.append([
            [Cell(portfolio, str(row["base_currency"]))], [_method_cell(row)],
            [_figure(row, "var_1d", "")], [_figure(row, "es_1d", "")],
            [_figure(row, "var_10d", no_ten)], [_figure(row, "es_10d", no_ten)], [change],
            _limit_cells(morning, portfolio), [light_cell], [_stress_cell(morning, portfolio)],
            [_frtb_cell(morning, portfolio)], [_holdings_cell(morning, portfolio)],
        ])
    return out


def intro(morning: Morning) -> str:
    """The sentence above the table: what the figures are."""
    if morning.books.empty:
        return f"No risk_summary row on or before {morning.as_of}: materialize risk_summary for that date."
    day = pd.Timestamp(morning.books["date"].iloc[0]).date()
    confidence = float(morning.books["confidence"].iloc[0])
    return (f"Official VaR and ES at {confidence:.0%} on {day} (risk_summary; losses positive, amounts in each book's "
            f"currency, % of the value held); limits are measured by {LIMIT_METHOD} (historical simulation of the "
            "positions held), not by the official method (docs/analytics.md).")


def text_table(morning: Morning) -> str:
    """The morning table as plain text (``risk-pipeline summary``): one block per book, a line per
    column, the same cells as the report's first page."""
    lines = [intro(morning)]
    if morning.alerts:
        lines += [f"  {a.level.upper()}: {a.text}" for a in morning.alerts]
    else:
        lines.append("  No breach and no warning.")
    for cells in morning_cells(morning):
        lines.append("")
        for header, column in zip(HEADERS, cells):
            values = "; ".join(" ".join(p for p in (c.text, f"({c.note})" if c.note else "",
                                                    f"[{c.status}]" if c.status and header == "limits used" else "") if p)
                               for c in column)
            lines.append(f"  {header:<48} {values}")
    capital = capital_sentence(morning)
    if capital:
        lines += ["", capital]
    return "\n".join(lines)


def morning_markdown(morning: Morning) -> str:
    """The morning table as markdown (the risk_report asset's metadata in the Dagster UI): a row per
    book, the cells' figures (notes in parentheses), then the day's breaches and warnings."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
    for cells in morning_cells(morning):
        lines.append("| " + " | ".join("; ".join(f"{c.text} ({c.note})" if c.note else c.text for c in column)
                                       for column in cells).replace("\n", " ") + " |")
    lines.append("")
    lines += [f"- **{a.level}**: {a.text}" for a in morning.alerts] or ["No breach and no warning."]
    return "\n".join(lines)


def capital_sentence(morning: Morning) -> str:
    if morning.capital.empty or morning.capital["capital_charge"].isna().all():
        return ""
    row = morning.capital.iloc[-1]
    return (f"FRTB capital of the bank: C_A {amount(row['capital_charge'])} {row['base_currency']} "
            f"(binding: {row['binding']}; multiplier {float(row['capital_multiplier']):.2f}).")


__all__ = ["Alert", "Cell", "HEADERS", "Morning", "intro", "load_morning", "morning_cells", "text_table"]
