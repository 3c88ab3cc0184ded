"""OCR: reports that are pictures (scanned PDFs, 图片版 pages, image attachments) read offline on the CPU.

A page image becomes the same ``Extracted`` (paragraphs and ``Table`` grids of ``GridCell``) as
the text extractors produce, so mapping and checks need no change:

* ``layout``: deskew, binarise, ruling lines by morphology, cells and spans from the grid;
* ``reader``: Tesseract (tesserocr) on each cell: digits with a whitelist on one line, labels with
  chi_sim; the narrative around the tables line by line;
* ``proofread`` (after mapping): the table's own arithmetic corrects a single misread character.

Each ``GridCell`` read by OCR carries Tesseract's confidence (0..1); mapping copies it to
``Cell.confidence``.  ``STATS`` adds up the seconds spent per step (the bench prints the shares).
"""
from __future__ import annotations

import re
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from storage.models import LOW_CONFIDENCE as LOW
from storage.models import ParseStatus

from ..extract.base import Extracted, GridCell, Paragraph, Table
from . import layout
from .image import MAX_PAGES, ImageRefused, decode_image, page_images
from .reader import EngineMissing, read_digits, read_label, read_lines
from .vocabulary import fix_text, is_label, snap, snap_fuzzy, snap_heading, snap_prefix

__all__ = ["extract_image", "extract_images", "extract_pdf_pages", "ocr_pages", "STATS", "reset_stats", "MAX_PAGES"]

STATS: dict[str, float] = defaultdict(float)
# One thread for OpenCV, as for Tesseract (OMP_THREAD_LIMIT=1 in the parse workers): the parse
# pool's processes are the parallelism.  OpenCV's own pool of threads on each page's connected
# components and morphology only adds CPU seconds (measured: find_tables and glyph_height on 8
# pages of the 200 dpi corpus, 0.66-0.74 CPU s with one thread against 0.80-0.90 with two, on 2 cores).
cv2.setNumThreads(1)
#: Value cells are scaled so their digits are this many pixels high, then read again at a second size
#: (measured on the test corpus: 20 px reads best, 28 px errs differently).
DIGIT_HEIGHT = 20
DIGIT_HEIGHT_2 = 28  # the second reading's scale
DIGIT_HEIGHT_3 = 24  # the third, for a reading with a SUSPECT_DIGITS glyph
SUSPECT_DIGITS = "47"
#: The narrative is read with its Chinese glyphs at least this high (measured: a 150 dpi scan's 17 px
#: glyphs lose the placeholder （单位名称） and section headings; enlarged, they are read).
NARRATIVE_MIN_HEIGHT = 26
NARRATIVE_ENLARGE_BELOW = 21  # px: body glyphs smaller than this are enlarged (150 dpi: yes, 200: no)
#: Label cells: Chinese glyphs about this high (smaller is faster, and LSTM still reads them).
LABEL_HEIGHT = 30
#: A long label is read this many glyphs at a time, until it is known (see _label_by_chunks).
CHUNK_GLYPHS = 4
_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_VALUE = re.compile(r"^[0-9]+(\.[0-9]+)?$|^[/\-—]$")


def reset_stats() -> None:
    STATS.clear()


@contextmanager
def _timed(step: str):
    t = time.process_time()  # CPU seconds: other work on the machine does not count
    try:
        yield
    finally:
        STATS[step] += time.process_time() - t


def clean_text(text: str) -> str:
    """OCR text as a text layer would give it: no spaces between Chinese characters, one line."""
    text = " ".join(text.split())
    return _CJK_SPACE.sub("", text)


# -- one page --------------------------------------------------------------------------------------

def _ink_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    pts = cv2.findNonZero(mask)
    if pts is None:
        return None
    x, y, w, h = cv2.boundingRect(pts)
    return x, y, x + w, y + h


