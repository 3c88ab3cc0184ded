"""Extracted (paragraphs and grids) -> Report (the canonical model).

Mapping knows the template (vocabulary/template.py) and nothing of formats.  The steps:

1. sections: headings numbered 一、二、… matched fuzzily against the template's wordings; a heading
   numbered 1、 only fills a gap between them (seed 000), so numbered sub-items stay inside;
2. tables: every grid row is given to Table 二, 三 or 四 by its headers (markers), else by the section
   the grid sits in, so a table split over several grids (page breaks) stays one table and a grid
   in section 五 is no table at all; where no grid holds a table, the paragraphs of its section are
   read as one stream of cells (a row = labels, then the numbers after them);
3. rows: the label cells of a row are matched fuzzily (rapidfuzz) against the template labels, in the
   context of the group heading above them (1. under （三） is not 1. under （四）); a label wrapped
   over two rows is joined; values are the cells at the right end: in a true grid (HTML, DOCX) the
   last columns by position, in a text reconstruction (PDF text, .txt) the cells after the last
   label, as many as the template has columns;
4. template 2021 / 2019 from the headers of Table 二 and the shape of Table 三's （六）其他处理
   (never from the year); a mixed report keeps both and says so in a warning;
5. cells run together ('行政规范性文件77132470', a row as '1000001'): a row that has fewer cells than
   columns, all digits, is split by crawler/parsing/digit_runs.py — by its digits when they allow
   one split, else by the table's relations (and last year's figures, ``hints["previous"]``:
   {cell ref: value}) when exactly one split satisfies them, else left unread (warning
   unsplit_digits, status partial);
6. metadata (crawler/parsing/metadata.py).

The parser records what the report says: a blank, NA or text cell is None with a warning, never 0.
Problems of reading are warnings (blank_cell, na_cell, text_cell, missing_cell, row_not_found,
row_not_matched, table_not_found, ambiguous_value, mixed_template, digit_run, unsplit_digits), never
findings.
Status: parsed when all three tables are complete and numeric, partial when something is missing,
not_a_report when there is no table, no printed report title and fewer than three sections.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from rapidfuzz import fuzz

from crawler.parsing import digit_runs
from vocabulary import template as T
from crawler.parsing.extract.base import Extracted, Paragraph, Table
from crawler.parsing.metadata import _TITLE_SEPARATORS, extract_metadata, is_title, parse_title
from storage.models import (SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE3_RESULT_ROWS, TABLE3_ROWS, TABLE4_COLUMNS,
                            TABLE4_GROUPS, Cell, CellKind, ParseStatus, ParseWarning, Report, Source)

log = logging.getLogger(__name__)

#: Minimum similarity (0-100) for a row label to count as a template row.
ROW_THRESHOLD = 70
#: A row whose cells are all blank must match better to count as a template row.
BLANK_ROW_THRESHOLD = 85
#: Minimum similarity for a section heading's wording.
SECTION_THRESHOLD = 72
_TABLES = ("table2", "table3", "table4")

# -- normalisation ------------------------------------------------------------------------------

_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
_SPACES = re.compile(r"\s+")
_QUOTES = str.maketrans("", "", "“”\"'‘’「」『』*#")
_LEADING_NUMBERING = re.compile(T.NUMBERING_PATTERN)


@lru_cache(maxsize=16384)
def norm(text: str) -> str:
    """Text for comparison: NFKC (full-width brackets/digits -> ASCII), no spaces, no quotes/artefacts."""
    text = _BOOKMARK.sub("", text or "")
    text = unicodedata.normalize("NFKC", text)
    text = _SPACES.sub("", text).translate(_QUOTES)
    return text.replace("．", ".").replace("，", ",")


def strip_numbering(text: str) -> str:
    return _LEADING_NUMBERING.sub("", text)


def similarity(a: str, b: str) -> float:
    """Label similarity: whole-string ratio, or a slightly discounted partial match for extra words."""
    if not a or not b:
        return 0.0
    score = fuzz.ratio(a, b)
    if min(len(a), len(b)) >= 4:
        score = max(score, 0.92 * fuzz.partial_ratio(a, b))
    return score


# -- values ---------------------------------------------------------------------------------------

_INT = re.compile(r"^[+\-]?\d+$")
_DEC = re.compile(r"^[+\-]?\d+\.\d+$")
_NA = {_SPACES.sub("", unicodedata.normalize("NFKC", m)) for m in T.NA_MARKS} | set(T.NA_MARKS)
_UNITS = tuple(sorted(T.VALUE_UNITS, key=len, reverse=True))


def _value_text(raw: str) -> str:
    # not norm(): a cell reading '—#—' (a Word artefact) is text, not the NA mark '——'
    s = _SPACES.sub("", unicodedata.normalize("NFKC", _BOOKMARK.sub("", raw or "")))
    s = s.replace(",", "").replace("−", "-").replace("－", "-")
    for unit in _UNITS:
        if s.endswith(unit) and len(s) > len(unit) and s[-len(unit) - 1].isdigit():
            return s[: -len(unit)]
    return s


def parse_value(raw: str, *, decimal: bool = False, keep_text: bool = False):
    """(kind, value) of a printed cell.  Blank, NA and text are never turned into 0.

    decimal: fees_wan_yuan keeps decimals; keep_text: the value is kept as printed (procurement amount).
    """
    return _parse_value(raw, decimal, keep_text)


_HAS_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=16384)
def _parse_value(raw: str, decimal: bool, keep_text: bool):
    # positional arguments: a cache key without keywords is cheaper to build on every hit
    s = _value_text(raw)
    if not s:
        return CellKind.EMPTY, None
    if s in _NA:
        return CellKind.NA, None
    if keep_text:
        return (CellKind.NUMERIC, norm(raw)) if _HAS_DIGIT.search(s) else (CellKind.TEXT, None)
    if _INT.match(s):
        v = int(s)
        return (CellKind.ZERO if v == 0 else CellKind.NUMERIC), v
    if _DEC.match(s):
        v = float(s)
        if decimal:
            return (CellKind.ZERO if v == 0 else CellKind.NUMERIC), v
        if v.is_integer():  # "3.0" in a count column
            return (CellKind.ZERO if v == 0 else CellKind.NUMERIC), int(v)
    return CellKind.TEXT, None


@lru_cache(maxsize=16384)
def is_value_like(text: str) -> bool:
    """A cell that can stand in a value position: blank, NA mark or a number."""
    return _parse_value(text, True, False)[0] is not CellKind.TEXT


@lru_cache(maxsize=16384)
def _is_number(text: str) -> bool:
    """A cell that holds a number (zero included), read as a decimal."""
    return _parse_value(text, True, False)[0] in (CellKind.NUMERIC, CellKind.ZERO)


# -- rows -----------------------------------------------------------------------------------------


@lru_cache(maxsize=16384)
def _is_label(text: str) -> bool:
    return bool(text.strip()) and not is_value_like(text)


@dataclass
class Row:
    cells: list[str]  # texts of the row's own cells (span copies dropped)
    from_text: bool = False  # read from the text stream, not a grid
    positional: bool = False  # a true grid (HTML/DOCX): the values sit in its last columns
    confidence: list = field(default_factory=list)  # per cell, from GridCell.confidence (OCR); empty: all None
    _last_label: int | None = field(default=None, repr=False, compare=False)
    # label_end and has_number per n: asked again and again of the same row (cells are never changed)
    _ends: dict = field(default_factory=dict, repr=False, compare=False)
    _numbers: dict = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def text(self) -> str:
        return "".join(self.cells)

    def label_end(self, n: int | None = None) -> int:
        """Index where the values start.  In a true grid, the last n columns are values even when one
        of them holds text ('见附件'); elsewhere the values start after the last text cell."""
        end = self._ends.get(n)
        if end is None:
            if self.positional and n and len(self.cells) > n and any(_is_label(c) for c in self.cells[:-n]):
                end = len(self.cells) - n
            else:
                end = self.last_label_index() + 1
            self._ends[n] = end
        return end

    def labels(self, n: int | None = None) -> list[str]:
        """Non-empty cells of the label part."""
        return [c for c in self.cells[: self.label_end(n)] if c.strip()]

    def last_label_index(self) -> int:
        if self._last_label is None:
            self._last_label = next((i for i in range(len(self.cells) - 1, -1, -1) if _is_label(self.cells[i])), -1)
        return self._last_label

    def value_positions(self, n: int) -> tuple[list[int], bool]:
        """Indexes of the n cells at the right end after the label; (indexes, ambiguous)."""
        idx = list(range(self.label_end(n), len(self.cells)))
        while len(idx) > n and not self.cells[idx[-1]].strip():
            idx.pop()
        while len(idx) > n and not self.cells[idx[0]].strip():
            idx.pop(0)
        ambiguous = len(idx) > n
        if ambiguous:
            idx = idx[-n:]
        return idx, ambiguous

    def values(self, n: int) -> tuple[list[str], bool]:
        """The n cells at the right end after the label; (cells, ambiguous)."""
        idx, ambiguous = self.value_positions(n)
        return [self.cells[i] for i in idx], ambiguous

    def confidences_at(self, idx: list[int]) -> list[float | None]:
        """The reading confidence of those cells (OCR), None where read from a text layer or markup."""
        return [self.confidence[i] if i < len(self.confidence) else None for i in idx] if self.confidence \
            else [None] * len(idx)

    def has_number(self, n: int | None = None) -> bool:
        found = self._numbers.get(n)
        if found is None:
            found = self._numbers[n] = any(map(_is_number, self.cells[self.label_end(n):]))
        return found


_GLUED_NUMBER = re.compile(r"^(?P<label>.*[^\d\s.+\-])(?P<num>\d+(?:\.\d+)?)$")


def line_cells(line: str) -> list[str]:
    """A line of the text stream as cells: whitespace separates them, a number glued to a label is split
    off ('行政许可75'), and label words in a row form one label ('结果 维持')."""
    cells: list[str] = []
    for tok in line.split():
        m = _GLUED_NUMBER.match(tok)
        if m:
            cells.extend([m.group("label"), m.group("num")])
        else:
            cells.append(tok)
    merged: list[str] = []
    for c in cells:
        if merged and not is_value_like(c) and not is_value_like(merged[-1]):
            merged[-1] += c
        else:
            merged.append(c)
    return merged


def text_row(line: str) -> Row:
    return Row(cells=line_cells(line), from_text=True)


class _Reading(str):
    """A cell's text carrying the confidence of its OCR reading (GridCell.confidence) to Cell.confidence;
    a str, so every label and value rule treats it as the text it is."""
    confidence: float | None = None
    alternatives: tuple[str, ...] = ()


def _cell_text(c) -> str:
    if c.confidence is None:
        return c.text
    s = _Reading(c.text)
    s.confidence = c.confidence
    s.alternatives = c.alternatives
    return s


def grid_rows(table: Table, positional: bool = False) -> list[Row]:
    width = max(map(len, table.rows), default=0)
    if positional:
        # Word leaves empty trailing columns; they are not value columns
        while width and all(len(r) < width or not r[width - 1].text.strip() for r in table.rows):
            width -= 1
    rows = []
    for r in table.rows:
        own = [c for c in r[:width] if not c.spanned]
        if any(c.confidence is not None for c in own):
            cells = [_cell_text(c) for c in own]
            conf = [c.confidence for c in own]
        else:  # no OCR reading: the texts as they are
            cells = [c.text for c in own]
            conf = []
        if any(c.strip() for c in cells):
            rows.append(Row(cells=cells, positional=positional, confidence=conf))
    return rows


# -- sections -------------------------------------------------------------------------------------

_HEADING = re.compile(T.SECTION_HEADING_PATTERN)


_HEADING_END = re.compile(r"[。：:]")


_SECTION_FORMS = sorted({norm(v) for canonical, variants in T.SECTIONS.values() for v in (canonical, *variants)
                         if len(norm(v)) >= 4}, key=len, reverse=True)
_NUMBERED_START = re.compile(T.SECTION_HEADING_PATTERN.split("(?P<label>")[0])


@lru_cache(maxsize=4096)
def split_heading(text: str) -> tuple[str, str]:
    """A paragraph as (heading, rest): '一、总体情况。2024年，…' (PDF text) -> ('一、总体情况', '2024年，…'),
    and a run-in heading without punctuation ('一、总体情况2024年，…', a bold run in Word) likewise."""
    m = _HEADING_END.search(text, 0, 42)
    if m:
        return text[:m.start()], text[m.end():].strip()
    if len(text) <= 60:
        return text, ""
    start = _NUMBERED_START.match(unicodedata.normalize("NFKC", text.lstrip()))
    if start:
        body = text.lstrip()[start.end():]
        for form in _SECTION_FORMS:
            for k in range(len(form), len(form) + 6):  # a few spaces may sit inside the wording
                if norm(body[:k]) == form:
                    cut = len(text) - len(body) + k
                    return text[:cut], text[cut:].strip()
    return text, ""


_SECTION_KEYS = tuple(T.SECTIONS)
_SECTION_NORMS = {key: tuple(norm(v) for v in (canonical, *variants))
                  for key, (canonical, variants) in T.SECTIONS.items()}
_SECTION_BY_CANONICAL = {norm(canonical): (ordinal, key)
                         for ordinal, (key, (canonical, _)) in enumerate(T.SECTIONS.items())}


def _section_of(par: Paragraph, after: int, arabic: bool) -> tuple[int, str] | None:
    """(ordinal, key) when the paragraph is a section heading with ordinal > after.

    arabic: numbered 1、/1. instead of 一、 (seed 000 writes '1、 总体情况').
    """
    hit = _heading_section(par.text, arabic)
    return hit if hit is not None and hit[0] > after else None


@lru_cache(maxsize=4096)
def _heading_section(text: str, arabic: bool) -> tuple[int, str] | None:
    """(ordinal, key) of the section a paragraph's heading names, whatever came before it."""
    text = norm(split_heading(text)[0]).rstrip("。:：")
    m = _HEADING.match(text)
    if m:
        num = m.group("num")
        numerals = T.ARABIC_SECTION_NUMERALS if arabic else T.SECTION_NUMERALS
        if num not in numerals:
            return None
        ordinal = numerals.index(num)
        key = _SECTION_KEYS[ordinal]
        label = m.group("label")
        forms = _SECTION_NORMS[key]
        best = max(fuzz.ratio(label, f) for f in forms)
        # the numeral already says which section it is: extra words around the wording are fine
        partial = max(fuzz.partial_ratio(label, f) for f in forms) if len(label) <= 30 else 0
        if best >= SECTION_THRESHOLD or partial >= 95:
            return ordinal, key
        return None
    # an unnumbered heading must say the canonical wording exactly
    return _SECTION_BY_CANONICAL.get(text)


