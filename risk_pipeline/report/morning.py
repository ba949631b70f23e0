"""The morning table: one row per book with what a risk committee asks first, and every breach or
warning of the day grouped a line per kind. The report's first page and ``risk-pipeline summary``
both show it, from the same cells (:func:`morning_cells`) and alert lines (:func:`alert_lines`).

Per book (as of a date, each table's latest stored day up to it): the official VaR and ES at 1
and 10 days (``risk_summary``: amount and % of the value held), the change of the 1-day VaR
amount since the previous business day split into positions / market (/ method when a re-choice
moved it; docs/analytics.md), the most used limit and its status (``limit_status``, measured by
historical_positions), the Basel light of the official method (``var_backtests``: 99%, 1 day,
the shortest window), the worst stress scenario (``stress_results``), the desk's FRTB IMES
(``frtb_es``) when stored, and what the book holds at the close (``portfolio_pnl``): gross and net
exposure, the number of positions and the turnover over the last ``TURNOVER_DAYS`` P&L days (the
sum of ``traded_value`` over them divided by the day's value: docs/positions.md). An option book
(``report.options_section.load_options``) has a row of its own figures (:func:`option_book_cells`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from risk_pipeline.risk.backtests.traffic_light import BASEL_CONFIDENCE, BASEL_HORIZON
from risk_pipeline.risk.limits import LIMIT_METHOD
from risk_pipeline.storage.lake import empty_frame, latest_day, read_days, stored_days
from risk_pipeline.storage.schemas import TABLES

if TYPE_CHECKING:
    from risk_pipeline.report.options_section import OptionsView

HEADERS = ("book", "official method", "VaR 1d", "ES 1d", "VaR 10d", "ES 10d", "VaR 1d change", "worst limit",
           "backtest", "worst stress", "FRTB IMES", "exposure")  # fmt: skip
# each header's second line: the units, what the cell's note is
HEADER_NOTES = ("currency", "chosen by", "and %", "and %", "and %", "and %", "positions / market",
                "use, status", "99% 1d", "scenario", "desk", "gross / net")  # fmt: skip
TURNOVER_DAYS = 21  # P&L days (about a month) the turnover of the morning table sums
MISSING = "\u2014"  # an em dash, followed by why the figure is missing
OPTION_METHOD = "full_revaluation"  # the option books' official VaR: the book repriced in each scenario
# the kinds of alert, in the order the alert box shows them: (title of a grouped line of warnings, report section)
ALERT_KINDS = {
    "limit": ("Limits at warning level", "limits"),
    "option_limit": ("Option caps and limits at warning level", "options"),
    "official": ("Official methods in the yellow Basel zone", "backtests"),
    "challenger": ("Challenger methods in the red Basel zone", "backtests"),
    "frtb": ("FRTB", "frtb"),
}
WARNING_LINE_CHARS = 240  # a grouped warning line's length (about a line and a half of the report)
BREACH_TITLES = {"limit": "Limits breached", "option_limit": "Option caps and limits breached",
                 "official": "Official methods in the red Basel zone"}


@dataclass(frozen=True)
class Alert:
    level: str  # breach | warning
    text: str  # the whole sentence (summary.json)
    kind: str = ""  # a key of ALERT_KINDS: warnings of one kind share a line of the alert box
    # (label, item) pairs on that line: what it is about (a book, "backtesting red for"), the figure it names
    parts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AlertLine:
    level: str  # breach | warning
    text: str
    section: str  # the report section (anchor) holding the detail


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
    options: "OptionsView | None" = None  # the option books (report.options_section.load_options)


def _latest(table: str, as_of: dt.date, where: dict | None = None) -> pd.DataFrame:
    """``table``'s rows of its latest stored day up to ``as_of`` (empty when none or not a table)."""
    if table not in TABLES:
        return pd.DataFrame()
    day = latest_day(table, as_of)
    return read_days(table, [day], where=where) if day else empty_frame(table)