def _clean_crop(ink: np.ndarray, box: layout.Box, rule: int) -> np.ndarray:
    """The ink inside a cell, its rulings and the specks too small to be a stroke removed."""
    m = rule + 2
    crop = ink[box.y0 + m:box.y1 - m, box.x0 + m:box.x1 - m]
    if crop.size == 0:
        return crop
    n, labels, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    keep = np.zeros(n, dtype=bool)
    for k in range(1, n):
        x, y, w, h, area = stats[k]
        if area >= 6 and max(w, h) >= 3:
            keep[k] = True
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _looks_numeric(crop: np.ndarray, box: tuple[int, int, int, int], char_h: float) -> int:
    """One line of separate upright glyphs of a digit's proportions (a Chinese character is square
    and falls into several strokes of varied height)."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    if h > char_h * 1.6 or h < char_h * 0.35:
        return 0
    n, _l, stats, _ = cv2.connectedComponentsWithStats(crop[y0:y1, x0:x1], connectivity=8)
    glyphs = [stats[k] for k in range(1, n) if stats[k][4] >= 6]
    if not glyphs or len(glyphs) > 14:
        return 0
    tall = 0
    for x, y, w, gh, _a in glyphs:
        point = w < 0.4 * h and gh < 0.35 * h and y > 0.6 * h
        if gh < 0.6 * h and not point:
            return 0
        if w > 1.1 * h:  # JPEG blur widens a 0 to nearly square; a Chinese character is wider still
            return 0
        tall += not point
    return tall  # glyphs that must each be a digit


def _prepare(crop: np.ndarray, box: tuple[int, int, int, int], target_h: float) -> np.ndarray:
    """The glyphs black on white, scaled to ``target_h`` and framed by white (Tesseract wants a margin).
    ``crop`` is grey with everything but the cleaned ink whitened."""
    x0, y0, x1, y1 = box
    glyph = crop[y0:y1, x0:x1]
    scale = target_h / max(1, y1 - y0)
    if not 0.9 <= scale <= 1.1:
        glyph = cv2.resize(glyph, (max(1, int((x1 - x0) * scale)), max(1, int((y1 - y0) * scale))),
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    pad = int(target_h * 0.5)
    return cv2.copyMakeBorder(glyph, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def _agree(t1: str, c1: float, t2: str, c2: float) -> tuple[str, float, tuple[str, ...]]:
    """Two readings of a value at two scales.  Tesseract's LSTM can misread a lone glyph with high
    confidence at one size (a clean "1" as "4" at 0.97) and read it right at another: two readings
    that agree are trusted as the better of the two; two that disagree are low-confidence whatever
    Tesseract says, and the arithmetic proof-reader decides."""
    t1, t2 = t1.strip(), t2.strip()
    if t1 == t2:
        return t1, max(c1, c2), ()
    best, conf, other = (t1, c1, t2) if c1 >= c2 else (t2, c2, t1)
    if not _VALUE.match(best):
        best, conf, other = (other, c2 if best == t1 else c1, best)
    return best, min(conf, 0.5), ((other,) if _VALUE.match(other) else ())


def _digits_twice(g: np.ndarray, bb, r1=None) -> tuple[str, float, tuple[str, ...]]:
    """A value cell read at the two scales (see _agree).  A reading with a 4 or a 7, the glyphs a
    lone 1 is misread as with high confidence at both scales (seen on the test corpus: "1" read "4"
    at 20 and 28 px, "1" at 16, 24, 32), is read a third time between them; a third reading that
    disagrees makes the cell low-confidence, with that reading as its alternative.  ``r1``: the
    first reading, when it was already made (see _row_confirmed)."""
    if r1 is None:
        r1 = read_digits(_prepare(g, bb, DIGIT_HEIGHT))
    r2 = read_digits(_prepare(g, bb, DIGIT_HEIGHT_2))
    text, conf, alts = _agree(r1.text, r1.confidence, r2.text, r2.confidence)
    if not alts and any(ch in text for ch in SUSPECT_DIGITS):
        r3 = read_digits(_prepare(g, bb, DIGIT_HEIGHT_3))
        t3 = r3.text.strip()
        if t3 != text:
            return text, min(conf, 0.5), ((t3,) if _VALUE.match(t3) else ())
    return text, conf, alts


def _text_lines(crop: np.ndarray, char_h: float) -> list[tuple[int, int]]:
    """Bands of rows with ink, split where a blank gap separates lines of text."""
    rows = np.count_nonzero(crop, axis=1) > 0
    bands: list[list[int]] = []
    y = 0
    n = len(rows)
    while y < n:
        if rows[y]:
            start = y
            while y < n and rows[y]:
                y += 1
            bands.append([start, y])
        y += 1
    merged: list[list[int]] = []
    for b in bands:  # a band too thin to be a line (a stroke, a comma) joins its neighbour
        if merged and (b[1] - b[0] < char_h * 0.45 or merged[-1][1] - merged[-1][0] < char_h * 0.45):
            merged[-1][1] = b[1]
        else:
            merged.append(b)
    return [(a, b) for a, b in merged]


@dataclass
class _Crop:
    """A cell with ink: the cleaned mask, the grey glyphs (white elsewhere), the ink's box and the
    number of digit-shaped glyphs (0: not a value)."""
    mask: np.ndarray
    g: np.ndarray
    bb: tuple[int, int, int, int]
    glyphs: int


def _analyse(ink: np.ndarray, grey: np.ndarray, box: layout.Box, rule: int, char_h: float) -> GridCell | _Crop:
    """A cell's ink, or the cell itself when there is nothing to read (empty, a dash)."""
    crop = _clean_crop(ink, box, rule)
    if crop.size == 0:
        return GridCell("", confidence=1.0)
    bb = _ink_box(crop)
    if bb is None or int(np.count_nonzero(crop)) < max(8, char_h * 0.5):
        return GridCell("", confidence=1.0)
    x0, y0, x1, y1 = bb
    if (y1 - y0) < char_h * 0.3 and (x1 - x0) > 2 * (y1 - y0):  # a lone dash: "-" / "—" (not applicable)
        return GridCell("-", confidence=0.95)
    m = rule + 2
    # the scan's grey levels where the cleaned mask has ink (anti-aliased edges help the LSTM),
    # white elsewhere (rulings, specks)
    g = grey[box.y0 + m:box.y1 - m, box.x0 + m:box.x1 - m]
    near = cv2.dilate(crop, np.ones((3, 3), np.uint8)) > 0
    g = np.where(near, g, 255).astype(np.uint8)
    return _Crop(crop, g, bb, _looks_numeric(crop, bb, char_h))