def _caption(table: Table) -> Paragraph | None:
    """The heading some reports type into a table's first row (one merged cell)."""
    for row in table.rows:
        texts = {c.text.strip() for c in row if c.text.strip()}
        if texts:
            return Paragraph(texts.pop()) if len(texts) == 1 else None
    return None


def _scan_sections(blocks: list, arabic: bool) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    after = -1
    for i, b in enumerate(blocks):
        if isinstance(b, Table):
            b = _caption(b)
        if isinstance(b, Paragraph) and len(split_heading(b.text)[0]) <= 60:
            hit = _section_of(b, after, arabic)
            if hit:
                after = hit[0]
                found.append((i, *hit))
    return found


def find_sections(blocks: list) -> list[tuple[int, str]]:
    """(block index, section key) of each section heading, in document order.

    Headings numbered 一、二、… are trusted first; a heading numbered 1、 fills a gap only where it
    fits between them (so '2. 主动公开情况' inside section 一 is not taken for section 二).
    """
    found = _scan_sections(blocks, arabic=False)
    if len(found) < len(T.SECTIONS):
        have = {o for _, o, _ in found}
        for i, o, key in _scan_sections(blocks, arabic=True):
            if o in have:
                continue
            before = [j for j, oo, _ in found if oo < o]
            after = [j for j, oo, _ in found if oo > o]
            if all(j < i for j in before) and all(j > i for j in after):
                found.append((i, o, key))
                have.add(o)
        found.sort()
    return [(i, key) for i, _, key in found]