def load_morning(as_of: dt.date, read: dict[str, pd.DataFrame] | None = None) -> Morning:
    """The morning table's data as of ``as_of`` (the latest stored day up to it of each table); ``read``:
    tables the caller has read already, by name, each as :func:`_latest` gives it (var_backtests: its
    rows of horizon 1)."""
    from risk_pipeline.report.options_section import load_options  # it formats with this module's helpers

    def latest(table: str, where: dict | None = None) -> pd.DataFrame:
        return read[table] if read is not None and table in read else _latest(table, as_of, where)

    books = latest("risk_summary").sort_values("portfolio", ignore_index=True)
    limits = latest("limit_status")
    backtests = latest("var_backtests", where={"horizon_days": BASEL_HORIZON})
    lights = backtests.loc[backtests["confidence"].round(10).eq(BASEL_CONFIDENCE)] if len(backtests) else backtests
    stress = latest("stress_results")
    frtb = latest("frtb_es")
    frtb = frtb.loc[frtb["risk_class"].eq("all")] if len(frtb) else frtb
    capital = latest("frtb_capital")
    days = [d for d in stored_days("portfolio_pnl") if d <= as_of][-TURNOVER_DAYS:]
    holdings = read_days("portfolio_pnl", days, columns=["portfolio", "value", "gross_exposure", "n_positions",
                                                         "traded_value"])
    morning = Morning(as_of, books, limits, lights, stress, frtb, capital, (), holdings, load_options(as_of))
    return Morning(**{**morning.__dict__, "alerts": tuple(_alerts(morning))})


def amount(value: object) -> str:
    return MISSING if value is None or pd.isna(value) else f"{float(value):,.0f}"


def signed(value: object) -> str:
    return MISSING if value is None or pd.isna(value) else f"{float(value):+,.0f}"


def percent(value: object, digits: int = 2) -> str:
    return MISSING if value is None or pd.isna(value) else f"{float(value) * 100:.{digits}f}%"


def _limit_label(row) -> str:
    return f"{row.measure.upper() if row.measure == 'es' else 'VaR'} {int(row.horizon_days)}d"


def _option_limit_label(row) -> str:
    """An option book's cap or limit, short: ``gamma``, ``vega on SP500``, ``ES 1d``."""
    if pd.isna(row.horizon_days):
        return str(row.measure) + ("" if row.level == "book" else f" on {row.underlying}")
    return _limit_label(row)


def _breaches(n: object) -> str:
    return f"{int(n)} breach" + ("" if int(n) == 1 else "es")


def _official_light(morning: Morning, portfolio: str, method: str) -> pd.Series | None:
    rows = morning.lights
    if rows.empty:
        return None
    shortest = rows["backtest_window_days"].min()
    mine = rows.loc[rows["portfolio"].eq(portfolio) & rows["method"].eq(method) & rows["backtest_window_days"].eq(shortest)]
    return mine.iloc[0] if len(mine) else None


def _limit_alerts(rows: pd.DataFrame, book_column: str, label, kind: str) -> list[Alert]:
    out = []
    for row in rows.itertuples():
        if row.status in ("danger", "warning"):
            book, name = getattr(row, book_column), label(row)
            ccy = getattr(row, "base_currency", "")
            figures = f"{amount(abs(row.measured_amount))} of {amount(row.limit_amount)}{' ' + ccy if ccy else ''}"
            used = f"{name} {percent(row.utilization, 1)}"
            danger = row.status == "danger"
            out.append(Alert("breach" if danger else "warning",
                             f"{book}: {name} limit at {percent(row.utilization, 1)} ({figures}, "
                             f"{'above the limit' if danger else 'warning level'})",
                             kind, ((book, used),)))
    return out


