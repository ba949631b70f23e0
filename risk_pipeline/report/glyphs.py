"""An Agg canvas whose text drawing reuses what it computed before, for the report's charts: the same
pixels as matplotlib's Agg canvas, less of its per-glyph work.

matplotlib 3.11's Agg renderer lays out each text it draws (``FT2Font._layout``) and renders each glyph
with FreeType at its position (``_render_glyph``), every time: a day's 16 charts draw some 850 texts (tick
labels, titles, legends) of 6,300 glyphs, where 235 texts and 3,200 bitmaps differ (the same years,
percentages and method names at the same sizes, in chart after chart). :class:`CachedTextRenderer` keeps

* each text's layout, by font object, size, dpi, text and shaping options: ``_layout`` depends on
  nothing else (the font's size is set just before it);
* each glyph's bitmap, by font object, size, dpi, glyph, load flags, antialiasing, the transform's matrix
  and the position's fraction of a pixel (the 26.6 fixed-point offset modulo 64): FreeType renders an
  outline moved by whole pixels to the same bitmap moved by as many pixels, so the bitmap is stored with
  its offset from the position's whole pixels and drawn at the new position's;
* each font's line metrics and each text's extent, by font object, size and dpi (and text), which
  matplotlib keeps per renderer, so every new chart measured again.

A process's caches are emptied when they hold ``MAX_ENTRIES`` (a report adds about 3,500 entries, 2 MB,
the first time; a report of another date a few hundred more).

Where matplotlib lacks the private methods this relies on (another version), the canvas is matplotlib's.
"""

from __future__ import annotations

import math

from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.font_manager import fontManager, get_font
from matplotlib.ft2font import FT2Font, RenderMode

SUPPORTED = all(hasattr(FT2Font, name) for name in ("_layout", "_render_glyph", "_set_transform")) and hasattr(
    RendererAgg, "_draw_text_glyphs_and_boxes"
)

MAX_ENTRIES = 50_000  # about 30 MB of bitmaps

_layouts: dict[tuple, list[tuple]] = {}  # (font, size, dpi, text, flags, features, language) -> glyphs
_bitmaps: dict[tuple, tuple] = {}  # (font, size, dpi, glyph, flags, mode, matrix, x % 64, y % 64) -> bitmap
_extents: dict[tuple, tuple[float, float, float]] = {}  # (font, size, dpi, text, flags) -> width, height, descent
_heights: dict[tuple, tuple[float | None, float | None, float | None]] = {}  # (font, size, dpi) -> ascent, descent, line gap


def _make_room(cache: dict) -> None:
    if len(cache) >= MAX_ENTRIES:
        cache.clear()


class CachedTextRenderer(RendererAgg):
    """:class:`RendererAgg` with the text caches of this module (module doc)."""

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        font = self._prepare_font(prop)
        size = prop.get_size_in_points()
        flags = get_hinting_flag()
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        key = (font, size, self.dpi, s, flags, features, language)
        glyphs = _layouts.get(key)
        if glyphs is None:
            _make_room(_layouts)
            glyphs = _layouts[key] = [(item.ft_object, item.glyph_index, item.x, item.y)
                                      for item in font._layout(s, flags=flags, features=features, language=language)]
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        # RendererAgg._draw_text_glyphs_and_boxes's matrix for a glyph neither slanted nor extended
        matrix = (round(0x10000 * cos), round(0x10000 * -sin), round(0x10000 * sin), round(0x10000 * cos))
        antialiased = gc.get_antialiased()
        mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
        height = self.height
        for ft_object, glyph, dx, dy in glyphs:  # dy is upwards, as FreeType's y
            left = round(0x40 * (x + dx * cos - dy * sin))
            top = round(0x40 * (height - y + dx * sin + dy * cos))
            key = (ft_object, size, self.dpi, glyph, flags, mode, matrix, left & 0x3F, top & 0x3F)
            cached = _bitmaps.get(key)
            if cached is None:
                ft_object.set_size(size, self.dpi)
                ft_object._set_transform([[matrix[0], matrix[1]], [matrix[2], matrix[3]]], [left, top])
                bitmap = ft_object._render_glyph(glyph, flags, mode)
                buffer = bitmap.buffer
                if not antialiased:
                    buffer *= 0xFF
                _make_room(_bitmaps)
                cached = _bitmaps[key] = (buffer, bitmap.left - (left >> 6), bitmap.top - (top >> 6))
            buffer, from_left, from_top = cached
            # draw_text_image's y is downwards, to the bitmap's bottom
            self._renderer.draw_text_image(buffer, from_left + (left >> 6),
                                           int(height) - from_top - (top >> 6) + buffer.shape[0], 0, gc)

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        font = get_font(fontManager._find_fonts_by_props(prop))
        key = (font, prop.get_size_in_points(), self.dpi, s, get_hinting_flag())
        if key not in _extents:
            _make_room(_extents)
            _extents[key] = super().get_text_width_height_descent(s, prop, ismath)
        return _extents[key]

    def _get_font_height_metrics(self, prop):
        """What ``Text._get_layout`` computes from the font's tables when a renderer has no such method
        (the same arithmetic), kept by font, size and dpi."""
        font = get_font(fontManager._find_fonts_by_props(prop))
        fontsize = prop.get_size_in_points()
        key = (font, fontsize, self.dpi)
        if key not in _heights:
            _heights[key] = None, None, None
            for table_name, linegap_key, ascent_key, descent_key in (
                    ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"), ("hhea", "lineGap", "ascent", "descent")):
                table = font.get_sfnt_table(table_name)
                if table is None:
                    continue
                scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * fontsize * self.dpi / 72
                _heights[key] = table[ascent_key] * scale, -table[descent_key] * scale, table[linegap_key] * scale
                break
        return _heights[key]


class CachedTextCanvas(FigureCanvasAgg):
    """:class:`FigureCanvasAgg` drawing with a :class:`CachedTextRenderer` (where ``SUPPORTED``)."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = (CachedTextRenderer if SUPPORTED else RendererAgg)(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer
