"""Tell a document's format from its bytes.

Portals lie about content types (a PDF served as text/html, a .doc that is really HTML, attachments
named .pdf that are WPS files), so the bytes decide: magic numbers, the member names of a zip, HTML
markers.  The content type and file extension are only hints, used where the bytes cannot tell
(an OLE file may be .doc or .wps; both go through LibreOffice anyway).
"""
from __future__ import annotations

import io
import re
import zipfile

#: Formats returned: html | text | docx | pdf | doc | wps | odt | rtf | image | xls | ppt | ofd | zip | binary | empty
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"RIFF", "webp"),
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HTML_MARKERS = re.compile(
    rb"<\s*(?:!doctype\s+html|html|head|body|meta|title|div|p|table|span|br|h[1-6]|script|style)\b",
    re.IGNORECASE)
#: Every byte except the C0 controls that never occur in text (tab, LF, FF, CR, ESC do).
_NOT_CONTROL = bytes(b for b in range(256) if not (b < 0x20 and b not in (9, 10, 12, 13, 27)))
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _ext(path: str | None) -> str:
    if not path:
        return ""
    tail = path.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
    return tail.rsplit(".", 1)[-1].lower() if "." in tail else ""


def _looks_binary(sample: bytes) -> bool:
    """True for bytes that are not text in any encoding we read (NULs, control characters)."""
    if not sample:
        return False
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text has NULs
    if b"\x00" in sample:
        return True
    controls = len(sample.translate(None, _NOT_CONTROL))
    if controls > len(sample) * 0.01:
        return True
    for enc in ("utf-8", "gb18030"):
        try:
            sample.decode(enc)
            return False
        except UnicodeDecodeError as e:
            if e.start >= len(sample) - 4:  # cut in the middle of a character
                return False
    return True


def sniff(data: bytes, *, content_type: str | None = None, path: str | None = None) -> str:
    """The format of ``data``; see the module docstring."""
    head = data[:4096]
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        return "empty"
    # PDF: the header may follow some junk (the spec allows 1024 bytes).
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    if head.startswith(_OLE_MAGIC):
        kind = _ole_kind(data)
        if kind != "doc":
            return kind
        ext = _ext(path)
        return "wps" if ext in ("wps", "wpt") else "doc"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    for magic, _name in _IMAGE_MAGIC:
        if head.startswith(magic):
            if magic == b"RIFF" and head[8:12] != b"WEBP":
                continue
            return "image"
    sample = head
    for bom in _BOMS:
        if sample.startswith(bom):
            sample = sample[len(bom):]
            break
    if _looks_binary(data[:8192]):
        return "binary"
    if _HTML_MARKERS.search(sample[:4096].lstrip()[:4096]):
        return "html"
    ct = (content_type or "").lower()
    if "html" in ct or _ext(path) in ("htm", "html", "shtml", "jsp", "asp", "aspx", "php"):
        # A page without markup in its first 4 KB (a long comment or script first).
        if _HTML_MARKERS.search(data[:65536]):
            return "html"
    return "text"


def _ole_kind(data: bytes) -> str:
    """doc (Word or Kingsoft WPS: both hold a WordDocument stream), xls, ppt; the stream names sit
    in the compound file's directory in UTF-16LE."""
    if "WordDocument".encode("utf-16-le") in data:
        return "doc"
    if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
        return "xls"
    if "PowerPoint Document".encode("utf-16-le") in data:
        return "ppt"
    return "doc"  # unknown streams: let LibreOffice try


def _sniff_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "word/document.xml" in names:
                return "docx"
            if "OFD.xml" in names:
                return "ofd"  # China's fixed-layout e-document standard (GB/T 33190)
            if "mimetype" in names:
                mt = zf.read("mimetype")[:100]
                if b"opendocument.text" in mt:
                    return "odt"
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError):
        # A truncated zip still announces itself as one: let the DOCX extractor name the damage.
        if b"word/document.xml" in data[:65536] or b"word/" in data[:4096]:
            return "docx"
        return "zip"
    return "zip"
