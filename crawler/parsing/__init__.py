"""The parsing stage: document bytes -> Report (the canonical model of ../shared/spec/report-model.md).

Two layers:

* extraction (``extract/``, one module per format) turns bytes into the same intermediate form,
  ``Extracted``: paragraphs and tables as grids with spans resolved;
* mapping (``mapping.py``, driven by the labels of ``template.py``) turns that into a Report.

``parse_bytes`` sniffs the format from the bytes (``sniff.py``), runs the extractor and the mapping,
and never raises for bad input: a document that cannot be read still yields a Report whose
``status`` says why (empty, unsupported, encrypted, needs_ocr, too_large, failed) and whose
``error`` names the file or URL.

Limits (status ``too_large`` beyond them): any document over ``MAX_DOCUMENT_BYTES``; an HTML or
text document whose markup/text, once inline ``data:`` images are dropped, exceeds
``MAX_MARKUP_BYTES``.  Real reports are a few hundred KB of HTML; 8 MB leaves ample room while
keeping lxml's tree (about 10x the input) well under memory limits.
"""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from storage.models import ParseStatus, Report, Source

from .sniff import sniff

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 100 * 1024 * 1024
MAX_MARKUP_BYTES = 8 * 1024 * 1024

_DATA_URI = re.compile(rb"data:[\w/+.-]{0,64};base64,[A-Za-z0-9+/=\s]{64,}")

__all__ = ["parse_bytes", "parse_file", "parse_pages", "extract_bytes", "MAX_DOCUMENT_BYTES", "MAX_MARKUP_BYTES"]


def _name(url: str | None, path: str | None) -> str:
    return path or url or "<bytes>"


def extract_bytes(data: bytes, *, url: str | None = None, path: str | None = None,
                  content_type: str | None = None, fmt: str | None = None):
    """Bytes -> (format, Extracted).  Extracted.status is set when extraction itself decided."""
    from .extract.base import Extracted

    name = _name(url, path)
    fmt = fmt or sniff(data, content_type=content_type, path=path or url)
    if fmt == "empty":
        return fmt, Extracted(format="unknown", status=ParseStatus.EMPTY, error=f"{name}: empty document")
    if len(data) > MAX_DOCUMENT_BYTES:
        return fmt, Extracted(format=fmt, status=ParseStatus.TOO_LARGE,
                              error=f"{name}: {len(data)} bytes exceeds the limit of {MAX_DOCUMENT_BYTES}")
    if fmt in ("html", "text"):
        if len(data) > MAX_MARKUP_BYTES:
            data = _DATA_URI.sub(b"data:,", data)
        if len(data) > MAX_MARKUP_BYTES:
            return fmt, Extracted(format=fmt, status=ParseStatus.TOO_LARGE,
                                  error=f"{name}: {fmt} of {len(data)} bytes (inline images dropped) exceeds "
                                        f"the limit of {MAX_MARKUP_BYTES}")
    if fmt == "html":
        from .extract import html

        return fmt, html.extract(data, content_type=content_type, name=name)
    if fmt == "text":
        from .extract import text

        return fmt, text.extract(data)
    if fmt == "docx":
        from .extract import docx

        return fmt, docx.extract(data, name=name)
    if fmt == "pdf":
        from .extract import pdf

        return fmt, pdf.extract(data, name=name)
    if fmt in ("doc", "wps", "odt", "rtf"):
        from .extract import office

        return fmt, office.extract(data, fmt=fmt, name=name)
    if fmt == "image":
        from . import ocr

        return fmt, ocr.extract_image(data, name=name)
    what = {"zip": "a zip archive that is not a Word document", "binary": "binary data of no known format",
            "xls": "an Excel workbook (XLS), not a report document",
            "ppt": "a PowerPoint file (PPT), not a report document",
            "ofd": "an OFD document (GB/T 33190), which nianbao cannot read yet"}
    return fmt, Extracted(format="unknown", status=ParseStatus.UNSUPPORTED,
                          error=f"{name}: {what.get(fmt, fmt)}")


