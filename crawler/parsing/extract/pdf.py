"""PDF (with a text layer) -> Extracted, with pypdfium2.

Why pypdfium2 and our own table assembly rather than pdfplumber's ``extract_tables``: measured on
the rendered seed corpus (bench/parse_bench.py), pdfplumber needs a few hundred milliseconds per
page (pdfminer's layout analysis in pure Python) while PDFium hands us every character with its
box and every path object in a few milliseconds per page; with that, a lattice assembly (the
reports' tables are ruled: Word/WPS draw every cell border) is simple and exact.  pdfium also
reads CJK fonts better than pdfminer (no ``(cid:NNN)`` output).  PyMuPDF would be as fast but is
AGPL.  pdfplumber stays what the benchmark compares against; it is not needed at run time.

How a page is read:

1. characters with their boxes (PDFium's generated spaces/line breaks are dropped: we place text
   ourselves, and a CR LF that WPS writes into the text layer is dropped likewise); ruling lines are
   what a reader can see (``RulingPolicy``): stroked paths, and thin fills darker than the page.
   The white, unstroked box WPS paints under every prose line is no ruling, nor is any fill that
   is invisible or thick;
2. rulings that touch each other form a table; the distinct x of its vertical rulings and y of its
   horizontal rulings give the grid; two neighbouring grid cells are one merged cell where no
   ruling separates them (this is how rowspan/colspan come back);
   A ruled region is a table only when it has at least two columns of cells somewhere, or a cell
   naming a table of the template: a one-column box, a page frame, a column of underlined lines
   are paragraphs (their characters are read as text lines);
3. characters inside a table go to their cell (lines inside a cell joined without a space between
   CJK characters, so a wrapped "商业/企业" reads "商业企业"); the others form text lines, joined
   into paragraphs where a line runs to the right margin;
4. a table that ends a page and one that starts the next with the same columns are one table.

Without any ruling (a borderless table) the page's lines are written out with tabs at wide gaps
and handed to the plain-text extractor, which rebuilds tab-separated tables.

Speed: pdfium has no call for many character boxes at once, so each character costs one bare ctypes
call for its box (and one for its font size where the box changes); everything after that is done on
numpy arrays of the page's characters where the result is provably the same as the per-character
path (kept for pages whose boxes are not numbers), e.g. a cell whose characters are one run of the
page's text on one line is a slice of it, prose lines are found and read on the arrays, and a
``_Char`` tuple is built only for a character the layout reads one by one (``_LazyChars``).
tests/parsing/test_pdf_rulings.py compares both paths.

Status: encrypted (a user password is needed), failed (truncated/corrupt), needs_ocr (no text
layer, or text that is mostly unmapped glyphs), empty (no pages).
"""
from __future__ import annotations

import bisect
import logging
import operator
import re
import threading
from collections import namedtuple
from dataclasses import dataclass

from storage.models import ParseStatus

from .base import Extracted, GridCell, Paragraph, Table
from .html import _WS, _is_cjk, join_lines, norm_ws

log = logging.getLogger(__name__)

#: Pages beyond this are not read (annual reports have 5-40 pages).
MAX_PAGES = 300
#: Horizontal x vertical ruling pairs a page may have before we stop looking for tables in it
#: (Table 三 on one page has ~30 x ~12; intersecting them all is quadratic).
MAX_RULING_PAIRS = 250_000
_TOL = 2.0  # points: rulings closer than this are the same line
_PAGE_NO = re.compile(r"^[\s\-—–－·•]*(?:第\s*)?\d{1,3}\s*(?:页)?(?:\s*/\s*\d+|\s*共\s*\d+\s*页)?[\s\-—–－·•]*$")


class _Char(namedtuple("_CharFields", "ch x0 x1 top bottom size cx cy i")):
    """One character with its box in top-down page coordinates, its centre and its place ``i`` among
    the page's characters: a named tuple (a page has thousands, built in bulk from pdfium's boxes and
    read many times over by the layout)."""
    __slots__ = ()

    def __new__(cls, ch: str, x0: float, x1: float, top: float, bottom: float, size: float, i: int = -1) -> "_Char":
        return tuple.__new__(cls, (ch, x0, x1, top, bottom, size, (x0 + x1) / 2, (top + bottom) / 2, i))

    def __repr__(self) -> str:
        return f"_Char({self.ch!r}, {self.x0:.1f}, {self.x1:.1f}, {self.top:.1f}, {self.bottom:.1f}, {self.size:.1f})"


@dataclass
class _PTable:
    xs: list[float]
    ys: list[float]
    grid: list[list[GridCell]]
    page: int
    open_top: bool = False  # first row has no top ruling: the rest of a row split by the page break
    open_bottom: bool = False  # last row has no bottom ruling: it continues on the next page

    @property
    def top(self) -> float:
        return self.ys[0]


class _Line:
    """A text line of a page: its text, extent and size, and its characters (in the order
    ``_lines_of`` gives them), which only the borderless fallback reads: on the array path they are
    built when asked for."""
    __slots__ = ("text", "x0", "x1", "top", "size", "_chars", "_src")

    def __init__(self, text: str, x0: float, x1: float, top: float, size: float,
                 chars: list[_Char] | None = None, src=None) -> None:
        self.text, self.x0, self.x1, self.top, self.size = text, x0, x1, top, size
        self._chars = chars
        self._src = src  # (the page's _LazyChars, index array) when chars is None

    @property
    def chars(self) -> list[_Char]:
        if self._chars is None:
            self._chars = self._src[0].take(self._src[1]) if self._src is not None else []
        return self._chars


@dataclass(frozen=True)
class PathPaint:
    """How one path object is painted: what decides whether its edges are rulings."""
    bounds: tuple[float, float, float, float]  # left, bottom, right, top (PDF space)
    stroked: bool
    stroke_width: float
    stroke_rgba: tuple[int, int, int, int]
    filled: bool
    fill_rgba: tuple[int, int, int, int]

    @property
    def thickness(self) -> float:
        left, bottom, right, top = self.bounds
        return min(right - left, top - bottom)


def _luminance(rgba: tuple[int, int, int, int]) -> float:
    r, g, b, _ = rgba
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255.0


@dataclass(frozen=True)
class RulingPolicy:
    """Which painted paths count as table rulings: what a reader can see as a line.

    * a stroked path whose colour is visible (not transparent, darker than the page): its straight
      pieces are rulings (a stroked rectangle gives its four edges);
    * a filled path no thicker than ``max_fill_thickness`` (a line drawn as a thin rectangle, as Word
      does for cell borders) and darker than the page;
    * nothing else: a white or transparent fill (WPS paints a white box under every prose line), a
      shaded cell background, an invisible stroke.

    "Darker than the page" is luminance at most ``max_luminance`` (white is 1.0) and alpha at least
    ``min_alpha``.  ``extract(..., rulings=...)`` takes another policy (tests, odd producers).
    """
    max_fill_thickness: float = 2.0
    max_luminance: float = 0.9
    min_alpha: int = 26  # of 255: about 10% opacity

    def visible(self, rgba: tuple[int, int, int, int]) -> bool:
        return rgba[3] >= self.min_alpha and _luminance(rgba) <= self.max_luminance

    def stroke_counts(self, p: PathPaint) -> bool:
        # PDF line width 0 is the thinnest line the device can draw: visible, not absent
        return p.stroked and p.stroke_width >= 0 and self.visible(p.stroke_rgba)

    def fill_counts(self, p: PathPaint) -> bool:
        return p.filled and p.thickness <= self.max_fill_thickness and self.visible(p.fill_rgba)

    def is_ruling(self, p: PathPaint) -> bool:
        return self.stroke_counts(p) or self.fill_counts(p)


#: The rulings of the reports we have seen (Word, WPS, LibreOffice exports).
DEFAULT_RULINGS = RulingPolicy()


