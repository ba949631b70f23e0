"""The risk report as one self-contained HTML page: inline CSS, charts as base64 PNG data
URIs, no script, font or stylesheet from anywhere else (it opens offline)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from risk_pipeline.report.frtb_section import SCOPE_NOTE, latest_desks, latest_es
from risk_pipeline.report.summary import ReportData, mcs_sentence, score_rows
from risk_pipeline.risk.limits import LIMIT_METHOD_TEXT

SIGNIFICANCE = 0.05
# (p-value column, header) of every test in the backtest table
TEST_COLUMNS = [
    ("kupiec_p", "Kupiec POF"), ("christoffersen_p", "Christoffersen ind."), ("cc_p", "Cond. coverage"),
    ("tuff_p", "Kupiec TUFF"), ("duration_p", "Duration (Weibull)"), ("dq_p", "Dynamic quantile"),
    ("z2_p", "Acerbi-Szekely Z2"), ("mcneil_frey_p", "McNeil-Frey"),
]  # fmt: skip

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1280px;color:#222;
line-height:1.4;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:20px;border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
h3{font-size:16px;margin-top:22px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:12.5px}
th,td{border:1px solid #d8d8d8;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;text-align:center}td.text{text-align:left}
td.pass{background:#e3f4e6}td.fail{background:#fbe0e0;font-weight:600}td.na{color:#999}
td.green{background:#2e9d4a;color:#fff}td.yellow{background:#e0b000}td.red{background:#d62728;color:#fff}
td.insufficient_data{color:#777}tr.recommended td{font-weight:700}
.box{background:#f7f7f9;border:1px solid #e2e2e8;padding:10px 14px;margin:12px 0}
.alert{background:#fde8e8;border-color:#e8a0a0}.ok{background:#e9f6ec;border-color:#a6d8b2}
.note{font-size:13px;color:#444}img{max-width:100%}.scroll{overflow-x:auto}
caption{text-align:left}td.bars{width:360px}.bar{display:block;height:12px;min-width:1px}.bar.green{background:#2e9d4a}.bar.red{background:#d62728}
"""


def _esc(value: object) -> str:
    return html.escape(str(value))


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT


def pct(value: object, digits: int = 2) -> str:
    return "n/a" if _is_missing(value) else f"{float(value) * 100:.{digits}f}%"


def num(value: object, digits: int = 3) -> str:
    if _is_missing(value):
        return "n/a"
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
    return "n/a" if _is_missing(value) else f"{float(value):,.0f}"


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


def generic_table(frame: pd.DataFrame, max_rows: int = 200) -> str:
    """Any stored table's rows with every column (for the optional stages)."""
    columns = [(c, c, num if frame[c].dtype.kind == "f" else str) for c in frame.columns]
    note = f'<p class="note">First {max_rows} of {len(frame)} rows; all rows are in the CSV.</p>' if len(frame) > max_rows else ""
    return table(frame.head(max_rows), columns) + note


def _test_class(col: str, value: object) -> str:
    if col.endswith("_p") and not _is_missing(value):
        return "pass" if float(value) >= SIGNIFICANCE else "fail"
    if col in ("traffic_light", "verdict"):
        return {"pass": "pass", "fail": "fail"}.get(str(value), str(value))
    return ""


def _plain(value: object) -> str:
    return str(value)


def _backtest_section(rows: pd.DataFrame) -> str:
    columns: list[Column] = [
        ("method", "method", _plain), ("confidence", "confidence", pct), ("horizon_days", "horizon (days)", num),
        ("backtest_window_days", "window (days)", num), ("n_obs", "observations", num), ("n_breaches", "breaches", num),
        ("expected_breaches", "expected", lambda v: num(v, 1)),
    ]
    columns += [(col, f"{header} p", lambda v: num(v, 3)) for col, header in TEST_COLUMNS]
    columns += [("traffic_light", "traffic light", _plain), ("plus_factor", "plus factor", lambda v: num(v, 2)),
                ("verdict", "verdict", _plain), ("overlapping", "overlapping obs.", num)]
    return table(rows, columns, cell_class=_test_class)


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
        return ""
    out = ["<h2>FRTB internal models approach (bank = every desk)</h2>", f'<p class="note">{_esc(SCOPE_NOTE)}</p>']
    capital = data.extras.get("frtb_capital")
    if capital is not None and len(capital):
        row = capital.iloc[-1]
        out.append(
            f'<p>As of {_esc(num(row["date"]))}: C_A = <b>{amount(row["capital_charge"])}</b> {_esc(row["base_currency"])} '
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
            ("eligible", "eligible", _plain),
        ]))
    es = latest_es(data.extras)
    if len(es):
        out.append("<h3>Expected shortfall, 97.5%, 10-day base horizon (MAR33.4-33.5)</h3>")
        out.append(table(es, [
            ("portfolio", "desk", _plain), ("base_currency", "currency", _plain), ("es_10d", "ES 10-day", amount),
            ("es_full_current", "liquidity-adjusted ES", amount), ("es_reduced_stressed", "stressed ES", amount),
            ("imes", "IMES", amount), ("stress_start", "stressed from", num), ("stress_end", "to", num),
        ]))
    return "\n".join(out)


