"""DOCX -> Extracted, reading the OOXML directly with lxml.

Why not python-docx: it returns a merged cell once per grid position it covers (duplicates) and
does not expose where a vertical merge ends, so a value could be read twice.  Reading
``w:gridSpan`` / ``w:vMerge`` (and ``w:gridBefore``/``w:gridAfter``) ourselves gives the exact
grid, and lxml is several times faster.

Hostile files: a zip whose declared uncompressed size or compression ratio is absurd (zip bomb) is
refused before anything is inflated, and reads are capped in case the declared sizes lie; XML with
a DOCTYPE (the vehicle of entity bombs such as "billion laughs") is refused, and the parser never
resolves entities, loads DTDs or touches the network.
"""
from __future__ import annotations

import io
import logging
import re
import zipfile

from lxml import etree

from storage.models import ParseStatus

from .base import Budget, Extracted, GridCell, Paragraph, Table, check_table
from .html import join_lines, norm_ws

log = logging.getLogger(__name__)

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W = "{%s}" % W
#: Total uncompressed XML a DOCX may declare; a long report has a few MB of it.
MAX_UNCOMPRESSED = 200 * 1024 * 1024
#: Largest uncompressed XML part we parse (document.xml of a 300-page report is ~20 MB).
MAX_XML_PART = 64 * 1024 * 1024
#: Compression ratio above which a large member is a bomb (XML compresses ~10x, rarely >100x).
MAX_RATIO = 200
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_HEADING_STYLE = re.compile(r"(?:heading|标题)\s*(\d)", re.IGNORECASE)

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=True, remove_pis=True)


class DocxError(Exception):
    def __init__(self, status: ParseStatus, message: str):
        super().__init__(message)
        self.status = status


def _read_part(zf: zipfile.ZipFile, name: str, doc: str) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_XML_PART:
        raise DocxError(ParseStatus.UNSUPPORTED,
                        f"{doc}: {name} declares {info.file_size} bytes uncompressed (limit {MAX_XML_PART})")
    with zf.open(info) as f:
        data = f.read(MAX_XML_PART + 1)
    if len(data) > MAX_XML_PART:
        raise DocxError(ParseStatus.UNSUPPORTED, f"{doc}: {name} inflates beyond {MAX_XML_PART} bytes "
                                                 f"(zip bomb)")
    if _DOCTYPE.search(data[:4096]) or _DOCTYPE.search(data):
        raise DocxError(ParseStatus.UNSUPPORTED, f"{doc}: {name} contains a DOCTYPE/entity declarations "
                                                 f"(possible XML entity bomb); refused")
    return data


def _parse_xml(data: bytes, name: str, doc: str):
    try:
        return etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as e:
        raise DocxError(ParseStatus.FAILED, f"{doc}: {name} is not well-formed XML: {e}") from e


def _check_bomb(zf: zipfile.ZipFile, doc: str) -> None:
    """Refuse a zip whose XML parts declare absurd sizes or ratios, before inflating anything.

    Only XML parts count: we never inflate media, and a report full of photos is still a report.
    (Declared sizes can lie; _read_part caps what it actually inflates as well.)"""
    total = 0
    for info in zf.infolist():
        if not info.filename.endswith((".xml", ".rels")):
            continue
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 10 * 1024 * 1024 and ratio > MAX_RATIO:
            raise DocxError(ParseStatus.UNSUPPORTED,
                            f"{doc}: zip member {info.filename} expands {ratio:.0f}x to {info.file_size} "
                            f"bytes (zip bomb); refused")
    if total > MAX_UNCOMPRESSED:
        raise DocxError(ParseStatus.UNSUPPORTED, f"{doc}: zip declares {total} bytes of XML uncompressed "
                                                 f"(limit {MAX_UNCOMPRESSED}; zip bomb?); refused")


_STYLE_NAME = re.compile(rb'<w:style\b[^>]*?w:styleId="([^"]+)"[^>]*>\s*<w:name w:val="([^"]+)"')