def _alerts(morning: Morning) -> list[Alert]:
    """Every breach and warning of the day: limits and option caps in danger (breach) or warning, official
    methods in the Basel red (breach) or yellow zone (an option book's: full revaluation), challenger methods
    in the red zone, FRTB desks in the amber or red zone or not eligible (warnings)."""
    limits = morning.limits.sort_values(["portfolio", "measure", "horizon_days"]) if len(morning.limits) else morning.limits
    out = _limit_alerts(limits, "portfolio", _limit_label, "limit")
    options = morning.options
    if options is not None and len(options.limits):
        out += _limit_alerts(options.limits, "book", _option_limit_label, "option_limit")
    official = dict(zip(morning.books.get("portfolio", []), morning.books.get("method", [])))
    official.update((book, OPTION_METHOD) for book in (options.books if options is not None else []))  # in var_backtests too
    if len(morning.lights):
        shortest = morning.lights["backtest_window_days"].min()
        basel = morning.lights.loc[morning.lights["backtest_window_days"].eq(shortest)].sort_values(["portfolio", "method"])
        for portfolio, rows in basel.groupby("portfolio", sort=True):
            mine = rows.loc[rows["method"].eq(official.get(portfolio))]
            out += [_official_alert(portfolio, row) for row in mine.itertuples() if row.traffic_light in ("yellow", "red")]
            red = rows.loc[rows["traffic_light"].eq("red") & rows["method"].ne(official.get(portfolio))]
            if len(red):
                out.append(Alert("warning", f"{portfolio}: challenger method(s) in the red Basel zone (breaches at 99% "
                                            f"in {int(red['n_obs'].max())} days): "
                                 + ", ".join(f"{m} {int(n)}" for m, n in zip(red["method"], red["n_breaches"])),
                                 "challenger", (("", portfolio),)))
    if len(morning.frtb):
        desks = _latest("frtb_desks", morning.as_of)
        for row in desks.sort_values("portfolio").itertuples() if len(desks) else ():
            not_eligible = pd.notna(row.eligible) and not bool(row.eligible)
            if row.backtest_zone in ("amber", "red") or row.pla_zone in ("amber", "red") or not_eligible:
                pla = f", P&L attribution zone {row.pla_zone}" if isinstance(row.pla_zone, str) else ""
                parts = [(label.format(zone), row.portfolio) for zone, label in
                         ((row.backtest_zone, "backtesting {} for"), (row.pla_zone, "PLA {} for")) if zone in ("amber", "red")]
                out.append(Alert("warning", f"{row.portfolio}: FRTB backtesting zone {row.backtest_zone}{pla}"
                                 + (", not eligible for the internal models approach" if not_eligible else ""),
                                 "frtb", tuple(parts + [("not eligible:", row.portfolio)] * not_eligible)))
    return sorted(out, key=lambda a: a.level != "breach")


def _official_alert(book: str, row) -> Alert:
    level = "breach" if row.traffic_light == "red" else "warning"
    return Alert(level, f"{book}: official method {row.method} in the {row.traffic_light} Basel zone "
                        f"({_breaches(row.n_breaches)} at 99% in {int(row.n_obs)} days)",
                 "official", ((book, f"{row.method} ({_breaches(row.n_breaches)} in {int(row.n_obs)} days)"),))


def alert_lines(alerts: tuple[Alert, ...]) -> list[AlertLine]:
    """The alert box, a line per kind (ALERT_KINDS' order): first the breaches (each named with its figure:
    "Breaches of Limits: book_a VaR 1d 105.0%"), then the warnings ("Limits at warning level: eur_ust10y
    ES 1d 81.8%, ES 3d 80.2%; long_short ES 1d 80.3%"); the challenger methods in the red zone as a count of
    books (the grid of the Backtests section names them)."""
    lines = []
    for level in ("breach", "warning"):
        for kind, (title, section) in ALERT_KINDS.items():
            mine = [a for a in alerts if a.level == level and a.kind == kind]
            if not mine:
                continue
            if level == "breach":
                title = BREACH_TITLES[kind]
            if kind == "challenger":
                books = sorted({item for a in mine for _, item in a.parts})
                lines.append(AlertLine(level, f"{title}: {len(books)} book{'' if len(books) == 1 else 's'}", section))
                continue
            groups: dict[str, list[str]] = {}
            for label, item in sorted((p for a in mine for p in a.parts), key=lambda p: p[0].startswith("not")):
                groups.setdefault(label, []).append(item)
            lines.append(AlertLine(level, _grouped(title, list(groups.items()), level == "warning"), section))
    return lines