def _chunks(mask: np.ndarray, box: tuple[int, int, int, int], char_h: float):
    """A line of label text cut into pieces of about CHUNK_GLYPHS glyphs, each cut in the widest
    blank column gap in the glyph before the cut (a gap between glyphs is wider than one inside a
    glyph such as 川); the rest of the line is one piece when no gap is found."""
    x0, y0, x1, y1 = box
    cols = np.count_nonzero(mask[y0:y1, x0:x1], axis=0) == 0
    start = 0
    width = x1 - x0
    step = int(CHUNK_GLYPHS * char_h)
    while start < width:
        cut = start + step
        if width - cut < char_h:  # the rest is less than a glyph: one piece
            yield x0 + start, y0, x1, y1
            return
        best, best_len, x = None, 0, cut
        lo = max(start + 1, cut - int(char_h))
        while x > lo:  # blank runs ending at or before the cut, within a glyph's width
            if cols[x]:
                end = x
                while x > lo and cols[x - 1]:
                    x -= 1
                if end - x + 1 > best_len:
                    best, best_len = (x + end + 1) // 2, end - x + 1
            x -= 1
        if best is None:
            yield x0 + start, y0, x1, y1
            return
        yield x0 + start, y0, x0 + best, y1
        start = best


def _label_by_chunks(c: _Crop, lines: list[tuple[int, int, int, int]], char_h: float) -> GridCell | None:
    """A long label read a few glyphs at a time, the reading stopped as soon as the glyphs so far
    begin exactly one label of the template (or are one): most labels of the three tables are
    told apart by their first three to five glyphs ("1.属于国…", "（四）无法…"), and a Chinese
    glyph costs the LSTM the same wherever it is, so the rest of the line is time spent for
    nothing.  Exact on the characters read (snap_prefix): a misread glyph matches no label and
    None is returned; so does a doubtful piece.  The caller then reads the label as a whole."""
    text, confs = "", []
    for k, lb in enumerate(lines):
        for piece in _chunks(c.mask, lb, char_h):
            r = read_label(_prepare(c.g, piece, LABEL_HEIGHT), one_line=True)
            if r.confidence < LOW or not r.text.strip():
                return None
            text += r.text
            confs.append(r.confidence)
            seen = clean_text(text)
            label = snap_prefix(seen)
            if label is None and is_label(seen) and k + 1 == len(lines):
                label = snap_fuzzy(seen) or seen
            if label is not None:
                return GridCell(label, confidence=round(min(confs), 3))
    return None