def _heading_styles(zf: zipfile.ZipFile, doc: str) -> dict[str, int]:
    """styleId -> heading level.  A regex over the bytes: styles.xml carries hundreds of latent
    styles and parsing it cost more than the document itself."""
    data = _read_part(zf, "word/styles.xml", doc)
    if not data:
        return {}
    out: dict[str, int] = {}
    for sid, name in _STYLE_NAME.findall(data):
        sid_s, name_s = sid.decode("utf-8", "replace"), name.decode("utf-8", "replace")
        m = _HEADING_STYLE.search(name_s) or _HEADING_STYLE.search(sid_s)
        if m:
            out[sid_s] = int(m.group(1))
    return out


def _core_metadata(zf: zipfile.ZipFile, doc: str) -> dict[str, str]:
    data = _read_part(zf, "docProps/core.xml", doc)
    if not data:
        return {}
    try:
        root = _parse_xml(data, "docProps/core.xml", doc)
    except DocxError:
        return {}  # broken metadata is no reason to lose the report
    meta: dict[str, str] = {}
    for el in root:
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        text = norm_ws(el.text or "")
        if text and local in ("title", "created", "modified", "creator", "subject", "description"):
            meta[local] = text
    return meta


def _para_text(p) -> str:
    """Text of a w:p: runs, tabs, breaks (a break is a line break inside the paragraph)."""
    parts: list[str] = []
    for el in p.iter(_W + "t", _W + "tab", _W + "br", _W + "cr", _W + "noBreakHyphen", _W + "sym",
                     _W + "delText", _W + "instrText"):
        tag = el.tag
        if tag == _W + "t":
            parts.append(el.text or "")
        elif tag == _W + "tab":
            parts.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            parts.append("\n")
        elif tag == _W + "noBreakHyphen":
            parts.append("-")
        # deleted text and field codes are not printed
    return "".join(parts)


def _int_attr(el, path: str, default: int = 0) -> int:
    x = el.find(path)
    if x is None:
        return default
    try:
        return max(0, int(x.get(_W + "val") or default))
    except ValueError:
        return default


def _children(parent, tag: str):
    """Direct children of ``tag``, looking through content controls (w:sdt, w:customXml) that wrap them."""
    for ch in parent:
        if ch.tag == tag:
            yield ch
        elif ch.tag in (_W + "sdt", _W + "customXml"):
            content = ch.find(_W + "sdtContent") if ch.tag == _W + "sdt" else ch
            if content is not None:
                yield from _children(content, tag)


def _cells_of(tr):
    return _children(tr, _W + "tc")


def _rows_of(tbl):
    return _children(tbl, _W + "tr")


def _cell_text(tc) -> str:
    lines: list[str] = []
    for p in tc.iter(_W + "p"):
        lines.extend(_para_text(p).split("\n"))
    return join_lines(lines)


def table_grid(tbl, budget: Budget | None = None) -> Table:
    """A w:tbl as a rectangular grid: gridSpan spreads right, vMerge continues the cell above.

    LimitExceeded (checked before each allocation) when a row's w:gridBefore/w:gridSpan/w:gridAfter
    would make it wider than MAX_TABLE_COLUMNS, or the table larger than the table bounds.
    """
    grid: list[list[GridCell | None]] = []
    trs = list(_rows_of(tbl))
    check_table(len(trs), 0, 0)
    cells = 0
    for ri, tr in enumerate(trs):
        trpr = tr.find(_W + "trPr")
        ci = max(0, _int_attr(trpr, _W + "gridBefore")) if trpr is not None else 0
        check_table(len(trs), ci, cells + ci)
        row: list[GridCell | None] = [GridCell("") for _ in range(ci)]
        for tc in _cells_of(tr):
            tcpr = tc.find(_W + "tcPr")
            span = 1
            vmerge = None
            hmerge = None
            if tcpr is not None:
                span = max(1, _int_attr(tcpr, _W + "gridSpan", 1))
                vm = tcpr.find(_W + "vMerge")
                if vm is not None:
                    vmerge = vm.get(_W + "val") or "continue"
                hm = tcpr.find(_W + "hMerge")
                if hm is not None:
                    hmerge = hm.get(_W + "val") or "continue"
            span = min(span, 1000)
            check_table(len(trs), len(row) + span, cells + len(row) + span)
            if hmerge == "continue" and row:
                # Legacy horizontal merge: this cell belongs to the one on its left.
                left = len(row) - 1
                lc = row[left]
                origin = lc.origin if lc is not None and lc.spanned else (ri, left)
                for _ in range(span):
                    row.append(GridCell(_origin_text(grid, row, origin, ri), spanned=True, origin=origin))
                continue
            if vmerge == "continue" and grid:
                above = grid[-1]
                col = len(row)
                if col < len(above) and above[col] is not None:
                    up = above[col]
                    origin = up.origin if up.spanned else (ri - 1, col)
                    text = grid[origin[0]][origin[1]].text
                    row.extend(GridCell(text, spanned=True, origin=origin) for _ in range(span))
                    continue
            text = _cell_text(tc)
            start = len(row)
            row.append(GridCell(text))
            for _ in range(span - 1):
                row.append(GridCell(text, spanned=True, origin=(ri, start)))
        # w:gridAfter: grid columns left empty after the row's last cell (a short row, as Word saves it)
        after = max(0, _int_attr(trpr, _W + "gridAfter")) if trpr is not None else 0
        check_table(len(trs), len(row) + after, cells + len(row) + after)  # before allocating them
        row.extend(GridCell("") for _ in range(after))
        cells += len(row)
        check_table(len(trs), len(row), cells)
        grid.append(row)
    if budget is not None:
        budget.add_cells(cells)
    return Table.from_grid(grid)


