"""report.glyphs: the report's Agg canvas, whose renderer reuses the texts' layouts, the glyphs' bitmaps
and the texts' extents it computed before, draws the pixels matplotlib's Agg canvas draws."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from risk_pipeline.report import glyphs
from risk_pipeline.report.glyphs import CachedTextCanvas, CachedTextRenderer

pytestmark = pytest.mark.skipif(not glyphs.SUPPORTED, reason="matplotlib without the private text methods")


def _figure(shift: float) -> Figure:
    """Texts of several sizes, angles, weights and antialiasing, at positions ``shift`` pixels apart
    (fractions of a pixel: each glyph lands on another sub-pixel offset)."""
    fig = Figure(figsize=(6.1, 3.3), dpi=90)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0.013, -0.02, 0.031], lw=0.8, label="historical")
    ax.set_title("book_a: daily return vs -VaR at 99%, horizon 1 day (\u25bc breach)", fontsize=10, loc="left")
    ax.set_ylabel("% of value")
    ax.set_xticks([0, 1, 2], ["2020", "2021", "2022"], rotation=20, ha="right", fontsize=7)
    ax.legend(fontsize=8, frameon=False)
    for i in range(12):
        ax.text(0.05 + i * (0.07 + shift / 549), 0.1 + (i % 4) * (0.2 + shift / 297), f"{i * 7 - 30}",
                transform=ax.transAxes, fontsize=(7, 8, 9, 10)[i % 4], rotation=(0, 25, 90, 0)[i % 4],
                weight="bold" if i % 5 == 0 else "normal", antialiased=i % 3 != 2)
    return fig


def _pixels(canvas: FigureCanvasAgg) -> np.ndarray:
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def test_the_cached_canvas_draws_matplotlib_s_pixels_drawn_again_and_at_other_sub_pixel_positions(monkeypatch):
    for cache in ("_layouts", "_bitmaps", "_extents", "_heights"):
        monkeypatch.setattr(glyphs, cache, {})  # empty, as in a new process
    for shift in (0.0, 0.37, 0.0, 1.61, 0.37):  # the first draw fills the caches, the later ones hit them
        expected = _pixels(FigureCanvasAgg(_figure(shift)))
        cached = CachedTextCanvas(_figure(shift))
        got = _pixels(cached)
        assert isinstance(cached.get_renderer(), CachedTextRenderer)
        assert got.shape == expected.shape
        assert np.array_equal(got, expected), f"shift {shift}: {np.count_nonzero((got != expected).any(axis=2))} pixels differ"
    assert glyphs._bitmaps and glyphs._layouts and glyphs._extents and glyphs._heights


def test_a_full_cache_is_emptied_before_it_grows(monkeypatch):
    monkeypatch.setattr(glyphs, "MAX_ENTRIES", 5)
    for cache in ("_layouts", "_bitmaps", "_extents", "_heights"):
        monkeypatch.setattr(glyphs, cache, {})
    expected = _pixels(FigureCanvasAgg(_figure(0.5)))
    assert np.array_equal(_pixels(CachedTextCanvas(_figure(0.5))), expected)
    assert 0 < len(glyphs._bitmaps) <= 5 and 0 < len(glyphs._layouts) <= 5 and 0 < len(glyphs._extents) <= 5
