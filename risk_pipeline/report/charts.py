"""Charts of the risk report as PNG bytes (matplotlib's object API and Agg canvas: no
pyplot state, no display, nothing fetched), embedded in the HTML as base64 data URIs."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

ZONE_COLORS = {"green": "#2e9d4a", "yellow": "#e0b000", "red": "#d62728", "insufficient_data": "#999999"}
_METHOD_COLORS = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#7f7f7f", "#bcbd22"]


def png_bytes(fig: Figure, dpi: int = 90) -> bytes:
    """The figure as PNG at its own size: every chart lays itself out with ``tight_layout`` (legends
    outside the axes included), so ``bbox_inches="tight"``, which draws the figure twice, would
    only trim a margin (a quarter of the report's chart time)."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _method_colors(methods) -> dict[str, str]:
    return {m: _METHOD_COLORS[i % len(_METHOD_COLORS)] for i, m in enumerate(sorted(methods))}


def pnl_vs_var_chart(rows: pd.DataFrame, portfolio: str, trailing: int, yellow_from: int, red_from: int) -> bytes:
    """One portfolio: realized daily return against -VaR of each method per confidence (breaches
    marked), and the rolling ``trailing``-day breach counts with the Basel zone thresholds."""
    confidences = sorted(rows["confidence"].unique(), reverse=True)
    colors = _method_colors(rows["method"].unique())
    fig = Figure(figsize=(13, 3.2 * (len(confidences) + 1)))
    axes = fig.subplots(len(confidences) + 1, 1, sharex=True, squeeze=False)[:, 0]
    for ax, confidence in zip(axes, confidences):
        at = rows.loc[rows["confidence"].eq(confidence)]
        realized = at.drop_duplicates("date").set_index("date")["simple_return"].sort_index()
        ax.plot(realized.index, 100 * realized.to_numpy(), color="#b0b0b0", lw=0.6, label="realized return")
        for method, series in at.groupby("method", sort=True):
            series = series.sort_values("date")
            ax.plot(series["date"], -100 * series["var"], color=colors[method], lw=1.0, label=f"-VaR {method}")
            hits = series.loc[series["breach"]]
            ax.scatter(hits["date"], 100 * hits["simple_return"], color=colors[method], marker="v", s=18,
                       zorder=3, label=f"breach {method} ({len(hits)})")
        ax.axhline(0.0, color="black", lw=0.4)
        ax.set_ylabel("% of value")
        ax.set_title(f"{portfolio}: daily return vs VaR at {confidence:.0%}, horizon 1 day", fontsize=10, loc="left")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(alpha=0.3)
    ax = axes[-1]
    for (method, confidence), series in rows.groupby(["method", "confidence"], sort=True):
        series = series.sort_values("date")
        style = "-" if confidence >= 0.99 else "--"
        ax.plot(series["date"], series["rolling_breaches"], style, color=colors[method], lw=1.0,
                label=f"{method} {confidence:.0%}")
    ax.axhline(yellow_from, color=ZONE_COLORS["yellow"], lw=1.0, ls=":", label=f"yellow zone from {yellow_from} (99%)")
    ax.axhline(red_from, color=ZONE_COLORS["red"], lw=1.0, ls=":", label=f"red zone from {red_from} (99%)")
    ax.set_ylabel(f"breaches in last {trailing} days")
    ax.set_title(f"{portfolio}: rolling breach counts", fontsize=10, loc="left")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return png_bytes(fig)


def traffic_light_chart(traffic_light: pd.DataFrame, trailing: int, yellow_from: int, red_from: int) -> bytes:
    """Breaches in the trailing window at 99% per portfolio and method, bars coloured by zone."""
    labels = [f"{p}\n{m}" for p, m in zip(traffic_light["portfolio"], traffic_light["method"])]
    fig = Figure(figsize=(max(4.0, 0.9 * len(labels) + 2), 3.0))
    ax = fig.subplots()
    x = np.arange(len(labels))
    ax.bar(x, traffic_light["n_breaches"], color=[ZONE_COLORS.get(z, "#999999") for z in traffic_light["traffic_light"]])
    ax.axhline(yellow_from, color=ZONE_COLORS["yellow"], ls=":", lw=1.0)
    ax.axhline(red_from, color=ZONE_COLORS["red"], ls=":", lw=1.0)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("breaches")
    ax.set_title(f"Basel traffic light: breaches at 99% over the last {trailing} days", fontsize=9, loc="left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return png_bytes(fig, dpi=80)


def score_chart(rows: pd.DataFrame, portfolio: str, days: int) -> bytes:
    """Mean FZ0 loss of each method minus the best's (99%, 1 day, last ``days`` trading days):
    green bars in the 90% Model Confidence Set, red outside; the label is the DM p-value."""
    fig = Figure(figsize=(8.0, 0.45 * len(rows) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(rows))
    colors = [ZONE_COLORS["green"] if flag else ZONE_COLORS["red"] for flag in rows["in_mcs"]]
    ax.barh(y, rows["fz0_diff_to_best"], color=colors)
    for i, (diff, p) in enumerate(zip(rows["fz0_diff_to_best"], rows["dm_p"])):
        ax.annotate(f" DM p={p:.3f}", (diff, i), va="center", fontsize=7)
    ax.set_yticks(y, rows["method"], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("mean FZ0 loss minus the best method's (lower is better)")
    ax.set_title(f"{portfolio}: FZ0 loss against the best, 99%, 1 day, last {days} days "
                 "(green: in the 90% MCS)", fontsize=9, loc="left")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return png_bytes(fig, dpi=80)