def _grouped(title: str, groups: list[tuple[str, list[str]]], shorten: bool) -> str:
    """``title: label items, ...; label items``; a warning line cut at WARNING_LINE_CHARS with the number of
    its items left out (a breach line names every breach)."""
    text, shown = f"{title}: ", 0
    for label, items in groups:
        part = f"{label} {', '.join(items)}"
        if shorten and shown and len(text) + len(part) > WARNING_LINE_CHARS:
            left = sum(len(i) for _, i in groups[shown:])
            return f"{text[:-2]}; and {left} more"
        text, shown = f"{text}{part}; ", shown + 1
    return text[:-2]


@dataclass(frozen=True)
class Cell:
    text: str
    note: str = ""  # a second, smaller line (why missing, the scenario, the split)
    status: str = ""  # a colour: green, yellow, red, warning, danger, within_limits

    def __str__(self) -> str:
        return f"{self.text} {self.note}" if self.note else self.text


def _figure(row: pd.Series, name: str, horizon_missing: str) -> Cell:
    if pd.isna(row[name]):
        return Cell(MISSING, horizon_missing)
    return Cell(amount(row[f"{name}_amount"]), percent(row[name]))


def _method_cell(row: pd.Series) -> Cell:
    chosen = row["method_chosen_as_of"]
    note = {"fixed": "fixed", "fallback": "fallback",
            "recommended": f"MCS {pd.Timestamp(chosen):%Y-%m-%d}" if pd.notna(chosen) else "recommended"}[row["method_rule"]]
    return Cell(str(row["method"]), note)


def _worst_limit(rows: pd.DataFrame, label) -> Cell:
    """The limit (or cap) used most, with its status as the note and the colour."""
    rows = rows.dropna(subset=["utilization"])
    if rows.empty:
        return Cell(MISSING, "no limit configured")
    worst = rows.loc[rows["utilization"].idxmax()]
    status = str(worst["status"])
    return Cell(f"{label(worst)} {percent(worst['utilization'], 1)}", status.removesuffix("_limits"), status)


def _limit_cell(morning: Morning, portfolio: str) -> Cell:
    if morning.limits.empty:
        return Cell(MISSING, "limit_status not stored")
    return _worst_limit(morning.limits.loc[morning.limits["portfolio"].eq(portfolio)], _limit_label)


def _light_cell(light) -> Cell:
    if light is None:
        return Cell(MISSING, "no backtest")
    return Cell(str(light["traffic_light"]), f"{int(light['n_breaches'])}/{int(light['n_obs'])}",
                str(light["traffic_light"]))


def _worst_stress(rows: pd.DataFrame) -> Cell:
    rows = rows.dropna(subset=["pnl"]) if len(rows) else rows
    if rows.empty:
        return Cell(MISSING, "stress not stored")
    worst = rows.loc[rows["pnl"].idxmin()]
    return Cell(signed(worst["pnl"]), str(worst["scenario"]))


def _stress_cell(morning: Morning, portfolio: str) -> Cell:
    rows = morning.stress.loc[morning.stress["portfolio"].eq(portfolio)] if len(morning.stress) else morning.stress
    return _worst_stress(rows)


def _frtb_cell(morning: Morning, portfolio: str) -> Cell:
    rows = morning.frtb.loc[morning.frtb["portfolio"].eq(portfolio)] if len(morning.frtb) else morning.frtb
    if rows.empty:
        return Cell(MISSING, "not a desk" if len(morning.frtb) else "FRTB not stored")
    imes = rows["imes"].iloc[0]
    return Cell(amount(imes)) if pd.notna(imes) else Cell(MISSING, "no stressed window yet")