def _section_at(headings: list[tuple[int, str]], n_blocks: int) -> list[str | None]:
    at: list[str | None] = [None] * n_blocks
    for j, (i, key) in enumerate(headings):
        end = headings[j + 1][0] if j + 1 < len(headings) else n_blocks
        for k in range(i, end):
            at[k] = key
    return at


# -- table assignment -----------------------------------------------------------------------------

_MARKERS = {t: tuple(norm(m) for m in ms) for t, ms in T.TABLE_MARKERS.items()}
_T4_PAIR = tuple(norm(m) for m in T.TABLE4_HEADER_PAIR)


def marker_table(row: Row) -> str | None:
    return _marker_of(row.text)


@lru_cache(maxsize=8192)
def _marker_of(text: str) -> str | None:
    text = norm(text)
    if all(m in text for m in _T4_PAIR) or any(m in text for m in _MARKERS["table4"]):
        return "table4"
    for t in ("table2", "table3"):
        if any(m in text for m in _MARKERS[t]):
            return t
    return None


def assign_rows(blocks: list, sections: list[str | None], positional: bool = False) -> dict[str, list[Row]]:
    """Rows of every grid, given to the table they belong to."""
    out: dict[str, list[Row]] = {t: [] for t in _TABLES}
    current: str | None = None
    for i, b in enumerate(blocks):
        if not isinstance(b, Table):
            continue
        if sections[i] is not None:
            # a grid in section 五 is not the continuation of Table 四; without headings, carry on
            current = T.SECTION_TABLES.get(sections[i])
        for row in grid_rows(b, positional):
            current = marker_table(row) or current
            if current:
                out[current].append(row)
    return out


