"""The images an OCR reading was made from, shown beside the report's tables: a scanned PDF's pages,
an image attachment (a 图片版 page's table pictures, a scan sent as PNG/JPEG/TIFF), and the pictures
a DOCX draws in its body where its tables should be (``word/media/*``).

Every stored byte came from a portal and is hostile: a DOCX member is looked at only when it
declares at most ``MAX_MEDIA_BYTES`` uncompressed (and the read is capped in case the declaration
lies), its XML is parsed without DTDs or entities, an image's pixel count is read from its header
and checked before any pixel is decoded, and a PDF page is rendered only when the picture it gives
stays under the same pixel cap.  Anything refused is simply not shown (the parse stage has already
said why in the document's status).
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile

#: Page images listed for one report (a scan of 60 pages is not browsed here).
MAX_PAGE_IMAGES = 12
#: Pixels an image may have to be decoded for display (the OCR's own limit is the same).
MAX_PIXELS = 40_000_000
#: Longest side in pixels (a 1 x 40,000,000 strip is not a page).
MAX_SIDE = 20_000
#: One DOCX picture read for display (as the parser: a 300 dpi page is 2-6 MB).
MAX_MEDIA_BYTES = 32 * 1024 * 1024
#: The DOCX body read to find its pictures (document.xml of a 300-page report is ~20 MB).
MAX_XML_BYTES = 64 * 1024 * 1024
#: Width of the PNG sent to the browser.
WIDTH = 1100

#: The image formats the OCR reads (PNG, JPEG, TIFF); a GIF logo among a page's attachments is no page.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_V = "{urn:schemas-microsoft-com:vml}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
#: DOCX pictures that are pixels (an EMF/WMF drawing is vector art, never a pasted table scan).
_RASTER = (".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".bmp", ".gif")


def kind(data: bytes) -> str | None:
    """'pdf', 'image', 'docx' or None (an HTML page, a text file: nothing to show as a page)."""
    if data[:1024].find(b"%PDF-") >= 0:
        return "pdf"
    if data.startswith(_IMAGE_MAGIC):
        return "image"
    if data[:4] == b"PK\x03\x04":
        return "docx"
    return None


def page_count(data: bytes) -> int:
    """How many page images the document gives (0: none to show)."""
    k = kind(data)
    if k == "pdf":
        import pypdfium2 as pdfium

        try:
            doc = pdfium.PdfDocument(data)
        except Exception:  # pdfium raises its own PdfiumError and others on a broken file
            return 0
        try:
            return len(doc)
        finally:
            doc.close()
    if k == "image":
        return _frames(data)
    if k == "docx":
        return len(docx_pictures(data))
    return 0


def page_png(data: bytes, page: int, width: int = WIDTH) -> bytes | None:
    """Page ``page`` (1-based) of a stored document as a grey PNG about ``width`` pixels wide, or
    None when there is no such page or the picture is refused (too large, broken)."""
    k = kind(data)
    if k == "pdf":
        img = _pdf_page(data, page, width)
    elif k == "image":
        img = _image(data, width, page) if 1 <= page <= _frames(data) else None
    elif k == "docx":
        members = docx_pictures(data)
        img = None
        if 1 <= page <= len(members):
            media = _docx_member(data, members[page - 1])
            img = _image(media, width) if media else None
    else:
        img = None
    if img is None:
        return None
    buf = io.BytesIO()
    img.convert("L").save(buf, "PNG")
    return buf.getvalue()


def _pdf_page(data: bytes, page: int, width: int):
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except Exception:
        return None
    try:
        if not 1 <= page <= len(doc):
            return None
        p = doc[page - 1]
        try:
            w, h = p.get_width(), p.get_height()
            scale = width / w if w > 0 else 0
            if scale <= 0 or w * h * scale * scale > MAX_PIXELS or h * scale > MAX_SIDE:
                return None  # a page of absurd proportions: refused before rendering
            return p.render(scale=scale, grayscale=True).to_pil()
        finally:
            p.close()
    finally:
        doc.close()


def _frames(data: bytes) -> int:
    """Pages of an image: a multi-page TIFF (a scan sent as one file) has several, read as several
    pages by the OCR; counted without decoding a pixel, at most MAX_PAGE_IMAGES."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "TIFF":
                return 1
            n = 1
            while n < MAX_PAGE_IMAGES:
                try:
                    img.seek(n)
                except EOFError:
                    break
                n += 1
            return n
    except Exception:  # unreadable header: the parse stage said why; nothing to show
        return 0


def _image(data: bytes, width: int, page: int = 1):
    """Frame ``page`` of an image, its size checked from the header before decoding."""
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        if page > 1:
            img.seek(page - 1)
        if img.width * img.height > MAX_PIXELS or max(img.size) > MAX_SIDE:
            return None  # a bomb or a 30,000 x 30,000 PNG: never decoded here
        img.load()
    except Exception:  # truncated, corrupt, or Pillow's own bomb guard
        return None
    if img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))))
    return img


# -- DOCX: the pictures its body draws ------------------------------------------------------------

def docx_pictures(data: bytes) -> list[str]:
    """The ``word/media/*`` raster members the body draws (DrawingML blips, VML image data), in body
    order, each once, at most MAX_PAGE_IMAGES; linked (external) pictures are never fetched."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            body = _read_member(zf, "word/document.xml", MAX_XML_BYTES)
            rels = _read_member(zf, "word/_rels/document.xml.rels", MAX_XML_BYTES)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, ValueError):
        return []
    if not body or not rels or _DOCTYPE.search(body) or _DOCTYPE.search(rels):
        return []
    body_root, rels_root = _xml(body), _xml(rels)
    if body_root is None or rels_root is None:
        return []
    targets: dict[str, str] = {}
    for rel in rels_root.iter(_PKG_REL + "Relationship"):
        if (rel.get("TargetMode") or "").lower() == "external" or not (rel.get("Type") or "").endswith("/image"):
            continue
        target = rel.get("Target") or ""
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("word", target))
        if rel.get("Id") and member.startswith("word/") and member.lower().endswith(_RASTER):
            targets[rel.get("Id")] = member
    out: list[str] = []
    for el in body_root.iter(_A + "blip", _V + "imagedata"):
        member = targets.get(el.get(_R + "embed") or el.get(_R + "id") or "")
        if member and member not in out:
            out.append(member)
            if len(out) == MAX_PAGE_IMAGES:
                break
    return out


def _docx_member(data: bytes, member: str) -> bytes | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return _read_member(zf, member, MAX_MEDIA_BYTES)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, ValueError):
        return None


def _read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    """A member's bytes when it declares at most ``limit`` uncompressed; the read is capped too, so
    a member whose declared size lies is dropped after ``limit`` bytes (never inflated in full)."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        return None
    with zf.open(info) as f:
        data = f.read(limit + 1)
    return None if len(data) > limit else data


def _xml(data: bytes):
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        return None