class _PaintBuffers:
    """ctypes out-parameters for pdfium's paint queries, allocated once (a page has thousands of paths)."""

    def __init__(self) -> None:
        import ctypes

        import pypdfium2.raw as raw

        self.fill_mode, self.stroke = ctypes.c_int(), ctypes.c_int()
        self.f = [ctypes.c_uint() for _ in range(4)]
        self.s = [ctypes.c_uint() for _ in range(4)]
        self.width = ctypes.c_float()
        self.refs = (ctypes.byref(self.fill_mode), ctypes.byref(self.stroke), ctypes.byref(self.width))
        self.box = [ctypes.c_float() for _ in range(4)]
        self.box_refs = tuple(ctypes.byref(v) for v in self.box)
        self.matrix = raw.FS_MATRIX()
        self.x, self.y = ctypes.c_float(), ctypes.c_float()
        # every out-parameter by reference, which pdfium's functions take with or without ctypes'
        # argument conversion (``_Bare``)
        self.f_refs = tuple(ctypes.byref(v) for v in self.f)
        self.s_refs = tuple(ctypes.byref(v) for v in self.s)
        self.matrix_ref = ctypes.byref(self.matrix)
        self.xy_refs = (ctypes.byref(self.x), ctypes.byref(self.y))


def path_paint(obj, raw, buf: _PaintBuffers | None = None) -> PathPaint | None:
    """The painting of a path object (None when pdfium cannot say)."""
    return _paint_of(obj.raw, raw, buf or _PaintBuffers())


def _paint_of(h, raw, b: _PaintBuffers) -> PathPaint | None:
    """``path_paint`` on pdfium's own handle of the object (no Python wrapper per path)."""
    if not raw.FPDFPageObj_GetBounds(h, *b.box_refs):  # pdfium refuses bounds of some degenerate paths
        return None
    bounds = (b.box[0].value, b.box[1].value, b.box[2].value, b.box[3].value)
    if not raw.FPDFPath_GetDrawMode(h, b.refs[0], b.refs[1]):
        return None
    fill = tuple(x.value for x in b.f) if raw.FPDFPageObj_GetFillColor(h, *b.f_refs) else (0, 0, 0, 0)
    stroke = tuple(x.value for x in b.s) if raw.FPDFPageObj_GetStrokeColor(h, *b.s_refs) else (0, 0, 0, 255)
    width = b.width.value if raw.FPDFPageObj_GetStrokeWidth(h, b.refs[2]) else 1.0
    return PathPaint(bounds=bounds, stroked=bool(b.stroke.value), stroke_width=float(width),  # type: ignore[arg-type]
                     stroke_rgba=stroke, filled=b.fill_mode.value != 0, fill_rgba=fill)  # type: ignore[arg-type]


def _ruling_test(rulings: RulingPolicy, raw, b: _PaintBuffers):
    """A function: path handle -> its bounds when the path is a ruling under ``rulings``, else None.

    For the built-in policy the paint is read only as far as the decision needs (a WPS page has a
    white, unstroked box under every prose line: two queries reject it); a policy of another class
    gets the full ``PathPaint``."""
    if type(rulings) is not RulingPolicy:
        def full(h):
            paint = _paint_of(h, raw, b)
            return paint.bounds if paint is not None and rulings.is_ruling(paint) else None
        return full
    draw_mode, fill_color, stroke_color = raw.FPDFPath_GetDrawMode, raw.FPDFPageObj_GetFillColor, raw.FPDFPageObj_GetStrokeColor
    stroke_width, get_bounds = raw.FPDFPageObj_GetStrokeWidth, raw.FPDFPageObj_GetBounds
    min_alpha, max_lum = rulings.min_alpha, rulings.max_luminance
    fill_mode, stroked = b.fill_mode, b.stroke
    s0, s1, s2, s3 = b.s
    f0, f1, f2, f3 = b.f
    s_refs, f_refs = b.s_refs, b.f_refs

    def visible(r: int, g: int, bl: int, a: int) -> bool:  # RulingPolicy.visible, unpacked
        return a >= min_alpha and (0.299 * r + 0.587 * g + 0.114 * bl) / 255.0 <= max_lum

    def bounds(h):
        if not get_bounds(h, *b.box_refs):
            return None
        return (b.box[0].value, b.box[1].value, b.box[2].value, b.box[3].value)

    def test(h):
        if not draw_mode(h, b.refs[0], b.refs[1]):
            return None
        if stroked.value:
            ok = stroke_color(h, *s_refs)
            width = b.width.value if stroke_width(h, b.refs[2]) else 1.0
            if width >= 0 and (visible(s0.value, s1.value, s2.value, s3.value) if ok else visible(0, 0, 0, 255)):
                return bounds(h)  # RulingPolicy.stroke_counts
        if fill_mode.value != 0:
            ok = fill_color(h, *f_refs)
            if visible(f0.value, f1.value, f2.value, f3.value) if ok else visible(0, 0, 0, 0):  # fill_counts
                box = bounds(h)
                if box is not None and min(box[2] - box[0], box[3] - box[1]) <= rulings.max_fill_thickness:
                    return box
        return None

    return test


def _page_paths(page, raw, max_depth: int = 4, images: list | None = None):
    """(handle, nesting level) of every path object on the page, into form XObjects down to
    ``max_depth`` levels, on pdfium's handles (pypdfium2's ``get_objects`` wraps each object).
    ``images``, when given, receives the image objects of levels 0 and 1 (where
    ``ocr.image.page_has_picture`` looks for a scanned page's picture)."""
    get_type, path_t, form_t = raw.FPDFPageObj_GetType, raw.FPDF_PAGEOBJ_PATH, raw.FPDF_PAGEOBJ_FORM
    image_t = raw.FPDF_PAGEOBJ_IMAGE
    out: list = []

    def walk(parent, count, get, level: int) -> None:
        n = count(parent)
        for i in range(max(n, 0)):
            h = get(parent, i)
            if not h:
                continue
            t = get_type(h)
            if t == path_t:
                out.append((h, level))
            elif t == form_t and level < max_depth - 1:
                walk(h, raw.FPDFFormObj_CountObjects, raw.FPDFFormObj_GetObject, level + 1)
            elif t == image_t and images is not None and level <= 1:
                images.append(h)

    walk(page.raw, raw.FPDFPage_CountObjects, raw.FPDFPage_GetObject, 0)
    return out


# --------------------------------------------------------------------------------------------
# reading a page
# --------------------------------------------------------------------------------------------

#: Code points that are no character of the text: NUL, STX, pdfium's "no Unicode" marker, and every
#: whitespace character (str.isspace: LF, CR, pdfium's generated spaces...).  Whitespace is all in the BMP.
_SKIP_CODES = sorted({0, 2, 0xFFFE} | {c for c in range(0x10000) if chr(c).isspace()})
_SKIP_TABLE = None  # a boolean per BMP code point: whether it is in _SKIP_CODES (made on first use)


class _CharBoxes(threading.local):
    """Scratch space for one page's character boxes: a float array that pdfium writes each box into,
    and a pointer to every slot, made once and reused page after page (one ``FPDFText_GetLooseCharBox``
    call per character is unavoidable, but no Python object need be built per call).  Per thread:
    pdfium may be driven from more than one (it is not re-entrant; each thread its own buffer)."""

    def __init__(self) -> None:
        self.cap = 0
        self.buf = None
        self.ptrs: list = []

    def slots(self, n: int):
        import ctypes

        if n > self.cap:
            cap = max(n, 2 * self.cap, 1024)
            self.buf = (ctypes.c_float * (4 * cap))()
            base = ctypes.addressof(self.buf)
            self.ptrs = [ctypes.c_void_p(base + 16 * i) for i in range(cap)]  # FS_RECTF: 4 floats
            self.cap = cap
        return self.buf, self.ptrs


_BOXES = _CharBoxes()
_PDFIUM: dict = {}


def _pdfium_bare(name: str, restype=None):
    """pdfium's function ``name`` without ctypes argument conversion (about half the cost of a call
    through pypdfium2's prototype); callers pass ctypes objects only."""
    fn = _PDFIUM.get((name, restype))
    if fn is None:
        import ctypes

        import pypdfium2.raw as raw

        # the same entry point under a prototype without argument types: ctypes then passes each
        # ctypes argument as it is
        fn = ctypes.CFUNCTYPE(restype if restype is not None else ctypes.c_int)(
            ctypes.cast(getattr(raw, name), ctypes.c_void_p).value)
        fn.argtypes = None
        _PDFIUM[name, restype] = fn
    return fn