def text_stream_rows(blocks: list, sections: list[str | None], table: str) -> list[Row]:
    """Fallback when no grid holds the table: the paragraphs of its section read as one stream of
    cells, a row being the labels up to the numbers that follow them.  This reads both a row per line
    ('规章 0 0 0') and a cell per line (pdftotext, a Word table pasted as text)."""
    keys = [k for k, t in T.SECTION_TABLES.items() if t == table]
    have_sections = any(s is not None for s in sections)
    rows: list[Row] = []
    cells: list[str] = []
    has_values = False
    for i, b in enumerate(blocks):
        if not (isinstance(b, Paragraph) and (sections[i] in keys or not have_sections)):
            continue
        for c in line_cells(b.text):
            if is_value_like(c):
                has_values = True
            elif has_values:  # a label after numbers starts the next row
                rows.append(Row(cells=cells, from_text=True))
                cells, has_values = [], False
            cells.append(c)
    if cells:
        rows.append(Row(cells=cells, from_text=True))
    return rows


# -- the mapping ----------------------------------------------------------------------------------


@dataclass
class _Mapper:
    report: Report
    seen: set = field(default_factory=set)
    runs: list = field(default_factory=list)  # digit_runs.Run: rows whose cells ran together
    pending_confidence: list = field(default_factory=list)  # of the values take_values just gave

    def add_run(self, refs: list[tuple[str, str, str]], tokens: list[str]) -> None:
        """Cells whose printed digits ran together: unread (TEXT, None) until the runs are resolved."""
        raw = " ".join(t for t in tokens if t.strip())
        for table, row, col in refs:
            self.report.cells.append(Cell(table=table, row=row, column=col, value=None, raw=raw,
                                          kind=CellKind.TEXT, label=T.row_label(table, row), confidence=0.0))
        self.runs.append(digit_runs.Run(refs=tuple(f"{t}.{r}.{c}" for t, r, c in refs), raw=raw,
                                        candidates=digit_runs.splits(tokens, len(refs))))

    def warn(self, code: str, message: str, cell: str | None = None) -> None:
        self.report.warnings.append(ParseWarning(code=code, message=message, cell=cell))

    def add_cells(self, table: str, row: str, columns: tuple[str, ...], raws: list[str], *,
                  decimal: bool = False, keep_text: tuple[str, ...] = ()) -> None:
        confidence, self.pending_confidence = self.pending_confidence, []
        if (table, row) in self.seen:
            self.warn("ambiguous_value", f"{table}.{row}: row printed more than once; the first is kept")
            return
        self.seen.add((table, row))
        label = T.row_label(table, row)
        if not decimal and not set(keep_text) & set(columns) and digit_runs.is_run(raws, len(columns)):
            # '行政规范性文件77132470': the row's cells ran together; never one number
            self.add_run([(table, row, col) for col in columns], raws)
            return
        per_cell = confidence if len(confidence) == len(raws) else ()
        cells = self.report.cells
        for k, (col, raw) in enumerate(zip(columns, raws)):
            kind, value = _parse_value(raw, decimal, col in keep_text)
            if type(raw) is str:  # most cells: no OCR reading of their own
                read, alternatives = None, ()
            else:
                read, alternatives = getattr(raw, "confidence", None), getattr(raw, "alternatives", ())
            if read is None and k < len(per_cell):
                read = per_cell[k]
            cell = Cell(table=table, row=row, column=col, value=value, raw=str(raw), kind=kind, label=label,
                        confidence=read, alternatives=alternatives)
            cells.append(cell)
            if kind is CellKind.NUMERIC or kind is CellKind.ZERO:
                continue
            if kind is CellKind.EMPTY:
                self.warn("blank_cell", f"{cell.ref} ({label} / {T.column_label(table, col)}) is blank", cell.ref)
            elif kind is CellKind.NA:
                self.warn("na_cell", f"{cell.ref} ({label}) reads {raw!r}, not a number", cell.ref)
            elif kind is CellKind.TEXT:
                self.warn("text_cell", f"{cell.ref} ({label}) reads {raw!r}, not a number", cell.ref)
        for col in columns[len(raws):]:
            ref = f"{table}.{row}.{col}"
            self.warn("missing_cell", f"{ref}: the row has no value in this column", ref)

    def take_values(self, table: str, key: str, row: Row, n: int) -> list[str]:
        idx, ambiguous = row.value_positions(n)
        if ambiguous:
            self.warn("ambiguous_value", f"{table}.{key}: more values than columns in {row.cells!r}; "
                                         "the rightmost are taken")
        self.pending_confidence = row.confidences_at(idx)  # read by the add_cells call that follows
        return [row.cells[i] for i in idx]


