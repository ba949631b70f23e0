"""The risk report as one self-contained HTML page: inline CSS, charts as base64 PNG data
URIs, no script, font or stylesheet from anywhere else (it opens offline)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from risk_pipeline.report.frtb_section import SCOPE_NOTE, latest_desks, latest_es
from risk_pipeline.report.morning import (
    HEADER_NOTES,
    HEADERS,
    MISSING,
    Cell,
    Morning,
    alert_lines,
    capital_sentence,
    intro,
    morning_cells,
)
from risk_pipeline.report.options_section import (GREEK_COLUMNS, GREEK_LABELS, METHODS, limit_label, proxy_note,
                                                  reverse_label)
from risk_pipeline.report.summary import ReportData
from risk_pipeline.risk.limits import LIMIT_METHOD_TEXT

SIGNIFICANCE = 0.05
# (p-value column, header) of every test in the backtest table
TEST_COLUMNS = [
    ("kupiec_p", "Kupiec POF"), ("christoffersen_p", "Christoffersen ind."), ("cc_p", "Cond. coverage"),
    ("tuff_p", "Kupiec TUFF"), ("duration_p", "Duration (Weibull)"), ("dq_p", "Dynamic quantile"),
    ("z2_p", "Acerbi-Szekely Z2"), ("mcneil_frey_p", "McNeil-Frey"),
]  # fmt: skip

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:8px auto;max-width:1340px;color:#222;
line-height:1.35;padding:0 16px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:20px;border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
h3{font-size:16px;margin-top:22px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:12.5px}
th,td{border:1px solid #d8d8d8;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;text-align:center;white-space:normal}td.text{text-align:left}
td.pass{background:#e3f4e6}td.fail{background:#fbe0e0;font-weight:600}td.na{color:#999}
td.green{background:#2e9d4a;color:#fff}td.yellow{background:#e0b000}td.red{background:#d62728;color:#fff}
td.insufficient_data{color:#777}tr.recommended td{font-weight:700}
table.morning{width:100%;font-size:12.5px;margin:4px 0;line-height:1.2}table.morning td{vertical-align:top;padding:1px 5px;white-space:normal}table.morning .sub{font-size:10.5px}
table.morning th{padding:2px 4px}
.sub{font-size:11px;color:#555;font-weight:400}td.green .sub,td.red .sub{color:#eee}
.box{background:#f7f7f9;border:1px solid #e2e2e8;padding:6px 12px;margin:8px 0;font-size:13px}.box ul{margin:2px 0;padding-left:20px}
.alert{background:#fde8e8;border-color:#e8a0a0}.warn{background:#fff6da;border-color:#e8cf80}
.ok{background:#e9f6ec;border-color:#a6d8b2}
.note{font-size:13px;color:#444}.lead{font-size:14px}img{max-width:100%}.scroll{overflow-x:auto}
nav.toc{background:#f7f7f9;border:1px solid #e2e2e8;padding:6px 12px;font-size:14px}nav.toc ol{margin:4px 0;columns:2}
details{margin:2px 0}summary{cursor:pointer;padding:3px 0}summary h3{display:inline;font-size:15px}
summary .sub{font-size:12.5px}caption{text-align:left}td.bars{width:360px}.bar{display:block;height:12px;min-width:1px}.bar.green{background:#2e9d4a}.bar.red{background:#d62728}
"""


def _esc(value: object) -> str:
    return html.escape(str(value))


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT


def pct(value: object, digits: int = 2) -> str:
    return MISSING if _is_missing(value) else f"{float(value) * 100:.{digits}f}%"


def num(value: object, digits: int = 3) -> str:
    if _is_missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):,.{digits}f}"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


def amount(value: object) -> str:
    return MISSING if _is_missing(value) else f"{float(value):,.0f}"


def _day(value: object) -> str:
    """A date as YYYY-MM-DD (a dash when missing)."""
    return MISSING if _is_missing(value) else pd.Timestamp(value).date().isoformat()


def _confidence(value: object) -> str:
    return MISSING if _is_missing(value) else f"{float(value) * 100:g}%"


Column = tuple[str, str, Callable[[object], str]]