def _line_boxes(c: _Crop, char_h: float) -> list[tuple[int, int, int, int]]:
    """The boxes of a label's text lines (one, or those of a wrapped label)."""
    x0, y0, x1, y1 = c.bb
    if (y1 - y0) < char_h * 1.6:
        return [c.bb]
    out = []
    for ly0, ly1 in _text_lines(c.mask[y0:y1, x0:x1], char_h):
        lb = _ink_box(c.mask[y0 + ly0:y0 + ly1, x0:x1])
        if lb is not None:
            out.append((x0 + lb[0], y0 + ly0 + lb[1], x0 + lb[2], y0 + ly0 + lb[3]))
    return out


def _read_label_cell(c: _Crop, char_h: float) -> GridCell:
    g, bb = c.g, c.bb
    x0, y0, x1, y1 = bb
    lines = _line_boxes(c, char_h)
    if lines and sum(b[2] - b[0] for b in lines) > (CHUNK_GLYPHS + 1.5) * char_h:
        # a long label: read a few glyphs at a time, as far as it takes to know which label it is
        got = _label_by_chunks(c, lines, char_h)
        if got is not None:
            return got
    if (y1 - y0) < char_h * 1.6:
        size = LABEL_HEIGHT
        r = read_label(_prepare(g, bb, size), one_line=True)
        if not r.text.strip() or r.confidence < LOW:
            # nothing, or a doubtful reading: the line read raw too, the more confident kept
            rr = read_label(_prepare(g, bb, size), one_line=True, raw=True)
            if rr.text.strip() and (not r.text.strip() or (is_label(clean_text(rr.text)), rr.confidence)
                                    > (is_label(clean_text(r.text)), r.confidence)):
                r = rr
        for h in (LABEL_HEIGHT * 1.4, LABEL_HEIGHT * 0.8):  # nothing read at all: another size
            if r.text.strip():
                break
            size = h
            r = read_label(_prepare(g, bb, size), one_line=True)
        if r.confidence < LOW and r.chars and not is_label(clean_text(r.text)):
            # doubtful: read again with the engine's alternative characters, to snap it
            again = read_label(_prepare(g, bb, size), one_line=True, choices=True)
            r = again if again.chars else r
            label = snap(r.chars, r.alternatives)
            if label is not None:
                return GridCell(label, confidence=round(r.confidence, 3))
    else:  # a wrapped label: each line read as one (Tesseract's block mode drops lines of a small crop)
        parts, confs = [], []
        for k, line_box in enumerate(lines):
            lr = read_label(_prepare(g, line_box, LABEL_HEIGHT), one_line=True)
            parts.append(lr.text)
            confs.append(lr.confidence)
            if k + 1 < len(lines) and min(confs) >= LOW:
                # the lines so far begin exactly one label of the template: the rest is not read
                label = snap_prefix(clean_text("".join(parts)))
                if label is not None:
                    return GridCell(label, confidence=round(min(confs), 3))
        text = clean_text("".join(parts))
        return GridCell(snap_fuzzy(text) or text, confidence=round(min(confs, default=0.0), 3))
    text = clean_text(r.text)
    if len(text) <= 4 and not _CJK.search(text) and (y1 - y0) < char_h * 1.6:
        # no Chinese in it: a value whose glyphs a speck or a blur made look odd ('0' read as '”');
        # read as digits, and kept low-confidence, so the arithmetic and the checks know
        with _timed("read_digits"):
            t, conf, alts = _digits_twice(g, bb)
        if t and _VALUE.match(t):
            return GridCell(t, confidence=round(min(conf, 0.6), 3), alternatives=alts)
    return GridCell(snap_fuzzy(text) or text, confidence=round(r.confidence, 3))