class _Bare:
    """``pypdfium2.raw`` with its functions called without ctypes' argument conversion: a page has
    hundreds of objects and paths, each asked several questions (a call costs about half).  Every
    argument must then be a ctypes object: handles as pdfium returned them, out-parameters by
    reference (``byref``), integers as Python ints."""

    def __getattr__(self, name: str):
        import pypdfium2.raw as raw

        value = getattr(raw, name)
        if name.startswith("FPDF") and callable(value) and hasattr(value, "restype"):
            value = _pdfium_bare(name, value.restype)
        setattr(self, name, value)  # asked once
        return value


_BARE: _Bare | None = None


def _bare_raw() -> _Bare:
    global _BARE
    if _BARE is None:
        _BARE = _Bare()
    return _BARE


def _page_chars(page, height: float) -> list[_Char]:
    """The page's characters (whitespace dropped), in pdfium's order."""
    return list(_read_chars(page, height)[0])


class _LazyChars:
    """A page's characters as ``_Char``s, built from the page's arrays only where asked for: the
    layout reads most characters through the arrays (cells that are a run of the page's text,
    lines of prose), and building a tuple and seven floats for every character of the page was
    the largest cost of reading it after pdfium's own.  A sequence: ``len``, ``[i]``, iteration
    (which builds them all, once), ``take(indices)``."""
    __slots__ = ("text", "_cols", "_all", "n")

    def __init__(self, text: str, x0, x1, tops, bottoms, size, cx, cy) -> None:
        self.text = text
        self._cols = (x0, x1, tops, bottoms, size, cx, cy)
        self._all: list[_Char] | None = None
        self.n = len(text)

    def __len__(self) -> int:
        return self.n

    def take(self, idx) -> list[_Char]:
        """The characters at ``idx`` (an index array or list), in that order."""
        import itertools

        import numpy as np

        if self._all is not None:
            return [self._all[i] for i in (idx.tolist() if hasattr(idx, "tolist") else idx)]
        idx = np.asarray(idx, dtype=np.intp)
        il = idx.tolist()
        text = self.text
        return list(map(tuple.__new__, itertools.repeat(_Char, len(il)), zip(
            [text[i] for i in il], *(col[idx].tolist() for col in self._cols), il)))

    def _every(self) -> list[_Char]:
        if self._all is None:
            import itertools

            self._all = list(map(tuple.__new__, itertools.repeat(_Char, self.n), zip(
                self.text, *(col.tolist() for col in self._cols), range(self.n))))
        return self._all

    def __getitem__(self, i):
        if self._all is not None or isinstance(i, slice):
            return self._every()[i]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        x0, x1, tops, bottoms, size, cx, cy = self._cols
        return tuple.__new__(_Char, (self.text[i], float(x0[i]), float(x1[i]), float(tops[i]), float(bottoms[i]),
                                     float(size[i]), float(cx[i]), float(cy[i]), i))

    def __iter__(self):
        return iter(self._every())


class _PageText:
    """A page's characters as arrays beside the list, for the layout's per-character work:

    * ``cx``, ``cy``: centres; ``order``/``cys``: the characters by vertical centre (stable), for
      the characters of a band in O(log n);
    * ``text``: the characters' text; ``spaces``: the places ``j`` where ``_line_text`` puts a space
      between character ``j - 1`` and ``j`` when they are neighbours on a line (the gap rule is a
      function of the pair alone), so a line whose characters come in page order is two slices."""

    def __init__(self, np, text: str, codes, left, right, tops, bottoms, size) -> None:
        self.cx = (left + right) / 2
        self.cy = (tops + bottoms) / 2
        self.x0, self.x1, self.tops, self.bottoms, self.size = left, right, tops, bottoms, size
        # x_breaks[j]: how many times x0 fails to increase from a character to the next up to j
        self.x_breaks = np.concatenate(([0], np.cumsum(~(left[1:] > left[:-1]))))
        self.order = np.argsort(self.cy, kind="stable")
        self.cys = self.cy[self.order]
        self.text = text
        gap = left[1:] - right[:-1]
        pair = np.where(size[1:] > size[:-1], size[1:], size[:-1])
        cjk = _cjk_mask(np, codes)
        space = (gap > 0.35 * pair) & ((gap > 1.5 * pair) | ~(cjk[1:] | cjk[:-1]))
        self.spaces = (np.flatnonzero(space) + 1).tolist()
        self.n = len(text)
        # ``norm_ws`` leaves ``line_text`` (the characters, single spaces between them) as it is
        # unless a character of the page is one it collapses (the page has no str.isspace ones, but
        # norm_ws also takes U+200B and U+FEFF): then it is still applied
        self.ws_free = _WS.search(text) is None

    def band(self, top: float, bottom: float):
        """Indices of the characters whose centre is within top..bottom, by centre."""
        return self.order[self.cys.searchsorted(top, "left"):self.cys.searchsorted(bottom, "right")]

    def line_text(self, a: int, m: int) -> str:
        """``_line_text`` of the characters a .. a + m - 1 in this order."""
        spaces = self.spaces
        lo, hi = bisect.bisect_right(spaces, a), bisect.bisect_left(spaces, a + m)
        if lo == hi:
            return self.text[a:a + m]
        out, at = [], a
        for j in spaces[lo:hi]:
            out.append(self.text[at:j])
            at = j
        out.append(self.text[at:a + m])
        return " ".join(out)


def _cjk_mask(np, codes):
    """``html._is_cjk`` of every code point."""
    return (((codes >= 0x2E80) & (codes <= 0x9FFF)) | ((codes >= 0xF900) & (codes <= 0xFAFF))
            | ((codes >= 0xFF00) & (codes <= 0xFFEF)) | ((codes >= 0x3000) & (codes <= 0x303F))
            | ((codes >= 0x20000) & (codes <= 0x2FA1F)))


def _read_chars(page, height: float) -> tuple[list[_Char], _PageText | None]:
    """The page's characters, and their arrays (None when there are none, or when a box is not a
    number: then the layout takes the plain path, whose comparisons NaN cannot upset differently)."""
    import itertools

    import numpy as np
    import pypdfium2.raw as raw

    tp = page.get_textpage()
    try:
        n = tp.count_chars()
        h = tp.raw
        # The page's text in one call instead of one call per character; pdfium's UCS-2 text can
        # differ in length from its char list (characters beyond the BMP): then char by char.
        text = tp.get_text_range() if n else ""
        if len(text) != n:
            get_u = raw.FPDFText_GetUnicode
            text = "".join(chr(u) if 0 <= u < 0x110000 else "\ufffd" for u in (get_u(h, i) for i in range(n)))
        if not n:
            return [], None
        # Generated characters (the spaces and line breaks pdfium inserts, and the CR LF that WPS
        # writes into the text layer) are all whitespace: we place spaces from the gaps ourselves.
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        global _SKIP_TABLE
        if _SKIP_TABLE is None:
            table = np.zeros(0x10000, dtype=bool)
            table[_SKIP_CODES] = True
            _SKIP_TABLE = table
        keep_a = np.flatnonzero(~_SKIP_TABLE[np.minimum(codes, 0xFFFF)])  # U+FFFF is no whitespace
        keep = keep_a.tolist()
        k = len(keep)
        if not k:
            return [], None
        # The loose box spans the glyph's advance (gaps are true gaps) and about the font's height;
        # with pdfium 159 its top and bottom still vary from glyph to glyph within a line.
        buf, ptrs = _BOXES.slots(k)
        ok = list(map(_pdfium_bare("FPDFText_GetLooseCharBox"), itertools.repeat(h, k), keep, ptrs))
        box = np.frombuffer(buf, dtype=np.float32, count=4 * k).astype(np.float64).reshape(k, 4)
        if 0 in ok:  # pdfium refused a box: the char keeps the box before it (as one rect reused did)
            for j in range(k):
                if not ok[j]:
                    box[j] = box[j - 1] if j else 0.0
        left, top, right, bot = box[:, 0], box[:, 1], box[:, 2], box[:, 3]
        flip = top < bot
        top, bot = np.where(flip, bot, top), np.where(flip, top, bot)
        # the font size is asked only where the ascent..descent box changes (the same box as the
        # char before: the same font at the same size)
        change = np.ones(k, dtype=bool)
        change[1:] = (top[1:] != top[:-1]) | (bot[1:] != bot[:-1])
        starts = np.flatnonzero(change)
        import ctypes

        at = keep_a[starts].tolist()
        got = map(_pdfium_bare("FPDFText_GetFontSize", ctypes.c_double), itertools.repeat(h, len(at)), at)
        sizes = [g or (t - b) or 10.0 for g, t, b in zip(got, top[starts].tolist(), bot[starts].tolist())]
        size = np.asarray(sizes, dtype=np.float64)[np.cumsum(change) - 1]
        tops, bottoms = height - top, height - bot
        kept = codes[keep_a]
        chs = kept.tobytes().decode("utf-32-le", "surrogatepass")  # the kept characters, in one step
        pt = _PageText(np, chs, kept, left, right, tops, bottoms, size)
        chars = _LazyChars(chs, left, right, tops, bottoms, size, pt.cx, pt.cy)
        if np.isnan(pt.cx).any() or np.isnan(pt.cy).any():
            return list(chars), None
        return chars, pt
    finally:
        tp.close()