def table(frame: pd.DataFrame, columns: Sequence[Column], cell_class: Callable[[str, object], str] | None = None,
          row_class: Callable[[pd.Series], str] | None = None) -> str:
    """An HTML table of ``frame`` with (column, header, formatter) columns."""
    head = "".join(f"<th>{_esc(header)}</th>" for _, header, _ in columns)
    body = []
    for row in frame.to_dict("records"):
        cells = []
        for col, _, fmt in columns:
            value = row[col]
            css = cell_class(col, value) if cell_class else ""
            if not css and isinstance(value, str):
                css = "text"
            cells.append(f'<td class="{css}">{_esc(fmt(value))}</td>' if css else f"<td>{_esc(fmt(value))}</td>")
        css = row_class(row) if row_class else ""
        body.append(f'<tr class="{css}">' + "".join(cells) + "</tr>" if css else "<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _test_class(col: str, value: object) -> str:
    if col.endswith("_p") and not _is_missing(value):
        return "pass" if float(value) >= SIGNIFICANCE else "fail"
    if col in ("traffic_light", "verdict"):
        return {"pass": "pass", "fail": "fail"}.get(str(value), str(value))
    return ""


def _plain(value: object) -> str:
    return MISSING if _is_missing(value) else str(value)


def _backtest_section(rows: pd.DataFrame) -> str:
    """The 99% 1-day backtests of a book: a row per method and window, p-values of every test."""
    columns: list[Column] = [
        ("method", "method", _plain), ("backtest_window_days", "window (days)", num), ("n_obs", "observations", num),
        ("n_breaches", "breaches", num), ("expected_breaches", "expected", lambda v: num(v, 1)),
    ]
    columns += [(col, f"{header} p", lambda v: num(v, 3)) for col, header in TEST_COLUMNS]
    columns += [("traffic_light", "traffic light", _plain), ("plus_factor", "plus factor", lambda v: num(v, 2)),
                ("verdict", "verdict", _plain)]
    return table(rows.sort_values(["backtest_window_days", "method"]), columns, cell_class=_test_class)


def _notes(data: ReportData) -> str:
    overlapping = bool(data.backtests["overlapping"].any())
    horizons = sorted(int(h) for h in data.backtests["horizon_days"].unique())
    if overlapping:
        overlap = ("Some multi-day backtests use <b>overlapping</b> observations: their breaches are dependent and "
                   "the tests' p-values are too small (column 'overlapping obs.').")
    else:
        overlap = ("Backtests of horizons h &gt; 1 day use <b>non-overlapping</b> observations (every h-th forecast "
                   "day), so breaches of consecutive observations do not share days (column 'overlapping obs.' is "
                   "'no' for every row); a trailing window of 250 days then holds 250/h observations.")
    t = data.trailing
    return f"""
<div class="box note">
<b>How to read this report.</b> Losses are positive fractions of the portfolio value. The VaR of day t is the
forecast built only from returns up to t-1; a <b>breach</b> on day t is a realized loss above that VaR.
Horizons in the backtests: {", ".join(map(str, horizons))} day(s). {overlap}
Each test is reported over the trailing {t} and {data.ranking_window} trading days as of {data.as_of}; a p-value below 5%
rejects the model (red cell). The <b>verdict</b> is "fail" when Kupiec POF (coverage), Christoffersen (independence)
or Acerbi-Szekely Z2 (expected shortfall) rejects, or the traffic light is red; conditional coverage, TUFF,
duration, dynamic quantile and McNeil-Frey are shown but do not enter the verdict. "insufficient_data" means
fewer than one breach is expected in the window. The Basel traffic light counts breaches at 99%, horizon 1, over
the trailing {t} days (green 0-4, yellow 5-9, red 10+ for 250 days); the plus factor is the Basel add-on to
the capital multiplier.
</div>"""


def _frtb_section(data: ReportData, chart: str | None) -> str:
    """The FRTB section (risk_pipeline.report.frtb_section): capital chart, C_A, desks' zones, latest IMES."""
    if "frtb_capital" not in data.extras and data.frtb_capital.empty:
        return _section("frtb", "Not configured: the FRTB stage has not run.")
    out = [_section("frtb", "The capital the internal models approach would charge the bank (every book a desk), "
                    "the desks' backtesting and P&amp;L attribution tests, and each desk's expected shortfall."),
           f'<p class="note">{_esc(SCOPE_NOTE)}</p>']
    capital = data.extras.get("frtb_capital")
    if capital is not None and len(capital):
        row = capital.iloc[-1]
        out.append(
            f'<p>As of {_esc(_day(row["date"]))}: C_A = <b>{amount(row["capital_charge"])}</b> {_esc(row["base_currency"])} '
            f'(binding: {_esc(_plain(row["binding"]))}), IMCC {amount(row["imcc"])}, 60-day average IMCC '
            f'{amount(row["imcc_average"])}, multiplier {num(row["capital_multiplier"], 2)} (bank-wide backtest: '
            f'{_esc(_plain(row["exceptions_99"]))} exceptions at 99% over 250 days, zone {_esc(_plain(row["backtest_zone"]))}).</p>')
    if chart:
        out.append(f'<img alt="FRTB capital chart" src="{chart}">')
    desks = latest_desks(data.extras)
    if len(desks):
        out.append("<h3>Desks: backtesting (MAR32) and P&amp;L attribution test (MAR32.38-32.42)</h3>")
        out.append(table(desks, [
            ("portfolio", "desk", _plain), ("exceptions_99", "exceptions 99% (limit 12)", num),
            ("exceptions_975", "exceptions 97.5% (limit 30)", num), ("backtest_zone", "backtesting zone", _plain),
            ("pla_spearman", "PLA Spearman", num), ("pla_ks", "PLA KS", num), ("pla_zone", "PLA zone", _plain),
            ("eligible", "eligible", num),
        ]))
        out.append('<p class="note">The bank\'s row holds the bank-wide backtest only: the P&amp;L attribution test '
                   "and eligibility are desk tests (a dash).</p>")
    es = latest_es(data.extras)
    if len(es):
        out.append("<h3>Expected shortfall, 97.5%, 10-day base horizon (MAR33.4-33.5)</h3>")
        out.append(table(es, [
            ("portfolio", "desk", _plain), ("base_currency", "currency", _plain), ("es_unadjusted", "ES 10-day", amount),
            ("es_full_current", "liquidity-adjusted ES", amount), ("es_reduced_stressed", "stressed ES", amount),
            ("imes", "IMES", amount), ("stress_start", "stressed period from", _day), ("stress_end", "to", _day),
        ]))
    return "\n".join(out)


SECTIONS = (
    ("model", "VaR and model choice"), ("backtests", "Backtests"), ("attribution", "Attribution"),
    ("stress", "Stress"), ("limits", "Limits"), ("options", "Option books"), ("frtb", "FRTB capital"),
    ("exports", "Exports and sources"),
)


FIGURES = {"VaR 1d", "ES 1d", "VaR 10d", "ES 10d"}  # columns whose note (the % of value) follows on the same line
_STATUS_CLASS = {"within_limits": "pass", "warning": "yellow", "danger": "red"}


def _cell_html(header: str, cell: Cell) -> str:
    css = _STATUS_CLASS.get(cell.status, cell.status) or ("text" if header in ("book", "official method") else "")
    note = ""
    if cell.note and header in FIGURES:  # "59,170 · 5.92%", "— no 10d"
        note = (" " if cell.text == MISSING else " \u00b7 ") + _esc(cell.note)
    elif cell.note:
        note = f' <br><span class="sub">{_esc(cell.note)}</span>'
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{_esc(cell.text)}{note}</td>"


def morning_table(morning: Morning) -> str:
    """The first page's table: a row per book, the cells of ``morning.morning_cells``."""
    head = "".join(f'<th>{_esc(h)} <br><span class="sub">{_esc(n)}</span></th>' for h, n in zip(HEADERS, HEADER_NOTES))
    body = "".join("<tr>" + "".join(_cell_html(h, c) for h, c in zip(HEADERS, cells)) + "</tr>"
                   for cells in morning_cells(morning))
    return (f'<table class="morning"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            '<p class="note">Change: the official 1-day VaR minus the previous business day\'s, split into positions '
            "(trades, rebalancing) / market (the day's P&amp;L and return; a monthly re-choice of the method is named "
            "when it moved the figure). Worst limit: the limit used most (green within, amber at warning, red above; "
            "every limit under <a href=\"#limits\">Limits</a>). Backtest: the Basel light of the official method, "
            "breaches / days. Option books: full-revaluation VaR, no % of value (a short book's value is the premium "
            "it owes), Greek caps (<a href=\"#options\">Option books</a>).</p>")


def _alerts_box(morning: Morning) -> str:
    lines = alert_lines(morning.alerts)
    if not lines:
        return '<div class="box ok">No breach and no warning today.</div>'
    titles = dict(SECTIONS)
    items = "".join(f'<li>{"<b>Breach</b>: " if line.level == "breach" else ""}{_esc(line.text)} '
                    f'(<a href="#{line.section}">{_esc(titles[line.section])}</a>)</li>' for line in lines)
    breaches = sum(a.level == "breach" for a in morning.alerts)
    warnings = len(morning.alerts) - breaches
    css = "alert" if breaches else "warn"
    return (f'<div class="box {css}"><b>{breaches} breach{"" if breaches == 1 else "es"}, {warnings} '
            f'warning{"" if warnings == 1 else "s"}</b><ul>{items}</ul></div>')


def _section(key: str, sentence: str) -> str:
    title = dict(SECTIONS)[key]
    return f'<h2 id="{key}">{_esc(title)}</h2><p class="lead">{sentence}</p>'


def _fold(title: str, gist: str, body: str, heading: bool = True) -> str:
    """``body`` folded under a line that names it (a book's heading, or a title) and says its gist: the
    page lists every book in a screen or two and opens the one a reader wants."""
    head = f"<h3>{_esc(title)}</h3>" if heading else f"<b>{_esc(title)}</b>"
    gist = f' <span class="sub">{gist}</span>' if gist else ""
    return f"<details><summary>{head}{gist}</summary>{body}</details>"


def _latest_var_table(data: ReportData, portfolio: str, official: str | None) -> str:
    """A row per method: VaR and ES at 99% (1 and 10 days) and VaR at 95%, 1 day, amounts and %."""
    latest = data.latest_var.loc[data.latest_var["portfolio"].eq(portfolio)]
    if latest.empty:
        return f'<p class="note">No forecast stored for {data.as_of}.</p>'
    ccy = data.base_currency.get(portfolio, "")
    wanted = [(0.99, 1, "var", "VaR 99% 1d"), (0.99, 1, "es", "ES 99% 1d"), (0.99, 10, "var", "VaR 99% 10d"),
              (0.99, 10, "es", "ES 99% 10d"), (0.95, 1, "var", "VaR 95% 1d")]
    figures: dict[tuple, tuple] = {}  # (method, confidence, horizon) -> its first row
    for key in zip(latest["method"], latest["confidence"].round(10), latest["horizon_days"], latest.itertuples()):
        figures.setdefault(key[:3], key[3])
    rows = []
    for method in sorted(latest["method"].unique()):
        row = {"method": method + (" (official)" if method == official else "")}
        for conf, h, col, label in wanted:
            hit = figures.get((method, conf, h))
            row[label] = (float(getattr(hit, f"{col}_amount")), float(getattr(hit, col))) if hit is not None else None
        rows.append(row)
    head = "<th>method</th>" + "".join(f"<th>{_esc(label)} ({_esc(ccy)})</th>" for *_, label in wanted)
    body = []
    for row in rows:
        css = ' class="recommended"' if row["method"].endswith("(official)") else ""
        cells = "".join(f"<td>{amount(v[0])} <span class=\"sub\">{pct(v[1])}</span></td>" if v else
                        '<td class="na">not configured</td>' for v in (row[label] for *_, label in wanted))
        body.append(f'<tr{css}><td class="text">{_esc(row["method"])}</td>{cells}</tr>')
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _var_spread(data: ReportData, portfolio: str, official: str | None) -> str:
    """The gist of a book's methods: its official method and the range of the methods' 1-day 99% VaR."""
    rows = data.latest_var.loc[data.latest_var["portfolio"].eq(portfolio) & data.latest_var["horizon_days"].eq(1)
                               & data.latest_var["confidence"].round(10).eq(0.99)]
    if rows.empty:
        return f"official {official or MISSING}"
    return (f"official {official or MISSING}; VaR 99% 1d of the {len(rows)} methods from {amount(rows['var_amount'].min())} "
            f"to {amount(rows['var_amount'].max())}")


def _model_section(data: ReportData) -> str:
    official = dict(zip(data.morning.books.get("portfolio", []), data.morning.books.get("method", [])))
    out = [_section("model", "Each book's VaR and ES by every configured method (the official one in bold, the "
                    "others its challengers), and the evidence that chooses among them: the Model Confidence Set of "
                    "the FZ0 loss and the ranking by backtests.")]
    out.append('<p class="note">A line per book (click to open): the official method and the spread of the '
               "methods' 1-day 99% VaR; inside, every method's figures, the Model Confidence Set and the ranking.</p>")
    for portfolio in data.portfolios:
        body = [_latest_var_table(data, portfolio, official.get(portfolio))]
        if len(data.scores):
            rows, sentence = data.model_confidence_sets[portfolio]
            body.append(f"<p>{_esc(sentence)}</p>")
            if len(rows) and rows["mcs_computed"].all():
                body.append(score_bars(rows, data.ranking_window))
        ranking = data.ranking.loc[data.ranking["portfolio"].eq(portfolio)] if len(data.ranking) else data.ranking
        if len(ranking):
            body.append(table(ranking, [
                ("rank", "rank", num), ("method", "method", _plain), ("n_in_mcs", "in the 90% MCS (tests)", num),
                ("n_mcs", "MCS tests", num), ("score", "score", lambda v: num(v, 2)),
                ("n_tests_passed", "backtests passed", num), ("n_tests", "backtests", num),
                ("breach_ratio", "breaches / expected", lambda v: num(v, 2)),
                ("mean_var", f"average VaR over the last {data.ranking_window} days, % of value", pct),
            ], row_class=lambda r: "recommended" if r["recommended"] else ""))
            body.append('<p class="note">Ranking (bold: ranked first): first the methods most often in the 90% Model '
                       "Confidence Set of the FZ0 loss, then the pass rate of the Kupiec, Christoffersen and Z2 tests "
                       "(less a penalty for a breach frequency off target), ties broken by the lower average VaR "
                       "(less capital), over the trailing "
                       f"{data.ranking_window} days. The official method is chosen once a month (docs/analytics.md).</p>")
        out.append(_fold(f"{portfolio} ({data.base_currency.get(portfolio, '')})",
                         _esc(_var_spread(data, portfolio, official.get(portfolio))), "".join(body)))
    stats = data.statistics
    if len(stats):
        out.append("<h3>Performance of the books</h3>")
        out.append(table(stats, [
            ("portfolio", "book", _plain), ("period", "period", _plain), ("start", "from", _day), ("end", "to", _day),
            ("n_days", "days", num), ("total_return", "total return", pct),
            ("annualized_return", "annualized return", pct), ("annualized_volatility", "annualized volatility", pct),
            ("sharpe_ratio", f"Sharpe ratio (risk-free {data.settings.risk_free:.2%})", lambda v: num(v, 2)),
            ("max_drawdown", "max drawdown", pct), ("max_drawdown_peak", "drawdown from", _day),
            ("max_drawdown_trough", "drawdown to", _day),
        ]))
    return "\n".join(out)


def _backtests_section(data: ReportData, portfolio_charts: dict[str, str], overview_chart: str | None) -> str:
    out = [_section("backtests", "Whether each method's VaR was breached as often as promised: the Basel traffic "
                    "light of every method and book, each book's realized returns against its VaR, and the tests of "
                    "the 99% 1-day forecasts (the other confidences and horizons are in backtests.csv)."),
           _notes(data)]
    if data.traffic_light.empty:
        out.append('<p class="note">No 99% one-day VaR is configured: no traffic light.</p>')
    elif overview_chart:
        out.append(f'<img alt="traffic light chart" src="{overview_chart}">')
    lights = data.traffic_light
    for portfolio in data.portfolios:
        chart = portfolio_charts.get(portfolio)
        rows = data.backtests.loc[data.backtests["portfolio"].eq(portfolio)
                                  & data.backtests["confidence"].round(10).eq(0.99) & data.backtests["horizon_days"].eq(1)]
        mine = lights.loc[lights["portfolio"].eq(portfolio)] if len(lights) else lights
        counts = mine["traffic_light"].value_counts() if len(mine) else pd.Series(dtype=int)
        gist = ", ".join(f"{int(counts[z])} {z}" for z in ("green", "yellow", "red") if z in counts)
        out.append(_fold(f"{portfolio}: realized return against VaR", f"Basel lights of the methods: {gist}" if gist else "",
                         (f'<img alt="{_esc(portfolio)}: return vs VaR and rolling breaches" src="{chart}">' if chart
                          else '<p class="note">No one-day forecasts in the charted period.</p>') + _backtest_section(rows)))
    out.append('<p class="note">A dash: the test could not be computed (no breach, or too few observations; Z2 and McNeil-Frey: a zero forecast in the window, whose ES they cannot divide by).</p>')
    return "\n".join(out)


def _attribution_section(data: ReportData, chart: str | None) -> str:
    frame = data.extras.get("var_decomposition")
    if frame is None:
        return _section("attribution", f"No var_decomposition row up to {data.as_of}: the attribution stage has not "
                        "run, or the books have less history than its estimation window.")
    out = [_section("attribution", "Which positions make each book's VaR: the Euler components of the parametric "
                    f"99% VaR (they add up to the book's VaR) as of {_day(frame['date'].max())}.")]
    if chart:
        out.append(f'<img alt="component VaR per position" src="{chart}">')
    out.append(_fold("Every position's component, marginal and incremental VaR", f"{len(frame)} positions", table(
        frame.sort_values(["portfolio", "pct_contribution"], ascending=[True, False]), [
        ("portfolio", "book", _plain), ("symbol", "position", _plain), ("weight", "weight", pct),
        ("component_var", "component VaR, % of value", pct), ("pct_contribution", "share of the VaR", lambda v: pct(v, 1)),
        ("marginal_var", "marginal VaR", lambda v: num(v, 4)), ("incremental_var", "incremental VaR, % of value", pct),
        ("component_es_historical", "component ES (historical), % of value", pct),
        ("component_var_amount", "component VaR (book currency)", amount),
    ]), heading=False))
    return "\n".join(out)


def _stress_section(data: ReportData, chart: str | None) -> str:
    frame = data.extras.get("stress_results")
    if frame is None:
        return _section("stress", f"No stress_results row up to {data.as_of}: the stress stage has not run.")
    out = [_section("stress", "What each book would lose today under each scenario (historical episodes "
                    f"replayed and hypothetical shocks) on the positions held, as of {_day(frame['date'].max())}.")]
    if chart:
        out.append(f'<img alt="stress losses" src="{chart}">')
    grid = frame.pivot_table(index="scenario", columns="portfolio", values="pnl", aggfunc="first")
    grid = grid.loc[grid.min(axis=1).sort_values().index].reset_index()
    out.append(table(grid, [("scenario", "scenario", _plain)] + [
        (b, f"{b} P&L ({data.base_currency.get(b, '')})", amount) for b in grid.columns if b != "scenario"]))
    reverse = data.extras.get("reverse_stress")
    if reverse is not None and len(reverse):
        out.append(_fold("Reverse stress: how much of each scenario loses the target", "", table(reverse, [
            ("portfolio", "book", _plain), ("scenario", "scenario", _plain),
            ("target_loss", "target loss (book currency)", amount),
            ("multiplier", "multiplier of the scenario's shocks", lambda v: num(v, 2) if not _is_missing(v) else "none reaches it"),
            ("feasible", "reached", num),
        ])))
    replay = data.extras.get("historical_replay")
    if replay is not None and len(replay):
        out.append(_fold("Historical replay: the positions held, through each episode", "", table(replay, [
            ("portfolio", "book", _plain), ("episode", "episode", _plain), ("worst_date", "worst day", _day),
            ("worst_cum_pnl", "worst cumulative P&L (book currency)", amount),
            ("worst_cum_return", "worst cumulative return", pct), ("final_cum_return", "return at the end", pct),
            ("n_days", "days", num), ("proxied", "proxied", num),
        ])))
    return "\n".join(out)


def _limit_class(col: str, value: object) -> str:
    return {"danger": "red", "warning": "yellow", "within_limits": "pass"}.get(str(value), "") if col == "status" else ""


def _limits_section(data: ReportData, chart: str | None) -> str:
    frame = data.extras.get("limit_status")
    if frame is None:
        return _section("limits", f"No limit_status row up to {data.as_of}: the limits stage has not run.")
    out = [_section("limits", f"Each limit's use as of {_day(frame['date'].max())}, measured by "
                    f"{_esc(LIMIT_METHOD_TEXT)}, as in <code>risk-pipeline summary</code> and <code>pre-trade</code>; "
                    "not by the official method, which is re-chosen monthly and may not price a trade "
                    "(docs/analytics.md).")]
    if chart:
        out.append(f'<img alt="limit utilisation over time" src="{chart}">')
    out.append(table(frame, [
        ("portfolio", "book", _plain), ("measure", "measure", lambda v: "ES" if v == "es" else "VaR"),
        ("horizon_days", "horizon (days)", num), ("confidence", "confidence", _confidence),
        ("measured_amount", "measured (book currency)", amount), ("limit_amount", "limit (book currency)", amount),
        ("utilization", "utilisation", lambda v: pct(v, 1)), ("status", "status", _plain),
    ], cell_class=_limit_class))
    return "\n".join(out)


def _options_section(data: ReportData) -> str:
    """The option books (report.options_section): net Greeks, each cap's and limit's use, the three VaRs."""
    view = data.options
    if view is None:
        return _section("options", f"No option_greeks row up to {data.as_of}: no option book is configured "
                                   "(options.positions_file).")
    out = [_section("options", "Per option book on its latest stored day: the book's net Greeks in base currency "
                    "(Black-Scholes-Merton; <code>option_greeks</code>), the use of each Greek cap and VaR/ES limit "
                    "(<code>option_limit_status</code>; caps tightened before an event of the calendar) and the "
                    "VaR/ES of the book held at the previous close by full revaluation, delta-gamma-vega and "
                    "delta-only side by side (the book's rows of <code>var_estimates</code>; docs/methods.md), the traffic "
                    "light of each method's 1-day 99% VaR against the book's hypothetical P&L (<code>var_backtests</code>) "
                    "and its "
                    "P&L under each stress scenario (<code>option_stress</code>) and the multiple of each scenario "
                    "at which it loses a multiple of its 1-day 99% VaR (<code>option_reverse_stress</code>).")]
    for book in view.books:
        greeks = view.greeks.loc[view.greeks["book"].eq(book)]
        if len(greeks):
            row = greeks.iloc[0]
            proxy = f" ({proxy_note(row['vol_source'])})" if proxy_note(row["vol_source"]) else ""
            out.append(f"<h3>{_esc(book)}: Greeks at the close of {_day(row['date'])} ({_esc(row['base_currency'])}; "
                       f"implied volatility {_esc(row['vol_source'])}{proxy})</h3>")
            out.append(table(greeks, [(c, GREEK_LABELS[c], amount) for c in GREEK_COLUMNS]))
        limits = view.limits.loc[view.limits["book"].eq(book)] if len(view.limits) else view.limits
        if len(limits):
            out.append(f"<h3>{_esc(book)}: caps and limits on {_day(limits['date'].iloc[0])}</h3>")
            out.append(table(limits.assign(label=[limit_label(r) for r in limits.itertuples()]), [
                ("label", "cap or limit", _plain), ("measured_amount", "measured", amount),
                ("limit_amount", "cap or limit", amount), ("utilization", "utilisation", lambda v: pct(v, 1)),
                ("status", "status", _plain), ("event", "tightened by", _plain)], cell_class=_limit_class))
        var = view.var.loc[view.var["book"].eq(book)]
        if len(var):
            out.append(f"<h3>{_esc(book)}: VaR and ES for {_day(var['date'].iloc[0])} (amounts, losses positive)</h3>")
            out.append(table(var, [("confidence", "confidence", _confidence), ("horizon_days", "horizon (days)", num),
                                   ("measure", "measure", lambda v: "ES" if v == "es" else "VaR")]
                             + [(m, m.replace("_", " "), amount) for m in METHODS]))
        lights = view.lights.loc[view.lights["book"].eq(book)] if len(view.lights) else view.lights
        if len(lights):
            out.append(f"<h3>{_esc(book)}: backtest as of {_day(lights['as_of'].iloc[0])} (1-day VaR 99% against the "
                       "hypothetical P&L of the book held at the close before)</h3>")
            out.append(table(lights, [("method", "method", _plain), ("backtest_window_days", "window (days)", num),
                                      ("n_obs", "days", num), ("n_breaches", "breaches", num),
                                      ("expected_breaches", "expected", lambda v: f"{v:.1f}"),
                                      ("traffic_light", "traffic light", _plain)]))
        stress = view.stress.loc[view.stress["book"].eq(book)] if len(view.stress) else view.stress
        if len(stress):
            out.append(f"<h3>{_esc(book)}: stress on {_day(stress['date'].iloc[0])} (options repriced under the "
                       "scenario's spot, implied-volatility and FX moves; worst first)</h3>")
            out.append(table(stress, [("scenario", "scenario", _plain), ("scenario_type", "type", _plain),
                                      ("pnl", "P&L", amount), ("proxied", "proxied", num)]))
        replay = view.replay.loc[view.replay["book"].eq(book)] if len(view.replay) else view.replay
        if len(replay):
            out.append(f"<h3>{_esc(book)}: historical replay on {_day(replay['date'].iloc[0])} (the book repriced at "
                       "each close of the episode; worst first)</h3>")
            out.append(table(replay, [("episode", "episode", _plain), ("worst_date", "worst day", _day),
                                      ("worst_cum_pnl", "worst cumulative P&L", amount),
                                      ("final_cum_pnl", "P&L at the end", amount), ("n_days", "days", num),
                                      ("proxied", "proxied", num)]))
        reverse = view.reverse.loc[view.reverse["book"].eq(book)] if len(view.reverse) else view.reverse
        if len(reverse):
            first = reverse.iloc[0]
            out.append(f"<h3>{_esc(book)}: reverse stress on {_day(first['date'])} (the multiple of each scenario's "
                       f"moves at which the repriced book loses {amount(first['target_loss'])} = "
                       f"{first['target_var_multiple']:g} x its 1-day 99% VaR; smallest first)</h3>")
            out.append(table(reverse, [("scenario", "scenario", _plain), ("scenario_type", "type", _plain),
                                       ("multiplier", "multiple", reverse_label),
                                       ("achieved_loss", "loss there", amount), ("proxied", "proxied", num)]))
    return "\n".join(out)


def page_head(title: str) -> list[str]:
    return ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"]


def first_page(morning: Morning) -> str:
    """The report's first screen: the title, the alert box, the morning table and the bank's FRTB capital."""
    capital = capital_sentence(morning)
    return "\n".join([f"<h1>Risk report as of {morning.as_of}</h1>", _alerts_box(morning),
                      f'<p class="note">{_esc(intro(morning))}</p>', morning_table(morning)]
                     + ([f"<p>{_esc(capital)}</p>"] if capital else []))


def render_html(data: ReportData, charts: dict[str, str], files: Sequence[str]) -> str:
    """The whole page; ``charts`` the data URIs of the charts by name (a book's P&L chart by the
    book's name, and traffic_light, frtb_capital, component_var, stress, utilisation), ``files``
    the names of the exports beside the page."""
    morning = data.morning
    toc = "".join(f'<li><a href="#{k}">{_esc(t)}</a></li>' for k, t in SECTIONS)
    links = "".join(f'<li><a href="{_esc(f)}">{_esc(f)}</a></li>' for f in files)
    versions = ", ".join(f"{k} v{v}" for k, v in sorted(data.table_versions.items()))
    parts = [
        *page_head(f"Risk report {data.as_of}"),
        first_page(morning),
        f'<nav class="toc"><b>Contents</b><ol>{toc}</ol></nav>',
        _model_section(data),
        _backtests_section(data, charts, charts.get("traffic_light")),
        _attribution_section(data, charts.get("component_var")),
        _stress_section(data, charts.get("stress")),
        _limits_section(data, charts.get("utilisation")),
        _options_section(data),
        _frtb_section(data, charts.get("frtb_capital")),
        _section("exports", "The report's rows as CSV beside this page, and the table versions it was built from "
                 "(<code>risk-pipeline report --as-of DATE</code> rebuilds it from them)."),
        f"<ul>{links}</ul>",
        f'<p class="note">Charts cover {data.chart_start} to {data.as_of}. Table versions: {_esc(versions)}.</p>',
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def score_bars(rows: pd.DataFrame, days: int) -> str:
    """Mean FZ0 loss of each method minus the best's (``score_rows``: 99%, 1 day, last ``days``
    trading days) as a table of bars drawn by CSS: green in the 90% Model Confidence Set, red
    outside, with the Diebold-Mariano p-value against the best method."""
    widest = float(rows["fz0_diff_to_best"].max()) or 1.0
    body = []
    for _, row in rows.iterrows():
        diff = float(row["fz0_diff_to_best"])
        zone = "green" if row["in_mcs"] else "red"
        body.append(f'<tr><td class="text">{_esc(row["method"])}</td><td class="text bars">'
                    f'<span class="bar {zone}" style="width:{max(diff / widest, 0.0) * 100:.1f}%"></span></td>'
                    f"<td>{num(diff, 4)}</td><td>{num(row['dm_p'], 3)}</td><td>{'yes' if row['in_mcs'] else 'no'}</td></tr>")
    head = "<th>method</th><th>mean FZ0 loss minus the best method's (lower is better)</th><th>difference</th>" \
           "<th>DM p-value</th><th>in 90% MCS</th>"
    return (f'<div class="scroll"><table><caption class="note">FZ0 loss against the best, 99%, 1 day, last {days} '
            f'trading days</caption><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