# Table 二 ------------------------------------------------------------------------------------------

def detect_table2_template(rows: list[Row]) -> str | None:
    text = norm("".join(r.text for r in rows))
    n2021 = sum(1 for m in T.TEMPLATE_2021_MARKERS if norm(m) in text)
    n2019 = sum(1 for m in T.TEMPLATE_2019_MARKERS if norm(m) in text)
    if n2019 > n2021:
        return "2019"
    if n2021:
        return "2021"
    return None


_PARENTHESES = re.compile(r"\([^)]*\)")


_T2_ROW_FORMS = {key: tuple(norm(v) for v in (canonical, *variants))
                 for key, (canonical, variants) in T.TABLE2_ROWS.items()}


@lru_cache(maxsize=4096)
def _match_table2_row(label: str, keys: tuple[str, ...]) -> tuple[str | None, float]:
    best, best_score = None, 0.0
    for key in keys:
        for v in _T2_ROW_FORMS[key]:
            s = fuzz.ratio(label, v)
            if s > best_score:
                best, best_score = key, s
    return best, best_score


_T2_COLUMN_FORMS = [(key, norm(v)) for key, (canonical, variants) in T.TABLE2_COLUMNS.items() if key != SCALAR
                    for v in (canonical, *variants)]


def _header_columns(labels: list[str]) -> list[str]:
    """Column keys named by a Table 二 header row, in printed order."""
    return [key for key in map(_header_column, labels) if key is not None]


@lru_cache(maxsize=4096)
def _header_column(label: str) -> str | None:
    text = norm(label)
    best = max(_T2_COLUMN_FORMS, key=lambda kv: fuzz.ratio(text, kv[1]))
    return best[0] if fuzz.ratio(text, best[1]) >= 85 else None


def map_table2(m: _Mapper, rows: list[Row], template: str) -> int:
    layout = TABLE2_LAYOUT[template]
    found = 0
    header: list[str] = []
    for row in rows:
        # scalar rows are often padded with blank cells: values are read after the label, not by position
        row = Row(cells=row.cells, from_text=row.from_text, confidence=row.confidence)
        labels = row.labels()
        if not labels or not row.has_number() and row.from_text:
            continue
        if not row.has_number():
            header = _header_columns(labels) or header
            continue
        if len(labels) > 1:  # a text stream: the header cells come in the same row as the values
            header = _header_columns(labels[:-1]) or header
        # '行政许可（件）', '1.规章': units and numbering are not part of the label
        label = _PARENTHESES.sub("", strip_numbering(norm(labels[-1]))) or norm(labels[-1])
        key, score = _match_table2_row(label, tuple(layout))
        if key is None or score < 85:
            continue
        cols = layout[key] or (SCALAR,)
        if layout[key] and sorted(header) == sorted(cols) and header != list(cols):
            cols = tuple(header)  # printed in another order than the template's
        vals = m.take_values("table2", key, row, len(cols))
        if not any(v.strip() for v in vals) and row.from_text:
            continue
        if ("table2", key) not in m.seen:
            found += 1
        m.add_cells("table2", key, cols, vals, decimal=key == "fees_wan_yuan", keep_text=("amount",))
    for key, cols in layout.items():
        if ("table2", key) not in m.seen:
            m.warn("row_not_found", f"table2.{key} ({T.row_label('table2', key)}) not found")
    return found


# Table 三 ------------------------------------------------------------------------------------------

_N3 = len(TABLE3_COLUMNS)
_T3_HEADERS = tuple(norm(h) for h in T.TABLE3_HEADER_MARKERS)
_GROUP_LABELS = {g: norm(label) for g, label in T.TABLE3_GROUPS.items()}


@lru_cache(maxsize=4096)
def _group_of(part: str) -> str | None:
    p = norm(part)
    for g, label in _GROUP_LABELS.items():
        if p == label or (len(p) <= len(label) + 2 and fuzz.ratio(p, label) >= 85):
            return g
    return None


@lru_cache(maxsize=4096)
def _split_group_prefixes(parts: tuple[str, ...]) -> tuple[str, ...]:
    """'（三）不予公开1.属于国家秘密' (cells merged in a text stream) -> the group heading and the item."""
    out: list[str] = []
    for part in parts:
        p = norm(part)
        for label in _GROUP_LABELS.values():
            if p.startswith(label) and len(p) > len(label):
                out += [label, p[len(label):]]
                break
        else:
            out.append(part)
    return tuple(out)


_ITEM_NUMBER = re.compile(r"^(\d+)[.、)]")