def parse_bytes(data: bytes, *, url: str | None = None, path: str | None = None,
                content_type: str | None = None, hints: dict | None = None) -> Report:
    """Parse one document.  Never raises for bad input; see the module docstring.

    ``hints`` (url, link_title, page_date) help the mapping with agency, year and dates.
    """
    source = Source(path=path, url=url, sha256=hashlib.sha256(data).hexdigest())
    name = _name(url, path)
    try:
        fmt, ex = extract_bytes(data, url=url, path=path, content_type=content_type)
    except Exception as e:  # an extractor bug must not lose the document: store it as failed
        log.warning("%s: extraction failed: %s: %s", name, type(e).__name__, e)
        log.debug("extraction traceback for %s", name, exc_info=True)
        source.format = sniff(data, content_type=content_type, path=path or url)
        return Report(source=source, status=ParseStatus.FAILED,
                      error=f"{name}: extraction failed: {type(e).__name__}: {e}")
    # Source.format names what the document is: a known format, or "unknown" (empty, binary junk);
    # a recognised but unreadable container keeps its name (zip, xls, ppt, ofd).
    source.format = ex.format if ex.format != "unknown" else ("unknown" if fmt in ("binary", "empty") else fmt)
    if ex.status is not None and ex.status not in (ParseStatus.PARSED, ParseStatus.PARTIAL):
        return Report(source=source, status=ex.status, error=ex.error or f"{name}: {ex.status.value}")
    from .mapping import map_report

    hints = dict(hints or {})
    if url and "url" not in hints:
        hints["url"] = url
    try:
        report = map_report(ex, source=source, hints=hints)
        if ex.ocr:
            from .ocr.proofread import settle

            settle(report, ex.ocr)
    except Exception as e:
        log.warning("%s: mapping failed: %s: %s", name, type(e).__name__, e)
        log.debug("mapping traceback for %s", name, exc_info=True)
        return Report(source=source, status=ParseStatus.FAILED, text=ex.text,
                      error=f"{name}: mapping failed: {type(e).__name__}: {e}")
    report.source = source
    return report


def parse_file(path: str | Path, *, url: str | None = None, hints: dict | None = None) -> Report:
    """Parse a local file (the extension is only a hint)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        return Report(source=Source(path=str(p), url=url), status=ParseStatus.FAILED,
                      error=f"{p}: cannot read: {e.strerror or e}")
    return parse_bytes(data, url=url, path=str(p), hints=hints)


def parse_pages(images: list[bytes], *, page: bytes | None = None, url: str | None = None,
                path: str | None = None, content_type: str | None = None, hints: dict | None = None) -> Report:
    """One report from page images read by OCR: the PNG/JPEG pages of a scan, or a 图片版 report
    page (``page``, HTML) whose tables are the ``images`` it links.  The page's own text gives the
    narrative; each image's blocks follow it, and the mapping gives their grids to Table 二/三/四 by
    their headers, as for any other format."""
    from . import ocr
    from .mapping import map_report
    from .ocr.proofread import settle

    name = _name(url, path)
    digest = hashlib.sha256()
    for b in ([page] if page is not None else []) + list(images):
        digest.update(hashlib.sha256(b).digest())
    source = Source(path=path, url=url, sha256=digest.hexdigest(), format="html" if page is not None else "image")
    if len(images) > ocr.MAX_PAGES or sum(map(len, images)) > MAX_DOCUMENT_BYTES:
        return Report(source=source, status=ParseStatus.TOO_LARGE,
                      error=f"{name}: {len(images)} images / {sum(map(len, images))} bytes exceed the limits")
    try:
        ex = ocr.extract_images(images, name=name)
        if ex.status is not None and ex.status not in (ParseStatus.PARSED, ParseStatus.PARTIAL):
            return Report(source=source, status=ex.status, error=ex.error)
        if page is not None:
            _fmt, body = extract_bytes(page, url=url, path=path, content_type=content_type)
            if body.status is None or body.status in (ParseStatus.PARSED, ParseStatus.PARTIAL):
                body.blocks.extend(ex.blocks)
                body.ocr = "some"
                ex = body
        report = map_report(ex, source=source, hints=dict(hints or {}, **({"url": url} if url else {})))
        settle(report, ex.ocr)
    except Exception as e:  # never lose the document: stored as failed, with the reason
        log.warning("%s: OCR parse failed: %s: %s", name, type(e).__name__, e)
        return Report(source=source, status=ParseStatus.FAILED, error=f"{name}: OCR failed: {type(e).__name__}: {e}")
    report.source = source
    return report