def _path_lines(h, raw, buf: _PaintBuffers) -> list[tuple[float, float, float, float]]:
    """Straight pieces (x0, y0, x1, y1) of a path object, in page coordinates (PDF space).

    Some producers draw a whole grid as one path (many ``m l`` or ``re`` subpaths, one paint):
    its bounds are the table box, so the pieces must be read one by one."""
    m = buf.matrix
    if not raw.FPDFPageObj_GetMatrix(h, buf.matrix_ref):
        return []
    a, b, c, d, e, f = m.a, m.b, m.c, m.d, m.e, m.f
    x, y = buf.x, buf.y
    xy_refs = buf.xy_refs
    out: list[tuple[float, float, float, float]] = []
    start = prev = None
    get_seg, get_pt, get_kind, get_close = (raw.FPDFPath_GetPathSegment, raw.FPDFPathSegment_GetPoint,
                                            raw.FPDFPathSegment_GetType, raw.FPDFPathSegment_GetClose)
    moveto, lineto = raw.FPDF_SEGMENT_MOVETO, raw.FPDF_SEGMENT_LINETO
    for i in range(raw.FPDFPath_CountSegments(h)):
        seg = get_seg(h, i)
        if not seg or not get_pt(seg, *xy_refs):
            continue
        pt = (a * x.value + c * y.value + e, b * x.value + d * y.value + f)
        kind = get_kind(seg)
        if kind == moveto:
            start = prev = pt
            continue
        if kind == lineto and prev is not None:
            out.append((*prev, *pt))
        prev = pt
        if get_close(seg) and start is not None and prev != start:
            out.append((*prev, *start))
            prev = start
    return out


def _page_segments(page, height: float, rulings: RulingPolicy = DEFAULT_RULINGS, images: list | None = None
                   ) -> tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]]:
    """(horizontal [(y, x0, x1)], vertical [(x, y0, y1)]) in top-down coordinates: the rulings.
    ``images``: see ``_page_paths``."""
    raw = _bare_raw()

    hs: list[tuple[float, float, float]] = []
    vs: list[tuple[float, float, float]] = []
    page_w = page.get_width()
    buf = _PaintBuffers()
    is_ruling = _ruling_test(rulings, raw, buf)
    for h_obj, level in _page_paths(page, raw, images=images):
        bounds = is_ruling(h_obj)
        if bounds is None:
            continue
        left, bottom, right, top = bounds
        w, h = right - left, top - bottom
        t, b = height - top, height - bottom
        if h <= 3.0 and w > 3.0:
            hs.append(((t + b) / 2, left, right))  # a line, or a thin filled rectangle
        elif w <= 3.0 and h > 3.0:
            vs.append(((left + right) / 2, t, b))
        elif w > 3.0 and h > 3.0 and not (w > 0.9 * page_w and h > 0.9 * height):  # not a page background
            if level == 0:
                # Boxes and whole grids: every axis-parallel piece of the path.
                for x0, y0, x1, y1 in _path_lines(h_obj, raw, buf):
                    if abs(y1 - y0) <= 1.0 and abs(x1 - x0) > 3.0:
                        hs.append((height - (y0 + y1) / 2, min(x0, x1), max(x0, x1)))
                    elif abs(x1 - x0) <= 1.0 and abs(y1 - y0) > 3.0:
                        vs.append(((x0 + x1) / 2, height - max(y0, y1), height - min(y0, y1)))
            elif raw.FPDFPath_CountSegments(h_obj) <= 6:
                # Inside a form XObject (its matrix is not ours to compose): a box's four edges.
                hs.extend(((t, left, right), (b, left, right)))
                vs.extend(((left, t, b), (right, t, b)))
    return _merge_segments(hs), _merge_segments(vs)