def _item_number(label: str) -> str | None:
    m = _ITEM_NUMBER.match(label)
    return m.group(1) if m else None


def _row_candidates():
    out = []
    for r in T.TABLE3_ROW_LABELS.values():
        forms = [norm(x) for x in (r.label, *r.variants)]
        out.append((r, forms, [strip_numbering(f) for f in forms]))
    return out


_T3_CANDIDATES = _row_candidates()


@lru_cache(maxsize=4096)
def match_table3_label(label: str, group: str | None) -> tuple[str | None, float]:
    """Best row key for an item label read under group heading `group`."""
    text = norm(label)
    bare = strip_numbering(text)
    number = _item_number(text)
    best, best_score = None, 0.0
    for r, forms, bares in _T3_CANDIDATES:
        s = max(max(similarity(text, f) for f in forms), max(similarity(bare, b) for b in bares))
        if r.group in ("withheld", "unavailable", "rejected", "other"):
            if group == r.group:
                s += 8
                if number and number == _item_number(forms[0]):
                    s += 8
            elif group is not None:
                s -= 12
        if s > best_score:
            best, best_score = r.key, s
    return best, best_score


def map_table3(m: _Mapper, rows: list[Row]) -> tuple[int, str | None]:
    """Map Table 三's rows; returns (rows found, "2019" when （六）其他处理 is a single row)."""
    matched: list[tuple[str, Row]] = []
    group: str | None = None
    pending: list[str] = []  # label parts of a row without value cells (a label wrapped over rows)
    blank_row: tuple[str | None, float, Row, list[str]] | None = None  # a row whose values are all blank

    def keep(key, score, row, labels) -> None:
        if key is None or score < ROW_THRESHOLD:
            m.warn("row_not_matched", f"table3: row {' '.join(labels)!r} matches no template row")
        else:
            matched.append((key, row))

    def keep_blank(key, score, row, labels) -> None:
        # a row without a single number is weak evidence: its label must match well
        if key is not None and score >= BLANK_ROW_THRESHOLD:
            matched.append((key, row))
        else:
            m.warn("row_not_matched", f"table3: blank row {' '.join(labels)!r} matches no template row")

    for row in rows:
        labels = row.labels(_N3)
        if not row.has_number(_N3) and (any(h in norm(row.text) for h in _T3_HEADERS)
                                         or (len(labels) == 1 and _section_of(Paragraph(labels[0]), -1, False))):
            continue  # header rows, and a section heading typed into the table
        item_parts = []
        for part in _split_group_prefixes(tuple(labels)):
            g = _group_of(part)
            if g:
                group = g
                if g == "other":
                    item_parts = [part]  # template 2019 prints （六）其他处理 as a row
                continue
            item_parts.append(part)
        has_values = row.has_number(_N3) or (len(row.cells) - row.label_end(_N3) >= _N3 and not row.from_text)
        if not has_values:
            if item_parts and not marker_table(row):
                pending = item_parts
            continue
        if not item_parts:
            pending = []
            continue
        item = item_parts[-1]
        key, score = match_table3_label(item, group)
        prefix = pending[-1] if pending else (blank_row[3][-1] if blank_row and blank_row[3] else None)
        joined = False
        if score < ROW_THRESHOLD and prefix:
            key2, score2 = match_table3_label(prefix + item, group)
            if score2 > score:
                key, score, joined = key2, score2, True
        if blank_row is not None:
            # a blank row followed by the rest of its label and the values: one row, not two
            if not (joined or blank_row[0] == key):
                keep_blank(*blank_row)
            blank_row = None
        pending = []
        if not row.has_number(_N3):
            blank_row = (key, score, row, labels)
            continue
        keep(key, score, row, labels)
    if blank_row is not None:
        keep_blank(*blank_row)
    keys = {k for k, _ in matched}
    split_other = keys & {"other_no_correction", "other_no_fee", "other_other"}
    t3_template = "2019" if "other_handling" in keys and not split_other else None
    if "other_handling" in keys and split_other:
        # the group heading row of template 2021 carries no values of its own
        matched = [(k, r) for k, r in matched if k != "other_handling"]
    for key, row in matched:
        vals = m.take_values("table3", key, row, len(TABLE3_COLUMNS))
        m.add_cells("table3", key, TABLE3_COLUMNS, vals)
    return len({k for k, _ in matched}), t3_template


# Table 四 ------------------------------------------------------------------------------------------