def _template_label(c: _Crop) -> GridCell | None:
    """The one-line cell read as a label, when the reading has Chinese in it and is a label of the
    template: exactly, or (a confident reading) clearly one by snap_fuzzy; else None."""
    r = read_label(_prepare(c.g, c.bb, LABEL_HEIGHT), one_line=True)
    text = clean_text(r.text)
    if not _CJK.search(text):
        return None
    if is_label(text):  # punctuation aside: the template's own form
        label = snap_fuzzy(text) or text
    else:
        label = snap_fuzzy(text) if r.confidence >= LOW else None
    return GridCell(label, confidence=round(r.confidence, 3)) if label else None


def _read_cell(c: _Crop, char_h: float, first=None) -> GridCell:
    """One cell: a value, or a label.  ``first``: the value's first reading, already made."""
    if c.glyphs:
        with _timed("read_digits"):
            text, conf, alts = _digits_twice(c.g, c.bb, first)
        # every glyph must be a digit of the reading: "3.其他" is not the number 3
        if text and _VALUE.match(text) and c.glyphs <= len(text.replace(".", "")):
            if conf < LOW and c.bb[3] - c.bb[1] < char_h * 1.6:
                # two readings that disagree: the glyphs may be no digits at all (a short label
                # whose square glyphs look like digits: "3.其他" read "3.54" and "3.4" on a 200 dpi
                # PNG page); read as a label, a reading that is a template label wins
                with _timed("read_labels"):
                    label = _template_label(c)
                if label is not None:
                    return label
            return GridCell(text, confidence=round(conf, 3), alternatives=alts)
    with _timed("read_labels"):
        return _read_label_cell(c, char_h)


#: A row's values are trusted from one reading only in groups of at least this many cells whose
#: last is the sum of the others (Table 三: six applicants and their total; Table 四: four results
#: and their total, three times): three addends and a total.  A group of three (Table 二's issued /
#: repealed / in force) is never taken as a sum: 0 + 0 = 0 would "confirm" a misread zero.
MIN_SUM_GROUP = 4


def _row_confirmed(g: layout.GridBox, cells: dict, first: dict) -> dict[tuple[int, int], GridCell]:
    """Value cells whose first reading needs no second one: each is a confident integer, and the
    row's values, from the first to the last grid column, fall into equal groups each ending in
    the sum of the rest (a row total).  A misread glyph breaks the sum it is in (a compensating
    second misread in the same group is what it would take to hide it), so such a row's readings
    are what a second reading would confirm; a row that does not add up (a misreading, or the
    agency's own arithmetic slip) is read again as before, and the proof-reader and the checks see
    exactly what they saw before."""
    out: dict[tuple[int, int], GridCell] = {}
    nr, nc = len(g.ys) - 1, len(g.xs) - 1
    for i in range(nr):
        roots = [g.root[(i, j)] for j in range(nc)]
        start = next((j for j, r in enumerate(roots) if r in first), None)
        if start is None:
            continue
        run = roots[start:]
        if any(r[0] != i or r[1] != start + k or g.extent[r] != r for k, r in enumerate(run)):
            continue  # a span or a cell that is no value among the values: not a plain row of figures
        vals = []
        for r in run:
            rd = first.get(r)
            t = rd.text.strip() if rd is not None else ""
            if not t.isdigit() or rd.confidence < LOW or cells[r].glyphs > len(t):
                break
            vals.append(int(t))
        else:
            n = len(vals)
            for k in range(MIN_SUM_GROUP, n + 1):
                if n % k or not all(sum(vals[a:a + k - 1]) == vals[a + k - 1] for a in range(0, n, k)):
                    continue
                for a in range(0, n, k):
                    nonzero = [m for m in range(a, a + k - 1) if vals[m]]
                    for m in range(a, a + k):
                        # one figure and its total alone prove nothing against a glyph misread the
                        # same way twice ("1 ... 1" read "4 ... 4"): those two are read again
                        if len(nonzero) == 1 and m in (nonzero[0], a + k - 1):
                            continue
                        rd = first[run[m]]
                        out[run[m]] = GridCell(rd.text.strip(), confidence=round(rd.confidence, 3))
                break
    return out


