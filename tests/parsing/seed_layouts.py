"""Test input made from the seed texts (real reports) in the layouts real producers use.

Two jobs, both independent of the parser under test (this module reads the seed files with its
own small reader and never imports crawler.parsing or its template labels):

* ``seed_blocks``: a seed text as paragraphs and table rows, as its author typed it;
* ``wps_pdf``: those blocks drawn as a PDF the way WPS / Word exports draw them (reportlab),
  in one of the layouts seen in real documents:

  - ``white_boxes``: every prose line painted over a white-filled, unstroked rectangle, the boxes
    touching each other (WPS: 445 x 27 pt, fill (1, 1, 1), no stroke);
  - ``frame``: each prose paragraph inside a drawn (stroked) frame;
  - ``underlined``: every prose line underlined by a stroked line running to a page border;
  - ``border``: a stroked page border around the page content;

  always with "- N -" page numbers, and with CR LF characters in the text layer after every line
  (WPS writes them as text).  Tables are ruled grids with stroked borders.
* ``run_together``: a seed's tables as text renderings that lost their cell boundaries.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


@dataclass
class Para:
    text: str


@dataclass
class Rows:
    rows: list[list[str]]


def _clean(s: str) -> str:
    s = re.sub(r"\[bookmark:[^\]]*\]", "", s)
    s = re.sub(r"\*\*(.*?)\*\*", r"\1", s)
    s = re.sub(r"^\s{0,3}#{1,6}\s+", "", s)
    return s.replace("\u3000", " ").strip()


def seed_blocks(path: Path) -> list[Para | Rows]:
    """A seed as typed: tab lines are table cells (one per line, rows split by blank lines, a short
    untabbed line continues the cell above) or tab-separated rows; other lines are paragraphs."""
    lines = path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n")
    tab_lines = [ln for ln in lines if "\t" in ln]
    cell_per_line = tab_lines and sum(ln.startswith("\t") and "\t" not in ln[1:] for ln in tab_lines) >= 0.8 * len(
        tab_lines)
    out: list[Para | Rows] = []

    def table() -> Rows:
        if not out or not isinstance(out[-1], Rows):
            out.append(Rows([]))
        return out[-1]  # type: ignore[return-value]

    row: list[str] | None = None
    for ln in lines:
        if cell_per_line:
            if ln.startswith("\t"):
                if row is None:
                    row = []
                    table().rows.append(row)
                row.append(_clean(ln[1:]))
                continue
            if not ln.strip():
                row = None
                continue
            if row is not None and len(ln.strip()) <= 40 and not re.match(r"^\s*[一二三四五六]、", ln):
                row[-1] += _clean(ln)  # a wrapped cell
                continue
            row = None
        elif "\t" in ln:
            table().rows.append([_clean(c) for c in ln.split("\t")])
            continue
        if ln.strip():
            text = _clean(ln)
            if text:
                out.append(Para(text))
    for b in out:
        if isinstance(b, Rows):
            for r in b.rows:
                while len(r) > 1 and not r[-1]:
                    r.pop()  # trailing empty cells of a tab-separated row
    return out


# -- drawing ---------------------------------------------------------------------------------------

PAGE_W, PAGE_H = 595.0, 842.0
LEFT, RIGHT = 75.0, 520.0  # prose box: 445 pt wide, as in the WPS documents
TOP, BOTTOM = 70.0, 780.0
LINE_H = 27.0  # the WPS boxes are 27 pt high: one per prose line
FONT_SIZE = 12.0
TABLE_FONT = 7.5
LAYOUTS = ("white_boxes", "frame", "underlined", "border")


def _is_number(s: str) -> bool:
    return bool(re.fullmatch(r"[\d.,/—\-]*", s.strip()))


def _wrap(text: str, width: float, size: float, font: str) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, cur = [], ""
    for ch in text:
        if cur and stringWidth(cur + ch, font, size) > width:
            lines.append(cur)
            cur = ""
        cur += ch
    if cur or not lines:
        lines.append(cur)
    return lines


class _Writer:
    def __init__(self, layout: str, crlf: bool):
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont
        from reportlab.pdfgen import canvas

        if "WQY" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("WQY", FONT_FILE, subfontIndex=0))
        self.font = "WQY"
        self.buf = io.BytesIO()
        self.c = canvas.Canvas(self.buf, pagesize=(PAGE_W, PAGE_H))
        self.layout, self.crlf = layout, crlf
        self.page = 1
        self.y = TOP  # top-down
        self._page_start()

    # coordinates: we think top-down, reportlab is bottom-up
    def _Y(self, y: float) -> float:
        return PAGE_H - y

    def _page_start(self) -> None:
        c = self.c
        if self.layout == "border":
            c.setLineWidth(1.0)
            c.rect(LEFT - 30, self._Y(BOTTOM + 20), (RIGHT + 30) - (LEFT - 30), (BOTTOM + 20) - (TOP - 30),
                   stroke=1, fill=0)
        if self.layout == "underlined":
            # the ruled-paper look: a vertical rule each side, the underlines run between them
            c.setLineWidth(0.5)
            c.line(LEFT - 5, self._Y(TOP - 5), LEFT - 5, self._Y(BOTTOM))
            c.line(RIGHT + 5, self._Y(TOP - 5), RIGHT + 5, self._Y(BOTTOM))

    def _page_end(self) -> None:
        c = self.c
        c.setFillColorRGB(0, 0, 0)
        c.setFont(self.font, 10)
        c.drawCentredString(PAGE_W / 2, 40, f"- {self.page} -")
        c.showPage()
        self.page += 1
        self.y = TOP
        self._page_start()

    def _need(self, h: float) -> None:
        if self.y + h > BOTTOM:
            self._page_end()

    def _text(self, x: float, y_base: float, s: str, size: float) -> None:
        c = self.c
        c.setFillColorRGB(0, 0, 0)
        t = c.beginText(x, self._Y(y_base))
        t.setFont(self.font, size)
        t.textOut(s + ("\r\n" if self.crlf else ""))
        c.drawText(t)

    def paragraph(self, text: str) -> None:
        c = self.c
        lines = _wrap(text, RIGHT - LEFT - 2 * FONT_SIZE, FONT_SIZE, self.font)
        seg_top = self.y

        def frame(top: float, bottom: float) -> None:
            if self.layout == "frame" and bottom > top:
                c.setLineWidth(0.75)
                c.rect(LEFT - 4, self._Y(bottom + 2), RIGHT - LEFT + 8, bottom - top + 4, stroke=1, fill=0)

        for i, ln in enumerate(lines):
            if self.y + LINE_H > BOTTOM:
                frame(seg_top, self.y)  # a frame per page part of the paragraph
                self._page_end()
                seg_top = self.y
            x = LEFT + (2 * FONT_SIZE if i == 0 else 0)  # first-line indent of two characters
            if self.layout == "white_boxes":
                c.setFillColorRGB(1, 1, 1)
                c.rect(LEFT, self._Y(self.y + LINE_H), RIGHT - LEFT, LINE_H, stroke=0, fill=1)
            self._text(x, self.y + 0.7 * LINE_H, ln, FONT_SIZE)
            if self.layout == "underlined":
                c.setLineWidth(0.5)
                c.line(LEFT - 5, self._Y(self.y + LINE_H - 2), RIGHT + 5, self._Y(self.y + LINE_H - 2))
            self.y += LINE_H
        frame(seg_top, self.y)
        if self.layout == "frame":
            self.y += 8

    def table(self, rows: list[list[str]]) -> None:
        """A ruled grid: cells right-aligned on the table's slots (values line up in their columns, a
        row with fewer cells lets its first cell span), every border stroked."""
        c = self.c
        rows = [r for r in rows if any(x.strip() for x in r)]
        if not rows:
            return
        n = max(len(r) for r in rows)
        numeric = [0] * n
        for r in rows:
            for k, cell in enumerate(r):
                slot = n - len(r) + k
                if cell.strip() and _is_number(cell):
                    numeric[slot] += 1
        value_slot = [numeric[k] >= 2 for k in range(n)]
        vw = 30.0 if n > 4 else 60.0
        n_values = sum(value_slot)
        label_w = (RIGHT - LEFT - vw * n_values) / max(1, n - n_values)
        widths = [vw if value_slot[k] else label_w for k in range(n)]
        xs = [LEFT]
        for w in widths:
            xs.append(xs[-1] + w)
        self.y += 6
        for r in rows:
            first = n - len(r)
            spans = [(0 if k == 0 else first + k, first + k + 1) for k in range(len(r))]
            wrapped = [_wrap(cell, xs[b] - xs[a] - 4, TABLE_FONT, self.font) for cell, (a, b) in zip(r, spans)]
            h = max(len(w) for w in wrapped) * (TABLE_FONT + 2) + 6
            self._need(h)
            top, bot = self.y, self.y + h
            c.setLineWidth(0.5)
            c.line(xs[0], self._Y(top), xs[-1], self._Y(top))
            c.line(xs[0], self._Y(bot), xs[-1], self._Y(bot))
            for a, b in spans:
                c.line(xs[a], self._Y(top), xs[a], self._Y(bot))
            c.line(xs[-1], self._Y(top), xs[-1], self._Y(bot))
            for lines, (a, b) in zip(wrapped, spans):
                for i, ln in enumerate(lines):
                    self._text(xs[a] + 2, top + 3 + (i + 1) * (TABLE_FONT + 2) - 2, ln, TABLE_FONT)
            self.y = bot
        self.y += 10

    def finish(self) -> bytes:
        self._page_end()
        self.c.save()
        return self.buf.getvalue()


def wps_pdf(blocks: list[Para | Rows], layout: str, *, crlf: bool = True) -> bytes:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; one of {LAYOUTS}")
    w = _Writer(layout, crlf)
    for b in blocks:
        if isinstance(b, Para):
            w.paragraph(b.text)
        else:
            w.table(b.rows)
    return w.finish()


def seed_pdf(stem: str, layout: str) -> bytes:
    return wps_pdf(seed_blocks(SEEDS / f"{stem}.txt"), layout)


# -- text renderings that lost the cell boundaries -------------------------------------------------------

#: What each form runs together: the rows of Table 二, of Table 三, Table 四's fifteen numbers.
RUN_FORMS = ("table2", "table3", "table4", "all", "all_spaced", "halves")


def _value_start(row: list[str]) -> int:
    k = len(row)
    while k > 0 and re.fullmatch(r"\d+(?:\.\d+)?", row[k - 1].strip() or "x"):
        k -= 1
    return k


def _table_of(rows: list[list[str]]) -> str:
    text = "".join("".join(r) for r in rows)
    if "未经复议直接起诉" in text or "复议后起诉" in text:
        return "table4"
    if "申请人情况" in text or "本年新收" in text:
        return "table3"
    return "table2"


def run_together(stem: str, form: str) -> str:
    """The seed as plain text (one row per line, cells separated by spaces), with the values of the
    chosen tables' rows run together: glued to the label ("规章000") or after a space ("all_spaced"),
    or cut in two at the middle ("halves": "100 0001").  Table 四's fifteen numbers become one run."""
    if form not in RUN_FORMS:
        raise ValueError(form)
    lines: list[str] = []
    for b in seed_blocks(SEEDS / f"{stem}.txt"):
        if isinstance(b, Para):
            lines.append(b.text)
            continue
        table = _table_of(b.rows)
        runs = form in ("all", "all_spaced", "halves") or form == table
        for r in b.rows:
            k = _value_start(r)
            labels = " ".join(c for c in r[:k] if c.strip())
            vals = [c.strip() for c in r[k:] if c.strip()]
            if not vals:
                lines.append(labels)
                continue
            if runs and len(vals) > 1:
                joined = "".join(vals)
                if form == "halves":
                    joined = joined[: len(joined) // 2] + " " + joined[len(joined) // 2:]
                sep = " " if form in ("all_spaced", "halves") or not labels else ""
                lines.append(f"{labels}{sep}{joined}" if labels else joined)
            else:
                lines.append(" ".join(([labels] if labels else []) + vals))
    return "\n".join(lines)