def _holdings_cell(morning: Morning, portfolio: str) -> Cell:
    rows = morning.holdings
    rows = rows.loc[rows["portfolio"].eq(portfolio)].sort_values("date") if rows is not None and len(rows) else None
    if rows is None or rows.empty:
        return Cell(MISSING, "portfolio_pnl not stored")
    last = rows.iloc[-1]
    turnover = rows["traded_value"].sum() / last["value"] if last["value"] > 0 else None
    count = int(last["n_positions"])
    return Cell(f"{amount(last['gross_exposure'])} / {amount(last['value'])}",
                f"{count} pos., {percent(turnover, 1)} traded")


def _book_cells(morning: Morning, row: pd.Series) -> list[Cell]:
    portfolio = row["portfolio"]
    change = Cell(signed(row["var_1d_amount_change"]), " / ".join(
        signed(row[c]) for c in ("var_1d_change_positions", "var_1d_change_market"))
        + (f" / method {signed(row['var_1d_change_method'])}" if row["var_1d_change_method"] else "")
        if pd.notna(row["var_1d_amount_change"]) else "first day of the book")
    no_ten = "no 10d"
    return [Cell(portfolio, str(row["base_currency"])), _method_cell(row),
            _figure(row, "var_1d", ""), _figure(row, "es_1d", ""),
            _figure(row, "var_10d", no_ten), _figure(row, "es_10d", no_ten), change,
            _limit_cell(morning, portfolio), _light_cell(_official_light(morning, portfolio, row["method"])),
            _stress_cell(morning, portfolio), _frtb_cell(morning, portfolio), _holdings_cell(morning, portfolio)]


