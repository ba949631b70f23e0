"""Charts of the risk report as PNG bytes (matplotlib's object API and Agg canvas: no
pyplot state, no display, nothing fetched), embedded in the HTML as base64 data URIs."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter, YearLocator, date2num
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PIL import Image

from risk_pipeline.report.glyphs import CachedTextCanvas
from risk_pipeline.report.series import series_starts

ZONE_COLORS = {"green": "#2e9d4a", "yellow": "#e0b000", "red": "#d62728", "insufficient_data": "#999999"}
_METHOD_COLORS = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#7f7f7f", "#bcbd22"]


PNG_COLORS = 128  # a chart's palette: its few line colours and their anti-aliased edges
# zlib's default level: 7% larger PNGs than level 9 (Pillow's ``optimize``), written 7 times faster
PNG_COMPRESS_LEVEL = 6
PNG_DPI = 90  # the P&L charts' and the FRTB chart's; the others' 80


def png_bytes(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as a palette PNG at its own size: every chart lays itself out (``fixed_margins``), so
    ``bbox_inches="tight"``, which draws the figure twice, would only trim a margin. A figure drawn
    again (:class:`PnlVsVarFigure`) keeps its canvas, whose renderer holds the sizes of the texts it drew."""
    return canvas_png(drawn(fig, dpi))


