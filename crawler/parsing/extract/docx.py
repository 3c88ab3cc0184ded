"""DOCX -> Extracted, reading the OOXML directly with lxml.

Why not python-docx: it returns a merged cell once per grid position it covers (duplicates) and
does not expose where a vertical merge ends, so a value could be read twice.  Reading
``w:gridSpan`` / ``w:vMerge`` (and ``w:gridBefore``/``w:gridAfter``) ourselves gives the exact
grid, and lxml is several times faster.

Hostile files: a zip whose declared uncompressed size or compression ratio is absurd (zip bomb) is
refused before anything is inflated, and reads are capped in case the declared sizes lie; XML with
a DOCTYPE (the vehicle of entity bombs such as "billion laughs") is refused, and the parser never
resolves entities, loads DTDs or touches the network.

Tables that are pictures (a report whose three tables were pasted as images, drawn in the body by
``w:drawing``/``w:pict`` elements pointing at ``word/media/*``): when the body holds fewer than
three tables, each such picture is read by OCR (crawler/parsing/ocr) where it stands, giving the
same ``Table`` grids.  Media are bounded like the XML: a member declaring more than
``MAX_MEDIA_PART`` bytes, more than ``MAX_MEDIA_TOTAL`` in all, or more than ``MAX_PICTURES``
pictures is refused before it is inflated (and reads are capped), and the picture's pixels are
bounded by the OCR's own decoder (too_large beyond 40 Mpx).  External (linked) pictures are never
fetched.
"""
from __future__ import annotations

import io
import logging
import posixpath
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
#: One embedded picture read by OCR (a 300 dpi PNG of a full page is 2-6 MB).
MAX_MEDIA_PART = 32 * 1024 * 1024
#: All the pictures read by OCR in one document.
MAX_MEDIA_TOTAL = 128 * 1024 * 1024
#: Pictures read by OCR in one document (a scanned report is a few pages).
MAX_PICTURES = 60
#: A body with this many real tables has its tables: its pictures are photos, not tables.
TABLES_EXPECTED = 3
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_V = "{urn:schemas-microsoft-com:vml}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
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


class Picture:
    """Where a picture stands in the body (its relationship id); replaced by what OCR reads in it,
    or dropped."""

    def __init__(self, rid: str):
        self.rid = rid


def _pictures(p) -> list[Picture]:
    """The pictures of a paragraph: DrawingML blips (r:embed) and legacy VML image data (r:id)."""
    out = []
    for blip in p.iter(_A + "blip"):
        rid = blip.get(_R + "embed")
        if rid:
            out.append(Picture(rid))
    for img in p.iter(_V + "imagedata"):
        rid = img.get(_R + "id")
        if rid:
            out.append(Picture(rid))
    return out


def _walk_body(el, blocks: list, heading_styles: dict[str, int], budget: Budget | None = None) -> None:
    budget = budget if budget is not None else Budget()
    for ch in el:
        tag = ch.tag
        if tag == _W + "p":
            pictures = _pictures(ch)
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
            blocks.extend(pictures)
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
    pictures = [b for b in blocks if isinstance(b, Picture)]
    tables = sum(1 for b in blocks if isinstance(b, Table))
    if pictures and tables < TABLES_EXPECTED:
        try:
            _read_pictures(data, ex, name)
        except DocxError as e:
            return Extracted(format="docx", status=e.status, error=str(e))
    ex.blocks = [b for b in ex.blocks if not isinstance(b, Picture)]
    blocks = ex.blocks
    if not blocks:
        ex.status = ParseStatus.EMPTY
        ex.error = f"{name}: the Word document has no text"
    return ex


def _media_targets(zf: zipfile.ZipFile, doc: str) -> dict[str, str]:
    """Relationship id -> zip member of the body's embedded pictures (external links left out)."""
    data = _read_part(zf, "word/_rels/document.xml.rels", doc)
    if not data:
        return {}
    try:
        root = _parse_xml(data, "word/_rels/document.xml.rels", doc)
    except DocxError:
        return {}
    out: dict[str, str] = {}
    for rel in root.iter(_PKG_REL + "Relationship"):
        if (rel.get("TargetMode") or "").lower() == "external" or not rel.get("Type", "").endswith("/image"):
            continue
        target = rel.get("Target") or ""
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("word", target))
        if rel.get("Id") and not member.startswith(".."):
            out[rel.get("Id")] = member
    return out


def _read_media(zf: zipfile.ZipFile, member: str, doc: str, budget: list[int]) -> bytes | None:
    """A picture's bytes, bounded: the declared size checked before inflating, the read capped."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        return None
    if info.file_size > MAX_MEDIA_PART:
        raise DocxError(ParseStatus.TOO_LARGE, f"{doc}: picture {member} declares {info.file_size} bytes "
                                               f"uncompressed (limit {MAX_MEDIA_PART}); refused")
    if budget[0] + info.file_size > MAX_MEDIA_TOTAL:
        raise DocxError(ParseStatus.TOO_LARGE, f"{doc}: pictures beyond {MAX_MEDIA_TOTAL} bytes in all "
                                               f"(at {member}); refused")
    with zf.open(info) as f:
        data = f.read(MAX_MEDIA_PART + 1)
    if len(data) > MAX_MEDIA_PART:
        raise DocxError(ParseStatus.TOO_LARGE, f"{doc}: picture {member} inflates beyond {MAX_MEDIA_PART} "
                                               f"bytes (zip bomb); refused")
    budget[0] += len(data)
    return data


def _read_pictures(data: bytes, ex: Extracted, doc: str) -> None:
    """Each picture of the body replaced, where it stands, by the blocks OCR reads in it."""
    from .. import ocr
    from ..ocr.image import ImageRefused

    pictures = [b for b in ex.blocks if isinstance(b, Picture)]
    if len(pictures) > MAX_PICTURES:
        raise DocxError(ParseStatus.TOO_LARGE, f"{doc}: {len(pictures)} pictures in the body exceed the limit "
                                               f"of {MAX_PICTURES} read by OCR; refused")
    had_text = any(isinstance(b, Paragraph) for b in ex.blocks)
    read: dict[int, list] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            targets = _media_targets(zf, doc)
            budget = [0]
            seen: dict[str, list] = {}
            for k, pic in enumerate(pictures, start=1):
                member = targets.get(pic.rid)
                if member is None:
                    continue
                if member in seen:  # the same picture twice (a repeated header image): read once
                    continue
                media = _read_media(zf, member, doc, budget)
                if media is None:
                    continue
                try:
                    seen[member] = read[id(pic)] = ocr.picture_blocks(media, name=f"{doc} {member}", page_no=k)
                except ImageRefused as e:
                    raise DocxError(ParseStatus(e.status), str(e)) from None
    except ocr.EngineMissing as e:
        log.warning("%s: pictures not read: %s", doc, e)
        return
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError) as e:
        raise DocxError(ParseStatus.FAILED, f"{doc}: damaged DOCX picture: {e}") from e
    if not any(read.values()):
        return
    out: list = []
    for b in ex.blocks:
        out.extend(read.get(id(b), ()) if isinstance(b, Picture) else (b,))
    ex.blocks = out
    ex.ocr = "some" if had_text else "all"