def _table(ink: np.ndarray, grey: np.ndarray, g: layout.GridBox, dpi: int, page_no: int) -> Table:
    rule = max(2, int(dpi / 100))
    # glyph height of the table's font: measured on the page, else that of a 9-10.5 pt font
    char_h = g.glyph_h or dpi * 9.5 / 72 * 0.75
    nr, nc = len(g.ys) - 1, len(g.xs) - 1
    with _timed("cells"):
        cells = {root: _analyse(ink, grey, g.cell_box(root), rule, char_h) for root in sorted(set(g.root.values()))}
    # every value read once; a row whose readings already satisfy its own totals keeps them (see
    # _row_confirmed), the other values are read again at the second scale
    with _timed("read_digits"):
        first = {root: read_digits(_prepare(c.g, c.bb, DIGIT_HEIGHT))
                 for root, c in cells.items() if isinstance(c, _Crop) and c.glyphs}
    confirmed = _row_confirmed(g, cells, first)
    texts = {root: (c if isinstance(c, GridCell) else confirmed[root] if root in confirmed
                    else _read_cell(c, char_h, first.get(root)))
             for root, c in cells.items()}
    rows = []
    for i in range(nr):
        row = []
        for j in range(nc):
            root = g.root[(i, j)]
            c = texts[root]
            row.append(c if root == (i, j) else GridCell(c.text, spanned=True, origin=root,
                                                         confidence=c.confidence, alternatives=c.alternatives))
        rows.append(row)
    # a grid row with no ink at all is a gap between rulings, not a row
    rows = [r for r in rows if any(c.text for c in r)] or rows
    return Table(rows=rows, page=page_no)