def drawn(fig: Figure, dpi: int) -> FigureCanvasAgg:
    """The figure drawn at ``dpi`` on its Agg canvas (made at the first draw), one whose text drawing reuses
    the layouts and glyph bitmaps of the report's charts drawn before (report.glyphs: the same pixels)."""
    canvas = fig.canvas if isinstance(fig.canvas, CachedTextCanvas) else CachedTextCanvas(fig)
    _unlabelled_axes_fixed(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return canvas


def _unlabelled_axes_fixed(fig: Figure) -> None:
    """Give each axis without a label (an empty text, which draws nothing) a fixed label position:
    matplotlib places an axis' label beyond its tick labels at every draw, making the ticks and measuring
    every tick label of the axes (and of the axes sharing it) once more, for a label that is not drawn.
    The same pixels."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.label.get_text():
                axis.set_label_coords(0.5, 0.5)


def canvas_png(canvas: FigureCanvasAgg) -> bytes:
    """The canvas's pixels as a palette PNG: a palette of ``PNG_COLORS`` (octree: each method's colour kept)
    makes a P&L chart about a quarter of the RGBA PNG; compressed at ``PNG_COMPRESS_LEVEL`` (level 9 took
    0.07 s of a P&L chart's 0.23 s)."""
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(colors=PNG_COLORS, method=Image.Quantize.FASTOCTREE).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def fixed_margins(fig: Figure, left: float, right: float, top: float = 0.35, bottom: float = 0.45,
                  hspace: float = 0.32) -> None:
    """Place the axes ``left``/``right``/``top``/``bottom`` inches from the figure's edges: the
    charts' labels have known lengths, and ``tight_layout``, which measures every label, took
    as long as drawing a chart."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        hspace=hspace)


def left_title(ax, text: str, fontsize: float = 10) -> None:
    """``text`` as the axes' title, at its top left and at a fixed height: a title matplotlib
    places itself is lifted above any tick labels at the top, which it finds by measuring every
    tick label of the axes at each draw (a tenth of a P&L chart's time); these axes have none."""
    ax.set_title(text, fontsize=fontsize, loc="left", y=1.0)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _method_colors(methods) -> dict[str, str]:
    return {m: _METHOD_COLORS[i % len(_METHOD_COLORS)] for i, m in enumerate(sorted(methods))}


def _years_axis(ax) -> None:
    """A date axis (dates as matplotlib day numbers) with a tick per year, labelled by the year."""
    ax.xaxis.set_major_locator(YearLocator())
    ax.xaxis.set_major_formatter(DateFormatter("%Y"))


class PnlVsVarFigure:
    """The P&L-vs-VaR chart of one portfolio after another (:meth:`png`): one figure, its axes and their
    ticks made once for every portfolio charted with as many confidence levels (a panel each, and one of
    the rolling breach counts), each portfolio's lines drawn in place of the one's before: making the
    figure and its ticks took about a quarter of a chart's time. A portfolio whose lines have the styles of
    the one's before (the same methods and confidence levels) takes over its lines (new data) and legend:
    making 50 lines and a legend took a fifth of the rest; its legend, in the right margin where nothing
    else is drawn, is then not drawn again but its pixels copied back (matplotlib's blitting:
    ``copy_from_bbox``, ``restore_region``): drawing it took a quarter of a chart's draw. The same
    pixels as a figure made for each portfolio."""

    def __init__(self, trailing: int, yellow_from: int, red_from: int) -> None:
        self.trailing, self.yellow_from, self.red_from = trailing, yellow_from, red_from
        self._figures: dict[int, tuple[Figure, np.ndarray]] = {}  # by number of panels
        self._drawn: dict[int, tuple[list, list]] = {}  # by number of panels: the lines' styles and the legend's

    def _figure(self, n_axes: int) -> tuple[Figure, np.ndarray]:
        if n_axes not in self._figures:
            fig = Figure(figsize=(13, 2.9 * n_axes + 0.4))
            fixed_margins(fig, left=0.8, right=2.35)
            axes = fig.subplots(n_axes, 1, sharex=True, squeeze=False)[:, 0]
            for ax in axes[:-1]:
                ax.set_ylabel("% of value")
            axes[-1].set_ylabel(f"breaches in last {self.trailing} days")
            for ax in axes:
                ax.grid(alpha=0.3)
            _years_axis(axes[-1])
            self._figures[n_axes] = fig, axes
        return self._figures[n_axes]

    def _draw_lines(self, axes: np.ndarray, panels: list[list[tuple]]) -> None:
        """Each panel's lines, ``(x, y, style)`` in drawing order (x None: a horizontal line at y): the
        figure's lines given new data when their styles are those of the portfolio drawn before, else
        made again (the drawing order, hence the pixels where lines cross, is a new figure's)."""
        styles = [[(y if x is None else None, style) for x, y, style in lines] for lines in panels]
        fig = axes[0].figure
        if self._drawn.get(len(axes), (None,))[0] == styles:
            for ax, lines in zip(axes, panels):
                for line, (x, y, _) in zip(ax.lines, lines):
                    if x is not None:
                        line.set_data(x, y)
            return
        for ax, lines in zip(axes, panels):
            for line in list(ax.lines):
                line.remove()
            for x, y, style in lines:
                if x is None:
                    ax.axhline(y, **dict(style))
                else:
                    ax.plot(x, y, **dict(style))
        for legend in list(fig.legends):
            legend.remove()
        self._drawn[len(axes)] = styles, None

    def png(self, rows: pd.DataFrame, portfolio: str) -> bytes:
        """One portfolio: realized daily return against -VaR of each method per confidence (breaches
        marked), and the rolling ``trailing``-day breach counts with the Basel zone thresholds; one
        legend for the figure (a colour per method; solid 99%, dashed 95% in the counts: a legend
        per axes, 52 entries, took a third of the chart's time). The rows are sorted once and each
        line is a slice of them (confidence descending, method, date; the methods by their codes in
        name order, not as Python strings), its dates converted to day numbers once."""
        yellow_from, red_from = self.yellow_from, self.red_from
        codes, names = pd.factorize(rows["method"], sort=True)
        confidence, date = rows["confidence"].to_numpy(), rows["date"].to_numpy()
        order = np.lexsort((date, codes, -confidence))
        codes, confidence, day = codes[order], confidence[order], date2num(date[order])
        method = np.asarray(names, dtype=object)[codes]
        returns, var = 100 * rows["simple_return"].to_numpy()[order], -100 * rows["var"].to_numpy()[order]
        breach, counts = rows["breach"].to_numpy(dtype=bool)[order], rows["rolling_breaches"].to_numpy()[order]
        starts = series_starts(confidence, codes)
        series = list(zip(starts, np.r_[starts[1:], len(rows)]))
        confidences = list(dict.fromkeys(confidence[starts]))
        colors = _method_colors(set(method))
        fig, axes = self._figure(len(confidences) + 1)
        panels = []
        for ax, level in zip(axes, confidences):
            shown = [(a, b) for a, b in series if confidence[a] == level]
            a, b = shown[0]
            lines = [(day[a:b], returns[a:b], (("color", "#b0b0b0"), ("lw", 0.6)))]
            for a, b in shown:
                color = colors[method[a]]
                hit = a + np.flatnonzero(breach[a:b])
                lines += [(day[a:b], var[a:b], (("color", color), ("lw", 1.0))),
                          (day[hit], returns[hit], (("linestyle", "none"), ("color", color), ("marker", "v"),
                                                    ("markersize", 4), ("zorder", 3)))]
            panels.append(lines + [(None, 0.0, (("color", "black"), ("lw", 0.4)))])
            left_title(ax, f"{portfolio}: daily return vs -VaR at {level:.0%}, horizon 1 day (\u25bc breach)")
        panels.append([(day[a:b], counts[a:b], (("linestyle", "-" if confidence[a] >= 0.99 else "--"),
                                                ("color", colors[method[a]]), ("lw", 1.0))) for a, b in series]
                      + [(None, yellow_from, (("color", ZONE_COLORS["yellow"]), ("lw", 1.0), ("ls", ":"))),
                         (None, red_from, (("color", ZONE_COLORS["red"]), ("lw", 1.0), ("ls", ":")))])
        self._draw_lines(axes, panels)
        left_title(axes[-1], f"{portfolio}: rolling breach counts (solid 99%, dashed 95%)")
        for ax in axes:  # the data limits of this portfolio's lines alone, as in a new figure, then the
            ax.relim()  # view limits from them (the x axis is shared: from every panel's)
        for ax in axes:
            ax.autoscale_view()
        methods = sorted(colors)
        styles, legend = self._drawn[len(axes)]
        if legend is not None and legend[0] == (methods, [colors[m] for m in methods]):
            fig.legends[0].set_visible(False)  # its pixels are those drawn for the portfolio before
            canvas = drawn(fig, PNG_DPI)
            fig.legends[0].set_visible(True)
            canvas.restore_region(legend[1])
            return canvas_png(canvas)
        for old in list(fig.legends):
            old.remove()
        key = [Line2D([], [], color="#b0b0b0", lw=0.6, label="realized return")]
        key += [Line2D([], [], color=colors[m], lw=1.0, label=m) for m in methods]
        key += [Line2D([], [], color=ZONE_COLORS["yellow"], lw=1.0, ls=":", label=f"yellow zone from {yellow_from} (99%)"),
                Line2D([], [], color=ZONE_COLORS["red"], lw=1.0, ls=":", label=f"red zone from {red_from} (99%)")]
        key = fig.legend(handles=key, fontsize=8, loc="upper right", bbox_to_anchor=(1.0, axes[0].get_position().y1),
                         frameon=False)
        canvas = drawn(fig, PNG_DPI)
        pixels = canvas.copy_from_bbox(key.get_window_extent(canvas.get_renderer()))
        self._drawn[len(axes)] = styles, ((methods, [colors[m] for m in methods]), pixels)
        return canvas_png(canvas)


def traffic_light_chart(traffic_light: pd.DataFrame, trailing: int, yellow_from: int, red_from: int) -> bytes:
    """Breaches at 99% in the trailing window as a grid, a row per portfolio and a column per
    method, each cell coloured by its Basel zone and labelled with its count."""
    grid = traffic_light.pivot(index="portfolio", columns="method", values="n_breaches").sort_index()
    zones = traffic_light.pivot(index="portfolio", columns="method", values="traffic_light").reindex_like(grid)
    portfolios, methods = list(grid.index), list(grid.columns)
    fig = Figure(figsize=(1.2 * len(methods) + 1.8, 0.42 * len(portfolios) + 1.1))
    ax = fig.subplots()
    for i, portfolio in enumerate(portfolios):
        for j, method in enumerate(methods):
            zone, count = zones.iat[i, j], grid.iat[i, j]
            ax.add_patch(Rectangle((j, i), 0.96, 0.92, color=ZONE_COLORS.get(zone, "#ffffff") if pd.notna(zone) else "#ffffff"))
            if pd.notna(count):
                ax.text(j + 0.48, i + 0.46, f"{int(count)}", ha="center", va="center", fontsize=9, color="white")
    ax.set_xlim(0, len(methods))
    ax.set_ylim(len(portfolios), 0)
    ax.set_xticks(np.arange(len(methods)) + 0.48, methods, fontsize=7, rotation=20, ha="right")
    ax.set_yticks(np.arange(len(portfolios)) + 0.46, portfolios, fontsize=8)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    left_title(ax, f"Basel traffic light: breaches at 99% over the last {trailing} days "
                   f"(yellow from {yellow_from}, red from {red_from})", fontsize=9)
    fixed_margins(fig, left=1.3, right=0.2, top=0.3, bottom=0.6)
    return png_bytes(fig, dpi=80)


def component_var_chart(decomposition: pd.DataFrame) -> bytes:
    """Each book's component VaR (Euler, share of the book's VaR) per position, a panel per book,
    the largest contributions on top."""
    books = sorted(decomposition["portfolio"].unique())
    rows = max(decomposition.groupby("portfolio").size().max(), 1)
    fig = Figure(figsize=(13, 0.22 * rows * ((len(books) + 2) // 3) + 0.9 * ((len(books) + 2) // 3)))
    axes = fig.subplots((len(books) + 2) // 3, 3, squeeze=False)
    for ax in axes.ravel()[len(books):]:
        ax.set_visible(False)
    for ax, book in zip(axes.ravel(), books):
        mine = decomposition.loc[decomposition["portfolio"].eq(book)].sort_values("pct_contribution")
        share = 100 * mine["pct_contribution"].to_numpy()
        ax.barh(np.arange(len(mine)), share, color=np.where(share >= 0, "#1f77b4", "#2e9d4a"))
        ax.set_yticks(np.arange(len(mine)), mine["symbol"], fontsize=7)
        ax.axvline(0.0, color="black", lw=0.4)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel("% of the book's VaR", fontsize=7)
        left_title(ax, book, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    fixed_margins(fig, left=0.7, right=0.2, top=0.3, bottom=0.5, hspace=0.5)
    fig.subplots_adjust(wspace=0.35)
    return png_bytes(fig, dpi=80)


def stress_chart(stress: pd.DataFrame) -> bytes:
    """Loss of each book under each scenario, as % of its value (a group of bars per scenario)."""
    books = sorted(stress["portfolio"].unique())
    grid = stress.pivot_table(index="scenario", columns="portfolio", values="simple_return", aggfunc="first")
    grid = grid.reindex(columns=books).loc[lambda g: g.min(axis=1).sort_values().index]
    fig = Figure(figsize=(13, 3.8))
    ax = fig.subplots()
    width = 0.8 / max(len(books), 1)
    colors = _method_colors(books)
    for i, book in enumerate(books):
        ax.bar(np.arange(len(grid)) + i * width, 100 * grid[book].to_numpy(), width, color=colors[book], label=book)
    ax.set_xticks(np.arange(len(grid)) + 0.4 - width / 2, grid.index, fontsize=7, rotation=25, ha="right")
    ax.axhline(0.0, color="black", lw=0.4)
    ax.set_ylabel("P&L, % of value")
    left_title(ax, "Stress scenarios: P&L of the positions held, % of each book's value")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3, axis="y")
    fixed_margins(fig, left=0.8, right=1.7, bottom=1.3)
    return png_bytes(fig, dpi=80)


def utilisation_chart(limits: pd.DataFrame) -> bytes:
    """Utilisation of each limit over time, a panel per book, with the limit (100%)."""
    books = sorted(limits["portfolio"].unique())
    ncols = 3
    nrows = (len(books) + ncols - 1) // ncols
    fig = Figure(figsize=(13, 2.4 * nrows + 0.4))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    for ax in axes.ravel()[len(books):]:
        ax.set_visible(False)
    for ax, book in zip(axes.ravel(), books):
        mine = limits.loc[limits["portfolio"].eq(book)].sort_values("date")
        for (measure, horizon), rows in mine.groupby(["measure", "horizon_days"], sort=True):
            label = f"{'ES' if measure == 'es' else 'VaR'} {horizon}d"
            ax.plot(date2num(rows["date"].to_numpy()), 100 * rows["utilization"].to_numpy(), lw=0.8, label=label)
        ax.axhline(100.0, color=ZONE_COLORS["red"], lw=0.8, ls=":")
        ax.tick_params(labelsize=7)
        ax.set_ylabel("% of limit", fontsize=7)
        left_title(ax, book, fontsize=9)
        ax.legend(fontsize=6, loc="upper left", frameon=False, ncols=2)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m"))
    fixed_margins(fig, left=0.6, right=0.2, top=0.3, bottom=0.4, hspace=0.45)
    return png_bytes(fig, dpi=80)
