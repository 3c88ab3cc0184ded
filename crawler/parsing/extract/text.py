"""Plain text (.txt, markdown) -> Extracted.

Reports reach us as text when someone copied a Word or PDF document into a text file, or when a
converter (pandoc, pdftotext, a PDF-to-markdown tool) ran before us.  The seeds show three table
layouts, each recognised here and rebuilt as a Table grid:

* one cell per line: every table line starts with a tab, rows are separated by blank lines and a
  wrapped cell continues on a following line without a tab (seeds 000, 001, 004);
* tab-separated rows: one row per line, cells split on tabs, possibly with leading empty cells or
  a row shifted to the left (seeds 002, 003);
* markdown: '#' headings and '**bold**' around text (seed 003).

Everything else becomes Paragraph blocks, one per non-blank line.
"""
from __future__ import annotations

import codecs
import logging
import re

from vocabulary import template as T
from crawler.parsing.extract.base import Extracted, GridCell, Paragraph, Table

log = logging.getLogger(__name__)

#: Word/pandoc artefacts that carry no text: '[bookmark: _Hlk66973412]'.
_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_BOLD = re.compile(r"\*\*(.*?)\*\*|__(.*?)__")
#: A line that is a section heading must never be glued to the table cell above it.
_HEADING_START = re.compile(T.LINE_NUMBERING_PATTERN)
#: A continuation of a wrapped cell is short; a longer line is narrative text.
_MAX_CONTINUATION = 40


def decode(data: bytes) -> str:
    """Decode text bytes: BOM first (UTF-8, UTF-16), then strict UTF-8, then GB18030, then a guess."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(enc, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK/GB2312, the usual encodings of Chinese government files.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("utf-8", errors="replace")


def _clean(text: str) -> str:
    text = _BOOKMARK.sub("", text)
    text = _MD_BOLD.sub(lambda m: m.group(1) or m.group(2) or "", text)
    return text.replace("\u3000", " ").replace("\xa0", " ").strip()


def _join_wrapped(first: str, more: str) -> str:
    """Join a cell wrapped over two lines: CJK text needs no space, latin/digits keep one."""
    if first and more and first[-1].isascii() and more[0].isascii() and first[-1].isalnum():
        return f"{first} {more}"
    return first + more


def _grid(rows: list[list[str]]) -> Table:
    return Table.from_grid([[GridCell(text=c) for c in r] for r in rows])


def _is_cell_per_line(lines: list[str]) -> bool:
    """True when tab lines hold one cell each (a leading tab, no other tab)."""
    tab_lines = [ln for ln in lines if "\t" in ln.rstrip("\r\n")]
    if not tab_lines:
        return False
    single = sum(1 for ln in tab_lines if ln.startswith("\t") and "\t" not in ln[1:])
    return single >= 0.8 * len(tab_lines)


def _paragraph(line: str) -> Paragraph | None:
    m = _MD_HEADING.match(line)
    if m:
        text = _clean(m.group(2))
        return Paragraph(text=text, heading=len(m.group(1))) if text else None
    text = _clean(line)
    return Paragraph(text=text) if text else None


def _cell_per_line_blocks(lines: list[str]) -> list:
    blocks: list = []
    rows: list[list[str]] = []  # rows of the table being built
    row: list[str] | None = None  # the row being built
    last_was_cell = False

    def close_table():
        nonlocal rows, row
        if row:
            rows.append(row)
        row = None
        if rows:
            blocks.append(_grid(rows))
        rows = []

    for line in lines:
        if line.startswith("\t"):
            if row is None:
                row = []
            row.append(_clean(line[1:]))
            last_was_cell = True
            continue
        stripped = line.strip()
        if not stripped:
            if row:
                rows.append(row)
            row = None
            last_was_cell = False
            continue
        if (last_was_cell and row and len(_clean(stripped)) <= _MAX_CONTINUATION
                and not _HEADING_START.match(stripped)):
            # A wrapped cell: '\t商业' then '企业'.
            row[-1] = _join_wrapped(row[-1], _clean(stripped))
            continue
        close_table()
        last_was_cell = False
        p = _paragraph(line)
        if p is not None:
            blocks.append(p)
    close_table()
    return blocks


def _tab_separated_blocks(lines: list[str]) -> list:
    blocks: list = []
    rows: list[list[str]] = []

    def close_table():
        nonlocal rows
        if rows:
            blocks.append(_grid(rows))
        rows = []

    for line in lines:
        if "\t" in line:
            rows.append([_clean(c) for c in line.split("\t")])
            continue
        if not line.strip():
            continue  # blank lines inside a table (page breaks) do not end it
        close_table()
        p = _paragraph(line)
        if p is not None:
            blocks.append(p)
    close_table()
    return blocks


def extract(data: bytes) -> Extracted:
    """Plain text or markdown bytes -> Extracted (text_layout=True: tables are reconstructions)."""
    text = decode(data).replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    if _is_cell_per_line(lines):
        blocks = _cell_per_line_blocks(lines)
    else:
        blocks = _tab_separated_blocks(lines)
    return Extracted(format="text", blocks=blocks, text_layout=True)