def map_table4(m: _Mapper, rows: list[Row]) -> int:
    per_group = len(TABLE4_COLUMNS)
    # transposed layout: one labelled row per group
    labelled: dict[str, Row] = {}
    for row in rows:
        labels = row.labels()
        if labels and row.has_number():
            label = norm("".join(labels))
            for g in TABLE4_GROUPS:
                forms = (T.TABLE4_GROUP_LABELS[g], *T.TABLE4_GROUP_VARIANTS.get(g, ()))
                if max(fuzz.ratio(label, norm(f)) for f in forms) >= 85:
                    labelled.setdefault(g, row)
                    break
    if len(labelled) == len(TABLE4_GROUPS):
        for g, row in labelled.items():
            m.add_cells("table4", g, TABLE4_COLUMNS, m.take_values("table4", g, row, per_group))
        return len(labelled)
    # the national layout: the 15 numbers in one row (or several value-only rows)
    values: list[str] = []
    value_rows = [r for r in rows if r.last_label_index() == -1 and r.has_number()]
    if not value_rows:
        # a leading label cell ('件数') before the 15 numbers
        value_rows = [Row(cells=r.cells[r.last_label_index() + 1:], confidence=r.confidence[r.last_label_index() + 1:])
                      for r in rows if r.has_number()]
    confs: list[float | None] = []
    for row in value_rows:
        cells = list(row.cells)
        while cells and not cells[-1].strip():
            cells.pop()
        values.extend(cells)
        confs.extend(row.confidences_at(list(range(len(cells)))))
    need = per_group * len(TABLE4_GROUPS)
    while len(values) > need and not values[0].strip():
        values.pop(0)
        confs.pop(0)
    if digit_runs.is_run(values, need) and not any(("table4", g) in m.seen for g in TABLE4_GROUPS):
        # the fifteen numbers ran together ('100000100000000')
        m.seen.update(("table4", g) for g in TABLE4_GROUPS)
        m.add_run([("table4", g, c) for g in TABLE4_GROUPS for c in TABLE4_COLUMNS], values)
        return len(TABLE4_GROUPS)
    if len(values) > need:
        m.warn("ambiguous_value", f"table4: {len(values)} values for {need} cells; the first {need} are taken")
        values = values[:need]
    if not values:
        return 0
    for gi, g in enumerate(TABLE4_GROUPS):
        part = values[gi * per_group:(gi + 1) * per_group]
        if part:
            m.pending_confidence = confs[gi * per_group:(gi + 1) * per_group]
            m.add_cells("table4", g, TABLE4_COLUMNS, part)
        else:
            m.warn("row_not_found", f"table4.{g} ({T.TABLE4_GROUP_LABELS[g]}) not found")
    return len(TABLE4_GROUPS)


# -- a report by its titles ---------------------------------------------------------------------------

def titled_report(extracted: Extracted, hints: dict) -> str | None:
    """The report title that the page (<title>, <h1>, meta ArticleTitle, 信息名称) or its listing entry
    names, or None; decoys (编制说明, 工作要点, 决算 …) never count."""
    meta = extracted.metadata
    candidates = [meta.get(k) for k in (*T.TITLE_KEYS, *T.PAGE_TITLE_KEYS)] + [hints.get("link_title")]
    for candidate in candidates:
        for part in _TITLE_SEPARATORS.split(candidate) if candidate else ():
            squashed = _SPACES.sub("", unicodedata.normalize("NFKC", part))
            if is_title(squashed) and not any(w in squashed for w in T.REPORT_TITLE_DECOYS):
                return squashed
    return None


def why_no_tables(extracted: Extracted) -> tuple[str, str]:
    """(warning code, message) for a report none of whose tables could be read."""
    meta = extracted.metadata
    text = "".join(b.text for b in extracted.blocks if isinstance(b, Paragraph))
    if int(meta.get("x-body-images") or 0) and len(text) < 1500:
        return "tables_are_images", "the report's tables are images (图片版): no table could be read"
    if int(meta.get("x-page-attachments") or 0) and len(text) < 500:
        return "tables_in_attachment", ("the page is a stub pointing at an attachment: no table on the page "
                                        "(the attachment's own reading decides, if it could be fetched)")
    return "tables_absent", "no statistical table found in the report"
# Cells run together ------------------------------------------------------------------------------

def table_relations(template: str, previous: dict | None = None) -> list[digit_runs.Relation]:
    """The relations a correct report satisfies (spec relations 1-4), and with last year's figures
    (``previous``: {cell ref: value}) the carry-over and the in-force stock (8, 9)."""
    R = digit_runs.Relation
    rows = TABLE3_ROWS[template]
    leaves = TABLE3_RESULT_ROWS[template]
    applicants = TABLE3_COLUMNS[:-1]
    rels = [R(f"row_total({row})", tuple(f"table3.{row}.{c}" for c in applicants), (f"table3.{row}.total",))
            for row in rows]
    for c in TABLE3_COLUMNS:
        rels.append(R(f"results_total({c})", tuple(f"table3.{r}.{c}" for r in leaves), (f"table3.total_processed.{c}",)))
        rels.append(R(f"balance({c})", (f"table3.new.{c}", f"table3.carried_over.{c}"),
                      (f"table3.total_processed.{c}", f"table3.carried_forward.{c}")))
    for g in TABLE4_GROUPS:
        rels.append(R(f"appeal_total({g})", tuple(f"table4.{g}.{c}" for c in TABLE4_COLUMNS[:-1]),
                      (f"table4.{g}.total",)))
    previous = previous or {}
    for c in TABLE3_COLUMNS:
        v = previous.get(f"table3.carried_forward.{c}")
        if isinstance(v, int):
            rels.append(R(f"carry_continuity({c})", (f"table3.carried_over.{c}",), (), v))
    if template == "2021":
        for row in ("regulations", "normative_documents"):
            v = previous.get(f"table2.{row}.in_force")
            if isinstance(v, int):
                rels.append(R(f"in_force_continuity({row})", (f"table2.{row}.in_force", f"table2.{row}.repealed"),
                              (f"table2.{row}.issued",), v))
    return rels