def option_book_cells(view: "OptionsView", book: str) -> list[Cell]:
    """An option book's row, from its own tables (``load_options``): the full-revaluation VaR and ES (no % of
    value: a short option book's value is the premium it owes), its most used Greek cap or VaR/ES limit, the
    traffic light of the full-revaluation VaR, its worst repriced stress loss, its value and net delta."""
    def pick(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[frame["book"].eq(book)] if len(frame) else frame

    var, greeks = pick(view.var), pick(view.greeks)
    value = greeks["position_value"].iloc[0] if len(greeks) else None
    ccy = str(greeks["base_currency"].iloc[0]) if len(greeks) else ""
    horizons = len(var) > 0

    def figure(measure: str, horizon: int) -> Cell:
        hit = var.loc[var["confidence"].round(10).eq(BASEL_CONFIDENCE) & var["horizon_days"].eq(horizon)
                      & var["measure"].eq(measure)] if len(var) else var
        if hit.empty:
            return Cell(MISSING, f"no {horizon}d" if horizons else "not stored")
        return Cell(amount(hit[OPTION_METHOD].iloc[0]), "no %" if value is not None and value <= 0
                    else percent(hit[OPTION_METHOD].iloc[0] / value) if value else "")

    lights = pick(view.lights)
    lights = lights.loc[lights["method"].eq(OPTION_METHOD)] if len(lights) else lights
    limits = pick(view.limits)
    return [Cell(book, f"{ccy} options"), Cell(OPTION_METHOD, "option book"),
            figure("var", 1), figure("es", 1), figure("var", 10), figure("es", 10),
            Cell(MISSING, "not split"),
            _worst_limit(limits, _option_limit_label) if len(limits) else Cell(MISSING, "no cap configured"),
            _light_cell(lights.iloc[0] if len(lights) else None), _worst_stress(pick(view.stress)),
            Cell(MISSING, "not a desk"),
            Cell(f"value {amount(value)}", f"delta {signed(greeks['delta_amount'].iloc[0])}") if len(greeks)
            else Cell(MISSING, "option_greeks not stored")]


def morning_cells(morning: Morning) -> list[list[Cell]]:
    """A row per book, a cell per column of ``HEADERS``: the books of risk_summary, then the option books
    (those risk_summary does not hold)."""
    rows = [_book_cells(morning, row) for _, row in morning.books.iterrows()]
    if morning.options is not None:
        linear = set(morning.books.get("portfolio", []))
        rows += [option_book_cells(morning.options, book) for book in morning.options.books if book not in linear]
    return rows


def intro(morning: Morning) -> str:
    """The sentence above the table: what the figures are."""
    if morning.books.empty:
        return f"No risk_summary row on or before {morning.as_of}: materialize risk_summary for that date."
    day = pd.Timestamp(morning.books["date"].iloc[0]).date()
    confidence = float(morning.books["confidence"].iloc[0])
    return (f"Official VaR and ES at {confidence:.0%} on {day}: amount in the book's currency \u00b7 % of the value "
            f"held (losses positive); limits measured by {LIMIT_METHOD}, not by the official method.")


def _text_lines(cells: list[Cell], widths: list[int]) -> list[str]:
    return ["  ".join(f"{getattr(c, part):<{w}}" for c, w in zip(cells, widths)).rstrip() for part in ("text", "note")]


def text_table(morning: Morning) -> str:
    """The morning table as plain text (``risk-pipeline summary``): the alert lines, then a row per book
    (its figures, then a line of notes), the same cells as the report's first page."""
    lines = [f"{line.level.upper()}: {line.text} (report: {line.section})" for line in alert_lines(morning.alerts)]
    lines = lines or ["No breach and no warning."]
    lines += ["", intro(morning)]
    rows = morning_cells(morning)
    heads = [Cell(h, n) for h, n in zip(HEADERS, HEADER_NOTES)]
    widths = [max(len(c.text), len(c.note)) for c in heads]
    for cells in rows:
        widths = [max(w, len(c.text), len(c.note)) for w, c in zip(widths, cells)]
    lines += _text_lines(heads, widths) + ["  ".join("-" * w for w in widths)]
    for cells in rows:
        lines += _text_lines(cells, widths)
    capital = capital_sentence(morning)
    if capital:
        lines += [capital]
    return "\n".join(lines)


def book_text(morning: Morning, book: str) -> str | None:
    """One book's row of the morning table, a line per column, and the day's alerts about it
    (``risk-pipeline summary --book``); None when the table has no such book."""
    rows = [cells for cells in morning_cells(morning) if cells[0].text == book]
    if not rows:
        return None
    lines = [f"{head} ({note}): {cell}" for head, note, cell in zip(HEADERS, HEADER_NOTES, rows[0])]
    mine = [a for a in morning.alerts if a.text.startswith(f"{book}: ")]
    return "\n".join(lines + [f"{a.level.upper()}: {a.text}" for a in mine])


def morning_markdown(morning: Morning) -> str:
    """The morning table as markdown (the risk_report asset's metadata in the Dagster UI): a row per
    book, the cells' figures and notes, then the day's breaches and warnings."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
    for cells in morning_cells(morning):
        lines.append("| " + " | ".join(str(c) for c in cells).replace("\n", " ") + " |")
    lines.append("")
    lines += [f"- **{line.level}**: {line.text}" for line in alert_lines(morning.alerts)] or ["No breach and no warning."]
    return "\n".join(lines)


def capital_sentence(morning: Morning) -> str:
    if morning.capital.empty or morning.capital["capital_charge"].isna().all():
        return ""
    row = morning.capital.iloc[-1]
    return (f"FRTB capital of the bank: C_A {amount(row['capital_charge'])} {row['base_currency']} "
            f"(binding: {row['binding']}; multiplier {float(row['capital_multiplier']):.2f}).")


__all__ = ["Alert", "Cell", "HEADERS", "Morning", "intro", "load_morning", "morning_cells", "text_table"]
