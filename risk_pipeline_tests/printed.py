"""Reading what users read: the tables of an HTML report page and the tables ``risk-pipeline summary``
prints, and comparing a printed figure with the stored value to the digits it shows."""

from __future__ import annotations

from html.parser import HTMLParser


def assert_shows(text: str, expected: float, scale: float = 1.0, where: str = "") -> None:
    """``text`` (e.g. '1.57%', '15,662', '0.386') is ``expected * scale`` to the digits it prints."""
    shown = text.strip().rstrip("%").replace(",", "")
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    tolerance = 0.5 * 10.0 ** -decimals * (1 + 1e-9) + 1e-12
    assert abs(float(shown) - expected * scale) <= tolerance, f"{where}: shows {text!r}, the table holds {expected * scale!r}"


def pct(text: str, expected: float, where: str = "") -> None:
    assert text.endswith("%"), f"{where}: {text!r} is not a percentage"
    assert_shows(text, expected, 100.0, where)


class PageTables(HTMLParser):
    """Every table of the page: (h2, h3, header cells, rows of cell texts), and the page's text."""

    def __init__(self):
        super().__init__()
        self.tables: list[tuple[str, str, list[str], list[list[str]]]] = []
        self.h2 = self.h3 = ""
        self._heading = None
        self._cell = None
        self._row: list[str] = []
        self._text = ""
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("h2", "h3"):
            self._heading, self._text = tag, ""
        elif tag == "table":
            self.tables.append((self.h2, self.h3, [], []))
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            self._cell, self._text = tag, ""

    def handle_data(self, data):
        self.text.append(data)
        if self._heading or self._cell:
            self._text += data

    def handle_endtag(self, tag):
        if tag in ("h2", "h3") and self._heading == tag:
            if tag == "h2":
                self.h2, self.h3 = self._text.strip(), ""
            else:
                self.h3 = self._text.strip()
            self._heading = None
        elif tag in ("th", "td") and self._cell == tag:
            (self.tables[-1][2] if tag == "th" else self._row).append(self._text.strip())
            self._cell = None
        elif tag == "tr" and self._row:
            self.tables[-1][3].append(self._row)
            self._row = []


def page_table(page: PageTables, h2: str, h3: str = "") -> list[dict[str, str]]:
    """The rows (header -> cell text) of the one table under heading ``h2`` / ``h3``."""
    (found,) = [(head, rows) for a, b, head, rows in page.tables if a == h2 and b == h3]
    head, rows = found
    return [dict(zip(head, row, strict=True)) for row in rows]


def printed_table(text: str, title: str, first_column: str = "portfolio", end: str | None = None,
                  ) -> tuple[str, list[list[str]]]:
    """The header (spaces collapsed) and the whitespace-split data lines of the table printed after
    the line starting with ``title``: its header is the next line starting with ``first_column``,
    its rows end at a blank line or at a line starting with ``end``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    header = next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith(first_column))
    rows = []
    for line in lines[header + 1:]:
        if not line.strip() or (end and line.startswith(end)):
            break
        rows.append(line.split())
    return " ".join(lines[header].split()), rows
