"""The report's P&L-vs-VaR charts: one figure redrawn for portfolio after portfolio gives the pixels
a figure made for each portfolio alone gives."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

from risk_pipeline.report.charts import PnlVsVarFigure


def _rows(portfolio: str, start: str, days: int, methods: list[str], confidences: list[float], seed: int) -> pd.DataFrame:
    """Synthetic ``pnl_vs_var`` rows: a return series and per method and confidence a VaR, the breaches and
    their rolling count over 20 days."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=days)
    returns = rng.normal(0.0, 0.01 * (1 + seed), days)
    frames = []
    for method in methods:
        for confidence in confidences:
            var = np.abs(rng.normal(0.02 * confidence * (1 + seed), 0.004, days))
            breach = -returns > var
            frames.append(pd.DataFrame({
                "date": dates, "portfolio": portfolio, "method": method, "confidence": confidence,
                "simple_return": returns, "var": var, "breach": breach,
                "rolling_breaches": pd.Series(breach.astype(int)).rolling(20, min_periods=1).sum().to_numpy(),
            }))
    return pd.concat(frames, ignore_index=True)


def _pixels(png: bytes) -> tuple[tuple[int, int], bytes]:
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    return image.size, image.tobytes()


def test_a_figure_redrawn_for_each_portfolio_gives_the_pixels_of_a_new_figure_per_portfolio():
    # the portfolios differ in what a figure left from the one before could carry over: the dates (a
    # longer, later and shorter history: the shared date axis), the scale of the returns and VaR (the
    # y axes), the methods (lines and legend) and the confidence levels (two panels, then one); the last
    # has the methods and levels of the one before, whose lines and legend it takes over
    books = [
        ("wide", _rows("wide", "2018-01-01", 900, ["historical", "parametric_normal", "ewma"], [0.99, 0.95], 0)),
        ("late", _rows("late", "2020-06-01", 300, ["historical"], [0.99, 0.95], 3)),
        ("single", _rows("single", "2019-03-01", 500, ["garch", "historical"], [0.99], 1)),
        ("again", _rows("again", "2017-01-02", 1200, ["historical", "parametric_normal"], [0.99, 0.95], 2)),
        ("same_lines", _rows("same_lines", "2019-09-02", 700, ["historical", "parametric_normal"], [0.99, 0.95], 4)),
    ]
    reused = PnlVsVarFigure(20, 5, 10)
    for name, rows in books:
        again = _pixels(reused.png(rows, name))
        alone = _pixels(PnlVsVarFigure(20, 5, 10).png(rows, name))
        assert again[0] == alone[0], name
        assert again[1] == alone[1], f"{name}: the redrawn figure's pixels differ from a new figure's"


def test_an_axis_without_a_label_is_drawn_with_the_pixels_of_one_matplotlib_places_itself():
    # the label's place is fixed (charts.drawn) only where there is no label to draw: the tick labels, shared
    # axes and a labelled axis (placed by its tick labels' widths) give matplotlib's own pixels
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from risk_pipeline.report.charts import drawn

    def figure() -> Figure:
        fig = Figure(figsize=(6, 4))
        top, bottom = fig.subplots(2, 1, sharex=True)
        top.plot(np.arange(50), np.linspace(-3000, 12000, 50))
        bottom.plot(np.arange(50), np.sin(np.arange(50)))
        bottom.set_ylabel("a label")  # placed left of the tick labels, as wide as they are
        top.set_title("a title", loc="left")
        return fig

    plain = FigureCanvasAgg(figure())
    plain.draw()
    fixed = drawn(figure(), 100)
    assert fixed.figure.axes[0].xaxis._autolabelpos is False and fixed.figure.axes[1].yaxis._autolabelpos is True
    assert np.array_equal(np.asarray(plain.buffer_rgba()), np.asarray(fixed.buffer_rgba()))
