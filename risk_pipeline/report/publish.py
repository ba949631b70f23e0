"""Write one as-of date's report folder: ``<reports>/<as_of>/`` holds ``risk_report.html``,
``summary.json``, one CSV per table of the report and ``traffic_light.png``.

A report is published whole or not at all. Its files are written into a new folder of
``<reports>/.publications/<as_of>/`` and ``<reports>/<as_of>`` is a symbolic link to the latest
complete one, replaced by a rename (atomic on POSIX): a reader sees the previous publication or
the new one, never a mix, and a publication that fails or is killed leaves the previous one as it
was. Every complete publication that was shown is kept (a reader who resolved the link just
before it moved can finish reading, and ``risk-pipeline report --as-of D --version N`` rebuilds
publication N from the table versions its summary.json records); what publications that died
half-way left (a partial folder, a complete one never linked, a staged link) is removed by the next
publication of the date (under a file lock, so that two runs publishing the same date do not
remove each other's folder). A folder of the date written by
an earlier version of the pipeline (a plain directory) becomes a publication at the first
publication.
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from risk_pipeline.report.charts import (
    PnlVsVarFigure,
    component_var_chart,
    data_uri,
    stress_chart,
    traffic_light_chart,
    utilisation_chart,
)
from risk_pipeline.report.forked import Forked
from risk_pipeline.report.frtb_section import capital_chart, latest_desks
from risk_pipeline.report.html import render_html
from risk_pipeline.report.summary import (
    ReportData,
    ReportHead,
    ReportHistory,
    ReportSettings,
    build_report_data,
    read_head,
    read_history,
)
from risk_pipeline.risk.backtests.traffic_light import basel_zone_thresholds
from risk_pipeline.storage.csv_export import csv_bytes

HTML_FILE = "risk_report.html"
SUMMARY_FILE = "summary.json"
OVERVIEW_PNG = "traffic_light.png"
FRTB_PNG = "frtb_capital.png"
PUBLICATIONS = ".publications"
CSV_TABLES = ("traffic_light", "backtests", "ranking", "statistics", "latest_var", "pnl_vs_var")
SUMMARY_KEYS = (
    "as_of", "chart_start", "portfolios", "base_currency", "methods", "red_zone", "recommended_method",
    "traffic_light", "ranking", "statistics", "latest_var", "verdict_counts", "overlapping_observations",
    "optional_tables", "model_confidence_set", "frtb", "official", "alerts", "settings", "table_versions", "files",
)  # fmt: skip


@dataclass(frozen=True)
class ReportFiles:
    folder: Path
    html: Path
    summary: Path
    overview_png: Path | None
    csvs: tuple[Path, ...]
    overview_uri: str | None


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as exc:
        if exc.filename is not None:
            raise
        # an error of the write itself (a full disk) does not name the file: say which one
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


@contextmanager
def _publishing(store: Path) -> Iterator[None]:
    """Hold the lock of one date's publications (``store``) while a publication is written."""
    store.mkdir(parents=True, exist_ok=True)
    with open(store / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _point(link: Path, folder: Path) -> Path | None:
    """Make ``link`` a symbolic link to ``folder`` by one rename; the publication it showed before
    (None: none). A plain directory at ``link`` (written by an earlier version) is first moved among
    the publications; a staged link a killed publication left is removed."""
    for staged in link.parent.glob(f".{link.name}.*.link"):
        staged.unlink(missing_ok=True)
    previous = None
    if link.is_symlink():
        previous = link.resolve()
    elif link.is_dir():
        previous = folder.parent / f"{link.stat().st_mtime_ns:020d}-earlier"  # older than ``folder``
        os.rename(link, previous)
    staged = link.with_name(f".{link.name}.{uuid.uuid4().hex}.link")
    os.symlink(os.path.relpath(folder, link.parent), staged)
    os.replace(staged, link)
    return previous


def _sweep(store: Path, shown: Path | None, current: Path) -> None:
    """Remove what the date's dead publications left: the folders of those that died before they were
    complete (``.tmp``) and those completed but killed before their link was made (newer than
    ``shown``, the publication the link showed before ``current``; every one when none was shown).
    Every publication that was shown is kept (``publications``; ``risk-pipeline report --as-of D
    --version N``)."""
    for path in store.iterdir():
        dead = path.name.endswith(".tmp") or shown is None or path.name > shown.name
        if path.is_dir() and path != current and dead:
            shutil.rmtree(path, ignore_errors=True)


def publications(root: Path, as_of) -> list[Path]:
    """The complete publications of ``as_of`` under the reports folder ``root``, oldest first
    (version 1 is the first)."""
    store = root / PUBLICATIONS / as_of.isoformat()
    return sorted(p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")) if store.is_dir() else []


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
        "model_confidence_set": {p: sentence for p, (_, sentence) in data.model_confidence_sets.items()},
        "frtb": {"capital": _records(data.extras["frtb_capital"]) if "frtb_capital" in data.extras else [],
                 "desks": _records(latest_desks(data.extras))},
        "official": _records(data.morning.books) if data.morning is not None else [],
        "alerts": [{"level": a.level, "text": a.text} for a in data.morning.alerts] if data.morning is not None else [],
        "settings": {"chart_years": data.settings.chart_years, "risk_free": data.settings.risk_free},
        "table_versions": data.table_versions,
        "files": files,
    }
    return {k: out[k] for k in SUMMARY_KEYS}


def write_report(data: ReportData, root: Path, child: Forked[dict[str, bytes]] | None = None) -> ReportFiles:
    """Render and publish the report of ``data.as_of`` as ``root/<as_of>/`` (``scores.csv`` when
    ``var_scores`` is stored for the date), whole or not at all (module doc); ``child``: its charts
    started already (:func:`start_charts`)."""
    link = root / data.as_of.isoformat()
    store = root / PUBLICATIONS / data.as_of.isoformat()
    with _publishing(store):
        staging = store / f".{uuid.uuid4().hex}.tmp"
        staging.mkdir()
        try:
            names = write_files(data, staging, child)
            folder = store / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
            os.rename(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        previous = _point(link, folder)
        _sweep(store, previous, folder)
    overview = link / OVERVIEW_PNG if names.overview_uri else None
    return ReportFiles(link, link / HTML_FILE, link / SUMMARY_FILE, overview, tuple(link / n for n in names.csvs),
                       names.overview_uri)


@dataclass(frozen=True)
class _Written:
    csvs: tuple[str, ...]
    overview_uri: str | None


_PLACE = "\0chart {}\0"  # a child's chart in the page until it is drawn (no NUL in the page otherwise)


def _child_jobs(head: ReportHead | ReportData) -> dict[str, Callable[[], bytes]]:
    """What draws each chart of the child process but the P&L charts (a PNG), by chart name: those of the
    report's first part (summary.read_head), drawn first, while this process reads the P&L-vs-VaR history
    (summary.read_history) which the child's P&L charts show next; with them, about half of the charts'
    time (:func:`_charts` draws the others here)."""
    jobs = {}
    if "var_decomposition" in head.extras:
        jobs["component_var"] = lambda: component_var_chart(head.extras["var_decomposition"])
    if len(head.limit_history):
        jobs["utilisation"] = lambda: utilisation_chart(head.limit_history)
    return jobs


def _charts(data: ReportData, yellow: int, red: int) -> dict[str, Callable[[], bytes]]:
    """What draws each of the other charts of the report (a PNG), by chart name."""
    jobs = {}
    if len(data.traffic_light):
        jobs["traffic_light"] = lambda: traffic_light_chart(data.traffic_light, data.trailing, yellow, red)
    if "stress_results" in data.extras:
        jobs["stress"] = lambda: stress_chart(data.extras["stress_results"])
    if len(data.frtb_capital) and data.frtb_capital["capital_charge"].notna().any():
        jobs["frtb_capital"] = lambda: capital_chart(data.frtb_capital)
    return jobs


def _charted(portfolios: tuple[str, ...], pnl_vs_var: pd.DataFrame) -> list[str]:
    """The portfolios that have a P&L chart, in the page's order."""
    return [p for p in portfolios if pnl_vs_var["portfolio"].eq(p).any()]


def _child_charts(head: ReportHead | ReportData, receive: Callable[[], pd.DataFrame]) -> dict[str, bytes]:
    """The charts of :func:`_child_jobs`, then each portfolio's P&L-vs-VaR chart by portfolio, on one figure
    (charts.PnlVsVarFigure), from the rows ``receive()`` returns (the report's ``pnl_vs_var``)."""
    charts = {name: job() for name, job in _child_jobs(head).items()}
    pnl_vs_var = receive()
    yellow, red = basel_zone_thresholds(head.trailing)
    pnl_chart = PnlVsVarFigure(head.trailing, yellow, red)
    for portfolio in _charted(head.portfolios, pnl_vs_var):
        charts[portfolio] = pnl_chart.png(pnl_vs_var.loc[pnl_vs_var["portfolio"].eq(portfolio)], portfolio)
    return charts


def start_charts(head: ReportHead | ReportData) -> Forked[dict[str, bytes]]:
    """The :func:`_child_jobs` of ``head``, then the portfolios' P&L charts of the ``pnl_vs_var`` rows sent to it
    (:func:`charted_history`), drawn in a forked child process (report.forked) from now on;
    :func:`write_files` takes them."""
    return Forked(lambda receive: _child_charts(head, receive), "the report's P&L charts", inbox=True)


def charted_history(head: ReportHead, child: Forked[dict[str, bytes]]) -> ReportHistory:
    """The report's P&L-vs-VaR history (:func:`read_history`), its rows sent to the ``child`` drawing the
    P&L charts (:func:`start_charts`)."""
    history = read_history(head)
    child.send(history.pnl_vs_var)
    return history


def publish_report(as_of, settings: ReportSettings, root: Path) -> tuple[ReportData, ReportFiles]:
    """Read the report's data of ``as_of`` and publish it under ``root`` (:func:`write_report`): the
    child's charts drawn from the data's first parts while this process reads the rest. The cyclic
    collector is paused meanwhile: its 120-180 collections walked the process's every object for
    0.2-0.3 s of a day's report; what the report leaves in cycles (its figures) is collected after."""
    paused = gc.isenabled()
    gc.disable()
    try:
        head = read_head(as_of, settings)
        with start_charts(head) as child:
            data = build_report_data(as_of, settings, head, charted_history(head, child))
            return data, write_report(data, root, child)
    finally:
        if paused:
            gc.enable()


def write_files(data: ReportData, folder: Path, child: Forked[dict[str, bytes]] | None = None) -> _Written:
    """Every file of the report, written into ``folder``: the portfolios' P&L charts and the
    :func:`_child_jobs` drawn in a forked child (``child``, :func:`start_charts`; started here when None)
    while this process draws the other charts, writes the CSVs and renders the page, whose places for
    the child's charts (``_PLACE``) then get their data URIs."""
    yellow, red = basel_zone_thresholds(data.trailing)
    jobs = _charts(data, yellow, red)
    if child is None:
        child = start_charts(data)
        child.send(data.pnl_vs_var)
    with child:
        drawn = {name: job() for name, job in jobs.items()}
        csvs = []
        for name, frame in _csv_frames(data).items():
            _write(folder / f"{name}.csv", csv_bytes(frame))
            csvs.append(f"{name}.csv")
        # the P&L charts first, then the others
        names = _charted(data.portfolios, data.pnl_vs_var) + list(_child_jobs(data)) + list(jobs)
        pngs = {file: name for file, name in ((OVERVIEW_PNG, "traffic_light"), (FRTB_PNG, "frtb_capital")) if name in names}
        files = [SUMMARY_FILE] + csvs + list(pngs)
        _write(folder / SUMMARY_FILE, json.dumps(summary_dict(data, [HTML_FILE] + files), indent=2, default=str).encode())
        page = render_html(data, {name: data_uri(drawn[name]) if name in drawn else _PLACE.format(name) for name in names},
                           files)
        drawn |= child.result()
    for file, name in pngs.items():
        _write(folder / file, drawn[name])
    page = re.sub(_PLACE.format("([^\0]*)"), lambda match: data_uri(drawn[match.group(1)]), page)
    _write(folder / HTML_FILE, page.encode("utf-8"))
    return _Written(tuple(csvs), data_uri(drawn["traffic_light"]) if "traffic_light" in drawn else None)