def resolve_runs(m: _Mapper, template: str, previous: dict | None = None) -> None:
    """Split the runs by the table's arithmetic; warn for each, naming the ambiguity resolved."""
    run_refs = {ref for run in m.runs for ref in run.refs}
    fixed = {c.ref: c.value for c in m.report.cells
             if c.ref not in run_refs and c.kind.assessable and not c.low_confidence}
    outcome = digit_runs.resolve(m.runs, fixed, table_relations(template, previous))
    cells = {c.ref: c for c in m.report.cells if c.ref in run_refs}
    for ref, v in outcome.values.items():
        c = cells[ref]
        c.value, c.raw = v, str(v)
        c.kind = CellKind.ZERO if v == 0 else CellKind.NUMERIC
        c.confidence = outcome.confidence[ref]
    for run, split, ways, used in outcome.taken:
        where = _run_where(run.refs)
        read = " | ".join(str(v) for v in split)
        if ways == 1:
            m.warn("digit_run", f"{where}: {run.raw!r} lost its cell boundaries; read as {read}, the only way "
                                f"its digits make {len(run.refs)} cells")
        else:
            m.warn("digit_run", f"{where}: {run.raw!r} lost its cell boundaries and reads {ways} ways; only "
                                f"{read} satisfies {', '.join(used)}; its cells are marked low-confidence")
    why_text = {"too_many": "too many ways to split it", "no_split": "no split satisfies the table's relations",
                "ambiguous": "several splits satisfy the table's relations"}
    for run, why in outcome.unread:
        m.warn("unsplit_digits", f"{_run_where(run.refs)}: {run.raw!r} lost its cell boundaries and "
                                 f"{why_text[why]}; its {len(run.refs)} cells are left unread", run.refs[0])


def _run_where(refs: tuple[str, ...]) -> str:
    rows = list(dict.fromkeys(".".join(r.split(".")[:2]) for r in refs))  # in order of appearance
    return rows[0] if len(rows) == 1 else f"{rows[0]}…{rows[-1]}"


# -- entry point ----------------------------------------------------------------------------------

def map_report(extracted: Extracted, *, source: Source, hints: dict | None = None) -> Report:
    """The canonical Report of an extracted document (status PARSED, PARTIAL or NOT_A_REPORT)."""
    hints = hints or {}
    report = Report(source=source, text=extracted.text)
    m = _Mapper(report)
    blocks = extracted.blocks
    headings = find_sections(blocks)
    sections = _section_at(headings, len(blocks))

    # sections text (paragraphs only; tables are kept apart from the narrative)
    for j, (i, key) in enumerate(headings):
        end = headings[j + 1][0] if j + 1 < len(headings) else len(blocks)
        rest = split_heading(blocks[i].text)[1] if isinstance(blocks[i], Paragraph) else ""
        paras = ([rest] if rest else []) + [b.text for b in blocks[i + 1:end] if isinstance(b, Paragraph)]
        report.sections[key] = "\n".join(paras)

    rows = assign_rows(blocks, sections, positional=not extracted.text_layout)
    for table in _TABLES:
        if not rows[table]:
            rows[table] = text_stream_rows(blocks, sections, table)

    # template: Table 二's headers decide; Table 三's （六） shape can only say 2019
    t2_template = detect_table2_template(rows["table2"])
    template = t2_template or "2021"

    found = {"table2": map_table2(m, rows["table2"], template) if rows["table2"] else 0}
    found["table3"], t3_template = map_table3(m, rows["table3"]) if rows["table3"] else (0, None)
    found["table4"] = map_table4(m, rows["table4"]) if rows["table4"] else 0
    if t3_template == "2019" and t2_template != "2019":
        if t2_template is None:
            template = "2019"
        else:
            m.warn("mixed_template", f"table2 follows template 2021 but table3 prints {T.TABLE3_GROUPS['other']} "
                                     "as one row (template 2019); its value is kept under table3.other_handling")
    elif t2_template == "2019" and t3_template != "2019" and found["table3"]:
        m.warn("mixed_template", f"table2 follows template 2019 but table3 splits {T.TABLE3_GROUPS['other']} "
                                 "into three rows (template 2021)")
    if t2_template is None and t3_template is None and not any(found.values()):
        template = "unknown"
    report.template = template

    if found["table3"]:
        expected_rows = TABLE3_ROWS["2019" if t3_template == "2019" else "2021"]
        for key in expected_rows:
            if ("table3", key) not in m.seen:
                m.warn("row_not_found", f"table3.{key} ({T.row_label('table3', key)}) not found")
    for section, table in T.SECTION_TABLES.items():
        if not found[table]:
            m.warn("table_not_found", f"{table} (the table of {T.SECTIONS[section][0]}) not found")

    if m.runs:
        resolve_runs(m, template if t3_template != "2019" else "2019", hints.get("previous"))

    title_in_body = extract_metadata(report, extracted, headings=headings, hints=hints)

    complete = all(found.values()) and not any(
        w.code in ("blank_cell", "na_cell", "text_cell", "missing_cell", "row_not_found", "table_not_found",
                   "ambiguous_value", "unsplit_digits") for w in report.warnings)
    if complete:
        report.status = ParseStatus.PARSED
    elif any(found.values()) or title_in_body or len(headings) >= 3:
        report.status = ParseStatus.PARTIAL
    elif (page_title := titled_report(extracted, hints)) is not None:
        # the page and its listing say 政府信息公开工作年度报告: a report, whatever its body holds
        report.status = ParseStatus.PARTIAL
        report.title = report.title or page_title
        agency, year = parse_title(page_title)
        report.agency, report.year = report.agency or agency, report.year or year
    else:
        report.status = ParseStatus.NOT_A_REPORT
        report.error = f"{source.path or source.url or 'document'}: no report tables, title or sections found"
    if report.status == ParseStatus.PARTIAL and not any(found.values()):
        m.warn(*why_no_tables(extracted))
    return report
