"""Write one as-of date's report folder: ``<reports>/<as_of>/`` holds ``risk_report.html``,
``summary.json``, one CSV per table of the report and ``traffic_light.png``.

Every file is written to a temporary name and renamed into place, so a reader never sees a
half-written report; re-running the same date replaces the folder's files.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from risk_pipeline.report.charts import data_uri, pnl_vs_var_chart, traffic_light_chart
from risk_pipeline.report.frtb_section import capital_chart, latest_desks
from risk_pipeline.report.html import render_html
from risk_pipeline.report.summary import ReportData, mcs_sentence, score_rows
from risk_pipeline.risk.backtests.traffic_light import basel_zone_thresholds
from risk_pipeline.storage.csv_export import csv_bytes

HTML_FILE = "risk_report.html"
SUMMARY_FILE = "summary.json"
OVERVIEW_PNG = "traffic_light.png"
FRTB_PNG = "frtb_capital.png"
CSV_TABLES = ("traffic_light", "backtests", "ranking", "statistics", "latest_var", "pnl_vs_var")
SUMMARY_KEYS = (
    "as_of", "chart_start", "portfolios", "base_currency", "methods", "red_zone", "recommended_method",
    "traffic_light", "ranking", "statistics", "latest_var", "verdict_counts", "overlapping_observations",
    "optional_tables", "model_confidence_set", "frtb", "table_versions", "files",
)  # fmt: skip


@dataclass(frozen=True)
class ReportFiles:
    folder: Path
    html: Path
    summary: Path
    overview_png: Path | None
    csvs: tuple[Path, ...]
    overview_uri: str | None


def _atomic_write(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def _records(frame: pd.DataFrame) -> list[dict]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{k: (v.date().isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in r.items()}
            for r in clean.to_dict("records")]


def _csv_frames(data: ReportData) -> dict[str, pd.DataFrame]:
    frames = {name: getattr(data, name) for name in CSV_TABLES}
    frames.update(data.extras)
    if len(data.scores):
        frames["scores"] = data.scores
    return frames


def summary_dict(data: ReportData, files: list[str]) -> dict:
    """The JSON summary (keys ``SUMMARY_KEYS``)."""
    recommended = data.ranking.loc[data.ranking["recommended"].astype(bool)] if len(data.ranking) else data.ranking
    out = {
        "as_of": data.as_of.isoformat(),
        "chart_start": data.chart_start.isoformat(),
        "portfolios": list(data.portfolios),
        "base_currency": data.base_currency,
        "methods": sorted(data.backtests["method"].unique()),
        "red_zone": _records(data.red_zone[["portfolio", "method", "n_obs", "n_breaches"]]),
        "recommended_method": dict(zip(recommended.get("portfolio", []), recommended.get("method", []))),
        "traffic_light": _records(data.traffic_light),
        "ranking": _records(data.ranking),
        "statistics": _records(data.statistics),
        "latest_var": _records(data.latest_var),
        "verdict_counts": {str(k): int(v) for k, v in data.backtests["verdict"].value_counts().items()},
        "overlapping_observations": bool(data.backtests["overlapping"].any()),
        "optional_tables": sorted(data.extras),
        "model_confidence_set": {
            p: mcs_sentence(score_rows(data.scores, p, data.ranking_window), data.ranking_window,
                            score_rows(data.scores, p, data.ranking_window, compared=False)) for p in data.portfolios
        },
        "frtb": {"capital": _records(data.extras["frtb_capital"]) if "frtb_capital" in data.extras else [],
                 "desks": _records(latest_desks(data.extras))},
        "table_versions": data.table_versions,
        "files": files,
    }
    return {k: out[k] for k in SUMMARY_KEYS}


def write_report(data: ReportData, root: Path) -> ReportFiles:
    """Render and write the report of ``data.as_of`` under ``root/<as_of>/`` (``scores.csv`` when
    ``var_scores`` is stored for the date)."""
    folder = root / data.as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    trailing = data.trailing
    yellow, red = basel_zone_thresholds(trailing)
    charts = {}
    for portfolio in data.portfolios:
        rows = data.pnl_vs_var.loc[data.pnl_vs_var["portfolio"].eq(portfolio)]
        if len(rows):
            charts[portfolio] = data_uri(pnl_vs_var_chart(rows, portfolio, trailing, yellow, red))
    overview_png = folder / OVERVIEW_PNG
    overview_uri = None
    if len(data.traffic_light):
        png = traffic_light_chart(data.traffic_light, trailing, yellow, red)
        _atomic_write(overview_png, png)
        overview_uri = data_uri(png)
    else:
        overview_png.unlink(missing_ok=True)
    frtb_png, frtb_uri = folder / FRTB_PNG, None
    if len(data.frtb_capital) and data.frtb_capital["capital_charge"].notna().any():
        png = capital_chart(data.frtb_capital)
        _atomic_write(frtb_png, png)
        frtb_uri = data_uri(png)
    else:
        frtb_png.unlink(missing_ok=True)
    csvs = []
    for name, frame in _csv_frames(data).items():
        path = folder / f"{name}.csv"
        _atomic_write(path, csv_bytes(frame))
        csvs.append(path)
    files = [SUMMARY_FILE] + [p.name for p in csvs] + ([OVERVIEW_PNG] if overview_uri else []) + ([FRTB_PNG] if frtb_uri else [])
    html_path = folder / HTML_FILE
    _atomic_write(html_path, render_html(data, charts, overview_uri, files, frtb_uri).encode("utf-8"))
    summary_path = folder / SUMMARY_FILE
    _atomic_write(summary_path, json.dumps(summary_dict(data, [HTML_FILE] + files), indent=2, default=str).encode())
    return ReportFiles(folder, html_path, summary_path, overview_png if overview_uri else None, tuple(csvs), overview_uri)