def _origin_text(grid, row, origin, ri) -> str:
    r, c = origin
    if r == ri:
        return row[c].text if c < len(row) and row[c] is not None else ""
    return grid[r][c].text


def _walk_body(el, blocks: list, heading_styles: dict[str, int], budget: Budget | None = None) -> None:
    budget = budget if budget is not None else Budget()
    for ch in el:
        tag = ch.tag
        if tag == _W + "p":
            text = _para_text(ch)
            heading = None
            ppr = ch.find(_W + "pPr")
            if ppr is not None:
                ps = ppr.find(_W + "pStyle")
                if ps is not None:
                    heading = heading_styles.get(ps.get(_W + "val") or "")
                ol = ppr.find(_W + "outlineLvl")
                if heading is None and ol is not None:
                    try:
                        lvl = int(ol.get(_W + "val"))
                        heading = lvl + 1 if lvl < 9 else None
                    except (TypeError, ValueError):
                        pass
            for line in text.split("\n"):
                line = norm_ws(line)
                if line:
                    budget.add_block()
                    blocks.append(Paragraph(text=line, heading=heading))
        elif tag == _W + "tbl":
            if ch.find(f".//{_W}tbl") is not None:
                # A table holding tables is layout (a report pasted from a web page into a frame):
                # its cells are read as body content.
                for tr in _rows_of(ch):
                    for tc in _cells_of(tr):
                        _walk_body(tc, blocks, heading_styles, budget)
                continue
            t = table_grid(ch, budget)
            if t.rows:
                budget.add_block()
                blocks.append(t)
        elif tag in (_W + "sdt", _W + "customXml", _W + "ins", _W + "smartTag"):
            content = ch.find(_W + "sdtContent") if tag == _W + "sdt" else ch
            if content is not None:
                _walk_body(content, blocks, heading_styles, budget)


def extract(data: bytes, *, name: str = "document") -> Extracted:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        return Extracted(format="docx", status=ParseStatus.FAILED,
                         error=f"{name}: not a readable DOCX (broken zip: {e})")
    try:
        with zf:
            _check_bomb(zf, name)
            body_xml = _read_part(zf, "word/document.xml", name)
            if body_xml is None:
                return Extracted(format="docx", status=ParseStatus.UNSUPPORTED,
                                 error=f"{name}: zip without word/document.xml (not a Word document)")
            root = _parse_xml(body_xml, "word/document.xml", name)
            heading_styles = _heading_styles(zf, name)
            meta = _core_metadata(zf, name)
    except DocxError as e:
        return Extracted(format="docx", status=e.status, error=str(e))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError) as e:
        # CRC errors, truncated members, encrypted members.
        return Extracted(format="docx", status=ParseStatus.FAILED, error=f"{name}: damaged DOCX: {e}")
    body = root.find(_W + "body")
    blocks: list = []
    if body is not None:
        _walk_body(body, blocks, heading_styles)
    ex = Extracted(format="docx", blocks=blocks, metadata=meta)
    if not blocks:
        ex.status = ParseStatus.EMPTY
        ex.error = f"{name}: the Word document has no text"
    return ex