def render_html(data: ReportData, portfolio_charts: dict[str, str], overview_chart: str | None,
                files: Sequence[str], frtb_chart: str | None = None) -> str:
    """The whole page; charts are data URIs, ``files`` the names of the exports beside the page."""
    red = data.red_zone
    methods = sorted(data.backtests["method"].unique())
    verdicts = data.backtests["verdict"].value_counts().to_dict()
    if len(red):
        items = "".join(f"<li>{_esc(p)} / {_esc(m)}: {n} breaches in {o} days</li>"
                        for p, m, n, o in red[["portfolio", "method", "n_breaches", "n_obs"]].itertuples(index=False))
        alert = f'<div class="box alert"><b>Red zone</b> (99%, 1 day, trailing {data.trailing} days):<ul>{items}</ul></div>'
    else:
        alert = '<div class="box ok">No method in use is in the red zone (99%, 1 day, trailing window).</div>'
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Risk report {data.as_of}</title><style>{_CSS}</style></head><body>",
        f"<h1>Risk report as of {data.as_of}</h1>",
        f'<p class="note">Portfolios: {_esc(", ".join(data.portfolios))}. Methods: {_esc(", ".join(methods))}. '
        f"Backtest rows: {_esc(', '.join(f'{k} {v}' for k, v in sorted(verdicts.items())))}. "
        f"Charts cover {data.chart_start} to {data.as_of}.</p>",
        alert,
        _notes(data),
        "<h2>Basel traffic light</h2>",
    ]
    if data.traffic_light.empty:
        parts.append('<p class="note">No 99% one-day VaR is configured: no traffic light.</p>')
    else:
        parts.append(table(data.traffic_light, [
            ("portfolio", "portfolio", _plain), ("method", "method", _plain),
            ("backtest_window_days", "window (days)", num),
            ("n_obs", "observations", num), ("n_breaches", "breaches", num),
            ("expected_breaches", "expected", lambda v: num(v, 1)), ("traffic_light", "zone", _plain),
            ("plus_factor", "plus factor", lambda v: num(v, 2)),
        ], cell_class=_test_class))
        if overview_chart:
            parts.append(f'<img alt="traffic light chart" src="{overview_chart}">')
    for portfolio in data.portfolios:
        parts.append(_portfolio_section(data, portfolio, portfolio_charts.get(portfolio)))
    parts.append(_frtb_section(data, frtb_chart))
    for name, frame in data.extras.items():
        if name.startswith("frtb_"):
            continue  # shown in the FRTB section
        day_col = "date" if "date" in frame.columns else frame.columns[0]
        day = frame[day_col].max()
        parts.append(f"<h2>{_esc(name.replace('_', ' ').capitalize())} (as of {_esc(num(day))})</h2>")
        if name == "limit_status":
            parts.append(f'<p class="note">Each value is measured by {_esc(LIMIT_METHOD_TEXT)} (column method), '
                         "as in <code>risk-pipeline summary</code> and <code>pre-trade</code>.</p>")
        parts.append(generic_table(frame))
    links = "".join(f'<li><a href="{_esc(f)}">{_esc(f)}</a></li>' for f in files)
    parts.append(f"<h2>Exports</h2><p class='note'>Beside this file:</p><ul>{links}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


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


def _portfolio_section(data: ReportData, portfolio: str, chart: str | None) -> str:
    ccy = data.base_currency.get(portfolio, "")
    out = [f"<h2>Portfolio {_esc(portfolio)} ({_esc(ccy)})</h2>", "<h3>Portfolio statistics</h3>"]
    stats = data.statistics.loc[data.statistics["portfolio"].eq(portfolio)]
    out.append(table(stats, [
        ("period", "period", _plain), ("start", "from", str), ("end", "to", str), ("n_days", "days", num),
        ("total_return", "total return", pct), ("annualized_return", "annualized return", pct),
        ("annualized_volatility", "annualized volatility", pct),
        ("sharpe_ratio", f"Sharpe ratio (rf {data.settings.risk_free:.2%})", lambda v: num(v, 2)),
        ("max_drawdown", "max drawdown", pct), ("max_drawdown_peak", "peak", str),
        ("max_drawdown_trough", "trough", str),
    ]))
    out.append("<h3>Which method should a risk manager use?</h3>")
    if len(data.scores):
        rows = score_rows(data.scores, portfolio, data.ranking_window)
        left_out = score_rows(data.scores, portfolio, data.ranking_window, compared=False)
        out.append(f"<p>{_esc(mcs_sentence(rows, data.ranking_window, left_out))}</p>")
        if len(rows) and rows["mcs_computed"].all():
            out.append(score_bars(rows, data.ranking_window))
    ranking = data.ranking.loc[data.ranking["portfolio"].eq(portfolio)] if len(data.ranking) else data.ranking
    if len(ranking):
        best = ranking.loc[ranking["recommended"]]
        red = set(data.red_zone.loc[data.red_zone["portfolio"].eq(portfolio), "method"])
        if len(best) and best["method"].iloc[0] in red:
            outside_red = ranking.sort_values("rank").loc[lambda r: ~r["method"].isin(red), "method"]
            alternative = (f"the best-ranked method outside the red zone is {_esc(outside_red.iloc[0])}."
                           if len(outside_red) else "none of the configured methods is adequate for this portfolio.")
            out.append(f'<div class="box alert">The best-ranked method, {_esc(best["method"].iloc[0])}, is in the red '
                       f"zone over the trailing window: {alternative}</div>")
        if len(best):
            out.append(f"<p><b>Recommended: {_esc(best['method'].iloc[0])}</b> - first the methods most often in the "
                       "90% Model Confidence Set of the FZ0 loss (when scores are stored), then the best pass rate of "
                       "the Kupiec, Christoffersen and Z2 tests (less a penalty for a breach frequency off target), "
                       "ties broken by the lower average VaR (less capital). Ranked on the trailing "
                       f"{data.ranking_window} days.</p>")
        else:
            out.append("<p>No method has enough observations to be ranked yet.</p>")
        out.append(table(ranking, [
            ("rank", "rank", num), ("method", "method", _plain), ("n_in_mcs", "in MCS", num), ("n_mcs", "MCS tests", num),
            ("score", "score", lambda v: num(v, 2)),
            ("n_tests_passed", "tests passed", num), ("n_tests", "tests", num),
            ("breach_ratio", "breaches / expected", lambda v: num(v, 2)), ("mean_var", "average VaR", pct),
        ], row_class=lambda r: "recommended" if r["recommended"] else ""))
    out.append("<h3>Latest VaR and ES</h3>")
    latest = data.latest_var.loc[data.latest_var["portfolio"].eq(portfolio)]
    if latest.empty:
        out.append(f'<p class="note">No forecast stored for {data.as_of}.</p>')
    else:
        out.append(table(latest, [
            ("method", "method", _plain), ("confidence", "confidence", pct), ("horizon_days", "horizon (days)", num),
            ("estimation_window_days", "window (days)", num), ("var", "VaR", pct), ("es", "ES", pct),
            ("var_amount", f"VaR ({ccy})", amount), ("es_amount", f"ES ({ccy})", amount),
        ]))
    out.append("<h3>Realized P&amp;L against VaR</h3>")
    if chart:
        out.append(f'<img alt="{_esc(portfolio)}: return vs VaR and rolling breaches" src="{chart}">')
    else:
        out.append('<p class="note">No one-day forecasts in the charted period.</p>')
    out.append("<h3>Backtests (pass/fail at 5%)</h3>")
    out.append(_backtest_section(data.backtests.loc[data.backtests["portfolio"].eq(portfolio)]))
    return "\n".join(out)