def _paragraphs(lines, dpi: int) -> list[tuple[int, Paragraph]]:
    if not lines:
        return []
    heights = sorted(ln.y1 - ln.y0 for ln in lines)
    lh = heights[len(heights) // 2] or 1
    left = min(ln.x0 for ln in lines)
    right = max(ln.x1 for ln in lines)
    out: list[tuple[int, list[str]]] = []
    prev = None
    for ln in sorted(lines, key=lambda x: (x.y0, x.x0)):
        text = clean_text(ln.text)
        if not text:
            continue
        indented = ln.x0 - left > 1.2 * lh
        new = (prev is None or indented or prev.x1 < right - 2.5 * lh
               or ln.y0 - prev.y1 > 1.3 * lh)
        if new:
            out.append((ln.y0, [text]))
        else:
            out[-1][1].append(text)
        prev = ln
    paras = []
    for y, parts in out:
        text = fix_text("".join(parts))
        paras.append((y, Paragraph(snap_heading(text) or text)))
    return paras


def ocr_page(grey: np.ndarray, dpi: int, page_no: int) -> list[tuple[int, object]]:
    """(y, block) of one page, deskewed and read."""
    with _timed("deskew"):
        angle = layout.estimate_skew(grey)
        rotated = layout.rotate(grey, angle)
        # an upright page is lightly smoothed: turning the page back interpolates (and so
        # smooths) its pixels; an upright scan keeps its JPEG blocks and specks, which Tesseract
        # misreads (measured on the test corpus: a 150 dpi PNG page with 164 of 280 cells doubtful
        # as it is, 74 smoothed by a 3x3 Gaussian of sigma 0.5)
        grey = cv2.GaussianBlur(rotated, (3, 3), 0.5) if rotated is grey else rotated
    with _timed("binarise"):
        ink = layout.binarise(grey)
    with _timed("rulings"):
        grids = layout.find_tables(ink, dpi)
    items: list[tuple[int, object]] = []
    if grids:
        measured = layout.glyph_height(ink)
        expected = dpi * 9.5 / 72 * 0.75
        for g in grids:  # trusted within a factor 2 of what the dpi says (a page of big headings is not a font)
            g.glyph_h = measured if measured and (0.5 < measured / expected < 2 or dpi <= 100) else None
    for g in grids:
        items.append((g.box.y0, _table(ink, grey, g, dpi, page_no)))
    with _timed("narrative"):
        rest = 255 - ink
        for g in grids:
            b = g.box
            rest[max(0, b.y0 - 3):b.y1 + 3, max(0, b.x0 - 3):b.x1 + 3] = 255
        # the narrative's own specks: Tesseract reads a lone dot as punctuation
        rest = cv2.medianBlur(rest, 3)
        box = _ink_box((rest < 128).astype(np.uint8)) if np.count_nonzero(rest < 128) > 50 else None
        if box is not None:
            # only the part of the page with ink is handed over (Tesseract's layout analysis
            # costs by the pixel), with a margin
            m = int(dpi * 0.1)
            bx0, by0 = max(0, box[0] - m), max(0, box[1] - m)
            rest = rest[by0:box[3] + m, bx0:box[2] + m]
            body_h = dpi * 10.5 / 72 * 0.8  # glyph height of a 10.5-12 pt body font
            # chi_sim misreads glyphs of a 150 dpi scan (~17 px): those pages are enlarged to
            # NARRATIVE_MIN_HEIGHT; from 200 dpi (~23 px) they are read as they are
            scale = NARRATIVE_MIN_HEIGHT / body_h if body_h < NARRATIVE_ENLARGE_BELOW else 1.0
            if scale > 1.05:
                small = cv2.resize(rest, (int(rest.shape[1] * scale), int(rest.shape[0] * scale)),
                                   interpolation=cv2.INTER_LINEAR)
                lines = read_lines(small)
            else:
                scale = 1.0
                lines = read_lines(rest)
            for ln in lines:
                ln.x0, ln.x1 = (int(v / scale) + bx0 for v in (ln.x0, ln.x1))
                ln.y0, ln.y1 = (int(v / scale) + by0 for v in (ln.y0, ln.y1))
            items.extend(_paragraphs(lines, dpi))
    items.sort(key=lambda x: x[0])
    return items


def ocr_pages(pages: list[tuple[np.ndarray, int]], *, fmt: str, name: str,
              meta: dict | None = None) -> Extracted:
    blocks: list = []
    try:
        for pno, (grey, dpi) in enumerate(pages, start=1):
            blocks.extend(b for _, b in ocr_page(grey, dpi, pno))
    except EngineMissing as e:
        return Extracted(format=fmt, status=ParseStatus.NEEDS_OCR, error=f"{name}: needs OCR, but {e}")
    if not blocks:
        return Extracted(format=fmt, status=ParseStatus.EMPTY, metadata=dict(meta or {}),
                         error=f"{name}: OCR found no text on {len(pages)} page image(s)")
    ex = Extracted(format=fmt, blocks=blocks, metadata=dict(meta or {}))
    ex.ocr = "all"  # the proof-reader runs after mapping
    return ex


def extract_image(data: bytes, *, name: str = "image") -> Extracted:
    """An image attachment (PNG, JPEG, TIFF...; a multi-page TIFF gives several pages)."""
    try:
        frames = decode_image(data, name)
    except ImageRefused as e:
        return Extracted(format="image", status=ParseStatus(e.status), error=str(e))
    pages = [(f, _image_dpi(data, f)) for f in frames]
    return ocr_pages(pages, fmt="image", name=name)


def _image_dpi(data: bytes, frame: np.ndarray) -> int:
    """The scan's resolution: from the file when it says, else from the page width (an A4 page)."""
    from PIL import Image
    import io

    try:
        dpi = Image.open(io.BytesIO(data)).info.get("dpi")
        if dpi and 100 <= float(dpi[0]) <= 600:
            return int(round(float(dpi[0])))
    except Exception:
        pass
    h, w = frame.shape
    guess = w / 8.27 if h > w else w / 11.69  # A4 portrait / landscape
    return int(min(max(guess, 100), 600))


def extract_pdf_pages(pdf, *, name: str, meta: dict | None = None) -> Extracted:
    """A PDF with no usable text layer: every page rendered and read."""
    n = len(pdf)
    try:
        pages = page_images(pdf, name)
    except ImageRefused as e:
        return Extracted(format="pdf", status=ParseStatus(e.status), error=str(e))
    ex = ocr_pages(pages, fmt="pdf", name=name, meta=meta)
    if n > MAX_PAGES and ex.status is None:
        ex.status = ParseStatus.PARTIAL
        ex.error = f"{name}: only the first {MAX_PAGES} of {n} pages were read by OCR"
    return ex


def _open_pdf(data: bytes):
    import pypdfium2 as pdfium

    return pdfium.PdfDocument(data)


def extract_pdf_bytes(data: bytes, *, name: str, meta: dict | None = None, why: str = "") -> Extracted:
    """The PDF extractor's hook: no usable text layer.  Without the OCR engine the document keeps
    the status it had before OCR existed (needs_ocr), with the reason."""
    pdf = _open_pdf(data)
    try:
        ex = extract_pdf_pages(pdf, name=name, meta=meta)
    finally:
        pdf.close()
    if ex.status is ParseStatus.NEEDS_OCR and why:
        ex.error = f"{why} ({ex.error})"
    return ex


def ocr_pdf_pages(data: bytes, pnos: list[int], *, name: str) -> dict[int, list]:
    """Blocks of the given 0-based pages (the image-only pages of a PDF with text elsewhere)."""
    out: dict[int, list] = {}
    if not pnos:
        return out
    pdf = _open_pdf(data)
    try:
        from .image import render_page

        for pno in pnos[:MAX_PAGES]:
            try:
                grey, dpi = render_page(pdf, pno, name)
                out[pno] = [b for _, b in ocr_page(grey, dpi, pno + 1)]
            except (ImageRefused, EngineMissing):
                continue
    finally:
        pdf.close()
    return out


def extract_images(images: list[bytes], *, name: str = "images") -> Extracted:
    """Several images as the pages of one report (PNG pages of a scan, the tables of a 图片版 page)."""
    pages = []
    for k, data in enumerate(images[:MAX_PAGES], start=1):
        try:
            frames = decode_image(data, f"{name} image {k}")
        except ImageRefused as e:
            return Extracted(format="image", status=ParseStatus(e.status), error=str(e))
        pages.extend((f, _image_dpi(data, f)) for f in frames)
    return ocr_pages(pages[:MAX_PAGES], fmt="image", name=name)


#: An embedded picture narrower than this is a seal, a logo or an icon, not a page or a table.
MIN_PICTURE_WIDTH = 400


def picture_blocks(data: bytes, *, name: str, page_no: int = 1) -> list:
    """The blocks OCR reads in one embedded picture (a DOCX's table image): [] for a picture too
    small to be a table or page.  Raises ImageRefused (too large, truncated) and EngineMissing."""
    frames = decode_image(data, name)
    out: list = []
    for k, frame in enumerate(frames[:MAX_PAGES]):
        if frame.shape[1] < MIN_PICTURE_WIDTH or frame.shape[0] < 100:
            continue
        out.extend(b for _, b in ocr_page(frame, _image_dpi(data, frame), page_no + k))
    return out