def _merge_segments(segs: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Join collinear segments that touch or overlap (borders are drawn cell by cell)."""
    segs.sort()
    out: list[list[float]] = []
    for pos, a, b in segs:
        for s in reversed(out[-8:]):
            if abs(s[0] - pos) <= _TOL and a <= s[2] + _TOL and b >= s[1] - _TOL:
                s[1], s[2] = min(s[1], a), max(s[2], b)
                break
        else:
            out.append([pos, a, b])
    return [tuple(s) for s in out]  # type: ignore[misc]


def _cluster(values: list[float], tol: float) -> list[float]:
    vals = sorted(values)
    out: list[list[float]] = []
    for v in vals:
        if out and v - out[-1][-1] <= tol:
            out[-1].append(v)
        else:
            out.append([v])
    return [sum(c) / len(c) for c in out]


def _table_regions(hs, vs) -> list[tuple[list, list]]:
    """Groups of rulings that touch each other, each with >= 2 horizontal and 2 vertical lines."""
    nh = len(hs)
    parent = list(range(nh + len(vs)))  # horizontal rulings 0..nh-1, then the vertical ones

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    # vertical rulings by x: each horizontal one looks only at those within its own x range
    order = sorted(range(len(vs)), key=lambda j: vs[j][0])
    vx = [vs[j][0] for j in order]
    for i, (y, x0, x1) in enumerate(hs):
        for k in range(bisect.bisect_left(vx, x0 - _TOL), bisect.bisect_right(vx, x1 + _TOL)):
            j = order[k]
            _, y0, y1 = vs[j]
            if y0 - _TOL <= y <= y1 + _TOL:
                ra, rb = find(i), find(nh + j)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    groups: dict = {}
    for i, s in enumerate(hs):
        groups.setdefault(find(i), ([], []))[0].append(s)
    for j, s in enumerate(vs):
        groups.setdefault(find(nh + j), ([], []))[1].append(s)
    return [g for g in groups.values() if len(g[0]) >= 2 and len(g[1]) >= 2]


_BY_X = operator.itemgetter(1)  # _Char.x0
_BY_CY_X = operator.itemgetter(7, 1)  # _Char.cy, _Char.x0
_X1, _TOP, _BOTTOM, _SIZE = (operator.itemgetter(k) for k in (2, 3, 4, 5))


_I = operator.itemgetter(8)


def _line_text(chars: list[_Char], pt: _PageText | None = None) -> str:
    chars = sorted(chars, key=_BY_X)
    if pt is not None and chars:
        a, m = chars[0].i, len(chars)
        # in page order, as nearly every line is: the page's text with its precomputed spaces
        if chars[-1].i == a + m - 1 and (m < 3 or list(map(_I, chars)) == list(range(a, a + m))):
            return pt.line_text(a, m)
    out: list[str] = []
    prev: _Char | None = None
    for c in chars:
        if prev is not None:
            gap = c.x0 - prev.x1
            size = c.size if c.size > prev.size else prev.size
            # A wide gap separates columns (a borderless row: "行政许可    75") even between CJK
            # characters; a narrow one is a word space, which CJK text does not have.  (Most
            # neighbours touch: one comparison decides.)
            if gap > 0.35 * size and (gap > 1.5 * size or not (_is_cjk(c.ch) or _is_cjk(prev.ch))):
                out.append(" ")
        out.append(c.ch)
        prev = c
    return "".join(out)


def _lines_of(chars: list[_Char]) -> list[list[_Char]]:
    """Characters grouped into text lines (by vertical overlap), top to bottom."""
    lines: list[list[_Char]] = []
    t = b = 0.0
    cur: list[_Char] | None = None
    for c in sorted(chars, key=_BY_CY_X):
        cy = c.cy
        if cur is not None and t - 0.2 * (b - t) <= cy <= b:
            cur.append(c)
            if c.top < t:
                t = c.top
            if c.bottom > b:
                b = c.bottom
            continue
        cur = [c]
        lines.append(cur)
        t, b = c.top, c.bottom
    return lines


class _ByHeight:
    """A page's characters sorted by their vertical centre: those of a band in O(log n)."""

    def __init__(self, chars: list[_Char]) -> None:
        self.order = sorted(range(len(chars)), key=lambda i: chars[i].cy)
        self.cys = [chars[i].cy for i in self.order]

    def band(self, top: float, bottom: float) -> list[int]:
        return self.order[bisect.bisect_left(self.cys, top):bisect.bisect_right(self.cys, bottom)]


def _build_table(hs, vs, chars: list[_Char], page_no: int,
                 taken=frozenset(),
                 by_height: "_ByHeight | _PageText | None" = None) -> tuple[_PTable, object]:
    """The table of one ruled region, and the characters it took (a set of indices; an index array
    when ``by_height`` is the page's arrays, and then ``taken`` is a boolean mask)."""
    xs = _cluster([x for x, _, _ in vs], _TOL * 1.5)
    ys = _cluster([y for y, _, _ in hs], _TOL * 1.5)
    # A row split by a page break has no ruling on its open side; the column rulings still run
    # to the page edge, so they give its boundary.
    v_top, v_bottom = min(y0 for _, y0, _ in vs), max(y1 for _, _, y1 in vs)
    open_top = v_top < ys[0] - 3 * _TOL
    open_bottom = v_bottom > ys[-1] + 3 * _TOL
    if open_top:
        ys.insert(0, v_top)
    if open_bottom:
        ys.append(v_bottom)
    nr, nc = len(ys) - 1, len(xs) - 1

    # Merged cells: union-find over the cells, numbered row by row; a region's root is its
    # smallest number, i.e. its top-left cell (the origin its spanned copies point to).
    parent = list(range(nr * nc))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    # Two neighbouring cells are one where no ruling along the grid line between them spans their
    # common edge (a ruling spans it when it runs from within 2*_TOL of one end to the other); all
    # edges of a grid line at once.  Only the regions matter, not the order of the unions.
    import numpy as np

    ya, xa = np.asarray(ys), np.asarray(xs)
    vx, vy0, vy1 = (np.asarray(v, dtype=np.float64) for v in zip(*vs))
    hy, hx0, hx1 = (np.asarray(v, dtype=np.float64) for v in zip(*hs))
    row_a, row_b = ya[:-1] + _TOL * 2, ya[1:] - _TOL * 2
    col_a, col_b = xa[:-1] + _TOL * 2, xa[1:] - _TOL * 2
    # ruled_v[k - 1, i]: a vertical ruling on grid line k (between columns k - 1 and k) spans row i
    on_v = np.abs(vx[:, None] - xa[None, 1:nc]) <= _TOL * 1.5
    spans_v = (vy0[:, None] <= row_a) & (vy1[:, None] >= row_b)
    ruled_v = (on_v.T.astype(np.int32) @ spans_v.astype(np.int32)) > 0
    on_h = np.abs(hy[:, None] - ya[None, 1:nr]) <= _TOL * 1.5
    spans_h = (hx0[:, None] <= col_a) & (hx1[:, None] >= col_b)
    ruled_h = (on_h.T.astype(np.int32) @ spans_h.astype(np.int32)) > 0
    merged = False
    for k, i in np.argwhere(~ruled_v).tolist():
        union(i * nc + k, i * nc + k + 1)
        merged = True
    for k, j in np.argwhere(~ruled_h).tolist():
        union(k * nc + j, (k + 1) * nc + j)
        merged = True
    roots = [find(a) for a in range(nr * nc)] if merged else list(range(nr * nc))
    members: dict[int, list[_Char]] = {}
    x_lo, x_hi, y_lo, y_hi = xs[0], xs[-1], ys[0], ys[-1]
    if isinstance(by_height, _PageText):
        # the same, on the arrays: each character of the band to its cell, in the band's order
        import numpy as np

        pt = by_height
        cand = pt.band(y_lo, y_hi)
        cx, cy = pt.cx[cand], pt.cy[cand]
        ok = (x_lo <= cx) & (cx <= x_hi) & (y_lo <= cy) & (cy <= y_hi)
        if isinstance(taken, np.ndarray):
            ok &= ~taken[cand]
        sel = cand[ok]
        used = sel
        texts: dict[int, str] = {}
        if len(sel):
            i = np.clip(np.asarray(ys).searchsorted(cy[ok], "right") - 1, 0, nr - 1)
            j = np.clip(np.asarray(xs).searchsorted(cx[ok], "right") - 1, 0, nc - 1)
            root_of = np.asarray(roots)[i * nc + j]
            by_root = np.argsort(root_of, kind="stable")
            grouped, members_idx = root_of[by_root], sel[by_root]
            # A cell whose characters are one run of the page's, on one line and left to right reads
            # as one slice of the page's text, without per-character work.  One line: every centre
            # lies below every top and above every bottom, so each character falls within the line
            # _lines_of has grown so far; left to right: x0 strictly increasing in page order, so
            # _line_text's sort gives the page's order.
            starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
            ends = np.append(starts[1:], len(grouped))
            lo, hi = np.minimum.reduceat(members_idx, starts), np.maximum.reduceat(members_idx, starts)
            cys = pt.cy[members_idx]
            simple = ((hi - lo == ends - starts - 1)
                      & (pt.x_breaks[hi] == pt.x_breaks[lo])
                      & (np.minimum.reduceat(cys, starts) >= np.maximum.reduceat(pt.tops[members_idx], starts))
                      & (np.maximum.reduceat(cys, starts) <= np.minimum.reduceat(pt.bottoms[members_idx], starts)))
            lo_list = lo.tolist()
            g_list = grouped.tolist()
            lazy = isinstance(chars, _LazyChars)
            line_text, ws_free = pt.line_text, pt.ws_free
            wrapped = _wrapped_runs(np, pt, lo, hi, ~simple & (hi - lo == ends - starts - 1))
            for a, e, plain, first in zip(starts.tolist(), ends.tolist(), simple.tolist(), lo_list):
                if plain:
                    t = line_text(first, e - a)
                    texts[g_list[a]] = t if ws_free else norm_ws(t)
                elif first in wrapped:
                    texts[g_list[a]] = join_lines([line_text(b, m) for b, m in wrapped[first]])
                else:
                    members[g_list[a]] = (chars.take(members_idx[a:e]) if lazy
                                          else [chars[x] for x in members_idx[a:e].tolist()])
    else:
        pt = None
        used = set()
        # a page with many ruled regions (a frame per paragraph) must not scan every character for each
        candidates = by_height.band(y_lo, y_hi) if by_height is not None else range(len(chars))
        bisect_right = bisect.bisect_right
        for idx in candidates:
            c = chars[idx]
            cx, cy = c.cx, c.cy
            if not (x_lo <= cx <= x_hi and y_lo <= cy <= y_hi) or idx in taken:
                continue
            i = min(max(bisect_right(ys, cy) - 1, 0), nr - 1)
            j = min(max(bisect_right(xs, cx) - 1, 0), nc - 1)
            members.setdefault(roots[i * nc + j], []).append(c)
            used.add(idx)
        texts = {}
    for root, cs in members.items():
        texts[root] = join_lines([_line_text(line, pt) for line in _lines_of(cs)])
    grid: list[list[GridCell]] = []
    for i in range(nr):
        row: list[GridCell] = []
        for j in range(nc):
            a = i * nc + j
            root = roots[a]
            text = texts.get(root, "")
            row.append(GridCell(text) if root == a else GridCell(text, spanned=True, origin=divmod(root, nc)))
        grid.append(row)
    # An empty fragment (the row's text all fell on the other page) is no row at all.
    if open_bottom and len(grid) > 1 and not any(c.text for c in grid[-1]):
        grid.pop()
        ys.pop()
        open_bottom = False
    if open_top and len(grid) > 1 and not any(c.text for c in grid[0]):
        grid.pop(0)
        ys.pop(0)
        open_top = False
        for row in grid:
            for c in row:
                if c.origin:
                    c.origin = (c.origin[0] - 1, c.origin[1])
    return _PTable(xs=xs, ys=ys, grid=grid, page=page_no, open_top=open_top, open_bottom=open_bottom), used


def _wrapped_runs(np, pt: _PageText, lo, hi, cand) -> dict[int, list[tuple[int, int]]]:
    """Cells (``cand``: a mask over them) whose characters are the page's run lo..hi wrapped onto
    lines: {lo: [(first, length) of each line, top to bottom]} for those that ``_lines_of`` provably
    splits at the run's wraps, so that the cell reads as the join of slices of the page's text.

    The run is cut where x0 fails to increase (a wrap); each piece is one line by the test of
    ``_build_table``'s one-line cells (every centre below every top and above every bottom of the
    piece) and left to right, so ``_line_text`` reads it in page order; and each piece's lowest
    centre lies below the largest bottom of the piece before it, so ``_lines_of`` (by centre) takes
    the pieces whole and in page order, starting a new line at each."""
    g = np.flatnonzero(cand)
    if not len(g):
        return {}
    glo = lo[g]
    lens = hi[g] - glo + 1
    offs = np.cumsum(lens) - lens
    idx = np.repeat(glo - offs, lens) + np.arange(int(lens.sum()))  # the runs' indices, run after run
    run_start = np.zeros(len(idx), dtype=bool)
    run_start[offs] = True
    x0 = pt.x0[idx]
    cut = run_start.copy()
    cut[1:] |= ~(x0[1:] > x0[:-1])
    ss = np.flatnonzero(cut)
    cy, tops, bottoms = pt.cy[idx], pt.tops[idx], pt.bottoms[idx]
    min_cy, max_bottom = np.minimum.reduceat(cy, ss), np.maximum.reduceat(bottoms, ss)
    good = ((min_cy >= np.maximum.reduceat(tops, ss)) & (np.maximum.reduceat(cy, ss) <= np.minimum.reduceat(bottoms, ss)))
    good[1:] &= run_start[ss[1:]] | (min_cy[1:] > max_bottom[:-1])
    run_of = np.cumsum(run_start)[ss] - 1
    bad = np.zeros(len(g), dtype=bool)
    bad[run_of[~good]] = True
    seg_first = idx[ss].tolist()
    seg_len = np.diff(np.append(ss, len(idx))).tolist()
    out: dict[int, list[tuple[int, int]]] = {}
    glo_l, bad_l = glo.tolist(), bad.tolist()
    for r, f, m in zip(run_of.tolist(), seg_first, seg_len):
        if not bad_l[r]:
            out.setdefault(glo_l[r], []).append((f, m))
    return out


def _paragraphs(lines: list[_Line], left: float, right: float) -> list[tuple[float, Paragraph]]:
    """Join text lines into paragraphs: a line that reaches the right margin continues."""
    out: list[tuple[float, Paragraph]] = []
    cur: list[_Line] = []

    def flush():
        if cur:
            text = join_lines([ln.text for ln in cur])
            if text:
                out.append((cur[0].top, Paragraph(text=text)))
            cur.clear()

    for ln in lines:
        if cur:
            prev = cur[-1]
            full = prev.x1 >= right - 3.0 * prev.size
            indented = ln.x0 > left + 1.0 * ln.size
            gap = ln.top - (prev.top + prev.size)
            if not full or indented or abs(ln.size - prev.size) > 0.8 or gap > 1.2 * ln.size:
                flush()
        cur.append(ln)
    flush()
    return out


def _columns(grid: list[list[GridCell]]) -> int:
    """Columns of cells: the most own (not spanned) cells any row has."""
    return max((sum(1 for c in row if not c.spanned) for row in grid), default=0)


#: A cell this short, without sentence punctuation, holding a table marker is a table's caption or
#: header ("第二十条第（一）项"), not prose ("均为自然人申请的…。").
_MAX_LABEL_CELL = 20
_SENTENCE = re.compile(r"[，,。；;！？]")


def _is_table_label(text: str) -> bool:
    """A cell's text that is a label of the template's tables (a header box: 第二十条第（一）项)."""
    from vocabulary import template as T

    text = re.sub(r"\s+", "", text)
    return (0 < len(text) <= _MAX_LABEL_CELL and not _SENTENCE.search(text)
            and any(m in text for ms in T.TABLE_MARKERS.values() for m in ms))


def _names_a_table(grid: list[list[GridCell]]) -> bool:
    return any(not c.spanned and _is_table_label(c.text) for row in grid for c in row)


def _one_column_labels(hs, xs: list[float], chars: list[_Char], by_height: "_ByHeight | _PageText", taken) -> bool:
    """Whether a one-column region holds a table label, without building its grid (a page of
    framed or underlined prose has one such region per paragraph or per page)."""
    ys = _cluster([y for y, _, _ in hs], _TOL * 1.5)
    x0, x1 = xs[0], xs[-1]
    if isinstance(by_height, _PageText) and len(ys) > 1:
        return _one_column_labels_arrays(ys, x0, x1, chars, by_height, taken)
    for top, bottom in zip(ys, ys[1:]):
        if isinstance(by_height, _PageText):
            idx = by_height.band(top, bottom)
            cx = by_height.cx[idx]
            band = [chars[i] for i in idx[(~taken[idx]) & (x0 <= cx) & (cx <= x1)].tolist()]
        else:
            band = [chars[i] for i in by_height.band(top, bottom) if i not in taken and x0 <= chars[i].cx <= x1]
        if band and len(band) <= 2 * _MAX_LABEL_CELL:
            if _is_table_label("".join(c.ch for c in sorted(band, key=lambda c: (round(c.top), c.x0)))):
                return True
    return False


def _one_column_labels_arrays(ys: list[float], x0: float, x1: float, chars: "_LazyChars", pt: "_PageText",
                              taken) -> bool:
    """``_one_column_labels`` on the page's arrays, every band between two rulings at once (an
    underlined page has one per line).  Band k holds the characters whose centre is within
    ys[k]..ys[k + 1], both ends included (a centre on a ruling is in both bands).  A label has at most
    ``_MAX_LABEL_CELL`` characters once whitespace is removed, and a page's characters have no
    whitespace: only bands of 1..``_MAX_LABEL_CELL`` characters can hold one."""
    import numpy as np

    idx = pt.band(ys[0], ys[-1])
    cx = pt.cx[idx]
    idx = idx[(~taken[idx]) & (x0 <= cx) & (cx <= x1)]
    if not len(idx):
        return False
    ya = np.asarray(ys)
    cy = pt.cy[idx]
    nb = len(ys) - 1
    first = np.maximum(ya.searchsorted(cy, "left") - 1, 0)  # the first band k with ys[k + 1] >= cy
    last = np.minimum(ya.searchsorted(cy, "right") - 1, nb - 1)  # the last band k with ys[k] <= cy
    count = np.zeros(nb + 1, dtype=np.int64)
    np.add.at(count, first, 1)
    np.add.at(count, last + 1, -1)
    count = np.cumsum(count)[:nb]
    small = np.flatnonzero((count > 0) & (count <= _MAX_LABEL_CELL)).tolist()
    if not small:
        return False
    # idx is in the order of the centres, so first and last never decrease along it: band k's
    # characters (first <= k <= last) are one stretch of idx, in idx's order
    first_l, last_l, idx_l = first.tolist(), last.tolist(), idx.tolist()
    for k in small:
        band = [chars[i] for i in idx_l[bisect.bisect_left(last_l, k):bisect.bisect_right(first_l, k)]]
        if _is_table_label("".join(c.ch for c in sorted(band, key=lambda c: (round(c.top), c.x0)))):
            return True
    return False


def is_table(grid: list[list[GridCell]]) -> bool:
    """A ruled region that is a table: two columns of cells somewhere, or a template label in a cell.
    A one-column box, a page frame or a column of underlined lines holds paragraphs."""
    if not grid:
        return False
    return _columns(grid) >= 2 or _names_a_table(grid)


def _read_page(page, page_no: int, rulings: RulingPolicy = DEFAULT_RULINGS, images: list | None = None):
    """(characters, tables, text lines, page height); ``images`` receives the page's image objects
    of levels 0 and 1 (``_page_paths``)."""
    width, height = page.get_size()
    chars, pt = _read_chars(page, height)
    hs, vs = _page_segments(page, height, rulings, images)
    if len(hs) * len(vs) > MAX_RULING_PAIRS:
        # A drawing (map, chart, scanned vector art), not a table grid: read the text only.
        log.info("page %d: %d x %d line segments, too many for a table; text only", page_no, len(hs), len(vs))
        hs, vs = [], []
    tables: list[_PTable] = []
    if pt is not None:
        import numpy as np

        used = np.zeros(len(chars), dtype=bool)  # the characters tables took
        by_height: _ByHeight | _PageText | None = pt
    else:
        used = set()
        by_height = _ByHeight(chars) if hs and vs else None
    for ghs, gvs in _table_regions(hs, vs):
        xs = _cluster([x for x, _, _ in gvs], _TOL * 1.5)
        if len(xs) <= 2 and not _one_column_labels(ghs, xs, chars, by_height, used):  # type: ignore[arg-type]
            continue  # one column of cells, no table label in it: paragraphs, no grid to build
        t, u = _build_table(ghs, gvs, chars, page_no, used, by_height)
        if not is_table(t.grid):
            continue  # a frame, a boxed note, underlined lines: their text is read as paragraphs
        tables.append(t)
        if pt is not None:
            used[u] = True
        else:
            used |= u
    if pt is not None:
        return chars, tables, _array_lines(chars, pt, np.flatnonzero(~used) if tables else None, height), height
    rest = [c for i, c in enumerate(chars) if i not in used]
    lines: list[_Line] = []
    for lc in _lines_of(rest):
        text = norm_ws(_line_text(lc, pt))
        if not text:
            continue
        top = min(map(_TOP, lc))
        if _PAGE_NO.match(text) and (max(map(_BOTTOM, lc)) > height * 0.9 or top < height * 0.08):
            continue  # page number
        lines.append(_Line(text, min(map(_BY_X, lc)), max(map(_X1, lc)), top, max(map(_SIZE, lc)), lc))
    return chars, tables, lines, height


def _array_lines(chars: _LazyChars, pt: _PageText, idx, height: float) -> list[_Line]:
    """The text lines of the characters ``idx`` (ascending; None: all) as ``_read_page``'s plain
    path reads them (``_lines_of``, ``_line_text``, page numbers dropped), on the page's arrays.

    ``_lines_of`` sorts by (centre, x0), stably, and starts a line at a character whose centre is
    not within [t - 0.2 (b - t), b] of the line so far (t its smallest top, b its largest bottom).
    The lower bound always holds (a top is never below its own centre, and the centres come in
    ascending order), and every earlier line's bottoms lie above the centre that ended it, so a
    line starts exactly where the centre exceeds the running maximum of all bottoms before it."""
    import numpy as np

    if idx is None:
        idx = np.arange(pt.n)
    if not len(idx):
        return []
    o = idx[np.lexsort((pt.x0[idx], pt.cy[idx]))]  # _lines_of's order
    bottoms = pt.bottoms[o]
    start = np.empty(len(o), dtype=bool)
    start[0] = True
    start[1:] = pt.cy[o][1:] > np.maximum.accumulate(bottoms)[:-1]
    line = np.cumsum(start) - 1
    # each line by x0, stably (_line_text's sort); in page order (consecutive indices) it is a slice
    fin = o[np.lexsort((pt.x0[o], line))]
    starts = np.flatnonzero(start)
    ends = np.append(starts[1:], len(o))
    broken = np.zeros(len(starts), dtype=bool)
    broken[line[1:][(np.diff(fin) != 1) & (line[1:] == line[:-1])]] = True
    red_min, red_max = np.minimum.reduceat, np.maximum.reduceat
    top_l = red_min(pt.tops[o], starts).tolist()
    bottom_l = red_max(bottoms, starts).tolist()
    x0_l = red_min(pt.x0[o], starts).tolist()
    x1_l = red_max(pt.x1[o], starts).tolist()
    size_l = red_max(pt.size[o], starts).tolist()
    first = fin[starts].tolist()
    lines: list[_Line] = []
    page_no, low, high = _PAGE_NO.match, height * 0.08, height * 0.9
    for n, (a, e, bad) in enumerate(zip(starts.tolist(), ends.tolist(), broken.tolist())):
        if bad:
            text = norm_ws(_line_text(chars.take(o[a:e]), pt))
        else:
            text = pt.line_text(first[n], e - a)
            if not pt.ws_free:
                text = norm_ws(text)
        if not text:
            continue
        top = top_l[n]
        if page_no(text) and (bottom_l[n] > high or top < low):
            continue  # page number
        lines.append(_Line(text, x0_l[n], x1_l[n], top, size_l[n], src=(chars, o[a:e])))
    return lines


def _drop_running_lines(pages: list[tuple[list, list[_Line]]], heights: list[float]) -> None:
    """Remove running headers and footers: a line in the top or bottom band of the page that
    recurs (digits aside) on at least half the pages.  Left in, a header line would sit between a
    table and its continuation on the next page."""
    if len(pages) < 2:
        return

    def key(text: str) -> str:
        return re.sub(r"\d+", "#", text)

    def in_band(ln: _Line, h: float) -> bool:
        return ln.top < 0.1 * h or ln.top > 0.9 * h

    counts: dict[str, int] = {}
    for (_, lines), h in zip(pages, heights):
        for k in {key(ln.text) for ln in lines if in_band(ln, h)}:
            counts[k] = counts.get(k, 0) + 1
    running = {k for k, n in counts.items() if n >= 2 and n >= 0.5 * len(pages)}
    if not running:
        return
    for (_, lines), h in zip(pages, heights):
        lines[:] = [ln for ln in lines if not (in_band(ln, h) and key(ln.text) in running)]


def _tab_text(lines: list[_Line]) -> str:
    """Lines with a tab at every wide gap: the layout the plain-text extractor reads as tables."""
    out: list[str] = []
    for ln in lines:
        cs = sorted(ln.chars, key=_BY_X)
        parts: list[str] = []
        prev = None
        for c in cs:
            if prev is not None:
                gap = c.x0 - prev.x1
                if gap > 1.5 * max(c.size, prev.size):
                    parts.append("\t")
                elif gap > 0.35 * max(c.size, prev.size) and not (_is_cjk(c.ch) or _is_cjk(prev.ch)):
                    parts.append(" ")
            parts.append(c.ch)
            prev = c
        out.append("".join(parts))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# the document
# --------------------------------------------------------------------------------------------

def _continues(prev_xs: list[float], t: _PTable) -> bool:
    """A table at the top of a page continues the one ending the page before: the same right edge
    and no column boundary the previous part lacked (a spanning first column may lose its left
    border on the continuation page)."""
    if abs(prev_xs[-1] - t.xs[-1]) > 3 * _TOL:
        return False
    if abs(prev_xs[0] - t.xs[0]) <= 3 * _TOL:
        return True
    return all(any(abs(x - p) <= 3 * _TOL for p in prev_xs) for x in t.xs)


def _regrid(rows: list[list[GridCell]], xs: list[float], union: list[float], row_off: int = 0):
    """Rows re-expressed on finer column boundaries ``union`` (a wide cell becomes a span)."""
    cols_for: list[list[int]] = []
    for j in range(len(xs) - 1):
        ks = [k for k in range(len(union) - 1)
              if union[k] >= xs[j] - 3 * _TOL and union[k + 1] <= xs[j + 1] + 3 * _TOL]
        cols_for.append(ks or [min(range(len(union) - 1), key=lambda k: abs(union[k] - xs[j]))])
    out: list[list[GridCell]] = []
    width = len(union) - 1
    for r, row in enumerate(rows):
        new: list[GridCell | None] = [None] * width
        for j, c in enumerate(row):
            first = cols_for[j][0]
            origin = (c.origin[0] + row_off, cols_for[c.origin[1]][0]) if c.origin else None
            for n, k in enumerate(cols_for[j]):
                if new[k] is not None:
                    continue
                if n == 0:
                    new[k] = GridCell(c.text, c.spanned, origin)
                else:
                    new[k] = GridCell(c.text, True, origin or (r + row_off, first))
        out.append([c if c is not None else GridCell("") for c in new])
    return out


def _join(prev: Table, prev_xs: list[float], t: _PTable, split_row: bool) -> list[float]:
    """Append ``t``'s rows to ``prev``; ``split_row``: t's first row is the rest of prev's last row.
    Returns the column boundaries of the joined table."""
    union = _cluster(prev_xs + t.xs, 3 * _TOL)
    if len(union) != len(prev_xs):
        prev.rows[:] = _regrid(prev.rows, prev_xs, union)
    off = len(prev.rows) - 1 if split_row else len(prev.rows)
    rows = _regrid(t.grid, t.xs, union, row_off=off)
    if split_row and rows:
        last = prev.rows[-1]
        for k, b in enumerate(rows[0]):
            if b.spanned or not b.text:
                continue
            a = last[k]
            target = prev.rows[a.origin[0]][a.origin[1]] if a.spanned and a.origin else a
            target.text = join_lines([target.text, b.text])
        rows = rows[1:]
    prev.rows.extend(rows)
    return union


def _refresh_spans(t: Table) -> None:
    """Span copies carry their origin's text (joined rows may have grown it)."""
    for row in t.rows:
        for c in row:
            if c.spanned and c.origin:
                r, k = c.origin
                if r < len(t.rows) and k < len(t.rows[r]):
                    c.text = t.rows[r][k].text


def _open(data: bytes, name: str):
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    try:
        return pdfium.PdfDocument(data), None
    except pdfium.PdfiumError as e:
        code = getattr(e, "err_code", None)
        msg = str(e)
        if code == raw.FPDF_ERR_PASSWORD or "password" in msg.lower():
            return None, Extracted(format="pdf", status=ParseStatus.ENCRYPTED,
                                   error=f"{name}: encrypted PDF (a password is required to open it)")
        if code == raw.FPDF_ERR_SECURITY:
            return None, Extracted(format="pdf", status=ParseStatus.ENCRYPTED,
                                   error=f"{name}: PDF with an unsupported security handler")
        return None, Extracted(format="pdf", status=ParseStatus.FAILED,
                               error=f"{name}: corrupt or truncated PDF ({msg})")


def _one_picture(pdf, pno: int) -> bool:
    from ..ocr.image import page_has_picture

    return page_has_picture(pdf, pno)


_UNMAPPED = re.compile("[\ufffd\ue000-\uf8ff]")


def _unusable(text: str) -> bool:
    """Mostly unmapped glyphs (a CJK font without ToUnicode): the text layer is garbage."""
    return len(_UNMAPPED.findall(text)) > 0.3 * len(text)


def extract(data: bytes, *, name: str = "document", rulings: RulingPolicy = DEFAULT_RULINGS) -> Extracted:
    """PDF bytes -> Extracted.  ``rulings`` decides which painted paths are table rulings."""
    pdf, failure = _open(data, name)
    if failure is not None:
        return failure
    try:
        n_pages = len(pdf)
        if n_pages == 0:
            return Extracted(format="pdf", status=ParseStatus.EMPTY, error=f"{name}: PDF without pages")
        meta = {}
        try:
            for k, v in (pdf.get_metadata_dict() or {}).items():
                if v and str(v).strip():
                    meta[k] = str(v).strip()
        except Exception:  # metadata is a nicety; a broken Info dict must not lose the report
            pass
        pages = []
        heights: list[float] = []
        all_chars = 0
        image_pages: list[int] = []  # 0-based pages that carry no text but a page-sized picture
        head_text: list[str] = []  # each page's first 2,000 characters
        for pno in range(min(n_pages, MAX_PAGES)):
            page = pdf[pno]
            images: list = []
            try:
                chars, tables, lines, height = _read_page(page, pno + 1, rulings, images)
            finally:
                page.close()
            all_chars += len(chars)
            # a page without an image object where page_has_picture looks has no picture: it is not
            # loaded a second time to be told so (the last page of a WPS report is often a page number)
            if len(chars) < 10 and images and _one_picture(pdf, pno):
                image_pages.append(pno)
            head_text.append(chars.text[:2000] if isinstance(chars, _LazyChars) else "".join(c.ch for c in chars[:2000]))
            pages.append((tables, lines))
            heights.append(height)
    except Exception as e:
        import pypdfium2 as pdfium

        if isinstance(e, pdfium.PdfiumError):
            return Extracted(format="pdf", status=ParseStatus.FAILED, error=f"{name}: damaged PDF: {e}")
        raise
    finally:
        pdf.close()
    if all_chars < 10:
        return _ocr(data, name, meta, f"{name}: PDF without a text layer ({n_pages} pages, scanned?); needs OCR")
    if _unusable("".join(head_text)):
        return _ocr(data, name, meta,
                    f"{name}: PDF text layer is unmapped glyphs (font without ToUnicode); needs OCR")
    _drop_running_lines(pages, heights)
    if not any(tables for tables, _ in pages):
        return _stream_fallback(pages, meta, name)
    blocks: list = []
    left = min((ln.x0 for _, lines in pages for ln in lines), default=0.0)
    right = max((ln.x1 for _, lines in pages for ln in lines), default=0.0)
    last_xs: list[float] | None = None  # columns of blocks[-1] when it is a table ending its page
    last_open = False  # and its last row continues on the next page
    page_starts: list[int] = []  # where each page's blocks begin (image-only pages are spliced in there)
    for tables, lines in pages:
        page_starts.append(len(blocks))
        items: list[tuple[float, object]] = [(t.top, t) for t in tables]
        items.extend(_paragraphs(lines, left, right))
        items.sort(key=lambda x: x[0])
        for idx, (_, item) in enumerate(items):
            if isinstance(item, _PTable):
                if idx == 0 and last_xs is not None and _continues(last_xs, item):
                    last_xs = _join(blocks[-1], last_xs, item, split_row=last_open and item.open_top)
                else:
                    blocks.append(Table(rows=[list(r) for r in item.grid], page=item.page))
                    last_xs = item.xs
                last_open = item.open_bottom
            else:
                blocks.append(item)
                last_xs, last_open = None, False
        if items and not isinstance(items[-1][1], _PTable):
            last_xs, last_open = None, False
    for b in blocks:
        if isinstance(b, Table):
            _refresh_spans(b)
    ex = Extracted(format="pdf", blocks=blocks, metadata=meta)
    if image_pages:
        _ocr_pages_into(ex, data, name, image_pages, page_starts)
    return ex


def _ocr(data: bytes, name: str, meta: dict, why: str) -> Extracted:
    """No usable text layer: every page is read by OCR (crawler/parsing/ocr)."""
    from ..ocr import extract_pdf_bytes

    return extract_pdf_bytes(data, name=name, meta=meta, why=why)


def _ocr_pages_into(ex: Extracted, data: bytes, name: str, image_pages: list[int], page_starts: list[int]) -> None:
    """Pages that are one picture in a PDF with text elsewhere: their OCR blocks go where the page was."""
    from ..ocr import ocr_pdf_pages

    read = ocr_pdf_pages(data, [p for p in image_pages if p < len(page_starts)], name=name)
    for pno in sorted(read, reverse=True):
        ex.blocks[page_starts[pno]:page_starts[pno]] = read[pno]
    if read:
        ex.ocr = "some"


def _stream_fallback(pages, meta: dict, name: str) -> Extracted:
    from . import text as text_extract

    body = "\n".join(_tab_text(lines) for _, lines in pages)
    ex = text_extract.extract(body.encode("utf-8"))
    ex.format = "pdf"
    ex.text_layout = True
    ex.metadata.update(meta)
    return ex
